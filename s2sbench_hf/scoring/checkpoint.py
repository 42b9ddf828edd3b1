"""Checkpoints: a checked load (no silently random weights) and the key layouts of the published checkpoints.

transformers' ``from_pretrained`` maps a checkpoint's weight names onto the
model through its conversion mapping (``transformers/conversion_mapping.py``),
then starts every weight that found no name at random and only logs a
warning. A checkpoint in a key layout that this transformers does not convert
(an older or newer export, a renamed key, a layout written by a buggy save:
transformers 5.19 wrote Qwen2-Audio as ``language_model.model.model.*``) would
be scored as a random model. `load_pretrained` asks for the loading info and
refuses such a checkpoint. transformers itself leaves out of the missing keys
what a model class declares as expected-missing (``_keys_to_ignore_on_load_missing``)
and the weights tied to others (an output head tied to the input embeddings).

A model saved by transformers 5 has two possible layouts: its own module names
(``save_original_format=False``) or, reverting its conversion mapping, the
names of the family's published checkpoints (``save_original_format=True``).
`PUBLISHED_LAYOUTS` records the published ones as regexes of whole key
shapes, so that a save meant to reproduce them is checked
(`PublishedLayout.stray_keys`) instead of trusted, and, where a plain rename of
prefixes gives them, those renames (`PublishedLayout.renames`), which stand in
for a transformers release whose save reverts its conversion wrongly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar, overload

import transformers
from transformers import PreTrainedModel

from s2sbench_hf.scoring.interface import AdapterError

SHOWN_KEYS = 3
"""How many missing weight names an error lists."""

Model = TypeVar("Model", bound=PreTrainedModel)


@overload
def load_pretrained(model_class: type[Model], model_id: str, **kwargs: Any) -> Model: ...
@overload
def load_pretrained(model_class: type, model_id: str, **kwargs: Any) -> PreTrainedModel: ...  # an Auto class


def load_pretrained(model_class: Any, model_id: str, **kwargs: Any) -> PreTrainedModel:
    """``model_class.from_pretrained(model_id, **kwargs)``, refusing a checkpoint that leaves weights random.

    An `AdapterError` (one line: the model, how many weights the checkpoint lacks,
    the first few names, what to do) where any weight of the model found no
    weight of the checkpoint after transformers' key conversion.
    """
    model, info = model_class.from_pretrained(model_id, output_loading_info=True, **kwargs)
    missing = sorted(info["missing_keys"])
    if missing:
        shown = ", ".join(missing[:SHOWN_KEYS]) + (", ..." if len(missing) > SHOWN_KEYS else "")
        raise AdapterError(
            f"{model_id!r}: {len(missing)} weights of {type(model).__name__} are not in the checkpoint ({shown}), "
            "and would be random. The checkpoint's key layout is not one that transformers "
            f"{transformers.__version__} converts for this class: check the model family (--adapter) and that the "
            "checkpoint was written for this transformers version."
        )
    return model


@dataclass(frozen=True)
class PublishedLayout:
    """The weight names of a family's published checkpoints."""

    checkpoint: str
    """A published checkpoint in this layout."""
    patterns: tuple[str, ...]
    """Regexes matched from a name's start: every weight name matches one. A pattern ending in ``\\.`` is a
    submodule whose inner names are not pinned (an encoder tower); one ending in ``$`` is a whole name."""
    omni_model: str | None = None
    """The transformers class of the whole Omni model whose thinker the family scores (the checkpoint holds the
    thinker under ``thinker.*``, beside talker and vocoder weights that scoring never loads)."""
    renames: tuple[tuple[str, str], ...] = ()
    """Prefixes of transformers 5's own weight names -> the published ones (`published_name`), where a plain rename
    gives the layout: for a transformers release whose save reverts its key conversion wrongly (5.19 to 5.22 write
    Qwen2-Audio as ``language_model.model.model.*``), the model's own saved names are renamed by them instead."""

    def stray_keys(self, keys: Iterable[str]) -> list[str]:
        """The weight names that no published checkpoint of the family has (sorted)."""
        return sorted(key for key in keys if not any(re.match(pattern, key) for pattern in self.patterns))

    def published_name(self, key: str) -> str:
        """``key``, one of transformers 5's own weight names, under the first of `renames` whose prefix it has
        (unchanged where none has: `stray_keys` then tells whether it is published)."""
        return next((new + key[len(old) :] for old, new in self.renames if key.startswith(old)), key)


def _language_model(prefix: str, mlp: str = r"(gate|up|down)_proj\.weight$") -> tuple[str, ...]:
    """The names of a Llama-style causal LM (``model.*`` and ``lm_head``) under ``prefix``; ``mlp``: its MLP's."""
    return (
        rf"{prefix}model\.(embed_tokens|norm)\.weight$",
        rf"{prefix}model\.layers\.\d+\.(input_layernorm|post_attention_layernorm)\.weight$",
        rf"{prefix}model\.layers\.\d+\.self_attn\.[qkvo]_(proj|norm)\.(weight|bias)$",
        rf"{prefix}model\.layers\.\d+\.mlp\.{mlp}",
        rf"{prefix}lm_head\.weight$",
    )


_QWEN2_AUDIO = (r"audio_tower\.", r"multi_modal_projector\.", *_language_model(r"language_model\."))
"""Qwen2-Audio-7B's layout (``language_model.model.layers.*``, ``language_model.lm_head.weight``), which
transformers' conversion mapping also declares for Voxtral, Audio Flamingo 3, Music Flamingo and GLM-ASR."""

_GRANITE_SPEECH = (r"encoder\.", r"projector\.", *_language_model(r"language_model\."))
"""Granite Speech's layout; transformers' conversion mapping declares the same for Granite Speech Plus."""


def _omni_thinker(mlp: str = r"(gate|up|down)_proj\.weight$") -> tuple[str, ...]:
    """A Qwen Omni checkpoint's thinker: ``thinker.audio_tower.*``, ``thinker.visual.*`` and its LM."""
    return (r"thinker\.audio_tower\.", r"thinker\.visual\.", *_language_model(r"thinker\.", mlp))


PUBLISHED_LAYOUTS: dict[str, PublishedLayout] = {
    "qwen2-audio": PublishedLayout(
        "Qwen/Qwen2-Audio-7B",
        _QWEN2_AUDIO,
        renames=(
            ("model.audio_tower.", "audio_tower."),
            ("model.multi_modal_projector.", "multi_modal_projector."),
            ("model.language_model.", "language_model.model."),
            ("lm_head.", "language_model.lm_head."),
        ),
    ),
    "voxtral": PublishedLayout("mistralai/Voxtral-Mini-3B-2507", _QWEN2_AUDIO),
    "audio-flamingo3": PublishedLayout("nvidia/audio-flamingo-3-hf", _QWEN2_AUDIO),
    "music-flamingo": PublishedLayout("nvidia/music-flamingo-2601-hf", _QWEN2_AUDIO),
    "glm-asr": PublishedLayout("zai-org/GLM-ASR-Nano-2512", _QWEN2_AUDIO),
    "granite-speech": PublishedLayout("ibm-granite/granite-speech-3.3-2b", _GRANITE_SPEECH),
    "granite-speech-plus": PublishedLayout("ibm-granite/granite-speech-4.1-2b-plus", _GRANITE_SPEECH),
    "qwen2.5-omni": PublishedLayout(
        "Qwen/Qwen2.5-Omni-7B", _omni_thinker(), omni_model="Qwen2_5OmniForConditionalGeneration"
    ),
    "qwen3-omni": PublishedLayout(
        "Qwen/Qwen3-Omni-30B-A3B-Instruct",
        _omni_thinker(mlp=r"(gate\.weight|experts\.\d+\.(gate|up|down)_proj\.weight)$"),  # one tensor per expert
        omni_model="Qwen3OmniMoeForConditionalGeneration",
    ),
}
"""Family -> the key layout of its published checkpoints, where it differs from transformers 5's own module names.
The other families with a tiny model either have one layout (transformers converts nothing for them) or one this
table does not record (``s2sbench tiny-model --hub-layout`` refuses those rather than write names it cannot check)."""
