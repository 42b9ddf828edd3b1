"""``audio-flamingo3``: `AudioFlamingo3ForConditionalGeneration` (NVIDIA Audio Flamingo 3), text and audio.

Speech is one ``<sound>`` that `AudioFlamingo3Processor` expands to one
placeholder per encoder output frame (Whisper features in 30 s windows, 25
positions per second of speech, up to 10 minutes). Its features are cast to
the model's dtype by the base (needed for bf16).
"""

from __future__ import annotations

import math

from transformers import AudioFlamingo3ForConditionalGeneration

from s2sbench_hf.scoring.adapters.base import ProcessorAudioScorer


class AudioFlamingo3Scorer(ProcessorAudioScorer):
    name = "audio-flamingo3"
    model_class = AudioFlamingo3ForConditionalGeneration
    input_names = ("input_ids", "attention_mask", "input_features", "input_features_mask")

    def speech_positions(self, seconds: float) -> int:
        window = 30 * 100  # mel frames per 30 s window
        frames = math.ceil(seconds * 100)
        lengths = [min(window, frames - start) for start in range(0, max(frames, 1), window)]
        total = sum(lengths)
        return ((total - 1) // 2 + 1 - 2) // 2 + 1
