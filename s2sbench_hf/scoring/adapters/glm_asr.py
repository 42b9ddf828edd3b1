"""``glm-asr``: `GlmAsrForConditionalGeneration` (Zhipu's GLM-ASR), text and audio.

Speech is ``<|begin_of_audio|>`` + the placeholder ``<|pad|>`` (expanded by
`GlmAsrProcessor` to one per 4 encoder frames) + ``<|end_of_audio|>``, the
markers only when the tokenizer has them. The placeholder is ``<|pad|>``, so
the tokenizer's pad token must be another token: padding with the placeholder
would plant phantom audio slots in left-padded batches; the scorer refuses
such a tokenizer. Features are cast to the model's dtype by the base (bf16).
The processor cuts a long clip into consecutive 30 s windows, up to its
``max_audio_len`` (655 s); a longer clip is an item error. The encoder has no
attention mask: a clip's outputs depend on the padding of its window, so the
whole window is kept (no ``trim_encoder``).
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import GlmAsrForConditionalGeneration

from s2sbench_hf.scoring.adapters.base import ProcessorAudioScorer
from s2sbench_hf.scoring.interface import AdapterError


class GlmAsrScorer(ProcessorAudioScorer):
    name = "glm-asr"
    model_class = GlmAsrForConditionalGeneration
    input_names = ("input_ids", "attention_mask", "input_features", "input_features_mask")
    marker_tokens = ("<|begin_of_audio|>", "<|end_of_audio|>")
    processor_windows = True

    def load(self) -> tuple[torch.nn.Module, Any]:
        model, processor = super().load()
        if processor.tokenizer.pad_token_id == processor.audio_token_id:
            raise AdapterError(
                f"the pad token of {self.model_id!r} is its audio placeholder {processor.audio_token!r}; "
                "set a different pad token in its tokenizer config."
            )
        return model, processor

    def speech_markup(self) -> str:
        vocab = self.tokenizer.get_vocab()
        start, end = (m if m in vocab else "" for m in self.marker_tokens)
        return start + self.processor.audio_token + end

    def speech_positions(self, seconds: float) -> int:
        total = sum(self.window_frames(seconds))
        for padding, kernel, stride in ((1, 3, 1), (1, 3, 2)):
            total = (total + 2 * padding - (kernel - 1) - 1) // stride + 1
        vocab = self.tokenizer.get_vocab()
        return (total - 4) // 4 + 1 + sum(m in vocab for m in self.marker_tokens)
