"""The figures: one run's accuracies, a sweep's curves per task, several models side by side.

Plain matplotlib through `matplotlib.figure.Figure` (no pyplot, no global
backend or state), written as PNG. Every figure uses the same colours (text
blue, audio orange, text_to_speech green, speech_to_speech purple, gap red),
shows accuracies in percent with the 50% chance line, and draws 95% intervals
as bands (curves) or error bars (bars). The numbers come from results files and
sweep rows (`metrics.flatten_task`); nothing is computed here except unit changes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from s2sbench_hf.tasks import ALL_SETTINGS, DEFAULT_GAP, DEFAULT_SETTINGS, gap_settings

COLORS = {
    "text": "#1f77b4",
    "audio": "#ff7f0e",
    "text_to_speech": "#2ca02c",
    "speech_to_speech": "#9467bd",
    "utterance": "#8c564b",
    "gap": "#d62728",
}
LABELS = {
    "text": "text context (T→T)",
    "audio": "spoken context (S→T)",
    "text_to_speech": "text context, spoken ending (T→S)",
    "speech_to_speech": "spoken context and ending (S→S)",
    "utterance": "whole utterance, no context (S)",
}
CHANCE = 50.0
DPI = 110


def _pct(value: float | None) -> float:
    return np.nan if value is None else 100.0 * float(value)


def _figure(**kwargs: Any) -> Any:
    """A new `matplotlib.figure.Figure`.

    matplotlib is imported here, on the first drawing, not with this module:
    commands that only print tables or validate files must start instantly.
    """
    from matplotlib.figure import Figure

    return Figure(layout="constrained", **kwargs)


def _literal_text(draw: Callable[..., Path]) -> Callable[..., Path]:
    """``draw`` with every text it creates taken literally: names come from results files, and a ``$`` in a
    model id is a dollar sign, not TeX (matplotlib's mathtext fails on ``x$^{a$``)."""

    @functools.wraps(draw)
    def literal(*args: Any, **kwargs: Any) -> Path:
        import matplotlib  # the first drawing imports matplotlib (see `_figure`)

        with matplotlib.rc_context({"text.parse_math": False}):
            return draw(*args, **kwargs)

    return literal


def _save(fig: Any, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, bbox_inches="tight", facecolor="white")
    return path


def _chance_line(ax) -> None:
    ax.axhline(CHANCE, color="0.45", linestyle=":", linewidth=1.2, label="chance (50%)")


def _step_label(step: float, _pos: Any = None) -> str:
    """Compact step labels: 500, 2k, 12.5k, 1.2M."""
    step = float(step)
    for factor, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(step) >= factor:
            return f"{step / factor:.4g}{suffix}"
    return f"{step:.4g}"


def _step_axis(ax, steps: Sequence[int]) -> None:
    """Ticks at the checkpoints' own steps when there are few, else evenly spaced; compact labels."""
    from matplotlib import ticker  # loaded by then: the axes exist

    ax.set_xlabel("training step")
    if len(steps) <= 10:
        ax.set_xticks(steps)
    else:
        ax.xaxis.set_major_locator(ticker.MaxNLocator(nbins=8, integer=True))
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(_step_label))
    if len(steps) == 1:  # a single point: give it some room
        ax.set_xlim(steps[0] - 1, steps[0] + 1)
    ax.grid(True, alpha=0.3)


def _legend_below(ax, order: Sequence[str] = (), ncol: int = 2) -> None:
    """The legend under the panel, so that it never hides a curve or a band.

    ``order``: labels in the order wanted (two columns, filled top to bottom);
    other labels follow.
    """
    handles, labels = ax.get_legend_handles_labels()
    rank = {label: i for i, label in enumerate(order)}
    pairs = sorted(zip(handles, labels, strict=True), key=lambda hl: rank.get(hl[1], len(rank)))
    ax.legend(
        [h for h, _ in pairs],
        [lab for _, lab in pairs],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.16),
        ncol=ncol,
        fontsize=8,
        frameon=False,
    )


@_literal_text
def plot_sweep_task(
    rows: Sequence[Mapping[str, Any]],
    task: str,
    path: str | Path,
    *,
    title: str | None = None,
    settings: Sequence[str] = DEFAULT_SETTINGS,
    gap: str = DEFAULT_GAP,
) -> Path:
    """Three panels against training step for one task (rows sorted by step, from `sweep.sweep_rows`).

    Left: each setting's pairwise accuracy (%) with its 95% bootstrap band and
    the chance line. Middle: the gap ``gap`` (percentage points) with its
    paired-bootstrap band and the zero line. Right: mean loss (mean NLL per token
    or frame) of answers (solid) and distractors (dashed) per setting.
    """
    first, second = gap_settings(gap)
    rows = sorted((r for r in rows if r["task"] == task), key=lambda r: r["step"])
    steps = [int(r["step"]) for r in rows]
    x = np.asarray(steps, dtype=float)
    fig = _figure(figsize=(15, 5.0))
    ax_acc, ax_gap, ax_loss = fig.subplots(1, 3)
    n_items = sorted({int(r["n_items"]) for r in rows if r.get("n_items") is not None})
    items_note = f"{n_items[0]} items" if len(n_items) == 1 else f"{min(n_items or [0])}-{max(n_items or [0])} items"
    fig.suptitle(
        title or f"{task}: accuracy and degradation across checkpoints ({items_note} per checkpoint)", fontsize=13
    )

    for setting in settings:
        acc = np.array([_pct(r.get(f"{setting}_accuracy")) for r in rows])
        if np.isnan(acc).all():
            continue
        lo = np.array([_pct(r.get(f"{setting}_accuracy_ci_low")) for r in rows])
        hi = np.array([_pct(r.get(f"{setting}_accuracy_ci_high")) for r in rows])
        ax_acc.fill_between(x, lo, hi, color=COLORS[setting], alpha=0.18, linewidth=0, label=f"{setting}: 95% CI")
        ax_acc.plot(x, acc, marker="o", color=COLORS[setting], linewidth=2, label=LABELS[setting])
    _chance_line(ax_acc)
    ax_acc.set_ylabel("pairwise accuracy (%)")
    ax_acc.set_title("accuracy (higher is better)")
    ax_acc.set_ylim(0, 100)
    _step_axis(ax_acc, steps)
    _legend_below(ax_acc, [label for s in settings for label in (LABELS[s], f"{s}: 95% CI")] + ["chance (50%)"])

    gaps = np.array([_pct(r.get("degradation")) for r in rows])
    if not np.isnan(gaps).all():
        lo = np.array([_pct(r.get("degradation_ci_low")) for r in rows])
        hi = np.array([_pct(r.get("degradation_ci_high")) for r in rows])
        ax_gap.fill_between(x, lo, hi, color=COLORS["gap"], alpha=0.18, linewidth=0, label="95% CI (paired bootstrap)")
        ax_gap.plot(x, gaps, marker="o", color=COLORS["gap"], linewidth=2, label=f"gap = {first} − {second}")
    else:  # an utterance task (one setting), or a run without both settings of the gap
        ax_gap.text(0.5, 0.5, "no gap: not scored in both settings", transform=ax_gap.transAxes, ha="center")
    ax_gap.axhline(0, color="0.3", linewidth=1)
    ax_gap.set_ylabel("degradation (percentage points)")
    ax_gap.set_title(f"degradation (above 0: {second} is worse than {first})")
    _step_axis(ax_gap, steps)
    _legend_below(ax_gap)

    for setting in settings:
        answer = np.array([r.get(f"{setting}_answer_loss", np.nan) for r in rows], dtype=float)
        distractor = np.array([r.get(f"{setting}_distractor_loss", np.nan) for r in rows], dtype=float)
        if np.isnan(answer).all():
            continue
        ax_loss.plot(x, answer, marker="o", color=COLORS[setting], linewidth=2, label=f"{setting}: answer")
        ax_loss.plot(
            x,
            distractor,
            marker="s",
            color=COLORS[setting],
            linewidth=2,
            linestyle="--",
            label=f"{setting}: distractor",
        )
    ax_loss.set_ylabel("mean loss (NLL per token or frame)")
    ax_loss.set_title("answer vs distractor loss (lower is likelier)")
    _step_axis(ax_loss, steps)
    if ax_loss.lines:
        _legend_below(ax_loss, [f"{s}: {kind}" for s in settings for kind in ("answer", "distractor")])
    return _save(fig, path)


def scored_settings(runs: Sequence[Mapping[str, Any]], tasks: Sequence[str]) -> list[str]:
    """The settings that any of ``runs`` scored on any of ``tasks``, in `ALL_SETTINGS`' order: a continuation
    task's are ``config.settings``, an utterance task's ``utterance`` alone."""
    scored = {s for res in runs for t in tasks for s in res["results"].get(t, {}).get("settings", {})}
    return [s for s in ALL_SETTINGS if s in scored]


@_literal_text
def plot_run(res: Mapping[str, Any], path: str | Path, *, title: str | None = None) -> Path:
    """Each setting's pairwise accuracy per task (bars, 95% intervals as error bars), the gap written above."""
    tasks = [t for t, m in res["results"].items() if m.get("n_items")]
    settings = scored_settings([res], tasks)
    first, second = gap_settings(res["config"].get("gap", DEFAULT_GAP))
    fig = _figure(figsize=(max(5.5, 2.2 * len(tasks) + 2), 4.2))
    ax = fig.subplots()
    width = 0.8 / max(len(settings), 1)
    x = np.arange(len(tasks))
    for i, setting in enumerate(settings):
        entries = [res["results"][t]["settings"].get(setting) for t in tasks]
        acc = np.array([_pct(e["accuracy"]) if e else np.nan for e in entries])
        err = _errors(acc, [e.get("accuracy_ci") if e else None for e in entries])
        ax.bar(
            x + (i - (len(settings) - 1) / 2) * width,
            acc,
            width,
            yerr=err,
            capsize=4,
            color=COLORS[setting],
            label=LABELS[setting],
        )
    for j, t in enumerate(tasks):
        deg = res["results"][t].get("degradation")
        if deg:
            ax.annotate(
                f"{first}−{second} {100 * deg['gap']:+.1f} pp", (x[j], 102), ha="center", va="bottom", fontsize=9
            )
    _chance_line(ax)
    ax.set_xticks(x, tasks)
    ax.set_ylim(0, 112)
    ax.set_ylabel("pairwise accuracy (%)")
    model = res.get("model", {}).get("model_id", "")
    ax.set_title(title or f"S2SBench accuracy: {model}", fontsize=11)
    _legend_below(ax, [*(LABELS[s] for s in settings), "chance (50%)"], ncol=3)
    ax.grid(True, axis="y", alpha=0.3)
    return _save(fig, path)


@_literal_text
def plot_compare(runs: Mapping[str, Mapping[str, Any]], path: str | Path) -> Path:
    """Several models side by side: one panel per task, per model a bar per setting any of them scored."""
    tasks: list[str] = []
    for res in runs.values():
        tasks += [t for t, m in res["results"].items() if m.get("n_items") and t not in tasks]
    settings = scored_settings(list(runs.values()), tasks)
    width = 0.8 / max(len(settings), 1)
    names = list(runs)
    panel_width = max(3.2, 1.0 * len(names) + 1.2)
    fig = _figure(figsize=(panel_width * max(len(tasks), 1), 4.8))
    axes = np.atleast_1d(fig.subplots(1, max(len(tasks), 1), sharey=True))
    x = np.arange(len(names))
    for ax, task in zip(axes, tasks, strict=False):  # no task: one empty panel
        for i, setting in enumerate(settings):
            entries = [runs[n]["results"].get(task, {}).get("settings", {}).get(setting) for n in names]
            acc = np.array([_pct(e["accuracy"]) if e else np.nan for e in entries])
            err = _errors(acc, [e.get("accuracy_ci") if e else None for e in entries])
            ax.bar(
                x + (i - (len(settings) - 1) / 2) * width,
                acc,
                width,
                yerr=err,
                capsize=4,
                color=COLORS[setting],
                label=LABELS[setting],
            )
        for j, n in enumerate(names):
            if not runs[n]["results"].get(task, {}).get("n_items"):
                ax.text(x[j], 3, "not run", ha="center", va="bottom", fontsize=8, color="0.4", rotation=90)
        _chance_line(ax)
        ax.set_title(task)
        ax.set_xticks(
            x, names, rotation=20 if len(names) > 2 else 0, ha="right" if len(names) > 2 else "center", fontsize=8
        )
        ax.set_xlim(-0.6, len(names) - 0.4)
        ax.set_ylim(0, 105)
        ax.grid(True, axis="y", alpha=0.3)
    axes[0].set_ylabel("pairwise accuracy (%)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=3, fontsize=8, frameon=False)
    return _save(fig, path)


def _errors(values: np.ndarray, cis: Sequence[Sequence[float] | None]) -> np.ndarray:
    """Asymmetric error bar lengths (2, n) from percentile intervals (fractions); 0 where unknown."""
    lo = np.array([_pct(ci[0]) if ci else np.nan for ci in cis])
    hi = np.array([_pct(ci[1]) if ci else np.nan for ci in cis])
    return np.nan_to_num(np.vstack([values - lo, hi - values]).clip(min=0))
