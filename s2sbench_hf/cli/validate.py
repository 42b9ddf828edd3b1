"""``s2sbench validate``: check a results file against its schema, samples and dataset, and re-score some items.

Argument parsing only: `s2sbench_hf.validate` and `s2sbench_hf.rerun` do the work.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields

from s2sbench_hf import options
from s2sbench_hf.cli import examples
from s2sbench_hf.tasks import S2SBenchError


def results_there(path: str) -> str:
    """``path``, when it is a results.json or a folder that holds one. Otherwise there is nothing to check: a mistake
    on the command line (exit 2, one line), not a submission that fails its checks (exit 1)."""
    from s2sbench_hf.validate import results_path

    if not results_path(path).is_file():
        raise S2SBenchError(
            f"{path!r} is neither a results.json nor a folder that holds one: give a run folder written by "
            "`s2sbench run` (or its results.json)."
        )
    return path


def _cmd_validate(args: argparse.Namespace) -> int:
    from s2sbench_hf.validate import DatasetResolver, validate_run

    rerun_options = options.RerunOptions(**{f.name: getattr(args, f.name) for f in fields(options.RerunOptions)})
    resolver = DatasetResolver(progress=not args.json)  # --json is for scripts: no bar, as for --rerun
    report = validate_run(results_there(args.results), resolver=resolver)
    if not args.json:
        print(report.summary(), file=sys.stdout if report.valid else sys.stderr)
    rerun = None
    if rerun_options.rerun is not None and report.valid:
        from s2sbench_hf.rerun import rerun_items

        rerun = rerun_items(report, rerun_options, resolver=resolver, progress=not args.json)
        if not args.json:
            print(rerun.summary(), file=sys.stdout if rerun.valid else sys.stderr)
    if args.json:
        print(
            json.dumps(
                {**report.to_dict(), **({"rerun": rerun.to_dict()} if rerun else {})}, ensure_ascii=False, indent=2
            )
        )
    return 0 if report.valid and (rerun is None or rerun.valid) else 1


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "validate",
        **examples(
            "s2sbench validate runs/qwen2-audio",
            "s2sbench validate runs/qwen2-audio/results.json --rerun 20 --rerun-seed 7 --json",
        ),
        help="check a results file against its schema, samples and dataset.",
    )
    p.add_argument("results", help="results.json or the run folder that holds it.")
    p.add_argument("--json", action="store_true", help="print the report as JSON.")
    rerun = p.add_argument_group(
        "re-scoring",
        "--rerun N re-scores N items drawn at random with the model and compares each score and each decision "
        "with the submitted records: the one check that catches scores faked consistently. Real models need a GPU "
        "for this.",
    )
    options.add_arguments(rerun, options.RerunOptions)
    p.set_defaults(func=_cmd_validate)
