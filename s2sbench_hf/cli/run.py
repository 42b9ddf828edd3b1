"""``s2sbench run``: evaluate one model (its option flags come from `s2sbench_hf.options`).

Exit status: 0 when every task has numbers (item errors are warnings), 1 when a
task scored no item in some setting (the folder is still written, with the other
tasks' numbers), 2 for an error before or instead of a result (bad options, a
model that cannot run: one line on stderr).
"""

from __future__ import annotations

import argparse
import sys

from s2sbench_hf import options
from s2sbench_hf.cli import add_progress_flag, examples
from s2sbench_hf.environment import command_line


def _cmd_run(args: argparse.Namespace) -> int:
    from s2sbench_hf.runner import run_to_folder
    from s2sbench_hf.tables import data_header, format_table, run_notes

    config = options.from_namespace(args)
    run, path = run_to_folder(
        config,
        args.output,
        overwrite=args.overwrite,
        progress=not args.no_progress,
        command=command_line(args.argv),
    )
    if path is None:  # another process of a multi-process run: the main one writes and prints
        return 0
    print(data_header(run.results))
    print(format_table(run.results))
    for note in run_notes(run.results):
        print(f"note: {note}")
    for err in run.errors:
        print(f"warning: {err}", file=sys.stderr)
    for warning in run.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"\nwrote {path} ({len(run.errors)} item error(s))")
    for failure in run.failures:
        print(f"error: {failure}", file=sys.stderr)
    return 1 if run.failures else 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser(
        "run",
        **examples(
            "s2sbench run --model Qwen/Qwen2-Audio-7B --output runs/qwen2-audio",
            "s2sbench run --model Qwen/Qwen2-Audio-7B --tasks scmmlu --limit 100 --output runs/quick",
            "s2sbench run --model ./checkpoint-1000 --dataset samples --device cpu --output runs/smoke",
            "s2sbench run --model Qwen/Qwen3-Omni-30B-A3B-Instruct --device-map auto --max-memory 0=70GiB cpu=200GiB "
            "--output runs/q3o",
            "s2sbench run --model Qwen/Qwen2-Audio-7B --backend vllm --output runs/qwen2-audio-vllm",
            "accelerate launch -m s2sbench_hf run --model Qwen/Qwen2-Audio-7B --output runs/qwen2-audio",
        ),
        help="evaluate a model in the text and audio settings.",
    )
    options.add_arguments(run)
    run.add_argument(
        "--output",
        default="s2sbench-output",
        help="output folder (default: s2sbench-output); one run at a time writes into it (a lock file).",
    )
    run.add_argument(
        "--overwrite",
        action="store_true",
        help="forget the records cached in the output folder and score everything again.",
    )
    add_progress_flag(run)
    run.set_defaults(func=_cmd_run)
