"""``audio-flamingo3``: `AudioFlamingo3ForConditionalGeneration` (NVIDIA Audio Flamingo 3), text and audio.

Speech is one ``<sound>`` that `AudioFlamingo3Processor` expands to one
placeholder per encoder output frame (Whisper features in 30 s windows, 25
positions per second of speech, at most the processor's ``max_audio_len``,
10 minutes; longer clips are cut there). Its features are cast to the model's
dtype by the base (needed for bf16).
"""

from __future__ import annotations

import math

import torch
from transformers import AudioFlamingo3ForConditionalGeneration

from s2sbench_hf.scoring.adapters.base import ProcessorAudioScorer


class AudioFlamingo3Scorer(ProcessorAudioScorer):
    name = "audio-flamingo3"
    model_class = AudioFlamingo3ForConditionalGeneration
    input_names = ("input_ids", "attention_mask", "input_features", "input_features_mask")

    def speech_positions(self, seconds: float) -> int:
        fe = self.processor.feature_extractor
        window = fe.chunk_length * self.sampling_rate
        kept = (int(self.processor.max_audio_len) // fe.chunk_length) * window  # the processor cuts longer clips
        frames = math.ceil(min(round(seconds * self.sampling_rate), kept) / fe.hop_length)
        return int(self.processor._get_audio_token_length(torch.tensor(frames)))  # the processor's formula
