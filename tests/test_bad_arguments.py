"""Every subcommand, each of its arguments given bad values: exit 0 or 2, never 1, never a traceback (issue 22).

A user's mistake ends in exit 2 and one line, ``error: ...``, that says what was wrong; "unexpected ... please
report it" is kept for real bugs. The commands and their arguments are read from the real parser
(`cli.build_parser`), and the bad values from each argument's action (type, choices, nargs, metavar, help), so a
new flag or command is walked without a line here. What is written by hand is the valid command line each value
is put into (`BASES`): the tiny model, one item of the bundled samples, dry runs, so that a value the checks let
through does its work in about a second, offline.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields, replace
from pathlib import Path

import pytest
from fake_release import write_release

from s2sbench_hf.cli import build_parser, main
from s2sbench_hf.data.samples import samples_folder

SURROGATE = "\udcff"
"""How Python reads a byte of a command-line argument that is not UTF-8 (``$'\\xff'``)."""

MISSING, A_FILE, A_FOLDER, PROC, SURROGATE_PATH = (
    "<missing path>",
    "<a file>",
    "<an empty folder>",
    "<path under /proc>",
    "<path with a surrogate>",
)
"""Bad paths, made real per case (`_resolve`): nothing there, a file where a folder is expected, a folder where a
file is expected, a place where nothing can be made, a name that is not UTF-8."""

PATH_WORDS = {"folder", "folders", "file", "files", "dir", "path", "jsonl", "readme", "card"}
"""Words of an argument's name, metavar or help that say it takes a path."""

NUMBERS = {"-1": True, "0": False, "nan": True, "1e400": True, "abc": True, "9" * 30: True}
"""Bad values of a number, and whether each must be refused: negative, zero (a valid seed), not a number, a float
that overflows to infinity, no number at all, past any count or seed."""

Case = tuple[list[str] | str, bool]
"""A bad value, and whether it must be refused (exit 2) rather than only not crash: the words after the flag (the
positional's one word), or a string: the one word of a switch written ``--flag=VALUE``."""


def _words(action: argparse.Action) -> set[str]:
    text = f"{action.dest} {action.metavar or ''} {action.help or ''}".lower()
    return set(re.split(r"[\W_]+", text))


def _is_number(action: argparse.Action) -> bool:
    """Whether the argument is a number: its type reads "1" as one (int, float, `options.integer`)."""
    try:
        return action.type is not None and type(action.type("1")) in (int, float)  # type: ignore[operator]
    except (TypeError, ValueError, argparse.ArgumentTypeError):
        return False


def bad_values(action: argparse.Action) -> list[Case]:
    """The bad values of one argument, read from its action alone (`Case`)."""
    if action.nargs == 0:  # a switch: a value written onto it is the only mistake there is
        return [(f"{action.option_strings[0]}=nope", True)]
    values: dict[str, bool] = {}
    if action.choices is not None:
        values["nope"] = True
    elif _is_number(action):
        values.update(NUMBERS)
    elif action.type not in (None, str):  # a parsing function of its own (comma lists ...)
        values.update({"": False, ",": False, "abc": False, "-1": False, SURROGATE: True})
    else:
        values.update({"": False, SURROGATE: True})
        if "=" in (action.metavar or ""):  # KEY=VALUE
            values.update({"novalue": True, "=value": True, "key=": True})
        if _words(action) & PATH_WORDS:
            values.update({MISSING: False, A_FILE: False, A_FOLDER: False, PROC: False, SURROGATE_PATH: True})
    cases: list[Case] = [([value], refused) for value, refused in values.items()]
    if action.nargs in ("+", "*") and action.option_strings:
        cases.append(([], True))  # the flag with no value
    return cases


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    return {
        name: child
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
        for name, child in action.choices.items()
    }


def _leaves(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Every command that runs something (``run``, ``build convert`` ...), by its words."""
    children = _subcommands(parser)
    if not children:
        yield " ".join(path), parser
    for name, child in children.items():
        yield from _leaves(child, (*path, name))


def _groups(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """The words of every command that has subcommands: ``s2sbench`` itself, ``build``, ``metric``."""
    children = _subcommands(parser)
    if children:
        yield path
    for name, child in children.items():
        yield from _groups(child, (*path, name))


PARSER = build_parser()
LEAVES = dict(_leaves(PARSER))


@dataclass
class World:
    """The valid things the command lines point at, made once for the module (`world`)."""

    model: Path
    run: Path
    checkpoints: Path
    board: Path
    release: Path
    source: Path
    dataset: Path
    card: Path

    @classmethod
    def placeholder(cls) -> World:
        """Names only, for what needs no file: the parser's answer, the keys of `BASES`."""
        return cls(*(Path(f"/{f.name}") for f in fields(cls)))


def _one_item(out: Path) -> dict[str, list[str]]:
    """What `run` and `sweep` share: one item of one task in the text setting, on the CPU, quietly, into ``out``."""
    return {
        "--dataset": ["samples"],
        "--tasks": ["sstorycloze"],
        "--settings": ["text"],
        "--limit": ["1"],
        "--device": ["cpu"],
        "--bootstrap": ["10"],
        "--output": [str(out)],
        "--no-progress": [],
    }


BASES: dict[str, Callable[[World, Path], dict[str, list[str]]]] = {
    "run": lambda w, out: {"--model": [str(w.model)], **_one_item(out)},
    "prompts": lambda w, out: {
        "--model": [str(w.model)],
        "--dataset": ["samples"],
        "--tasks": ["sstorycloze"],
        "--settings": ["text"],
        "--items": ["1"],
        "--device": ["cpu"],
    },
    "sweep": lambda w, out: {"--checkpoints": [str(w.checkpoints / "checkpoint-*")], **_one_item(out)},
    "tiny-model": lambda w, out: {"--family": ["causal-lm"], "--output": [str(out)]},
    "tasks": lambda w, out: {},
    "validate": lambda w, out: {
        "results": [str(w.run)],
        "--rerun": ["1"],
        "--model": [str(w.model)],
        "--device": ["cpu"],
    },
    "submit": lambda w, out: {"output_dir": [str(w.run)], "--repo": ["org/results"], "--dry-run": []},
    "leaderboard": lambda w, out: {"source": [str(w.board)], "--output": [str(out)]},
    "card": lambda w, out: {
        "results": [str(w.run)],
        "--repo": ["org/model"],
        "--benchmark": ["org/S2SBench"],
        "--from-card": [str(w.card)],
        "--dry-run": [],
    },
    "score": lambda w, out: {"--reference": [str(w.run / "reference")], "--output": [str(out)]},
    "report": lambda w, out: {"folder": [str(w.run)], "--output": [str(out)]},
    "build convert": lambda w, out: {"--release": [str(w.release)], "--output": [str(out)], "--no-progress": []},
    "build source": lambda w, out: {
        "--input": [str(w.source)],
        "--task-id": ["my_quiz"],
        "--language": ["en"],
        "--limit": ["1"],
        "--output": [str(out)],
        "--no-progress": [],
    },
    "build push": lambda w, out: {"--folder": [str(w.dataset)], "--repo": ["org/S2SBench"], "--dry-run": []},
    "build samples": lambda w, out: {"--output": [str(out)], "--workers": ["1"], "--no-progress": []},
    "metric install": lambda w, out: {},
    "metric push": lambda w, out: {"--repo": ["org/s2sbench"], "--dry-run": []},
    "families": lambda w, out: {},
}
"""A valid command line of each command (an option, or a positional's name -> its words), on `World`'s things and
an output folder of its own per case; each bad value takes the place of its argument's words."""

SLOW = {
    "build samples": "speaks every sample item (about 20 s)",
    "sweep": "draws a plot per task (about 3 s)",
}
"""Commands where a value the parser lets through costs seconds: those cases are marked slow."""


def _key(action: argparse.Action) -> str:
    return action.option_strings[0] if action.option_strings else action.dest


def _resolve(value: str, tmp: Path | None) -> str:
    """A bad path made real in ``tmp`` (None: named only)."""
    if value == PROC:
        return "/proc/x"
    if value not in (MISSING, A_FILE, A_FOLDER, SURROGATE_PATH):
        return value
    if tmp is None:
        return f"/nowhere/x{SURROGATE if value == SURROGATE_PATH else ''}"
    if value == A_FILE:
        (tmp / "a-file").write_text("not a folder\n", encoding="utf-8")
        return str(tmp / "a-file")
    if value == A_FOLDER:
        (tmp / "a-folder").mkdir()
        return str(tmp / "a-folder")
    return str(tmp / "missing" / "x") if value == MISSING else str(tmp / f"x{SURROGATE}")


def _flat(base: dict[str, list[str]]) -> list[str]:
    """The words of a command line: its positionals in order, then its options."""
    positional = [word for key, words in base.items() if not key.startswith("-") for word in words]
    return positional + [word for key, words in base.items() if key.startswith("-") for word in (key, *words)]


def command_line(
    words: list[str], key: str | None, value: list[str] | str | None, world: World, tmp: Path | None = None
) -> list[str]:
    """The command's valid command line (`BASES`) with ``value`` in place of argument ``key``'s words; bad paths made
    real in ``tmp`` (None: named only)."""
    if key is None:
        return list(words)
    base = BASES[" ".join(words)](world, (tmp or Path("/nowhere")) / "out")
    if isinstance(value, str):  # a switch given a value: one word in place of the switch
        base.pop(key, None)
        return [*words, *_flat(base), value]
    base[key] = [_resolve(v, tmp) for v in value or []]
    return [*words, *_flat(base)]


def _parser_refuses(argv: list[str]) -> bool:
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        try:
            PARSER.parse_args(argv)
        except SystemExit:
            return True
    return False


def _cases() -> Iterator[object]:
    for words in _groups(PARSER):
        yield pytest.param(list(words), None, None, True, id=" ".join([*words, "(no command)"]).strip())
        yield pytest.param([*words, "nope"], None, None, True, id=" ".join([*words, "nope"]))
    for command, parser in LEAVES.items():
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            key = _key(action)
            for value, refused in bad_values(action):
                marks = []
                argv = command_line(command.split(), key, value, World.placeholder())
                if command in SLOW and not _parser_refuses(argv):
                    marks.append(pytest.mark.slow)
                yield pytest.param(command.split(), key, value, refused, id=f"{command} {key} {value!a}", marks=marks)


CASES = list(_cases())


def test_every_command_has_a_valid_command_line_to_vary():
    assert sorted(BASES) == sorted(LEAVES), "add the new command's valid command line to BASES"
    for command, parser in LEAVES.items():
        keys = {_key(a) for a in parser._actions}
        base = BASES[command](World.placeholder(), Path("out"))
        assert set(base) <= keys, f"{command}: BASES names {set(base) - keys}, which its parser does not have"
        assert not _parser_refuses([*command.split(), *_flat(base)]), f"{command}: BASES' command line does not parse"


def test_the_walk_covers_every_argument_of_every_command():
    walked = {(" ".join(c.values[0]), c.values[1]) for c in CASES}  # type: ignore[attr-defined]
    for command, parser in LEAVES.items():
        for action in parser._actions:
            if not isinstance(action, argparse._HelpAction):
                assert (command, _key(action)) in walked


@pytest.fixture(scope="module")
def world(causal_lm_path, tmp_path_factory) -> World:
    root = tmp_path_factory.mktemp("bad-arguments")
    run = root / "run"
    assert main(command_line(["run"], "--output", [str(run)], replace(World.placeholder(), model=causal_lm_path))) == 0
    checkpoints = root / "ckpts"
    shutil.copytree(causal_lm_path, checkpoints / "checkpoint-1")
    board = root / "board"
    shutil.copytree(run, board / "submissions" / "org" / "model")
    source = root / "quiz.jsonl"
    row = {"context": "One plus one is", "choices": ["two.", "three."], "label": 0}
    source.write_text(json.dumps(row) + "\n", encoding="utf-8")
    card = root / "README.md"
    card.write_text("# my model\n", encoding="utf-8")
    release = write_release(root / "release")
    return World(causal_lm_path, run, checkpoints, board, release, source, samples_folder(), card)


@contextlib.contextmanager
def _terminal() -> Iterator[tuple[io.TextIOWrapper, io.TextIOWrapper]]:
    """stdout and stderr as a process in a UTF-8 locale has them: stdout strict, stderr escaping what it cannot."""
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict", write_through=True)
    err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="backslashreplace", write_through=True)
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        yield out, err


@pytest.mark.parametrize(("command", "key", "value", "refused"), CASES)
def test_a_bad_value_is_one_line_and_exit_2(command, key, value, refused, world, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a default output folder is made here
    argv = command_line(command, key, value, world, tmp_path)
    with _terminal() as (out, err):
        try:
            code = main(argv)
        except SystemExit as stop:  # the parser's refusal
            code = stop.code
    stdout = out.buffer.getvalue().decode("utf-8")
    stderr = err.buffer.getvalue().decode("utf-8")
    shown = f"s2sbench {' '.join(ascii(a) for a in argv)}\nexit {code}; stderr:\n{stderr}"
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert "Traceback" not in stderr and not any(line.startswith("error: unexpected") for line in errors), shown
    assert "please report" not in stderr, shown
    if code == 1:  # the one exit 1 for what a command was handed: a submission that fails its checks
        assert any(line.startswith("INVALID:") for line in (stdout + stderr).splitlines()), shown
    elif refused or code:
        assert code == 2 and len(errors) == 1, shown
