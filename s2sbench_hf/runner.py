"""One benchmark run: load the tasks and the model, score, summarize, write the folder.

`evaluate_model` is what every front door calls (the CLI's ``run``, the
`evaluate` metric, sweeps); `save_run` writes the output folder.

Several processes (``accelerate launch -m s2sbench_hf run ...`` on GPUs,
``torchrun`` on CPUs) each score every n-th pending batch of the same plan and
gather the records on every process; the main process writes the files. With an
output folder, finished records are appended to its cache as they come
(`scoring.cache`), so a restarted run computes only what is missing.

What fails, and what is kept:

* an item that cannot be scored (bad audio, a model error or a NaN score on
  that item) is an item error: reported in ``errors``, left out of the metrics,
  the other items' numbers unchanged;
* a task with no item scored in every setting still gets its entry
  (``n_items`` 0) and the other tasks their numbers; `RunOutput.failures`
  says why, and ``s2sbench run`` writes the folder, then exits with status 1;
* a model that cannot run at all (`scoring.engine`) raises before anything is
  written; what was scored stays in the cache for the next run.

One run at a time writes into a folder: `run_to_folder` (``s2sbench run``) holds
the folder's lock file (`run_folder_lock`) from the first record to the last file.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from accelerate import PartialState
from accelerate.utils import gather_object

from s2sbench_hf import environment, metrics, results
from s2sbench_hf._version import __version__
from s2sbench_hf.data.sources import LoadedTask, load_task
from s2sbench_hf.files import atomic_write, ensure_writable_folder, plain
from s2sbench_hf.model_identity import hash_progress
from s2sbench_hf.options import OptionError, RunConfig
from s2sbench_hf.scoring import cache as record_cache
from s2sbench_hf.scoring.engine import check_settings, resolve_batch_size, score_items, sort_records, windowed_clips
from s2sbench_hf.scoring.interface import AdapterError, Record, Scorer
from s2sbench_hf.scoring.registry import load_scorer
from s2sbench_hf.tasks import (
    ALL_SETTINGS,
    CONTINUATION,
    SPEECH_CONTEXT,
    SPEECH_CONTINUATION,
    UTTERANCE,
    ItemError,
    S2SBenchError,
    Task,
)

logger = logging.getLogger(__name__)

LOCK_FILE = ".s2sbench.lock"
"""In a run folder while a run writes into it: that run's PID, host and start time (JSON)."""


DIST_TIMEOUT_ENV = "S2SBENCH_DIST_TIMEOUT"
"""Seconds a process of a multi-process run waits for the others in one collective (the main process building or
downloading the data, a slower shard, a node that froze) before it fails; unset: torch's default, 30 min on CPUs
(gloo) and 10 min on GPUs (NCCL). A node that dies closes its connections and fails the others at once."""


class RunFolderError(S2SBenchError, ValueError):
    """The output folder cannot take this run: an empty name, or another live run writes into it."""


@contextmanager
def library_progress(shown: bool) -> Iterator[None]:
    """The libraries' own progress bars (transformers' "Loading weights", datasets' reading and downloads) off
    while ``shown`` is False, as they were after: ``--no-progress`` silences every bar of a run."""
    if shown:
        yield
        return
    import datasets
    from transformers.utils import logging as transformers_logging

    before = transformers_logging.is_progress_bar_enabled(), datasets.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if before[0]:
            transformers_logging.enable_progress_bar()
        if before[1]:
            datasets.enable_progress_bars()


def process_state(config: RunConfig) -> PartialState:
    """This process's place in the run: accelerate's `PartialState`, which reads the launcher's variables (``RANK``,
    ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``) and joins the process group, with the
    `DIST_TIMEOUT_ENV` timeout when that is set (the first call in a process makes the group)."""
    seconds = os.environ.get(DIST_TIMEOUT_ENV, "").strip()
    if not seconds:
        return PartialState(cpu=config.device == "cpu")
    try:
        timeout = timedelta(seconds=float(seconds))
    except (ValueError, OverflowError):
        timeout = timedelta(0)
    if timeout <= timedelta(0):
        raise S2SBenchError(f"{DIST_TIMEOUT_ENV}={seconds!r}: give the timeout as a positive number of seconds.")
    return PartialState(cpu=config.device == "cpu", timeout=timeout)


@dataclass
class RunOutput:
    results: dict[str, Any]
    config: RunConfig
    """The configuration the run was given."""
    records: dict[str, list[Record]] = field(default_factory=dict)
    loaded: dict[str, LoadedTask] = field(default_factory=dict)
    errors: list[ItemError] = field(default_factory=list)
    item_ids: dict[str, list[str]] = field(default_factory=dict)
    """Per task, the items complete in every setting (those the metrics count)."""
    is_main: bool = True
    """False on the other processes of a multi-process run (they write nothing)."""
    warnings: list[str] = field(default_factory=list)
    """What `save_run` could not write (a reference export the format cannot express)."""

    @property
    def failures(self) -> list[str]:
        """One line per task that has no item scored in every setting: such a run failed."""
        out = []
        for task_id, m in self.results.get("results", {}).items():
            if m.get("n_items"):
                continue
            scored = {r.setting for r in self.records.get(task_id, [])}
            settings = self.config.task_settings(self.loaded[task_id].task) if task_id in self.loaded else ()
            missing = [s for s in settings if s not in scored]
            errors = [e for e in self.errors if e.task == task_id]
            why = (
                f"no item was scored in the {' and '.join(missing)} setting"
                if missing
                else "no item was scored in every setting"
            )
            detail = f"{len(errors)} item error(s), the first: {errors[0]}" if errors else "the task has no items"
            out.append(f"task {task_id!r}: {why} ({detail})")
        return out


def evaluate_model(
    config: RunConfig,
    scorer: Scorer | None = None,
    *,
    progress: bool = True,
    output: str | Path | None = None,
    overwrite: bool = False,
    command: str | None = None,
) -> RunOutput:
    """Score ``config.model`` on the configured tasks and settings and summarize.

    Pass ``scorer`` to reuse an already loaded model (the `evaluate` metric does).
    With ``output``, records are cached in ``output/cache`` and reused on the next
    call; ``overwrite`` forgets them first. ``command`` is what started the run, as
    results.json records it (`environment.environment`: this process's command line
    when None).

    >>> from s2sbench_hf import ContinuationScore, Scorer
    >>> from s2sbench_hf.options import RunConfig
    >>> class FirstIsBest(Scorer):  # a stand-in model that ignores the context: the first continuation wins
    ...     settings = ("text", "audio")
    ...     sampling_rate = 16000
    ...     def score(self, requests):
    ...         return [[ContinuationScore(float(j), 1) for j in range(len(r.continuations))] for r in requests]
    >>> config = RunConfig(model="first-is-best", tasks=["sstorycloze"], dataset="samples", limit=4, n_bootstrap=10)
    >>> run = evaluate_model(config, scorer=FirstIsBest(), progress=False)
    >>> task = run.results["results"]["sstorycloze"]
    >>> task["n_items"], task["degradation"]["gap"]  # ignoring the context, it loses nothing by hearing it
    (4, 0.0)
    """
    started = time.time()
    state = process_state(config)
    tensor_parallel = _check_tensor_parallel(config, state)
    folder = _prepare_output(output, overwrite, state)
    loaded_tasks = _load_tasks(config, state, progress)
    tasks = [loaded.task for loaded in loaded_tasks.values()]
    scorer, model_info = _load_model(config, scorer, tasks, state, progress)
    run = _TaskScoring(config, state, scorer, _model_identity(config, model_info), folder, tensor_parallel, progress)
    out = RunOutput(results={}, config=config, is_main=state.is_main_process)
    per_task: dict[str, dict] = {}
    counts = {"records_scored": 0, "records_from_cache": 0}
    for task_id, loaded in loaded_tasks.items():
        loaded.task = config.task(loaded.task)
        records, errors, from_cache = run.score(task_id, loaded)
        counts["records_from_cache"] += from_cache
        counts["records_scored"] += len(records) - from_cache
        out.loaded[task_id], out.records[task_id] = loaded, records
        out.errors.extend(loaded.errors + errors)
        per_task[task_id] = _summarize_task(config, scorer, loaded, records)
    out.results = _results_document(run, model_info, out, per_task, counts, started, command)
    out.item_ids = {t: m.get("item_ids", []) for t, m in per_task.items()}
    return out


def _check_tensor_parallel(config: RunConfig, state: PartialState) -> bool:
    """Whether ``config`` splits each layer of the model over the processes (tensor parallelism); refused in a
    single process, where there is nothing to split it over."""
    tensor_parallel = config.tensor_parallel()
    if tensor_parallel and state.num_processes == 1:
        raise OptionError(
            f"model_kwargs {' '.join(config.model_kwargs)} splits each layer over processes: start the run with "
            "torchrun --nproc-per-node N -m s2sbench_hf run ..."
        )
    return tensor_parallel


def _prepare_output(output: str | Path | None, overwrite: bool, state: PartialState) -> Path | None:
    """The run folder (None without one), checked writable and its cache cleared under ``overwrite`` by the main
    process, before the model loads: an unwritable ``--output`` fails at once, not after minutes of loading."""
    folder = None if output is None else run_folder(output)
    if folder is not None and state.is_main_process:
        ensure_writable_folder(folder)
    if overwrite and folder is not None and state.is_main_process:
        record_cache.clear(folder / "cache")
    state.wait_for_everyone()
    return folder


def _load_tasks(config: RunConfig, state: PartialState, progress: bool) -> dict[str, LoadedTask]:
    """Every configured task's data, each checked recordable: the data first, so that a source that cannot be read
    fails before a model is loaded. The main process builds or downloads once; the others then read its copy."""
    loaded_tasks: dict[str, LoadedTask] = {}
    for task_id in config.tasks:
        with state.main_process_first(), library_progress(progress):
            loaded_tasks[task_id] = load_task(
                task_id, config.dataset, limit=config.limit, revision=config.dataset_revision, progress=progress
            )
        results.DatasetInfo.check(task_id, loaded_tasks[task_id].info)  # recordable, before any scoring
    return loaded_tasks


def run_settings(config: RunConfig, tasks: Sequence[Task]) -> list[str]:
    """Every setting the run scores some task in (`RunConfig.task_settings`), in `tasks.ALL_SETTINGS` order."""
    used = {s for task in tasks for s in config.task_settings(task)}
    return [s for s in ALL_SETTINGS if s in used]


def check_scorable(scorer: Scorer, tasks: Sequence[Task]) -> None:
    """`AdapterError` in one line, before any scoring, for an utterance task and a scorer that does not score
    utterances (``utterance`` not in its ``settings``): a speech LLM reads speech but predicts text, so a clip has
    no likelihood under it."""
    for task in tasks:
        if task.kind != UTTERANCE or UTTERANCE in scorer.settings:
            continue
        if set(scorer.settings) & set(SPEECH_CONTINUATION):
            why = "it scores speech tokens but its settings do not list 'utterance'"
        elif set(scorer.settings) & set(SPEECH_CONTEXT):
            why = "it reads speech but predicts text, so a clip has no likelihood under it"
        else:
            why = "it reads and predicts text only, so a clip has no likelihood under it"
        raise AdapterError(
            f"family {scorer.name!r} cannot score task {task.id!r}: {why}; score utterances with a speech LM: "
            "Moshi, Llama-Mimi, or your own --adapter python:module:Class whose settings list 'utterance'."
        )


def _load_model(
    config: RunConfig, scorer: Scorer | None, tasks: Sequence[Task], state: PartialState, progress: bool
) -> tuple[Scorer, dict[str, Any]]:
    """The scorer (``scorer`` when given, else ``config.model`` loaded on this process's device), checked able to
    score the ``tasks`` in their settings, and its description (`Scorer.describe`), hashed once per run."""
    device = str(state.device) if state.num_processes > 1 and config.device in (None, "auto") else config.device
    with library_progress(progress):
        scorer = scorer or load_scorer(config.model, config.adapter, **{**config.scorer_kwargs(), "device": device})
    check_scorable(scorer, tasks)
    check_settings(scorer, run_settings(config, tasks))
    with hash_progress(progress and state.is_main_process):  # its bar, under --no-progress too
        model_info = scorer.describe()  # hashes a local model folder: once per run
    return scorer, model_info


def _model_identity(config: RunConfig, model_info: Mapping[str, Any]) -> dict[str, Any]:
    """What the cached records depend on of the model: its description but the device, and the model kwargs, which
    may change the numbers (quantization); those are left out when unset, so that older caches still match."""
    model_identity = {k: v for k, v in model_info.items() if k != "device"}
    if config.model_kwargs:
        model_identity["model_kwargs"] = list(config.model_kwargs)
    return model_identity


@dataclass(frozen=True)
class _TaskScoring:
    """What every task of one run is scored with: the model, this process's place and the run folder's cache.

    A tensor-parallel model holds a part of each layer in each process: every process runs every batch (one
    shard) and only the main one appends to the cache; otherwise each process scores its share of the batches.
    """

    config: RunConfig
    state: PartialState
    scorer: Scorer
    model_identity: dict[str, Any]
    folder: Path | None
    """The run folder, whose ``cache`` holds the records (None: no cache)."""
    tensor_parallel: bool
    progress: bool

    @property
    def shard(self) -> tuple[int, int]:
        """(rank, world) of `score_items`: which pending batches this process scores."""
        return (0, 1) if self.tensor_parallel else (self.state.process_index, self.state.num_processes)

    def score(self, task_id: str, loaded: LoadedTask) -> tuple[list[Record], list[ItemError], int]:
        """Score one task, reusing and extending its cache; return every process's records and item errors, and
        how many of those records came from the cache."""
        cache = self._cache(task_id, loaded)
        cached = [] if cache is None else cache.load()
        self.state.wait_for_everyone()  # every process plans from the same cache state
        records, errors = score_items(
            self.scorer,
            loaded.task,
            loaded.items,
            self.config.task_settings(loaded.task),
            batch_size=self.config.batch_size,
            max_batch_tokens=self.config.max_batch_tokens,
            cached=cached,
            sink=cache if self.state.is_main_process or not self.tensor_parallel else None,
            shard=self.shard,
            progress=self.progress and self.state.is_main_process,
        )
        if self.shard[1] > 1:
            records, errors = self._gather(loaded, records, errors)
        reused = {(r.item_id, r.setting, r.choice) for r in cached}
        return records, errors, sum((r.item_id, r.setting, r.choice) in reused for r in records)

    def _cache(self, task_id: str, loaded: LoadedTask) -> record_cache.RecordCache | None:
        """The task's record cache in the run folder (None without one), keyed by what its records depend on."""
        if self.folder is None:
            return None
        identity = {
            "model": self.model_identity,
            "task": task_id,
            "framing": loaded.task.framing.to_dict(),
            "dataset": loaded.info.get("fingerprint"),
        }
        return record_cache.RecordCache(self.folder / "cache", identity, rank=self.state.process_index)

    def _gather(
        self, loaded: LoadedTask, records: list[Record], errors: list[ItemError]
    ) -> tuple[list[Record], list[ItemError]]:
        """Every process's records (each once, in canonical order) and item errors (each once), on every process."""
        gathered = gather_object([(records, errors)])
        records = sort_records(
            {(r.item_id, r.setting, r.choice): r for part, _ in gathered for r in part}.values(),
            loaded.items,
            self.config.task_settings(loaded.task),
        )
        errors = list({(e.item_id, e.problem): e for _, part in gathered for e in part}.values())
        return records, errors


def _summarize_task(config: RunConfig, scorer: Scorer, loaded: LoadedTask, records: list[Record]) -> dict[str, Any]:
    """One task's numbers (`metrics.summarize_records`), with the items that failed, per setting the clips the model
    scored in windows among the items counted, and the task's breakdown (`metrics.breakdown`) where it has one."""
    settings = config.task_settings(loaded.task)
    summary = metrics.summarize_records(
        loaded.task,
        records,
        settings,
        scoring_rule=config.scoring_rule,
        tie_policy=config.tie_policy,
        n_bootstrap=config.n_bootstrap,
        seed=config.seed,
        gap=config.gap,
    )
    summary["n_failed"] = len(loaded.items) + len(loaded.errors) - summary["n_items"]
    complete = set(summary.get("item_ids", []))
    counted = [item for item in loaded.items if item.id in complete]
    for setting, entry in summary["settings"].items():
        entry["n_windowed_clips"] = windowed_clips(scorer, counted, setting)
    found = metrics.breakdown(
        loaded.task, records, loaded.items, settings, scoring_rule=config.scoring_rule, tie_policy=config.tie_policy
    )
    if found is not None:
        summary["breakdown"] = found
    return summary


def _results_document(
    run: _TaskScoring,
    model_info: dict[str, Any],
    out: RunOutput,
    per_task: Mapping[str, dict],
    counts: Mapping[str, int],
    started: float,
    command: str | None,
) -> dict[str, Any]:
    """The run's ``results.json``: the model, the configuration, the data, the numbers, the item errors, what was
    computed and where (`results.RESULTS_SCHEMA_VERSION` describes it)."""
    config, scorer = run.config, run.scorer
    return {
        "schema_version": results.RESULTS_SCHEMA_VERSION,
        "s2sbench_hf_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "duration_s": round(time.time() - started, 3),
        "model": model_info,
        "config": config.record({t: out.loaded[t].task.framing for t in config.tasks}),
        "notes": config.notes(),
        "datasets": {t: out.loaded[t].info for t in config.tasks},
        "results": {t: {k: v for k, v in m.items() if k != "item_ids"} for t, m in per_task.items()},
        "overall": metrics.overall(per_task, config.gap),
        "errors": [{"task": e.task, "item_id": e.item_id, "problem": e.problem, "fix": e.fix} for e in out.errors],
        "compute": {
            **counts,
            "processes": run.state.num_processes,
            "batch_size": {
                s: resolve_batch_size(config.batch_size, scorer, s)
                for s in run_settings(config, [loaded.task for loaded in out.loaded.values()])
            },
        },
        "environment": environment.environment(command),
    }


def save_run(run: RunOutput, output: str | Path) -> Path:
    """Write ``results.json``, the samples files and the reference export into ``output``.

    A reference export that the format cannot express (`results.ReferenceExportError`)
    is left out and explained in ``run.warnings``; everything else is written.
    The run owns the folder: the package's files that an earlier run left and this
    one did not write (`STALE_CANDIDATES`) are removed (`remove_stale`), so the
    folder never mixes two runs; the cache and every other file stay. In a folder
    no run wrote into (`is_run_folder`), nothing is removed: `check_run_folder`
    refuses such a folder before scoring where it holds files of those names.
    """
    output = run_folder(output)
    output.mkdir(parents=True, exist_ok=True)
    earlier = _package_files(output) if is_run_folder(output) else {}
    path = _write_run(run, output)
    remove_stale(output, earlier)
    return path


def _write_run(run: RunOutput, output: Path) -> Path:
    """The files of `save_run`, written; returns ``results.json``."""
    config = run.config
    for task_id, records in run.records.items():
        results.write_samples(output, task_id, records)
        loaded = run.loaded[task_id]
        if loaded.task.kind != CONTINUATION:
            continue  # the reference scripts read continuation tasks only: an utterance pair has no such format
        complete = set(run.item_ids[task_id])
        items = [item for item in loaded.items if item.id in complete]
        try:
            results.export_reference(
                output,
                loaded.task,
                items,
                records,
                config.task_settings(loaded.task),
                scoring_rule=config.scoring_rule,
                tie_policy=config.tie_policy,
            )
        except results.ReferenceExportError as err:
            run.warnings.append(str(err))
    return results.write_results(output, run.results)


STALE_CANDIDATES = (
    "samples_*.jsonl",
    "reference/*/data.jsonl",
    "reference/*/*/result.jsonl",
    "report.md",
    "report.html",
    "plots/accuracy.png",
)
"""What this package writes into a run folder besides ``results.json`` and the cache (`save_run`, and
``s2sbench report``'s files, which describe the results they were made from): the only names `remove_stale`
ever deletes. A file of another name is the user's and is never touched."""


def is_run_folder(output: Path) -> bool:
    """Whether a run of this package wrote into ``output`` before: it holds a ``results.json`` or a record cache."""
    return (output / "results.json").is_file() or (output / "cache").is_dir()


def check_run_folder(output: str | os.PathLike) -> None:
    """Refuse, before scoring, a folder that holds files of this package's names (`STALE_CANDIDATES`) that no run
    wrote there (a user's ``report.md``, say): the run would replace or remove them. A run folder passes."""
    folder = run_folder(output)
    if not folder.is_dir() or is_run_folder(folder):
        return
    found = sorted(str(path.relative_to(folder)) for path in _package_files(folder))
    if found:
        shown = ", ".join(found[:3]) + (f" and {len(found) - 3} more" if len(found) > 3 else "")
        raise RunFolderError(
            f"{plain(str(folder))} holds {plain(shown)}, which no s2sbench run wrote there, and a run would replace "
            "or remove them: choose a new folder for --output, or move those files away."
        )


def _package_files(output: Path) -> dict[Path, tuple[int, int]]:
    """The `STALE_CANDIDATES` files in ``output``, each with its (inode, mtime): a file written since has another."""
    found = {}
    for pattern in STALE_CANDIDATES:
        for path in output.glob(pattern):
            seen = _identity(path)
            if seen is not None and path.is_file() and not path.is_symlink():
                found[path] = seen
    return found


def remove_stale(output: Path, earlier: Mapping[Path, tuple[int, int]]) -> list[Path]:
    """Remove the files of ``earlier`` (`_package_files` before this run wrote) that this run did not write again
    (unchanged since: every file of a run is replaced by an atomic write), then the folders that leaves empty.

    A re-run with fewer tasks, fewer settings or a ``--limit`` would otherwise leave the
    earlier run's samples, reference export and report next to the new ``results.json``.
    Returns the files removed.
    """
    removed = [path for path, seen in earlier.items() if _identity(path) == seen]
    for path in removed:
        path.unlink(missing_ok=True)
        folder = path.parent
        while folder != output and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
            folder = folder.parent
    if removed:
        logger.info("%s: removed %d file(s) an earlier run left there.", output, len(removed))
    return removed


def _identity(path: Path) -> tuple[int, int] | None:
    """``path``'s (inode, mtime), which an atomic write changes, or None when it is gone."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_mtime_ns


def run_to_folder(
    config: RunConfig,
    output: str | Path,
    *,
    overwrite: bool = False,
    progress: bool = True,
    command: str | None = None,
) -> tuple[RunOutput, Path | None]:
    """`evaluate_model` and `save_run` into ``output`` under the folder's lock: what ``s2sbench run`` does.

    Returns the run and its ``results.json`` (None on the other processes of a
    multi-process run: the main process holds the lock and writes the files).
    """
    output = run_folder(output)
    main = process_state(config).is_main_process
    if main:
        check_run_folder(output)
    created = main and not output.exists()
    try:
        with run_folder_lock(output) if main else nullcontext():
            run = evaluate_model(config, progress=progress, output=output, overwrite=overwrite, command=command)
            return run, save_run(run, output) if run.is_main else None
    except BaseException:
        if created:
            _remove_empty_folders(output)
        raise


def _remove_empty_folders(output: Path) -> None:
    """Remove ``output`` and the folders in it that hold no file: what a run that failed before scoring created.

    A file (a cached record, anything) keeps its folder and every folder above it, so a failure after the first
    scored batch keeps what the next run resumes from.
    """
    for folder, _, _ in sorted(os.walk(output), key=lambda entry: -len(Path(entry[0]).parts)):
        try:
            os.rmdir(folder)
        except OSError:  # not empty (or gone): kept
            pass


def run_folder(output: str | os.PathLike) -> Path:
    """``output`` as a run folder; an empty name is refused (as a path it means the current directory, which would
    get the run's files and cache mixed with whatever is there)."""
    if not str(output).strip():
        raise RunFolderError(
            "the output folder is an empty name: give a folder (--output runs/NAME); '.' if you mean the current one."
        )
    return Path(output)


@contextmanager
def run_folder_lock(output: str | os.PathLike) -> Iterator[Path]:
    """Hold ``output``'s lock file (`LOCK_FILE`) while a run writes into it, so that two runs into one folder never
    replace each other's files (or mix their records in its cache) without a word.

    A lock held by a live run is a `RunFolderError` naming that run. A lock whose
    run is gone (killed, crashed, the machine restarted: its PID is no live
    process) is taken over, with a warning. A lock from another host (a shared
    disk) cannot be checked from here and counts as live; the message says which
    file to delete if no run is using the folder.
    """
    lock = ensure_writable_folder(run_folder(output)) / LOCK_FILE
    mine = _lock_record()
    if not _create_lock(lock, mine):
        holder = _lock_holder(lock)
        if holder is not None:  # (None: that run has just ended)
            if _is_live(holder):
                raise RunFolderError(_busy(lock, holder))
            logger.warning(
                "%s: took over the lock of a run that is no longer running (%s).", lock.parent, _describe(holder)
            )
        atomic_write(lock, json.dumps(mine))
        holder = _lock_holder(lock)
        if holder != mine:  # another run took it over at the same moment
            raise RunFolderError(_busy(lock, holder or {}))
    try:
        yield lock
    finally:
        if _lock_holder(lock) == mine:
            lock.unlink(missing_ok=True)


def _lock_record() -> dict[str, Any]:
    """What this process writes into a lock: enough to tell whether it still runs, and to name it."""
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return {"pid": os.getpid(), "host": socket.gethostname(), "started": started}


def _create_lock(lock: Path, record: Mapping[str, Any]) -> bool:
    """Create ``lock`` holding ``record``, complete (a hard link to a written file), unless one exists."""
    fd, tmp = tempfile.mkstemp(dir=lock.parent, prefix=f"{lock.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(record, handle)
        os.link(tmp, lock)
    except FileExistsError:
        return False
    finally:
        os.unlink(tmp)
    return True


def _lock_holder(lock: Path) -> dict[str, Any] | None:
    """The record in ``lock``; None when there is no lock, {} when it holds no record (not written by a run)."""
    try:
        record = json.loads(lock.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _is_live(holder: Mapping[str, Any]) -> bool:
    """Whether the run that wrote a lock may still be running: on this host, while its PID is a live process
    (this process's own PID is an earlier life's: a lock is never taken twice in one process); on another host,
    always (it cannot be checked from here)."""
    pid = holder.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    if holder.get("host") != socket.gethostname():
        return True
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


def _describe(holder: Mapping[str, Any]) -> str:
    """The run a lock names, in words."""
    if not holder:
        return "an unreadable lock file"
    return f"pid {holder.get('pid')} on {holder.get('host')}, started {holder.get('started')}"


def _busy(lock: Path, holder: Mapping[str, Any]) -> str:
    """The one line for a folder another run holds: who, what to do, and the file to delete if that run is gone."""
    return (
        f"{lock.parent} is in use by another run ({_describe(holder)}): wait for it to end, or choose another "
        f"--output; two runs in one folder would replace each other's files. If no run is using it, delete {lock}."
    )
