"""A family is one file: its facts (``FAMILY``), scorer and tiny-model recipe live in its module, and everything else
is derived from that file (`scoring.family`).

A family written here, in a package of its own that registers it under the ``s2sbench.families`` entry-point
group, appears in ``s2sbench families``, builds with ``s2sbench tiny-model`` and runs through the adapter test matrix
(tests/test_adapters.py), with no edit anywhere else. The facts are read without importing the module, and a
declaration that could only be known by running it is a one-line error naming the file.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from s2sbench_hf.scoring import family as family_module
from s2sbench_hf.scoring.family import Family, FamilyFileError, Requirement, discover, read_family
from s2sbench_hf.scoring.registry import ADAPTERS

REPO = Path(__file__).resolve().parent.parent

ACME = '''
"""A family of a package other than s2sbench-hf: Qwen2-Audio under another name (a fine-tune with its own
framing, say), chosen by name."""

from pathlib import Path

from s2sbench_hf.scoring.adapters.qwen2_audio import Qwen2AudioScorer
from s2sbench_hf.scoring.adapters.qwen2_audio import tiny_model as qwen2_audio_tiny_model
from s2sbench_hf.scoring.family import Family

FAMILY = Family(
    name="acme-audio",
    scorer="AcmeAudioScorer",
    note="`acme/audio-7b`; written in a test",
)


class AcmeAudioScorer(Qwen2AudioScorer):
    name = FAMILY.name


def tiny_model(folder, *, seed=0, tokenizer=None) -> Path:
    return qwen2_audio_tiny_model(folder, seed=seed, tokenizer=tokenizer)
'''


def write_plugin(root: Path, source: str = ACME, module: str = "acme_speech.family") -> Path:
    """A package at ``root`` (put it on the path) with ``source`` as ``module``, installed as a distribution whose
    ``s2sbench.families`` entry point names it."""
    package = root / module.split(".")[0]
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text("", encoding="utf-8")
    (root / f"{module.replace('.', '/')}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    info = root / "acme_speech-0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-speech\nVersion: 0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[{family_module.ENTRY_POINTS}]\nacme = {module}\n", encoding="utf-8")
    return root


def run_with_plugin(root: Path, *argv: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def test_every_family_module_declares_what_the_registry_reads():
    """The facts read with `ast` are the module's own ``FAMILY`` (importing it gives the same), its scorer carries
    the family's name, and the recipe flag matches the module."""
    for name, family in ADAPTERS.items():
        if family.missing_transformers() is not None:
            continue
        module = family.load_module()
        assert module.FAMILY == family, name
        assert family.load_class().name == name
        assert family.tiny == hasattr(module, family_module.TINY_RECIPE), name
    assert [f.name for f in family_module.built_in_families()] == sorted(ADAPTERS)


def test_listing_the_families_imports_no_adapter_module():
    code = (
        "import sys; from s2sbench_hf.scoring.registry import ADAPTERS; list(ADAPTERS.values()); "
        "print(sorted(m for m in sys.modules if m.startswith('s2sbench_hf.scoring.adapters.') or m == 'torch'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "[]"


@pytest.mark.slow
def test_a_family_written_here_is_listed_built_and_in_the_test_matrix(tmp_path):
    root = write_plugin(tmp_path / "site")
    listed = run_with_plugin(root, sys.executable, "-m", "s2sbench_hf", "families")
    assert listed.returncode == 0, listed.stderr
    assert "acme-audio: `acme/audio-7b`; written in a test" in listed.stdout

    built = run_with_plugin(
        root,
        sys.executable,
        "-m",
        "s2sbench_hf",
        "tiny-model",
        "--family",
        "acme-audio",
        "--output",
        str(tmp_path / "m"),
    )
    assert built.returncode == 0, built.stderr

    pytest_argv = (sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_adapters.py")
    collected = run_with_plugin(root, *pytest_argv, "--collect-only", "-k", "acme")
    ids = [line for line in collected.stdout.splitlines() if "[acme-audio" in line]
    assert len(ids) >= 10 and any("test_a_long_clip_is_scored_whole_or_refused" in i for i in ids), collected.stdout
    # every test of the matrix passes on it, but the long-clip one: that one checks each of the package's own
    # families against a hand-kept list of which of them window a long clip (an expectation, not derived)
    matrix = run_with_plugin(root, *pytest_argv, "-k", "acme and not long_clip")
    assert matrix.returncode == 0, matrix.stdout[-3000:]
    assert f"{len(ids) - 1} passed" in matrix.stdout, matrix.stdout[-3000:]


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """``installed(root)``: the plugin written at ``root`` on the path, in this process, with no earlier test's
    ``acme_speech`` package in the import system's cache."""

    def install(root: Path) -> None:
        for name in [m for m in sys.modules if m == "acme_speech" or m.startswith("acme_speech.")]:
            monkeypatch.delitem(sys.modules, name)
        monkeypatch.syspath_prepend(str(root))

    return install


def test_a_family_of_another_package_is_found_through_its_entry_point(tmp_path, installed):
    installed(write_plugin(tmp_path))
    found = discover()
    assert found["acme-audio"] == Family(name="acme-audio", scorer="AcmeAudioScorer", note=found["acme-audio"].note)
    assert found["acme-audio"].module == "acme_speech.family" and found["acme-audio"].tiny
    assert list(found)[-1] == "acme-audio"  # after the package's own


def test_a_family_that_takes_another_familys_name_or_type_is_refused(tmp_path, installed):
    clash = ACME.replace('name="acme-audio",', 'name="acme-audio",\n    model_types=("qwen2_audio",),')
    installed(write_plugin(tmp_path, clash))
    with pytest.raises(FamilyFileError, match=r"families 'qwen2-audio' \(.*\) and 'acme-audio' \(acme_speech.family\)"):
        discover()


def test_an_entry_point_to_a_missing_module_is_one_line(tmp_path, installed):
    root = write_plugin(tmp_path)
    (root / "acme_speech-0.1.dist-info" / "entry_points.txt").write_text(
        f"[{family_module.ENTRY_POINTS}]\nacme = acme_speech.nothing_here\n", encoding="utf-8"
    )
    installed(root)
    with pytest.raises(FamilyFileError, match=r"^entry point 'acme' \(s2sbench.families\) names acme_speech\."):
        discover()


@pytest.mark.parametrize(
    ("declaration", "complaint"),
    [
        ('Family(name=NAME, scorer="S")', r"FAMILY.name is not a literal \('NAME'\): write the value itself"),
        ('Family("fam", "S")', r"write every field of Family\(\.\.\.\) as a keyword"),
        ('Family(name="fam", scorer="S", colour="red")', r"unknown field\(s\) colour"),
        ('Family(name="fam")', r"missing 1 required positional argument: 'scorer'"),
        ('dict(name="fam")', r"should be written as Family\(name=\.\.\., scorer=\.\.\., \.\.\.\)"),
        ('Family(name="fam", scorer="S", needs=(Requirement("x", WHY),))', r"FAMILY.needs is not a literal"),
    ],
)
def test_a_declaration_that_is_not_literal_names_the_file_and_field(tmp_path, declaration, complaint):
    path = tmp_path / "fam.py"
    path.write_text(f"NAME = 'fam'\nFAMILY = {declaration}\n", encoding="utf-8")
    with pytest.raises(FamilyFileError, match=complaint) as err:
        read_family(path, "fam")
    assert str(err.value).startswith(str(path)) and "\n" not in str(err.value)


def test_requirements_and_tuples_are_read_as_written(tmp_path):
    path = tmp_path / "fam.py"
    path.write_text(
        "FAMILY = Family(\n    name='fam',\n    scorer='S',\n    model_types=['a', 'b'],\n"
        "    needs=(Requirement('librosa', 'its features', before_transformers='5.23.0'),),\n"
        "    note=('two ' 'lines'),\n)\n",
        encoding="utf-8",
    )
    family = read_family(path, "fam")
    assert family is not None and family.model_types == ("a", "b") and family.note == "two lines"
    assert family.needs == (Requirement("librosa", "its features", before_transformers="5.23.0"),)
    assert not family.tiny and read_family(REPO / "s2sbench_hf/scoring/adapters/base.py", "base") is None
