"""Build a spoken benchmark from any text multiple-choice source.

A source is a jsonl file, a csv file, a Hugging Face dataset (Hub id or local
folder, read with `datasets`) or a list of dicts, plus a column mapping
(`ColumnMap`): the context column, the choices (one list column, or one column
per choice: ``A B C D``), the label and optionally the id and subject. The label
may be the answer's 0-based index, a choice column's name (``"B"``), a letter
(``"B"`` = the second choice) or the answer's text; it must name one of the
choices.

Speech is synthesized (`tts.synthesize_jobs`) for every context AND every
continuation (``choices_audio``, for the speech-continuation settings) with
espeak-ng or a transformers text-to-speech model, resampled to 16 kHz mono,
with a progress bar and several worker processes. Each item gets one voice
(and espeak-ng speaking rate) from the given lists, chosen by `tts.pick_voice`
(SHA-256 of (seed, item id) modulo the number of voices) and recorded in the
``voice`` column, so a multi-speaker set is reproducible and independent of the
worker count. The output is a dataset folder (`hub_folder.write_dataset_folder`):
Parquet with embedded audio, a card, an eval.yaml, written atomically. A task
id that is not an S2SBench set gets its spec (`new_task`: language, number of
choices, framing, tie rule) in the card, so ``s2sbench run --tasks <id>
--dataset <folder>`` runs it.

Everything is checked before anything is synthesized: a source with problems
(unknown column, empty text, duplicate id, label not among the choices, wrong
number of choices, unreadable line) raises ONE `BadSourceError` listing every
offending row, and nothing is written; so does a text the engine cannot speak.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import datasets

from s2sbench_hf.data.hub_folder import (
    MAX_SHARD_BYTES,
    SAMPLING_RATE,
    encode_wav,
    write_dataset_folder,
)
from s2sbench_hf.data.loaded import BadSourceError, DataSourceError
from s2sbench_hf.data.tts import (
    SpeechJob,
    TTSEngine,
    TTSError,
    Voice,
    make_engine,
    make_voices,
    pick_voice,
    synthesize_jobs,
)
from s2sbench_hf.jsonl import jsonl_objects
from s2sbench_hf.tasks import TASK_ID_PATTERN, TASKS, Item, Task, framing_for_language


@dataclass(frozen=True)
class ColumnMap:
    """Which source columns hold what.

    ``choices`` names one list column; ``choice_columns`` (if given) one column
    per choice instead. ``id`` and ``subject`` default to the columns ``id`` and
    ``subject`` when the source has them; without an id column, items are
    numbered ``00000``, ``00001``, ... in source order.
    """

    context: str = "context"
    choices: str | None = "choices"
    choice_columns: tuple[str, ...] | None = None
    label: str = "label"
    id: str | None = None
    subject: str | None = None

    def named(self) -> list[str]:
        """The columns the user named (all must exist)."""
        names = [self.context, self.label, *(self.choice_columns or [self.choices])]
        return [name for name in names if name is not None] + [name for name in (self.id, self.subject) if name]

    def describe(self) -> str:
        choices = " ".join(self.choice_columns) if self.choice_columns else self.choices
        parts = [f"context={self.context}", f"choices={choices}", f"label={self.label}"]
        parts += [f"{key}={value}" for key, value in (("id", self.id), ("subject", self.subject)) if value]
        return ", ".join(parts)


@dataclass
class TaskSource:
    """One task to build: where its text rows come from and how to read them."""

    task_id: str
    source: str | os.PathLike | list[dict[str, Any]]
    columns: ColumnMap = field(default_factory=ColumnMap)
    language: str | None = None
    """``en``, ``zh``, ...: required for a task id that is not one of the S2SBench tasks."""
    description: str = ""
    split: str = "test"
    config: str | None = None
    revision: str | None = None
    limit: int | None = None
    source_label: str | None = None
    """How the card names the source (default: the path or Hub id)."""


@dataclass
class SpeechConfig:
    """How the speech is made.

    ``engine``: ``espeak`` (espeak-ng, offline) or a transformers text-to-speech
    model id/folder. ``voices``/``rates``: the multi-speaker pool (see
    `tts.make_voices`; default one voice per language). ``choices_audio``: also
    speak every continuation.
    """

    engine: str = "espeak"
    voices: list[str] | None = None
    rates: list[int] | None = None
    seed: int = 0
    device: str = "cpu"
    revision: str | None = None
    choices_audio: bool = True


@dataclass
class _Prepared:
    """A task's validated text rows, ready to be spoken."""

    source: TaskSource
    language: str
    num_choices: int
    rows: list[dict[str, Any]]
    voices: list[Voice] = field(default_factory=list)


# --- reading ------------------------------------------------------------------------------


def _source_label(src: TaskSource) -> str:
    if src.source_label:
        return src.source_label
    if isinstance(src.source, list):
        return f"{len(src.source)} rows given in Python"
    return str(src.source)


def _read_rows(src: TaskSource, problems: list[str]) -> tuple[list[dict[str, Any]], set[str]]:
    """The source's rows (the first ``limit``) and its column names; unreadable lines go to ``problems``."""
    rows, available = _read_all_rows(src, problems)
    return (rows if src.limit is None else rows[: src.limit]), available


def _read_all_rows(src: TaskSource, problems: list[str]) -> tuple[list[dict[str, Any]], set[str]]:
    where = f"task {src.task_id!r}"
    if isinstance(src.source, list):
        rows = [dict(row) for row in src.source]
        return rows, {key for row in rows for key in row}
    path = Path(src.source)
    suffix = path.suffix.lower()
    if path.is_file() and suffix in (".jsonl", ".json", ".ndjson"):
        rows = []
        for number, row, problem in jsonl_objects(path, encoding="utf-8-sig"):
            if row is None:
                problems.append(f"{where}, {path.name} line {number}: {problem}")
            else:
                rows.append(row)
        return rows, {key for row in rows for key in row}
    if path.is_file() and suffix in (".csv", ".tsv"):
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle, delimiter="\t" if suffix == ".tsv" else ",")
            rows = [dict(row) for row in reader]
            return rows, set(reader.fieldnames or [])
    if path.is_file():
        raise DataSourceError(
            f"{where}: cannot read {path}: give a .jsonl, .csv or .tsv file, or a Hugging Face dataset"
        )
    return _read_dataset(src)


def _read_dataset(src: TaskSource) -> tuple[list[dict[str, Any]], set[str]]:
    try:
        dataset = datasets.load_dataset(str(src.source), src.config, split=src.split, revision=src.revision)
    except Exception as err:  # datasets raises many kinds; all mean "cannot read this source"
        raise DataSourceError(
            f"task {src.task_id!r}: cannot read {src.source!r} (config {src.config}, split {src.split}): {err}. "
            "Give a .jsonl/.csv file or a Hugging Face dataset id or folder (online, or in the local cache)."
        ) from err
    available = set(dataset.column_names)
    wanted = [name for name in src.columns.named() + ["id", "subject"] if name in available]
    dataset = dataset.select_columns(list(dict.fromkeys(wanted)))  # never touch (decode) other columns
    if src.limit is not None:
        dataset = dataset.select(range(min(src.limit, len(dataset))))
    return [dict(row) for row in dataset], available


def _choices(value: Any) -> list[Any] | None:
    if isinstance(value, str):  # a csv cell: a JSON list
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return None
    if isinstance(value, (list, tuple)):
        return list(value)
    return None


def _label_index(raw: Any, choices: list[str], choice_columns: tuple[str, ...] | None) -> int | None:
    """The answer's index, or None when ``raw`` names none of the choices (rules in the module docstring)."""
    k = len(choices)
    if isinstance(raw, bool) or raw is None:
        return None
    if isinstance(raw, int):
        return raw if 0 <= raw < k else None
    if isinstance(raw, float) and raw.is_integer():
        return int(raw) if 0 <= raw < k else None
    if not isinstance(raw, str) or not raw.strip():
        return None
    text = raw.strip()
    if choice_columns and text in choice_columns:
        return choice_columns.index(text)
    if text.isdigit():
        return int(text) if int(text) < k else None
    matches = [j for j, choice in enumerate(choices) if choice.strip() == text]
    if len(matches) == 1:
        return matches[0]
    if len(text) == 1 and "A" <= text.upper() <= "Z" and ord(text.upper()) - ord("A") < k:
        return ord(text.upper()) - ord("A")
    return None


def _prepare(src: TaskSource, problems: list[str]) -> _Prepared | None:
    """A task's source read and checked row by row; None when the task cannot be read at all.

    Every problem goes to ``problems`` (the builder reports them all at once): a row with one is left out, and
    the caller writes nothing while any is there.
    """
    language = _task_language(src, problems)
    if language is None:
        return None
    read = _read_checked(src, problems)
    if read is None:
        return None
    rows, available = read
    registered = TASKS.get(src.task_id)
    checker = _RowChecker(
        src,
        language,
        registered,
        id_column=src.columns.id or ("id" if "id" in available else None),
        subject_column=src.columns.subject or ("subject" if "subject" in available else None),
        expected=registered.num_choices if registered else None,
    )
    checked = (checker.check(number, row, problems) for number, row in enumerate(rows))
    prepared = [record for record in checked if record is not None]
    return _Prepared(src, language, checker.expected or 0, prepared)  # (the number of choices, once all are read)


def _task_language(src: TaskSource, problems: list[str]) -> str | None:
    """The task's language (a registered task's own), once its id and column map are usable; None (with the
    problem) when they are not, so that its source is not read."""
    where = f"task {src.task_id!r}"
    registered = TASKS.get(src.task_id)
    if not TASK_ID_PATTERN.fullmatch(src.task_id):
        problems.append(f"{where}: a task id is letters, digits, '_', '-' and '.' (it names the dataset config)")
        return None
    language = src.language
    if registered:
        if language and language != registered.language:
            problems.append(f"{where}: the task is in {registered.language!r}, not {language!r}; drop --language")
        language = registered.language
    elif not language:
        problems.append(f"{where}: a new task needs --language (en, zh, ...)")
        return None
    columns = src.columns
    if columns.choice_columns and len(columns.choice_columns) < 2:
        problems.append(f"{where}: --choice-columns needs at least two columns")
        return None
    if not columns.choice_columns and not columns.choices:
        problems.append(f"{where}: name the choices with --choices-column (one list) or --choice-columns")
        return None
    return language


def _read_checked(src: TaskSource, problems: list[str]) -> tuple[list[dict[str, Any]], set[str]] | None:
    """The source's rows and column names (`_read_rows`); None (with the problem) when it cannot be read, lacks a
    named column or has no rows."""
    where = f"task {src.task_id!r}"
    before = len(problems)
    try:
        rows, available = _read_rows(src, problems)
    except DataSourceError as err:
        problems.append(str(err))
        return None
    unknown = [name for name in src.columns.named() if name not in available]
    if unknown:
        problems.append(
            f"{where}: unknown column(s) {unknown} in {_source_label(src)}; its columns are {sorted(available)}. "
            "Name the right ones with --context-column, --choices-column / --choice-columns, --label-column."
        )
        return None
    if not rows and len(problems) == before:  # (rows whose lines could not be read are problems already)
        problems.append(f"{where}: {_source_label(src)} has no rows")
        return None
    return rows, available


@dataclass
class _RowChecker:
    """Checks a source's rows one by one, remembering what the later rows are checked against: the ids seen, and
    the number of choices (a registered task's; for a new task, the first row with choices sets it)."""

    src: TaskSource
    language: str
    registered: Task | None
    id_column: str | None
    subject_column: str | None
    expected: int | None
    """The number of choices of every row: None until a new task's first row with choices sets it."""
    seen: dict[str, int] = field(default_factory=dict)
    """Each item id seen, with its row number (the duplicate-id problem names it)."""

    def check(self, number: int, row: dict[str, Any], problems: list[str]) -> dict[str, Any] | None:
        """The builder's row for source row ``number``, or None with its problems added to ``problems``."""
        columns = self.src.columns
        item_id, at, row_problems = self._identify(number, row)
        missing = [name for name in columns.named() if name not in row]
        if missing:
            problems.append(f"{at}: lacks the column(s) {missing}")
            return None
        choices, choice_names = _row_choices(columns, row)
        if choices is None:
            row_problems.append(f"the choices in column {columns.choices!r} are not a list (csv: write a JSON list)")
            choices = []
        if self.expected is None and len(choices) >= 2:
            self.expected = len(choices)  # a new task: the first row with choices sets their number
        label = _label_index(row[columns.label], [str(c) for c in choices], columns.choice_columns)
        if label is None:
            row_problems.append(f"the label {row[columns.label]!r} is not among the choices")
        spec = self.registered or new_task(self.src.task_id, self.language, self.expected or len(choices))
        item = Item(
            task=self.src.task_id,
            id=item_id,
            context=row[columns.context],
            choices=choices,
            label=0 if label is None else label,
        )
        context_name = f"column {columns.context!r}"
        row_problems += [
            problem for problem, _ in item.problems(spec, context_name=context_name, choice_names=choice_names)
        ]
        if row_problems:
            problems.extend(f"{at}: {problem}" for problem in row_problems)
            return None
        subject = row.get(self.subject_column) if self.subject_column else None
        return {
            "id": item_id,
            "context": item.context,
            "choices": [str(c) for c in choices],
            "label": label,
            "subject": subject if isinstance(subject, str) else "" if subject is None else str(subject),
        }

    def _identify(self, number: int, row: dict[str, Any]) -> tuple[str, str, list[str]]:
        """The row's item id (its number ``00000``, ... without an id column), where it is in the problems' words,
        and the problems of its id (none, or duplicate)."""
        raw_id = row.get(self.id_column) if self.id_column else f"{number:05d}"
        item_id = "" if raw_id is None else str(raw_id).strip()
        at = f"task {self.src.task_id!r}, row {number}" + (f" (id {item_id!r})" if item_id else "")
        row_problems = []
        if not item_id:
            row_problems.append(f"it has no id in column {self.id_column!r}")
        elif item_id in self.seen:
            row_problems.append(f"duplicate id: row {self.seen[item_id]} has the same id")
        else:
            self.seen[item_id] = number
        return item_id, at, row_problems


def _row_choices(columns: ColumnMap, row: dict[str, Any]) -> tuple[list[Any] | None, list[str]]:
    """A row's choices (None when its choices column holds no list) and how the problems name each one."""
    if columns.choice_columns:
        return [row[name] for name in columns.choice_columns], list(columns.choice_columns)
    assert columns.choices  # checked by `_task_language`: a choices column when there are no choice columns
    choices = _choices(row[columns.choices])
    return choices, [f"column {columns.choices!r}[{j}]" for j in range(len(choices or []))]


# --- building -----------------------------------------------------------------------------


def build_tasks(
    output: str | os.PathLike,
    sources: list[TaskSource],
    speech: SpeechConfig | None = None,
    *,
    workers: int = 1,
    progress: bool = True,
    build_info: dict[str, Any] | None = None,
    max_shard_bytes: int = MAX_SHARD_BYTES,
) -> Path:
    """Build one dataset folder with a config per `TaskSource`; return its path.

    ``build_info`` adds to (and overrides) what the card says about the build
    (``pretty_name``, ``description``, ``license``, ``license_note`` shape the
    card). Raises `BadSourceError` (listing every problem) before writing anything.
    """
    speech = speech or SpeechConfig()
    if not sources:
        raise DataSourceError("no tasks to build")
    prepared, engine = _check_sources(sources, speech)
    problems = _speak(prepared, speech, engine, workers=workers, progress=progress)
    if problems:
        raise BadSourceError(_describe_sources(sources), problems)
    info = {**_build_description(prepared, speech, engine), **(build_info or {})}
    new_tasks = {
        t.source.task_id: new_task(t.source.task_id, t.language, t.num_choices, t.source.description)
        for t in prepared
        if t.source.task_id not in TASKS
    }
    rows_by_task = {t.source.task_id: t.rows for t in prepared}
    return write_dataset_folder(output, rows_by_task, info, tasks=new_tasks, max_shard_bytes=max_shard_bytes)


def _check_sources(sources: list[TaskSource], speech: SpeechConfig) -> tuple[list[_Prepared], TTSEngine]:
    """Every task read and checked (`_prepare`), with its voices, and the engine that will speak them; raises one
    `BadSourceError` with every problem (a task given twice, a bad row, a voice the engine lacks) before any speech."""
    ids = [src.task_id for src in sources]
    problems: list[str] = [f"task {t!r} is given twice" for t in sorted({t for t in ids if ids.count(t) > 1})]
    prepared = [p for p in (_prepare(src, problems) for src in sources) if p is not None]
    engine = make_engine(speech.engine, device=speech.device, revision=speech.revision)
    for task in prepared:
        try:
            task.voices = make_voices(speech.engine, task.language, speech.voices, speech.rates)
            for voice in task.voices:
                engine.check_voice(voice)
        except TTSError as err:
            problems.append(f"task {task.source.task_id!r}: {err}")
    if problems:
        raise BadSourceError(_describe_sources(sources), problems)
    return prepared, engine


def _speak(
    prepared: list[_Prepared], speech: SpeechConfig, engine: TTSEngine, *, workers: int, progress: bool
) -> list[str]:
    """Synthesize every item's speech (the context, and the continuations under ``speech.choices_audio``) with the
    item's voice, into its row's ``audio``, ``choices_audio`` and ``voice``; return the items that got none."""
    jobs: list[SpeechJob] = []
    owners: list[tuple[str, dict[str, Any]]] = []
    for task in prepared:
        for row in task.rows:
            voice = pick_voice(task.voices, row["id"], speech.seed)
            texts = (row["context"], *(row["choices"] if speech.choices_audio else ()))
            jobs.append(SpeechJob(key=len(jobs), item_id=row["id"], texts=texts, voice=voice, seed=speech.seed))
            owners.append((task.source.task_id, row))
    results = synthesize_jobs(
        speech.engine,
        jobs,
        workers=workers,
        device=speech.device,
        revision=speech.revision,
        progress=progress,
        desc=f"Speaking {', '.join(t.source.task_id for t in prepared)} ({engine.spec})",
    )
    problems = []
    for job, result in zip(jobs, results, strict=True):
        task_id, row = owners[job.key]
        if result.error or result.audio is None:
            problems.append(f"task {task_id!r}, item {row['id']!r}: {result.error or 'no speech came back'}")
            continue
        row["voice"] = job.voice.label
        row["audio"] = encode_wav(result.audio[0])
        if speech.choices_audio:
            row["choices_audio"] = [encode_wav(clip) for clip in result.audio[1:]]
    return problems


def _build_description(prepared: list[_Prepared], speech: SpeechConfig, engine: TTSEngine) -> dict[str, Any]:
    """What the card says about the build (its "How it was built" list): each task's source and columns, the
    speech engine, the voices (and how an item's voice is chosen when there are several), the continuations' speech."""
    pools = {t.source.task_id: [voice.label for voice in t.voices] for t in prepared}
    several = any(len(labels) > 1 for labels in pools.values())
    return {
        "source": "; ".join(
            f"{t.source.task_id}: {_source_label(t.source)}{_dataset_location(t.source)}, "
            f"columns {t.source.columns.describe()}"
            for t in prepared
        ),
        "text-to-speech": engine.describe() + f", resampled to {SAMPLING_RATE} Hz mono 16-bit PCM WAV",
        "voices": "; ".join(f"{task_id}: {', '.join(labels)}" for task_id, labels in pools.items())
        + (
            f" (one per item: SHA-256 of (seed {speech.seed}, item id) modulo the number of voices; "
            "see the `voice` column)"
            if several
            else ""
        ),
        "speech of the continuations": "yes (`choices_audio`)" if speech.choices_audio else "no",
    }


def _dataset_location(src: TaskSource) -> str:
    """`` (config ..., split ...[, revision ...])`` for a source read with `datasets`; empty for rows or a file."""
    if isinstance(src.source, list) or Path(src.source).is_file():
        return ""
    revision = f", revision {src.revision}" if src.revision else ""
    return f" (config {src.config or 'default'}, split {src.split}{revision})"


def new_task(task_id: str, language: str, num_choices: int, description: str = "") -> Task:
    """The spec of a task that is not one of the S2SBench sets, as the card records it.

    Its framing is the reference framing of its language (`framing_for_language`;
    a run may override it with --audio-prefix / --text-separator), and a tie
    counts as wrong (strict ``<``, as the reference story scripts).
    """
    return Task(
        id=task_id,
        language=language,
        num_choices=num_choices,
        framing=framing_for_language(language),
        reference_tie_credit=0.0,
        description=description,
    )


def _describe_sources(sources: list[TaskSource]) -> str:
    return "the source " + ", ".join(_source_label(src) for src in sources)


def build_dataset(
    source: str | os.PathLike | list[dict[str, Any]],
    output: str | os.PathLike,
    *,
    task_id: str,
    language: str | None = None,
    columns: ColumnMap | None = None,
    speech: SpeechConfig | None = None,
    workers: int = 1,
    split: str = "test",
    config: str | None = None,
    revision: str | None = None,
    limit: int | None = None,
    description: str = "",
    progress: bool = True,
    build_info: dict[str, Any] | None = None,
) -> Path:
    """Build a one-task dataset folder from one source (what ``s2sbench build source`` calls)."""
    src = TaskSource(
        task_id=task_id,
        source=source,
        columns=columns or ColumnMap(),
        language=language,
        description=description,
        split=split,
        config=config,
        revision=revision,
        limit=limit,
    )
    return build_tasks(output, [src], speech, workers=workers, progress=progress, build_info=build_info)


def default_workers() -> int:
    """Worker processes for a build: the CPU cores, at most 4."""
    return max(1, min(4, os.cpu_count() or 1))


__all__ = [
    "ColumnMap",
    "SpeechConfig",
    "TaskSource",
    "build_dataset",
    "build_tasks",
    "default_workers",
]
