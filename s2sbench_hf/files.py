"""Writing files that readers never see half-written (results, samples, reports, sweeps, caches), and where
the user's cache lives."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` so that readers see the old or the new content, never half of it.

    The file gets the usual permissions for the user's umask (the temporary file
    that is renamed into place is private, 0600, when created).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def ensure_writable_folder(path: str | os.PathLike) -> Path:
    """Create ``path`` if needed and prove that files can be written in it (before any long work starts)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    fd, probe = tempfile.mkstemp(dir=path, prefix=".write-test-")
    os.close(fd)
    os.unlink(probe)
    return path


def cache_root() -> Path:
    """The user's s2sbench cache folder: ``$S2SBENCH_CACHE``, by default ``~/.cache/s2sbench_hf``."""
    return Path(os.environ.get("S2SBENCH_CACHE") or "~/.cache/s2sbench_hf").expanduser()
