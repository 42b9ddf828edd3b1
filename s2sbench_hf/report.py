"""Human-readable reports of runs, sweeps and comparisons: markdown and self-contained HTML.

The reports (`run_report`, `sweep_report`, `compare_report`, rendered by
`write_report`) are built from the tables of `tables` plus the figures of
`plots`; they read results files and never recompute a metric.

A report is a `render.Document`, rendered by `render.markdown` (images as
files next to it) and `render.html` (one self-contained page: images inlined as
base64 PNG data URIs, CSS inline, no external asset, so it can be mailed or
attached to a model card as one file). A string read from a results file (a
model id, a revision, a data source, an item error, a checkpoint or model name)
enters a report as a `render.Quote`, so that it is shown literally in both
formats (`render`'s one escaping rule, the leaderboard's).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from s2sbench_hf import environment, plots, render, sweep
from s2sbench_hf._version import __version__
from s2sbench_hf.files import atomic_write, plain
from s2sbench_hf.render import Bullets, Document, Heading, Image, Paragraph, Quote, Table, Text, join
from s2sbench_hf.render import parts as _parts
from s2sbench_hf.results import read_results
from s2sbench_hf.tables import (
    TABLE_NOTE,
    breakdown_table,
    compare_table,
    gap_label,
    loss_table,
    loss_text,
    results_table,
    run_notes,
    with_ci,
)
from s2sbench_hf.tasks import DEFAULT_GAP, DEFAULT_SETTINGS, S2SBenchError


def _document(title: Text) -> Document:
    """A report: the page of ``templates/report.html.j2``, its footer naming the package version."""
    return Document(title, footer=f"Written by s2sbench-hf {__version__}.", page="report")


def run_report(folder: str | Path) -> Document:
    """The report of one run folder (``results.json``); draws ``plots/accuracy.png`` into it."""
    folder = Path(folder)
    res = read_results_file(folder)
    model = res.get("model", {})
    doc = _document(("S2SBench report: ", Quote(str(model.get("model_id", folder.name)))))
    doc.add(Paragraph(_run_summary(res)))
    notes = run_notes(res)
    if notes:
        doc.add(Heading("Notes"), *[Paragraph(Quote(note)) for note in notes])  # from the results file
    doc.add(Heading("Accuracy and degradation"), Table(*results_table(res), caption=TABLE_NOTE))
    header, rows = breakdown_table(res)
    if rows:
        doc.add(Heading("Breakdown"), Table(header, rows, caption="Pairwise accuracy in percent per group of items."))
    if any(m.get("n_items") for m in res["results"].values()):
        path = plots.plot_run(
            res, folder / "plots" / "accuracy.png", title=f"S2SBench accuracy: {_short_name(res, folder)}"
        )
        doc.add(Image(path, "accuracy per setting and task", "Bars: accuracy with 95% intervals; dotted: chance."))
    doc.add(
        Heading("Losses"),
        Table(
            *loss_table(res),
            caption="Mean loss = mean NLL per token (per frame of "
            "speech tokens for spoken continuations) of the "
            "answer / of the distractors; argmin accuracy: chance "
            "1/k.",
        ),
    )
    _add_errors(doc, res)
    _add_environment(doc, res)
    return doc


def sweep_report(folder: str | Path) -> Document:
    """The report of a sweep folder (``sweep.json``): per task, the per-step table and the sweep figure."""
    folder = Path(folder)
    data = sweep.read_sweep(folder)
    steps = data.get("steps", [])
    doc = _document(("S2SBench checkpoint sweep: ", Quote(folder.resolve().name)))
    config = data.get("config", {})
    # the settings the runs scored (an utterance task's is ``utterance``, whatever --settings said)
    settings = data.get("settings") or config.get("settings") or list(DEFAULT_SETTINGS)
    doc.add(
        Paragraph(
            f"{len(steps)} checkpoint(s), steps {', '.join(map(str, steps))}. "
            f"Tasks: {', '.join(data.get('tasks', []))}; "
            f"settings: {', '.join(settings)}; limit: {config.get('limit')}; scoring rule: "
            f"{config.get('scoring_rule')}; tie policy: {config.get('tie_policy')}; bootstrap: "
            f"{config.get('n_bootstrap')} resamples (seed {config.get('seed')})."
        )
    )
    header = [
        "step",
        "checkpoint",
        "items",
        *[f"{s} acc % [95% CI]" for s in settings],
        f"gap {gap_label(config.get('gap', DEFAULT_GAP))} pp [95% CI]",
        *[f"{s} loss ans / dis" for s in settings],
    ]
    for task_id in data.get("tasks", []):
        rows = []
        for r in (r for r in data["rows"] if r["task"] == task_id):
            cells: list[Text] = [str(r["step"]), Quote(r["checkpoint"]), str(r.get("n_items", ""))]
            for key in (*[f"{s}_accuracy" for s in settings], "degradation"):
                lo, hi = r.get(f"{key}_ci_low"), r.get(f"{key}_ci_high")
                cells.append("-" if r.get(key) is None else with_ci(r[key], None if lo is None else [lo, hi]))
            for s in settings:
                cells.append(f"{loss_text(r.get(f'{s}_answer_loss'))} / {loss_text(r.get(f'{s}_distractor_loss'))}")
            rows.append(cells)
        doc.add(Heading(task_id), Table(header, rows, caption=TABLE_NOTE))
        plot = data.get("plots", {}).get(task_id)
        if plot and (folder / plot).is_file():
            doc.add(
                Image(
                    folder / plot,
                    f"{task_id}: accuracy, gap and losses against training step",
                    "Left: accuracy with 95% bands; middle: gap with its paired-bootstrap band; right: mean "
                    "loss of answers (solid) and distractors (dashed).",
                )
            )
    return doc


def compare_report(folders: Sequence[str | Path], output: str | Path, names: Sequence[str] | None = None) -> Document:
    """Several run folders (or sweeps: their last step) side by side; the figure is drawn into ``output``."""
    runs: dict[str, dict] = {}
    for i, folder in enumerate(folders):
        res = read_results_file(folder)
        name = plain(names[i]) if names and i < len(names) else _short_name(res, folder)
        runs[_unique(name, runs)] = res
    doc = _document("S2SBench comparison")
    listed = join(((Quote(name), " (", *_parts(_identity(r)), ")") for name, r in runs.items()), "; ")
    doc.add(Paragraph((f"{len(runs)} models: ", *listed, ".")))
    configs = {
        json.dumps({k: r["config"].get(k) for k in ("scoring_rule", "tie_policy", "limit", "dataset")}, sort_keys=True)
        for r in runs.values()
    }
    if len(configs) > 1:
        doc.add(
            Paragraph(
                "Warning: the runs differ in scoring rule, tie policy, limit or dataset; their numbers "
                "are not directly comparable."
            )
        )
    header, rows = compare_table(runs)
    doc.add(Table(header, [[Quote(row[0]), *row[1:]] for row in rows], caption=TABLE_NOTE))  # row[0]: the name
    path = plots.plot_compare(runs, Path(output) / "plots" / "compare.png")
    doc.add(Image(path, "text vs audio accuracy per model and task", "Bars: accuracy with 95% intervals."))
    return doc


def read_results_file(folder: str | Path) -> dict:
    """``results.json`` of a run folder; for a sweep folder, that of its last checkpoint."""
    path = Path(folder)
    if not (path / "results.json").is_file() and sweep.is_sweep(path):
        checkpoints = sweep.read_sweep(path).get("checkpoints") or []
        if not checkpoints:
            raise ReportError(f"sweep folder {path} has no evaluated checkpoint yet.")
        path = path / checkpoints[-1]["folder"]
    if not (path / "results.json").is_file():
        raise ReportError(
            f"{path} has no results.json (nor sweep.json); give a folder written by "
            "`s2sbench run`, `s2sbench score` or `s2sbench sweep`."
        )
    return read_results(path)


def folder_report(folder: str | Path) -> Document:
    """`sweep_report` for a sweep folder, else `run_report`."""
    return sweep_report(folder) if sweep.is_sweep(folder) else run_report(folder)


def write_report(doc: Document, output: str | Path, name: str = "report") -> tuple[Path, Path]:
    """Write ``<name>.md`` and the self-contained ``<name>.html`` into ``output``."""
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    md, page = output / f"{name}.md", output / f"{name}.html"
    for path, text in ((md, render.markdown(doc, output)), (page, render.html(doc))):
        atomic_write(path, text)
    return md, page


class ReportError(S2SBenchError, ValueError):
    """A folder cannot be reported on."""


def _quoted(template: str, *values: Any) -> tuple[str | Quote, ...]:
    """``template`` (the report's words) with each ``{}`` replaced by the next value, read from a file, as a `Quote`."""
    first, *pieces = template.split("{}")
    return (first, *(part for value, piece in zip(values, pieces, strict=True) for part in (Quote(str(value)), piece)))


def _run_summary(res: Mapping[str, Any]) -> Text:
    """The model, the data, the protocol and when the run was made; every value from ``res`` a `Quote`."""
    config = res.get("config", {})
    datasets = res.get("datasets", {})
    sources = sorted({str(d.get("source")) for d in datasets.values()}) if datasets else [str(config.get("dataset"))]
    parts: list[Text] = [
        ("Model: ", *_parts(_identity(res)), "."),
        _quoted(
            "Data: {}; tasks: {}; settings: {}; limit: {}.",
            ", ".join(sources),
            ", ".join(res["results"]),
            ", ".join(config.get("settings", [])),
            config.get("limit"),
        ),
        _quoted(
            "Scoring rule: {}; tie policy: {}; bootstrap: {} resamples (seed {}).",
            config.get("scoring_rule", "mean"),
            config.get("tie_policy"),
            config.get("n_bootstrap"),
            config.get("seed"),
        ),
    ]
    if res.get("created"):
        took = f" in {res['duration_s']:.0f} s." if res.get("duration_s") is not None else "."
        parts.append(
            (*_quoted("Created {} with s2sbench-hf {}", res["created"], res.get("s2sbench_hf_version", "?")), took)
        )
    return join(parts, " ")


def _identity(res: Mapping[str, Any]) -> Text:
    """The model as a results file names it: id, adapter, dtype, revision (or content hash), each a `Quote`."""
    model = res.get("model", {})
    bits = [_quoted("{}", model.get("model_id", "?"))]
    bits += [_quoted(f"{key} {{}}", model[key]) for key in ("adapter", "dtype") if model.get(key)]
    if model.get("revision"):
        bits.append(_quoted("revision {}", model["revision"]))
    elif model.get("content_hash"):
        bits.append(_quoted("content {}", model["content_hash"]))
    return join(bits, ", ")


def _add_errors(doc: Document, res: Mapping[str, Any], limit: int = 50) -> None:
    errors = res.get("errors") or []
    if not errors:
        return
    items: list[Text] = [
        Quote(f"{e['task']} / {e['item_id']}: {e['problem']}. {e.get('fix', '')}".strip()) for e in errors[:limit]
    ]
    if len(errors) > limit:
        items.append(f"... and {len(errors) - limit} more (see results.json)")
    doc.add(Heading(f"Item errors ({len(errors)})"), Bullets(items))


def _add_environment(doc: Document, res: Mapping[str, Any]) -> None:
    """What the run ran on, as recorded (versions, commit, hardware, command), so a reader can repeat it; every value
    a `Quote`. Files written before these were recorded show what they have."""
    env = res.get("environment")
    if not isinstance(env, Mapping):
        return
    versions = ", ".join(f"{name} {version}" for name, version in environment.recorded_versions(env).items())
    items: list[Text] = [_quoted("Versions: {}.", versions), _source(res, env)]
    hardware = env.get("hardware")
    if isinstance(hardware, Mapping):
        items.append(_hardware(hardware))
    if env.get("command"):
        items.append(_quoted("Command: {}", env["command"]))
    doc.add(Heading("Environment"), Bullets(items))


def _source(res: Mapping[str, Any], env: Mapping[str, Any]) -> Text:
    """The package version and, from a git checkout, its commit (and whether files differed from it)."""
    version = _quoted("s2sbench-hf {}", res.get("s2sbench_hf_version", "?"))
    if not env.get("git_commit"):
        return (*version, " (not run from a git checkout, or not recorded).")
    modified = " with uncommitted changes" if env.get("git_dirty") else ""
    return (*version, *_quoted(", git commit {}", env["git_commit"]), f"{modified}.")


def _hardware(hardware: Mapping[str, Any]) -> Text:
    """Platform, CPU (model, logical count), memory, GPUs and CUDA, as the ``hardware`` block records them."""
    gpus = hardware.get("gpus") or []
    parts = [
        _quoted("Hardware: {}", hardware.get("platform", "?")),
        _quoted("CPU: {} ({} logical)", hardware.get("cpu") or "unknown", hardware.get("cpu_count") or "?"),
    ]
    if hardware.get("memory_gib") is not None:
        parts.append(_quoted("memory: {} GiB", hardware["memory_gib"]))
    parts.append(_quoted(f"GPUs: {len(gpus)} ({{}})", ", ".join(map(str, gpus))) if gpus else ("GPUs: none",))
    if hardware.get("cuda"):
        parts.append(_quoted("CUDA {}", hardware["cuda"]))
    return (*join(parts, "; "), ".")


def _short_name(res: Mapping[str, Any], folder: str | Path) -> str:
    """A model's label: its Hub id, or the last part of a local path (full paths make unreadable tables); a
    `plain` line, since it also titles the plots (matplotlib cannot draw a lone surrogate)."""
    model_id = str(res.get("model", {}).get("model_id") or "")
    if not model_id:
        return plain(Path(folder).resolve().name)
    if model_id.startswith(("/", ".", "~")) or os.path.isdir(model_id):
        return plain(Path(model_id).name or model_id)
    return plain(model_id)


def _unique(name: str, taken: Mapping[str, Any]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name} ({n})", n + 1
    return candidate
