"""``s2sbench prompts``: the exact framed inputs of a few items, their tokens and which are scored.

The model, data and framing flags are the run's (`s2sbench_hf.options`); the work is
`s2sbench_hf.prompts.show_prompts`.
"""

from __future__ import annotations

import argparse

from s2sbench_hf import options
from s2sbench_hf.cli import add_progress_flag, examples

NOT_PROMPT_OPTIONS = (
    "gap",
    "limit",
    "batch_size",
    "max_batch_tokens",
    "scoring_rule",
    "tie_policy",
    "n_bootstrap",
    "seed",
)
"""Run options that decide how items are batched, scored or summarized, never what a prompt is: no flags here."""

DEFAULT_ITEMS = 2
"""Items shown per task and setting unless ``--items`` says otherwise."""


def _cmd_prompts(args: argparse.Namespace) -> int:
    from s2sbench_hf.prompts import show_prompts  # loads torch and transformers: only when the command runs

    for block in show_prompts(options.from_namespace(args), args.items, progress=not args.no_progress):
        print(block, end="\n\n")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    prompts = sub.add_parser(
        "prompts",
        **examples(
            "s2sbench prompts --model Qwen/Qwen2-Audio-7B --tasks sstorycloze --items 1",
            "s2sbench prompts --model Qwen/Qwen2-Audio-7B --framing reference-as-shipped --chat-template",
        ),
        help="show the framed inputs of the first items, their tokens and which are scored (as lm-eval's --write_out).",
    )
    options.add_arguments(prompts, exclude=NOT_PROMPT_OPTIONS)
    prompts.add_argument(
        "--items",
        type=options.integer(1),
        default=DEFAULT_ITEMS,
        metavar="N",
        help=f"items shown per task and setting (default: {DEFAULT_ITEMS}).",
    )
    add_progress_flag(prompts)
    prompts.set_defaults(func=_cmd_prompts)
