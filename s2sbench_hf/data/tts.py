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
"""

from __future__ import annotations

import atexit
import ctypes
import shutil
import sys
import tempfile
import threading
from pathlib import Path

import _ctypes
import espeakng_loader
import librosa
import numpy as np

from s2sbench_hf.tasks import S2SBenchError

ESPEAK_SAMPLING_RATE = 22050
"""The rate espeak-ng synthesizes at; `synthesize` resamples from it."""

VOICES = {"en": "en-us", "zh": "cmn"}
"""espeak-ng voice for each task language."""

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


def _library_path() -> Path:
    """A copy of espeak-ng's shared library that only this module opens (made once per process)."""
    global _private_library
    if _private_library is None:
        source = Path(espeakng_loader.get_library_path())
        folder = Path(tempfile.mkdtemp(prefix="s2sbench-espeak-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        _private_library = folder / source.name
        shutil.copy2(source, _private_library)
    return _private_library


def _unload(handle: int) -> None:
    if sys.platform == "win32":
        _ctypes.FreeLibrary(handle)
    else:
        _ctypes.dlclose(handle)


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
            ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
            ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
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
        if lib.espeak_SetVoiceByName(self.voice.encode()) != _EE_OK:
            raise TTSError(f"espeak-ng has no voice {self.voice!r} (try 'en-us' or 'cmn')")
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
            audio = librosa.resample(audio, orig_sr=ESPEAK_SAMPLING_RATE, target_sr=sampling_rate, res_type="soxr_hq")
        return np.ascontiguousarray(audio, dtype=np.float32)
