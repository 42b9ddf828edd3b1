"""What the speech-LM readers share: making a pair item, checking and limiting items, the record of the source.

The layouts of the speech-LM sets (`paired_parquet`, `webdataset_shards`, `wav_pairs`, `crossmodal_folder`) each
find and read their own files; the items they make go through the same steps here, so a bad pair is reported the
same way whatever its layout: `pair_item` makes an utterance pair (no context, the positive clip first),
`finish` keeps the first ``limit`` entries of the source's order, usable or not, checks each item
(`tasks.Item.validate`: a missing or unreadable clip is an `ItemError` naming the task and the item) and refuses
a repeated id; `fingerprint` hashes the files read and `extracted` unpacks an archive once, with the limits of a
Hub archive (`hub_snapshot.extract_archive`), so a zip or a tar shard is read as the folder it holds.
"""

from __future__ import annotations

import hashlib
import numbers
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from s2sbench_hf.data.hub_snapshot import Snapshot, extract_archive
from s2sbench_hf.data.loaded import DataSourceError, LoadedTask, Source
from s2sbench_hf.tasks import Item, ItemError, Task

Clip = bytes | str | None
"""A clip as an item keeps it: the bytes of an encoded file, or a path (decoded only when a batch needs it)."""


def pair_item(
    task_id: str, item_id: str, clips: tuple[Clip, Clip], texts: Sequence[str] = ("", ""), meta: dict | None = None
) -> Item:
    """An (unchecked) utterance pair: no context, ``clips`` = (positive, negative), label 0, the clips' ``texts``
    where the data has them."""
    return Item(
        task=task_id,
        id=item_id,
        context="",
        choices=[text or "" for text in texts],
        label=0,
        choices_audio=list(clips),
        meta=dict(meta or {}),
    )


def finish(
    task: Task,
    entries: Sequence[Item | ItemError],
    info: dict[str, Any],
    limit: int | None,
    unplaced: Sequence[ItemError] = (),
) -> LoadedTask:
    """The `LoadedTask` of a source's ``entries`` (an item, or the error that stopped it, in the source's order):
    the first ``limit`` of them, usable or not, each item checked (`Item.validate`) and its id unique. ``unplaced``
    (problems that belong to no item, a file without a pair number) are always reported."""
    items: list[Item] = []
    errors: list[ItemError] = []
    seen: set[str] = set()
    for entry in entries[:limit] if limit is not None else entries:
        if isinstance(entry, ItemError):
            errors.append(entry)
        elif entry.id in seen:
            errors.append(
                ItemError(task.id, entry.id, "an earlier item has the same id", "Give every item a unique id.")
            )
        else:
            seen.add(entry.id)
            try:
                items.append(entry.validate(task))
            except ItemError as err:
                errors.append(err)
    return LoadedTask(task=task, items=items, errors=[*errors, *unplaced], info=info)


def record(
    source: Source, config: str, split: str, num_rows: int, fingerprint: str, layout: str, **extra: Any
) -> dict[str, Any]:
    """``LoadedTask.info`` of a speech-LM source: what results.json records in ``datasets.<task>``. An empty
    source (``num_rows`` 0) is a `DataSourceError` naming it."""
    if num_rows == 0:
        raise DataSourceError(
            f"{source.label} holds no rows for config {config!r}, split {split!r}: nothing to score. Give the set's "
            "full data."
        )
    return {
        "source": source.label,
        "config": config,
        "split": split,
        "revision": source.revision,
        "num_rows": num_rows,
        "fingerprint": fingerprint,
        "format": layout,
        **extra,
    }


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fingerprint(root: Path, files: Sequence[Path]) -> str:
    """SHA-256 (16 hex digits) over the files read, their names relative to ``root`` and their bytes: it changes
    whenever the data does, and not with the folder the source sits in."""
    digest = hashlib.sha256()
    for path in sorted(files, key=lambda path: path.relative_to(root).as_posix()):
        digest.update(f"{path.relative_to(root).as_posix()}\0{file_digest(path)}\0".encode())
    return digest.hexdigest()[:16]


def extracted(source: Source, archive: Path) -> Path:
    """The folder ``archive`` (a zip or tar in ``source.folder``) is extracted to, once per content, under
    ``$S2SBENCH_CACHE/hub-archives/``: members that would land outside it, links and zip bombs are refused in one
    line (`hub_snapshot.extract_archive`)."""
    version = source.revision or file_digest(archive)  # a local archive: its content names it
    return extract_archive(Snapshot(repo_id=source.label, commit=version, folder=source.folder), archive)


def natural_key(text: str) -> tuple[int, int, str]:
    """Sorts ids as numbers where they are (``"2"`` before ``"10"``), then as text."""
    return (0, int(text), "") if re.fullmatch(r"\d+", text) else (1, 0, text)


FREQUENCY_BANDS = ((1, "oov"), (5, "1-5"), (20, "6-20"), (100, "21-100"), (float("inf"), ">100"))
"""ZeroSpeech 2021's word-frequency bands, each with the count it stops below: its evaluation's
``pd.cut(frequency, [0, 1, 5, 20, 100, inf], right=False)``, so 0 is ``oov`` and 5 is ``6-20``."""


def vocabulary(frequency: Any) -> dict[str, Any]:
    """sWUGGY's breakdown fields from a word's ``frequency`` (ZeroSpeech's gold: its occurrences in the training
    data, an integer or the digits of one, banded by `FREQUENCY_BANDS`; or a band already, such as ``oov`` or
    ``1-5``): ``frequency`` (the band) and ``in_vocab`` (not ``oov``); {} without one, or for a count no band
    holds (a negative one)."""
    if isinstance(frequency, str) and re.fullmatch(r"\s*\d+(\.0*)?\s*", frequency):
        frequency = int(frequency.strip().split(".")[0])
    if isinstance(frequency, numbers.Real) and not isinstance(frequency, bool):
        if not isinstance(frequency, numbers.Integral) and not float(frequency).is_integer():
            return {}  # NaN, infinite or fractional: no band
        count = int(frequency) if isinstance(frequency, numbers.Integral) else int(float(frequency))
        band = next((label for end, label in FREQUENCY_BANDS if 0 <= count < end), None)  # no band below 0
        return {} if band is None else {"frequency": band, "in_vocab": band != "oov"}
    if frequency is None or str(frequency) == "":
        return {}
    return {"frequency": str(frequency), "in_vocab": str(frequency).lower() != "oov"}
