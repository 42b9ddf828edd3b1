"""Audio decoding without torchcodec: soundfile reads, soxr resamples (as librosa's ``soxr_hq``).

Every waveform that reaches a model goes through `load_audio`, so stereo files, 44.1 kHz files and int16 arrays are
all converted the same way (mono by averaging the channels, float32 in [-1, 1], resampled to the model's rate).
Audio that is not finite, or float audio (a float array, a float WAV) outside [-1, 1], is refused rather than
clipped (a lossy codec's overshoot is not: `FLOAT_SUBTYPES`): a clip with samples near 1e30 is broken, and scoring a
clipped version of it would hide that. So is a truncated WAV (its header declares more audio than its data chunk
holds): libsndfile quietly decodes what is there, and the clip scored would be a fragment of the speech. Errors name
the file, or say "embedded audio" for bytes.
"""

from __future__ import annotations

import io
import os
from typing import IO

import numpy as np
import soundfile as sf

FLOAT_SUBTYPES = ("FLOAT", "DOUBLE")
"""Sample formats of a file that store floats, which may hold anything: `load_audio` refuses them outside [-1, 1].
Integer PCM reads within [-1, 1); a lossy codec's decoder (Vorbis, Opus, MP3) overshoots full scale by its own
ringing on a loud clip, and the samples are kept as decoded, as any decoder (datasets' own) gives them."""


class AudioDecodeError(ValueError):
    """The audio is missing, unreadable, empty, not finite or out of range."""


def _name(source: bytes | str | os.PathLike) -> str:
    return "embedded audio" if isinstance(source, (bytes, bytearray)) else os.fspath(source)


def _open(source: bytes | str | os.PathLike) -> io.BytesIO | str | os.PathLike:
    if isinstance(source, (str, os.PathLike)) and not os.path.exists(source):
        raise AudioDecodeError(f"file not found: {os.fspath(source)}")
    if isinstance(source, (bytes, bytearray)) and not source:
        raise AudioDecodeError("embedded audio is empty")
    return io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source


_PLACEHOLDER_SIZES = (0, 0xFFFFFFFF)
"""Data chunk sizes of a WAV written as a stream, before its length was known: not a claim about the data."""


def _wav_shortfall(handle: IO[bytes]) -> tuple[float, float] | None:
    """(seconds the header declares, seconds the data chunk holds) of a RIFF/WAVE file that holds less than
    its header says; None for a complete one, or a file that is not such a WAV.

    libsndfile sizes a clip by what the file holds (``sf.info`` and ``sf.read`` agree on the
    fragment), so the declared size is read from the chunks here.
    """
    head = handle.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:] != b"WAVE":
        return None
    rate = align = 0
    while len(chunk := handle.read(8)) == 8:
        name, size, start = chunk[:4], int.from_bytes(chunk[4:], "little"), handle.tell()
        if name == b"fmt ":
            fmt = handle.read(min(size, 16))
            rate, align = int.from_bytes(fmt[4:8], "little"), int.from_bytes(fmt[12:14], "little")
        elif name == b"data":
            held = handle.seek(0, io.SEEK_END) - start
            if size in _PLACEHOLDER_SIZES or held >= size or not rate or not align:
                return None
            return size / align / rate, held // align / rate
        handle.seek(start + size + (size & 1))  # chunks are padded to an even length
    return None


def _check_complete(source: bytes | str | os.PathLike) -> None:
    """`AudioDecodeError` when ``source`` is a WAV whose data chunk is shorter than its header declares."""
    try:
        with io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else open(source, "rb") as handle:
            shortfall = _wav_shortfall(handle)
    except OSError as err:
        raise AudioDecodeError(f"cannot read {_name(source)}: {err.strerror or err}") from err
    if shortfall is not None:
        declared, held = shortfall
        raise AudioDecodeError(
            f"{_name(source)} is truncated: its header declares {declared:.2f} s of audio, its data hold {held:.2f} s"
        )


def _decode_error(source: bytes | str | os.PathLike, err: Exception) -> AudioDecodeError:
    # libsndfile's message names the file object (``<_io.BytesIO object at 0x...>``): keep only its reason
    reason = getattr(err, "error_string", None) or str(err)
    return AudioDecodeError(f"cannot decode {_name(source)}: {reason.strip()}")


def audio_duration(source: np.ndarray | bytes | str | os.PathLike, source_rate: int | None = None) -> float:
    """Length in seconds, read from the file header only (no decoding): used to plan batches."""
    if isinstance(source, np.ndarray):
        if not source_rate:
            raise AudioDecodeError("a raw waveform needs its sampling rate")
        return source.shape[0] / source_rate
    handle = _open(source)
    try:
        info = sf.info(handle)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as err:
        raise _decode_error(source, err) from err
    if info.frames <= 0:
        raise AudioDecodeError(f"{_name(source)} has no samples")
    _check_complete(source)
    return info.frames / info.samplerate


def load_audio(
    source: np.ndarray | bytes | str | os.PathLike, sampling_rate: int, source_rate: int | None = None
) -> np.ndarray:
    """Decode ``source`` (waveform, encoded bytes or path) to mono float32 at ``sampling_rate``.

    A waveform needs ``source_rate``; it may be 1-D or (samples, channels).
    Integer data is scaled to [-1, 1]; float data must already be there.
    """
    if isinstance(source, np.ndarray):
        if not source_rate:
            raise AudioDecodeError("a raw waveform needs its sampling rate")
        name, data, rate = "the waveform", source, int(source_rate)
        is_float = not np.issubdtype(data.dtype, np.integer)
        if not is_float:
            data = data.astype(np.float32) / np.iinfo(data.dtype).max
    else:
        name, handle = _name(source), _open(source)
        try:
            with sf.SoundFile(handle) as file:
                is_float, rate = file.subtype in FLOAT_SUBTYPES, file.samplerate
                data = file.read(dtype="float32", always_2d=False)
        except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as err:
            raise _decode_error(source, err) from err
        _check_complete(source)
    data = np.asarray(data, dtype=np.float32)
    if data.ndim not in (1, 2) or data.size == 0:
        raise AudioDecodeError(f"{name} has no samples")
    if not np.isfinite(data).all():
        raise AudioDecodeError(f"{name} has NaN or infinite samples")
    peak = float(np.abs(data).max())
    if is_float and peak > 1.0:
        raise AudioDecodeError(
            f"{name} has samples outside [-1, 1] (peak {peak:.3g}); float audio must be scaled to [-1, 1]"
        )
    if data.ndim == 2:
        data = data.mean(axis=1)
    if rate != sampling_rate:
        data = resample(data, rate, sampling_rate)
    return np.ascontiguousarray(data, dtype=np.float32)


def resample(audio: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """``librosa.resample(audio, orig_sr=..., target_sr=..., res_type="soxr_hq")``, sample for sample.

    Calls soxr directly (as librosa does for that ``res_type``, then fixes the
    length to ``ceil(n * target / orig)``): librosa's import pulls in scipy.signal
    and numba, about two seconds in every fresh synthesis worker and every
    process that decodes a clip.
    """
    import soxr

    if orig_sr == target_sr:
        return audio
    out = soxr.resample(audio, orig_sr, target_sr, quality="soxr_hq")
    n = int(np.ceil(audio.shape[-1] * float(target_sr) / orig_sr))
    out = out[:n] if out.shape[-1] >= n else np.pad(out, (0, n - out.shape[-1]))
    return np.asarray(out, dtype=audio.dtype)
