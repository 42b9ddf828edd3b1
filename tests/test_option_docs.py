"""Docs that cannot drift: the option lists are the generated ones, and every dotted name the docs quote resolves.

The flag table of docs/usage.md, the model-mode keywords of the `evaluate` module's docstring and of its card
are rendered from the options by `s2sbench_hf.option_docs`; ``python -m s2sbench_hf.option_docs --write``
rewrites them after an option changed.
"""

from __future__ import annotations

import importlib
import re
import shutil
from dataclasses import fields
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from s2sbench_hf import option_docs
from s2sbench_hf.options import RunConfig

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = sorted(
    [
        ROOT / "README.md",
        *(ROOT / "docs").glob("*.md"),
        ROOT / "dataset_builder" / "README.md",
        ROOT / "metric" / "s2sbench" / "README.md",
        ROOT / "leaderboard" / "README.md",
    ]
)
CODE_SPAN = re.compile(r"`([^`\n]+)`")
DOTTED = re.compile(r"s2sbench_hf(?:\.[A-Za-z_]\w*)*(?![\w/.])")
"""A dotted name at the start of a code span (``s2sbench_hf.x.y``, also ``s2sbench_hf.x.f(args)``)."""
PATH = re.compile(r"s2sbench_hf/[\w/.*-]*")


def test_generated_docs_match_the_options():
    assert option_docs.stale() == [], f"the option lists differ from the options: run {option_docs.WRITE_COMMAND}"


def test_usage_table_lists_every_run_flag():
    """Independently of the generator: the table's flags are exactly the long flags of ``s2sbench run``."""
    text = (ROOT / "docs" / "usage.md").read_text(encoding="utf-8")
    table = text.split("## Flags of `s2sbench run`", 1)[1].split("\n## ", 1)[0]
    listed = {m.group(1) for m in re.finditer(r"^\| `(--[a-z-]+)", table, re.MULTILINE)}
    parser = option_docs._run_parser()
    flags = {s for a in parser._actions for s in a.option_strings if s.startswith("--") and s != "--help"}
    assert listed == flags


@pytest.mark.parametrize("path", ["metric/s2sbench/s2sbench.py", "metric/s2sbench/README.md"])
def test_metric_lists_every_option_by_its_keyword(path):
    text = (ROOT / path).read_text(encoding="utf-8")
    for f in fields(RunConfig):
        if f.name not in option_docs.METRIC_EXCLUDE:
            assert re.search(rf"^(    |- \*\*){f.name}\b", text, re.MULTILINE), f"{path}: {f.name}"
    assert "text and/or audio" not in text


def test_check_fails_on_a_changed_block_and_write_repairs_it(tmp_path):
    for item in option_docs.GENERATED:
        (tmp_path / item.path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / item.path, tmp_path / item.path)
    usage = tmp_path / "docs" / "usage.md"
    usage.write_text(usage.read_text(encoding="utf-8").replace("| `--limit N` |", "| `--lim N` |"), encoding="utf-8")
    module = tmp_path / "metric" / "s2sbench" / "s2sbench.py"
    module.write_text(module.read_text(encoding="utf-8").replace("    gap (", "    gaps ("), encoding="utf-8")
    assert option_docs.stale(tmp_path) == ["docs/usage.md", "metric/s2sbench/s2sbench.py"]
    assert option_docs.write(tmp_path) == ["docs/usage.md", "metric/s2sbench/s2sbench.py"]
    assert option_docs.stale(tmp_path) == []
    for item in option_docs.GENERATED:
        assert (tmp_path / item.path).read_bytes() == (ROOT / item.path).read_bytes()
    usage.write_text("no markers\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no block between"):
        option_docs.stale(tmp_path)


def resolve(name: str) -> Any:
    """The object a dotted name names: the longest importable module prefix, then attributes."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:end]))
        except ModuleNotFoundError as err:
            if err.name is None or not ".".join(parts[:end]).startswith(err.name):
                raise  # a module that exists but imports one that does not
            continue
        for attr in parts[end:]:
            if not hasattr(obj, attr):
                raise AttributeError(f"{'.'.join(parts[:end])} has no {'.'.join(parts[end:])}")
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(name)


def quoted(pattern: re.Pattern) -> list[tuple[str, str]]:
    """(document, match) for every code span of the documents that starts with ``pattern``."""
    found = []
    for path in DOCUMENTS:
        for span in CODE_SPAN.findall(path.read_text(encoding="utf-8")):
            match = pattern.match(span)
            if match:
                found.append((str(path.relative_to(ROOT)), match.group(0)))
    return sorted(set(found))


@pytest.mark.parametrize(("document", "name"), quoted(DOTTED))
def test_every_dotted_name_in_the_docs_resolves(document, name):
    resolve(name)


@pytest.mark.parametrize(("document", "path"), quoted(PATH))
def test_every_package_path_in_the_docs_exists(document, path):
    assert list(ROOT.glob(path.rstrip("/"))), f"{document}: {path} does not exist"


def test_the_name_check_finds_what_does_not_resolve():
    assert isinstance(resolve("s2sbench_hf.data.eval_yaml"), ModuleType)
    assert callable(resolve("s2sbench_hf.data.eval_yaml.eval_yaml"))
    with pytest.raises(AttributeError):
        resolve("s2sbench_hf.hub.eval_yaml")
    with pytest.raises(ModuleNotFoundError):
        resolve("s2sbench_hf_nope.x")
    assert (
        DOTTED.match("s2sbench_hf.data.eval_yaml.eval_yaml(tasks)").group(0) == "s2sbench_hf.data.eval_yaml.eval_yaml"
    )
    assert DOTTED.match("s2sbench_hf/data/tts.py") is None and DOTTED.match("s2sbench_hf_version") is None
