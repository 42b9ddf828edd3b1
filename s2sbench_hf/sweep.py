"""Checkpoint sweeps: evaluate every checkpoint of a training run and follow the numbers across steps.

The paper's main analysis is how text accuracy, audio accuracy and their gap
move during training. A sweep evaluates each checkpoint folder with
`runner.evaluate_model` (each checkpoint is loaded once, for all tasks and both
settings) and keeps one ordinary run folder per checkpoint, so calling it again
while training goes on evaluates only the checkpoints that are new.

Layout of a sweep folder::

    sweep.json                        steps, checkpoints, the run configuration and the per-step rows
    sweep.csv                         the same rows as a table (one row per checkpoint x task)
    plots/sweep_<task>.png            accuracy / gap / losses against step (`plots.plot_sweep_task`)
    checkpoints/<name>/results.json   a normal run folder per checkpoint (+ samples, reference export)
    checkpoints/<name>/checkpoint.json  the checkpoint's name, path and step

A checkpoint is skipped when its folder has a ``results.json`` whose
configuration matches (`decisive_config`: everything that decides the numbers,
not the batch size) and, when the checkpoint is still on disk, whose model
content hash matches (a rewritten checkpoint is evaluated again). Checkpoints
evaluated earlier whose folders have since been deleted (``save_total_limit``)
stay in the table.

Steps come from the folder names: ``ckpt_<a>_<b>_<step>`` as in the reference
release (the step is the third ``_`` field after ``ckpt``), ``checkpoint-<step>``
as the transformers Trainer writes, or ``--step-regex``.
"""

from __future__ import annotations

import csv
import glob
import io
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from s2sbench_hf import metrics, plots, results
from s2sbench_hf.files import atomic_write
from s2sbench_hf.model_identity import folder_content_hash
from s2sbench_hf.options import RunConfig
from s2sbench_hf.tasks import DEFAULT_SETTINGS, S2SBenchError, get_task

SWEEP_FILE = "sweep.json"
TABLE_FILE = "sweep.csv"
CHECKPOINTS_DIR = "checkpoints"
CHECKPOINT_FILE = "checkpoint.json"
PLOTS_DIR = "plots"
SWEEP_SCHEMA = "s2sbench-sweep/1"

_TRAINER_STEP = re.compile(r"^checkpoint-(\d+)$")


class SweepError(S2SBenchError, ValueError):
    """The checkpoints cannot be swept as asked (no match, no step in a name, a clash)."""


@dataclass(frozen=True)
class Checkpoint:
    step: int
    name: str
    path: Path


@dataclass
class SweepOutput:
    rows: list[dict[str, Any]]
    checkpoints: list[dict[str, Any]]
    evaluated: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)


# ------------------------------------------------------------------ checkpoints


def step_from_name(name: str, step_regex: str | None = None) -> int:
    """The training step in a checkpoint folder's name.

    Default rule: ``ckpt_<a>_<b>_<step>`` (the reference release reads
    ``name.split("_")[3]``) or ``checkpoint-<step>`` (transformers Trainer).
    ``step_regex`` replaces it: the named group ``step``, else group 1, else the
    whole match, read as an integer.
    """
    if step_regex is not None:
        match = re.search(step_regex, name)
        if match is None:
            raise SweepError(f"checkpoint {name!r} does not match --step-regex {step_regex!r}; fix the pattern.")
        groups = match.groupdict()
        text = groups["step"] if "step" in groups else (match.group(1) if match.re.groups else match.group(0))
        try:
            return int(text)
        except (TypeError, ValueError):
            raise SweepError(
                f"--step-regex {step_regex!r} matched {text!r} in {name!r}, which is not an integer step."
            ) from None
    parts = name.split("_")
    if parts[0] == "ckpt" and len(parts) >= 4 and parts[3].isdigit():
        return int(parts[3])
    match = _TRAINER_STEP.match(name)
    if match:
        return int(match.group(1))
    raise SweepError(
        f"cannot read a training step from checkpoint {name!r}. Name checkpoints ckpt_<a>_<b>_<step> "
        "(as the reference release) or checkpoint-<step> (as the transformers Trainer), "
        "or pass --step-regex with a group around the step, e.g. --step-regex 'step(\\d+)'."
    )


def find_checkpoints(patterns: Sequence[str] | str, step_regex: str | None = None) -> list[Checkpoint]:
    """The checkpoint folders matching the glob ``patterns`` (already expanded paths work too), by step."""
    if isinstance(patterns, (str, os.PathLike)):
        patterns = [str(patterns)]
    paths: dict[str, Path] = {}
    for pattern in patterns:
        for match in sorted(glob.glob(os.path.expanduser(str(pattern)))):
            path = Path(match)
            if path.is_dir():
                paths[str(path.resolve())] = path
    if not paths:
        raise SweepError(f"no checkpoint folders match {list(patterns)}; quote the pattern, e.g. 'runs/ckpt_*'.")
    found = [Checkpoint(step_from_name(p.name, step_regex), p.name, p) for p in paths.values()]
    _check_unique(found)
    return sorted(found, key=lambda c: c.step)


def _check_unique(checkpoints: Iterable[Checkpoint]) -> None:
    names: dict[str, Checkpoint] = {}
    steps: dict[int, Checkpoint] = {}
    for c in checkpoints:
        if c.name in names:
            raise SweepError(
                f"two checkpoints are named {c.name!r} ({names[c.name].path} and {c.path}); "
                "sweep each training run into its own --output folder."
            )
        if c.step in steps:
            raise SweepError(
                f"checkpoints {steps[c.step].name!r} and {c.name!r} both have step {c.step}; "
                "sweep one training run at a time, or give a --step-regex that tells them apart."
            )
        names[c.name], steps[c.step] = c, c


# -------------------------------------------------------------- what is done


def decisive_config(config: RunConfig | Mapping[str, Any]) -> dict[str, Any]:
    """The part of a run configuration that decides a checkpoint's numbers, comparable across calls.

    Works on a `RunConfig` and on the ``config`` block of a ``results.json``
    (framing overrides are compared through the framing recorded per task).
    """
    if isinstance(config, RunConfig):
        config = config.record({t: config.task(get_task(t)).framing for t in config.tasks})
    out = RunConfig.decisive(config)
    for key in ("tasks", "settings"):
        if key in out and out[key] is not None:
            out[key] = list(out[key])
    return json.loads(json.dumps(out, sort_keys=True))


def _stored(folder: Path) -> dict | None:
    try:
        return results.read_results(folder)
    except (OSError, ValueError):
        return None


def _matches(
    stored: Mapping[str, Any] | None, config: RunConfig, checkpoint: Checkpoint | None, *, progress: bool = False
) -> bool:
    """A stored run counts when it is complete, has this configuration and (if on disk) this content (hashing the
    folder, with a bar under ``progress`` when that reads many bytes)."""
    if not stored or "results" not in stored or "config" not in stored:
        return False
    if set(stored["results"]) != set(config.tasks):
        return False
    mine, theirs = decisive_config(config), decisive_config(stored["config"])
    if any(theirs.get(k) != v for k, v in mine.items()):
        return False
    if checkpoint is not None and checkpoint.path.is_dir():
        stored_hash = stored.get("model", {}).get("content_hash")
        if stored_hash is not None:
            return stored_hash == folder_content_hash(checkpoint.path, progress=progress)
    return True


# ------------------------------------------------------------------- the sweep


def run_sweep(
    config: RunConfig,
    checkpoints: Sequence[Checkpoint],
    output: str | Path,
    *,
    force: bool = False,
    progress: bool = True,
    plot: bool = True,
) -> SweepOutput:
    """Evaluate the checkpoints not yet done, then write the table (CSV, JSON) and the plots.

    ``config`` is the run configuration of every checkpoint (its ``model`` is
    replaced by each checkpoint's path); ``force`` evaluates every checkpoint again. ``progress``: a bar across
    the checkpoints evaluated now (``checkpoints: 1/3 ... ckpt_stage1_bs8_250``) over each run's own bars, and the
    bar of a checkpoint folder hashed to see whether it changed; on the main process only.
    """
    output = Path(output)
    base = output / CHECKPOINTS_DIR
    _check_unique(checkpoints)
    out = SweepOutput(rows=[], checkpoints=[])
    if not _evaluate_pending(config, checkpoints, base, force=force, progress=progress, evaluated=out.evaluated):
        return out  # another process of a multi-process run: the main one writes the table
    out.skipped = [c.name for c in checkpoints if c.name not in out.evaluated]
    entries = _table_entries(config, checkpoints, base)
    settings = table_settings(config, entries)
    out.rows = sweep_rows(entries, settings)
    out.checkpoints = [
        {
            "step": c.step,
            "name": c.name,
            "path": str(c.path),
            "folder": f"{CHECKPOINTS_DIR}/{c.name}",
            "on_disk": c.path.is_dir(),
            "evaluated_now": c.name in out.evaluated,
            "model": res.get("model", {}),
        }
        for c, res in entries
    ]
    out.files = write_sweep(output, out.rows, out.checkpoints, decisive_config(config), settings=settings, plot=plot)
    return out


def table_settings(config: RunConfig, entries: Sequence[tuple[Checkpoint, Mapping[str, Any]]]) -> list[str]:
    """The settings of the sweep's table and plots: those its runs scored (`plots.scored_settings`: a continuation
    task's ``--settings``, an utterance task's ``utterance`` alone, which ``config.settings`` never lists, so a
    sweep of a speech-LM set would have empty columns), in ``--settings``' order then ``utterance``; else
    ``config.settings`` (no run in the table yet)."""
    scored = plots.scored_settings([res for _, res in entries], config.tasks)
    if not scored:
        return list(config.settings)
    return [s for s in config.settings if s in scored] + [s for s in scored if s not in config.settings]


def _evaluate_pending(
    config: RunConfig,
    checkpoints: Sequence[Checkpoint],
    base: Path,
    *,
    force: bool,
    progress: bool,
    evaluated: list[str],
) -> bool:
    """Evaluate and save each checkpoint whose folder under ``base`` holds no matching run (every one under
    ``force``), appending its name to ``evaluated``; return whether this is the main process (the one that writes)."""
    # The runner imports datasets, accelerate and the engine (seconds): only running a sweep needs it,
    # reading a sweep folder (reports) must not pay for it.
    from s2sbench_hf import runner

    shown = progress and runner.process_state(config).is_main_process
    todo = [c for c in checkpoints if force or not _matches(_stored(base / c.name), config, c, progress=shown)]
    main = True
    with tqdm(todo, desc="checkpoints", unit="checkpoint", disable=not shown) as bar:
        for c in bar:
            bar.set_postfix_str(c.name)  # the one being evaluated
            folder = base / c.name
            # ``output``: records are cached in the checkpoint folder as they come, so an interrupted
            # sweep resumes inside the checkpoint it was scoring; ``overwrite`` forgets them.
            run = runner.evaluate_model(
                replace(config, model=str(c.path)), progress=progress, output=folder, overwrite=force
            )
            main = getattr(run, "is_main", True)
            if main:
                runner.save_run(run, folder)
                _write_json(folder / CHECKPOINT_FILE, {"name": c.name, "step": c.step, "path": str(c.path)})
            evaluated.append(c.name)
            del run
    return main


def _table_entries(
    config: RunConfig, checkpoints: Sequence[Checkpoint], base: Path
) -> list[tuple[Checkpoint, dict[str, Any]]]:
    """The runs of the table, by step: every checkpoint folder under ``base`` whose results match ``config``,
    including those of checkpoints not given this time (read back from their ``checkpoint.json``)."""
    current = {c.name: c for c in checkpoints}
    entries = []
    for folder in sorted(base.iterdir()) if base.is_dir() else []:
        stored = _stored(folder)
        if stored is None:
            continue  # no readable results.json: not a run of this table
        checkpoint = current.get(folder.name)
        if checkpoint is None:
            info = _read_json(folder / CHECKPOINT_FILE)
            if not info or not _matches(stored, config, None):
                continue  # another configuration, or not a sweep checkpoint: not this table
            checkpoint = Checkpoint(int(info["step"]), folder.name, Path(info.get("path", "")))
        elif not _matches(stored, config, None):
            continue
        entries.append((checkpoint, stored))
    _check_unique(c for c, _ in entries)
    entries.sort(key=lambda e: e[0].step)
    return entries


def row_fields(settings: Sequence[str] = DEFAULT_SETTINGS) -> tuple[str, ...]:
    """Columns of ``sweep.csv`` for a sweep of ``settings`` (accuracies and the gap as fractions; losses as mean
    NLL per token or frame): per setting its accuracy and interval, the gap (``config.gap``), per setting the
    argmin accuracy, per setting the answer and distractor losses."""
    return (
        "step",
        "checkpoint",
        "task",
        "n_items",
        *[f"{s}_{key}" for s in settings for key in ("accuracy", "accuracy_ci_low", "accuracy_ci_high")],
        "degradation",
        "degradation_ci_low",
        "degradation_ci_high",
        "relative_degradation",
        "degradation_p_value",
        *[f"{s}_argmin_accuracy" for s in settings],
        *[f"{s}_{key}" for s in settings for key in ("answer_loss", "distractor_loss", "loss_difference")],
    )


def sweep_rows(
    entries: Sequence[tuple[Checkpoint, Mapping[str, Any]]], settings: Sequence[str] = DEFAULT_SETTINGS
) -> list[dict[str, Any]]:
    """One row per checkpoint x task, in step order, from each checkpoint's results (`metrics.flatten_task`)."""
    rows = []
    for checkpoint, res in entries:
        for task_id, m in res["results"].items():
            flat = metrics.flatten_task(m)
            row: dict[str, Any] = {"step": checkpoint.step, "checkpoint": checkpoint.name, "task": task_id}
            for key in row_fields(settings)[3:]:
                base, _, end = key.rpartition("_ci_")
                if base:
                    ci = flat.get(f"{base}_ci")
                    row[key] = None if not ci else ci[0 if end == "low" else 1]
                else:
                    row[key] = flat.get(key)
            rows.append(row)
    return rows


def write_sweep(
    output: Path,
    rows: list[dict[str, Any]],
    checkpoints: list[dict[str, Any]],
    config: dict[str, Any],
    *,
    settings: Sequence[str],
    plot: bool = True,
) -> dict[str, Path]:
    """Write ``sweep.json``, ``sweep.csv`` and (``plot``) one PNG per task; return their paths. ``settings``: the
    table's columns and curves (`table_settings`), recorded as ``sweep.json``'s ``settings``."""
    output.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    settings = list(settings)
    fields = row_fields(settings)
    plot_files = {}
    if plot:
        for task_id in tasks:
            path = plots.plot_sweep_task(
                rows,
                task_id,
                output / PLOTS_DIR / f"sweep_{task_id}.png",
                settings=settings,
                gap=config["gap"],
            )
            plot_files[task_id] = path.relative_to(output).as_posix()
            files[f"plot_{task_id}"] = path
    table = io.StringIO()
    writer = csv.DictWriter(table, fieldnames=list(fields), lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: ("" if row.get(k) is None else row.get(k)) for k in fields} for row in rows)
    files["csv"] = output / TABLE_FILE
    atomic_write(files["csv"], table.getvalue())
    document = {
        "schema": SWEEP_SCHEMA,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "config": config,
        "settings": settings,
        "steps": [c["step"] for c in checkpoints],
        "checkpoints": checkpoints,
        "tasks": tasks,
        "plots": plot_files,
        "rows": rows,
    }
    files["json"] = output / SWEEP_FILE
    _write_json(files["json"], document)
    return files


def read_sweep(folder: str | Path) -> dict[str, Any]:
    """Read a sweep folder's ``sweep.json``."""
    return json.loads((Path(folder) / SWEEP_FILE).read_text(encoding="utf-8"))


def is_sweep(folder: str | Path) -> bool:
    return (Path(folder) / SWEEP_FILE).is_file()


def _write_json(path: Path, value: Any) -> None:
    atomic_write(path, json.dumps(value, ensure_ascii=False, indent=2) + "\n")


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
