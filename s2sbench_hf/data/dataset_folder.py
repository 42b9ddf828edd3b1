"""The dataset layout: a folder with a ``README.md`` card whose ``configs:`` block names the Parquet files of each
config (what `hub_folder.write_dataset_folder` writes, the bundled samples, a Hub snapshot of either), read through
`datasets`.

`LAYOUT` is this layout for the one dispatcher (`sources.load_task`). Its finder names it where the card has a
config of the task's name; its reader fetches that config's files (a Hub snapshot downloads them then), reads them
with `datasets` and makes the items. Tasks are data: a task id that is not a built-in task
(`tasks.ALL_TASKS`) is defined by the card (``s2sbench_tasks``, `hub_folder.card_tasks`), checked on load.

Audio is read with ``Audio(decode=False)``: each `Item` keeps the encoded bytes (the context's, and the
continuations' from ``choices_audio`` where the dataset has them) and decodes them only when a batch needs the
waveform (`Item.waveform`, `Item.continuation_waveform`), so no torchcodec is needed and a full task is never held
as float arrays. Only embedded bytes are read, never a clip's recorded path (`_encoded`). Every row is validated
(`Item.validate`); a bad row becomes an `ItemError` in `LoadedTask.errors` and the good rows are still used.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import datasets

from s2sbench_hf.data.hub_folder import SPLIT, card_configs, card_tasks
from s2sbench_hf.data.loaded import DataSourceError, Layout, LoadedTask, Source, check_limit
from s2sbench_hf.tasks import ALL_TASKS, Item, ItemError, Task, get_task

REQUIRED_COLUMNS = ("id", "context", "choices", "label")


def find_config(folder: Path, task_id: str) -> list[str] | None:
    """The dataset layout's finder (`LAYOUT`): the file patterns of the card's config ``task_id``, or None."""
    return card_configs(folder).get(task_id)


def _config_lacks(folder: Path, task_id: str, label: str) -> str | None:
    """Why a dataset folder has no data for ``task_id`` (None: no card with configs, not a dataset folder)."""
    configs = card_configs(folder)
    if not configs:
        return None
    return (
        f"dataset {label!r} has no config for task {task_id!r}; its configs are {sorted(configs)}. "
        "Pick one of those tasks, or rebuild the dataset with this task."
    )


def _patterns(task_id: str) -> list[str]:
    return ["README.md"]


def _dataset_task(task_id: str, folder: str, label: str) -> Task:
    """The `Task` of a config of a dataset folder: the registered one, or the spec its card declares (checked)."""
    declared = card_tasks(folder)
    spec = declared.get(task_id)
    if task_id in ALL_TASKS:
        task = ALL_TASKS[task_id]
        if spec is not None and (spec.language, spec.num_choices, spec.kind) != (
            task.language,
            task.num_choices,
            task.kind,
        ):
            raise DataSourceError(
                f"the card of {label!r} declares task {task_id!r} as {spec.language}, {spec.num_choices} choices, "
                f"{spec.kind}, but the built-in task is {task.language}, {task.num_choices} choices, {task.kind}. "
                "Rebuild the dataset under another task id."
            )
        return task
    if spec is None:
        return get_task(task_id)  # not a built-in task either: UnknownTaskError, listing the known ones
    return spec


def read_task(task_id: str, patterns: list[str], source: Source, limit: int | None) -> LoadedTask:
    """The dataset layout's reader (`LAYOUT`): the config ``task_id`` of the source's folder, its data files
    (``patterns``, from the card) fetched first where the source is a Hub snapshot."""
    check_limit(limit)
    path, label, revision = str(source.fetch(["README.md", *patterns])), source.label, source.revision
    _check_config(task_id, path, label)
    task = _dataset_task(task_id, path, label)
    builder = datasets.load_dataset_builder(path, task_id)
    builder.download_and_prepare()
    split = (builder.info.splits or {}).get(SPLIT)
    if split is None or not split.num_examples:
        raise DataSourceError(
            f"task {task_id!r} in {label!r} has no rows in split {SPLIT!r}: nothing to score. Rebuild the dataset."
        )
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
    for name, feature in (
        ("audio", datasets.Audio(decode=False)),
        ("choice_context_audio", datasets.List(datasets.Audio(decode=False))),
        ("choices_audio", datasets.List(datasets.Audio(decode=False))),
    ):
        if name in dataset.column_names:
            dataset = dataset.cast_column(name, feature)
    if limit is not None:
        dataset = dataset.select(range(min(limit, len(dataset))))
    return _items(task, dataset, info)


def _items(task: Task, dataset: datasets.Dataset, info: dict[str, Any]) -> LoadedTask:
    """The rows as validated items; a row that is no usable item (no id, a repeated id, a bad field) is an
    `ItemError`."""
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


def _check_config(task_id: str, path: str, label: str) -> None:
    try:
        configs = datasets.get_dataset_config_names(path)
    except (OSError, ValueError) as err:
        raise DataSourceError(
            f"cannot read dataset {label!r} for task {task_id!r}: {err}. Give a dataset folder written "
            "by s2sbench_hf, a reference release folder (see s2sbench_hf.data.release), or a Hub dataset id."
        ) from err
    if task_id not in configs:
        raise DataSourceError(
            f"dataset {label!r} has no config for task {task_id!r}; its configs are {sorted(configs)}. "
            "Pick one of those tasks, or rebuild the dataset with this task."
        )


def _encoded(audio: Any) -> bytes | None:
    """The embedded bytes of an ``Audio(decode=False)`` value (None: no clip).

    Only embedded audio is read: a value without bytes gives ``b""`` (unusable, an item error in the settings
    that need it), never its ``path``, which names a file on the machine that wrote the dataset and would be
    opened relative to the current directory here.
    """
    if not isinstance(audio, dict):
        return audio
    if audio.get("bytes") is None and audio.get("path") is None:
        return None
    return audio.get("bytes") or b""


def _item(task: Task, index: int, row: dict[str, Any]) -> Item:
    """An unvalidated `Item` from one row; the columns it does not use go to ``meta``."""
    if row["id"] is None or str(row["id"]) == "":
        raise ItemError(task.id, f"row {index}", "it has no id", "Give every item a unique, non-empty id.")
    clips, spoken = row.get("choice_context_audio"), row.get("choices_audio")
    used = {*REQUIRED_COLUMNS, "audio", "choice_context_audio", "choices_audio"}
    return Item(
        task=task.id,
        id=str(row["id"]),
        context=row["context"],
        choices=list(row["choices"] or []),
        label=row["label"],
        audio=_encoded(row.get("audio")),
        sampling_rate=None,
        meta={key: value for key, value in row.items() if key not in used},
        choice_context_audio=None if clips is None else [_encoded(clip) for clip in clips],
        choices_audio=None if spoken is None else [_encoded(clip) for clip in spoken],
    )


def _fingerprint(data_files: dict[str, list[str]] | None, dataset: datasets.Dataset) -> str:
    """SHA-256 (16 hex digits) over the split's data files: their bytes if local, else their URLs.

    Hub URLs name the commit (``hf://datasets/<id>@<sha>/...``), so they change with
    the data. Without data files, the `datasets` fingerprint stands in.
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


LAYOUT = Layout(name="dataset", find=find_config, read=read_task, patterns=_patterns, lacks=_config_lacks)
"""A Parquet dataset with a ``configs:`` card (module docstring)."""
