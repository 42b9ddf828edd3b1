"""``s2sbench build convert|source|push|samples``: make and publish the Hub dataset.

The work is done by `s2sbench_hf.data.release` (convert; `s2sbench_hf.data.converter` for
``convert --source``), `s2sbench_hf.data.builder`
(source, samples) and `s2sbench_hf.data.hub_folder` (push); this module only parses.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from s2sbench_hf import options
from s2sbench_hf.cli import add_progress_flag, examples
from s2sbench_hf.data.loaded import DataSourceError
from s2sbench_hf.files import ensure_writable_folder

MAX_WORKERS = 256
"""Synthesis processes at most (``--workers``): each loads its own text-to-speech engine."""


def _comma_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _int_list(text: str) -> list[int]:
    try:
        return [int(part) for part in _comma_list(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers separated by commas, got {text!r}") from None


def _dataset_folder(output: str) -> str:
    """``--output``, checked before any work: a folder of its own (the dataset folder is written beside it and renamed
    into place, replacing what is there, so "", ".", ".." or "/" would replace the folder the command runs in), not a
    file, in a place where files can be written."""
    if Path(output).name in ("", ".."):
        raise DataSourceError(
            f"--output {output!r} names no folder of its own: give a new folder (--output NAME), which is written as a "
            "whole and replaces what is there."
        )
    if Path(output).exists() and not Path(output).is_dir():
        raise DataSourceError(f"--output {output!r} is a file: give a folder for the dataset.")
    ensure_writable_folder(Path(output).parent)
    return output


def _cmd_convert(args: argparse.Namespace) -> int:
    if args.source is not None:
        return _convert_source(args)
    from s2sbench_hf.data.release import convert_release

    folder = convert_release(
        _dataset_folder(args.output),
        args.task,
        args.release,
        jsonl=args.jsonl,
        audio_dir=args.audio_dir,
        choice_audio_dir=args.choice_audio_dir,
        revision=args.revision,
        build_info={"repo_id": args.repo} if args.repo else None,
        progress=not args.no_progress,
    )
    print(f"wrote {folder}")
    return 0


def _convert_source(args: argparse.Namespace) -> int:
    """``build convert --source``: the tasks as a run reads them (any layout, the speech-LM ones too), converted."""
    from s2sbench_hf.data.converter import convert_source  # reads with the data readers (datasets): when run only

    given = [flag for flag, value in (("--release", args.release), ("--jsonl", args.jsonl)) if value is not None]
    given += [
        flag
        for flag, value in (("--audio-dir", args.audio_dir), ("--choice-audio-dir", args.choice_audio_dir))
        if value
    ]
    if given:
        raise DataSourceError(f"--source reads its own layout; leave out {', '.join(given)} (they name release files)")
    folder = convert_source(
        _dataset_folder(args.output),
        args.task or [],
        args.source,
        revision=args.revision,
        build_info={"repo_id": args.repo} if args.repo else None,
        progress=not args.no_progress,
    )
    print(f"wrote {folder}")
    return 0


def _cmd_source(args: argparse.Namespace) -> int:
    from s2sbench_hf.data.builder import ColumnMap, SpeechConfig, build_dataset

    columns = ColumnMap(
        context=args.context_column,
        choices=None if args.choice_columns else args.choices_column,
        choice_columns=tuple(args.choice_columns) if args.choice_columns else None,
        label=args.label_column,
        id=args.id_column,
        subject=args.subject_column,
    )
    speech = SpeechConfig(
        engine=args.engine,
        voices=args.voices,
        rates=args.rates,
        seed=args.seed,
        device=args.device,
        revision=args.engine_revision,
        choices_audio=not args.no_choice_audio,
    )
    folder = build_dataset(
        args.input,
        _dataset_folder(args.output),
        task_id=args.task_id,
        language=args.language,
        columns=columns,
        speech=speech,
        workers=args.workers,
        split=args.split,
        config=args.config,
        revision=args.revision,
        limit=args.limit,
        description=args.description or "",
        progress=not args.no_progress,
        build_info={"repo_id": args.repo} if args.repo else None,
    )
    print(f"wrote {folder}")
    return 0


def _cmd_push(args: argparse.Namespace) -> int:
    from s2sbench_hf.data import hub_folder
    from s2sbench_hf.hub_repo import push

    plan = hub_folder.plan_push(
        args.folder, args.repo, create_pr=args.create_pr, private=args.private, commit_message=args.message
    )
    print(plan.describe())
    if args.dry_run:
        print("dry run: nothing was uploaded.")
        return 0
    print(f"uploaded: {push(plan)}")
    return 0


def _cmd_samples(args: argparse.Namespace) -> int:
    from s2sbench_hf.data.samples import build_samples

    print(
        build_samples(
            None if args.output is None else Path(_dataset_folder(args.output)),
            force=args.force or args.output is not None,
            workers=args.workers,
            progress=not args.no_progress,
        )
    )
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    build = sub.add_parser("build", help="build, convert and publish the S2SBench Hub dataset.")
    commands = build.add_subparsers(dest="build_command", required=True)
    for add in (_add_convert, _add_source, _add_push, _add_samples):
        add(commands)


def _add_convert(commands: argparse._SubParsersAction) -> None:
    """``build convert``: the reference release, or any source a run reads, as a Hub dataset folder."""
    convert = commands.add_parser(
        "convert",
        **examples(
            "s2sbench build convert --release undobug/S2SBench --output s2sbench-hub",
            "s2sbench build convert --jsonl zh_story.jsonl --audio-dir zh_story --task zh_sstorycloze "
            "--output s2sbench-hub",
            "s2sbench build convert --source slprl/SALMon --task salmon_bg_alignment salmon_speaker_consistency "
            "--output my-salmon",
        ),
        help="convert the reference release (jsonl + wavs), or any source a run reads (--source), into a Hub "
        "dataset folder.",
        description="Accepted layouts: DIR/<task>/data.jsonl + DIR/<task>/wavs/<uttid>.wav; the original release "
        "(DIR/S2S/StoryCloze/sStory_s2t.jsonl + s-story-firstspeech/, zh_story.jsonl + zh_story/, "
        "DIR/S2S/cmmlu/cmmlu_rewrite_4.jsonl + cmmlu_rewrite/), also one folder down; a Hub dataset in one of "
        "these layouts (or holding a .zip/.tar.gz of one); or --jsonl FILE --audio-dir DIR for one task. The "
        "continuations' speech, where a release has it (DIR/<task>/choice_wavs/: a story row's ending as "
        "<uttid>.wav, an sCMMLU option as <uttid>_<A-D>.wav; or --choice-audio-dir), becomes `choices_audio`.",
    )
    convert.add_argument(
        "--release",
        help="the release folder, or its Hub dataset id (e.g. undobug/S2SBench: only "
        "the tasks' files are downloaded; archives in it are extracted once into the cache).",
    )
    convert.add_argument(
        "--source",
        help="instead of a release: a Hub dataset id or folder in any layout `s2sbench run --dataset` reads (the "
        "speech-LM sets' Hub Parquet pairs, WebDataset shards, a zip of wav pairs, a cross-modal folder); the "
        "--task items are written as a run reads them.",
    )
    convert.add_argument("--revision", help="revision of a Hub release or --source (branch, tag or commit).")
    convert.add_argument(
        "--task", nargs="+", metavar="TASK", help="tasks to convert (default: every task found in the release)."
    )
    convert.add_argument("--jsonl", help="the rows of one task (instead of --release).")
    convert.add_argument("--audio-dir", help="the folder of its <uttid>.wav files (with --jsonl).")
    convert.add_argument(
        "--choice-audio-dir",
        help="the folder of its continuations' speech (with --jsonl): "
        "<uttid>.wav per story row, <uttid>_<A-D>.wav per sCMMLU option.",
    )
    convert.add_argument("--output", required=True, help="dataset folder to write (replaced atomically).")
    convert.add_argument("--repo", help="the Hub id it will have (used in the card's examples).")
    add_progress_flag(convert)
    convert.set_defaults(func=_cmd_convert)


def _add_source(commands: argparse._SubParsersAction) -> None:
    """``build source``: a spoken benchmark from a text multiple-choice source."""
    source = commands.add_parser(
        "source",
        **examples(
            "s2sbench build source --input questions.jsonl --task-id my_quiz --language en --output my-quiz-hub"
        ),
        help="build a spoken benchmark from a text multiple-choice source.",
    )
    source.add_argument("--input", required=True, help="a .jsonl or .csv file, or a Hugging Face dataset id or folder.")
    source.add_argument(
        "--task-id", required=True, help="the task (dataset config) name: an S2SBench task or a new one."
    )
    source.add_argument("--language", help="en, zh, ... (required for a new task).")
    source.add_argument("--description", help="one line about the task, for the card.")
    _add_source_columns(source)
    source.add_argument("--split", default="test", help="split of a Hugging Face dataset (default: test).")
    source.add_argument("--config", help="config of a Hugging Face dataset.")
    source.add_argument("--revision", help="revision of a Hugging Face dataset.")
    source.add_argument("--limit", type=options.integer(1), help="only the first N rows.")
    _add_source_speech(source)
    source.add_argument("--no-choice-audio", action="store_true", help="do not speak the continuations.")
    source.add_argument("--output", required=True, help="dataset folder to write (replaced atomically).")
    source.add_argument("--repo", help="the Hub id it will have (used in the card's examples).")
    add_progress_flag(source)
    source.set_defaults(func=_cmd_source)


def _add_source_columns(source: argparse.ArgumentParser) -> None:
    """``build source``: which column of the text source is what."""
    source.add_argument("--context-column", default="context", help="column of the context text (default: context).")
    source.add_argument(
        "--choices-column",
        default="choices",
        help="list column of the continuations (default: choices; csv: a JSON list).",
    )
    source.add_argument(
        "--choice-columns", nargs="+", metavar="COLUMN", help="one column per continuation instead, e.g. A B C D."
    )
    source.add_argument(
        "--label-column",
        default="label",
        help="the answer: 0-based index, a choice column's name, a letter, or the answer's text.",
    )
    source.add_argument("--id-column", help="item ids (default: 'id' if present, else the row number).")
    source.add_argument("--subject-column", help="subject (default: 'subject' if present).")


def _add_source_speech(source: argparse.ArgumentParser) -> None:
    """``build source``: how the text is spoken (engine, voices, rates, workers)."""
    source.add_argument(
        "--engine",
        default="espeak",
        help="espeak (espeak-ng, offline; default) or a transformers text-to-speech model id "
        "(e.g. facebook/mms-tts-eng).",
    )
    source.add_argument("--engine-revision", help="revision of the text-to-speech model.")
    source.add_argument(
        "--voices",
        type=_comma_list,
        help="comma-separated voices, one picked per item by a seeded hash (espeak-ng: en-us,en-gb; "
        "transformers: default, a speaker id, or a .npy speaker embedding).",
    )
    source.add_argument("--rates", type=_int_list, help="comma-separated espeak-ng speaking rates (words per minute).")
    source.add_argument(
        "--seed",
        type=options.integer(0, options.MAX_SEED),
        default=0,
        help="seed of the voice choice and of sampling TTS models.",
    )
    source.add_argument(
        "--workers",
        type=options.integer(1, MAX_WORKERS),
        default=1,
        help="synthesis processes (the output does not depend on it).",
    )
    source.add_argument("--device", default="cpu", help="device of a transformers TTS model (default: cpu).")


def _add_push(commands: argparse._SubParsersAction) -> None:
    """``build push``: a dataset folder to the Hub."""
    push = commands.add_parser(
        "push",
        **examples("s2sbench build push --folder s2sbench-hub --repo my-org/S2SBench --dry-run"),
        help="upload a dataset folder to the Hub (token from `hf auth login`).",
    )
    push.add_argument("--folder", required=True, help="the dataset folder (from convert, source or samples).")
    push.add_argument("--repo", required=True, help="ORG/NAME of the dataset repository (created if missing).")
    push.add_argument("--create-pr", action="store_true", help="open a pull request instead of committing to main.")
    push.add_argument("--private", action="store_true", help="create the repository private.")
    push.add_argument("--message", help="commit message.")
    push.add_argument("--dry-run", action="store_true", help="print the commit plan; no network.")
    push.set_defaults(func=_cmd_push)


def _add_samples(commands: argparse._SubParsersAction) -> None:
    """``build samples``: the bundled sample sets, (re)built."""
    samples = commands.add_parser(
        "samples",
        **examples("s2sbench build samples --force"),
        help="(re)build the bundled sample sets with the builder.",
    )
    samples.add_argument("--output", help="write them here (default: the cache folder that `s2sbench run` reads).")
    samples.add_argument("--force", action="store_true", help="rebuild even if the cache has them.")
    samples.add_argument(
        "--workers", type=options.integer(1, MAX_WORKERS), help="synthesis processes (default: CPU cores, at most 4)."
    )
    add_progress_flag(samples)
    samples.set_defaults(func=_cmd_samples)
