"""Check a run folder before anyone trusts it: recompute every number from the samples and the dataset.

`validate_run` is what ``s2sbench validate``, ``s2sbench submit``, ``s2sbench card``
and the leaderboard call. It never stops at the first problem: it collects every
one it finds into a `ValidationReport`, each naming the task and item where that
applies. ``results.json`` is treated as a claim; what counts is what the
samples and the dataset give. What it checks:

1. **Files.** ``results.json`` (at most `MAX_RESULTS_BYTES`) and each
   ``samples_<task>.jsonl`` (at most `MAX_SAMPLES_BYTES`) are read as regular
   files, never through a symbolic link (except, for a Hub snapshot, into its
   own cache folder: ``link_root``), and the size is checked before anything is
   parsed. JSON with a key given twice, or nested too deeply, is malformed.
2. **Schema.** ``results.json`` matches `results.RunResults` exactly: the keys
   a run of its config writes and no other, finite numbers in range, bounded
   strings without control characters (`results.check_results`, the same check
   the writer makes). When it does not, every wrong path is listed and the
   checks below are skipped.
3. **Identity.** ``model.model_id`` is a Hub id (huggingface_hub's rules) or, for a
   local model, comes with a ``model.content_hash``; ``model.revision`` follows
   git's ref rules.
4. **Dataset.** Each task's ``datasets.<task>.source`` is a Hub dataset id or
   ``samples`` (the bundled sample sets), never a path: validation never reads
   a file a submission names. The dataset is loaded again (when the
   `DatasetResolver` may load it) with the run's ``limit`` and revision; its
   fingerprint and row count must equal the recorded ones.
5. **Records.** ``samples_<task>.jsonl`` holds exactly one valid
   `results.SampleRecord` per item x setting x continuation (never more lines
   than that: reading stops there), each agreeing with its dataset item
   (continuation text, answer flag, byte count) and with itself (``mean_nll`` =
   ``nll_sum / n_tokens``, ``ppl`` = its exponential, as the writer caps it), and
   one a model could have produced: finite, ``nll_sum >= 0``, an integer
   ``n_tokens >= 1``. A bad record is named by task, item, setting and choice.
6. **Metrics.** Everything under ``results.<task>`` and ``overall`` is
   recomputed from the records and the config (`metrics.summarize_records`,
   `metrics.overall`) and compared both ways: a reported number that differs
   by more than `TOLERANCE`, one that is missing, and one that has no recomputed
   counterpart (say audio accuracy in a text-only run) are all problems.
   `ValidationReport.recomputed` and `ValidationReport.overall` are what a
   board shows. A task with no scored item is a problem.
7. **Item errors.** An item the run lists in ``errors`` may be absent from the
   samples (a warning). Whether the dataset itself explains the error (the
   row was rejected on loading, e.g. an empty continuation; its audio is
   missing or cannot be decoded) is checked; errors it does not explain are an
   ``unexplained_error`` warning, which keeps a submission off a ranked board.

What it cannot see: numbers faked consistently in both the samples and
``results.json``. `s2sbench_hf.rerun` re-scores a random sample of items with the
model for that.
"""

from __future__ import annotations

import math
import os
import re
import stat
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from s2sbench_hf import metrics
from s2sbench_hf.data.loaded import SAMPLES_SOURCE, DataSourceError, LoadedTask
from s2sbench_hf.hub import CONTENT_HASH
from s2sbench_hf.hub_repo import hub_id_problem, revision_problem
from s2sbench_hf.jsonl import parse_jsonl, strict_loads
from s2sbench_hf.options import RunConfig
from s2sbench_hf.results import (
    RESULTS_SCHEMA_VERSION,
    DatasetInfo,
    ImportedResults,
    RunResults,
    SampleRecord,
    check_results,
    describe_value,
    schema_for,
    schema_message,
)
from s2sbench_hf.scoring.interface import Record
from s2sbench_hf.tasks import (
    ALL_TASKS,
    SPEECH_CONTEXT,
    SPEECH_CONTINUATION,
    SPEECH_LM_TASKS,
    Item,
    ItemError,
    S2SBenchError,
    Task,
)

KNOWN_SCHEMA_VERSIONS = (RESULTS_SCHEMA_VERSION,)
"""``schema_version`` values this validator understands."""

TOLERANCE = 1e-9
"""Absolute (and relative) tolerance when a reported number is compared with the recomputed one."""

MAX_RESULTS_BYTES = 16 << 20
"""Largest ``results.json`` read (a full run with every item failed in both settings is about 6 MB)."""
MAX_SAMPLES_BYTES = 32 << 20
"""Largest ``samples_<task>.jsonl`` read (full sCMMLU: about 10 MB; with a cascade's transcripts about 15 MB)."""
MAX_BAD_LINES = 100
"""Malformed lines in a samples file after which the rest of it is not read."""


# ------------------------------------------------------------------------- the report


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a submission. ``kind`` is a stable code (see `KINDS`)."""

    kind: str
    message: str
    task: str | None = None
    item_id: str | None = None

    def __str__(self) -> str:
        where = []
        if self.task:
            where.append(f"task {self.task!r}")
        if self.item_id is not None:
            where.append(f"item {self.item_id[:80]!r}")
        return f"[{self.kind}] " + (", ".join(where) + ": " if where else "") + self.message


KINDS = {
    "malformed": "a file is not valid JSON / JSON lines (a key twice, nesting too deep...), or cannot be read",
    "unsafe_file": "a file is a symbolic link or not a regular file; it is not read",
    "too_large": "a file is larger, or holds more records, than a run can produce; it is not read (further)",
    "schema": "a key is missing, unknown, or has a wrong type or an out-of-range value",
    "schema_version": "results.json has a schema version this validator does not know",
    "model_identity": "the model id is not a Hub id, the revision is not a git revision, or both revision and "
    "content hash are missing",
    "dataset_source": "a dataset source is not a Hub dataset id or 'samples', or disagrees with the config",
    "missing_file": "a samples file of a task is missing",
    "dataset_unavailable": "the dataset the run names cannot be loaded to check against",
    "fingerprint_mismatch": "the dataset's fingerprint or size differs from the one recorded",
    "missing_item": "an item of the dataset has no record for some setting/continuation",
    "duplicate_item": "a record appears more than once for the same item, setting and continuation",
    "unknown_item": "a record names an item, setting or continuation that the dataset/run does not have",
    "record_mismatch": "a record disagrees with its dataset item (continuation text, answer flag, bytes) or with "
    "itself (mean_nll, ppl)",
    "impossible_record": "a record no model can produce: a negative nll_sum (a probability above 1)",
    "no_items": "a task has no scored item",
    "metric_mismatch": "a reported number differs from the one recomputed from the samples, is missing, or has no "
    "recomputed counterpart",
}
WARNING_KINDS = {
    "missing_item": "an item the run reported as failed has no records",
    "unexplained_error": "the run lists item errors that the dataset does not explain (a board does not rank it)",
    "dataset_unchecked": "the dataset was not loaded, so items, fingerprint and item errors were not checked",
    "model_identity": "the model is a local folder (its content hash identifies it)",
}


@dataclass
class ValidationReport:
    """Everything `validate_run` found about one run folder."""

    path: Path
    """The ``results.json`` checked."""
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    results: dict | None = None
    """The parsed ``results.json`` (None when it could not be parsed)."""
    parsed: RunResults | None = None
    """``results.json`` as the schema model (None when it does not match the schema)."""
    recomputed: dict[str, dict] = field(default_factory=dict)
    """Per task, the metrics recomputed from the samples (with ``n_failed``)."""
    overall: dict | None = None
    """`metrics.overall` of `recomputed` (None when a task could not be recomputed)."""
    checked_datasets: set[str] = field(default_factory=set)
    """The tasks whose dataset was loaded and checked."""
    records: dict[str, list[Record]] = field(default_factory=dict, repr=False)
    """Per task, the records the metrics were recomputed from."""

    @property
    def valid(self) -> bool:
        return not self.problems

    @property
    def kinds(self) -> set[str]:
        return {p.kind for p in self.problems}

    def add(self, kind: str, message: str, task: str | None = None, item_id: str | None = None) -> None:
        self.problems.append(Problem(kind, message, task, item_id))

    def warn(self, kind: str, message: str, task: str | None = None, item_id: str | None = None) -> None:
        self.warnings.append(Problem(kind, message, task, item_id))

    def summary(self, max_lines: int | None = 50) -> str:
        """Human-readable: OK or INVALID, then every problem (``max_lines`` of them) and the warnings."""
        name = self.parsed.model.model_id if self.parsed is not None else None
        head = f"{self.path}" + (f" (model {name})" if name else "")
        if self.valid:
            lines = [f"OK: {head} is a valid S2SBench result."]
        else:
            lines = [f"INVALID: {head}: {len(self.problems)} problem(s)."]
            shown = self.problems if max_lines is None else self.problems[:max_lines]
            lines += [f"  - {p}" for p in shown]
            if len(shown) < len(self.problems):
                lines.append(f"  ... and {len(self.problems) - len(shown)} more (use --json to see all).")
        if self.warnings:
            lines.append(f"{len(self.warnings)} warning(s):")
            lines += [f"  - {w}" for w in self.warnings]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "path": str(self.path),
            "valid": self.valid,
            "problems": [asdict(p) for p in self.problems],
            "warnings": [asdict(w) for w in self.warnings],
        }


# --------------------------------------------------------------------------- reading files


class UnsafeFileError(S2SBenchError, ValueError):
    """A submission file that is not read: a link, not a regular file, or too large. ``kind`` is a `KINDS` key."""

    def __init__(self, kind: str, message: str):
        self.kind = kind
        super().__init__(message)


def read_submission_file(path: Path, max_bytes: int, *, link_root: Path | None = None) -> bytes:
    """The bytes of one submission file, read safely.

    Never through a symbolic link, except one that resolves inside ``link_root``
    (a Hub snapshot's files are links into the repo's cache folder); never a
    FIFO, device or folder; never more than ``max_bytes`` (checked before
    reading). Raises `UnsafeFileError`, or `OSError` (FileNotFoundError when absent).
    """
    target = path
    if path.is_symlink():
        real = Path(os.path.realpath(path))
        if link_root is None or not real.is_relative_to(os.path.realpath(link_root)):
            raise UnsafeFileError(
                "unsafe_file",
                f"{path.name} is a symbolic link; submission files are read only "
                "as regular files (a link could point anywhere on the machine that reads it).",
            )
        target = real
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    fd = os.open(target, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeFileError("unsafe_file", f"{path.name} is not a regular file.")
        if info.st_size > max_bytes:
            raise UnsafeFileError(
                "too_large",
                f"{path.name} has {info.st_size:,} bytes, more than the "
                f"{max_bytes:,} a run can produce; it was not read.",
            )
        chunks, size = [], 0
        while size <= max_bytes:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > max_bytes:
            raise UnsafeFileError("too_large", f"{path.name} grew past {max_bytes:,} bytes while it was read.")
        return b"".join(chunks)
    finally:
        os.close(fd)


def results_path(path: str | os.PathLike) -> Path:
    """``results.json`` itself, given the file or the run folder that holds it."""
    path = Path(path)
    return path / "results.json" if path.is_dir() else path


# ------------------------------------------------------------------------- datasets


class DatasetResolver:
    """Loads (and remembers) the dataset items runs name, so that a board loads each dataset once.

    ``may_load(source, revision)`` decides which datasets are loaded at all (a
    board loads only the ones it accepts); by default every Hub id and the
    bundled ``samples``. A Hub id that is also a path on this machine is never
    loaded (the `datasets` library would read the local folder). ``progress``:
    the bar of the sample sets' synthesis on first use (`load_task`).
    """

    def __init__(self, may_load: Callable[[str, str | None], bool] | None = None, *, progress: bool = True) -> None:
        self._may_load = may_load
        self._progress = progress
        self._cache: dict[tuple, LoadedTask | Exception] = {}
        self._unusable_audio: dict[tuple[int, str, tuple[str, ...]], bool] = {}

    def may_load(self, source: str, revision: str | None) -> bool:
        return self._may_load is None or self._may_load(source, revision)

    def load(self, task_id: str, source: str, revision: str | None, limit: int | None) -> LoadedTask:
        """A `LoadedTask`, or raises what `load_task` raised."""
        key = (task_id, source, revision, limit)
        if key not in self._cache:
            # datasets takes a second or more to import: only a validation that reloads data pays for it.
            from s2sbench_hf.data.sources import load_task

            try:
                if source != SAMPLES_SOURCE and os.path.lexists(source):
                    raise DataSourceError(f"{source!r} is also a path on this machine; it is not read")
                self._cache[key] = load_task(
                    task_id,
                    None if source == SAMPLES_SOURCE else source,
                    limit=limit,
                    revision=revision,
                    progress=self._progress,
                )
            except Exception as err:  # noqa: BLE001 - remembered and reported as a problem by the caller
                self._cache[key] = err
        value = self._cache[key]
        if isinstance(value, Exception):
            raise value
        return value

    def speech_unusable(self, loaded: LoadedTask, item: Item, settings: Sequence[str]) -> bool:
        """True when speech that ``settings`` need (the context's, the continuations') is missing or cannot be
        decoded in the dataset item (remembered)."""
        key = (id(loaded), item.id, tuple(settings))
        if key not in self._unusable_audio:
            try:
                if any(s in SPEECH_CONTEXT for s in settings):
                    item.waveform(16000)
                if any(s in SPEECH_CONTINUATION for s in settings):
                    for choice in range(len(item.choices)):
                        item.continuation_waveform(choice, 16000)
                self._unusable_audio[key] = False
            except ItemError:
                self._unusable_audio[key] = True
        return self._unusable_audio[key]


# ----------------------------------------------------------------------- the checks


def validate_run(
    path: str | os.PathLike,
    *,
    check_dataset: bool = True,
    resolver: DatasetResolver | None = None,
    link_root: str | os.PathLike | None = None,
) -> ValidationReport:
    """Validate ``results.json`` (or its folder) and the samples files beside it; collect every problem.

    ``check_dataset=False`` skips loading the datasets (then item ids are only
    checked for completeness against each other and fingerprints are not
    compared): for quick local checks, never for the leaderboard. ``link_root``:
    symbolic links that resolve inside it are followed (a Hub snapshot's cache folder).
    """
    file = results_path(path)
    report = ValidationReport(path=file)
    root = Path(link_root) if link_root is not None else None
    try:
        raw = read_submission_file(file, MAX_RESULTS_BYTES, link_root=root)
    except FileNotFoundError:
        report.add("missing_file", f"{file} does not exist. Give a run folder written by `s2sbench run`.")
        return report
    except UnsafeFileError as err:
        report.add(err.kind, str(err))
        return report
    except OSError as err:
        report.add("malformed", f"{file.name} cannot be read ({err.strerror or err}).")
        return report
    try:
        results = strict_loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        report.add("malformed", f"{file.name} is not valid JSON ({str(err)[:200]}).")
        return report
    if not isinstance(results, dict):
        report.add("malformed", f"{file.name} should hold a JSON object, got {describe_value(results)}.")
        return report
    report.results = results
    if schema_for(results) is ImportedResults:
        report.add(
            "schema",
            "this results.json was imported from reference-format files (`s2sbench score`): it has "
            "no per-item samples, so its numbers cannot be checked. "
            "Validate and submit a run of `s2sbench run`.",
        )
        return report

    parsed, problems = check_results(results, RunResults)
    for where, message in problems:
        if where == "schema_version":
            report.add(
                "schema_version",
                f"schema_version {describe_value(results.get('schema_version'))} is not one "
                f"this validator knows ({', '.join(KNOWN_SCHEMA_VERSIONS)}). Upgrade s2sbench_hf, or re-run "
                "with this version.",
            )
        else:
            report.add("schema", message + ".")
    _check_model(results.get("model"), report)
    if not isinstance(parsed, RunResults):  # None
        return report  # the checks below read the parsed file; the schema problems say what to fix first
    report.parsed = parsed

    resolver = resolver or DatasetResolver()
    for task_id in parsed.run_config().tasks:
        loaded = _check_dataset(parsed, task_id, report, check_dataset, resolver)
        _check_task(file.parent, results, parsed, task_id, loaded, report, resolver, root)
    _check_overall(results, parsed, report)
    return report


def _check_model(model: Any, report: ValidationReport) -> None:
    """The model is named by a Hub id and a revision, or by a local folder's content hash."""
    if not isinstance(model, dict):
        return  # the schema says so
    model_id, revision, content_hash = model.get("model_id"), model.get("revision"), model.get("content_hash")
    if not isinstance(model_id, str) or not model_id.strip():
        report.add("model_identity", "model.model_id is empty: the result does not say which model it is.")
    elif not content_hash and hub_id_problem(model_id):
        report.add(
            "model_identity",
            f"model.model_id {describe_value(model_id)} is not a Hub model id "
            f"({hub_id_problem(model_id)}); a local model is identified by model.content_hash instead.",
        )
    elif content_hash:
        report.warn(
            "model_identity",
            f"model.model_id {describe_value(model_id)} is a local folder; others cannot "
            "load it (model.content_hash identifies it).",
        )
    if isinstance(revision, str) and revision_problem(revision):
        report.add("model_identity", f"model.revision: {revision_problem(revision)}.")
    if isinstance(content_hash, str) and not CONTENT_HASH.fullmatch(content_hash):
        report.add(
            "model_identity",
            f"model.content_hash {describe_value(content_hash)} is not a content hash "
            "written by s2sbench-hf (sha256:<64 hex digits>).",
        )
    if not (revision or content_hash):
        report.add(
            "model_identity",
            "neither model.revision nor model.content_hash is set: the numbers cannot be tied to one "
            "version of the model. Re-run with --revision (a Hub commit) or from a local folder.",
        )


def _check_dataset(
    parsed: RunResults, task_id: str, report: ValidationReport, check_dataset: bool, resolver: DatasetResolver
) -> LoadedTask | None:
    """The task's dataset, loaded again when it may be; its identity compared with the recorded one."""
    info, config = parsed.datasets[task_id], parsed.run_config()
    wrong = _source_problems(task_id, info, config)
    for message in wrong:
        report.add("dataset_source", message + ".", task=task_id)
    if wrong:
        return None
    if not check_dataset or not resolver.may_load(info.source, info.revision):
        report.warn(
            "dataset_unchecked",
            f"the dataset {info.source!r} was not loaded here, so the items, the "
            "fingerprint and the item errors were not checked against it.",
            task=task_id,
        )
        return None
    try:
        loaded = resolver.load(task_id, info.source, info.revision, config.limit)
    except Exception as err:  # noqa: BLE001 - any loading failure is one problem
        report.add(
            "dataset_unavailable",
            f"the dataset {info.source!r} cannot be loaded to check the run against ({str(err)[:300]}). "
            "Results must name a dataset that others can load (a Hub id, or 'samples').",
            task=task_id,
        )
        return None
    _compare_identity(task_id, info, loaded, report)
    report.checked_datasets.add(task_id)
    return loaded


def _source_problems(task_id: str, info: DatasetInfo, config: RunConfig) -> list[str]:
    """What is wrong with where a task's data is recorded to come from, before anything is loaded: a source that
    is no Hub id, not the run's own, a revision other than the one pinned, or an S2SBench task read elsewhere than
    its config and ``test`` split."""
    where = f"datasets.{task_id}"
    wrong = []
    if info.source != SAMPLES_SOURCE and hub_id_problem(info.source):
        wrong.append(
            f"{where}.source {describe_value(info.source)} is not a Hub dataset id or 'samples' (a local "
            "folder cannot be checked by anyone else, and validation never reads a path a submission "
            "names). Run on the benchmark's Hub dataset (--dataset ORG/NAME)"
        )
    if info.source != (config.dataset or SAMPLES_SOURCE):
        wrong.append(
            f"{where}.source {describe_value(info.source)} is not the config.dataset the run was given "
            f"({describe_value(config.dataset)})"
        )
    pinned = config.dataset_revision
    if pinned is not None and re.fullmatch(r"[0-9a-f]{40}", pinned) and info.revision != pinned:
        # a branch or tag (or none: the latest) resolves to the commit recorded per task; a commit must be it
        wrong.append(
            f"{where}.revision {describe_value(info.revision)} is not the commit config.dataset_revision "
            f"asked for ({describe_value(pinned)})"
        )
    if task_id not in SPEECH_LM_TASKS and (info.config != task_id or info.split != "test"):
        wrong.append(
            f"{where} names config {describe_value(info.config)}, split {describe_value(info.split)}; a "
            f"task is read from config {task_id!r}, split 'test'"
        )
    if isinstance(info.revision, str) and revision_problem(info.revision):
        wrong.append(f"{where}.revision: {revision_problem(info.revision)}")
    return wrong


def _compare_identity(task_id: str, info: DatasetInfo, loaded: LoadedTask, report: ValidationReport) -> None:
    """Report where the recorded fingerprint, config and split, or row count differ from the reloaded data's."""
    where = f"datasets.{task_id}"
    want_fp, want_rows = loaded.info.get("fingerprint"), loaded.info.get("num_rows")
    if info.fingerprint != want_fp:
        report.add(
            "fingerprint_mismatch",
            f"{where}.fingerprint is {describe_value(info.fingerprint)} but the dataset {info.source!r} has "
            f"{want_fp!r}: the run scored different data. Re-run on the current dataset.",
            task=task_id,
        )
    if (info.config, info.split) != (loaded.info.get("config"), loaded.info.get("split")):
        report.add(
            "fingerprint_mismatch",
            f"{where} names config {describe_value(info.config)}, split {describe_value(info.split)}, but the "
            f"task is read from config {loaded.info.get('config')!r}, split {loaded.info.get('split')!r}.",
            task=task_id,
        )
    if info.num_rows != want_rows:
        report.add(
            "fingerprint_mismatch",
            f"{where}.num_rows is {info.num_rows} but the dataset has {want_rows} rows.",
            task=task_id,
        )


def _check_task(
    folder: Path,
    results: Mapping,
    parsed: RunResults,
    task_id: str,
    loaded: LoadedTask | None,
    report: ValidationReport,
    resolver: DatasetResolver,
    link_root: Path | None,
) -> None:
    if loaded is not None:
        task = loaded.task  # a task a dataset defines is known from its card
    elif task_id in ALL_TASKS:
        task = ALL_TASKS[task_id]
    else:
        report.add(
            "dataset_unavailable",
            f"task {task_id!r} is not a built-in task and its dataset could not be "
            "loaded to learn it: nothing of it can be checked.",
            task=task_id,
        )
        return
    config = parsed.run_config()
    settings = list(config.task_settings(task))
    expected = {item.id: item for item in loaded.items} if loaded is not None else None
    rows = (
        len(expected)
        if expected is not None
        else min(parsed.datasets[task_id].num_rows, config.limit if config.limit is not None else math.inf)
    )
    max_records = int(rows) * len(settings) * task.num_choices

    # The records.
    samples = folder / f"samples_{task_id}.jsonl"
    try:
        text = read_submission_file(samples, MAX_SAMPLES_BYTES, link_root=link_root).decode("utf-8")
    except FileNotFoundError:
        report.add("missing_file", f"{samples.name} is missing: every task needs its per-item records.", task=task_id)
        return
    except UnsafeFileError as err:
        report.add(err.kind, str(err), task=task_id)
        return
    except (OSError, UnicodeDecodeError) as err:
        report.add("malformed", f"{samples.name} cannot be read ({str(err)[:200]}).", task=task_id)
        return
    records = _read_records(text, samples.name, task_id, max_records, report)
    entries = [e for e in parsed.errors if e.task == task_id]
    kept = _check_records(task, records, settings, expected, {e.item_id for e in entries}, report)
    report.records[task_id] = kept

    # The metrics, recomputed.
    try:
        recomputed = metrics.summarize_records(
            task,
            kept,
            settings,
            scoring_rule=config.scoring_rule,
            tie_policy=config.tie_policy,
            n_bootstrap=config.n_bootstrap,
            seed=config.seed,
            gap=config.gap,
        )
    except Exception as err:  # noqa: BLE001 - e.g. records so broken that no metric can be computed
        report.add("metric_mismatch", f"the metrics cannot be recomputed from the samples ({err}).", task=task_id)
        return
    recomputed.pop("item_ids", None)
    if loaded is not None and expected is not None:  # one is None when the other is
        recomputed["n_failed"] = max(0, len(expected) + len(loaded.errors) - recomputed["n_items"])
    else:  # the dataset was not loaded (a warning says so): the failed items cannot be counted here
        recomputed["n_failed"] = parsed.results[task_id].n_failed
    _carry_windowed_clips(results["results"][task_id], recomputed, task_id, report)
    _add_breakdown(results["results"][task_id], recomputed, task, kept, loaded, settings, config)
    report.recomputed[task_id] = recomputed
    if not recomputed["n_items"]:
        report.add("no_items", "no item was scored in every setting: a result needs at least one.", task=task_id)
    for path, got, want in _differences(results["results"][task_id], recomputed, f"results.{task_id}"):
        report.add("metric_mismatch", _difference_message(path, got, want), task=task_id)
    _check_item_errors(task_id, entries, loaded, expected, settings, report, resolver)


def _add_breakdown(
    reported: Mapping,
    recomputed: dict,
    task: Task,
    records: Sequence[Record],
    loaded: LoadedTask | None,
    settings: Sequence[str],
    config: RunConfig,
) -> None:
    """The task's breakdown (`metrics.breakdown`), recomputed from the records and the dataset's items (their
    ``meta`` names each item's group); taken as reported when the dataset was not loaded (a ``dataset_unchecked``
    warning says so), since no sample carries the group."""
    if loaded is None:
        if reported.get("breakdown") is not None:
            recomputed["breakdown"] = reported["breakdown"]
        return
    found = metrics.breakdown(
        task, records, loaded.items, settings, scoring_rule=config.scoring_rule, tie_policy=config.tie_policy
    )
    if found is not None:
        recomputed["breakdown"] = found


def _carry_windowed_clips(reported: Mapping, recomputed: dict, task_id: str, report: ValidationReport) -> None:
    """``n_windowed_clips`` describes the clips (it needs the model's audio window), no sample gives it: it is
    taken as reported where it is a count of the task's scored items, and never enters a ranking."""
    for setting, entry in recomputed["settings"].items():
        got = reported.get("settings", {}).get(setting, {}).get("n_windowed_clips")
        if got is None:
            continue
        if not 0 <= got <= recomputed["n_items"]:
            report.add(
                "metric_mismatch",
                f"results.{task_id}.settings.{setting}.n_windowed_clips is {got}, "
                f"not a count of the {recomputed['n_items']} items scored.",
                task=task_id,
            )
        entry["n_windowed_clips"] = got


def _read_records(
    text: str, name: str, task_id: str, max_records: int, report: ValidationReport
) -> list[tuple[int, Record]]:
    """The valid records of a samples file with their line numbers; a bad line is a problem, not the end."""
    out: list[tuple[int, Record]] = []
    bad = 0
    for number, row, problem in parse_jsonl(text, loads=strict_loads):
        if len(out) == max_records or bad == MAX_BAD_LINES:
            report.add(
                "too_large",
                f"{name} has more than {max_records} records (the most this run can have: items "
                f"x settings x continuations) or more than {MAX_BAD_LINES} bad lines; the rest of the file "
                f"was not read (from line {number}).",
                task=task_id,
            )
            break
        if row is None:
            bad += 1
            report.add("malformed", f"{name}, line {number}: {problem}.", task=task_id)
            continue
        try:
            sample = SampleRecord.model_validate(row)
        except ValidationError as err:
            bad += 1
            item_id = row.get("item_id") if isinstance(row.get("item_id"), str) else None
            wrong = [schema_message(e)[1] for e in err.errors()[:5]]
            report.add(
                "malformed",
                f"{name}, line {number}{_which(row)}: " + "; ".join(wrong) + ".",
                task=task_id,
                item_id=item_id[:200] if item_id else None,
            )
            continue
        impossible = _record_problem(sample)
        if impossible is not None:
            bad += 1
            kind, message = impossible
            report.add(kind, f"line {number}{_which(row)}: {message}.", task=task_id, item_id=sample.item_id)
            continue
        out.append((number, sample.record()))
    return out


def _which(row: Mapping) -> str:
    """`` (setting, choice N)`` of a samples line, as far as it names them: with the task and item, the record."""
    setting, choice = row.get("setting"), row.get("choice")
    named = ([describe_value(setting)[:40]] if isinstance(setting, str) else []) + (
        [f"choice {choice}"] if isinstance(choice, int) and not isinstance(choice, bool) else []
    )
    return f" ({', '.join(named)})" if named else ""


def _record_problem(sample: SampleRecord) -> tuple[str, str] | None:
    """(kind, message) for a record no model produces or that disagrees with itself; None for a possible one.

    The schema has already made every number finite and ``n_tokens`` an integer of at least 1. A negative
    ``nll_sum`` is a probability above 1. ``mean_nll`` and ``ppl`` must be what the writer derives from
    ``nll_sum`` and ``n_tokens`` (`Record.to_dict`, with its cap on ``ppl``), to float rounding.
    """
    if sample.nll_sum < 0:
        return "impossible_record", f"nll_sum is {sample.nll_sum!r}: a negative NLL is a probability above 1"
    written = sample.record().to_dict()
    if not (
        math.isclose(sample.mean_nll, written["mean_nll"], rel_tol=TOLERANCE, abs_tol=TOLERANCE)
        and math.isclose(sample.ppl, written["ppl"], rel_tol=TOLERANCE)
    ):
        got, want = (
            f"mean_nll={sample.mean_nll!r}, ppl={sample.ppl!r}",
            f"{written['mean_nll']!r} (ppl {written['ppl']!r})",
        )
        return "record_mismatch", f"{got} but nll_sum / n_tokens = {want}"
    return None


def _check_records(
    task,
    records: list[tuple[int, Record]],
    settings: list[str],
    expected: dict[str, Item] | None,
    failed: set,
    report: ValidationReport,
) -> list[Record]:
    """Completeness and agreement with the dataset; returns the records to recompute from (first of duplicates)."""
    k = task.num_choices
    seen: dict[tuple[str, str, int], int] = {}
    kept: list[Record] = []
    unknown_items: dict[str, int] = {}
    for number, r in records:
        key = (r.item_id, r.setting, r.choice)
        if r.task != task.id:
            report.add("record_mismatch", f"line {number} belongs to task {r.task!r}.", task=task.id, item_id=r.item_id)
            continue
        if r.setting not in settings or not 0 <= r.choice < k:
            report.add(
                "unknown_item",
                f"line {number}: setting {r.setting!r}, choice {r.choice} is not part of this run "
                f"(settings {settings}, {k} choices).",
                task=task.id,
                item_id=r.item_id,
            )
            continue
        if expected is not None and r.item_id not in expected:
            unknown_items[r.item_id] = unknown_items.get(r.item_id, number)
            continue
        if key in seen:
            report.add(
                "duplicate_item",
                f"setting {r.setting!r}, choice {r.choice} is recorded twice (lines {seen[key]} and {number}).",
                task=task.id,
                item_id=r.item_id,
            )
            continue
        seen[key] = number
        if expected is not None:
            item = expected[r.item_id]
            wrong = []
            if r.continuation != item.choices[r.choice]:
                wrong.append(
                    f"continuation {describe_value(r.continuation)} is not the dataset's "
                    f"{describe_value(item.choices[r.choice])}"
                )
            if r.is_answer != (r.choice == item.label):
                wrong.append(f"is_answer={r.is_answer} but the dataset's answer is choice {item.label}")
            if r.n_bytes != len(item.choices[r.choice].encode("utf-8")):
                wrong.append(
                    f"n_bytes={r.n_bytes} but the continuation has "
                    f"{len(item.choices[r.choice].encode('utf-8'))} UTF-8 bytes"
                )
            if wrong:
                report.add(
                    "record_mismatch",
                    f"line {number} ({r.setting}, choice {r.choice}): " + "; ".join(wrong) + ".",
                    task=task.id,
                    item_id=r.item_id,
                )
        kept.append(r)
    for item_id, number in unknown_items.items():
        report.add(
            "unknown_item", f"line {number}: the dataset has no item with this id.", task=task.id, item_id=item_id
        )

    # Missing: against the dataset when loaded, else against the items seen in the file.
    ids = list(expected) if expected is not None else list(dict.fromkeys(r.item_id for r in kept))
    for item_id in ids:
        missing = [f"{s}/choice {j}" for s in settings for j in range(k) if (item_id, s, j) not in seen]
        if not missing:
            continue
        if item_id in failed:
            report.warn(
                "missing_item",
                f"no records for {', '.join(missing)}; the run reported this item as failed.",
                task=task.id,
                item_id=item_id,
            )
        else:
            report.add("missing_item", f"no record for {', '.join(missing)}.", task=task.id, item_id=item_id)
    return kept


def _check_item_errors(
    task_id: str,
    entries: list,
    loaded: LoadedTask | None,
    expected: dict[str, Item] | None,
    settings: list[str],
    report: ValidationReport,
    resolver: DatasetResolver,
) -> None:
    """Item errors the dataset does not explain (rejected row; missing or undecodable audio): a warning."""
    if not entries:
        return
    if loaded is None or expected is None:
        report.warn(
            "unexplained_error", f"{len(entries)} item error(s) could not be checked against the dataset.", task=task_id
        )
        return
    rejected = {e.item_id for e in loaded.errors}
    unexplained = []
    for entry in entries:
        item = expected.get(entry.item_id)
        if entry.item_id in rejected or (item is not None and resolver.speech_unusable(loaded, item, settings)):
            continue
        unexplained.append(entry)
    if unexplained:
        shown = "; ".join(f"item {e.item_id[:60]!r}: {describe_value(e.problem)}" for e in unexplained[:3])
        report.warn(
            "unexplained_error",
            f"{len(unexplained)} of {len(entries)} item error(s) are not explained by "
            f"the dataset (its audio and text are fine): {shown}{' ...' if len(unexplained) > 3 else ''}. "
            "Only items the dataset makes unscorable may be left out of a ranked result; re-run them.",
            task=task_id,
        )


def _check_overall(results: Mapping, parsed: RunResults, report: ValidationReport) -> None:
    config = parsed.run_config()
    if set(report.recomputed) != set(config.tasks):
        return  # a task could not be recomputed; its own problems say why
    report.overall = metrics.overall(report.recomputed, config.gap)
    for path, got, want in _differences(results["overall"], report.overall, "overall"):
        report.add("metric_mismatch", _difference_message(path, got, want))


_ABSENT = object()
"""A key that one side of a comparison does not have."""


def _differences(reported: Any, recomputed: Any, path: str) -> list[tuple[str, Any, Any]]:
    """(path, reported, recomputed) wherever they differ, both ways: `_ABSENT` marks a key only one side has."""
    if isinstance(recomputed, dict):
        if not isinstance(reported, dict):
            return [(path, reported, recomputed)]
        out = []
        for key, want in recomputed.items():
            got = reported.get(key, _ABSENT)
            out += [(f"{path}.{key}", _ABSENT, want)] if got is _ABSENT else _differences(got, want, f"{path}.{key}")
        out += [(f"{path}.{key}", got, _ABSENT) for key, got in reported.items() if key not in recomputed]
        return out
    if isinstance(recomputed, (list, tuple)):
        if not isinstance(reported, (list, tuple)) or len(reported) != len(recomputed):
            return [(path, reported, recomputed)]
        out = []
        for i, (got, want) in enumerate(zip(reported, recomputed, strict=True)):
            out += _differences(got, want, f"{path}[{i}]")
        return out
    if isinstance(recomputed, (int, float)) and not isinstance(recomputed, bool):
        ok = (
            isinstance(reported, (int, float))
            and not isinstance(reported, bool)
            and (
                (math.isnan(recomputed) and math.isnan(reported))
                or math.isclose(reported, recomputed, rel_tol=TOLERANCE, abs_tol=TOLERANCE)
            )
        )
        return [] if ok else [(path, reported, recomputed)]
    return [] if reported == recomputed else [(path, reported, recomputed)]


def _difference_message(path: str, got: Any, want: Any) -> str:
    if got is _ABSENT:
        return f"{path} is missing; the samples give {_fmt(want)}."
    if want is _ABSENT:
        return (
            f"{path} is reported as {_fmt(got)}, but nothing recomputed from the samples and the config has "
            "this key: a number the run did not compute."
        )
    return f"{path} is reported as {_fmt(got)} but the samples give {_fmt(want)}."


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.10g}"
    if isinstance(value, (list, tuple)) and len(value) <= 4 and all(isinstance(v, (int, float)) for v in value):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return describe_value(value)
