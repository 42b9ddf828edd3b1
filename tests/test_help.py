"""Every command's ``--help`` ends with examples, and every example parses with the real parser."""

from __future__ import annotations

import argparse
import shlex

import pytest

from s2sbench_hf import options
from s2sbench_hf.cli import EXAMPLES_HEADING, build_parser

LAUNCHERS = ("accelerate launch -m s2sbench_hf ", "torchrun --nproc_per_node 2 -m s2sbench_hf ", "s2sbench ")
"""How an example may start: the command itself, or a launcher that runs the package as a module."""


def _leaf_parsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> dict[str, argparse.ArgumentParser]:
    """Every command that runs something (``run``, ``build convert`` ...), by its words."""
    groups = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not groups:
        return {" ".join(path): parser}
    leaves: dict[str, argparse.ArgumentParser] = {}
    for name, child in groups[0].choices.items():
        leaves.update(_leaf_parsers(child, (*path, name)))
    return leaves


LEAVES = _leaf_parsers(build_parser())


def _examples(parser: argparse.ArgumentParser) -> list[str]:
    epilog = parser.epilog or ""
    assert epilog.startswith(EXAMPLES_HEADING), f"{parser.prog}: no examples at the end of --help"
    return [line.strip() for line in epilog.splitlines()[1:] if line.strip()]


def _argv(example: str) -> list[str]:
    launcher = next((p for p in LAUNCHERS if example.startswith(p)), None)
    assert launcher is not None, f"{example!r} does not start with the command or a known launcher"
    return shlex.split(example[len(launcher) :])


@pytest.mark.parametrize("command", sorted(LEAVES))
def test_every_command_ends_its_help_with_examples_of_itself(command):
    parser = LEAVES[command]
    examples = _examples(parser)
    assert examples
    for example in examples:
        assert _argv(example)[: len(command.split())] == command.split(), f"{example!r} is not {command!r}"
    shown = parser.format_help()
    assert all(example in shown for example in examples), "an example is wrapped or cut in --help"


@pytest.mark.parametrize("command", sorted(LEAVES))
def test_every_example_parses_and_builds_a_valid_configuration(command):
    for example in _examples(LEAVES[command]):
        try:
            args = build_parser().parse_args(_argv(example))
        except SystemExit as stop:
            pytest.fail(f"{example!r} does not parse (exit {stop.code})")
        if command in ("run", "prompts"):
            options.from_namespace(args)  # the values are valid too, not only the flags (raises OptionError)
