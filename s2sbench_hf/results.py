"""The run folder: ``results.json`` (versioned), ``samples_<task>.jsonl`` and the reference-format export.

Layout of an output folder::

    results.json                      model, data, configuration and metrics (RESULTS_SCHEMA_VERSION)
    samples_<task>.jsonl              one line per item x setting x continuation
    reference/<task>/data.jsonl       the items in the reference release's format
    reference/<task>/<setting>/result.jsonl   what the reference accuracy scripts read

The reference story format pairs rows 2k (plausible) and 2k+1 (implausible) by
``uttid``; sCMMLU rows carry ``key`` A-D (docs/protocol.md, "Comparing with
published numbers"). The exported ``loss`` is the number the run compared (its
scoring rule), so the reference accuracy scripts read back the run's accuracy.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from s2sbench_hf import metrics, protocol
from s2sbench_hf.files import atomic_write
from s2sbench_hf.scoring.interface import Record
from s2sbench_hf.tasks import Item, S2SBenchError, Task

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


class ReferenceExportError(S2SBenchError):
    """The reference format cannot express this run's numbers; the export is not written."""


def export_reference(
    output: Path,
    task: Task,
    items: Sequence[Item],
    records: Sequence[Record],
    settings: Sequence[str],
    *,
    scoring_rule: str = "mean",
    tie_policy: str = "reference",
) -> Path:
    """Write the reference-format data and per-setting ``result.jsonl`` files for one task.

    Only ``items`` (those complete in every setting) are exported. Story items
    become rows 2n (answer) and 2n+1 (distractor); sCMMLU items keep one uttid
    with keys A-D. ``loss`` is the score the run compares under ``scoring_rule``
    (`protocol.choice_scores`: the mean NLL per token for ``mean``, as the
    reference scripts write it; the summed NLL for ``sum``; NLL per byte for
    ``bytes``), ``ppl`` its exponential; so the reference accuracy scripts,
    which compare ``loss``, print the run's pairwise accuracy for every rule.

    Their tie rule is fixed (stories: a tie is wrong; sCMMLU: right). Under tie
    policy ``half`` an exact tie in the exported scores would read back to
    another accuracy, so then `ReferenceExportError` is raised and nothing is
    written (an earlier export of the task in ``output`` is removed).
    """
    folder = Path(output) / "reference" / task.id
    by_key = {(r.item_id, r.setting, r.choice): r for r in records}
    ids = [item.id for item in items]
    scores = {}
    for s in settings:
        arrays = metrics.record_arrays([by_key[(i, s, j)] for i in ids for j in range(task.num_choices)], ids, s,
                                       task.num_choices)
        scores[s] = protocol.choice_scores(arrays["nll_sum"], arrays["n_tokens"], arrays["n_bytes"], scoring_rule)
    labels = np.array([item.label for item in items], dtype=np.int64)
    if protocol.tie_credit(tie_policy, task.reference_tie_credit) != task.reference_tie_credit:
        tied = {(s, ids[i]): n for s, m in scores.items() for i, n in _ties(m, labels).items()}
        if tied:
            shutil.rmtree(folder, ignore_errors=True)
            where = ", ".join(f"item {i!r} ({s})" for s, i in list(tied)[:5]) + (", and more" if len(tied) > 5 else "")
            raise ReferenceExportError(
                f"task {task.id!r}: no reference export: the reference accuracy scripts count a tie as "
                f"{'right' if task.reference_tie_credit else 'wrong'}, this run (--tie-policy {tie_policy}) gives it "
                f"half credit, and {sum(tied.values())} comparison(s) are exact ties: {where}. Rerun with "
                "--tie-policy reference for an export that reads back to the same accuracy; results.json is complete."
            )
    data_rows, result_rows = [], {s: [] for s in settings}
    for n, item in enumerate(items):
        if task.num_choices == 2:
            order = [item.label, 1 - item.label]
            for offset, choice in enumerate(order):
                uttid = 2 * n + offset
                data_rows.append({"uttid": uttid, "first": item.context, "last": item.choices[choice], "item_id": item.id})
                for s in settings:
                    result_rows[s].append(_reference_row(uttid, None, float(scores[s][n, choice])))
        else:
            row = {"uttid": n, "first": item.context, "answer": LETTERS[item.label], "item_id": item.id}
            row.update({LETTERS[j]: c for j, c in enumerate(item.choices)})
            data_rows.append(row)
            for s in settings:
                for j in range(task.num_choices):
                    result_rows[s].append(_reference_row(n, LETTERS[j], float(scores[s][n, j])))
    atomic_write(folder / "data.jsonl", _jsonl(data_rows))
    for s, rows in result_rows.items():
        atomic_write(folder / s / "result.jsonl", _jsonl(rows))
    return folder


def _ties(scores: np.ndarray, labels: np.ndarray) -> dict[int, int]:
    """Row -> number of distractors whose score equals the answer's exactly (rows with at least one)."""
    answer = scores[np.arange(len(labels)), labels][:, None]
    counts = (scores == answer).sum(axis=1) - 1
    return {int(i): int(counts[i]) for i in np.flatnonzero(counts)}


def _reference_row(uttid: int, key: str | None, loss: float) -> dict:
    return {"uttid": uttid, "key": key, "loss": [loss], "ppl": [math.exp(min(loss, 700.0))]}
