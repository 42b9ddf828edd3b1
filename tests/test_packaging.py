"""What the distribution says about itself: the licence, the citation, and install lines that agree.

* LICENSE is the Apache License 2.0 that pyproject names, and CITATION.cff (CFF 1.2.0) describes this package,
  with the S2SBench paper as its ``preferred-citation``;
* the README's BibTeX entry (and the metric card's and the ``evaluate`` module's) is the one generated here
  from CITATION.cff;
* the sdist and the wheel (``python -m build``, as CI runs it) carry both files, byte for byte;
* the README's install lines are the Makefile's ``install`` steps, as ``make -n`` expands them: the same torch
  pin, the CPU wheel index behind ``TORCH_INDEX``, the same extra, the ``metric install`` step.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import re
import shlex
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
import yaml
from markdown_it import MarkdownIt
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from s2sbench_hf._version import __version__
from s2sbench_hf.failures import TORCH_EXTENSIONS
from s2sbench_hf.scoring import coverage
from s2sbench_hf.scoring.registry import ADAPTERS

ROOT = Path(__file__).resolve().parents[1]
APACHE_2_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"
"""The Apache License 2.0 text as apache.org publishes it (LICENSE-2.0.txt)."""
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
"""PyTorch's CPU wheel index: the CPU-only torch build (the public PyPI's Linux x86_64 torch is the CUDA one)."""
PAPER_ARXIV = "2505.14438"


def _pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11's tomllib")
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _cff() -> dict:
    return yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))


def _section(text: str, heading: str) -> str:
    """The text of the ``## heading`` section of a Markdown document, up to the next ``## `` heading."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, flags=re.M | re.S)
    assert match, f"no '## {heading}' section"
    return match[1]


def _fences(text: str, language: str) -> list[str]:
    return [t.content for t in MarkdownIt("commonmark").parse(text) if t.type == "fence" and t.info.strip() == language]


# ------------------------------------------------------------------------------------ licence and citation


def test_license_is_the_apache_2_text_pyproject_names():
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License\n                           Version 2.0, January 2004" in text
    assert hashlib.sha256(text.encode()).hexdigest() == APACHE_2_SHA256  # the full text, unedited
    project = _pyproject()["project"]
    assert project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE", "CITATION.cff"]


def test_the_version_is_written_once():
    """pyproject.toml reads the version from s2sbench_hf/_version.py, and the installed metadata says the same."""
    pyproject = _pyproject()
    assert "version" not in pyproject["project"] and pyproject["project"]["dynamic"] == ["version"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "s2sbench_hf._version.__version__"}
    assert importlib.metadata.version("s2sbench-hf") == __version__


def test_citation_cff_describes_this_package_and_the_paper():
    cff, project = _cff(), _pyproject()["project"]
    assert cff["cff-version"] == "1.2.0" and cff["type"] == "software"
    assert (cff["title"], cff["version"], cff["license"]) == (project["name"], __version__, project["license"])
    assert cff["message"] and cff["authors"]
    paper = cff["preferred-citation"]
    assert paper["type"] == "article" and paper["year"] == 2025
    assert paper["title"].startswith("S2SBench: A Benchmark for Quantifying Intelligence Degradation")
    assert paper["authors"][0] == {"family-names": "Fang", "given-names": "Yuanbo"}
    assert paper["url"] == f"https://arxiv.org/abs/{PAPER_ARXIV}"
    assert {"type": "other", "value": f"arXiv:{PAPER_ARXIV}"}.items() <= paper["identifiers"][0].items()
    assert PAPER_ARXIV in paper["journal"]


def bibtex_from_cff(cff: dict) -> str:
    """The BibTeX entry of CITATION.cff's preferred citation, in the layout the README shows."""
    ref = cff["preferred-citation"]
    first_word = re.sub(r"\W", "", ref["title"].split()[0]).lower()
    key = f"{ref['authors'][0]['family-names'].lower()}{ref['year']}{first_word}"
    authors = " and ".join(f"{a['family-names']}, {a['given-names']}" for a in ref["authors"])
    fields = {"title": ref["title"], "author": authors, "journal": ref["journal"], "year": ref["year"]}
    width = max(map(len, fields))
    body = ",\n".join(f"  {name:<{width}} = {{{value}}}" for name, value in fields.items())
    return f"@{ref['type']}{{{key},\n{body}\n}}\n"


def test_readme_citation_is_generated_from_citation_cff():
    want = bibtex_from_cff(_cff())
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert _fences(_section(readme, "Citation"), "bibtex") == [want]
    # the metric card and the evaluate module quote the same entry
    card = (ROOT / "metric" / "s2sbench" / "README.md").read_text(encoding="utf-8")
    assert _fences(_section(card, "Citation"), "bibtex") == [want]
    module = (ROOT / "metric" / "s2sbench" / "s2sbench.py").read_text(encoding="utf-8")
    quoted = re.search(r'^_CITATION = """\\\n(.*?)"""', module, flags=re.M | re.S)
    assert quoted and quoted[1] == want


# ------------------------------------------------------------------------------------------- the wheel


def _can_build_here() -> bool:
    """Whether this environment has the build backend pyproject requires (a fresh venv's setuptools is older)."""
    from packaging.requirements import Requirement

    for line in _pyproject()["build-system"]["requires"]:
        req = Requirement(line)
        try:
            if importlib.metadata.version(req.name) not in req.specifier:
                return False
        except importlib.metadata.PackageNotFoundError:
            return False
    return True


@pytest.fixture(scope="module")
def dists(tmp_path_factory) -> tuple[Path, Path]:
    """The sdist and the wheel built from it, as CI's ``python -m build`` makes them; without build isolation
    when the environment has the backend (seconds), else isolated (the backend comes from the index)."""
    out = tmp_path_factory.mktemp("dist")
    flags = ["--no-isolation"] if _can_build_here() else []
    proc = subprocess.run(
        [sys.executable, "-m", "build", *flags, "--outdir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (sdist,), (wheel,) = out.glob("*.tar.gz"), out.glob("*.whl")
    return sdist, wheel


@pytest.mark.slow
def test_license_and_citation_are_in_the_wheel_and_the_sdist(dists):
    sdist, wheel = dists
    files = {name: (ROOT / name).read_bytes() for name in ("LICENSE", "CITATION.cff")}
    with zipfile.ZipFile(wheel) as whl:
        dist_info = next(n.split("/")[0] for n in whl.namelist() if n.split("/")[0].endswith(".dist-info"))
        for name, data in files.items():
            assert whl.read(f"{dist_info}/licenses/{name}") == data, name
        metadata = whl.read(f"{dist_info}/METADATA").decode()
    assert "License-Expression: Apache-2.0" in metadata
    assert {"License-File: LICENSE", "License-File: CITATION.cff"} <= set(metadata.splitlines())
    with tarfile.open(sdist) as tar:
        top = tar.getnames()[0].split("/")[0]
        for name, data in files.items():
            member = tar.extractfile(f"{top}/{name}")
            assert member is not None and member.read() == data, name


@pytest.mark.slow
def test_the_templates_are_in_the_wheel(dists):
    """`s2sbench_hf.render` loads its Jinja2 templates from the installed package: each one ships, byte for byte."""
    templates = sorted((ROOT / "s2sbench_hf" / "templates").glob("*.j2"))
    assert templates
    with zipfile.ZipFile(dists[1]) as whl:
        for path in templates:
            assert whl.read(f"s2sbench_hf/templates/{path.name}") == path.read_bytes(), path.name


# ------------------------------------------------------------------------------------ the install lines


def _make_install(**variables: str) -> list[str]:
    """The commands ``make install`` runs (expanded, not run), with pip's quiet flag dropped."""
    settings = [f"{name}={value}" for name, value in variables.items()]
    args = ["make", "-n", "-s", "-C", str(ROOT), "install", "PYTHON=python3", *settings]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=60, check=True)
    return [" ".join(w for w in shlex.split(line) if w != "-q") for line in proc.stdout.splitlines() if line.strip()]


def _commands(block: str) -> list[str]:
    """A bash block's commands, comments dropped, ``&&`` chains split, ``pip`` as ``python3 -m pip``."""
    out = []
    for raw in block.splitlines():
        line = raw.split(" #")[0].strip()
        if line and not line.startswith("#"):
            for command in line.split(" && "):
                words = shlex.split(command)
                out.append(" ".join(["python3", "-m", "pip", *words[1:]] if words[0] == "pip" else words))
    return out


@pytest.mark.skipif(sys.platform == "win32", reason="make")
def test_readme_install_lines_are_the_makefile_steps():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (user,) = map(_commands, _fences(_section(readme, "Install"), "bash"))
    detail = _section(readme, "Installing, in more detail")
    (dev,) = map(_commands, _fences(detail, "bash"))
    gpu_make, dev_make, metric_make = _make_install()
    cpu_make = _make_install(TORCH_INDEX=CPU_INDEX)[0]
    pin = re.search(r"^TORCH_VERSION \?= (\S+)$", (ROOT / "Makefile").read_text(encoding="utf-8"), flags=re.M)
    assert pin and gpu_make == f"python3 -m pip install torch=={pin[1]}"
    assert cpu_make == f"{gpu_make} --index-url {CPU_INDEX}"
    # the user install: venv, the two torch lines, the package, the evaluate module
    assert user[:2] == ["python3 -m venv .venv", ". .venv/bin/activate"]
    assert user[2:] == [gpu_make, cpu_make, "python3 -m pip install .", "s2sbench metric install"]
    # the dev install: make's own second and third steps (`python3 -m s2sbench_hf` is the `s2sbench` command)
    assert dev == [dev_make, metric_make.replace("python3 -m s2sbench_hf", "s2sbench")]
    assert dev_make == "python3 -m pip install -e .[dev]"
    assert f"make install TORCH_INDEX={CPU_INDEX}" in " ".join(detail.split())
    # the prose names the pin and the CUDA/CPU split the lines give
    assert f"`torch=={pin[1]}` is the CUDA build" in " ".join(_section(readme, "Install").split())


# ------------------------------------------------------------------------------------ the families' extras

NEEDY = {entry.extra: entry for entry in ADAPTERS.values() if entry.needs}
"""Extra -> the family whose transformers classes need packages the core does not install (`Family.needs`)."""


def _extras() -> dict[str, list[Requirement]]:
    extras = _pyproject()["project"]["optional-dependencies"]
    return {name: [Requirement(r) for r in requirements] for name, requirements in extras.items()}


def test_each_familys_extra_installs_the_packages_its_registry_entry_needs():
    """The packages are named once, in the family's registry entry; its extra, named after it, lists the same ones,
    and every extra named after a family is one of those."""
    extras = _extras()
    assert {name for name in extras if name in ADAPTERS} == set(NEEDY)
    for extra, entry in NEEDY.items():
        listed = {canonicalize_name(r.name) for r in extras[extra]}
        assert listed == {canonicalize_name(need.package) for need in entry.needs}, extra


def test_the_dev_extra_installs_every_familys_extra_but_those_of_torch_builds():
    """CI (``make test``: the dev extra) runs the families on their real packages where those install next to the CPU
    torch; torchaudio and torchvision must be built for the installed torch (PyPI's are CUDA builds), so the families
    that need them are left out, and their tests run on stand-ins where the packages are missing (tests/conftest.py,
    `tiny_model_backends`)."""
    extras = _extras()
    (own,) = [r for r in extras["dev"] if r.name == _pyproject()["project"]["name"]]
    torch_built = {name for name in NEEDY if {r.name for r in extras[name]} & set(TORCH_EXTENSIONS)}
    assert torch_built == {"fun-asr-nano", "granite-speech", "granite-speech-plus", "gemma3n"}
    assert own.extras & set(NEEDY) == set(NEEDY) - torch_built


def test_the_families_table_names_each_familys_packages_and_extra():
    """``s2sbench families`` (and docs/models.md): the note of a family that needs packages names them and the
    install of its extra; no other note names an extra."""
    rows = coverage.table({})
    table = coverage.markdown(rows)
    notes = {row.adapter: row.note for row in rows if row.adapter}
    # the families chosen by name only (causal-lm, cascade) are listed under the table, one line each
    notes |= {
        name: line.split(": ", 1)[1]
        for name in ADAPTERS
        for line in table.splitlines()
        if line.startswith(f"* `{name}`: ")
    }
    assert set(notes) == set(ADAPTERS)
    for name, entry in ADAPTERS.items():
        if entry.needs:
            assert notes[name].endswith(f'`pip install "s2sbench-hf[{entry.extra}]"`'), name
            assert all(need.package in notes[name] for need in entry.needs), name
        else:
            assert "s2sbench-hf[" not in notes[name], name
