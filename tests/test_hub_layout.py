"""Checkpoint layouts: a tiny model saved in its published checkpoints' names scores as in transformers' own; a
checkpoint whose names fit no layout is refused instead of scored with random weights.

transformers 5 saves a model under its own module names or, reverting its conversion mapping, under the names of
the family's published checkpoints (``s2sbench tiny-model --hub-layout``). For every family whose published layout
differs from transformers' own (`PUBLISHED_LAYOUTS`), the same seeded tiny model is saved both ways: the hub-layout
file's names fit the published key shapes and the default file's do not, and both load through the scorer (the
code path users take) to the same scores, text and audio. The Omni thinkers are written as the whole Omni model
(``thinker.*`` weights, the full config), which the adapter loads the thinker out of.
"""

from __future__ import annotations

import shutil

import pytest
import torch
import transformers
from packaging.version import Version
from safetensors.torch import load_file, save_file
from transformers import AutoConfig, conversion_mapping
from transformers.core_model_loading import WeightRenaming

from s2sbench_hf import testing
from s2sbench_hf.cli import main
from s2sbench_hf.scoring.checkpoint import PUBLISHED_LAYOUTS
from s2sbench_hf.scoring.family import installed_transformers
from s2sbench_hf.scoring.interface import AdapterError
from s2sbench_hf.scoring.registry import detect_adapter, load_scorer
from s2sbench_hf.testing import (
    REL_TOL,
    TinyModelError,
    make_tiny_model,
    relative_deviation,
    story_requests,
    weight_names,
)

OMNI = [family for family, layout in PUBLISHED_LAYOUTS.items() if layout.omni_model]

WRITES_HUB_LAYOUT = "5.23.0"
"""The first transformers whose save reverts its key conversion right (5.19 to 5.22 write the language model of
Qwen2-Audio, Voxtral, the Flamingos, GLM-ASR and Granite Speech as ``language_model.model.model.*``, and Moshi's
names unconverted): on an older one Qwen2-Audio's hub layout is written by renaming its own names
(`PublishedLayout.renames`), the other hub-layout models cannot be written here, and those tests skip. Loading a
published checkpoint is not affected (a hub layout written by 5.25 scores the same on 5.19)."""

REVERT_OF_5_19 = [
    WeightRenaming(source_patterns=r"^language_model.model", target_patterns="model.language_model"),
    WeightRenaming(source_patterns=r"^language_model.lm_head", target_patterns="lm_head"),
    WeightRenaming(source_patterns=r"^audio_tower", target_patterns="model.audio_tower"),
    WeightRenaming(source_patterns=r"^multi_modal_projector", target_patterns="model.multi_modal_projector"),
]
"""transformers 5.19's conversion mapping for Qwen2-Audio (``conversion_mapping.py``, verbatim): it loads the
published names right, but reverted on save it writes ``language_model.model.model.*``."""

OLD_WRITER = Version(installed_transformers()) < Version(WRITES_HUB_LAYOUT)


pytestmark = pytest.mark.usefixtures("tiny_model_backends")


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """(family, hub_layout) -> the folder of the family's tiny model (seed 0) saved in that layout, built once."""
    folders: dict[tuple[str, bool], object] = {}

    def get(family: str, hub_layout: bool):
        if (family, hub_layout) not in folders:
            folder = tmp_path_factory.mktemp(f"{family}-{'hub' if hub_layout else 'own'}")
            try:
                folders[family, hub_layout] = make_tiny_model(family, folder, hub_layout=hub_layout)
            except TinyModelError as err:
                if not OLD_WRITER:
                    raise
                pytest.skip(f"{err} (transformers {WRITES_HUB_LAYOUT} writes it right)")
        return folders[family, hub_layout]

    return get


@pytest.mark.parametrize("family", PUBLISHED_LAYOUTS)
def test_the_hub_layout_has_the_published_names_and_the_default_does_not(saved, family):
    layout = PUBLISHED_LAYOUTS[family]
    assert layout.stray_keys(weight_names(saved(family, True))) == []
    assert layout.stray_keys(weight_names(saved(family, False)))


@pytest.mark.parametrize("family", PUBLISHED_LAYOUTS)
@pytest.mark.parametrize("setting", ["text", "audio"])
def test_both_layouts_score_the_same(saved, family, setting):
    scores = []
    for hub_layout in (False, True):
        scorer = load_scorer(str(saved(family, hub_layout)), device="cpu", dtype="float32")
        scores.append([s for item in scorer.score(story_requests(setting, scorer.sampling_rate)) for s in item])
    own, hub = scores
    assert [s.n_tokens for s in hub] == [s.n_tokens for s in own]
    assert relative_deviation([s.nll_sum for s in hub], [s.nll_sum for s in own]) < REL_TOL


@pytest.mark.parametrize("family", OMNI)
def test_an_omni_thinker_is_saved_as_the_whole_omni_model(saved, family):
    """As Qwen/Qwen2.5-Omni-7B and Qwen/Qwen3-Omni-30B-A3B-Instruct: the full config and ``thinker.*`` weights (no
    talker here), detected as the family; the scores above show the adapter loads the thinker's weights from them."""
    folder = saved(family, True)
    omni_class = getattr(transformers, PUBLISHED_LAYOUTS[family].omni_model)
    config = AutoConfig.from_pretrained(folder)
    assert config.model_type == omni_class.config_class.model_type and config.thinker_config is not None
    assert all(name.startswith("thinker.") for name in weight_names(folder))
    assert detect_adapter(str(folder)) == family


def _audio_logits(folder) -> torch.Tensor:
    """The logits of the model in ``folder``, loaded through the scorer, over the first audio story's prefix."""
    scorer = load_scorer(str(folder), device="cpu", dtype="float32")
    with torch.inference_mode():
        return scorer.model_forward(**scorer.prefix_inputs(story_requests("audio", scorer.sampling_rate)[:1])).logits


def test_where_transformers_reverts_wrongly_qwen2_audios_own_names_are_renamed(saved, tmp_path, monkeypatch):
    """With transformers 5.19's conversion mapping installed (its save writes ``language_model.model.model.*``),
    the hub layout is the model's own saved weights renamed by `PublishedLayout.renames`: the names transformers
    writes where it reverts right, and the same logits as the own layout's."""
    layout, own, right = PUBLISHED_LAYOUTS["qwen2-audio"], saved("qwen2-audio", False), saved("qwen2-audio", True)
    write_renamed, renames = testing._write_renamed, []

    def counted(*args) -> None:
        renames.append(args)
        write_renamed(*args)

    monkeypatch.setattr(testing, "_write_renamed", counted)
    with monkeypatch.context() as patch:
        conversion_mapping.get_checkpoint_conversion_mapping("qwen2_audio")  # builds the table it patches
        patch.setitem(conversion_mapping._checkpoint_conversion_mapping_cache, "qwen2_audio", REVERT_OF_5_19)
        folder = make_tiny_model("qwen2-audio", tmp_path, hub_layout=True)
    assert len(renames) == 1  # transformers' own revert was wrong, and refused
    names = weight_names(folder)
    assert layout.stray_keys(names) == [] and names == weight_names(right)
    assert names == {layout.published_name(name) for name in weight_names(own)}
    assert torch.equal(_audio_logits(folder), _audio_logits(own))


def test_the_layout_transformers_5_19_wrote_is_not_qwen2_audios_published_one():
    written_by_5_19 = ["language_model.model.model.layers.0.self_attn.q_proj.weight", "language_model.lm_head.weight"]
    assert PUBLISHED_LAYOUTS["qwen2-audio"].stray_keys(written_by_5_19) == written_by_5_19[:1]


def test_a_family_with_one_layout_is_saved_as_it_is(saved):
    assert weight_names(saved("causal-lm", True)) == weight_names(saved("causal-lm", False))


@pytest.mark.skipif(OLD_WRITER, reason=f"transformers before {WRITES_HUB_LAYOUT} saves Moshi's names unconverted")
def test_a_family_whose_published_layout_is_not_recorded_refuses_the_hub_layout(tmp_path):
    """Moshi's names differ between the two layouts, and nothing here records its published ones to check."""
    with pytest.raises(TinyModelError, match=r"^moshi: no published key layout is recorded"):
        make_tiny_model("moshi", tmp_path, hub_layout=True)


@pytest.fixture(scope="module")
def renamed(qwen2_audio_path, tmp_path_factory):
    """The tiny Qwen2-Audio with one weight of its first layer renamed in model.safetensors: a name no layout has."""
    folder = tmp_path_factory.mktemp("renamed") / "model"
    shutil.copytree(qwen2_audio_path, folder)
    weights = load_file(folder / "model.safetensors")
    name = next(n for n in sorted(weights) if n.endswith("layers.0.mlp.up_proj.weight"))
    weights[name.replace("up_proj", "up_projection")] = weights.pop(name)
    save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})
    return folder, name


def test_a_checkpoint_with_a_renamed_weight_is_refused_not_left_random(renamed):
    folder, name = renamed
    with pytest.raises(AdapterError, match=rf"1 weights of Qwen2AudioForConditionalGeneration .*\({name}\)"):
        load_scorer(str(folder), device="cpu", dtype="float32")


@pytest.mark.slow  # a whole `s2sbench run` (the runner's imports, the sample sets); the test above is the fast check
def test_the_command_line_refuses_it_in_one_line(renamed, tmp_path, capsys):
    folder, name = renamed
    argv = ["run", "--model", str(folder), "--tasks", "sstorycloze", "--settings", "text", "--dataset", "samples"]
    assert main([*argv, "--device", "cpu", "--output", str(tmp_path), "--no-progress"]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and name in errors[0] and str(folder) in errors[0]
