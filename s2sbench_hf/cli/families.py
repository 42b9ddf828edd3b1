"""``s2sbench families``: every speech LLM type of the installed transformers, and whether it can be scored."""

from __future__ import annotations

import argparse
from pathlib import Path

from s2sbench_hf.cli import examples
from s2sbench_hf.scoring import coverage


def _cmd_families(args: argparse.Namespace) -> int:
    if args.readme is not None:  # "" too: a file of no name is a mistake, not "no --readme"
        path = Path(args.readme)
        text = path.read_text(encoding="utf-8")
        coverage.with_table(text, "")  # a file that cannot be read, or has no markers, fails before the table is made
        table = coverage.markdown(coverage.table(coverage.audio_lm_types()))
        path.write_text(coverage.with_table(text, table), encoding="utf-8")
        print(f"wrote the families table into {path}")
        return 0
    rows = coverage.table(coverage.audio_lm_types())
    print(coverage.markdown(rows) if args.markdown else coverage.plain(rows))
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "families",
        **examples("s2sbench families", "s2sbench families --markdown"),
        help="list the audio language models of the installed transformers: the adapter that scores each, "
        "or why none can.",
    )
    out = p.add_mutually_exclusive_group()
    out.add_argument("--markdown", action="store_true", help="print the table as markdown.")
    out.add_argument(
        "--readme",
        metavar="PATH",
        help="write the markdown table into PATH between its families markers (docs/models.md).",
    )
    p.set_defaults(func=_cmd_families)
