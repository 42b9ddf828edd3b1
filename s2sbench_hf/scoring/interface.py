"""The public scorer interface: what the engine asks of a model.

A `Scorer` gets `Request`s (one context, k continuations) and returns, per
continuation, the summed negative log-likelihood of its tokens and their number.
Everything else (framing, batching, caching, accuracies) lives outside it, so a
new model family, or a user's own model, is one small class.

A continuation is text or speech (the setting says which, `tasks.SPEECH_CONTINUATION`).
A spoken one comes as a waveform (`Request.continuation_audio`); its score is
the NLL of the model's speech tokens for that clip, and ``n_tokens`` the number
of those tokens (frames) the NLL is summed over, so that the mean is per frame.

The ``utterance`` setting (the speech-LM sets: a pair of whole clips) is a
spoken continuation after an empty context: the same request with ``context``
"" and no ``audio``, each clip scored from its first speech token. A scorer
scores utterances iff ``"utterance"`` is in its ``settings``.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from s2sbench_hf.tasks import S2SBenchError


class AdapterError(S2SBenchError, ValueError):
    """The model or the adapter cannot do what was asked."""


@dataclass(frozen=True)
class Request:
    """One (item, setting): a context scored against its k continuations.

    Text context (``text``, ``text_to_speech``): ``context`` is the item's context
    text. Spoken context (``audio``, ``speech_to_speech``): ``context`` is the
    framing text that comes before the speech and ``audio`` the speech (mono
    float32 at ``sampling_rate``). Text continuations (``text``, ``audio``)
    already carry the framing separator (``" " + ending`` after English text;
    nothing after speech). Spoken continuations (``text_to_speech``,
    ``speech_to_speech``): ``continuation_audio`` holds one clip per continuation
    (mono float32 at ``sampling_rate``), and ``continuations`` their text (what is
    said, for the record; a scorer of speech tokens scores the clips).
    ``utterance`` (an utterance task's pair of whole clips): ``context`` is "",
    ``audio`` None, ``continuation_audio`` the clips (the positive one first) and
    ``continuations`` their transcripts or ""; each clip's NLL is summed over all
    its speech tokens, from the first, with nothing before it but what the model
    starts every sequence with.
    """

    task: str
    item_id: str
    setting: str
    context: str
    continuations: tuple[str, ...]
    audio: np.ndarray | None = None
    sampling_rate: int | None = None
    audio_seconds: float | None = None
    """Length of the speech; known before the waveform is decoded, to plan batches."""
    context_text: str | None = None
    """Audio setting: the item's context as text (the reference for a recognizer's word error rate)."""
    text_continuations: tuple[str, ...] | None = None
    """Audio setting: the continuations as the text setting frames them (for a cascade's language model)."""
    continuation_audio: tuple[np.ndarray, ...] | None = None
    """Spoken continuations: one waveform per continuation, at ``sampling_rate``."""
    continuation_seconds: tuple[float, ...] | None = None
    """Spoken continuations: their lengths, known before the waveforms are decoded, to plan batches."""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.task, self.item_id, self.setting)


@dataclass(frozen=True)
class ContinuationScore:
    """``nll_sum = -sum_t log p(c_t | prompt, c_<t)`` over the continuation's ``n_tokens`` tokens."""

    nll_sum: float
    n_tokens: int
    extra: dict[str, Any] | None = field(default=None, compare=False)
    """Anything else the scorer wants kept in the samples file (a cascade's transcript and word error rate)."""


@dataclass(frozen=True)
class Record:
    """The score of one continuation of one item in one setting: what the engine produces and the files keep."""

    task: str
    item_id: str
    setting: str
    choice: int
    is_answer: bool
    continuation: str
    nll_sum: float
    n_tokens: int
    n_bytes: int
    extra: dict | None = field(default=None, compare=False)
    """What the scorer added (`ContinuationScore.extra`), written to the samples file when set."""

    @property
    def mean_nll(self) -> float:
        return self.nll_sum / self.n_tokens

    def to_dict(self) -> dict:
        row = asdict(self)
        if row["extra"] is None:
            del row["extra"]
        row["mean_nll"] = self.mean_nll
        row["ppl"] = math.exp(min(self.mean_nll, 700.0))
        return row


class Scorer(ABC):
    """A model that scores continuations. Subclass it to bring your own model.

    Class attributes:
      ``name``: the adapter name recorded in the results.
      ``settings``: the settings this scorer supports (`tasks.ALL_SETTINGS`; those with
      spoken continuations need a model of speech tokens; ``utterance``, whole clips
      with no context, is what the speech-LM sets are scored in).
      ``sampling_rate``: the audio rate it expects (the engine resamples the context
      speech and the spoken continuations to it).

    A scorer gets `Request`s and returns, per continuation, its summed negative
    log-likelihood and token count. A toy one that prefers short continuations:

    >>> from s2sbench_hf import ContinuationScore, Request, Scorer
    >>> class ByLength(Scorer):
    ...     name = "by-length"
    ...     def score(self, requests):
    ...         return [[ContinuationScore(nll_sum=float(len(c)), n_tokens=1) for c in r.continuations]
    ...                 for r in requests]
    >>> request = Request("sstorycloze", "0", "text", "Tom baked bread.", (" It smelled good.", " It flew away."))
    >>> [s.nll_sum for s in ByLength().score([request])[0]]
    [17.0, 14.0]

    Run it with ``s2sbench run --adapter python:my_module:ByLength --model anything``
    or ``evaluate_model(config, scorer=ByLength())``.
    """

    name: str = "custom"
    settings: tuple[str, ...] = ("text",)
    sampling_rate: int | None = None

    @abstractmethod
    def score(self, requests: Sequence[Request]) -> list[list[ContinuationScore]]:
        """Return, for each request, one `ContinuationScore` per continuation, in order."""

    def token_lengths(self, request: Request) -> tuple[int, list[int]]:
        """Prompt tokens and each continuation's tokens, to sort and batch requests.

        Called before the audio is decoded (``request.audio_seconds`` and
        ``request.continuation_seconds`` are set). This default is a rough estimate
        (3 characters a token, 25 positions per second of speech); the
        transformers adapters count exactly.
        """
        speech = int(25 * (request.audio_seconds or 0.0))
        if request.continuation_seconds is not None:
            conts = [int(25 * seconds) + 1 for seconds in request.continuation_seconds]
        else:
            conts = [len(c) // 3 + 1 for c in request.continuations]
        return len(request.context) // 3 + 1 + speech, conts

    def audio_windows(self, seconds: float) -> int:
        """Consecutive windows a clip of ``seconds`` is scored in (counted in results.json; default 1)."""
        return 1

    def describe(self) -> dict[str, Any]:
        """What identifies the model in the results (id, revision or content hash, dtype, ...)."""
        return {"adapter": self.name}


ENGINE_STOPS: list[Callable[[], bool]] = []
"""How to stop the engine processes a backend started in this process (`register_engine_stop`), each saying
whether it had any: a backend adds its own, so the command line ends any backend's engines without naming one."""


def register_engine_stop(stop: Callable[[], bool]) -> None:
    """Add ``stop`` to `ENGINE_STOPS` (once): a backend whose engines run in processes of their own calls it."""
    if stop not in ENGINE_STOPS:
        ENGINE_STOPS.append(stop)


def stop_engines() -> bool:
    """Stop every backend's engine processes (`ENGINE_STOPS`); whether any ran. The command line then ends its
    process at once (`cli.entry`): the interpreter's teardown of such engines can abort a finished run."""
    stopped = [stop() for stop in ENGINE_STOPS]
    return any(stopped)
