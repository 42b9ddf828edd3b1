"""``gemma4-unified``: `Gemma4UnifiedForConditionalGeneration` (Google Gemma 4 unified), text and audio.

Gemma 4 without an audio encoder: the raw waveform is cut into frames of 640
samples (40 ms), each projected into the LM as one soft token, so speech is the
audio token expanded by `Gemma4UnifiedProcessor` to its start-of-audio token +
one soft token per 40 ms + its end-of-audio token. Otherwise as `gemma4`: the
processor's own count and the processor built without its vision parts.
"""

from __future__ import annotations

from transformers import Gemma4UnifiedForConditionalGeneration, Gemma4UnifiedProcessor

from s2sbench_hf.scoring.adapters.gemma4 import Gemma4Scorer


class Gemma4UnifiedScorer(Gemma4Scorer):
    name = "gemma4-unified"
    audio_window_seconds = None  # unlike Gemma 4's, its processor takes a clip of any length
    model_class = Gemma4UnifiedForConditionalGeneration
    processor_class = Gemma4UnifiedProcessor
