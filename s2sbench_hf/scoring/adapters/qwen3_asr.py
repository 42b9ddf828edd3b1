"""``qwen3-asr``: `Qwen3ASRForConditionalGeneration` (Qwen3-ASR), text and audio.

A speech recognizer built as a speech LLM (Whisper-style encoder, Qwen3 LM), so
it scores continuations like the others, though it was trained to transcribe.
Speech is ``<|audio_start|>`` + the placeholder ``<|audio_pad|>`` (expanded by
`Qwen3ASRProcessor` to 13 positions per second, the encoder's length formula
over chunks of 100 mel frames) + ``<|audio_end|>``, the tokens the tokenizer
names. Its feature extractor zero-pads clips shorter than half a second and
counts a clip's mel frames differently alone (``samples // 160``) and in a
batch with a longer clip (one more, when the length is not a multiple of 160),
so batches are split by clip length (``pad_leaks_into_encoder``).
"""

from __future__ import annotations

import torch
from transformers import Qwen3ASRForConditionalGeneration

from s2sbench_hf.scoring.adapters.base import ProcessorAudioScorer


class Qwen3ASRScorer(ProcessorAudioScorer):
    name = "qwen3-asr"
    audio_window_seconds = None  # its processor and encoder take a clip of any length
    model_class = Qwen3ASRForConditionalGeneration
    audio_markers = True
    input_names = ("input_ids", "attention_mask", "input_features", "input_features_mask")
    pad_leaks_into_encoder = True

    def speech_positions(self, seconds: float) -> int:
        fe = self.processor.feature_extractor
        frames = max(round(seconds * self.sampling_rate), fe.min_length) // fe.hop_length
        return 2 + int(self.processor._get_audio_token_length(torch.tensor(frames), fe.n_window))
