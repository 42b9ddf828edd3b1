"""What identifies a local model folder: a content hash of its files (no torch needed).

Used by the adapters' ``describe`` (recorded in results.json and in the resume
cache's key) and by sweeps (is a checkpoint unchanged since its last run?).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def folder_content_hash(folder: str | os.PathLike, block: int = 1 << 20, samples: int = 64) -> str:
    """A content hash of a local model folder that stays cheap for 7B checkpoints.

    Each file contributes its name, its size and up to ``samples`` blocks spread
    evenly over it (the whole file when it is small), so two checkpoints of the
    same run, which differ in every tensor, get different hashes without
    reading 15 GB.
    """
    digest = hashlib.sha256()
    for path in sorted(Path(folder).rglob("*")):
        if not path.is_file() or path.name.startswith("."):
            continue
        size = path.stat().st_size
        digest.update(f"{path.relative_to(folder).as_posix()}\0{size}\0".encode())
        with path.open("rb") as handle:
            if size <= block * samples:
                digest.update(handle.read())
                continue
            step = (size - block) // (samples - 1)
            for i in range(samples):
                handle.seek(i * step)
                digest.update(handle.read(block))
    return "sha256-sampled:" + digest.hexdigest()[:16]
