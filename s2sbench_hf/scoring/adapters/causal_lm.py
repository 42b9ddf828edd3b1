"""``causal-lm``: any `AutoModelForCausalLM`, text setting only."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM

from s2sbench_hf.scoring.adapters.base import HFScorer
from s2sbench_hf.scoring.checkpoint import load_pretrained
from s2sbench_hf.scoring.family import Family
from s2sbench_hf.scoring.interface import Request
from s2sbench_hf.scoring.tiny import build_tokenizer, save_model, text_config

FAMILY = Family(
    name="causal-lm", scorer="CausalLMScorer", note="any text-only causal LM, e.g. `Qwen/Qwen2-7B`; text setting only"
)


class CausalLMScorer(HFScorer):
    """A text-only language model: the reference point for the text setting."""

    name = FAMILY.name
    settings = ("text",)

    def load(self) -> tuple[torch.nn.Module, Any]:
        return load_pretrained(AutoModelForCausalLM, self.model_id, **self.model_kwargs()), self.load_processor()

    def load_processor(self) -> Any:
        return AutoTokenizer.from_pretrained(self.model_id, **self.pretrained_kwargs())

    def prefix_inputs(self, requests: Sequence[Request]) -> dict[str, torch.Tensor]:
        return self.pad_text_prefixes([self.text_prefix_ids(r) for r in requests])


def tiny_model(
    folder: str | Path,
    *,
    seed: int = 0,
    hidden: int = 64,
    layers: int = 2,
    vocab_size: int | None = None,
    tokenizer: str | Path | None = None,
    head_dim: int | None = None,
) -> Path:
    """Save a random Llama-style causal LM and its tokenizer to ``folder``; return the path.

    ``vocab_size``: the model's vocabulary (default: the tokenizer's); a larger one
    gives the LM head a real model's cost (ids past the tokenizer's never occur).
    ``tokenizer``: the base of its tokenizer (`build_tokenizer`'s ``base``), as in every factory.
    ``head_dim``: attention heads of this width (default: 4 heads); vLLM's CPU attention needs 64 or more.
    """
    tok = build_tokenizer(base=tokenizer)
    torch.manual_seed(seed)
    config = LlamaConfig(
        **text_config(max(vocab_size or 0, len(tok)), hidden, layers, head_dim),
        bos_token_id=None,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    return save_model(Path(folder), LlamaForCausalLM(config), tok)
