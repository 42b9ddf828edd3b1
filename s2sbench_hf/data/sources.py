"""Load a task's items from a dataset: the Hub, a local dataset folder, a reference release folder, or the bundled samples.

A Hub dataset id and a local folder written by `hub_folder.write_dataset_folder`
go through the same `datasets` calls (a config per task, split ``test``). Audio
is read with ``Audio(decode=False)``: each `Item` keeps the encoded bytes and
decodes them only when a batch needs the waveform (`Item.waveform`), so no
torchcodec is needed and a full task is never held as float arrays.

Every row is validated (`Item.validate`); a bad row becomes an `ItemError` in
`LoadedTask.errors` and the good rows are still used.

A local folder laid out as the reference release (jsonl + wavs, see
`release`) is read directly, without conversion. The continuations' speech
(``choices_audio``, for the speech-continuation settings) is not loaded into
`Item.meta`; the other extra columns (``subject``, ``uttid``, ``voice``) are.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import Any

import datasets

from s2sbench_hf.data.hub_folder import SPLIT
from s2sbench_hf.tasks import Item, ItemError, S2SBenchError, Task, get_task

SAMPLES_SOURCE = "samples"
"""The bundled sample sets: ``source="samples"`` (or None) and their ``info["source"]``. A folder that is
named ``samples`` is read as ``./samples``."""

REQUIRED_COLUMNS = ("id", "context", "choices", "label")


class DataSourceError(S2SBenchError, ValueError):
    """A dataset cannot be read as a task: not found, no config for the task, columns missing."""


class BadSourceError(DataSourceError):
    """A source to build or convert from has bad rows: ONE error that lists every one (``problems``).

    Raised before anything is written, so a failed build leaves no output.
    """

    def __init__(self, source: str, problems: list[str]):
        self.source, self.problems = source, list(problems)
        listing = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(
            f"{source}: {len(self.problems)} problem(s), nothing was written. Fix them and run again:\n{listing}"
        )

    def __reduce__(self):
        return (type(self), (self.source, self.problems))


@dataclass
class LoadedTask:
    """A task's valid items, the rows that were rejected, and where they came from.

    ``info`` has ``source``, ``config``, ``split``, ``revision``, ``num_rows`` and
    ``fingerprint``: a hash of the data files' content (of their commit-pinned
    URLs for remote files) that changes whenever the data does.
    """

    task: Task
    items: list[Item]
    errors: list[ItemError] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)


def load_task(task_id: str, source: str | None = None, *, limit: int | None = None, revision: str | None = None) -> LoadedTask:
    """Load the ``test`` split of ``task_id`` from ``source`` (Hub id, dataset folder, release folder, or
    ``"samples"``/None: the bundled sample sets).

    ``limit`` keeps the first rows only. Unknown task: `UnknownTaskError`; a
    source that cannot be read or has no config for the task: `DataSourceError`.
    """
    task = get_task(task_id)
    if source == SAMPLES_SOURCE:
        source = None
    if source is not None and revision is None and os.path.isdir(source):
        from s2sbench_hf.data import release

        if release.is_release_folder(source):
            return release.load_release_task(task_id, source, limit=limit)
    if source is None:
        from s2sbench_hf.data.samples import ensure_samples

        path, label = str(ensure_samples()), SAMPLES_SOURCE
    else:
        path, label = source, source
    _check_config(task_id, path, label, revision)
    builder = datasets.load_dataset_builder(path, task_id, revision=revision)
    builder.download_and_prepare()
    dataset = builder.as_dataset(split=SPLIT)
    missing = [name for name in REQUIRED_COLUMNS if name not in dataset.column_names]
    if missing:
        raise DataSourceError(
            f"task {task_id!r} in {label!r} lacks the columns {missing} (it has {dataset.column_names}). "
            f"A task needs {list(REQUIRED_COLUMNS)} and an optional 'audio' column."
        )
    info = {
        "source": label,
        "config": task_id,
        "split": SPLIT,
        "revision": revision,
        "num_rows": len(dataset),
        "fingerprint": _fingerprint(builder.config.data_files, dataset),
    }
    if "audio" in dataset.column_names:
        dataset = dataset.cast_column("audio", datasets.Audio(decode=False))
    if "choices_audio" in dataset.column_names:  # never decoded here (no torchcodec), nor kept in Item.meta
        dataset = dataset.remove_columns("choices_audio")
    if limit is not None:
        dataset = dataset.select(range(min(limit, len(dataset))))

    items: list[Item] = []
    errors: list[ItemError] = []
    seen: set[str] = set()
    for index, row in enumerate(dataset):
        try:
            item = _item(task, index, row)
            if item.id in seen:
                raise ItemError(task.id, item.id, "an earlier item has the same id", "Give every item a unique id.")
            seen.add(item.id)
            items.append(item.validate(task))
        except ItemError as err:
            errors.append(err)
    return LoadedTask(task=task, items=items, errors=errors, info=info)


def _check_config(task_id: str, path: str, label: str, revision: str | None) -> None:
    try:
        configs = datasets.get_dataset_config_names(path, revision=revision)
    except (OSError, ValueError) as err:
        raise DataSourceError(
            f"cannot read dataset {label!r} for task {task_id!r}: {err}. Give a dataset folder written "
            "by s2sbench_hf, a reference release folder (see s2sbench_hf.data.release), or a Hub dataset id "
            "(online, or already in the local cache)."
        ) from err
    if task_id not in configs:
        raise DataSourceError(
            f"dataset {label!r} has no config for task {task_id!r}; its configs are {sorted(configs)}. "
            "Pick one of those tasks, or rebuild the dataset with this task."
        )


def _item(task: Task, index: int, row: dict[str, Any]) -> Item:
    """An unvalidated `Item` from one row; the columns it does not use go to ``meta``."""
    if row["id"] is None or str(row["id"]) == "":
        raise ItemError(task.id, f"row {index}", "it has no id", "Give every item a unique, non-empty id.")
    audio = row.get("audio")
    if isinstance(audio, dict):
        audio = audio.get("bytes") or audio.get("path")
    used = {*REQUIRED_COLUMNS, "audio"}
    return Item(
        task=task.id,
        id=str(row["id"]),
        context=row["context"],
        choices=list(row["choices"] or []),
        label=row["label"],
        audio=audio,
        sampling_rate=None,
        meta={key: value for key, value in row.items() if key not in used},
    )


def _fingerprint(data_files: dict[str, list[str]] | None, dataset: datasets.Dataset) -> str:
    """SHA-256 (16 hex digits) over the split's data files: their bytes if local, else their URLs.

    Hub URLs name the commit (``hf://datasets/<id>@<sha>/...``), so they change with
    the data. A Hub dataset read offline from the datasets cache has no data files
    any more; its `datasets` fingerprint stands in.
    """
    if not data_files or not data_files.get(SPLIT):
        return dataset._fingerprint
    digest = hashlib.sha256()
    for name in data_files[SPLIT]:
        if os.path.isfile(name):
            digest.update(os.path.basename(name).encode() + b"\0")
            with open(name, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        else:
            digest.update(name.encode() + b"\0")
    return digest.hexdigest()[:16]
