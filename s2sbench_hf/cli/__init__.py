"""The ``s2sbench`` command line: argument parsing only; the work is done by the library.

Each subcommand lives in its own module here with an ``add_parser(subparsers)``
function that registers it and sets ``func``; `COMMANDS` lists them. Flags are
named like lm-evaluation-harness's where they mean the same (``--model``,
``--tasks``, ``--batch-size``, ``--limit``, ``--output``, ``--device``).
"""

from __future__ import annotations

import argparse
import logging
import sys
from importlib import import_module
from typing import Sequence

from s2sbench_hf import __version__
from s2sbench_hf.tasks import S2SBenchError

COMMANDS = ["run", "data", "hub", "score", "sweep", "report", "build", "families"]
"""Modules of `s2sbench_hf.cli`, one per subcommand group, in help order."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="s2sbench", description="S2SBench: text vs speech accuracy of speech LLMs.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        import_module(f"s2sbench_hf.cli.{name}").add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except S2SBenchError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
