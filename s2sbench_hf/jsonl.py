"""Reading JSON-lines files line by line, so that every caller can name the bad line and go on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator


def jsonl_objects(path: str | Path, *, encoding: str = "utf-8") -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """``(line number, object, None)`` for each good non-empty line, ``(line number, None, problem)`` for a bad one.

    Reading the file may raise `OSError` or `UnicodeDecodeError`; what a bad line
    means (an error, a reported problem, a skipped row) is the caller's choice.
    """
    for number, line in enumerate(Path(path).read_text(encoding=encoding).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            yield number, None, f"not valid JSON ({err.msg})"
            continue
        if not isinstance(row, dict):
            yield number, None, "not a JSON object"
            continue
        yield number, row, None
