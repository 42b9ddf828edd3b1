"""``s2sbench run``: evaluate one model; its flags are shared with the commands that run models."""

from __future__ import annotations

import argparse
import sys

from s2sbench_hf.protocol import SCORING_RULES, TIE_POLICIES
from s2sbench_hf.runner import RunConfig
from s2sbench_hf.tasks import SETTINGS, TASKS


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="Hub model id or local folder (loaded the same way).")
    p.add_argument("--adapter", help="model family (default: detected from the config), or python:module:Class.")
    p.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS), metavar="TASK",
                   help=f"tasks to run (default: all of {', '.join(TASKS)}).")
    p.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS),
                   help="prompt modalities (default: text audio).")
    p.add_argument("--dataset", help="dataset folder or Hub id (default: the bundled sample sets).")
    p.add_argument("--dataset-revision", help="revision of a Hub dataset.")
    p.add_argument("--limit", type=int, help="score only the first N items of each task.")
    p.add_argument("--batch-size", type=int, default=8, help="at most N items per forward pass.")
    p.add_argument("--max-batch-tokens", type=int,
                   help="token budget per batch: continuations x (longest prompt + longest continuation).")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:1 ... (default: a GPU if there is one).")
    p.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16", "float16"])
    p.add_argument("--revision", help="model revision on the Hub.")
    p.add_argument("--attn-implementation", choices=["sdpa", "flash_attention_2", "eager"],
                   help="attention kernel (default: transformers' choice, SDPA where the model supports it).")
    p.add_argument("--trust-remote-code", action="store_true", help="allow the model's own code (never implied).")
    p.add_argument("--chat-template", action="store_true",
                   help="wrap each prompt in the model's chat template as a user turn (default: base framing).")
    p.add_argument("--asr-model", help="with --adapter cascade: the Whisper checkpoint that transcribes the speech.")
    p.add_argument("--scoring-rule", default="mean", choices=SCORING_RULES,
                   help="mean NLL per token (the paper's), summed NLL, or NLL per byte.")
    p.add_argument("--tie-policy", default="reference", choices=TIE_POLICIES,
                   help="reference: as the reference scripts (stories: tie=wrong, sCMMLU: tie=right); half: 0.5.")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the intervals.")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed.")
    p.add_argument("--audio-prefix", help="framing text before the speech (default: each task's reference text).")
    p.add_argument("--text-separator", help="between text context and continuation (default: the task's).")
    p.add_argument("--output", default="s2sbench-output", help="output folder (default: s2sbench-output).")
    p.add_argument("--overwrite", action="store_true", help="ignore and delete the cached records of DIR.")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars.")


def config_from_args(args: argparse.Namespace, **overrides) -> RunConfig:
    """The `RunConfig` that the flags of `add_run_arguments` describe."""
    values = dict(
        model=args.model, adapter=args.adapter, tasks=args.tasks, settings=args.settings, dataset=args.dataset,
        dataset_revision=args.dataset_revision, limit=args.limit, batch_size=args.batch_size,
        max_batch_tokens=args.max_batch_tokens, device=args.device,
        dtype=args.dtype, revision=args.revision, trust_remote_code=args.trust_remote_code,
        chat_template=args.chat_template, asr_model=args.asr_model,
        attn_implementation=args.attn_implementation,
        scoring_rule=args.scoring_rule, tie_policy=args.tie_policy, n_bootstrap=args.bootstrap, seed=args.seed,
        audio_prefix=args.audio_prefix, text_separator=args.text_separator,
    )
    values.update(overrides)
    return RunConfig(**values)


def _cmd_run(args: argparse.Namespace) -> int:
    from s2sbench_hf.tables import format_table
    from s2sbench_hf.runner import evaluate_model, save_run

    config = config_from_args(args)
    run = evaluate_model(config, progress=not args.no_progress, output=args.output, overwrite=args.overwrite)
    if not run.is_main:
        return 0
    path = save_run(run, args.output)
    print(format_table(run.results))
    for err in run.errors:
        print(f"warning: {err}", file=sys.stderr)
    print(f"\nwrote {path} ({len(run.errors)} item error(s))")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser("run", help="evaluate a model in the text and audio settings.")
    add_run_arguments(run)
    run.set_defaults(func=_cmd_run)
