"""``gemma4-unified``: `Gemma4UnifiedForConditionalGeneration` (Google Gemma 4 unified), text and audio.

Gemma 4 without an audio encoder: the raw waveform is cut into frames of 640
samples (40 ms), each projected into the LM as one soft token, so speech is the
audio token expanded by `Gemma4UnifiedProcessor` to its start-of-audio token +
one soft token per 40 ms + its end-of-audio token. Otherwise as `gemma4`: the
processor's own count and the processor built without its vision parts.
"""

from __future__ import annotations

from pathlib import Path

from transformers import (
    Gemma4UnifiedAudioFeatureExtractor,
    Gemma4UnifiedConfig,
    Gemma4UnifiedForConditionalGeneration,
    Gemma4UnifiedProcessor,
)

from s2sbench_hf.scoring.adapters.gemma4 import Gemma4Scorer, tiny_gemma4
from s2sbench_hf.scoring.family import Family

FAMILY = Family(
    name="gemma4-unified",
    scorer="Gemma4UnifiedScorer",
    model_types=("gemma4_unified",),
    note="`google/gemma-4-12B-it`",
    min_transformers="5.21.0",
)


class Gemma4UnifiedScorer(Gemma4Scorer):
    name = FAMILY.name
    audio_window_seconds = None  # unlike Gemma 4's, its processor takes a clip of any length
    model_class = Gemma4UnifiedForConditionalGeneration
    processor_class = Gemma4UnifiedProcessor


def tiny_model(
    folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2, tokenizer: str | Path | None = None
) -> Path:
    """A random Gemma 4 unified (40 ms waveform frames projected into the LM, no vision tower) and its processor."""
    return tiny_gemma4(
        folder,
        Gemma4UnifiedConfig,
        Gemma4UnifiedForConditionalGeneration,
        Gemma4UnifiedProcessor,
        Gemma4UnifiedAudioFeatureExtractor(),
        audio_config={},
        seed=seed,
        hidden=hidden,
        layers=layers,
        tokenizer=tokenizer,
    )
