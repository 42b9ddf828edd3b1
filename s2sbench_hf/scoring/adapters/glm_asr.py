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

from pathlib import Path
from typing import Any

import torch
from transformers import GlmAsrConfig, GlmAsrForConditionalGeneration, GlmAsrProcessor, WhisperFeatureExtractor

from s2sbench_hf.real_tokenizers import CHATML_TEMPLATE
from s2sbench_hf.scoring.adapters.base import ProcessorAudioScorer
from s2sbench_hf.scoring.family import Family
from s2sbench_hf.scoring.interface import AdapterError
from s2sbench_hf.scoring.tiny import (
    build_tokenizer,
    save_model,
    text_config,
    token_id,
)

FAMILY = Family(
    name="glm-asr",
    scorer="GlmAsrScorer",
    model_types=("glmasr",),
    note="`zai-org/GLM-ASR-Nano-2512`; trained to transcribe",
)


class GlmAsrScorer(ProcessorAudioScorer):
    name = FAMILY.name
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


def tiny_model(
    folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2, tokenizer: str | Path | None = None
) -> Path:
    """A random GLM-ASR with its processor; the audio placeholder ``<|pad|>`` is not the pad token."""
    tok = build_tokenizer(extra_special_tokens=["<|pad|>", "<|begin_of_audio|>", "<|end_of_audio|>"], base=tokenizer)
    processor = GlmAsrProcessor(WhisperFeatureExtractor(feature_size=128), tok, chat_template=CHATML_TEMPLATE)
    torch.manual_seed(seed)
    config = GlmAsrConfig(
        audio_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=layers, num_attention_heads=4),
        text_config=dict(model_type="llama", **text_config(len(tok), hidden, layers)),
        audio_token_id=token_id(tok, "<|pad|>"),
    )
    return save_model(Path(folder), GlmAsrForConditionalGeneration(config), processor)
