"""``s2sbench sweep``: evaluate every checkpoint of a training run (only the new ones on later calls)."""

from __future__ import annotations

import argparse

from s2sbench_hf import options
from s2sbench_hf.cli import add_progress_flag, examples


def _cmd_sweep(args: argparse.Namespace) -> int:
    from s2sbench_hf import sweep
    from s2sbench_hf.report import folder_report, write_report

    checkpoints = sweep.find_checkpoints(args.checkpoints, args.step_regex)
    config = options.from_namespace(args, model=str(checkpoints[0].path))
    out = sweep.run_sweep(config, checkpoints, args.output, force=args.overwrite, progress=not args.no_progress)
    if not out.files:  # another process of a multi-process sweep: the main one writes
        return 0
    md, html = write_report(folder_report(args.output), args.output)
    steps = ", ".join(str(c["step"]) for c in out.checkpoints)
    print(
        f"checkpoints: {len(out.checkpoints)} (steps {steps}); evaluated now: {len(out.evaluated)}"
        + (f" ({', '.join(out.evaluated)})" if out.evaluated else "")
        + f"; already done: {len(out.skipped)}"
    )
    print(f"wrote {out.files['csv']}, {out.files['json']}, {md}, {html}")
    for name, path in out.files.items():
        if name.startswith("plot_"):
            print(f"wrote {path}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sweep",
        **examples(
            "s2sbench sweep --checkpoints 'ckpts/checkpoint-*' --output runs/sweep",
            "s2sbench sweep --checkpoints 'runs/ckpt_*' --tasks sstorycloze --limit 200 --output runs/sweep-quick",
        ),
        help="evaluate training checkpoints and plot the numbers against step.",
        description=(
            "Evaluate every checkpoint folder matching --checkpoints (loading each once for all tasks and "
            "settings), keep a run folder per checkpoint under OUTPUT/checkpoints/, and write OUTPUT/sweep.csv, "
            "OUTPUT/sweep.json, OUTPUT/plots/sweep_<task>.png and a report. A later call evaluates only the "
            "checkpoints that are new (or whose content or configuration changed). Steps are read from "
            "ckpt_<a>_<b>_<step> (as the reference release) or checkpoint-<step> (transformers Trainer) names."
        ),
    )
    p.add_argument(
        "--checkpoints",
        nargs="+",
        required=True,
        metavar="PATTERN",
        help="checkpoint folders or glob patterns (quote them), e.g. 'runs/ckpt_*'.",
    )
    p.add_argument("--step-regex", help="regex whose group (or named group 'step') is the step in a folder name.")
    options.add_arguments(p, exclude=("model",))  # the checkpoints are the models
    p.add_argument(
        "--output",
        default="s2sbench-sweep",
        help="sweep folder (default: s2sbench-sweep); call again with the same one to add new checkpoints.",
    )
    p.add_argument("--overwrite", action="store_true", help="evaluate every checkpoint again, even those already done.")
    add_progress_flag(p)
    p.set_defaults(func=_cmd_sweep)
