"""The families table is decided by the installed transformers and cannot go stale.

`coverage.audio_lm_types` reads transformers' registry; every type it finds must
be served by an adapter or be listed as not applicable with a reason (for the
speech generators: why they cannot score spoken continuations). The table in
docs/models.md is the generated one.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from packaging.version import Version

from s2sbench_hf.cli import main
from s2sbench_hf.scoring import coverage
from s2sbench_hf.scoring.family import installed_transformers
from s2sbench_hf.scoring.registry import ADAPTERS

MODELS_DOC = Path(__file__).resolve().parents[1] / "docs" / "models.md"

NEWEST_FAMILY = max((e.min_transformers for e in ADAPTERS.values() if e.min_transformers), key=Version)
"""The newest transformers a family needs: the lists here (`coverage.NOT_APPLICABLE`) and docs/models.md are
written against it, so the tests of their completeness run on it or later (an older one lacks some of the types)."""

written_against = pytest.mark.skipif(
    Version(installed_transformers()) < Version(NEWEST_FAMILY),
    reason=f"the lists and docs/models.md are of transformers>={NEWEST_FAMILY} (installed: {installed_transformers()})",
)


@pytest.fixture(scope="module")
def types() -> dict[str, str]:
    return coverage.audio_lm_types()


def test_every_audio_lm_type_of_transformers_is_covered(types):
    missing = coverage.uncovered(types)
    assert not missing, (
        f"transformers has audio LM types that no adapter serves and no list explains: {missing}. Add an adapter "
        "(scoring/adapters/ + registry.py) or a reason in coverage.NOT_APPLICABLE, then "
        "s2sbench families --readme docs/models.md."
    )


def test_discovery_finds_speech_llms_and_nothing_else(types):
    assert {"qwen2_audio", "voxtral", "qwen3_asr", "musicflamingo", "nemotron_h_omni", "moshi", "whisper"} <= set(types)
    # text LMs, CTC recognizers and image-only models have no audio input or no generative head
    for model_type in ("llama", "qwen2", "gemma3", "wav2vec2", "granite_speech5_ctc", "cosmos3_omni", "qwen2_vl"):
        assert model_type not in types
    assert types["musicflamingo"] == "MusicFlamingoForConditionalGeneration"


@written_against
def test_the_lists_name_real_types_and_do_not_overlap():
    from transformers import CONFIG_MAPPING

    served = {t for entry in ADAPTERS.values() for t in entry.model_types}
    for model_type in (*served, *coverage.NOT_APPLICABLE):
        assert model_type in CONFIG_MAPPING, f"{model_type!r} is no model type of the installed transformers"
    assert not served & set(coverage.NOT_APPLICABLE)
    assert all(reason.strip() for reason in coverage.NOT_APPLICABLE.values())


def test_every_adapter_type_is_an_audio_lm_and_has_notes(types):
    for name, entry in ADAPTERS.items():
        assert entry.note.strip(), f"family {name!r} has no note in its FAMILY"
        for model_type in entry.model_types if entry.missing_transformers() is None else ():
            assert model_type in types, f"{name}: {model_type!r} is not an audio LM type of transformers"


def test_the_table_has_one_row_per_type_with_who_scores_it(types):
    rows = coverage.table(types)
    by_type = {r.model_type: r for r in rows}
    assert len(by_type) == len(rows)
    assert set(types) <= set(by_type)
    assert by_type["qwen3_asr"].adapter == "qwen3-asr" and "trained to transcribe" in by_type["qwen3_asr"].note
    assert by_type["nemo_speechlm"].adapter == "nemotron3.5-transcribe"
    assert by_type["moshi"].status == "moshi" and "all four settings" in by_type["moshi"].note
    assert by_type["whisper"].status == "not applicable" and "encoder-decoder" in by_type["whisper"].note
    assert by_type["cosmos3_omni"].model_class == "" and by_type["cosmos3_omni"].adapter is None
    statuses = [r.status == "not applicable" for r in rows]
    assert statuses == sorted(statuses)  # supported first


SPEECH_GENERATORS = (
    "csm",
    "dia",
    "higgs_audio_v2",
    "vibevoice",
    "pocket_tts",
    "gradium_phonon_tts",
    "musicgen",
    "musicgen_melody",
    "seamless_m4t",
    "seamless_m4t_v2",
    "speecht5",
)


@written_against
def test_every_speech_generator_says_why_it_scores_no_spoken_continuation(types):
    """The survey of speech-output models: each one that writes speech says what blocks the speech settings."""
    for model_type in SPEECH_GENERATORS:
        assert model_type in types, model_type
        reason = coverage.NOT_APPLICABLE[model_type]
        assert "spoken continuation" in reason or "likelihood" in reason or "no speech" in reason, model_type
    for model_type in ("vibevoice", "pocket_tts", "gradium_phonon_tts"):  # continuous latents: nothing to score
        assert "no likelihood at all" in coverage.NOT_APPLICABLE[model_type]


@written_against
def test_the_documented_table_is_the_generated_one(types):
    expected = coverage.with_table(MODELS_DOC.read_text(encoding="utf-8"), coverage.markdown(coverage.table(types)))
    assert MODELS_DOC.read_text(encoding="utf-8") == expected, "run: s2sbench families --readme docs/models.md"


def test_families_command_prints_and_writes_the_table(types, capsys, tmp_path):
    assert main(["families"]) == 0
    plain = capsys.readouterr().out
    for model_type in types:
        assert model_type in plain
    assert main(["families", "--markdown"]) == 0
    assert capsys.readouterr().out.strip() == coverage.markdown(coverage.table(types)).strip()
    readme = tmp_path / "README.md"
    readme.write_text("# x\n\n<!-- families:start -->\nold\n<!-- families:end -->\n\nafter\n", encoding="utf-8")
    assert main(["families", "--readme", str(readme)]) == 0
    text = readme.read_text(encoding="utf-8")
    assert "old" not in text and "| `qwen3_asr` | `qwen3-asr` |" in text and text.endswith("\n\nafter\n")
    readme.write_text("no markers\n", encoding="utf-8")
    assert main(["families", "--readme", str(readme)]) == 2
    assert "families:start" in capsys.readouterr().err


def test_coverage_data_needs_no_torch():
    code = (
        "import sys; from s2sbench_hf.scoring import coverage; "
        "assert coverage.NOT_APPLICABLE and 'torch' not in sys.modules and 'transformers' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
