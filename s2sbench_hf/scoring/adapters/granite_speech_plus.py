"""``granite-speech-plus``: `GraniteSpeechPlusForConditionalGeneration` (IBM Granite Speech 4.1 "plus"), text and audio.

Granite Speech whose projector also reads chosen intermediate encoder layers:
the same processor, placeholder count, LoRA handling and split of batches by
clip length, so this adapter is `GraniteSpeechScorer` with another model class.
Its feature extractor needs torchaudio (see `granite-speech`).
"""

from __future__ import annotations

from transformers import GraniteSpeechPlusForConditionalGeneration

from s2sbench_hf.scoring.adapters.granite_speech import GraniteSpeechScorer


class GraniteSpeechPlusScorer(GraniteSpeechScorer):
    name = "granite-speech-plus"
    model_class = GraniteSpeechPlusForConditionalGeneration
