"""Offline text-to-speech with espeak-ng, for the bundled sample sets and tests.

espeak-ng is small, needs no model weights and no network, speaks English and
Mandarin, and ships as a wheel (``espeakng-loader``: the shared library and its
data), so the sample sets can be built on any machine. It is called through
ctypes; no ``espeak-ng`` executable is needed.

Determinism. espeak-ng keeps part of its synthesis state in C ``static``
variables that no API call resets (the pitch-flutter index, the automatic gain
control of the waveform generator): the same text spoken twice in one process
gives slightly different samples, and ``espeak_Terminate`` followed by
``espeak_Initialize`` does not help. So every `EspeakTTS.synthesize` call loads
a private copy of the library, initializes it, speaks, and unloads it again,
which restores every static to its initial value (about 10 ms per call). The
private copy guarantees that the unload really happens even when another
package in the process holds ``espeakng_loader``'s library open. espeak-ng is a
process-wide singleton, so calls are serialized by a lock.

Engines. `make_engine` gives one interface (`TTSEngine.synthesize(text, voice,
seed)` -> 16 kHz mono float32) over espeak-ng and over any ``transformers``
text-to-speech model id (``pipeline("text-to-speech", model=...)``: MMS-TTS/VITS,
SpeechT5 with a speaker embedding, ...). `synthesize_jobs` runs many items in
several worker processes (``spawn``, so torch never forks) with a progress bar;
results come back in job order and each text's seed depends only on the item,
so the output does not depend on the number of workers.
"""

from __future__ import annotations

import _ctypes
import atexit
import ctypes
import hashlib
import multiprocessing
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import util as _mp_util
from pathlib import Path
from typing import Any

import espeakng_loader
import numpy as np

from s2sbench_hf.audio import resample
from s2sbench_hf.tasks import S2SBenchError

ESPEAK_SAMPLING_RATE = 22050
"""The rate espeak-ng synthesizes at; `synthesize` resamples from it."""

VOICES = {"en": "en-us", "zh": "cmn"}
"""espeak-ng voice for each task language."""

VOICE_ALIASES = {"en-gb": "en", "en-uk": "en", "zh": "cmn", "zh-cn": "cmn"}
"""Common names espeak-ng does not know itself (its British English voice is ``en``)."""

# espeak-ng API constants (speak_lib.h)
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000  # report a bad data path instead of calling exit()
_ESPEAK_RATE = 1
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_EE_OK = 0

_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)

_lock = threading.Lock()
_private_library: Path | None = None


class TTSError(S2SBenchError, RuntimeError):
    """espeak-ng cannot be loaded, does not know the voice, or produced no audio."""


def voice_for_language(lang: str) -> str:
    """The espeak-ng voice used for a task language (``"en"`` -> ``"en-us"``, ``"zh"`` -> ``"cmn"``)."""
    try:
        return VOICES[lang]
    except KeyError:
        raise TTSError(f"no espeak-ng voice for language {lang!r}; known: {', '.join(sorted(VOICES))}") from None


def _unload(handle: int) -> None:
    if sys.platform == "win32":
        _ctypes.FreeLibrary(handle)
    else:
        _ctypes.dlclose(handle)


def _library_path() -> Path:
    """A copy of espeak-ng's shared library that only this module opens (made once per process).

    Where the temporary folder cannot hold loadable code (a ``noexec`` mount), the
    package's own library is used.
    """
    global _private_library
    if _private_library is None:
        source = Path(espeakng_loader.get_library_path())
        folder = Path(tempfile.mkdtemp(prefix="s2sbench-espeak-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        copy = folder / source.name
        shutil.copy2(source, copy)
        try:
            _unload(ctypes.CDLL(str(copy))._handle)
            _private_library = copy
        except OSError:
            _private_library = source
    return _private_library


class _Session:
    """One load-initialize-unload cycle of espeak-ng (see the module docstring)."""

    def __enter__(self) -> ctypes.CDLL:
        lib = ctypes.CDLL(str(_library_path()))
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_Synchronize.restype = ctypes.c_int
        lib.espeak_Terminate.restype = ctypes.c_int
        self.lib = lib
        data = espeakng_loader.get_data_path().encode()
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data, _INITIALIZE_DONT_EXIT)
        if rate != ESPEAK_SAMPLING_RATE:
            self.__exit__()
            raise TTSError(f"espeak-ng did not initialize (data folder {data.decode()}, got rate {rate})")
        return lib

    def __exit__(self, *exc: object) -> None:
        self.lib.espeak_Terminate()
        _unload(self.lib._handle)


class EspeakTTS:
    """Speak text with one espeak-ng voice at a fixed rate (words per minute).

    Deterministic: the same text gives the same samples, whatever was spoken before.
    """

    def __init__(self, voice: str = "en-us", rate: int = 175):
        self.voice = voice
        self.rate = int(rate)
        with _lock, _Session() as lib:
            self._set_voice(lib)

    def _set_voice(self, lib: ctypes.CDLL) -> None:
        name = VOICE_ALIASES.get(self.voice.lower(), self.voice)
        if lib.espeak_SetVoiceByName(name.encode()) != _EE_OK:
            raise TTSError(
                f"espeak-ng has no voice {self.voice!r} "
                "(try 'en-us', 'en-gb', 'en-gb-scotland', 'en-029', 'cmn' or 'yue')"
            )
        lib.espeak_SetParameter(_ESPEAK_RATE, self.rate, 0)

    def synthesize(self, text: str, sampling_rate: int = 16000) -> np.ndarray:
        """Speak ``text``; mono float32 in [-1, 1] at ``sampling_rate``."""
        chunks: list[np.ndarray] = []

        def collect(wav: ctypes._Pointer, n: int, _events: int) -> int:
            if wav and n > 0:
                chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
            return 0  # 0 = go on

        callback = _SynthCallback(collect)
        encoded = ctypes.create_string_buffer(text.encode("utf-8"))
        with _lock, _Session() as lib:
            lib.espeak_SetSynthCallback(callback)
            self._set_voice(lib)
            status = lib.espeak_Synth(encoded, len(encoded), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
            lib.espeak_Synchronize()
        samples = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
        if status != _EE_OK or not samples.any():
            raise TTSError(
                f"espeak-ng ({self.voice}) produced no sound for {text[:60]!r} (status {status}); "
                "check that the text is not empty and is in the voice's language"
            )
        audio = samples.astype(np.float32) / 32768.0
        if sampling_rate != ESPEAK_SAMPLING_RATE:
            audio = resample(audio, ESPEAK_SAMPLING_RATE, sampling_rate)
        return np.ascontiguousarray(audio, dtype=np.float32)


# --- engines: one interface over espeak-ng and transformers text-to-speech models -------------

SAMPLING_RATE = 16000
"""What every engine returns: 16 kHz mono float32."""

ESPEAK_ENGINES = ("espeak", "espeak-ng")
"""Engine names that mean espeak-ng; anything else is a transformers model id or folder."""

DEFAULT_ESPEAK_RATE = 175
"""espeak-ng's own default speaking rate (words per minute)."""


@dataclass(frozen=True)
class Voice:
    """One speaker setting.

    espeak-ng: ``name`` is an espeak-ng voice (``en-us``, ``en-gb``, ``cmn``) and
    ``rate`` the speaking rate in words per minute. transformers: ``name`` is
    ``default``, an integer speaker id (multi-speaker VITS/MMS models) or the path
    of a ``.npy`` speaker embedding (SpeechT5); ``rate`` is None.
    """

    name: str
    rate: int | None = None

    @property
    def label(self) -> str:
        """How the voice is recorded per item (the dataset's ``voice`` column): ``en-us@175``."""
        return f"{self.name}@{self.rate}" if self.rate else self.name


def is_espeak(engine: str) -> bool:
    return engine.strip().lower() in ESPEAK_ENGINES


def make_voices(
    engine: str, language: str, voices: Iterable[str] | None = None, rates: Iterable[int] | None = None
) -> list[Voice]:
    """Every (voice, rate) combination for ``engine``, in the given order.

    espeak-ng: ``voices`` default to the language's voice (`voice_for_language`),
    ``rates`` to 175 words per minute. transformers: ``voices`` default to
    ``["default"]``, and speaking rates are refused (the model decides its pace).
    """
    voices = [v.strip() for v in (voices or []) if v and v.strip()]
    rates = [int(r) for r in (rates or [])]
    if is_espeak(engine):
        voices = voices or [voice_for_language(language)]
        rates = rates or [DEFAULT_ESPEAK_RATE]
        bad = [r for r in rates if not 80 <= r <= 450]
        if bad:
            raise TTSError(f"espeak-ng speaking rates must be 80 to 450 words per minute, got {bad}")
        return [Voice(v, r) for v in dict.fromkeys(voices) for r in dict.fromkeys(rates)]
    if rates:
        raise TTSError(
            f"speaking rates apply to espeak-ng only; the transformers model {engine!r} sets its own pace. "
            "Drop --rates."
        )
    return [Voice(v) for v in dict.fromkeys(voices or ["default"])]


def _digest_int(*parts: object) -> int:
    text = "\0".join(str(part) for part in parts)
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def pick_voice(voices: list[Voice], item_id: str, seed: int) -> Voice:
    """The voice of one item: SHA-256 of (seed, item id) modulo the number of voices.

    Depends on nothing else (not the item's position, not the worker), so a
    multi-speaker build is reproducible and an item keeps its voice when others
    are added or removed.
    """
    if not voices:
        raise TTSError("no voices to choose from")
    return voices[_digest_int("voice", seed, item_id) % len(voices)]


def text_seed(seed: int, item_id: str, index: int) -> int:
    """The random seed of one text of an item (index 0: the context, j+1: continuation j)."""
    return _digest_int("text", seed, item_id, index) % (2**31)


def _mono_16k(audio: Any, rate: int) -> np.ndarray:
    data = np.asarray(audio, dtype=np.float32)
    data = np.squeeze(data)
    if data.ndim == 2:  # (channels, samples) or (samples, channels): average the channels
        data = data.mean(axis=0 if data.shape[0] < data.shape[1] else 1)
    if data.ndim != 1 or data.size == 0:
        raise TTSError(f"the model returned audio of shape {np.shape(audio)}, not a waveform")
    if not np.isfinite(data).all():
        raise TTSError("the model returned NaN or infinite samples")
    if rate != SAMPLING_RATE:
        data = resample(data, int(rate), SAMPLING_RATE)
    return np.ascontiguousarray(data, dtype=np.float32)


class TTSEngine:
    """Speak one text with one `Voice`; returns 16 kHz mono float32 in [-1, 1]."""

    spec: str

    def check_voice(self, voice: Voice) -> None:
        """Raise `TTSError` now if ``voice`` cannot be used (before any worker starts)."""

    def synthesize(self, text: str, voice: Voice, seed: int = 0) -> np.ndarray:
        raise NotImplementedError

    def describe(self) -> str:
        """One line for the dataset card."""
        raise NotImplementedError


class EspeakEngine(TTSEngine):
    """espeak-ng through `EspeakTTS`: deterministic, ``seed`` is not needed."""

    def __init__(self) -> None:
        self.spec = "espeak-ng"
        self._speakers: dict[Voice, EspeakTTS] = {}

    def _speaker(self, voice: Voice) -> EspeakTTS:
        if voice not in self._speakers:
            self._speakers[voice] = EspeakTTS(voice.name, rate=voice.rate or DEFAULT_ESPEAK_RATE)
        return self._speakers[voice]

    def check_voice(self, voice: Voice) -> None:
        self._speaker(voice)

    def synthesize(self, text: str, voice: Voice, seed: int = 0) -> np.ndarray:
        return self._speaker(voice).synthesize(text, SAMPLING_RATE)

    def describe(self) -> str:
        from importlib.metadata import version

        return f"espeak-ng (espeakng-loader {version('espeakng-loader')}), synthesized at {ESPEAK_SAMPLING_RATE} Hz"


class TransformersTTSEngine(TTSEngine):
    """Any transformers text-to-speech model, through ``pipeline("text-to-speech", model=...)``.

    The model is loaded on first use (in each worker). Sampling models (VITS's
    stochastic duration predictor, Bark) are made reproducible by seeding torch
    with `text_seed` before every text. SpeechT5 needs a speaker embedding: give
    the path of a ``.npy`` x-vector as the voice.
    """

    def __init__(self, model: str, device: str = "cpu", revision: str | None = None):
        self.spec = model
        self.device = device
        self.revision = revision
        self._pipeline: Any = None

    def _pipe(self) -> Any:
        if self._pipeline is None:
            from transformers import pipeline

            try:  # "text-to-audio": the task's name ("text-to-speech" is its alias)
                self._pipeline = pipeline("text-to-audio", model=self.spec, device=self.device, revision=self.revision)
            except (OSError, ValueError, KeyError) as err:
                raise TTSError(
                    f"cannot load the text-to-speech model {self.spec!r}: {err}. Give a transformers "
                    "text-to-speech model id (e.g. facebook/mms-tts-eng) or a local folder, or use --engine espeak."
                ) from err
        return self._pipeline

    def check_voice(self, voice: Voice) -> None:
        if voice.name == "default" or voice.name.isdigit():
            return
        if not (voice.name.endswith(".npy") and os.path.isfile(voice.name)):
            raise TTSError(
                f"voice {voice.name!r} of model {self.spec!r} is not 'default', a speaker id or an existing "
                ".npy speaker embedding"
            )

    def _forward_params(self, voice: Voice) -> dict[str, Any]:
        if voice.name == "default":
            return {}
        if voice.name.isdigit():
            return {"speaker_id": int(voice.name)}
        import torch

        return {"speaker_embeddings": torch.from_numpy(np.load(voice.name).astype(np.float32)).reshape(1, -1)}

    def synthesize(self, text: str, voice: Voice, seed: int = 0) -> np.ndarray:
        import torch

        pipe = self._pipe()
        torch.manual_seed(seed)
        with torch.inference_mode():
            out = pipe(text, forward_params=self._forward_params(voice))
        audio = _mono_16k(out["audio"], out["sampling_rate"])
        if not audio.any():
            raise TTSError(f"the model {self.spec!r} produced silence for {text[:60]!r}")
        return np.clip(audio, -1.0, 1.0)

    def describe(self) -> str:
        from importlib.metadata import version

        revision = f" (revision {self.revision})" if self.revision else ""
        return f"transformers {version('transformers')} text-to-speech pipeline, model {self.spec}{revision}"


def make_engine(engine: str, device: str = "cpu", revision: str | None = None) -> TTSEngine:
    """``espeak``/``espeak-ng`` -> `EspeakEngine`; any other string is a transformers model id or folder."""
    if is_espeak(engine):
        return EspeakEngine()
    return TransformersTTSEngine(engine, device=device, revision=revision)


# --- many items, several processes ----------------------------------------------------------


@dataclass(frozen=True)
class SpeechJob:
    """The texts of one item (context first, then the continuations), spoken with one voice."""

    key: int
    item_id: str
    texts: tuple[str, ...]
    voice: Voice
    seed: int = 0


@dataclass
class SpeechResult:
    """The waveforms of a job's texts (16 kHz float32), or why it failed."""

    key: int
    audio: list[np.ndarray] | None
    error: str | None = None


_worker_engine: TTSEngine | None = None


def _init_worker(engine: str, device: str, revision: str | None, threads: int | None) -> None:
    global _worker_engine
    if threads:
        os.environ.setdefault("OMP_NUM_THREADS", str(threads))
        if "torch" in sys.modules or not is_espeak(engine):
            import torch

            torch.set_num_threads(threads)
    _worker_engine = make_engine(engine, device=device, revision=revision)
    if is_espeak(engine):
        library = _library_path()
        if library.parent.name.startswith("s2sbench-espeak-"):
            # worker processes leave through os._exit, which skips atexit: remove the private copy on the way out
            _mp_util.Finalize(
                None, shutil.rmtree, args=(str(library.parent),), kwargs={"ignore_errors": True}, exitpriority=0
            )


def _run_job(job: SpeechJob) -> SpeechResult:
    engine = _worker_engine
    assert engine is not None, "worker not initialized"
    audio = []
    for index, text in enumerate(job.texts):
        try:
            audio.append(engine.synthesize(text, job.voice, seed=text_seed(job.seed, job.item_id, index)))
        except Exception as err:  # noqa: BLE001 - reported per item, with what was being spoken
            what = "the context" if index == 0 else f"continuation {index - 1}"
            problem = f"{what} ({text[:40]!r}) could not be spoken with {job.voice.label}: {err}"
            return SpeechResult(job.key, None, problem)
    return SpeechResult(job.key, audio)


def synthesize_jobs(
    engine: str,
    jobs: list[SpeechJob],
    *,
    workers: int = 1,
    device: str = "cpu",
    revision: str | None = None,
    progress: bool = True,
    desc: str = "Synthesizing speech",
) -> Iterator[SpeechResult]:
    """Speak every job's texts; yield one `SpeechResult` per job, in job order.

    ``workers`` > 1 starts that many ``spawn`` processes (each loads the engine
    once); 1 runs here. The samples do not depend on ``workers``: espeak-ng is
    deterministic, and a sampling model is seeded per text from (seed, item id).
    A text that cannot be spoken gives a result with ``error`` set; the caller
    decides what to do with it.
    """
    from tqdm.auto import tqdm

    global _worker_engine
    workers = max(1, min(int(workers), len(jobs) or 1))
    bar = tqdm(total=len(jobs), desc=desc, unit="item", disable=not progress)
    try:
        if workers == 1:
            previous = _worker_engine
            _worker_engine = make_engine(engine, device=device, revision=revision)
            try:
                for job in jobs:
                    yield _run_job(job)
                    bar.update()
            finally:
                _worker_engine = previous
            return
        threads = max(1, (os.cpu_count() or 1) // workers)
        chunksize = max(1, min(8, len(jobs) // (workers * 8)))
        # concurrent.futures, not multiprocessing.Pool: a worker that dies (for instance while re-importing a
        # script that starts a build without an `if __name__ == "__main__":` guard) breaks the pool at once
        # instead of being replaced forever.
        executor = ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(engine, device, revision, threads),
        )
        try:
            for result in executor.map(_run_job, jobs, chunksize=chunksize):
                yield result
                bar.update()
        except BrokenProcessPool as err:
            raise TTSError(
                f"a speech worker process died ({err}). If a script starts the build, put that call under "
                '`if __name__ == "__main__":` (worker processes import the script), or use workers=1.'
            ) from err
        finally:
            executor.shutdown(wait=True, cancel_futures=True)
    finally:
        bar.close()
