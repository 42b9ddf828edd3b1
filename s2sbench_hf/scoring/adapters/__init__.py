"""The adapter registry: one file per model family, chosen by name or from the model's config.

A new family is one new module with an `HFScorer` subclass and one line in
`__all__ = ["ADAPTERS", "AdapterError", "HFScorer", "detect_adapter", "load_scorer"]

ADAPTERS`. ``python:module:Class`` loads a user's own `Scorer`.
"""

from __future__ import annotations

import importlib
from typing import Any

from transformers import AutoConfig
from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

from s2sbench_hf.scoring.adapters.base import AdapterError, HFScorer
from s2sbench_hf.scoring.adapters.audio_flamingo3 import AudioFlamingo3Scorer
from s2sbench_hf.scoring.adapters.cascade import CascadeScorer
from s2sbench_hf.scoring.adapters.causal_lm import CausalLMScorer
from s2sbench_hf.scoring.adapters.gemma3n import Gemma3nScorer
from s2sbench_hf.scoring.adapters.glm_asr import GlmAsrScorer
from s2sbench_hf.scoring.adapters.granite_speech import GraniteSpeechScorer
from s2sbench_hf.scoring.adapters.phi4_multimodal import Phi4MultimodalScorer
from s2sbench_hf.scoring.adapters.qwen2_5_omni import Qwen25OmniScorer
from s2sbench_hf.scoring.adapters.qwen2_audio import Qwen2AudioScorer
from s2sbench_hf.scoring.adapters.qwen3_omni import Qwen3OmniScorer
from s2sbench_hf.scoring.adapters.voxtral import VoxtralScorer
from s2sbench_hf.scoring.interface import Scorer

ADAPTERS: dict[str, type[Scorer]] = {
    cls.name: cls
    for cls in (
        CausalLMScorer,
        Qwen2AudioScorer,
        Qwen25OmniScorer,
        Qwen3OmniScorer,
        VoxtralScorer,
        AudioFlamingo3Scorer,
        GlmAsrScorer,
        Phi4MultimodalScorer,
        GraniteSpeechScorer,
        Gemma3nScorer,
        CascadeScorer,
    )
}
"""Adapter name -> class; detection (`detect_adapter`) goes through the classes' ``model_types`` in order."""


def _supported() -> str:
    def kinds(cls: type[Scorer]) -> str:
        if cls is CausalLMScorer:
            return "any causal LM"
        return ", ".join(getattr(cls, "model_types", ())) or "by name only"

    return ", ".join(f"{name} ({kinds(cls)})" for name, cls in ADAPTERS.items())


def detect_adapter(model_id: str, *, revision: str | None = None, trust_remote_code: bool = False) -> str:
    """The adapter name for a model, from its config's ``model_type``."""
    config = AutoConfig.from_pretrained(model_id, revision=revision, trust_remote_code=trust_remote_code)
    for name, cls in ADAPTERS.items():
        if config.model_type in getattr(cls, "model_types", ()):
            return name
    if config.model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        return CausalLMScorer.name
    raise AdapterError(
        f"no adapter knows model type {config.model_type!r} of {model_id!r}. Supported families: "
        f"{_supported()}. Pass --adapter NAME, or --adapter python:module:Class for your own scorer."
    )


def load_scorer(model_id: str, adapter: str | None = None, **kwargs: Any) -> Scorer:
    """Build the scorer for ``model_id``: by adapter name, ``python:module:Class``, or detected."""
    if adapter and adapter.startswith("python:"):
        return _user_scorer(adapter, model_id, **kwargs)
    name = adapter or detect_adapter(
        model_id, revision=kwargs.get("revision"), trust_remote_code=kwargs.get("trust_remote_code", False)
    )
    if name not in ADAPTERS:
        raise AdapterError(f"unknown adapter {name!r}. Supported: {_supported()}; or python:module:Class.")
    if kwargs.get("asr_model") and name != CascadeScorer.name:
        raise AdapterError(f"--asr-model is for --adapter {CascadeScorer.name}, not {name!r}.")
    return ADAPTERS[name](model_id, **kwargs)


def _user_scorer(spec: str, model_id: str, **kwargs: Any) -> Scorer:
    try:
        _, module_name, class_name = spec.split(":")
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ValueError, ImportError, AttributeError) as err:
        raise AdapterError(f"cannot load scorer {spec!r} ({err}); write it as python:module:Class.") from err
    if not (isinstance(cls, type) and issubclass(cls, Scorer)):
        raise AdapterError(f"{spec!r} is not a subclass of s2sbench_hf.Scorer.")
    return cls(model_id, **kwargs)
