"""Reading JSON-lines files line by line, so that every caller can name the bad line and go on.

`strict_loads` is JSON as a hostile file may write it: a key given twice in one
object, or nesting too deep for the parser, is an error (`ValueError`) instead
of a silently dropped value or a crash.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

Line = tuple[int, "dict[str, Any] | None", "str | None"]


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"the key {key[:60]!r} appears twice in one object")
            seen.add(key)
    return out


_STRICT = json.JSONDecoder(object_pairs_hook=_no_duplicate_keys)


def strict_loads(text: str) -> Any:
    """`json.loads`, but a duplicate key or too deep nesting raises `ValueError` (JSONDecodeError is one)."""
    try:
        return _STRICT.decode(text)
    except RecursionError:
        raise ValueError("nested too deeply to parse") from None


def parse_jsonl(text: str, *, loads: Callable[[str], Any] = json.loads) -> Iterator[Line]:
    """`jsonl_objects` over text already read. Lines end at ``\\n`` only (a JSON string may hold U+2028)."""
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            row = loads(line)
        except json.JSONDecodeError as err:
            yield number, None, f"not valid JSON ({err.msg})"
            continue
        except (ValueError, RecursionError) as err:
            yield number, None, f"not valid JSON ({err})"
            continue
        if not isinstance(row, dict):
            yield number, None, "not a JSON object"
            continue
        yield number, row, None


def jsonl_objects(path: str | Path, *, encoding: str = "utf-8") -> Iterator[Line]:
    """``(line number, object, None)`` for each good non-empty line, ``(line number, None, problem)`` for a bad one.

    Reading the file may raise `OSError` or `UnicodeDecodeError`; what a bad line
    means (an error, a reported problem, a skipped row) is the caller's choice.
    """
    yield from parse_jsonl(Path(path).read_text(encoding=encoding))
