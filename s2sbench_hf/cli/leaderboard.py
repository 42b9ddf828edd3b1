"""``s2sbench leaderboard``: re-validate and rank submissions; write markdown and HTML (`s2sbench_hf.leaderboard`)."""

from __future__ import annotations

import argparse

from s2sbench_hf.cli import add_progress_flag, examples


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


def add_parser(sub: argparse._SubParsersAction) -> None:
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
