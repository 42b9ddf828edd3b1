"""The run's record cache: finished work survives a crash, and a restart computes only what is missing.

Layout: ``<output>/cache/<key>/records-rank<r>.jsonl`` where ``key`` hashes what
decides the scores (the model's identity and dtype, the adapter options, the
task, its framing and the dataset fingerprint). Each process appends whole
batches to its own file (no locking, no interleaving); a restart, with any
number of processes, reads every file of the key. A line cut short by a kill
is ignored, so a batch counts only once all its lines are on disk, and so is a
record whose score is not a finite number (the engine never writes one; an
older version did): such an item is scored again.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from s2sbench_hf.scoring.interface import Record

_FIELDS = set(Record.__dataclass_fields__)


def cache_key(identity: Mapping[str, Any]) -> str:
    """A short stable hash of a JSON-able description."""
    text = json.dumps(identity, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class RecordCache:
    """Append-only per-process record files under one key folder."""

    def __init__(self, root: str | os.PathLike, identity: Mapping[str, Any], rank: int = 0):
        self.folder = Path(root) / cache_key(identity)
        self.folder.mkdir(parents=True, exist_ok=True)
        meta = self.folder / "identity.json"
        if not meta.exists():
            meta.write_text(json.dumps(identity, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
        self.path = self.folder / f"records-rank{rank}.jsonl"

    def load(self) -> list[Record]:
        """Every complete line with a finite score, of every process's file (the last one wins for a repeated key)."""
        found: dict[tuple[str, str, int], Record] = {}
        for path in sorted(self.folder.glob("records-rank*.jsonl")):
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                    record = Record(**{k: v for k, v in row.items() if k in _FIELDS})
                    usable = math.isfinite(record.nll_sum)
                except (ValueError, TypeError):
                    continue  # a line cut short by a kill
                if not usable:
                    continue  # not a score: the item is tried again
                found[(record.item_id, record.setting, record.choice)] = record
        return list(found.values())

    def append(self, records: Iterable[Record]) -> None:
        """Append one batch's records in a single write, then flush them to disk."""
        text = "".join(json.dumps(r.to_dict(), ensure_ascii=False) + "\n" for r in records)
        if not text:
            return
        with self.path.open("a+b") as handle:
            handle.seek(0, os.SEEK_END)
            if handle.tell():
                handle.seek(-1, os.SEEK_END)
                if handle.read(1) != b"\n":  # the previous run was killed mid-line
                    text = "\n" + text
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())


def clear(root: str | os.PathLike) -> None:
    """Forget every cached record under ``root`` (``--overwrite``)."""
    shutil.rmtree(root, ignore_errors=True)
