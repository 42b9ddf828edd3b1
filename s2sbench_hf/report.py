"""Human-readable reports of runs, sweeps and comparisons: markdown and self-contained HTML.

The reports (`run_report`, `sweep_report`, `compare_report`, rendered by
`write_report`) are built from the tables of `tables` plus the figures of
`plots`; they read results files and never recompute a metric.

A string read from a results file (a model id, a revision, a data source, an
item error, a checkpoint or model name) enters a report as a `Quote`: markdown
shows it through `files.md_text`, the rule of the leaderboard, so no link, HTML
or emphasis can come out of it, and HTML escapes every text with
`files.html_text`.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from s2sbench_hf import __version__, environment, plots, sweep
from s2sbench_hf.files import atomic_write, html_text, md_table, md_text, plain
from s2sbench_hf.results import read_results
from s2sbench_hf.tables import (
    TABLE_NOTE,
    compare_table,
    gap_label,
    loss_table,
    loss_text,
    results_table,
    run_notes,
    with_ci,
)
from s2sbench_hf.tasks import DEFAULT_GAP, DEFAULT_SETTINGS, S2SBenchError

# ---------------------------------------------------------- report documents
#
# A report is a small list of blocks rendered twice: markdown (images as files
# next to it) and one self-contained HTML page (images inlined as base64 PNG
# data URIs, CSS inline, no external asset), so the HTML can be mailed or
# attached to a model card as one file.


@dataclass(frozen=True)
class Quote:
    """Text read from a results file: literal in every format (markdown: `files.md_text`), never markup."""

    text: str


Text = str | Quote | tuple[str | Quote, ...]
"""A block's text: the report's own words (written as they are), a `Quote`, or a sequence of both."""


def _parts(text: Text) -> tuple[str | Quote, ...]:
    return text if isinstance(text, tuple) else (text,)


def _md(text: Text) -> str:
    """Markdown of a text: each `Quote` through `md_text`, the report's own words as written."""
    return "".join(md_text(part.text) if isinstance(part, Quote) else part for part in _parts(text))


def _html(text: Text) -> str:
    """HTML of a text: every part through `html_text`."""
    return "".join(html_text(part.text if isinstance(part, Quote) else part) for part in _parts(text))


@dataclass
class Heading:
    text: Text
    level: int = 2


@dataclass
class Paragraph:
    text: Text


@dataclass
class Bullets:
    items: list[Text]


@dataclass
class Table:
    header: list[str]
    rows: Sequence[Sequence[Text]]
    caption: str = ""


@dataclass
class Image:
    path: Path
    alt: str
    caption: str = ""


@dataclass
class Document:
    title: Text
    blocks: list[Any] = field(default_factory=list)

    def add(self, *blocks: Any) -> Document:
        self.blocks.extend(blocks)
        return self


def run_report(folder: str | Path) -> Document:
    """The report of one run folder (``results.json``); draws ``plots/accuracy.png`` into it."""
    folder = Path(folder)
    res = read_results_file(folder)
    model = res.get("model", {})
    doc = Document(("S2SBench report: ", Quote(str(model.get("model_id", folder.name)))))
    doc.add(Paragraph(_run_summary(res)))
    notes = run_notes(res)
    if notes:
        doc.add(Heading("Notes"), *[Paragraph(Quote(note)) for note in notes])  # from the results file
    doc.add(Heading("Accuracy and degradation"), Table(*results_table(res), caption=TABLE_NOTE))
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
    doc = Document(("S2SBench checkpoint sweep: ", Quote(folder.resolve().name)))
    config = data.get("config", {})
    doc.add(
        Paragraph(
            f"{len(steps)} checkpoint(s), steps {', '.join(map(str, steps))}. "
            f"Tasks: {', '.join(data.get('tasks', []))}; "
            f"settings: {', '.join(config.get('settings', []))}; limit: {config.get('limit')}; scoring rule: "
            f"{config.get('scoring_rule')}; tie policy: {config.get('tie_policy')}; bootstrap: "
            f"{config.get('n_bootstrap')} resamples (seed {config.get('seed')})."
        )
    )
    settings = config.get("settings") or list(DEFAULT_SETTINGS)
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
    doc = Document("S2SBench comparison")
    listed = _join(((Quote(name), " (", *_parts(_identity(r)), ")") for name, r in runs.items()), "; ")
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
    for path, text in ((md, render_markdown(doc, output)), (page, render_html(doc))):
        atomic_write(path, text)
    return md, page


class ReportError(S2SBenchError, ValueError):
    """A folder cannot be reported on."""


def render_markdown(doc: Document, base: str | Path) -> str:
    """Markdown with images as paths relative to ``base`` (where the file is written); each `Quote` escaped."""
    parts = [f"# {_md(doc.title)}"]
    for block in doc.blocks:
        if isinstance(block, Heading):
            parts.append(f"{'#' * block.level} {_md(block.text)}")
        elif isinstance(block, Paragraph):
            parts.append(_md(block.text))
        elif isinstance(block, Bullets):
            parts.append("\n".join(f"* {_md(item)}" for item in block.items))
        elif isinstance(block, Table):
            table = md_table(block.header, [[_md(cell) for cell in row] for row in block.rows])
            parts.append(table + (f"\n\n{block.caption}" if block.caption else ""))
        elif isinstance(block, Image):
            rel = os.path.relpath(block.path, base).replace(os.sep, "/")
            parts.append(f"![{block.alt}]({rel})" + (f"\n\n*{block.caption}*" if block.caption else ""))
    return "\n\n".join(parts) + "\n"


_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem auto; max-width: 1200px;
       padding: 0 1rem; color: #1a1a1a; line-height: 1.45; }
h1 { font-size: 1.6rem; border-bottom: 2px solid #ddd; padding-bottom: .3rem; }
h2 { font-size: 1.25rem; margin-top: 2rem; }
table { border-collapse: collapse; margin: .8rem 0; font-size: .92rem; }
th, td { border: 1px solid #ccc; padding: .3rem .6rem; text-align: right; white-space: nowrap; }
th { background: #f3f3f3; } td:first-child, th:first-child, td.text { text-align: left; }
tbody tr:nth-child(even) { background: #fafafa; }
figure { margin: 1rem 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption, .caption { color: #555; font-size: .88rem; }
footer { margin-top: 3rem; color: #888; font-size: .8rem; }
""".strip()

_IMAGE_CHECK = """
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var ok = images.every(function (img) { return img.complete && img.naturalWidth > 0; });
  document.body.setAttribute("data-image-count", String(images.length));
  document.body.setAttribute("data-images-loaded", ok ? "true" : "false");
});
""".strip()
"""Marks <body> once every image has decoded (``data-images-loaded``): a self-check for headless viewers."""


def render_html(doc: Document) -> str:
    """One self-contained page: inline CSS, images as ``data:image/png;base64`` URIs, no external asset; every
    text through `files.html_text`."""
    esc = _html
    body = [f"<h1>{esc(doc.title)}</h1>"]
    for block in doc.blocks:
        if isinstance(block, Heading):
            level = min(max(block.level, 2), 6)
            body.append(f"<h{level}>{esc(block.text)}</h{level}>")
        elif isinstance(block, Paragraph):
            body.append(f"<p>{esc(block.text)}</p>")
        elif isinstance(block, Bullets):
            body.append("<ul>" + "".join(f"<li>{esc(i)}</li>" for i in block.items) + "</ul>")
        elif isinstance(block, Table):
            head = "".join(f"<th>{esc(h)}</th>" for h in block.header)
            rows = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in block.rows)
            caption = f'<p class="caption">{esc(block.caption)}</p>' if block.caption else ""
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>{caption}")
        elif isinstance(block, Image):
            data = base64.b64encode(Path(block.path).read_bytes()).decode("ascii")
            caption = f"<figcaption>{esc(block.caption)}</figcaption>" if block.caption else ""
            body.append(f'<figure><img src="data:image/png;base64,{data}" alt="{esc(block.alt)}">{caption}</figure>')
    body.append(f"<footer>Written by s2sbench-hf {esc(__version__)}.</footer>")
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(doc.title)}</title>\n<style>\n{_CSS}\n</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + f"\n<script>\n{_IMAGE_CHECK}\n</script>\n</body>\n</html>\n"
    )


_NUMERIC = re.compile(r"^[-+]?(\d|\.\d)")


def _cell(value: Text) -> str:
    """A table cell: numbers right-aligned (the CSS default), words (and every `Quote`) left-aligned."""
    numeric = isinstance(value, str) and (_NUMERIC.match(value) or value in ("", "-"))
    css = "" if numeric else ' class="text"'
    return f"<td{css}>{_html(value)}</td>"


def _quoted(template: str, *values: Any) -> tuple[str | Quote, ...]:
    """``template`` (the report's words) with each ``{}`` replaced by the next value, read from a file, as a `Quote`."""
    first, *pieces = template.split("{}")
    return (first, *(part for value, piece in zip(values, pieces, strict=True) for part in (Quote(str(value)), piece)))


def _join(texts: Iterable[Text], separator: str) -> tuple[str | Quote, ...]:
    """``separator.join`` for texts that may hold quotes."""
    joined: list[str | Quote] = []
    for i, text in enumerate(texts):
        joined += [separator, *_parts(text)] if i else _parts(text)
    return tuple(joined)


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
    return _join(parts, " ")


def _identity(res: Mapping[str, Any]) -> Text:
    """The model as a results file names it: id, adapter, dtype, revision (or content hash), each a `Quote`."""
    model = res.get("model", {})
    bits = [_quoted("{}", model.get("model_id", "?"))]
    bits += [_quoted(f"{key} {{}}", model[key]) for key in ("adapter", "dtype") if model.get(key)]
    if model.get("revision"):
        bits.append(_quoted("revision {}", model["revision"]))
    elif model.get("content_hash"):
        bits.append(_quoted("content {}", model["content_hash"]))
    return _join(bits, ", ")


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
    return (*_join(parts, "; "), ".")


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
