"""The ``s2sbench`` command line: argument parsing only; the work is done by the library.

Each subcommand lives in its own module here with an ``add_parser(subparsers)``
function that registers it and sets ``func``; `COMMANDS` lists them. Flags are
named like lm-evaluation-harness's where they mean the same (``--model``,
``--tasks``, ``--batch-size``, ``--limit``, ``--output``, ``--device``).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from importlib import import_module
from typing import Any, NoReturn

from s2sbench_hf._version import __version__
from s2sbench_hf.failures import explain
from s2sbench_hf.tasks import S2SBenchError

COMMANDS = [
    "run",
    "prompts",
    "tiny_model",
    "tasks",
    "validate",
    "submit",
    "leaderboard",
    "card",
    "score",
    "sweep",
    "report",
    "build",
    "metric",
    "families",
]
"""The command modules, each named by its command (``tiny_model`` is ``tiny-model``), in the order of ``--help``."""
"""Modules of `s2sbench_hf.cli`, one per subcommand group, in help order."""


EXAMPLES_HEADING = "examples:"


class _ExamplesFormatter(argparse.HelpFormatter):
    """argparse's formatter, except that an epilog of examples (`examples`) keeps its lines as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith(EXAMPLES_HEADING):
            return "\n".join(indent + line for line in text.splitlines())
        return super()._fill_text(text, width, indent)


def examples(*commands: str) -> dict[str, Any]:
    """``add_parser`` keyword arguments that end a command's ``--help`` with example command lines.

    tests/test_cli.py parses every example with the real parser, so an example cannot name a flag that is gone.
    """
    return {
        "epilog": "\n".join([EXAMPLES_HEADING, *(f"  {command}" for command in commands)]),
        "formatter_class": _ExamplesFormatter,
    }


def add_progress_flag(parser: argparse.ArgumentParser) -> None:
    """``--no-progress`` (``args.no_progress``), the same flag in every command that shows bars."""
    parser.add_argument(
        "--no-progress", action="store_true", help="hide progress bars (ours and those of the libraries we call)."
    )


class _Parser(argparse.ArgumentParser):
    """argparse's parser, except that a mistake on the command line is one line, as every other failure (`main`):
    what argparse found wrong and where the options are listed, without the usage block. Its subcommands' parsers
    are of this class too (argparse makes them of their parent's)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {self.prog}: {message} (see {self.prog} --help)\n")

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        """argparse's, and a value that is not UTF-8 text is refused here, once for every argument.

        Python reads a byte of an argument that is not UTF-8 as a lone surrogate (``$'\\xff'`` as ``'\\udcff'``),
        which no output can hold: results.json, reports and cards are UTF-8, and so is the terminal.
        """
        namespace, extras = super().parse_known_args(args, namespace)
        for action in self._actions:
            values = getattr(namespace, action.dest, None)
            for value in values if isinstance(values, list) else [values]:
                if isinstance(value, str) and not _is_utf8(value):
                    name = "/".join(action.option_strings) or action.metavar or action.dest
                    self.error(
                        f"argument {name}: {value!r} is not UTF-8 text: give names and paths in UTF-8, renaming a file "
                        "or folder whose name is not"
                    )
        return namespace, extras


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="s2sbench", description="S2SBench: text vs speech accuracy of speech LLMs.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show the full traceback of a failure (accepted anywhere on the line)."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        import_module(f"s2sbench_hf.cli.{name}").add_parser(sub)
    return parser


class _NotPrintedYet(logging.Filter):
    """Lets through only records that no library's own handler has printed on their way up.

    huggingface_hub and datasets attach a stream handler to their root logger and
    still propagate, so under a root handler each of their warnings would be printed
    twice. The libraries are imported later than the command line sets up logging,
    so the check is made per record, not once.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        logger: logging.Logger | None = logging.getLogger(record.name)
        while logger is not None and logger is not logging.root:
            if any(not isinstance(h, logging.NullHandler) for h in logger.handlers):
                return False
            if not logger.propagate:
                break
            logger = logger.parent
        return True


def configure_logging() -> None:
    """Warnings of every library on stderr, each printed once (`_NotPrintedYet`), as ``LEVEL logger: message``.

    As `logging.basicConfig`, it does nothing when the root logger has a handler already (a host program's).
    """
    if logging.root.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_NotPrintedYet())
    logging.root.addHandler(handler)
    logging.root.setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. Failures end in one line on stderr, not a traceback (``--debug`` shows it):

    exit status 2 for a problem the message explains (bad input, a model or dataset
    that cannot be found or fetched, a full disk, an unwritable output folder),
    130 for Ctrl-C, 1 for an unexpected error. Scored records are on disk in the
    output folder's cache by then, so the same command resumes where it stopped.
    """
    configure_logging()
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    args = build_parser().parse_args([a for a in argv if a != "--debug"])
    args.debug = debug
    args.argv = argv  # what a run records as its command line (`environment.command_line`)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(
            "interrupted: what was scored so far is kept in the output folder's cache; run the same command "
            "again to resume.",
            file=sys.stderr,
        )
        return 130
    except S2SBenchError as err:
        if args.debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2
    except Exception as err:  # the last line of defence of the command line
        if args.debug:
            raise
        message = explain(err)
        if message is not None:
            print(f"error: {message}", file=sys.stderr)
            return 2
        print(
            f"error: unexpected {type(err).__name__}: {err}. Run again with --debug for the traceback, "
            "and please report it.",
            file=sys.stderr,
        )
        return 1


def entry() -> NoReturn:
    """The ``s2sbench`` command and ``python -m s2sbench_hf``: `main`, then the process ends with its status.

    After a run on a backend with engine processes (vLLM), they are stopped and the process ends at once
    (``os._exit``, once the output is flushed), skipping the interpreter's teardown, which aborts the process after
    such a run (`scoring.interface.stop_engines`). Only here, never in `main`, which a host program may call.
    """
    code = main()
    from s2sbench_hf.scoring.interface import stop_engines  # after main: not on the path of --help's start-up

    if stop_engines():
        sys.stdout.flush()
        sys.stderr.flush()
        logging.shutdown()
        os._exit(code)
    sys.exit(code)
