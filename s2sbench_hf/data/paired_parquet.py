"""The speech-LM sets as the Hub publishes them in Parquet: one row per pair, two Audio columns.

* ``speed/sStoryCloze``, ``speed/tStoryCloze``, ``speed/sWUGGY``, ``speed/sBLIMP``: the ``default`` config (or,
  without a ``configs:`` block in the card, the Hub's own layout ``data/train-*.parquet``), split ``train``, Audio
  columns ``positive`` and ``negative``, each clip a whole utterance (a story: its context and ending in one clip).
* ``slprl/SALMon``: one config per subset (``bg_alignment`` ... ``speaker_consistency``, as
  `tasks.SALMON_SUBSETS`), split ``train``, Audio columns ``positive_audio`` and ``negative_audio``. Task
  ``salmon_<subset>`` reads its subset's config; task ``salmon`` every subset config the card declares, each
  item with ``meta["subset"]`` (its breakdown).

`PARQUET_SETS` says, per task, which configs, split and columns are read: a copy of a set with other column names
is read by replacing the task's entry (``PARQUET_SETS["swuggy"] = ParquetSet(audio=("word", "nonword"))``). A
pair's item: ``choices_audio`` = the two clips' embedded bytes (the positive first, label 0), ``choices`` = the
text columns where the data has them (else ""), ``meta`` = the row's other plain columns (SALMon's ``task`` and
``ind``), the clips' recorded file names (``files``), the subset, and sWUGGY's vocabulary fields
(`paired.vocabulary`, from a ``frequency`` column). An Audio column is read as Parquet holds it, a struct of
``bytes`` and ``path``, with pyarrow: no audio is decoded here, and a clip without embedded bytes is a missing
clip (an `ItemError` of its pair), never a file looked up by its recorded path.

`LAYOUT` is this layout for the one dispatcher (`sources.load_task`); it comes after the dataset layout, which
reads a folder whose card has a config named after the task (what ``s2sbench build`` writes).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]  # no py.typed (datasets' own dependency)
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from s2sbench_hf.data import paired
from s2sbench_hf.data.hub_folder import card_configs
from s2sbench_hf.data.loaded import DataSourceError, Layout, LoadedTask, Source, check_limit
from s2sbench_hf.tasks import SALMON_SUBSETS, Item, ItemError, get_task

DEFAULT_CONFIG = "default"
HUB_DEFAULT_FILES = ["data/train-*.parquet"]
"""The files of a repository's default config when its card has no ``configs:`` block (the Hub's own layout)."""
ID_COLUMNS = ("id", "ind", "idx")
"""Columns that name a row, the first present one used in the item id (else the row's number)."""


@dataclass(frozen=True)
class ParquetSet:
    """Where a task's pairs are in a Parquet set: its ``configs``, ``split``, the ``audio`` columns (positive,
    negative) and the ``texts`` columns of their transcripts (used where present)."""

    configs: tuple[str, ...] = (DEFAULT_CONFIG,)
    audio: tuple[str, str] = ("positive", "negative")
    texts: tuple[str, str] = ("positive_text", "negative_text")
    split: str = "train"


_SALMON_AUDIO = ("positive_audio", "negative_audio")

PARQUET_SETS: dict[str, ParquetSet] = {
    "sstorycloze_slm": ParquetSet(),
    "tstorycloze_slm": ParquetSet(),
    "swuggy": ParquetSet(),
    "sblimp": ParquetSet(),
    **{f"salmon_{subset}": ParquetSet(configs=(subset,), audio=_SALMON_AUDIO) for subset in SALMON_SUBSETS},
    "salmon": ParquetSet(configs=SALMON_SUBSETS, audio=_SALMON_AUDIO),
}
"""The Parquet sets, by task (module docstring); replace an entry to read other configs or columns."""


def find_configs(folder: Path, task_id: str) -> dict[str, list[str]] | None:
    """This layout's finder: the file patterns of each of the task's configs that the folder's card declares (the
    default config without a card: the Hub's own layout, where its files are present), or None."""
    spec = PARQUET_SETS.get(task_id)
    if spec is None:
        return None
    declared = card_configs(folder, spec.split)
    if not declared and spec.configs == (DEFAULT_CONFIG,):
        present = any(next(folder.glob(pattern), None) for pattern in HUB_DEFAULT_FILES)
        return {DEFAULT_CONFIG: HUB_DEFAULT_FILES} if present else None
    found = {config: declared[config] for config in spec.configs if declared.get(config)}
    return found or None


def _patterns(task_id: str) -> list[str]:
    """The files the finder looks at: the card, and the Hub's own layout for a set read from its default config."""
    spec = PARQUET_SETS.get(task_id)
    if spec is None:
        return []
    return ["README.md", *HUB_DEFAULT_FILES] if DEFAULT_CONFIG in spec.configs else ["README.md"]


def _files(source: Source, patterns: list[str]) -> list[Path]:
    """The Parquet files of one config (fetched first where the source is a Hub snapshot), in name order."""
    folder = source.fetch(patterns)
    files: dict[Path, None] = {}
    for pattern in patterns:
        try:
            files.update(dict.fromkeys(sorted(path for path in folder.glob(pattern) if path.suffix == ".parquet")))
        except (ValueError, NotImplementedError):  # an absolute or empty pattern: no file of this folder
            continue
    return list(files)


def read_pairs(task_id: str, found: dict[str, list[str]], source: Source, limit: int | None) -> LoadedTask:
    """This layout's reader: the pairs of every config found, in config then row order."""
    task, spec = get_task(task_id), PARQUET_SETS[task_id]
    check_limit(limit)
    entries: list[Item | ItemError] = []
    read: list[Path] = []
    num_rows = 0
    for config, patterns in found.items():
        files = _files(source, patterns)
        read += files
        num_rows += sum(pq.ParquetFile(path).metadata.num_rows for path in files)
        for number, row in enumerate(_rows(files, spec, source.label)):
            if limit is not None and len(entries) >= limit:
                break
            entries.append(_pair(task_id, config, number, row, spec))
    configs = "+".join(found)
    info = paired.record(
        source, configs, spec.split, num_rows, paired.fingerprint(source.folder, read), "hub-parquet-pairs"
    )
    return paired.finish(task, entries, info, limit)


def _rows(files: list[Path], spec: ParquetSet, label: str) -> Iterator[dict[str, Any]]:
    """The rows of ``files``: the audio columns, the text columns present, and the plain (scalar) columns."""
    for path in files:
        handle = pq.ParquetFile(path)
        schema = handle.schema_arrow
        missing = [name for name in spec.audio if name not in schema.names]
        if missing:
            raise DataSourceError(
                f"{path.name} of {label} lacks the audio columns {missing} (it has {schema.names}). Read it with "
                "other columns: s2sbench_hf.data.paired_parquet.PARQUET_SETS."
            )
        plain = [field.name for field in schema if not pa.types.is_nested(field.type) and field.name not in spec.audio]
        for batch in handle.iter_batches(batch_size=64, columns=[*spec.audio, *plain]):
            yield from batch.to_pylist()


def _clip(value: Any) -> tuple[bytes | None, str | None]:
    """An Audio struct's embedded bytes (None: no clip, or no bytes) and recorded file name."""
    if not isinstance(value, dict):
        return None, None
    return value.get("bytes") or None, value.get("path")


def _pair(task_id: str, config: str, number: int, row: dict[str, Any], spec: ParquetSet) -> Item:
    """One row as an (unchecked) pair: its id ``[<config>/]<id column or row number>``."""
    (positive, first), (negative, second) = (_clip(row[name]) for name in spec.audio)
    key = next((row[name] for name in ID_COLUMNS if row.get(name) is not None), number)
    subset = {} if config == DEFAULT_CONFIG else {"subset": config}
    meta = {
        **{name: value for name, value in row.items() if name not in (*spec.audio, *spec.texts)},
        **subset,
        **paired.vocabulary(row.get("frequency")),
        "files": [first or "", second or ""],
    }
    item_id = f"{config}/{key}" if subset else str(key)
    texts = [text if isinstance(text := row.get(name), str) else "" for name in spec.texts]
    return paired.pair_item(task_id, item_id, (positive, negative), texts, meta)


LAYOUT = Layout(name="hub-parquet-pairs", find=find_configs, read=read_pairs, patterns=_patterns)
"""The speech-LM sets in Hub Parquet, two Audio columns per row (module docstring)."""
