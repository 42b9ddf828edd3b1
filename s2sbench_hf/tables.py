"""The text tables of results: the one printed after a run or a score, and those the reports reuse.

Plain strings from a results dict (``results.json``), as markdown by `render`; no plotting, no I/O, so
commands that print a table start instantly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from s2sbench_hf import render
from s2sbench_hf.data.loaded import SAMPLES_SOURCE
from s2sbench_hf.tasks import ALL_SETTINGS, DEFAULT_GAP, UTTERANCE, gap_settings

TABLE_NOTE = (
    "Pairwise accuracy in percent with its 95% bootstrap interval; the gap A-B is the accuracy of setting A minus "
    "that of B (--gap; by default text minus audio) in percentage points with its paired-bootstrap interval (the "
    "same resampled items for both settings); the relative gap is gap / (accuracy of A - 50%); p is the paired "
    "sign-flip (permutation) test of the gap over items, which is the exact McNemar test where each item is one "
    "comparison."
)

SAMPLES_NOTE = (
    "the bundled sample sets, NOT the S2SBench benchmark: they check that a model runs; their numbers are not "
    "comparable with published ones (omit --dataset to score the benchmark)"
)


def data_header(results: Mapping[str, Any]) -> str:
    """Which data a run scored, printed above its table: per source its revision, per task items and fingerprint."""
    lines = []
    by_source: dict[tuple[str, str | None], list[str]] = {}
    datasets = results.get("datasets") or {}
    for task_id, info in datasets.items():
        by_source.setdefault((str(info.get("source")), info.get("revision")), []).append(task_id)
    for (source, revision), task_ids in by_source.items():
        if source == SAMPLES_SOURCE:
            lines.append(f"data: {SAMPLES_NOTE}")
        else:
            lines.append(f"data: {source}" + (f" (Hub revision {revision})" if revision else ""))
        for task_id in task_ids:
            info, scored = datasets[task_id], (results.get("results") or {}).get(task_id, {})
            lines.append(
                f"  {task_id}: {scored.get('n_items', 0)} items scored, {scored.get('n_failed', 0)} failed "
                f"({info.get('num_rows')} rows in the source; fingerprint {info.get('fingerprint')})"
            )
    return "\n".join(lines)


def run_notes(results: Mapping[str, Any]) -> list[str]:
    """What a reader must know beside the numbers: the run's ``notes``, then, per task and setting, how many
    clips were longer than one audio window and scored over consecutive windows (``n_windowed_clips``)."""
    notes = [str(note) for note in results.get("notes") or []]
    window = (results.get("model") or {}).get("audio_window_seconds")
    window_text = f"one {window:g} s audio window" if isinstance(window, (int, float)) else "one audio window"
    for task_id, scored in (results.get("results") or {}).items():
        for setting, entry in (scored.get("settings") or {}).items():
            windowed = entry.get("n_windowed_clips") if isinstance(entry, Mapping) else None
            if windowed:
                notes.append(
                    f"{task_id}, {setting} setting: {windowed} of {scored.get('n_items', '?')} clips are longer than "
                    f"{window_text} of the model and were scored over consecutive windows (docs/protocol.md, "
                    '"Long clips").'
                )
    return notes


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def with_ci(value: float, ci: list[float] | None) -> str:
    return _pct(value) if not ci else f"{_pct(value)} [{_pct(ci[0])}, {_pct(ci[1])}]"


def gap_label(pair: str) -> str:
    """``text:audio`` -> ``text-audio``: how tables and figures name a gap."""
    return "-".join(gap_settings(pair))


def table_settings(results: Mapping[str, Any]) -> list[str]:
    """The setting columns of a run's table, in `tasks.ALL_SETTINGS` order: ``config.settings`` where a continuation
    task was run (any task not scored in ``utterance``), and ``utterance`` where an utterance task was."""
    tasks = (results.get("results") or {}).values()
    spoken = [UTTERANCE in (m.get("settings") or {}) for m in tasks]
    wanted = set(results["config"]["settings"]) if not all(spoken) else set()
    if any(spoken):
        wanted.add(UTTERANCE)
    return [s for s in ALL_SETTINGS if s in wanted]


def _average_accuracy(overall: Mapping[str, Any], setting: str) -> float | None:
    """A setting's average in ``overall``: the utterance tasks' own for ``utterance``, else the continuation
    tasks' (`metrics.overall`)."""
    if setting == UTTERANCE:
        return (overall.get("utterance") or {}).get("accuracy")
    return (overall.get("settings") or {}).get(setting, {}).get("accuracy")


def results_table(results: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of `format_table` (per task, and an average row when there are several tasks)."""
    settings = table_settings(results)
    pair = results["config"].get("gap", DEFAULT_GAP)
    both = set(gap_settings(pair)) <= set(settings)
    header = ["task", "items"] + [f"{s} acc % [95% CI]" for s in settings]
    if both:
        header += [f"gap {gap_label(pair)} pp [95% CI]", "relative gap", "p"]
    rows = []
    for task_id, m in results["results"].items():
        row = [task_id, str(m.get("n_items", 0))]
        for s in settings:
            entry = m.get("settings", {}).get(s)
            row.append(with_ci(entry["accuracy"], entry["accuracy_ci"]) if entry else "-")
        if both:
            row += _degradation_cells(m.get("degradation"))
        rows.append(row)
    overall = results.get("overall") or {}
    if len(results["results"]) > 1 and overall:
        row = ["average", ""] + [_pct(_average_accuracy(overall, s)) for s in settings]
        if both:
            row += [_pct(overall.get("degradation", {}).get("gap")), "", ""]
        rows.append(row)
    return header, rows


def _degradation_cells(deg: Mapping[str, Any] | None) -> list[str]:
    if not deg:
        return ["-", "-", "-"]
    rel = deg["relative_gap"]
    return [
        with_ci(deg["gap"], deg["gap_ci"]),
        "-" if rel is None else f"{100 * rel:.0f}%",
        f"{deg['test']['p_value']:.3g}",
    ]


def format_table(results: Mapping[str, Any]) -> str:
    """A markdown table: per task, each setting's pairwise accuracy (95% CI) and the gap in points.

    Accuracies are percentages; the gap is the run's ``config.gap`` (by default text
    minus audio) in percentage points, its interval from the paired bootstrap; ``p``
    is the sign-flip test of the gap over items.
    """
    table = render.markdown(render.Table(*results_table(results)))
    header, rows = breakdown_table(results)
    return table if not rows else table + "\n\n" + render.markdown(render.Table(header, rows))


def breakdown_table(results: Mapping[str, Any]) -> tuple[list[str], list[list[render.Text]]]:
    """Per task with a breakdown (SALMon by subset, sWUGGY in and out of vocabulary): each group's items and
    accuracy per setting (``results.<task>.breakdown``); no rows when no task has one. The field and its values
    are the data's, quoted (`render.Quote`)."""
    settings = table_settings(results)
    header = ["task", "by", "group", "items", *[f"{s} acc %" for s in settings]]
    rows: list[list[render.Text]] = []
    for task_id, m in results["results"].items():
        found = m.get("breakdown") or {}
        for value, group in (found.get("groups") or {}).items():
            accuracies = [_pct(group["settings"].get(s, {}).get("accuracy")) for s in settings]
            by, group_value = render.Quote(str(found["by"])), render.Quote(str(value))
            rows.append([task_id, by, group_value, str(group["n_items"]), *accuracies])
    return header, rows


def loss_text(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def loss_table(results: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Per task and setting: argmin accuracy and the mean answer/distractor loss (docs/protocol.md, "Losses")."""
    header = ["task", "setting", "argmin acc %", "answer loss", "distractor loss", "distractor - answer"]
    rows = []
    for task_id, m in results["results"].items():
        for setting, e in m.get("settings", {}).items():
            rows.append(
                [
                    task_id,
                    setting,
                    _pct(e.get("argmin_accuracy")),
                    loss_text(e.get("answer_loss")),
                    loss_text(e.get("distractor_loss")),
                    loss_text(e.get("loss_difference")),
                ]
            )
    return header, rows


def compare_table(runs: Mapping[str, Mapping[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Several models side by side: one row per model per task, then each model's average over its tasks.

    The columns are the settings any of the runs scored (in `tasks.ALL_SETTINGS` order); ``gap`` names
    the pair each run's gap compares.
    """
    scored = {s for res in runs.values() for s in table_settings(res)}
    settings = [s for s in ALL_SETTINGS if s in scored]
    header = [
        "model",
        "task",
        "items",
        *[f"{s} acc % [95% CI]" for s in settings],
        "gap",
        "gap pp [95% CI]",
        "relative gap",
        "p",
    ]
    rows = []
    for name, res in runs.items():
        pair = gap_label(res["config"].get("gap", DEFAULT_GAP))
        for task_id, m in res["results"].items():
            entries = m.get("settings", {})
            cells = [
                with_ci(entries[s]["accuracy"], entries[s]["accuracy_ci"]) if s in entries else "-" for s in settings
            ]
            rows.append(
                [name, task_id, str(m.get("n_items", 0)), *cells, pair, *_degradation_cells(m.get("degradation"))]
            )
        overall = res.get("overall") or {}
        if len(res["results"]) > 1 and overall:
            rel = overall.get("degradation", {}).get("relative_gap")
            rows.append(
                [
                    name,
                    "average",
                    "",
                    *[_pct(_average_accuracy(overall, s)) for s in settings],
                    pair,
                    _pct(overall.get("degradation", {}).get("gap")),
                    "-" if rel is None else f"{100 * rel:.0f}%",
                    "",
                ]
            )
    return header, rows
