"""The ranked board of S2SBench submissions: re-validated, ranked, written as markdown and static HTML.

Source: a local folder holding ``submissions/**/results.json`` (the layout
``s2sbench submit`` creates, `hub.submission_folder`), or a Hub results dataset
id, downloaded with ``snapshot_download(repo_type="dataset")``.

Every submission is validated again (`validate.validate_run`: schema,
completeness against the dataset, metrics recomputed from the samples, dataset
fingerprint); one that fails is shown with its reasons and not ranked.

**Ranking.** The default is ``audio_accuracy``: the pairwise accuracy with the
spoken context, averaged over the submission's tasks (unweighted, as the paper
averages), higher first. The gap alone is not a good default: a model at chance
in both settings has no gap at all. ``--sort-by`` takes ``text_accuracy``,
``audio_accuracy``, ``gap`` or ``relative_gap`` (lower first for both), or a
per-task ``<task>:<metric>`` such as ``scmmlu:gap``. The overall relative gap is
the overall gap over (overall text accuracy - chance), like a task's. Missing
values sort last. Submissions over different task subsets or item limits are
not directly comparable: the ``tasks`` and ``notes`` columns say so.

The HTML page (`render_html`) is one self-contained file: the table (click a
header to sort; the page also honours ``#sort=<column key>``, which clicks that
header on load), intervals as small text and tooltips, the text-vs-audio scatter
plot as an embedded PNG, and the failed submissions. The Gradio Space
(``leaderboard/app.py``) shows `board_table`, the same rows as the markdown.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from s2sbench_hf import hub, protocol
from s2sbench_hf.tasks import TASKS, S2SBenchError, get_task
from s2sbench_hf.validate import DatasetResolver, ValidationReport, validate_run


@dataclass(frozen=True)
class Metric:
    label: str
    higher_is_better: bool
    kind: str = "accuracy"
    """``accuracy`` (shown in %), ``gap`` (percentage points) or ``relative`` (%, no decimals)."""


METRICS: dict[str, Metric] = {
    "text_accuracy": Metric("text acc. %", True),
    "audio_accuracy": Metric("audio acc. %", True),
    "gap": Metric("gap pp", False, "gap"),
    "relative_gap": Metric("relative gap", False, "relative"),
}
DEFAULT_SORT = "audio_accuracy"
PER_TASK_METRICS = ("text_accuracy", "audio_accuracy", "gap")
"""The per-task columns of the board (each task's relative gap is in its gap cell's tooltip)."""


class LeaderboardError(S2SBenchError, ValueError):
    pass


def parse_sort_key(key: str) -> tuple[str | None, str]:
    """``audio_accuracy`` -> (None, metric); ``scmmlu:gap`` -> (task, metric). Raises with the valid choices."""
    task, _, metric = key.rpartition(":")
    if metric not in METRICS or (task and task not in TASKS):
        choices = ", ".join(METRICS) + "; or <task>:<metric> with a task of " + ", ".join(TASKS)
        raise LeaderboardError(f"cannot sort by {key!r}. Choose one of {choices}.")
    return (task or None), metric


# ---------------------------------------------------------------------------- entries


@dataclass
class Submission:
    """One ``results.json`` found in the source, with its validation report."""

    path: str
    """The submission folder, relative to the source."""
    report: ValidationReport
    rank: int | None = None

    @property
    def results(self) -> dict:
        return self.report.results if isinstance(self.report.results, dict) else {}

    @property
    def valid(self) -> bool:
        return self.report.valid

    @property
    def model(self) -> dict:
        model = self.results.get("model")
        return model if isinstance(model, dict) else {}

    @property
    def name(self) -> str:
        return hub.display_name(self.model) if self.model.get("model_id") else self.path

    @property
    def revision(self) -> str:
        return str(self.model.get("revision") or self.model.get("content_hash") or "-")

    @property
    def params(self) -> int | None:
        for key in ("num_parameters", "n_parameters", "params"):
            value = self.model.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
                return int(value)
        return None

    @property
    def tasks(self) -> list[str]:
        return [t for t in TASKS if (self.results.get("results") or {}).get(t, {}).get("n_items")]

    def task_metrics(self, task_id: str) -> dict:
        return (self.results.get("results") or {}).get(task_id) or {}

    def value(self, key: str) -> float | None:
        task, metric = parse_sort_key(key)
        if task is not None:
            m = self.task_metrics(task)
            if not m.get("n_items"):
                return None
            if metric.endswith("_accuracy"):
                entry = m.get("settings", {}).get(metric.removesuffix("_accuracy"))
                return entry.get("accuracy") if entry else None
            return (m.get("degradation") or {}).get(metric)
        overall = self.results.get("overall") or {}
        if metric.endswith("_accuracy"):
            return (overall.get("settings") or {}).get(metric.removesuffix("_accuracy"), {}).get("accuracy")
        if metric == "gap":
            return (overall.get("degradation") or {}).get("gap")
        if "relative_gap" in (overall.get("degradation") or {}):
            return overall["degradation"]["relative_gap"]
        text, audio = self.value("text_accuracy"), self.value("audio_accuracy")
        if text is None or audio is None or not self.tasks:
            return None
        chance = sum(get_task(t).chance for t in self.tasks) / len(self.tasks)
        return protocol.relative_gap(text, audio, chance)

    def interval(self, key: str) -> tuple[float, float] | None:
        task, metric = parse_sort_key(key)
        if task is None:
            return None
        m = self.task_metrics(task)
        if metric.endswith("_accuracy"):
            ci = (m.get("settings", {}).get(metric.removesuffix("_accuracy")) or {}).get("accuracy_ci")
        else:
            ci = (m.get("degradation") or {}).get(f"{metric}_ci")
        return (ci[0], ci[1]) if ci and len(ci) == 2 else None

    @property
    def notes(self) -> str:
        notes = []
        if self.results.get("config") and self.results.get("results"):
            try:
                found = hub.protocol_notes(self.results)
            except (KeyError, TypeError, AttributeError):
                found = None
            if found:
                notes.append(found)
        failed = sum((self.task_metrics(t).get("n_failed") or 0) for t in self.tasks)
        if failed:
            notes.append(f"{failed} item(s) failed to score")
        return "; ".join(notes)


@dataclass
class Board:
    source: str
    sort_by: str
    ranked: list[Submission] = field(default_factory=list)
    invalid: list[Submission] = field(default_factory=list)

    @property
    def tasks(self) -> list[str]:
        present = {t for s in self.ranked for t in s.tasks}
        return [t for t in TASKS if t in present]


def resolve_source(source: str, *, revision: str | None = None, token: str | None = None) -> Path:
    """A local folder as is; a Hub results dataset id is downloaded (only its ``submissions/``)."""
    path = Path(source).expanduser()
    if path.exists():
        if not path.is_dir():
            raise LeaderboardError(f"{source!r} is a file; give the folder that holds submissions/.")
        return path
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", source):
        raise LeaderboardError(f"{source!r} is neither a local folder nor a Hub dataset id (ORG/NAME).")
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(repo_id=source, repo_type="dataset", revision=revision, token=token,
                                  allow_patterns=[f"{hub.SUBMISSIONS_DIR}/**"]))


def find_submissions(root: str | os.PathLike) -> list[Path]:
    """Every ``results.json`` under ``root/submissions`` (or under ``root`` when it has no such folder)."""
    root = Path(root)
    base = root / hub.SUBMISSIONS_DIR if (root / hub.SUBMISSIONS_DIR).is_dir() else root
    return sorted(base.rglob("results.json"))


def build_board(
    source: str | os.PathLike,
    *,
    sort_by: str = DEFAULT_SORT,
    revision: str | None = None,
    token: str | None = None,
    resolver: DatasetResolver | None = None,
) -> Board:
    """Find, re-validate and rank every submission of ``source`` (folder or Hub results dataset)."""
    parse_sort_key(sort_by)
    root = resolve_source(str(source), revision=revision, token=token)
    resolver = resolver or DatasetResolver()
    board = Board(source=str(source), sort_by=sort_by)
    for path in find_submissions(root):
        folder = path.parent.relative_to(root).as_posix() or "."
        sub = Submission(folder, validate_run(path, resolver=resolver))
        (board.ranked if sub.valid else board.invalid).append(sub)
    board.invalid.sort(key=lambda s: s.path)
    return rank_board(board, sort_by)


def rank_board(board: Board, sort_by: str) -> Board:
    """Rank the valid submissions by ``sort_by`` (in place; no re-validation) and return the board."""
    metric = parse_sort_key(sort_by)[1]
    descending = METRICS[metric].higher_is_better

    def key(sub: Submission) -> tuple:
        value = sub.value(sort_by)
        return (value is None, 0.0 if value is None else (-value if descending else value), sub.name, sub.revision)

    board.sort_by = sort_by
    board.ranked.sort(key=key)
    for rank, sub in enumerate(board.ranked, start=1):
        sub.rank = rank
    return board


def sort_choices() -> list[str]:
    """Every valid ``--sort-by`` value."""
    return list(METRICS) + [f"{t}:{m}" for t in TASKS for m in METRICS]


# ------------------------------------------------------------------------ formatting


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: str = "num"
    """``num`` or ``text``: how the page's script compares the column."""
    order: str = "desc"
    """The direction of a first click: ``desc`` (higher first) or ``asc``."""
    metric: str | None = None


def columns(board: Board) -> list[Column]:
    """The board's columns, in order; ``key`` is what ``#sort=`` and ``--sort-by`` name."""
    out = [
        Column("rank", "#", "num", "asc"),
        Column("model", "model", "text", "asc"),
        Column("revision", "revision", "text", "asc"),
        Column("params", "params", "num", "desc"),
        Column("tasks", "tasks", "num", "desc"),
    ]
    for key, metric in METRICS.items():
        out.append(Column(key, f"avg {metric.label}", "num", "desc" if metric.higher_is_better else "asc", key))
    for task in board.tasks:
        for name in PER_TASK_METRICS:
            metric = METRICS[name]
            out.append(Column(f"{task}:{name}", f"{task} {metric.label}", "num",
                              "desc" if metric.higher_is_better else "asc", name))
    out.append(Column("notes", "notes", "text", "asc"))
    return out


def format_value(value: float | None, metric: str) -> str:
    if value is None:
        return "-"
    kind = METRICS[metric].kind
    if kind == "gap":
        return f"{100 * value:+.1f}"
    if kind == "relative":
        return f"{100 * value:.0f}%"
    return f"{100 * value:.1f}"


def format_params(n: int | None) -> str:
    if not n:
        return "-"
    for unit, size in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)


def short_revision(revision: str) -> str:
    """A commit's first 12 hex digits; a content hash without its ``sha256-...:`` prefix."""
    return revision.rsplit(":", 1)[-1][:12]


def _interval_text(ci: tuple[float, float] | None, metric: str) -> str:
    if ci is None:
        return ""
    lo, hi = (format_value(v, metric) for v in ci)
    return f"[{lo}, {hi}]"


def _cell(sub: Submission, col: Column) -> tuple[Any, str, str]:
    """(sort value, display text, interval text) of one cell."""
    if col.key == "rank":
        return sub.rank, str(sub.rank), ""
    if col.key == "model":
        return sub.name, sub.name, ""
    if col.key == "revision":
        return sub.revision, short_revision(sub.revision), ""
    if col.key == "params":
        return sub.params, format_params(sub.params), ""
    if col.key == "tasks":
        return len(sub.tasks), f"{len(sub.tasks)}/{len(TASKS)}", ""
    if col.key == "notes":
        return sub.notes, sub.notes or "", ""
    value = sub.value(col.key)
    return value, format_value(value, col.metric), _interval_text(sub.interval(col.key), col.metric)


def board_table(board: Board, *, intervals: bool = True) -> tuple[list[str], list[list[str]]]:
    """Headers and display rows of the ranked submissions (markdown, Gradio)."""
    cols = columns(board)
    rows = []
    for sub in board.ranked:
        row = []
        for col in cols:
            _, text, ci = _cell(sub, col)
            row.append(f"{text} {ci}" if intervals and ci else text)
        rows.append(row)
    return [c.label for c in cols], rows


def invalid_table(board: Board) -> tuple[list[str], list[list[str]]]:
    """Headers and rows of the submissions that failed validation, with their reasons."""
    rows = []
    for s in board.invalid:
        problems = s.report.problems
        why = " | ".join(str(p) for p in problems[:5]) + (" | ..." if len(problems) > 5 else "")
        rows.append([s.name, s.path, f"{len(problems)} problem(s): {why}"])
    return ["model", "submission", "why it failed validation"], rows


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(board: Board, *, image: str | None = "scatter.png") -> str:
    headers, rows = board_table(board)
    metric = parse_sort_key(board.sort_by)[1]
    lines = [
        "# S2SBench leaderboard",
        "",
        f"Source: `{board.source}`. {len(board.ranked)} valid submission(s), ranked by "
        f"**{board.sort_by}** ({'higher' if METRICS[metric].higher_is_better else 'lower'} first); "
        f"{len(board.invalid)} failed validation. Accuracies are pairwise accuracies in %, the gap is text minus "
        "audio in percentage points; per-task cells give the 95% paired-bootstrap interval in brackets.",
        "",
        "| " + " | ".join(headers) + " |",
        "|" + "---|" * len(headers),
    ]
    lines += ["| " + " | ".join(_md_escape(c) for c in row) + " |" for row in rows]
    if image:
        lines += ["", f"![text vs audio accuracy]({image})"]
    if board.invalid:
        headers, rows = invalid_table(board)
        lines += ["", "## Failed validation (not ranked)", "", "| " + " | ".join(headers) + " |",
                  "|" + "---|" * len(headers)]
        lines += ["| ⚠ " + " | ".join(_md_escape(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def scatter_png(board: Board) -> bytes:
    """Text (x) vs audio (y) accuracy, %, one labelled point per ranked submission, with y = x and chance."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = [(s.name, s.value("text_accuracy"), s.value("audio_accuracy")) for s in board.ranked]
    points = [(n, 100 * x, 100 * y) for n, x, y in points if x is not None and y is not None]
    fig, ax = plt.subplots(figsize=(6.4, 5.2), dpi=100)
    values = [v for _, x, y in points for v in (x, y)] + [50.0]
    lo, hi = max(0.0, min(values) - 5), min(100.0, max(values) + 5)
    ax.plot([lo, hi], [lo, hi], "--", color="0.5", lw=1, label="y = x (no degradation)")
    ax.axhline(50, color="0.8", lw=0.8)
    ax.axvline(50, color="0.8", lw=0.8, label="chance (50%)")
    stacked: dict[tuple[float, float], int] = {}  # labels of (nearly) coincident points go one under another
    for name, x, y in points:
        ax.scatter([x], [y], s=36, zorder=3)
        spot = (round(x), round(y))
        below = stacked.get(spot, 0)
        stacked[spot] = below + 1
        right_half = x > (lo + hi) / 2  # label towards the inside, so that it stays in the figure
        ax.annotate(name if len(name) <= 28 else name[:26] + "…", (x, y), textcoords="offset points",
                    xytext=(-5 if right_half else 5, 4 - 10 * below), ha="right" if right_half else "left",
                    fontsize=8)
    if not points:
        ax.text(0.5, 0.5, "no valid submissions", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal")
    ax.set_xlabel("text-context accuracy (%)")
    ax.set_ylabel("speech-context accuracy (%)")
    ax.set_title("S2SBench: text vs speech context (below the line = degradation)", fontsize=10)
    ax.legend(loc="upper left", fontsize=8)  # above the diagonal (audio better than text): rarely a point there
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; font-size: 14px; margin-bottom: 1.5em; }
th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: right; vertical-align: top; }
th { background: #f3f3f3; cursor: pointer; user-select: none; white-space: nowrap; }
th[aria-sort=ascending]::after { content: " \\25B2"; } th[aria-sort=descending]::after { content: " \\25BC"; }
td.text, #invalid th { text-align: left; } td small { display: block; color: #777; font-size: 11px; }
td.notes { min-width: 20em; max-width: 32em; font-size: 12px; color: #555; }
tr.invalid td { background: #fff4f4; } .marker { color: #b00; font-weight: bold; }
"""

_SCRIPT = r"""
(function () {
  var table = document.getElementById('board');
  var tbody = table.tBodies[0];
  var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
  function value(row, index, kind) {
    var cell = row.cells[index], raw = cell.getAttribute('data-value');
    if (kind === 'num') { return (raw === null || raw === '') ? null : parseFloat(raw); }
    return (raw === null ? cell.textContent : raw).toLowerCase();
  }
  function sortBy(th) {
    var index = th.cellIndex, kind = th.getAttribute('data-type'), first = th.getAttribute('data-order') || 'asc';
    var dir = first;
    if (table.getAttribute('data-sort-key') === th.getAttribute('data-key')) {
      dir = table.getAttribute('data-sort-dir') === 'asc' ? 'desc' : 'asc';
    }
    var rows = Array.prototype.slice.call(tbody.rows);
    rows.sort(function (a, b) {
      var x = value(a, index, kind), y = value(b, index, kind);
      if (x === null && y === null) { return 0; }
      if (x === null) { return 1; }
      if (y === null) { return -1; }
      var r = x < y ? -1 : (x > y ? 1 : 0);
      return dir === 'asc' ? r : -r;
    });
    rows.forEach(function (row) { tbody.appendChild(row); });
    headers.forEach(function (h) { h.removeAttribute('aria-sort'); });
    th.setAttribute('aria-sort', dir === 'asc' ? 'ascending' : 'descending');
    table.setAttribute('data-sort-key', th.getAttribute('data-key'));
    table.setAttribute('data-sort-dir', dir);
  }
  headers.forEach(function (th) { th.addEventListener('click', function () { sortBy(th); }); });
  function sortFromHash() {
    var match = /(?:^#|&)sort=([^&]+)/.exec(window.location.hash);
    if (!match) { return; }
    var key = decodeURIComponent(match[1]);
    headers.forEach(function (th) { if (th.getAttribute('data-key') === key) { th.click(); } });
  }
  function imagesLoaded() {
    var images = Array.prototype.slice.call(document.images);
    var ok = images.every(function (img) { return img.complete && img.naturalWidth > 0; });
    if (ok) { document.body.setAttribute('data-images-loaded', 'true'); }
    return ok;
  }
  sortFromHash();
  window.addEventListener('hashchange', sortFromHash);
  if (!imagesLoaded()) {
    Array.prototype.forEach.call(document.images, function (img) { img.addEventListener('load', imagesLoaded); });
    window.addEventListener('load', imagesLoaded);
  }
})();
"""


def render_html(board: Board, *, png: bytes | None = None) -> str:
    """The self-contained leaderboard page (inline CSS, inline script, the plot as a data URI)."""
    esc = html.escape
    cols = columns(board)
    metric = parse_sort_key(board.sort_by)[1]
    png = png if png is not None else scatter_png(board)
    head = "".join(
        f'<th data-key="{esc(c.key)}" data-type="{c.kind}" data-order="{c.order}" title="click to sort">'
        f"{esc(c.label)}</th>"
        for c in cols
    )
    body_rows = []
    for sub in board.ranked:
        cells = []
        for col in cols:
            value, text, ci = _cell(sub, col)
            data = "" if value is None else (repr(float(value)) if col.kind == "num" else str(value))
            css = ' class="text"' if col.kind == "text" else ""
            css = ' class="text notes"' if col.key == "notes" else css
            title = f' title="{esc(sub.revision)}"' if col.key == "revision" else ""
            if ci:
                n = sub.task_metrics(col.key.split(":")[0]).get("n_items")
                title = f' title="95% CI {esc(ci)} (paired bootstrap over {n} items)"'
            small = f"<small>{esc(ci)}</small>" if ci else ""
            cells.append(f'<td{css} data-value="{esc(data)}"{title}>{esc(text)}{small}</td>')
        body_rows.append(f'<tr data-model="{esc(sub.name)}" data-path="{esc(sub.path)}">' + "".join(cells) + "</tr>")
    invalid_rows = []
    for sub in board.invalid:
        reasons = "".join(f"<li>{esc(str(p))}</li>" for p in sub.report.problems[:20])
        if len(sub.report.problems) > 20:
            reasons += f"<li>... and {len(sub.report.problems) - 20} more</li>"
        invalid_rows.append(
            f'<tr class="invalid" data-model="{esc(sub.name)}" data-path="{esc(sub.path)}">'
            '<td class="text"><span class="marker" title="failed validation">&#9888; failed validation</span></td>'
            f'<td class="text">{esc(sub.name)}</td>'
            f'<td class="text">{esc(sub.path)}</td><td class="text"><ul>{reasons}</ul></td></tr>'
        )
    invalid = ""
    if invalid_rows:
        invalid = (
            f"<h2>Failed validation ({len(invalid_rows)}, not ranked)</h2>"
            '<table id="invalid"><thead><tr><th>status</th><th>model</th><th>submission</th><th>reasons</th></tr>'
            "</thead><tbody>" + "".join(invalid_rows) + "</tbody></table>"
        )
    direction = "higher" if METRICS[metric].higher_is_better else "lower"
    failed_note = " (listed below, not ranked)" if board.invalid else ""
    image = base64.b64encode(png).decode("ascii")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>S2SBench leaderboard</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_STYLE}</style></head>
<body>
<h1>S2SBench leaderboard</h1>
<p>How much does a speech LLM lose when it hears the context instead of reading it? Source:
<code>{esc(board.source)}</code>. <strong>{len(board.ranked)}</strong> valid submission(s), ranked by
<strong>{esc(board.sort_by)}</strong> ({direction} first); {len(board.invalid)} failed validation{failed_note}.
Pairwise accuracy in % (chance 50%); the gap is text minus audio accuracy in percentage points; per-task
cells show the 95% paired-bootstrap interval. Click a column header to sort.</p>
<table id="board" data-ranked-by="{esc(board.sort_by)}"><thead><tr>{head}</tr></thead>
<tbody>{"".join(body_rows)}</tbody></table>
<h2>Text vs speech context</h2>
<img id="scatter" alt="scatter plot of text vs audio accuracy, one point per submission"
 src="data:image/png;base64,{image}">
{invalid}
<p><small>Generated by s2sbench-hf. Every submission was re-validated: schema, one record per item, setting and
continuation, metrics recomputed from the per-item records, dataset fingerprints.</small></p>
<script>{_SCRIPT}</script>
</body></html>
"""


def write_board(board: Board, output: str | os.PathLike) -> dict[str, Path]:
    """Write ``leaderboard.md``, ``index.html``, ``scatter.png`` and ``leaderboard.json`` into ``output``."""
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    png = scatter_png(board)
    paths = {
        "markdown": output / "leaderboard.md",
        "html": output / "index.html",
        "png": output / "scatter.png",
        "json": output / "leaderboard.json",
    }
    paths["png"].write_bytes(png)
    paths["markdown"].write_text(render_markdown(board, image="scatter.png"), encoding="utf-8")
    paths["html"].write_text(render_html(board, png=png), encoding="utf-8")
    paths["json"].write_text(json.dumps(board_json(board), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return paths


def board_json(board: Board) -> dict:
    """The board as data: ranked rows (raw values) and the failed submissions with their problems."""
    cols = columns(board)
    return {
        "source": board.source,
        "sort_by": board.sort_by,
        "columns": [c.key for c in cols],
        "ranked": [{c.key: _cell(s, c)[0] for c in cols} | {"path": s.path} for s in board.ranked],
        "invalid": [{"path": s.path, "model": s.name, **s.report.to_dict()} for s in board.invalid],
    }


def summary(board: Board, paths: Sequence[Path] = ()) -> str:
    metric = parse_sort_key(board.sort_by)[1]
    lines = [f"{len(board.ranked)} valid submission(s) ranked by {board.sort_by}; "
             f"{len(board.invalid)} failed validation."]
    lines += [f"  {s.rank}. {s.name} @ {short_revision(s.revision)}  {format_value(s.value(board.sort_by), metric)}"
              for s in board.ranked]
    for s in board.invalid:
        lines.append(f"  FAILED {s.path}: " + "; ".join(str(p) for p in s.report.problems[:3])
                     + (" ..." if len(s.report.problems) > 3 else ""))
    lines += [f"wrote {p}" for p in paths]
    return "\n".join(lines)
