"""``granite-speech-plus``: `GraniteSpeechPlusForConditionalGeneration` (IBM Granite Speech 4.1 "plus"), text and audio.

Granite Speech whose projector also reads chosen intermediate encoder layers:
the same processor, placeholder count, LoRA handling and split of batches by
clip length, so this adapter is `GraniteSpeechScorer` with another model class.
Its feature extractor needs torchaudio (see `granite-speech`).
"""

from __future__ import annotations

from pathlib import Path

from transformers import GraniteSpeechPlusConfig, GraniteSpeechPlusForConditionalGeneration

from s2sbench_hf.scoring.adapters.granite_speech import GraniteSpeechScorer, tiny_granite
from s2sbench_hf.scoring.family import Family, Requirement

FAMILY = Family(
    name="granite-speech-plus",
    scorer="GraniteSpeechPlusScorer",
    model_types=("granite_speech_plus",),
    note="`ibm-granite/granite-speech-4.1-2b-plus`",
    needs=(Requirement("torchaudio", "its feature extractor"),),
)


class GraniteSpeechPlusScorer(GraniteSpeechScorer):
    name = FAMILY.name
    model_class = GraniteSpeechPlusForConditionalGeneration


def tiny_model(
    folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2, tokenizer: str | Path | None = None
) -> Path:
    """A random Granite Speech Plus (its projector also reads encoder layer 1) with the Granite Speech processor."""
    return tiny_granite(
        folder,
        GraniteSpeechPlusConfig,
        GraniteSpeechPlusForConditionalGeneration,
        seed,
        hidden,
        layers,
        tokenizer,
        cat_hidden_layers=[1],
    )
