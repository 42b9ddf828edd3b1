"""``s2sbench card``: write results into a model card's model-index and ``.eval_results`` (`s2sbench_hf.hub`).
No token is ever printed."""

from __future__ import annotations

import argparse
import sys

from s2sbench_hf.cli import examples
from s2sbench_hf.cli.submit import add_publish_flags, push_plan, validate_or_report
from s2sbench_hf.tasks import S2SBenchError


def _cmd_card(args: argparse.Namespace) -> int:
    from s2sbench_hf import hub

    report = validate_or_report(args.results, quiet_ok=True)
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
    current, where = current_card(args, token)
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
    return push_plan(plan, token, origin, "written")


def current_card(args: argparse.Namespace, token: str | None):
    """The card to start from and how it was found: ``--from-card FILE``, else the repo's card as the Hub answers
    now. A card that cannot be read is an error (`hub.fetch_readme`), also in a dry run: never "no card"."""
    from s2sbench_hf import hub

    if args.from_card:
        return hub.read_card_file(args.from_card), f"starting from {args.from_card}"
    current = hub.fetch_readme(args.repo, token=token)
    if current.text is None:
        return current, "the Hub answered that the repo has no card; creating one"
    return current, f"updating the current card (read at commit {current.commit})"


def add_parser(sub: argparse._SubParsersAction) -> None:
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
    add_publish_flags(p, dry_run="print what would be written; send nothing.")
    p.add_argument("--skip-validation", action="store_true", help="write even if the results do not validate.")
    p.set_defaults(func=_cmd_card)
