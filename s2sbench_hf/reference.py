"""Import results written by the reference release's scripts and report our metrics on them.

Groups that already ran the original S2SBench scripts (on Baichuan-Audio, say)
have per-continuation ``result.jsonl`` files (docs/protocol.md, "The reference
release's file formats")::

    {"uttid": ..., "key": null (story) or "A".."D" (sCMMLU), "loss": [mean_nll], "ppl": [exp(mean_nll)]}

This module turns them into score matrices and hands them to
`metrics.summarize_scores`, the function every other front door ends in, so an
import reports exactly what ``s2sbench run`` would from the same losses: the
reference tie rules (policy ``reference``: stories count a tie as wrong,
sCMMLU as right), paired-bootstrap intervals, McNemar, answer/distractor losses.

Pairing:

* story tasks: rows with uttid 2k and 2k+1 are one item, the even one the
  plausible ending, the integer of an uttid read as the reference scripts read
  it (an int, or the part of a string before the first ``_``). Rows pair by that
  integer (`data.pairing.pair_rows`, the rule of every reader), not by position
  after sorting: on a complete file that is the reference's pairing, and a
  missing, duplicated or unreadable row costs only its own story. With the
  task's ``data.jsonl`` the pairs are taken from the data (so a row missing from
  one result file loses only its own item, and the two rows of a pair are
  checked to share a context); without it, from the first result file's rows.
* ``scmmlu``: the rows of one ``uttid`` carry keys A-D; the answer letter comes
  from the data file (``answer``), which is therefore required.

Folder layout read by `find_reference_files` (exactly what `results.export_reference`
writes, so an exported run reads back to the same numbers)::

    DIR/<task>/data.jsonl
    DIR/<task>/<setting>/result.jsonl        setting: text, audio

``DIR`` may also be a run folder (its ``reference/`` sub-folder is used).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from s2sbench_hf import metrics, results
from s2sbench_hf._version import __version__
from s2sbench_hf.data.pairing import PAIR_FIX, pair_rows
from s2sbench_hf.jsonl import jsonl_objects
from s2sbench_hf.options import SUMMARY_DEFAULTS, OptionError, SummaryOptions
from s2sbench_hf.tasks import SETTINGS, TASKS, ItemError, S2SBenchError, Task, get_task

RESULT_FILE = "result.jsonl"
DATA_FILE = "data.jsonl"
IMPORT_ADAPTER = results.IMPORT_ADAPTER
"""``model.adapter`` of a results file made from reference-format files."""


class ReferenceFormatError(S2SBenchError, ValueError):
    """A reference-format file or folder cannot be read; the message names the file and line."""


@dataclass
class ReferenceFiles:
    """Where one task's reference-format files are."""

    task: str
    results: dict[str, Path]
    """setting -> ``result.jsonl``"""
    data: Path | None = None


@dataclass
class ReferenceScores:
    """One task read from reference files: per setting a (n_items, k) loss matrix over the same items."""

    task: Task
    item_ids: list[str]
    labels: np.ndarray
    losses: dict[str, np.ndarray]
    errors: list[ItemError] = field(default_factory=list)


# ------------------------------------------------------------------- reading


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """The JSON objects of a jsonl file; an error names the file and the line."""
    path = Path(path)
    if not path.is_file():
        raise ReferenceFormatError(f"{path} does not exist.")
    rows = []
    for number, row, problem in jsonl_objects(path):
        if row is None:
            raise ReferenceFormatError(f"{path}, line {number}: {problem}.")
        if "uttid" not in row:
            raise ReferenceFormatError(f"{path}, line {number}: expected an object with an 'uttid'.")
        rows.append(row)
    return rows


def _loss(row: Mapping[str, Any]) -> float:
    value = row.get("loss")
    if isinstance(value, list):
        value = value[0] if value else None
    if value is None and row.get("ppl") is not None:  # only the perplexity: its log is the loss
        ppl = row["ppl"][0] if isinstance(row["ppl"], list) else row["ppl"]
        value = math.log(float(ppl))
    value = float(value) if value is not None else math.nan
    if math.isnan(value):
        raise ValueError("it has no usable 'loss'")
    return value


def _index(rows: list[dict[str, Any]], keyed: bool) -> dict[tuple[str, str | None], dict | None]:
    """The rows by (uttid, key); None for a key that several rows have (ambiguous: it costs only its item)."""
    out: dict[tuple[str, str | None], dict | None] = {}
    for row in rows:
        key = (str(row["uttid"]), row.get("key") if keyed else None)
        out[key] = None if key in out else row
    return out


def story_items(task: Task, files: ReferenceFiles) -> tuple[list[tuple[str, str, str]], list[ItemError]]:
    """(item id, plausible uttid, implausible uttid) per story item, from the data file or the first result file.

    Rows pair by uttid (`pairing.pair_rows`, the reference's reading of an uttid):
    a missing, duplicated or unreadable row costs only its own story, as an error.
    """
    source = files.data or next(iter(files.results.values()))
    rows = read_jsonl(source)
    pairs, problems = pair_rows(
        rows, [row["uttid"] for row in rows], [f"{source.name} row uttid {row['uttid']!r}" for row in rows]
    )
    errors = [ItemError(task.id, problem.item_id, problem.problem, PAIR_FIX + f" in {source}.") for problem in problems]
    items = []
    for pair in pairs:
        good, bad = pair.plausible, pair.implausible
        item_id = str(good.get("item_id", good["uttid"]))
        if files.data is not None and good.get("first") != bad.get("first"):
            errors.append(
                ItemError(
                    task.id,
                    item_id,
                    f"rows uttid {good['uttid']!r} and {bad['uttid']!r} form a pair but have different contexts",
                    "Check that the data file has the plausible and implausible ending of each story on "
                    "consecutive uttids (plausible first).",
                )
            )
            continue
        items.append((item_id, str(good["uttid"]), str(bad["uttid"])))
    return items, errors


def load_reference_task(files: ReferenceFiles) -> ReferenceScores:
    """Read one task's result files (and data file) into loss matrices over the items every setting has."""
    task = get_task(files.task)
    per_setting = {s: _index(read_jsonl(p), keyed=task.num_choices != 2) for s, p in files.results.items()}
    errors: list[ItemError] = []
    item_ids: list[str] = []
    labels: list[int] = []
    rows: dict[str, list[list[float]]] = {s: [] for s in files.results}
    items: list[tuple[str, list[tuple[str, str | None]], int]]
    if task.num_choices == 2:
        pairs, errors = story_items(task, files)
        items = [(item_id, [(good, None), (bad, None)], 0) for item_id, good, bad in pairs]
    else:
        if files.data is None:
            raise ReferenceFormatError(
                f"task {task.id!r}: the answers are in the data file; give it (DIR/{task.id}/{DATA_FILE} or --data)."
            )
        letters = tuple(results.LETTERS[: task.num_choices])
        items = []
        for row in read_jsonl(files.data):
            item_id = str(row.get("item_id", row["uttid"]))
            answer = row.get("answer")
            if answer not in letters:
                errors.append(
                    ItemError(
                        task.id,
                        item_id,
                        f"its answer {answer!r} is not one of {', '.join(letters)}",
                        "Fix the 'answer' field of the data file.",
                    )
                )
                continue
            items.append((item_id, [(str(row["uttid"]), letter) for letter in letters], letters.index(answer)))
    for item_id, keys, label in items:
        values: dict[str, list[float]] = {}
        try:
            for setting, index in per_setting.items():
                for what, bad in (
                    ("no row", [k for k in keys if k not in index]),
                    ("several rows", [k for k in keys if k in index and index[k] is None]),
                ):
                    if bad:
                        raise ValueError(
                            f"{files.results[setting]} has {what} for "
                            + ", ".join(f"uttid {u!r}" + (f" key {k!r}" if k else "") for u, k in bad)
                        )
                values[setting] = [_loss(found) for k in keys if (found := index[k]) is not None]  # none is None here
        except ValueError as err:
            errors.append(
                ItemError(
                    task.id,
                    item_id,
                    f"it cannot be scored ({err})",
                    "Re-run the reference scripts for this item, or drop it from the data file.",
                )
            )
            continue
        item_ids.append(item_id)
        labels.append(label)
        for setting in rows:
            rows[setting].append(values[setting])
    losses = {s: np.asarray(v, dtype=float).reshape(len(item_ids), task.num_choices) for s, v in rows.items()}
    return ReferenceScores(task, item_ids, np.asarray(labels, dtype=np.int64), losses, errors)


# ----------------------------------------------------------------- the layout


def find_reference_files(folder: str | Path, tasks: Sequence[str] | None = None) -> list[ReferenceFiles]:
    """The tasks in a reference-format folder (``DIR/<task>/data.jsonl``, ``DIR/<task>/<setting>/result.jsonl``)."""
    folder = Path(folder)
    if (folder / "reference").is_dir() and not any((folder / t).is_dir() for t in TASKS):
        folder = folder / "reference"  # a run folder written by `s2sbench run`
    if not folder.is_dir():
        raise ReferenceFormatError(f"{folder} is not a folder.")
    found = []
    for task_id in tasks or list(TASKS):
        task_dir = folder / task_id
        settings = {s: task_dir / s / RESULT_FILE for s in SETTINGS if (task_dir / s / RESULT_FILE).is_file()}
        if not settings:
            if tasks:
                raise ReferenceFormatError(
                    f"{task_dir} has no <setting>/{RESULT_FILE} (settings: {', '.join(SETTINGS)})."
                )
            continue
        data = task_dir / DATA_FILE
        found.append(ReferenceFiles(task_id, settings, data if data.is_file() else None))
    if not found:
        raise ReferenceFormatError(
            f"{folder} holds no reference results. Expected {folder}/<task>/<setting>/{RESULT_FILE} "
            f"(+ {folder}/<task>/{DATA_FILE}) for tasks {', '.join(TASKS)} and settings {', '.join(SETTINGS)}, "
            "or give the files with --text/--audio/--data --task."
        )
    return found


# --------------------------------------------------------------- the results


def score_reference(
    files: Sequence[ReferenceFiles],
    *,
    model: str | None = None,
    summary: SummaryOptions = SUMMARY_DEFAULTS,
) -> dict[str, Any]:
    """A ``results.json``-shaped dict (same metrics keys as ``s2sbench run``) from reference result files.

    The losses are the reference's mean NLL per token, so the scoring rule is
    ``mean`` (another is an `OptionError`) and answer/distractor losses are
    reported. ``summary.gap`` (``A:B``) is the degradation reported, when both
    settings' files are there.
    """
    if summary.scoring_rule != "mean":
        raise OptionError(
            f"scoring_rule {summary.scoring_rule!r}: the reference's files hold mean NLLs per token, so only 'mean'"
        )
    tie_policy, n_bootstrap, seed, gap = summary.tie_policy, summary.n_bootstrap, summary.seed, summary.gap
    started = time.time()
    settings = [s for s in SETTINGS if any(s in f.results for f in files)]
    per_task: dict[str, dict] = {}
    all_errors: list[ItemError] = []
    info: dict[str, dict] = {}
    for f in files:
        scores = _load_task_files(f, settings)
        all_errors.extend(scores.errors)
        per_task[f.task] = _summarize_reference_task(
            scores, tie_policy=tie_policy, n_bootstrap=n_bootstrap, seed=seed, gap=gap
        )
        info[f.task] = _dataset_entry(f, per_task[f.task]["n_items"])
    name = model or "reference import"
    return {
        "schema_version": results.RESULTS_SCHEMA_VERSION,
        "s2sbench_hf_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "duration_s": round(time.time() - started, 3),
        "model": {"adapter": IMPORT_ADAPTER, "model_id": name, "revision": None},
        "config": {
            "model": name,
            "adapter": IMPORT_ADAPTER,
            "tasks": [f.task for f in files],
            "settings": settings,
            "gap": gap,
            "dataset": None,
            "limit": None,
            "scoring_rule": "mean",
            "tie_policy": tie_policy,
            "n_bootstrap": n_bootstrap,
            "seed": seed,
        },
        "datasets": info,
        "results": per_task,
        "overall": metrics.overall(per_task, gap),
        "errors": [{"task": e.task, "item_id": e.item_id, "problem": e.problem, "fix": e.fix} for e in all_errors],
    }


def _load_task_files(f: ReferenceFiles, settings: Sequence[str]) -> ReferenceScores:
    """One task's scores from its files (`load_reference_task`), once it has a file for each of ``settings``: the
    degradation compares settings over the same tasks, so a task that lacks one is refused."""
    missing = [s for s in settings if s not in f.results]
    if missing:
        raise ReferenceFormatError(
            f"task {f.task!r} has no result file for setting(s) {missing}; every task needs the same settings."
        )
    return load_reference_task(f)


def _summarize_reference_task(
    scores: ReferenceScores, *, tie_policy: str, n_bootstrap: int, seed: int, gap: str
) -> dict[str, Any]:
    """One task's ``results`` entry from the reference's losses (mean NLL per token, so they are also the answer and
    distractor losses reported), with the items that failed; ``n_items`` 0 when none could be scored."""
    if scores.item_ids:
        summary = metrics.summarize_scores(
            scores.task,
            scores.losses,
            scores.labels,
            mean_nll=scores.losses,
            tie_policy=tie_policy,
            n_bootstrap=n_bootstrap,
            seed=seed,
            gap=gap,
        )
    else:
        summary = {"n_items": 0, "settings": {}}
    summary["n_failed"] = len(scores.errors)
    return summary


def _dataset_entry(f: ReferenceFiles, n_items: int) -> dict[str, Any]:
    """One task's ``datasets`` entry: the files read, the items scored and a fingerprint of the files' bytes."""
    paths = {**{s: str(p) for s, p in f.results.items()}, **({"data": str(f.data)} if f.data else {})}
    return {
        "source": "reference-files",
        "files": paths,
        "num_rows": n_items,
        "fingerprint": _fingerprint([f.data, *f.results.values()]),
    }


def _fingerprint(paths: Sequence[Path | None]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        if path is not None:
            digest.update(Path(path).name.encode() + b"\0" + Path(path).read_bytes())
    return digest.hexdigest()[:16]
