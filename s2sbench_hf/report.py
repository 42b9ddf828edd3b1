"""Human-readable views of a results file: the final table printed after a run."""

from __future__ import annotations

from typing import Any, Mapping


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _with_ci(value: float, ci: list[float] | None) -> str:
    return _pct(value) if not ci else f"{_pct(value)} [{_pct(ci[0])}, {_pct(ci[1])}]"


def format_table(results: Mapping[str, Any]) -> str:
    """A markdown table: per task, each setting's pairwise accuracy (95% CI) and the gap in points.

    Accuracies are percentages; the gap is text minus audio in percentage points,
    its interval from the paired bootstrap; ``p`` is the exact McNemar test.
    """
    settings = results["config"]["settings"]
    both = "text" in settings and "audio" in settings
    header = ["task", "items"] + [f"{s} acc % [95% CI]" for s in settings]
    if both:
        header += ["gap pp [95% CI]", "relative gap", "McNemar p"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for task_id, m in results["results"].items():
        row = [task_id, str(m.get("n_items", 0))]
        for s in settings:
            entry = m.get("settings", {}).get(s)
            row.append(_with_ci(entry["accuracy"], entry["accuracy_ci"]) if entry else "-")
        if both:
            deg = m.get("degradation")
            if deg:
                rel = deg["relative_gap"]
                row += [
                    _with_ci(deg["gap"], deg["gap_ci"]),
                    "-" if rel is None else f"{100 * rel:.0f}%",
                    f"{deg['mcnemar']['p_value']:.3g}",
                ]
            else:
                row += ["-", "-", "-"]
        lines.append("| " + " | ".join(row) + " |")
    overall = results.get("overall") or {}
    if len(results["results"]) > 1 and overall:
        row = ["average", ""] + [_pct(overall["settings"].get(s, {}).get("accuracy")) for s in settings]
        if both:
            row += [_pct(overall.get("degradation", {}).get("gap")), "", ""]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)
