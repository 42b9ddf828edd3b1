"""``s2sbench report``: one markdown and one self-contained HTML page from run, sweep or several folders."""

from __future__ import annotations

import argparse
import os

from s2sbench_hf.cli import examples


def _cmd_report(args: argparse.Namespace) -> int:
    from s2sbench_hf.report import ReportError, compare_report, folder_report, write_report

    if args.name in ("", ".", "..") or "/" in args.name or os.sep in args.name:
        raise ReportError(f"--name {args.name!r} is not a file name: give a stem (report), and the folder as --output.")
    if args.compare:
        folders = ([args.folder] if args.folder else []) + args.compare
        if len(folders) < 2:
            raise ReportError("--compare needs at least two folders.")
        output = args.output or "s2sbench-compare"
        doc = compare_report(folders, output, names=args.names)
    else:
        if not args.folder:
            raise ReportError("give a run or sweep folder, or --compare DIR1 DIR2 ...")
        output = args.output or args.folder
        doc = folder_report(args.folder)
    md, html = write_report(doc, output, name=args.name)
    print(f"wrote {md}\nwrote {html}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        **examples(
            "s2sbench report runs/qwen2-audio",
            "s2sbench report --compare runs/qwen2-audio runs/voxtral --names Qwen2-Audio Voxtral --output compare",
        ),
        help="render a markdown + self-contained HTML report of a run or sweep folder, or compare folders.",
        description=(
            "Write report.md and report.html (tables and figures; the HTML has the figures inlined and needs no "
            "other file) for a folder written by `s2sbench run`, `score` or `sweep`; with --compare, several "
            "models side by side (one row per model per task; a sweep folder contributes its last checkpoint)."
        ),
    )
    p.add_argument("folder", nargs="?", help="run or sweep folder.")
    p.add_argument("--compare", nargs="+", metavar="DIR", help="run folders to set side by side.")
    p.add_argument("--names", nargs="+", help="labels for the compared models (default: their model ids).")
    p.add_argument("--output", help="where to write (default: the folder itself; with --compare: s2sbench-compare).")
    p.add_argument("--name", default="report", help="file name stem (default: report -> report.md, report.html).")
    p.set_defaults(func=_cmd_report)
