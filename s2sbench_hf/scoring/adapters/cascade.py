"""``cascade``: a speech recognizer transcribes the context, a language model scores after the transcript.

The baseline every end-to-end model is compared with: its audio-setting
accuracy loses exactly what recognition errors cost. ``--model`` is the
language model (any adapter's text setting, detected from its config),
``--asr-model`` the recognizer (any Whisper checkpoint through transformers).
Whisper transcribes one 30 s window: a longer clip is an item error.

Text setting: the language model's own text-setting scores. Audio setting: the
clip is transcribed and the continuations are scored after the transcript
exactly as in the text setting (`Request.text_continuations`, the text
framing), so a perfect transcript gives exactly the text-setting scores. Each
audio-setting score carries the transcript and its word error rate against the
item's context text (`ContinuationScore.extra`, kept in the samples file; for
Chinese the error rate is over characters).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from s2sbench_hf.scoring.adapters.base import audio_too_long, resolve_device, resolve_dtype
from s2sbench_hf.scoring.checkpoint import load_pretrained
from s2sbench_hf.scoring.family import Family, Requirement
from s2sbench_hf.scoring.interface import AdapterError, ContinuationScore, Request, Scorer
from s2sbench_hf.scoring.registry import load_scorer
from s2sbench_hf.tasks import TASKS

FAMILY = Family(
    name="cascade",
    scorer="CascadeScorer",
    note=(
        "the baseline of recognition errors alone: Whisper transcribes, any LM scores the transcript, "
        "`--asr-model openai/whisper-large-v3 --model Qwen/Qwen2-7B`"
    ),
    needs=(Requirement("jiwer", "its word error rates"),),
)


try:  # the optional `cascade` extra: only this adapter needs it
    import jiwer
except ImportError:
    jiwer = None  # type: ignore[assignment]  # checked before any model loads (MISSING_JIWER)

MISSING_JIWER = "the cascade adapter measures word error rates with jiwer: pip install 's2sbench-hf[cascade]'"


WHISPER_WINDOW_SECONDS = 30.0
"""What Whisper's feature extractor keeps of a clip (it cuts the rest)."""


class WhisperRecognizer:
    """Greedy transcription with a Whisper checkpoint (`WhisperForConditionalGeneration`)."""

    sampling_rate = 16000

    def __init__(
        self,
        model_id: str,
        *,
        device: str | None = None,
        dtype: str | torch.dtype | None = None,
        revision: str | None = None,
        max_new_tokens: int | None = None,
    ):
        from transformers import AutoProcessor, WhisperForConditionalGeneration

        self.model_id = str(model_id)
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        kwargs: dict[str, Any] = {"revision": revision} if revision else {}
        self.processor = AutoProcessor.from_pretrained(self.model_id, **kwargs)
        self.model = load_pretrained(WhisperForConditionalGeneration, self.model_id, dtype=self.dtype, **kwargs)
        # transformers' decorated `to` is typed as if unbound (it asks for the model as its first argument)
        self.model = self.model.to(self.device).eval()  # type: ignore[arg-type]
        self.max_new_tokens = max_new_tokens or self.model.generation_config.max_new_tokens or 224

    @torch.inference_mode()
    def transcribe(self, audio: Sequence[np.ndarray], language: str | None = None) -> list[str]:
        features = self.processor.feature_extractor(
            list(audio), sampling_rate=self.sampling_rate, return_attention_mask=True, return_tensors="pt"
        )
        kwargs: dict[str, Any] = {"max_new_tokens": self.max_new_tokens}
        config = self.model.generation_config
        if getattr(config, "task_to_id", None):  # multilingual checkpoints: force transcription
            kwargs["task"] = "transcribe"
        if language and getattr(config, "lang_to_id", None):
            kwargs["language"] = language
        out = self.model.generate(
            features["input_features"].to(self.device, self.dtype),
            attention_mask=features["attention_mask"].to(self.device),
            **kwargs,
        )
        return [t.strip() for t in self.processor.batch_decode(out, skip_special_tokens=True)]

    def describe(self) -> dict[str, Any]:
        return {"model_id": self.model_id, "model_class": type(self.model).__name__, "dtype": str(self.dtype)}


def _audio(request: Request) -> np.ndarray:
    if request.audio is None:
        raise AdapterError(f"task {request.task!r}, item {request.item_id!r}: an audio request without its audio.")
    return request.audio


def word_error_rate(reference: str, hypothesis: str, language: str = "en") -> float:
    """jiwer's word error rate; over characters for Chinese (no spaces between words)."""
    if jiwer is None:
        raise AdapterError(MISSING_JIWER)
    if language == "zh":
        return float(jiwer.cer(reference, hypothesis)) if reference else float(bool(hypothesis))
    if not reference.strip():
        return float(bool(hypothesis.strip()))
    return float(jiwer.wer(reference, hypothesis))


class CascadeScorer(Scorer):
    name = FAMILY.name
    settings = ("text", "audio")
    sampling_rate = 16000

    def __init__(
        self,
        model_id: str,
        *,
        asr_model: str | None = None,
        lm: Scorer | None = None,
        recognizer: Any = None,
        **options: Any,
    ):
        """``options``: the model options (`options.ModelSpec.scorer_kwargs`), every one passed on to the language
        model, so that none is dropped on the way; the recognizer runs on their device and dtype."""
        if jiwer is None:  # before any model is loaded
            raise AdapterError(MISSING_JIWER)
        if recognizer is None and not asr_model:
            raise AdapterError("the cascade needs a speech recognizer: pass --asr-model (a Whisper checkpoint).")
        self.lm = lm or load_scorer(model_id, None, **options)
        if "text" not in self.lm.settings:
            raise AdapterError(f"the cascade's language model {model_id!r} cannot score text.")
        self.recognizer = recognizer or WhisperRecognizer(
            str(asr_model), device=options.get("device"), dtype=options.get("dtype")
        )  # asr_model: checked above

    def check_audio_length(self, request: Request) -> None:
        """The recognizer transcribes one 30 s window: a longer clip is an item error, not a cut transcript."""
        if request.setting == "audio":
            seconds = (
                len(request.audio) / self.sampling_rate if request.audio is not None else request.audio_seconds or 0.0
            )
            if seconds > WHISPER_WINDOW_SECONDS:
                raise audio_too_long(request, self.name, seconds, WHISPER_WINDOW_SECONDS, 1)

    def token_lengths(self, request: Request) -> tuple[int, list[int]]:
        self.check_audio_length(request)
        if request.setting == "audio":
            speech = int(4 * (request.audio_seconds or 0.0))  # about 3 words a second
            conts = request.text_continuations or request.continuations
            return speech + 1, self.lm.token_lengths(replace(request, setting="text", continuations=conts))[1]
        return self.lm.token_lengths(request)

    def as_text(self, request: Request, transcript: str) -> Request:
        """The audio request as a text request: the transcript, then the text-framed continuations."""
        if request.text_continuations is None:
            raise AdapterError(
                f"task {request.task!r}, item {request.item_id!r}: the cascade needs the text framing of the "
                "continuations (Request.text_continuations), which the engine sets in the audio setting."
            )
        return replace(
            request,
            setting="text",
            context=transcript,
            continuations=request.text_continuations,
            audio=None,
            sampling_rate=None,
        )

    def score(self, requests: Sequence[Request]) -> list[list[ContinuationScore]]:
        for request in requests:
            self.check_audio_length(request)
        results: list[list[ContinuationScore] | None] = [None] * len(requests)
        text = [i for i, r in enumerate(requests) if r.setting == "text"]
        audio = [i for i, r in enumerate(requests) if r.setting == "audio"]
        if text:
            for i, scores in zip(text, self.lm.score([requests[i] for i in text]), strict=True):
                results[i] = scores
        if audio:
            by_language: dict[str | None, list[int]] = {}
            for i in audio:
                task = TASKS.get(requests[i].task)
                by_language.setdefault(task.language if task else None, []).append(i)
            for language, indices in by_language.items():
                transcripts = self.recognizer.transcribe([_audio(requests[i]) for i in indices], language=language)
                as_text = [self.as_text(requests[i], t) for i, t in zip(indices, transcripts, strict=True)]
                for i, transcript, scores in zip(indices, transcripts, self.lm.score(as_text), strict=True):
                    reference = requests[i].context_text
                    extra = {"transcript": transcript}
                    if reference is not None:
                        extra["wer"] = word_error_rate(reference, transcript, language or "en")
                    results[i] = [replace(s, extra=extra) for s in scores]
        return results  # type: ignore[return-value]

    def describe(self) -> dict[str, Any]:
        """The language model's identity (id, revision or content hash), the adapter, and the recognizer."""
        return {
            **self.lm.describe(),
            "adapter": self.name,
            "language_model_adapter": self.lm.name,
            "recognizer": self.recognizer.describe() if hasattr(self.recognizer, "describe") else repr(self.recognizer),
        }
