"""``s2sbench score``: our metrics from result files the reference release's scripts wrote."""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path

from s2sbench_hf import options
from s2sbench_hf.cli import examples
from s2sbench_hf.tasks import SETTINGS, TASKS


def _cmd_score(args: argparse.Namespace) -> int:
    from s2sbench_hf import reference, results
    from s2sbench_hf.tables import format_table

    summary = options.SummaryOptions(**{f.name: getattr(args, f.name) for f in fields(options.SummaryOptions)})
    if args.reference:
        if args.text or args.audio or args.data:
            raise reference.ReferenceFormatError("give either --reference DIR or --text/--audio/--data FILE, not both.")
        files = reference.find_reference_files(args.reference, args.tasks)
    else:
        given = {s: Path(p) for s, p in (("text", args.text), ("audio", args.audio)) if p}
        if not given or not args.tasks or len(args.tasks) != 1:
            raise reference.ReferenceFormatError(
                "give --reference DIR, or --task TASK with --text FILE and/or --audio FILE (and --data FILE)."
            )
        files = [reference.ReferenceFiles(args.tasks[0], given, Path(args.data) if args.data else None)]
    res = reference.score_reference(files, model=args.model, summary=summary)
    path = results.write_results(Path(args.output), res)
    print(format_table(res))
    for err in res["errors"]:
        print(
            f"warning: task {err['task']!r}, item {err['item_id']!r}: {err['problem']}. {err['fix']}", file=sys.stderr
        )
    print(f"\nwrote {path} ({len(res['errors'])} item error(s))")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "score",
        **examples(
            "s2sbench score --reference ./reference-outputs --output scored",
            "s2sbench score --text t2t/result.jsonl --audio s2t/result.jsonl --task sstorycloze",
        ),
        help="report our metrics from reference-format result.jsonl files (no model run).",
        description=(
            "Read the per-continuation result.jsonl files written by the reference S2SBench scripts (or by "
            "`s2sbench run`'s reference export) for the text and audio runs of a model and report the same "
            "metrics as `s2sbench run`. Folder layout: DIR/<task>/<setting>/result.jsonl and DIR/<task>/data.jsonl "
            f"(tasks: {', '.join(TASKS)}; settings: {', '.join(SETTINGS)}); a run folder works too."
        ),
    )
    p.add_argument("--reference", metavar="DIR", help="folder with <task>/<setting>/result.jsonl + <task>/data.jsonl.")
    p.add_argument("--text", metavar="FILE", help="result.jsonl of the text run (with --task).")
    p.add_argument("--audio", metavar="FILE", help="result.jsonl of the audio run (with --task).")
    p.add_argument("--data", metavar="FILE", help="the task's data jsonl (required for scmmlu: the answers).")
    p.add_argument(
        "--task",
        "--tasks",
        dest="tasks",
        nargs="+",
        choices=list(TASKS),
        metavar="TASK",
        help="the task of --text/--audio, or the tasks to read from --reference (default: all found).",
    )
    p.add_argument("--model", help="model name recorded in results.json (default: 'reference import').")
    options.add_arguments(p, options.SummaryOptions)  # --scoring-rule, --tie-policy, --bootstrap, --seed, --gap
    p.add_argument(
        "--output", default="s2sbench-score", help="output folder for results.json (default: s2sbench-score)."
    )
    p.set_defaults(func=_cmd_score)
