"""The option lists in the documentation, generated from the options (`s2sbench_hf.options`) so they cannot drift.

Three texts are rendered from the `RunConfig` fields (flag, default, help, choices) and pasted into the files
between a marker line that names this module and an end marker:

* the flag table of ``s2sbench run`` in docs/usage.md (`run_flag_table`: the option fields, then the flags the
  ``run`` command adds itself, read from its parser),
* the model-mode keyword list of the `evaluate` module's docstring, metric/s2sbench/s2sbench.py
  (`metric_docstring_list`),
* the same list in the metric card, metric/s2sbench/README.md (`metric_card_list`).

The module file and its card are published alone (a Space) and ``evaluate.load`` reads the module's imports,
so the text is pasted in, not computed at import time. ``python -m s2sbench_hf.option_docs --write`` rewrites
the three blocks after an option changed; without ``--write`` it lists the files whose block differs (exit 1),
as tests/test_option_docs.py does.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
import textwrap
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from s2sbench_hf.cli import build_parser
from s2sbench_hf.options import RunConfig, flag

ROOT = Path(__file__).resolve().parents[1]
"""The repository (the documentation files are read and written there, in a checkout)."""

WRITE_COMMAND = "python -m s2sbench_hf.option_docs --write"
WIDTH = 110
"""Line width of the wrapped lists (the cards' and docstrings' own)."""
METRIC_EXCLUDE = ("model",)
"""Fields that are not model-mode keywords (the model is ``model_id``, or ``model`` and ``processor``)."""


def _kind(name: str) -> Any:
    kind = typing.get_type_hints(RunConfig)[name]
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    return args[0] if typing.get_origin(kind) is not tuple and args else kind


def _flag_usage(f: dataclasses.Field) -> str:
    """The flag as ``--help`` shows it: ``--dtype {auto,...}``, ``--tasks TASK ...``, ``--chat-template``."""
    kind = _kind(f.name)
    if kind is bool:
        return flag(f)
    choices = f.metadata.get("choices")
    value = f.metadata.get("metavar") or ("{" + ",".join(choices) + "}" if choices else f.name.upper())
    return f"{flag(f)} {value} ..." if typing.get_origin(kind) is tuple else f"{flag(f)} {value}"


def _default(value: Any) -> str:
    """A default as a reader of the docs writes it (``None``: no default value, the help says what happens)."""
    if value is dataclasses.MISSING:
        return "required"
    if value is None or value is False:
        return ""
    if isinstance(value, tuple):
        return " ".join(value)
    return str(value)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def run_flag_table() -> str:
    """The flag table of ``s2sbench run``: one row per `RunConfig` field, then the flags ``run`` adds itself."""
    rows = ["| flag | default | meaning |", "|---|---|---|"]
    for f in fields(RunConfig):
        default = _default(f.default)
        shown = f"`{default}`" if default and default != "required" else default
        rows.append(f"| `{_flag_usage(f)}` | {shown} | {_cell(f.metadata['help'])} |")
    names = {f.name for f in fields(RunConfig)}
    for action in _run_parser()._actions:
        if action.dest in names or action.dest == "help":
            continue
        usage = action.option_strings[-1] if action.nargs == 0 else f"{action.option_strings[-1]} {action.dest.upper()}"
        default = "" if action.nargs == 0 or action.default is None else f"`{action.default}`"
        rows.append(f"| `{usage}` | {default} | {_cell(action.help or '')} |")
    return "\n" + "\n".join(rows) + "\n\n"  # blank lines: the table is a block of its own between the markers


def _run_parser() -> argparse.ArgumentParser:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices["run"]


@dataclass(frozen=True)
class _Keyword:
    name: str
    kind: str
    default: str
    help: str


def _keywords() -> list[_Keyword]:
    """The model-mode keywords: every `RunConfig` field but the model, with the flags in its help named as keywords."""
    by_flag = {flag(f): f.name for f in fields(RunConfig)}
    pattern = re.compile("|".join(re.escape(k) for k in sorted(by_flag, key=len, reverse=True)) + r"\b")
    found = []
    for f in fields(RunConfig):
        if f.name in METRIC_EXCLUDE:
            continue
        kind = _kind(f.name)
        kind_text = "list[str]" if typing.get_origin(kind) is tuple else kind.__name__
        default = repr(list(f.default) if isinstance(f.default, tuple) else f.default)
        text = pattern.sub(lambda m: by_flag[m.group(0)], f.metadata["help"])
        if f.metadata.get("choices") and not f.metadata.get("metavar"):  # a metavar stands for a long list
            text += " One of: " + ", ".join(f.metadata["choices"]) + "."
        found.append(_Keyword(f.name, kind_text, "optional" if f.default is None else f"default {default}", text))
    return found


def metric_docstring_list() -> str:
    """The model-mode keywords as the module's ``_KWARGS_DESCRIPTION`` lists its arguments (4-space indent)."""
    lines = []
    for k in _keywords():
        first = f"{k.name} (`{k.kind}`, {k.default}): {k.help}"
        lines += textwrap.wrap(first, WIDTH, initial_indent=" " * 4, subsequent_indent=" " * 8, break_on_hyphens=False)
    return "\n".join(lines) + "\n"


def metric_card_list() -> str:
    """The model-mode keywords as a markdown list (the metric card's "Inputs")."""
    lines = []
    for k in _keywords():
        default = k.default.replace("default ", "default `") + "`" if k.default.startswith("default") else k.default
        item = f"- **{k.name}** (`{k.kind}`, {default}): {_code_choices(k.help)}"
        lines += textwrap.wrap(item, WIDTH, subsequent_indent="  ", break_on_hyphens=False, break_long_words=False)
    return "\n" + "\n".join(lines) + "\n\n"


def _code_choices(text: str) -> str:
    return re.sub(
        r"One of: (.*)\.$", lambda m: "One of: " + ", ".join(f"`{c}`" for c in m.group(1).split(", ")) + ".", text
    )


@dataclass(frozen=True)
class Generated:
    """A generated block: the file, how its markers are written, and the function that renders it."""

    path: str
    render: Callable[[], str]
    begin: str
    end: str

    def split(self, text: str) -> tuple[str, str, str]:
        """The file's text before the block (through the begin marker), the block, and the rest (from the end)."""
        head, found, rest = text.partition(self.begin + "\n")
        block, found_end, tail = rest.partition(self.end)
        if not found or not found_end:
            raise ValueError(f"{self.path}: no block between the lines {self.begin!r} and {self.end!r}")
        return head + found, block, found_end + tail


def _markers(comment: Callable[[str], str], function: Callable[[], str]) -> tuple[str, str]:
    name = f"s2sbench_hf.option_docs.{function.__name__}"  # also when run as __main__
    return comment(f"generated by {name}; {WRITE_COMMAND} rewrites it"), comment("end of generated text")


GENERATED = (
    Generated("docs/usage.md", run_flag_table, *_markers(lambda t: f"<!-- {t} -->", run_flag_table)),
    Generated(
        "metric/s2sbench/s2sbench.py",
        metric_docstring_list,
        *_markers(lambda t: f"# {t}", metric_docstring_list),
    ),
    Generated("metric/s2sbench/README.md", metric_card_list, *_markers(lambda t: f"<!-- {t} -->", metric_card_list)),
)
"""Every generated block. In the module the block is a string constant between two comment lines."""


def _expected(item: Generated, text: str) -> str:
    head, _, tail = item.split(text)
    if item.path.endswith(".py"):
        return head + f'_RUN_OPTIONS = """\\\n{item.render()}"""\n' + tail
    return head + item.render() + tail


def stale(root: Path = ROOT) -> list[str]:
    """The files (relative to ``root``) whose generated block differs from what the options give now."""
    return [g.path for g in GENERATED if _expected(g, (root / g.path).read_text(encoding="utf-8")) != _read(root, g)]


def _read(root: Path, item: Generated) -> str:
    return (root / item.path).read_text(encoding="utf-8")


def write(root: Path = ROOT) -> list[str]:
    """Rewrite every stale block; return the files rewritten."""
    changed = stale(root)
    for item in GENERATED:
        if item.path in changed:
            (root / item.path).write_text(_expected(item, _read(root, item)), encoding="utf-8")
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m s2sbench_hf.option_docs", description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite the blocks that differ (default: list them).")
    args = parser.parse_args(argv)
    if args.write:
        for path in write():
            print(f"rewrote {path}")
        return 0
    differ = stale()
    for path in differ:
        print(f"{path}: differs from the options; {WRITE_COMMAND} rewrites it")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
