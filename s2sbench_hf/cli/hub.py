"""``s2sbench validate``, ``submit``, ``leaderboard``, ``card``: checking and publishing results.

Argument parsing only: `s2sbench_hf.validate`, `s2sbench_hf.hub` and
`s2sbench_hf.leaderboard` do the work. No token is ever printed: the commands
say where it came from (``--token``, ``HF_TOKEN``, the saved login), not what it is.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _validate_or_report(path: str, *, as_json: bool = False, quiet_ok: bool = False):
    from s2sbench_hf.validate import validate_run

    report = validate_run(path)
    if as_json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    elif not (quiet_ok and report.valid):
        print(report.summary(), file=sys.stdout if report.valid else sys.stderr)
    return report


def _cmd_validate(args: argparse.Namespace) -> int:
    from s2sbench_hf.validate import DatasetResolver, validate_run

    resolver = DatasetResolver()
    report = validate_run(args.results, resolver=resolver)
    if not args.json:
        print(report.summary(), file=sys.stdout if report.valid else sys.stderr)
    rerun = None
    if args.rerun and report.valid:
        from s2sbench_hf.rerun import rerun_items

        rerun = rerun_items(
            report,
            args.rerun,
            resolver=resolver,
            seed=args.rerun_seed,
            model=args.model,
            adapter=args.adapter,
            device=args.device,
            dtype=args.dtype,
            tolerance=args.tolerance,
            trust_remote_code=args.trust_remote_code,
            batch_size=args.batch_size,
            progress=not args.json,
        )
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
    )
    paths = leaderboard.write_board(board, args.output)
    print(leaderboard.summary(board, list(paths.values())))
    return 0


def _cmd_card(args: argparse.Namespace) -> int:
    from s2sbench_hf import hub
    from s2sbench_hf.tasks import S2SBenchError

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
    readme, where = None, "no current card was read"
    if args.from_card:
        readme, where = Path(args.from_card).read_text(encoding="utf-8"), f"starting from {args.from_card}"
    else:
        try:
            readme = hub.fetch_readme(args.repo, token=token)
            where = "updating the current card" if readme is not None else "the repo has no card; creating one"
        except Exception as err:  # offline, no access...: a dry run still shows the new card
            if not args.dry_run:
                raise S2SBenchError(f"cannot read the model card of {args.repo!r}: {err}") from err
            where = f"could not read the current card ({type(err).__name__}); showing a new card"
    plan = hub.plan_card(
        results, args.repo, benchmark, readme=readme, source_url=args.source_url, create_pr=args.create_pr
    )
    print(f"{'Card plan (dry run: nothing is sent)' if args.dry_run else 'Card'}: {where}.")
    print(plan.describe())
    if args.dry_run:
        return 0
    return _push(plan, token, origin, "written")


def _push(plan, token: str | None, origin: str, done: str) -> int:
    """Send a commit plan; say where the token came from (never the token) and where the commit is."""
    from s2sbench_hf.hub_repo import push

    print(f"token:    from {origin}")
    print(f"{done}: {push(plan, token=token)}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="check a results file against its schema, samples and dataset.")
    p.add_argument("results", help="results.json or the run folder that holds it.")
    p.add_argument("--json", action="store_true", help="print the report as JSON.")
    rerun = p.add_argument_group(
        "re-scoring",
        "--rerun N re-scores N random items with the model and compares them with the submitted "
        "records: the one check that catches scores faked consistently. Real models need a GPU for this.",
    )
    rerun.add_argument("--rerun", type=int, metavar="N", help="re-score N random items (default: none).")
    rerun.add_argument("--rerun-seed", type=int, default=0, help="seed of the random draw (default: 0).")
    rerun.add_argument(
        "--model",
        help="model folder or Hub id to load instead of the submitted one (required when "
        "the submission names a local folder).",
    )
    rerun.add_argument("--adapter", help="adapter to use (default: the submission's, never a python: one).")
    rerun.add_argument("--device", default="auto", help="cpu, cuda, cuda:1 ... (default: a GPU if there is one).")
    rerun.add_argument(
        "--dtype",
        choices=["auto", "float32", "bfloat16", "float16"],
        help="default: the dtype the submission recorded.",
    )
    rerun.add_argument(
        "--tolerance",
        type=float,
        default=1e-2,
        help="largest relative difference of a continuation's NLL (default: 0.01).",
    )
    rerun.add_argument("--batch-size", type=int, default=8, help="at most N items per forward pass.")
    rerun.add_argument(
        "--trust-remote-code", action="store_true", help="allow the model's own code (never taken from the submission)."
    )
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("submit", help="validate a run and open a pull request on a Hub results dataset.")
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

    p = sub.add_parser("leaderboard", help="re-validate and rank submissions; write markdown and HTML.")
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
    p.set_defaults(func=_cmd_leaderboard)

    p = sub.add_parser("card", help="write results into a model card's model-index and .eval_results.")
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
