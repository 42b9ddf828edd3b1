"""Load a task's items from a dataset: the Hub, a local folder, a reference release, or the bundled samples.

`load_task` takes one ``source``:

* ``"samples"`` (or None): the bundled sample sets, built on first use
  (`samples`). They are not the S2SBench benchmark.
* a local folder: a dataset folder written by `hub_folder.write_dataset_folder`
  (Parquet, one config per task, split ``test``) or a reference release folder
  (jsonl + wavs, `release`), read without conversion. Its layout is recognized
  from the folder and its top-level folders before anything walks it: any
  other folder (``/``, a home folder) is a one-line `DataSourceError`.
* a Hub dataset id (default of the run options: `loaded.DEFAULT_DATASET`,
  the authors' release): `huggingface_hub.snapshot_download` fetches only the
  task's files, at one commit, into the Hugging Face cache. A repository in the
  release's raw layout (also one folder down, or in an archive) is read exactly
  as a local release folder; one with a ``configs:`` card (our own published
  format) as a local dataset folder, from the same snapshot. The snapshot's
  commit is recorded as ``info["revision"]``, so results are pinned to it.

A Parquet dataset goes through `datasets` (its configs and data files from the
card). Audio is read with ``Audio(decode=False)``: each `Item` keeps the encoded
bytes (the context's, and the continuations' from ``choices_audio`` where the
dataset has them) and decodes them only when a batch needs the waveform
(`Item.waveform`, `Item.continuation_waveform`), so no torchcodec is needed and
a full task is never held as float arrays. Only embedded bytes are read, never
a clip's recorded path (`_encoded`).

Tasks are data: a task id that is not one of the S2SBench sets (`tasks.TASKS`)
is defined by the dataset's card (``s2sbench_tasks``, `hub_folder.card_tasks`),
checked on load. Every row is validated (`Item.validate`); a bad row becomes an
`ItemError` in `LoadedTask.errors` and the good rows are still used. ``limit``
means the same on every source: the first N items in the source's order,
usable or not. An empty source is a `DataSourceError` naming it.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

import datasets

from s2sbench_hf.data import release
from s2sbench_hf.data.hub_folder import SPLIT, card_configs, card_tasks
from s2sbench_hf.data.hub_snapshot import fetch_snapshot, is_hub_id
from s2sbench_hf.data.loaded import SAMPLES_SOURCE, DataSourceError, LoadedTask
from s2sbench_hf.data.samples import ensure_samples
from s2sbench_hf.tasks import TASKS, Item, ItemError, Task, get_task

REQUIRED_COLUMNS = ("id", "context", "choices", "label")


def load_task(
    task_id: str, source: str | None = None, *, limit: int | None = None, revision: str | None = None
) -> LoadedTask:
    """Load the ``test`` split of ``task_id`` from ``source`` (module docstring; None or ``"samples"``: the bundled
    samples).

    ``limit`` keeps the first N items; ``revision`` (a Hub dataset's branch, tag
    or commit) pins a Hub source. Unknown task: `UnknownTaskError`; a source that
    cannot be read, has no data for the task or is empty: `DataSourceError`.

    >>> loaded = load_task("scmmlu", "samples", limit=3)
    >>> len(loaded.items), loaded.task.num_choices, loaded.info["source"]
    (3, 4, 'samples')
    >>> item = loaded.items[0]
    >>> item.choices[item.label] in item.choices, item.audio_seconds() > 0
    (True, True)
    """
    release.check_limit(limit)
    if source is None or source == SAMPLES_SOURCE:
        get_task(task_id)
        return _load_dataset_folder(task_id, str(ensure_samples()), SAMPLES_SOURCE, limit=limit)
    if os.path.isdir(source):
        if revision is not None:
            raise DataSourceError(f"a revision ({revision!r}) pins a Hub dataset; {source} is a local folder")
        return _load_local(task_id, os.path.abspath(source), limit)
    if is_hub_id(source):
        return _load_hub(task_id, source, revision, limit)
    raise DataSourceError(
        f"cannot read dataset {source!r}: no such folder, and not a Hub dataset id (ORG/NAME). Give a dataset "
        "folder written by s2sbench_hf, a reference release folder, a Hub dataset id, or 'samples'."
    )


def _load_local(task_id: str, folder: str, limit: int | None) -> LoadedTask:
    """A task of a local folder: a release folder read directly, or a dataset folder through `datasets`.

    The layout is recognized first from the folder and its top-level folders alone: `datasets` walks the whole
    tree of any folder it is given, which for ``/`` or a home folder takes minutes and gigabytes.
    """
    try:
        if release.is_release_folder(folder):
            return release.load_release_task(get_task(task_id).id, folder, limit=limit)
        configs = card_configs(folder)
    except OSError as err:  # a folder or file this user may not read
        raise DataSourceError(f"cannot read {err.filename or folder}: {err.strerror or err}") from None
    if not configs:
        raise DataSourceError(
            f"{folder} is not a dataset folder: no README.md card with a configs: block (what s2sbench build "
            f"writes), and no release files of any task ({', '.join(TASKS)}) in it or one folder down. Give a dataset "
            "folder, a release folder (<task>/data.jsonl + <task>/wavs/), a Hub dataset id, or 'samples'."
        )
    return _load_dataset_folder(task_id, folder, folder, limit=limit)


def _load_hub(task_id: str, repo_id: str, revision: str | None, limit: int | None) -> LoadedTask:
    """A task of a Hub dataset: its release files (directly, one folder down, or in an archive), or its Parquet
    config."""
    patterns = release.release_patterns([task_id]) if task_id in TASKS else []
    snapshot = fetch_snapshot(repo_id, [*patterns, "README.md"], revision)
    files = release.release_files(snapshot.folder, task_id) if task_id in TASKS else None
    configs = card_configs(snapshot.folder)
    if files is None and task_id in configs:
        snapshot = fetch_snapshot(repo_id, ["README.md", *configs[task_id]], snapshot.commit)
        return _load_dataset_folder(task_id, str(snapshot.folder), repo_id, revision=snapshot.commit, limit=limit)
    if files is None and task_id in TASKS:
        files = release.hub_release_files(snapshot, task_id)
    if files is None:
        raise DataSourceError(
            f"dataset {repo_id} (commit {snapshot.commit[:12]}) has no data for task {task_id!r}: no reference "
            f"release files and no config {task_id!r} in its card (configs: {sorted(configs) or 'none'})."
        )
    return release.release_task(files, limit=limit, source=repo_id, revision=snapshot.commit)


def _dataset_task(task_id: str, folder: str, label: str) -> Task:
    """The `Task` of a config of a dataset folder: the registered one, or the spec its card declares (checked)."""
    declared = card_tasks(folder)
    spec = declared.get(task_id)
    if task_id in TASKS:
        task = TASKS[task_id]
        if spec is not None and (spec.language, spec.num_choices) != (task.language, task.num_choices):
            raise DataSourceError(
                f"the card of {label!r} declares task {task_id!r} as {spec.language}, {spec.num_choices} choices, "
                f"but the S2SBench task is {task.language}, {task.num_choices} choices. Rebuild the dataset "
                "under another task id."
            )
        return task
    if spec is None:
        return get_task(task_id)  # not an S2SBench task either: UnknownTaskError, listing the known ones
    return spec


def _load_dataset_folder(
    task_id: str, path: str, label: str, *, revision: str | None = None, limit: int | None = None
) -> LoadedTask:
    """A config of a local dataset folder (written by `hub_folder.write_dataset_folder`, or a Hub snapshot of one)."""
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
