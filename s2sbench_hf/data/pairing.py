"""Story rows into pairs, by identity: the one pairing rule of every reader of reference story files.

The reference release keeps a story set as one row per ending: rows with
``uttid`` 2k (the plausible ending) and 2k+1 (the implausible one) are one
story. The integer of an ``uttid`` is read as the reference scripts read it
(`uttid_key`): an int, or a string whose part before the first ``_`` is one
(``"12_a"`` -> 12).

The reference scripts sort the rows and pair them by position, so one missing
row shifts every later pair. `pair_rows` pairs by the integer instead: a row
that is missing, duplicated or unreadable costs exactly its own story, named in
a `PairProblem`, and every other pair is the same as in a complete file. The
release reader and converter (`data.release`) and the import of reference
results (`reference`, ``s2sbench score --reference``) all pair through it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

Row = TypeVar("Row")

PAIR_FIX = (
    "Each story needs exactly two rows: uttid 2k (the plausible ending) and 2k+1 (the implausible one); "
    "fix or remove the rows named"
)


def uttid_key(uttid: Any) -> int | None:
    """The integer the reference scripts order rows by: the uttid, or its part before the first ``_``; else None."""
    if isinstance(uttid, bool):
        return None
    if isinstance(uttid, int):
        return uttid
    if isinstance(uttid, str):
        try:
            return int(uttid.split("_")[0])
        except ValueError:
            return None
    return None


@dataclass(frozen=True)
class Pair(Generic[Row]):
    """Story ``index`` (k): the rows with uttid 2k and 2k+1."""

    index: int
    plausible: Row
    implausible: Row


@dataclass(frozen=True)
class PairProblem:
    """Rows that form no pair: ``item_id`` names the story (the uttid of one of its rows), ``problem`` says why."""

    index: int | None
    """The story's k, or None for a row whose uttid has no integer."""
    item_id: str
    problem: str


def pair_rows(
    rows: Sequence[Row], uttids: Sequence[Any], where: Sequence[str]
) -> tuple[list[Pair[Row]], list[PairProblem]]:
    """Pair ``rows`` (with their ``uttids``, and ``where``: how an error names each row, "line 3") by identity.

    Returns the complete pairs in story order (k ascending) and one problem per
    story that has a missing or duplicated row, and per row without an integer.
    """
    by_story: dict[int, list[list[int]]] = {}
    problems: list[PairProblem] = []
    for position, uttid in enumerate(uttids):
        key = uttid_key(uttid)
        if key is None:
            problems.append(
                PairProblem(
                    None,
                    str(uttid),
                    f"{where[position]}: its uttid {uttid!r} has no integer before a '_', so its story cannot be found",
                )
            )
            continue
        by_story.setdefault(key // 2, [[], []])[key % 2].append(position)
    pairs: list[Pair[Row]] = []
    for index in sorted(by_story):
        plausible, implausible = by_story[index]
        if len(plausible) == 1 and len(implausible) == 1:
            pairs.append(Pair(index, rows[plausible[0]], rows[implausible[0]]))
            continue
        present = plausible or implausible
        item_id = str(uttids[present[0]])
        reasons = []
        for role, found, key in (("plausible", plausible, 2 * index), ("implausible", implausible, 2 * index + 1)):
            if not found:
                reasons.append(f"no row has uttid {key} (its {role} ending)")
            elif len(found) > 1:
                reasons.append(f"{len(found)} rows have uttid {key}: " + ", ".join(where[p] for p in found))
        problems.append(
            PairProblem(
                index,
                item_id,
                f"story {index} (uttids {2 * index}, {2 * index + 1}) is incomplete: " + "; ".join(reasons),
            )
        )
    return pairs, problems
