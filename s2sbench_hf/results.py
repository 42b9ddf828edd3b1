"""The run folder: ``results.json`` (versioned), ``samples_<task>.jsonl`` and the reference-format export.

Layout of an output folder::

    results.json                      model, data, configuration and metrics (RESULTS_SCHEMA_VERSION)
    samples_<task>.jsonl              one line per item x setting x continuation
    reference/<task>/data.jsonl       the items in the reference release's format
    reference/<task>/<setting>/result.jsonl   what the reference accuracy scripts read

The reference story format pairs rows 2k (plausible) and 2k+1 (implausible) by
``uttid``; sCMMLU rows carry ``key`` A-D (PROTOCOL.md, "Reference file formats").
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from s2sbench_hf.files import atomic_write
from s2sbench_hf.scoring.interface import Record
from s2sbench_hf.tasks import Item, Task

RESULTS_SCHEMA_VERSION = "1.0"
LETTERS = "ABCDEFGHIJ"


def _jsonl(rows: Iterable[Mapping[str, Any]]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def write_results(output: Path, results: Mapping[str, Any]) -> Path:
    path = Path(output) / "results.json"
    atomic_write(path, json.dumps(results, ensure_ascii=False, indent=2) + "\n")
    return path


def read_results(path: str | os.PathLike) -> dict:
    """Read ``results.json`` (or the folder holding it)."""
    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    return json.loads(path.read_text(encoding="utf-8"))


def write_samples(output: Path, task_id: str, records: Sequence[Record]) -> Path:
    path = Path(output) / f"samples_{task_id}.jsonl"
    atomic_write(path, _jsonl(r.to_dict() for r in records))
    return path


def read_samples(path: str | os.PathLike) -> list[Record]:
    fields = Record.__dataclass_fields__
    rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    return [Record(**{k: v for k, v in row.items() if k in fields}) for row in rows]


def export_reference(
    output: Path, task: Task, items: Sequence[Item], records: Sequence[Record], settings: Sequence[str]
) -> Path:
    """Write the reference-format data and per-setting ``result.jsonl`` files for one task.

    Only ``items`` (those complete in every setting) are exported. Story items
    become rows 2n (answer) and 2n+1 (distractor); sCMMLU items keep one uttid
    with keys A-D. ``loss`` is the mean NLL per token, ``ppl`` its exponential.
    """
    folder = Path(output) / "reference" / task.id
    by_key = {(r.item_id, r.setting, r.choice): r for r in records}
    data_rows, result_rows = [], {s: [] for s in settings}
    for n, item in enumerate(items):
        if task.num_choices == 2:
            order = [item.label, 1 - item.label]
            for offset, choice in enumerate(order):
                uttid = 2 * n + offset
                data_rows.append({"uttid": uttid, "first": item.context, "last": item.choices[choice], "item_id": item.id})
                for s in settings:
                    result_rows[s].append(_reference_row(uttid, None, by_key[(item.id, s, choice)]))
        else:
            row = {"uttid": n, "first": item.context, "answer": LETTERS[item.label], "item_id": item.id}
            row.update({LETTERS[j]: c for j, c in enumerate(item.choices)})
            data_rows.append(row)
            for s in settings:
                for j in range(task.num_choices):
                    result_rows[s].append(_reference_row(n, LETTERS[j], by_key[(item.id, s, j)]))
    atomic_write(folder / "data.jsonl", _jsonl(data_rows))
    for s, rows in result_rows.items():
        atomic_write(folder / s / "result.jsonl", _jsonl(rows))
    return folder


def _reference_row(uttid: int, key: str | None, record: Record) -> dict:
    loss = record.mean_nll
    return {"uttid": uttid, "key": key, "loss": [loss], "ppl": [math.exp(min(loss, 700.0))]}
