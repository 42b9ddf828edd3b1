"""What identifies a local model folder: a SHA-256 of every byte of its files (no torch needed).

Used by the adapters' ``describe`` (recorded in results.json and in the resume
cache's key) and by sweeps (is a checkpoint unchanged since its last run?), so
two folders that differ anywhere, in one byte of one weight, must never share a
hash: every file is read in full, in one streaming pass.

Reading 15 GB of weights takes a while, so each file's digest is remembered in
``<cache_root>/file-digests.json`` (`files.cache_root`, ``$S2SBENCH_CACHE``),
keyed by the file's resolved path and checked against its size, ``mtime_ns``
and inode: a rerun on the same folder reads nothing, and a file that is
rewritten, touched or replaced is hashed again. A file modified in the last
`RACY_SECONDS` is hashed but not remembered, because a second write within the
file system's timestamp granularity could leave size and time unchanged.

Reading at least `HASH_PROGRESS_BYTES` not yet remembered shows a progress bar
in bytes (tqdm on stderr, as the package's other bars), unless the caller asks
for none: ``progress=False``, or `hash_progress` around a call that hashes
without taking the flag itself (`Scorer.describe`, under ``--no-progress``).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from s2sbench_hf.files import atomic_write, cache_root

DIGEST_CACHE_FILE = "file-digests.json"
RACY_SECONDS = 2.0
"""A file changed this recently is not remembered (its next write could keep its size and timestamp)."""
HASH_PROGRESS_BYTES = 256 << 20
"""Reading this many bytes (not remembered from an earlier hash) shows a progress bar: about a second or more on a
fast disk. A tiny model's folder hashes quietly."""

_SHOW_PROGRESS: ContextVar[bool] = ContextVar("s2sbench_hash_progress", default=True)


@contextmanager
def hash_progress(shown: bool) -> Iterator[None]:
    """Whether the `folder_content_hash` calls inside that are not given ``progress`` show their bar (they do by
    default). For a call made deep in code that takes no flag: the runner wraps `Scorer.describe` (which hashes a
    local model folder) in ``hash_progress(progress)``, so that ``--no-progress`` silences it too."""
    token = _SHOW_PROGRESS.set(shown)
    try:
        yield
    finally:
        _SHOW_PROGRESS.reset(token)


def folder_content_hash(folder: str | os.PathLike, *, progress: bool | None = None) -> str:
    """``sha256:<hex>`` over every file of ``folder``: its relative path, size and full SHA-256.

    Hidden files and folders (a name starting with ``.``, such as the
    ``.cache`` that ``huggingface_hub`` keeps in a local download) are not part
    of the model and are left out. Symbolic links (a Hub cache snapshot) are
    followed.

    ``progress``: show a bar over the bytes read when they are at least
    `HASH_PROGRESS_BYTES`; None leaves it to the enclosing `hash_progress` (shown by default).
    """
    folder = Path(folder)
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not _hidden(p.relative_to(folder)))
    known = _load_digests()
    stamps = {path: _stamp(path) for path in files}
    entries = {path: known.get(str(path.resolve())) for path in files}
    unread = sum(stamp["size"] for path, stamp in stamps.items() if not _current(entries[path], stamp))
    shown = _SHOW_PROGRESS.get() if progress is None else progress
    fresh: dict[str, dict[str, Any]] = {}
    digest = hashlib.sha256()
    with tqdm(
        total=unread,
        desc=f"hashing {folder.name}",
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        disable=not shown or not unread or unread < HASH_PROGRESS_BYTES,
        leave=False,
    ) as bar:
        for path in files:
            stamp, entry = stamps[path], entries[path]
            if entry is None or not _current(entry, stamp):
                entry = {**stamp, "sha256": _hash_file(path, bar.update)}
                if time.time() - stamp["mtime_ns"] / 1e9 > RACY_SECONDS:
                    fresh[str(path.resolve())] = entry
            digest.update(f"{path.relative_to(folder).as_posix()}\0{stamp['size']}\0{entry['sha256']}\0".encode())
    if fresh:
        _save_digests(fresh)
    return "sha256:" + digest.hexdigest()


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def _stamp(path: Path) -> dict[str, int]:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "inode": st.st_ino}


def _current(entry: dict[str, Any] | None, stamp: dict[str, int]) -> bool:
    """A remembered digest still holds: the file has the size, time and inode it had when it was read."""
    return entry is not None and {k: entry.get(k) for k in stamp} == stamp


def _hash_file(path: Path, advance: Callable[[int], object] | None = None) -> str:
    """The SHA-256 of the whole file, read in one streaming pass (`hashlib.file_digest` needs Python 3.11);
    ``advance`` is told the size of each block read (a progress bar's ``update``)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
            if advance is not None:
                advance(len(block))
    return digest.hexdigest()


def _cache_path() -> Path:
    return cache_root() / DIGEST_CACHE_FILE


def _load_digests() -> dict[str, dict[str, Any]]:
    try:
        data = json.loads(_cache_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # no cache yet, or an unreadable one: hash again
    return data if isinstance(data, dict) else {}


def _save_digests(fresh: dict[str, dict[str, Any]]) -> None:
    """Merge ``fresh`` entries into the cache file, dropping files that are gone (atomically; a failure only
    costs a rehash later)."""
    kept = {k: v for k, v in _load_digests().items() if os.path.exists(k)}
    try:
        atomic_write(_cache_path(), json.dumps({**kept, **fresh}, indent=1, sort_keys=True) + "\n")
    except OSError:
        pass  # a read-only cache folder: correct hashes, just not remembered
