"""``qwen2-audio``: `Qwen2AudioForConditionalGeneration`, text and audio settings.

Speech is rendered as ``<|audio_bos|><|AUDIO|><|audio_eos|>``; the processor
expands ``<|AUDIO|>`` to one placeholder per encoder frame (25 per second) and
pads the features to 30 s, so each clip costs one fixed encoder pass, done once
in the prefix pass.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import torch
from transformers import AutoProcessor, Qwen2AudioForConditionalGeneration

from s2sbench_hf.scoring.adapters.base import HFScorer
from s2sbench_hf.scoring.interface import Request


class Qwen2AudioScorer(HFScorer):
    name = "qwen2-audio"
    settings = ("text", "audio")
    sampling_rate = 16000

    def load(self) -> tuple[torch.nn.Module, Any]:
        kwargs = self.pretrained_kwargs()
        processor = AutoProcessor.from_pretrained(self.model_id, **kwargs)
        model = Qwen2AudioForConditionalGeneration.from_pretrained(self.model_id, **self.model_kwargs())
        return model, processor

    def speech_positions(self, seconds: float) -> int:
        """The processor's count: 100 mel frames a second (at most 30 s), halved twice, plus 2 markers."""
        frames = min(math.ceil(seconds * 16000 / 160), 3000)
        return 2 + (((frames - 1) // 2 + 1) - 2) // 2 + 1

    def speech_markup(self) -> str:
        p = self.processor
        return f"{p.audio_bos_token}{p.audio_token}{p.audio_eos_token}"

    def prefix_inputs(self, requests: Sequence[Request]) -> dict[str, torch.Tensor]:
        if requests[0].setting == "text":
            return self.pad_text_prefixes([self.text_prefix_ids(r) for r in requests])
        texts = [self.audio_prompt_text(r, self.speech_markup()) for r in requests]
        inputs = self.processor(
            text=texts,
            audio=[r.audio for r in requests],
            sampling_rate=self.sampling_rate,
            padding=True,
            return_tensors="pt",
        )
        inputs["input_features"] = inputs["input_features"].to(self.dtype)
        return {k: v for k, v in inputs.items() if k in ("input_ids", "attention_mask", "input_features", "feature_attention_mask")}
