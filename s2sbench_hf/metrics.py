"""From per-continuation scores to the reported numbers, composing the `protocol` functions.

`summarize_scores` is the single place where accuracies, the gap, intervals and
the test of the gap are put together; the CLI, the `evaluate` metric and the
reference importer all end here, so they cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from s2sbench_hf import protocol
from s2sbench_hf.options import SUMMARY_DEFAULTS
from s2sbench_hf.scoring.interface import Record
from s2sbench_hf.tasks import DEFAULT_GAP, DEFAULT_SETTINGS, UTTERANCE, Item, Task, gap_settings


def complete_items(records: Sequence[Record], settings: Sequence[str], num_choices: int) -> list[str]:
    """Ids of the items scored for every choice in every setting, in first-seen order.

    Degradation compares the same items in both settings, so an item that failed
    in one setting leaves the comparison entirely.
    """
    seen: dict[str, set[tuple[str, int]]] = {}
    for r in records:
        seen.setdefault(r.item_id, set()).add((r.setting, r.choice))
    needed = {(s, j) for s in settings for j in range(num_choices)}
    return [item_id for item_id, got in seen.items() if needed <= got]


def record_arrays(
    records: Sequence[Record], item_ids: Sequence[str], setting: str, num_choices: int
) -> dict[str, np.ndarray]:
    """``nll_sum``, ``n_tokens``, ``n_bytes`` (n_items, k) and ``labels`` (n_items,) for one setting."""
    index = {item_id: i for i, item_id in enumerate(item_ids)}
    shape = (len(item_ids), num_choices)
    out: dict[str, np.ndarray] = {
        "nll_sum": np.zeros(shape),
        "n_tokens": np.zeros(shape, int),
        "n_bytes": np.zeros(shape, int),
    }
    labels = np.zeros(len(item_ids), int)
    for r in records:
        i = index.get(r.item_id)
        if i is None or r.setting != setting:
            continue
        out["nll_sum"][i, r.choice] = r.nll_sum
        out["n_tokens"][i, r.choice] = r.n_tokens
        out["n_bytes"][i, r.choice] = r.n_bytes
        if r.is_answer:
            labels[i] = r.choice
    out["labels"] = labels
    return out


def summarize_records(
    task: Task,
    records: Sequence[Record],
    settings: Sequence[str],
    *,
    scoring_rule: str = SUMMARY_DEFAULTS.scoring_rule,
    tie_policy: str = SUMMARY_DEFAULTS.tie_policy,
    n_bootstrap: int = SUMMARY_DEFAULTS.n_bootstrap,
    seed: int = SUMMARY_DEFAULTS.seed,
    gap: str = SUMMARY_DEFAULTS.gap,
) -> dict:
    """The metrics of one task from its records (only items complete in every setting count)."""
    item_ids = complete_items(records, settings, task.num_choices)
    if not item_ids:
        return {"n_items": 0, "settings": {}, "item_ids": []}
    arrays = {s: record_arrays(records, item_ids, s, task.num_choices) for s in settings}
    labels = arrays[settings[0]]["labels"]
    scores = {
        s: protocol.choice_scores(a["nll_sum"], a["n_tokens"], a["n_bytes"], scoring_rule) for s, a in arrays.items()
    }
    mean_nll = {s: a["nll_sum"] / a["n_tokens"] for s, a in arrays.items()}
    summary = summarize_scores(
        task, scores, labels, mean_nll=mean_nll, tie_policy=tie_policy, n_bootstrap=n_bootstrap, seed=seed, gap=gap
    )
    summary["item_ids"] = item_ids
    return summary


def summarize_scores(
    task: Task,
    scores: Mapping[str, np.ndarray],
    labels: np.ndarray,
    *,
    mean_nll: Mapping[str, np.ndarray] | None = None,
    tie_policy: str = SUMMARY_DEFAULTS.tie_policy,
    n_bootstrap: int = SUMMARY_DEFAULTS.n_bootstrap,
    seed: int = SUMMARY_DEFAULTS.seed,
    gap: str = SUMMARY_DEFAULTS.gap,
) -> dict:
    """Metrics from score matrices (n_items, k) per setting, lower is better.

    ``degradation`` compares the two settings of ``gap`` (``A:B``, `tasks.GAP_PAIRS`):
    the accuracy of A minus that of B, when both were scored.
    """
    tie = protocol.tie_credit(tie_policy, task.reference_tie_credit)
    labels = np.asarray(labels)
    outcomes = {s: protocol.pairwise_outcomes(m, labels, tie) for s, m in scores.items()}
    per_item = {s: o.mean(axis=1) for s, o in outcomes.items()}
    result: dict = {"n_items": len(labels), "settings": {}}
    for setting, matrix in scores.items():
        entry = {
            "accuracy": float(outcomes[setting].mean()),
            "accuracy_ci": list(protocol.bootstrap_interval(per_item[setting], n_bootstrap, seed)),
            "argmin_accuracy": protocol.argmin_accuracy(matrix, labels),
            "n_comparisons": int(outcomes[setting].size),
        }
        if mean_nll is not None:
            losses = protocol.mean_losses(mean_nll[setting], labels)
            entry.update(
                answer_loss=losses["answer"], distractor_loss=losses["distractor"], loss_difference=losses["difference"]
            )
        result["settings"][setting] = entry
    first, second = gap_settings(gap)
    if first in scores and second in scores:
        a, b = result["settings"][first]["accuracy"], result["settings"][second]["accuracy"]
        paired = protocol.paired_bootstrap(per_item[first], per_item[second], n_bootstrap, seed)
        result["degradation"] = {
            "gap": protocol.gap(a, b),
            "gap_ci": list(paired["gap"]),
            "relative_gap": protocol.relative_gap(a, b, task.chance),
            "test": gap_test(per_item[first], per_item[second], seed),
        }
    return result


def gap_test(first_item_credit: np.ndarray, second_item_credit: np.ndarray, seed: int) -> dict[str, Any]:
    """The paired sign-flip test of the gap over items (`protocol.paired_sign_flip_test`), seeded by the run.

    ``results.json`` ``degradation.test``: ``method`` (``mcnemar``,
    ``sign_flip_exact`` or ``sign_flip_monte_carlo``), ``p_value``,
    ``n_discordant`` (items whose credit differs between the settings),
    ``first_better`` / ``second_better`` (items with more credit in the gap's
    first / second setting, ``config.gap``) and ``n_resamples`` (Monte Carlo
    only, else null).
    """
    test = protocol.paired_sign_flip_test(first_item_credit, second_item_credit, seed=seed)
    test["first_better"], test["second_better"] = test.pop("a_better"), test.pop("b_better")
    return test


def overall(per_task: Mapping[str, dict], gap: str = DEFAULT_GAP) -> dict:
    """Unweighted mean over the continuation tasks of each setting's accuracy and of the gap (as the paper's
    average), and under ``utterance`` the mean utterance accuracy over the utterance tasks (the speech-LM sets).

    ``relative_gap`` is the relative gap of those averages (pairwise chance is 1/2 for every task) between
    the two settings of ``gap``. The two kinds of task are never averaged together: an utterance task has no
    context, hence no gap, and measures something else than S2SBench's average.
    """
    done = {t: m for t, m in per_task.items() if m.get("n_items")}
    spoken = {t: m for t, m in done.items() if UTTERANCE in m["settings"]}
    out = _continuation_overall({t: m for t, m in done.items() if t not in spoken}, gap)
    if spoken:
        accuracy = float(np.mean([m["settings"][UTTERANCE]["accuracy"] for m in spoken.values()]))
        out["utterance"] = {"tasks": sorted(spoken), "accuracy": accuracy}
    return out


def _continuation_overall(done: Mapping[str, dict], gap: str) -> dict:
    """`overall` of the continuation tasks that scored an item ({} when none did)."""
    if not done:
        return {}
    settings = sorted({s for m in done.values() for s in m["settings"]})
    out: dict = {"tasks": sorted(done), "settings": {}}
    for s in settings:
        accs = [m["settings"][s]["accuracy"] for m in done.values() if s in m["settings"]]
        out["settings"][s] = {"accuracy": float(np.mean(accs))}
    gaps = [m["degradation"]["gap"] for m in done.values() if "degradation" in m]
    if gaps:
        out["degradation"] = {"gap": float(np.mean(gaps))}
        first, second = gap_settings(gap)
        if first in out["settings"] and second in out["settings"]:
            a, b = out["settings"][first]["accuracy"], out["settings"][second]["accuracy"]
            # Pairwise chance is 1/2 for every task (Task.chance), so the averages share it.
            out["degradation"]["relative_gap"] = protocol.relative_gap(a, b, 0.5)
    return out


def breakdown_value(value: Any) -> str:
    """A meta value as a breakdown group's key: booleans as ``true`` / ``false`` (as JSON writes them), a missing
    value as ``unknown``, anything else as its text."""
    if value is None:
        return "unknown"
    return str(value).lower() if isinstance(value, bool) else str(value)


def breakdown(
    task: Task,
    records: Sequence[Record],
    items: Sequence[Item],
    settings: Sequence[str],
    *,
    scoring_rule: str = SUMMARY_DEFAULTS.scoring_rule,
    tie_policy: str = SUMMARY_DEFAULTS.tie_policy,
) -> dict | None:
    """The accuracy per value of the task's breakdown field (`Task.breakdown`: SALMon by subset, sWUGGY in and out
    of vocabulary), over the items complete in every setting, with the headline's own functions and conventions.

    ``{"by": field, "groups": {value: {"n_items": n, "settings": {setting: {"accuracy": a}}}}}`` (values sorted);
    None for a task without a breakdown or without a complete item.
    """
    if task.breakdown is None:
        return None
    complete = set(complete_items(records, settings, task.num_choices))
    groups: dict[str, list[str]] = {}
    for item in items:
        if item.id in complete:
            groups.setdefault(breakdown_value(item.meta.get(task.breakdown)), []).append(item.id)
    if not groups:
        return None
    tie = protocol.tie_credit(tie_policy, task.reference_tie_credit)
    out: dict[str, dict] = {}
    for value, item_ids in sorted(groups.items()):
        accuracies = {}
        for s in settings:
            a = record_arrays(records, item_ids, s, task.num_choices)
            scores = protocol.choice_scores(a["nll_sum"], a["n_tokens"], a["n_bytes"], scoring_rule)
            accuracies[s] = {"accuracy": float(protocol.pairwise_outcomes(scores, a["labels"], tie).mean())}
        out[value] = {"n_items": len(item_ids), "settings": accuracies}
    return {"by": task.breakdown, "groups": out}


def flatten_task(m: Mapping[str, Any]) -> dict[str, Any]:
    """One task's metrics (a ``results.json`` ``results[task]`` entry) as flat keys, fractions as stored.

    ``<setting>_accuracy`` and ``_accuracy_ci`` ([low, high]), ``_argmin_accuracy``,
    ``_answer_loss``, ``_distractor_loss``, ``_loss_difference`` per setting (the
    accuracies of the paper's two settings always, None when not run);
    ``degradation`` (the run's ``config.gap``: text minus audio by default),
    ``degradation_ci``, ``relative_degradation``, ``degradation_p_value`` (the
    sign-flip test over items, `gap_test`). Missing numbers are None. The metric's
    per-task output, the sweep table and the comparison table are all this.
    """
    out: dict[str, Any] = {"n_items": m.get("n_items", 0)}
    for setting in DEFAULT_SETTINGS:
        out[f"{setting}_accuracy"] = None
        out[f"{setting}_accuracy_ci"] = None
    for setting, e in m.get("settings", {}).items():
        out[f"{setting}_accuracy"] = e.get("accuracy")
        out[f"{setting}_accuracy_ci"] = e.get("accuracy_ci")
        out[f"{setting}_argmin_accuracy"] = e.get("argmin_accuracy")
        out[f"{setting}_n_comparisons"] = e.get("n_comparisons")
        for key in ("answer_loss", "distractor_loss", "loss_difference"):
            if key in e:
                out[f"{setting}_{key}"] = e[key]
    deg = m.get("degradation") or {}
    out["degradation"] = deg.get("gap")
    out["degradation_ci"] = deg.get("gap_ci")
    out["relative_degradation"] = deg.get("relative_gap")
    out["degradation_p_value"] = (deg.get("test") or {}).get("p_value")
    if "n_failed" in m:
        out["n_failed"] = m["n_failed"]
    return out
