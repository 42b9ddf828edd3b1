"""``causal-lm``: any `AutoModelForCausalLM`, text setting only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from s2sbench_hf.scoring.adapters.base import HFScorer
from s2sbench_hf.scoring.checkpoint import load_pretrained
from s2sbench_hf.scoring.interface import Request


class CausalLMScorer(HFScorer):
    """A text-only language model: the reference point for the text setting."""

    name = "causal-lm"
    settings = ("text",)

    def load(self) -> tuple[torch.nn.Module, Any]:
        return load_pretrained(AutoModelForCausalLM, self.model_id, **self.model_kwargs()), self.load_processor()

    def load_processor(self) -> Any:
        return AutoTokenizer.from_pretrained(self.model_id, **self.pretrained_kwargs())

    def prefix_inputs(self, requests: Sequence[Request]) -> dict[str, torch.Tensor]:
        return self.pad_text_prefixes([self.text_prefix_ids(r) for r in requests])
