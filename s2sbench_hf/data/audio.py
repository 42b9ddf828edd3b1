"""Audio decoding without torchcodec: soundfile reads, librosa resamples.

Every waveform that reaches a model goes through `load_audio`, so stereo files,
44.1 kHz files and int16 arrays are all converted the same way (mono by
averaging the channels, float32 in [-1, 1], resampled to the model's rate).
"""

from __future__ import annotations

import io
import os

import librosa
import numpy as np
import soundfile as sf


class AudioDecodeError(ValueError):
    """The audio is missing, unreadable, empty or not finite."""


def audio_duration(source: np.ndarray | bytes | str | os.PathLike, source_rate: int | None = None) -> float:
    """Length in seconds, read from the file header only (no decoding): used to plan batches."""
    if isinstance(source, np.ndarray):
        if not source_rate:
            raise AudioDecodeError("a raw waveform needs its sampling rate")
        return source.shape[0] / source_rate
    if isinstance(source, (str, os.PathLike)) and not os.path.exists(source):
        raise AudioDecodeError(f"file not found: {os.fspath(source)}")
    try:
        info = sf.info(io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as err:
        raise AudioDecodeError(f"cannot decode audio: {err}") from err
    if info.frames <= 0:
        raise AudioDecodeError("the audio has no samples")
    return info.frames / info.samplerate


def load_audio(source: np.ndarray | bytes | str | os.PathLike, sampling_rate: int, source_rate: int | None = None) -> np.ndarray:
    """Decode ``source`` (waveform, encoded bytes or path) to mono float32 at ``sampling_rate``.

    A waveform needs ``source_rate``; it may be 1-D or (samples, channels).
    """
    if isinstance(source, np.ndarray):
        if not source_rate:
            raise AudioDecodeError("a raw waveform needs its sampling rate")
        data, rate = source, int(source_rate)
        if np.issubdtype(data.dtype, np.integer):
            data = data.astype(np.float32) / np.iinfo(data.dtype).max
    else:
        if isinstance(source, (str, os.PathLike)) and not os.path.exists(source):
            raise AudioDecodeError(f"file not found: {os.fspath(source)}")
        try:
            handle = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
            data, rate = sf.read(handle, dtype="float32", always_2d=False)
        except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as err:
            raise AudioDecodeError(f"cannot decode audio: {err}") from err
    data = np.asarray(data, dtype=np.float32)
    if data.ndim == 2:
        data = data.mean(axis=1)
    if data.ndim != 1 or data.size == 0:
        raise AudioDecodeError("the audio has no samples")
    if not np.isfinite(data).all():
        raise AudioDecodeError("the audio has NaN or infinite samples")
    if rate != sampling_rate:
        data = librosa.resample(data, orig_sr=rate, target_sr=sampling_rate, res_type="soxr_hq")
    return np.ascontiguousarray(data, dtype=np.float32)
