"""``s2sbench validate``, ``submit``, ``leaderboard``, ``card``: checking and publishing results.

Argument parsing only: `s2sbench_hf.validate`, `s2sbench_hf.hub` and
`s2sbench_hf.leaderboard` do the work. No token is ever printed: the commands
say where it came from (``--token``, ``HF_TOKEN``, the saved login), not what it is.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields

from s2sbench_hf import options
from s2sbench_hf.cli import add_progress_flag, examples
from s2sbench_hf.tasks import S2SBenchError


def _results_there(path: str) -> str:
    """``path``, when it is a results.json or a folder that holds one. Otherwise there is nothing to check: a mistake
    on the command line (exit 2, one line), not a submission that fails its checks (exit 1)."""
    from s2sbench_hf.validate import results_path

    if not results_path(path).is_file():
        raise S2SBenchError(
            f"{path!r} is neither a results.json nor a folder that holds one: give a run folder written by "
            "`s2sbench run` (or its results.json)."
        )
    return path


def _validate_or_report(path: str, *, as_json: bool = False, quiet_ok: bool = False):
    from s2sbench_hf.validate import validate_run

    report = validate_run(_results_there(path))
    if as_json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    elif not (quiet_ok and report.valid):
        print(report.summary(), file=sys.stdout if report.valid else sys.stderr)
    return report


def _cmd_validate(args: argparse.Namespace) -> int:
    from s2sbench_hf.validate import DatasetResolver, validate_run

    rerun_options = options.RerunOptions(**{f.name: getattr(args, f.name) for f in fields(options.RerunOptions)})
    resolver = DatasetResolver(progress=not args.json)  # --json is for scripts: no bar, as for --rerun
    report = validate_run(_results_there(args.results), resolver=resolver)
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


def _cmd_submit(args: argparse.Namespace) -> int:
    from s2sbench_hf import hub

    report = _validate_or_report(args.output_dir)
    if not report.valid:
        print(
            "error: the run does not validate; nothing was submitted. Fix the problems above (or re-run).",
            file=sys.stderr,
        )
        return 1
    plan = hub.plan_submission(args.output_dir, args.repo, create_pr=args.create_pr, results=report.results)
    if args.dry_run:
        print("Submission plan (dry run: nothing is sent):")
        print(plan.describe())
        return 0
    token, origin = hub.resolve_token(args.token)
    print(plan.describe())
    return _push(plan, token, origin, "submitted")


def _cmd_leaderboard(args: argparse.Namespace) -> int:
    from s2sbench_hf import hub, leaderboard

    token = hub.resolve_token(args.token)[0] if args.token else None
    board = leaderboard.build_board(
        args.source,
        sort_by=args.sort_by,
        revision=args.revision,
        token=token,
        accepted=args.accept or leaderboard.DEFAULT_ACCEPTED,
        progress=not args.no_progress,
    )
    paths = leaderboard.write_board(board, args.output)
    print(leaderboard.summary(board, list(paths.values())))
    return 0


def _cmd_card(args: argparse.Namespace) -> int:
    from s2sbench_hf import hub

    report = _validate_or_report(args.results, quiet_ok=True)
    if not report.valid and not args.skip_validation:
        print(
            "error: the results do not validate; the card was not written (--skip-validation to override).",
            file=sys.stderr,
        )
        return 1
    results = report.results
    if results is None:
        return 1
    benchmark = args.benchmark or hub.default_benchmark(results)
    if not benchmark:
        raise S2SBenchError(
            "the results were not computed on a Hub dataset (the bundled samples or a local folder), so there "
            "is no benchmark repo to link the results to. Pass --benchmark ORG/NAME (the S2SBench dataset id)."
        )
    notes = hub.protocol_notes(results)
    if notes:
        print(f"warning: these results differ from the standard protocol: {notes}.", file=sys.stderr)
    token, origin = hub.resolve_token(args.token)
    current, where = _current_card(args, token)
    plan = hub.plan_card(
        results,
        args.repo,
        benchmark,
        readme=current.text,
        source_url=args.source_url,
        create_pr=args.create_pr,
        parent_commit=current.commit,
    )
    print(f"{'Card plan (dry run: nothing is sent)' if args.dry_run else 'Card'}: {where}.")
    print(plan.describe())
    if args.dry_run:
        return 0
    return _push(plan, token, origin, "written")


def _current_card(args: argparse.Namespace, token: str | None):
    """The card to start from and how it was found: ``--from-card FILE``, else the repo's card as the Hub answers
    now. A card that cannot be read is an error (`hub.fetch_readme`), also in a dry run: never "no card"."""
    from s2sbench_hf import hub

    if args.from_card:
        return hub.read_card_file(args.from_card), f"starting from {args.from_card}"
    current = hub.fetch_readme(args.repo, token=token)
    if current.text is None:
        return current, "the Hub answered that the repo has no card; creating one"
    return current, f"updating the current card (read at commit {current.commit})"


def _push(plan, token: str | None, origin: str, done: str) -> int:
    """Send a commit plan; say where the token came from (never the token) and where the commit is."""
    from s2sbench_hf.hub_repo import push

    print(f"token:    from {origin}")
    print(f"{done}: {push(plan, token=token)}")
    return 0


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

    p = sub.add_parser(
        "submit",
        **examples("s2sbench submit runs/qwen2-audio --repo my-org/s2sbench-results --dry-run"),
        help="validate a run and open a pull request on a Hub results dataset.",
    )
    p.add_argument("output_dir", help="the run folder (results.json + samples_<task>.jsonl).")
    p.add_argument("--repo", required=True, help="the results dataset repo, ORG/NAME.")
    p.add_argument(
        "--create-pr",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="open a pull request (default) or, with --no-create-pr, commit to main.",
    )
    p.add_argument("--dry-run", action="store_true", help="print the commit plan; send nothing.")
    p.add_argument("--token", help="Hub token (default: HF_TOKEN or the saved login). Never printed.")
    p.set_defaults(func=_cmd_submit)

    p = sub.add_parser(
        "leaderboard",
        **examples(
            "s2sbench leaderboard my-org/s2sbench-results --output leaderboard",
            "s2sbench leaderboard ./submissions --sort-by gap --output leaderboard",
        ),
        help="re-validate and rank submissions; write markdown and HTML.",
    )
    p.add_argument("source", help="a folder with submissions/**/results.json, or a Hub results dataset id.")
    p.add_argument("--output", default="leaderboard", help="folder to write (default: leaderboard).")
    p.add_argument(
        "--sort-by",
        default="audio_accuracy",
        help="text_accuracy, audio_accuracy (default), gap, relative_gap, or TASK:METRIC.",
    )
    p.add_argument("--revision", help="revision of a Hub results dataset.")
    p.add_argument(
        "--accept",
        action="append",
        metavar="DATASET[@REVISION]",
        help="a dataset whose runs are ranked (repeat for several; 'samples' for the bundled sample "
        "sets). Runs on any other dataset are listed apart, not ranked. Default: "
        "undobug/S2SBench (the official release), any revision.",
    )
    p.add_argument("--token", help="Hub token for a private results dataset. Never printed.")
    add_progress_flag(p)
    p.set_defaults(func=_cmd_leaderboard)

    p = sub.add_parser(
        "card",
        **examples("s2sbench card runs/qwen2-audio --repo my-org/my-speech-llm --dry-run"),
        help="write results into a model card's model-index and .eval_results.",
    )
    p.add_argument("results", help="results.json or the run folder that holds it.")
    p.add_argument("--repo", required=True, help="the model repo to write to, ORG/NAME.")
    p.add_argument("--benchmark", help="the S2SBench dataset id on the Hub (default: the dataset the run used).")
    p.add_argument("--source-url", help="a link to the evaluation (e.g. the submission in the results dataset).")
    p.add_argument("--from-card", help="a local README.md to update instead of the repo's current card.")
    p.add_argument(
        "--create-pr",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="open a pull request (default) or, with --no-create-pr, commit to main.",
    )
    p.add_argument("--dry-run", action="store_true", help="print what would be written; send nothing.")
    p.add_argument("--skip-validation", action="store_true", help="write even if the results do not validate.")
    p.add_argument("--token", help="Hub token (default: HF_TOKEN or the saved login). Never printed.")
    p.set_defaults(func=_cmd_card)
