"""``s2sbench metric install|push``: make ``evaluate.load("s2sbench")`` work, and publish the module as a Space.

Argument parsing only: `s2sbench_hf.metric_module` does the work. No token is
ever printed: the push says where it came from, not what it is.
"""

from __future__ import annotations

import argparse

from s2sbench_hf.cli import examples


def _cmd_install(args: argparse.Namespace) -> int:
    from s2sbench_hf import metric_module

    installation = metric_module.install()
    for broken in installation.removed:
        print(f"repaired: removed {broken}, a broken copy of the module (an interrupted install?).")
    print(
        f'evaluate.load("{metric_module.MODULE_NAME}") now loads {installation.module} (offline, from any directory).'
    )
    return 0


def _cmd_push(args: argparse.Namespace) -> int:
    from s2sbench_hf import hub, metric_module

    plan = metric_module.plan_push(args.repo)
    unfinished = metric_module.placeholder_files()
    if args.dry_run:
        print("Space plan (dry run: nothing is sent):")
        print(plan.describe())
        if unfinished:
            print(
                f"warning: {', '.join(unfinished)} still name {metric_module.OWNER_PLACEHOLDER!r}; "
                "a real push refuses until they name the package's repository."
            )
        return 0
    token, origin = hub.resolve_token(args.token)
    print(plan.describe())
    print(f"token:    from {origin}")
    print(f'pushed: {metric_module.push(plan, token=token)}; load it with evaluate.load("{plan.repo_id}")')
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    metric = sub.add_parser("metric", help="the evaluate module: register it locally, or push it as a Space.")
    commands = metric.add_subparsers(dest="metric_command", required=True)
    install = commands.add_parser(
        "install",
        **examples("s2sbench metric install"),
        help='register the module so that evaluate.load("s2sbench") works offline (idempotent; repairs a broken '
        "copy that an interrupted install left).",
    )
    install.set_defaults(func=_cmd_install)
    push = commands.add_parser(
        "push",
        **examples("s2sbench metric push --repo my-org/s2sbench --dry-run"),
        help="create the Space ORG/s2sbench and upload the module, card and app.",
    )
    push.add_argument("--repo", required=True, help="the Space, ORG/s2sbench.")
    push.add_argument("--dry-run", action="store_true", help="print the plan; send nothing.")
    push.add_argument("--token", help="Hub token (default: HF_TOKEN or the saved login). Never printed.")
    push.set_defaults(func=_cmd_push)
