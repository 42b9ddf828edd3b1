"""What the package publishes in files: written so that readers never see half a file (results, samples,
reports, the board, sweeps, caches), text from outside made inert in every format, and where the user's cache
lives.

**Text from outside** (a submission's model id, a folder name, an item error) goes through one rule:
`safe_text` makes any value encodable (a lone surrogate, an undecodable byte) and `plain` makes it one inert
line; `s2sbench_hf.render` escapes that line for markdown and HTML. The board, its Space and the reports use
these and nothing else, so a string shows the same literal text everywhere.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path


def atomic_write(path: str | os.PathLike, data: str | bytes) -> Path:
    """Write ``data`` (text as UTF-8) to ``path`` so that readers see the old or the new content, never half of it.

    Text is encoded before anything is touched: text that cannot be encoded (a lone
    surrogate) raises `UnicodeEncodeError` and leaves ``path`` as it was. The file
    gets the usual permissions for the user's umask (the temporary file that is
    renamed into place is private, 0600, when created).
    """
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
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


# ------------------------------------------------------------------------ text from outside


def safe_text(value: object) -> str:
    """``value`` as text that always encodes as UTF-8, nothing of it lost or guessed.

    Bytes are decoded as UTF-8, each undecodable byte written as ``\\xNN``. In text,
    each lone surrogate is written as its escape ``\\udcff``: JSON can spell one
    (``"tiny\\udcff"`` is legal), and Python reads a file name's non-UTF-8 byte as
    one (U+DC80..U+DCFF). Anything else is ``str(value)``.
    """
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    return str(value).encode("utf-8", "backslashreplace").decode("utf-8")


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def plain(value: object) -> str:
    """`safe_text` on one line: control characters (line breaks, terminal escapes, bidi overrides) become spaces."""
    return _CONTROL.sub(" ", safe_text(value))
