"""``s2sbench tiny-model``: save a tiny random-weight model, for smoke tests and the demo (`s2sbench_hf.testing`)."""

from __future__ import annotations

import argparse

from s2sbench_hf import options
from s2sbench_hf.cli import examples


def _cmd_tiny_model(args: argparse.Namespace) -> int:
    from s2sbench_hf.testing import make_tiny_model

    print(
        make_tiny_model(args.family, args.output, seed=args.seed, tokenizer=args.tokenizer, hub_layout=args.hub_layout)
    )
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    tiny = sub.add_parser(
        "tiny-model",
        **examples(
            "s2sbench tiny-model --family qwen2-audio --output tiny-model",
            "s2sbench tiny-model --family voxtral --seed 1 --output tiny-voxtral",
        ),
        help="save a tiny random-weight model (for smoke tests and the demo).",
    )
    tiny.add_argument("--family", default="qwen2-audio", help="adapter family (default: qwen2-audio).")
    tiny.add_argument("--seed", type=options.integer(0, options.MAX_SEED), default=0, help="seed of the weights.")
    tiny.add_argument("--output", required=True, help="folder to write.")
    tiny.add_argument(
        "--tokenizer",
        metavar="DIR_OR_NAME",
        help="build it on this tokenizer instead of the stand-in BPE: a folder holding a saved tokenizer, or the "
        "name of a real one (s2sbench_hf.real_tokenizers); the family's special tokens are added where it lacks them.",
    )
    tiny.add_argument(
        "--hub-layout",
        action="store_true",
        help="save the weights under the names of the family's published checkpoints (e.g. Qwen2-Audio-7B's "
        "language_model.model.*), checked, instead of transformers 5's own module names.",
    )
    tiny.set_defaults(func=_cmd_tiny_model)
