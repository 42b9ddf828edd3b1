"""``s2sbench submit``: validate a run and open a pull request on a Hub results dataset; and the publishing helpers
that ``card`` shares. No token is ever printed: the commands say where it came from (``--token``, ``HF_TOKEN``,
the saved login), not what it is.
"""

from __future__ import annotations

import argparse
import json
import sys

from s2sbench_hf.cli import examples
from s2sbench_hf.cli.validate import results_there


def validate_or_report(path: str, *, as_json: bool = False, quiet_ok: bool = False):
    from s2sbench_hf.validate import validate_run

    report = validate_run(results_there(path))
    if as_json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    elif not (quiet_ok and report.valid):
        print(report.summary(), file=sys.stdout if report.valid else sys.stderr)
    return report


def push_plan(plan, token: str | None, origin: str, done: str) -> int:
    """Send a commit plan; say where the token came from (never the token) and where the commit is."""
    from s2sbench_hf.hub_repo import push

    print(f"token:    from {origin}")
    print(f"{done}: {push(plan, token=token)}")
    return 0


def add_publish_flags(p: argparse.ArgumentParser, dry_run: str) -> None:
    """The flags of every command that pushes to the Hub (``submit``, ``card``): one definition, one help."""
    p.add_argument(
        "--create-pr",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="open a pull request (default) or, with --no-create-pr, commit to main.",
    )
    p.add_argument("--dry-run", action="store_true", help=dry_run)
    p.add_argument("--token", help="Hub token (default: HF_TOKEN or the saved login). Never printed.")


def _cmd_submit(args: argparse.Namespace) -> int:
    from s2sbench_hf import hub

    report = validate_or_report(args.output_dir)
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
    return push_plan(plan, token, origin, "submitted")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "submit",
        **examples("s2sbench submit runs/qwen2-audio --repo my-org/s2sbench-results --dry-run"),
        help="validate a run and open a pull request on a Hub results dataset.",
    )
    p.add_argument("output_dir", help="the run folder (results.json + samples_<task>.jsonl).")
    p.add_argument("--repo", required=True, help="the results dataset repo, ORG/NAME.")
    add_publish_flags(p, dry_run="print the commit plan; send nothing.")
    p.set_defaults(func=_cmd_submit)
