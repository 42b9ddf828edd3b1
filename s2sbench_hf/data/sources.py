"""Load a task's items: the one dispatcher over sources and layouts.

`load_task(task, source)` takes the same three steps for every source:

1. **a source yields files** (`open_source`): ``"samples"`` (or None) is the bundled sample sets, built on first
   use (`samples`; they are not the S2SBench benchmark); a local folder is read in place; a Hub dataset id (the
   default of the run options, `loaded.DEFAULT_DATASET`, is the authors' release) is a `hub_snapshot.HubSource`,
   a snapshot at one commit (recorded as ``info["revision"]``, so results are pinned to it) of only the files
   the layouts look at for the task, and its archives;
2. **one function names the layout** (`name_layout`): the first of `LAYOUTS` whose finder finds the task's files
   in the source's folder, looking at the folder and its top-level folders only (``/`` or a home folder is
   refused in one line, never walked); on the Hub, then the layouts that may sit in an archive, in each archive;
3. **that layout's reader yields the items** (`loaded.Layout.read`), checked where they are made: every row is
   validated (a bad row is an `ItemError` in `LoadedTask.errors`, the good rows are still used), ``limit`` keeps
   the first N items in the source's order, usable or not (`loaded.check_limit`), and an empty source is a
   `DataSourceError` naming it.

The layouts, in order: `release.LAYOUT` (the reference release, jsonl + one wav per row, read without
conversion), `dataset_folder.LAYOUT` (Parquet with a ``configs:`` card, what `s2sbench build` writes, the
samples too), then the speech-LM sets' own layouts: `paired_parquet.LAYOUT` (Hub Parquet with two Audio columns:
``speed/sStoryCloze`` ..., ``slprl/SALMon``), `webdataset_shards.LAYOUT` (``coml/sWuggy``), `wav_pairs.LAYOUT` (the
official sStoryCloze/tStoryCloze zips of wav pairs) and `crossmodal_folder.LAYOUT` (slamkit's cross-modal
tStoryCloze). A new layout is a `loaded.Layout` (its finder, its reader, the Hub patterns its finder looks at)
and one `register` call. A task no layout finds is one `DataSourceError` saying why (`loaded.Source.no_data`).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

from s2sbench_hf.data import (
    crossmodal_folder,
    dataset_folder,
    paired_parquet,
    release,
    wav_pairs,
    webdataset_shards,
)
from s2sbench_hf.data.hub_snapshot import HubSource, is_hub_id
from s2sbench_hf.data.loaded import SAMPLES_SOURCE, DataSourceError, Layout, LoadedTask, Source
from s2sbench_hf.data.samples import ensure_samples
from s2sbench_hf.tasks import ALL_TASKS, get_task

LAYOUTS: list[Layout] = [
    release.LAYOUT,
    dataset_folder.LAYOUT,
    paired_parquet.LAYOUT,
    webdataset_shards.LAYOUT,
    wav_pairs.LAYOUT,
    crossmodal_folder.LAYOUT,
]
"""The layouts `name_layout` tries, in this order (the first that finds a task's files reads them). The speech-LM
layouts come last and each finds only its own tasks (`tasks.SPEECH_LM_TASKS`), so they never take an S2SBench task
from the first two."""


def register(layout: Layout, *, before: str | None = None) -> None:
    """Add ``layout`` to `LAYOUTS`: last, or just before the layout named ``before`` (to win over it where both
    would find a task). A name already taken is a `ValueError`."""
    names = [known.name for known in LAYOUTS]
    if layout.name in names:
        raise ValueError(f"a layout named {layout.name!r} is registered already")
    if before is not None and before not in names:
        raise ValueError(f"no layout named {before!r} to go before; the layouts are {names}")
    LAYOUTS.insert(names.index(before) if before is not None else len(LAYOUTS), layout)


def load_task(
    task_id: str,
    source: str | None = None,
    *,
    limit: int | None = None,
    revision: str | None = None,
    progress: bool = True,
) -> LoadedTask:
    """Load the ``test`` split of ``task_id`` from ``source`` (module docstring; None or ``"samples"``: the bundled
    samples).

    ``limit`` keeps the first N items; ``revision`` (a Hub dataset's branch, tag
    or commit) pins a Hub source. ``progress``: the bar of the sample sets'
    synthesis on first use. Unknown task: `UnknownTaskError`; a source that
    cannot be read, has no data for the task or is empty: `DataSourceError`.

    >>> loaded = load_task("scmmlu", "samples", limit=3)
    >>> len(loaded.items), loaded.task.num_choices, loaded.info["source"]
    (3, 4, 'samples')
    >>> item = loaded.items[0]
    >>> item.choices[item.label] in item.choices, item.audio_seconds() > 0
    (True, True)
    """
    try:
        layout, found, where = name_layout(task_id, open_source(task_id, source, revision, progress=progress))
    except DataSourceError as err:
        raise DataSourceError(f"{err}{_home_hint(task_id, source)}") from None
    return layout.read(task_id, found, where, limit)


def _home_hint(task_id: str, source: str | None) -> str:
    """Where a built-in set is published, for the error of a source that lacks it (a speech-LM set named with the
    default dataset, the S2SBench release, say); nothing where the source is its home already, or it has none."""
    homes = ALL_TASKS[task_id].hub_datasets if task_id in ALL_TASKS else ()
    if not homes or source in homes:
        return ""
    return f" Task {task_id!r} is published as {' or '.join(homes)}: --dataset {homes[0]}."


def open_source(task_id: str, source: str | None, revision: str | None = None, *, progress: bool = True) -> Source:
    """The folder that ``source`` gives for ``task_id`` (a Hub snapshot: with the files the layouts look at)."""
    if source is None or source == SAMPLES_SOURCE:
        get_task(task_id)  # an unknown task: UnknownTaskError before the samples are built
        return Source(SAMPLES_SOURCE, ensure_samples(progress=progress))
    if os.path.isdir(source):
        if revision is not None:
            raise DataSourceError(f"a revision ({revision!r}) pins a Hub dataset; {source} is a local folder")
        folder = os.path.abspath(source)
        return Source(folder, Path(folder))
    if is_hub_id(source):
        patterns = dict.fromkeys(pattern for layout in LAYOUTS for pattern in layout.patterns(task_id))
        return HubSource(source, list(patterns), revision)
    raise DataSourceError(
        f"cannot read dataset {source!r}: no such folder, and not a Hub dataset id (ORG/NAME). Give a dataset "
        "folder written by s2sbench_hf, a reference release folder, a Hub dataset id, or 'samples'."
    )


def name_layout(task_id: str, source: Source) -> tuple[Layout, Any, Source]:
    """The layout of ``task_id`` in ``source``: (the layout, what its finder found, the source it was found in: the
    source itself or one of its archives). None found: ``source.no_data``."""
    try:
        hit = _first_layout(source.folder, task_id, LAYOUTS)
        if hit is not None:
            return (*hit, source)
        archived = [layout for layout in LAYOUTS if layout.in_archives and layout.patterns(task_id)]
        find = functools.partial(_first_layout, task_id=task_id, layouts=archived)
        inside = source.in_archives(task_id, find) if archived else None
        if inside is not None:
            (layout, found), archive = inside
            return layout, found, archive
        raise source.no_data(task_id, LAYOUTS)
    except OSError as err:  # a folder or file this user may not read
        raise DataSourceError(f"cannot read {err.filename or source.folder}: {err.strerror or err}") from None


def _first_layout(folder: Path, task_id: str, layouts: list[Layout]) -> tuple[Layout, Any] | None:
    """The first of ``layouts`` whose finder finds ``task_id`` in ``folder``, with what it found."""
    for layout in layouts:
        found = layout.find(folder, task_id)
        if found is not None:
            return layout, found
    return None
