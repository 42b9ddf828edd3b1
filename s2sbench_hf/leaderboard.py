"""The ranked board of S2SBench submissions: re-validated, recomputed, ranked, written as markdown and static HTML.

Source: a local folder holding ``submissions/**/results.json`` (the layout
``s2sbench submit`` creates, `hub.submission_folder`), or a Hub results dataset
id, downloaded with ``snapshot_download(repo_type="dataset")``. Folders are
walked without following symbolic links, and a submission's files are read as
regular files only (`validate.read_submission_file`; a Hub snapshot's links
into its own cache folder are the one exception).

Every submission is validated again (`validate.validate_run`) and every number
the board shows is the one **recomputed** from its samples and config
(`ValidationReport.recomputed`), never the one ``results.json`` claims. Three
lists come out:

* **ranked**: valid, every task on a dataset this board accepts
  (`AcceptedDataset`; by default the official release `OFFICIAL_DATASET`, any
  revision; pin one with ``--accept ID@REVISION``), and no item error that the
  dataset does not explain. The ``failed`` column counts the items that were
  not scored (the dataset made them unscorable);
* **other**: valid, but on other data (a dataset the board does not accept is
  not even loaded) or with unexplained item errors: listed apart with the
  reason, never ranked;
* **invalid**: failed validation, listed with the reasons.

**Ranking.** The default is ``audio_accuracy``: the pairwise accuracy with the
spoken context, averaged over the submission's tasks (unweighted, as the paper
averages), higher first. The gap alone is not a good default: a model at chance
in both settings has no gap at all. ``--sort-by`` takes ``<setting>_accuracy``
for any setting (``text_accuracy``, ``audio_accuracy``, ``text_to_speech_accuracy``,
``speech_to_speech_accuracy``), ``gap`` or ``relative_gap`` (lower first for both;
the paper's text:audio gap, or another pair as ``gap@text:speech_to_speech``:
a submission has the gap its run reported, ``config.gap``), or a per-task
``<task>:<metric>`` such as ``scmmlu:gap``. The overall relative gap is the
overall gap over (overall accuracy of the gap's first setting - chance), like a
task's. Missing values sort last. Columns: the paper's two settings and gap
always, any other setting or gap where a submission has it. Submissions over
different task subsets or item limits are not directly comparable: the
``tasks`` and ``notes`` columns say so.

**Output.** `board_table` and `invalid_table` return plain text (shown as text
by the Gradio Space, ``leaderboard/app.py``). `render_markdown` escapes every
text that comes from a submission for markdown and HTML (`md_text`: no link,
image, emphasis, HTML or line break can come from a submission);
`render_html` escapes everything. The HTML page (`render_html`) is one
self-contained file: the table (click a header to sort; the page also honours
``#sort=<column key>``, which clicks that header on load), intervals as small
text and tooltips, the text-vs-audio scatter plot as an embedded PNG, the
unranked and the failed submissions.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from s2sbench_hf import hub
from s2sbench_hf.data.loaded import SAMPLES_SOURCE
from s2sbench_hf.hub_repo import hub_id_problem
from s2sbench_hf.results import DatasetInfo
from s2sbench_hf.tasks import DEFAULT_GAP, DEFAULT_SETTINGS, GAP_PAIRS, SETTINGS, TASKS, S2SBenchError
from s2sbench_hf.validate import DatasetResolver, ValidationReport, validate_run


@dataclass(frozen=True)
class Metric:
    label: str
    higher_is_better: bool
    kind: str = "accuracy"
    """``accuracy`` (shown in %), ``gap`` (percentage points) or ``relative`` (%, no decimals)."""


METRICS: dict[str, Metric] = {
    **{f"{s}_accuracy": Metric(f"{s} acc. %", True) for s in SETTINGS},
    "gap": Metric("gap pp", False, "gap"),
    "relative_gap": Metric("relative gap", False, "relative"),
}
"""The metrics by name; ``gap`` and ``relative_gap`` take a settings pair (`metric_key`)."""
GAP_METRICS = ("gap", "relative_gap")
DEFAULT_SORT = "audio_accuracy"


def metric_key(metric: str, pair: str | None = None, task: str | None = None) -> str:
    """A sort key and column key: ``[<task>:]<metric>[@<A:B>]``, the pair left out for the paper's text:audio."""
    suffix = f"@{pair}" if metric in GAP_METRICS and pair not in (None, DEFAULT_GAP) else ""
    return f"{task}:{metric}{suffix}" if task else f"{metric}{suffix}"


OFFICIAL_DATASET = "undobug/S2SBench"
"""The official S2SBench release on the Hub: the one dataset a board ranks by default."""


class LeaderboardError(S2SBenchError, ValueError):
    pass


def parse_sort_key(key: str) -> tuple[str | None, str, str | None]:
    """``audio_accuracy`` -> (None, metric, None); ``scmmlu:gap`` -> (task, "gap", "text:audio");
    ``gap@text:speech_to_speech`` -> (None, "gap", that pair). Raises with the valid choices."""
    head, at, given_pair = key.partition("@")
    task, _, metric = head.rpartition(":")
    pair = (given_pair if at else DEFAULT_GAP) if metric in GAP_METRICS else (None if not at else "")
    if metric not in METRICS or (task and task not in TASKS) or (pair is not None and pair not in GAP_PAIRS):
        choices = (
            ", ".join(METRICS) + "; gap and relative_gap of another pair as gap@A:B (e.g. "
            "gap@text:speech_to_speech); or <task>:<metric> with a task of " + ", ".join(TASKS)
        )
        raise LeaderboardError(f"cannot sort by {key!r}. Choose one of {choices}.")
    return (task or None), metric, pair


# ----------------------------------------------------------------- accepted datasets


@dataclass(frozen=True)
class AcceptedDataset:
    """A dataset whose runs a board ranks: a Hub id (or ``samples``), optionally pinned.

    ``revision`` pins the dataset revision the runs must name (None: any); the
    optional ``fingerprints`` (task -> fingerprint) pin the data itself. The
    board loads these datasets, and only these, to check submissions against.
    """

    id: str
    revision: str | None = None
    fingerprints: Mapping[str, str] | None = field(default=None, compare=False)

    @classmethod
    def parse(cls, spec: str) -> AcceptedDataset:
        """``ORG/NAME``, ``ORG/NAME@REVISION`` or ``samples``."""
        dataset_id, _, revision = spec.partition("@")
        if dataset_id != SAMPLES_SOURCE and hub_id_problem(dataset_id):
            raise LeaderboardError(f"cannot accept {spec!r}: {hub_id_problem(dataset_id)}.")
        if revision and hub.revision_problem(revision):
            raise LeaderboardError(f"cannot accept {spec!r}: {hub.revision_problem(revision)}.")
        return cls(dataset_id, revision or None)

    def loads(self, source: str, revision: str | None) -> bool:
        """Whether the board loads this dataset (source and revision) to check runs against."""
        return source == self.id and (self.revision is None or revision == self.revision)

    def accepts(self, task_id: str, info: DatasetInfo) -> bool:
        """Whether a task run on ``info`` (a submission's ``datasets.<task>``) is on this dataset."""
        pinned = self.fingerprints.get(task_id) if self.fingerprints else None
        return self.loads(info.source, info.revision) and (pinned is None or pinned == info.fingerprint)

    def __str__(self) -> str:
        return self.id + (f"@{self.revision}" if self.revision else "")


DEFAULT_ACCEPTED = (AcceptedDataset(OFFICIAL_DATASET),)


# ---------------------------------------------------------------------------- entries


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def plain(text: str) -> str:
    """One line of text: control characters (line breaks, terminal escapes, bidi overrides) become spaces."""
    return _CONTROL.sub(" ", text)


def _short(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class Submission:
    """One ``results.json`` found in the source, with its validation report; numbers are the recomputed ones."""

    path: str
    """The submission folder, relative to the source."""
    report: ValidationReport
    rank: int | None = None
    reasons: list[str] = field(default_factory=list)
    """Why a valid submission is not ranked (other data, unexplained item errors); empty when ranked."""

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
        return _short(hub.display_name(self.model)) if self.model.get("model_id") else _short(self.path)

    @property
    def revision(self) -> str:
        return _short(str(self.model.get("revision") or self.model.get("content_hash") or "-"))

    @property
    def params(self) -> int | None:
        parsed = self.report.parsed
        return parsed.model.num_parameters or None if parsed is not None else None

    @property
    def tasks(self) -> list[str]:
        return [t for t in TASKS if self.task_metrics(t).get("n_items")]

    @property
    def failed(self) -> int:
        """Items of the submission's tasks that were not scored (recomputed ``n_failed``)."""
        return sum(m.get("n_failed", 0) for m in self.report.recomputed.values())

    def task_metrics(self, task_id: str) -> dict:
        """The task's metrics as recomputed from the samples."""
        return self.report.recomputed.get(task_id) or {}

    @property
    def settings(self) -> list[str]:
        parsed = self.report.parsed
        return list(parsed.config.settings) if parsed is not None else []

    @property
    def gap(self) -> str | None:
        """The settings pair of the submission's gap (``config.gap``)."""
        parsed = self.report.parsed
        return parsed.config.gap if parsed is not None else None

    def value(self, key: str) -> float | None:
        task, metric, pair = parse_sort_key(key)
        if pair is not None and pair != self.gap:
            return None  # the submission reported the gap of another pair
        if task is not None:
            m = self.task_metrics(task)
            if not m.get("n_items"):
                return None
            if pair is None:
                entry = m.get("settings", {}).get(metric.removesuffix("_accuracy"))
                return entry.get("accuracy") if entry else None
            return (m.get("degradation") or {}).get(metric)
        overall = self.report.overall or {}
        if pair is None:
            return (overall.get("settings") or {}).get(metric.removesuffix("_accuracy"), {}).get("accuracy")
        return (overall.get("degradation") or {}).get(metric)

    def interval(self, key: str) -> tuple[float, float] | None:
        task, metric, pair = parse_sort_key(key)
        if task is None or (pair is not None and pair != self.gap):
            return None
        m = self.task_metrics(task)
        if pair is None:
            ci = (m.get("settings", {}).get(metric.removesuffix("_accuracy")) or {}).get("accuracy_ci")
        else:
            ci = (m.get("degradation") or {}).get(f"{metric}_ci")
        return (ci[0], ci[1]) if ci and len(ci) == 2 else None

    @property
    def notes(self) -> str:
        notes = list(self.reasons)
        if self.report.parsed is not None:
            found = hub.protocol_notes(self.results)
            if found:
                notes.append(found)
        return "; ".join(notes)


@dataclass
class Board:
    source: str
    sort_by: str
    ranked: list[Submission] = field(default_factory=list)
    other: list[Submission] = field(default_factory=list)
    """Valid submissions kept off the ranking (other data, unexplained item errors), with their reasons."""
    invalid: list[Submission] = field(default_factory=list)
    accepted: tuple[AcceptedDataset, ...] = DEFAULT_ACCEPTED

    @property
    def tasks(self) -> list[str]:
        present = {t for s in self.ranked + self.other for t in s.tasks}
        return [t for t in TASKS if t in present]

    @property
    def settings(self) -> list[str]:
        """The paper's two settings, and any other a listed submission scored, in `tasks.SETTINGS` order."""
        present = {*DEFAULT_SETTINGS, *(x for s in self.ranked + self.other for x in s.settings)}
        return [s for s in SETTINGS if s in present]

    @property
    def gaps(self) -> list[str]:
        """The paper's text:audio gap, and any other pair a listed submission reported."""
        present = {s.gap for s in self.ranked + self.other} - {None, DEFAULT_GAP}
        return [DEFAULT_GAP, *(pair for pair in GAP_PAIRS if pair in present)]


def resolve_source(source: str, *, revision: str | None = None, token: str | None = None) -> tuple[Path, Path | None]:
    """(folder, link root): a local folder as is; a Hub results dataset id is downloaded (only ``submissions/``).

    The link root of a Hub snapshot is its repo cache folder: its files are
    links into that folder's ``blobs/``, the only links a board follows.
    """
    path = Path(source).expanduser()
    if path.exists():
        if not path.is_dir():
            raise LeaderboardError(f"{source!r} is a file; give the folder that holds submissions/.")
        return path, None
    if hub_id_problem(source):
        raise LeaderboardError(f"{source!r} is neither a local folder nor a Hub dataset id (ORG/NAME).")
    from huggingface_hub import snapshot_download

    snapshot = Path(
        snapshot_download(
            repo_id=source,
            repo_type="dataset",
            revision=revision,
            token=token,
            allow_patterns=[f"{hub.SUBMISSIONS_DIR}/**"],
        )
    )
    return snapshot, snapshot.parents[1]


def find_submissions(root: str | os.PathLike) -> list[Path]:
    """Every ``results.json`` under ``root/submissions`` (or under ``root`` when it has no such folder).

    The walk never enters a symbolic link to a folder; such a link is returned
    itself (`build_board` lists it as invalid).
    """
    root = Path(root)
    base = root / hub.SUBMISSIONS_DIR if (root / hub.SUBMISSIONS_DIR).is_dir() else root
    found = []
    for folder, dirs, files in os.walk(base):  # followlinks=False
        found += [Path(folder) / d for d in dirs if (Path(folder) / d).is_symlink()]
        if "results.json" in files:
            found.append(Path(folder) / "results.json")
    return sorted(found)


def build_board(
    source: str | os.PathLike,
    *,
    sort_by: str = DEFAULT_SORT,
    revision: str | None = None,
    token: str | None = None,
    resolver: DatasetResolver | None = None,
    accepted: Iterable[AcceptedDataset | str] = DEFAULT_ACCEPTED,
) -> Board:
    """Find, re-validate, place and rank every submission of ``source`` (folder or Hub results dataset).

    ``accepted``: the datasets whose runs are ranked (`AcceptedDataset` or
    ``ID[@REVISION]``); the default is the official release.
    """
    parse_sort_key(sort_by)
    datasets = tuple(a if isinstance(a, AcceptedDataset) else AcceptedDataset.parse(a) for a in accepted)
    root, link_root = resolve_source(str(source), revision=revision, token=token)
    resolver = resolver or DatasetResolver(may_load=lambda s, r: any(a.loads(s, r) for a in datasets))
    board = Board(source=str(source), sort_by=sort_by, accepted=datasets)
    for path in find_submissions(root):
        if path.is_symlink() and path.is_dir():
            folder = path.relative_to(root).as_posix()
            report = ValidationReport(path=path)
            report.add(
                "unsafe_file", "the submission folder is a symbolic link; folders are read without following links."
            )
        else:
            folder = path.parent.relative_to(root).as_posix() or "."
            report = validate_run(path, resolver=resolver, link_root=link_root)
        sub = Submission(folder, report)
        if not sub.valid:
            board.invalid.append(sub)
            continue
        sub.reasons = reasons_not_ranked(sub, datasets)
        (board.other if sub.reasons else board.ranked).append(sub)
    board.invalid.sort(key=lambda s: s.path)
    return rank_board(board, sort_by)


def reasons_not_ranked(sub: Submission, accepted: Sequence[AcceptedDataset]) -> list[str]:
    """Why a valid submission stays off the ranking: other data, item errors the dataset does not explain."""
    parsed = sub.report.parsed
    if parsed is None:
        raise ValueError(f"submission {sub.path!r} failed validation: only a valid one is ranked or not")
    reasons = []
    other = sorted(
        {
            f"{info.source}" + (f"@{info.revision}" if info.revision else "")
            for task, info in parsed.datasets.items()
            if not any(a.accepts(task, info) for a in accepted)
        }
    )
    if other:
        reasons.append(
            f"other data: {', '.join(other)} (this board ranks runs on "
            f"{', '.join(str(a) for a in accepted) or 'no dataset'})"
        )
    unexplained = [w for w in sub.report.warnings if w.kind == "unexplained_error"]
    if unexplained and not other:
        reasons.append(
            "item errors the dataset does not explain: " + "; ".join(f"{w.task}: {w.message}" for w in unexplained)
        )
    return reasons


def rank_board(board: Board, sort_by: str) -> Board:
    """Rank the ranked submissions by ``sort_by`` (in place; no re-validation; the others sorted alike)."""
    metric = parse_sort_key(sort_by)[1]
    descending = METRICS[metric].higher_is_better

    def key(sub: Submission) -> tuple:
        value = sub.value(sort_by)
        return (value is None, 0.0 if value is None else (-value if descending else value), sub.name, sub.revision)

    board.sort_by = sort_by
    board.ranked.sort(key=key)
    board.other.sort(key=key)
    for rank, sub in enumerate(board.ranked, start=1):
        sub.rank = rank
    return board


def sort_choices() -> list[str]:
    """Every valid ``--sort-by`` value: each metric (the gaps of every pair) overall and per task."""
    keys = [metric_key(m, pair) for m in METRICS for pair in (GAP_PAIRS if m in GAP_METRICS else [None])]
    return keys + [f"{t}:{k}" for t in TASKS for k in keys]


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
        Column("failed", "failed items", "num", "asc"),
    ]
    accuracies = [f"{s}_accuracy" for s in board.settings]
    gaps = [(m, pair) for pair in board.gaps for m in GAP_METRICS]
    for key, name, pair in [*((k, k, None) for k in accuracies), *((metric_key(m, p), m, p) for m, p in gaps)]:
        metric = METRICS[name]
        label = metric.label if pair in (None, DEFAULT_GAP) else f"{metric.label} {pair}"
        out.append(Column(key, f"avg {label}", "num", "desc" if metric.higher_is_better else "asc", name))
    for task in board.tasks:  # per task: the accuracies and the gaps (relative gaps only on average)
        for name, pair in [*((k, None) for k in accuracies), *((m, p) for m, p in gaps if m == "gap")]:
            metric = METRICS[name]
            label = metric.label if pair in (None, DEFAULT_GAP) else f"{metric.label} {pair}"
            out.append(
                Column(
                    metric_key(name, pair, task),
                    f"{task} {label}",
                    "num",
                    "desc" if metric.higher_is_better else "asc",
                    name,
                )
            )
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
        return sub.rank, "-" if sub.rank is None else str(sub.rank), ""
    if col.key == "model":
        return sub.name, sub.name, ""
    if col.key == "revision":
        return sub.revision, short_revision(sub.revision), ""
    if col.key == "params":
        return sub.params, format_params(sub.params), ""
    if col.key == "tasks":
        return len(sub.tasks), f"{len(sub.tasks)}/{len(TASKS)}", ""
    if col.key == "failed":
        return sub.failed, str(sub.failed), ""
    if col.key == "notes":
        return sub.notes, sub.notes or "", ""
    if col.metric is None:  # every column but the ones above shows a metric
        raise ValueError(f"column {col.key!r} has no metric")
    value = sub.value(col.key)
    return value, format_value(value, col.metric), _interval_text(sub.interval(col.key), col.metric)


def board_table(board: Board, *, intervals: bool = True, ranked: bool = True) -> tuple[list[str], list[list[str]]]:
    """Headers and display rows (plain text) of the ranked submissions, or with ``ranked=False`` the unranked ones."""
    cols = columns(board)
    rows = []
    for sub in board.ranked if ranked else board.other:
        row = []
        for col in cols:
            _, text, ci = _cell(sub, col)
            row.append(plain(f"{text} {ci}" if intervals and ci else text))
        rows.append(row)
    return [c.label for c in cols], rows


def invalid_table(board: Board) -> tuple[list[str], list[list[str]]]:
    """Headers and rows (plain text) of the submissions that failed validation, with their reasons."""
    rows = []
    for s in board.invalid:
        problems = s.report.problems
        why = " | ".join(str(p) for p in problems[:5]) + (" | ..." if len(problems) > 5 else "")
        rows.append([plain(s.name), plain(s.path), plain(f"{len(problems)} problem(s): {why}")])
    return ["model", "submission", "why it failed validation"], rows


_MD_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_MD_PUNCTUATION = frozenset("\\`*_{}[]()#+!|~:@=$^.")
"""What can start markdown syntax (links, images, emphasis, code, tables, autolinks: ``:`` ``@`` ``.``)."""


def md_text(text: str) -> str:
    """``text`` as literal markdown: no element (link, image, emphasis, HTML, line break) can come out of it.

    Control characters (``\\r`` and ``\\n`` included) become spaces, ``& < >``
    HTML entities, and markdown punctuation is backslash-escaped (an underscore
    between two letters or digits stays: it can neither open nor close emphasis).
    """
    text = plain(text)
    out = []
    for i, ch in enumerate(text):
        if ch in _MD_ENTITIES:
            out.append(_MD_ENTITIES[ch])
        elif ch == "_" and 0 < i < len(text) - 1 and text[i - 1].isalnum() and text[i + 1].isalnum():
            out.append(ch)
        elif ch in _MD_PUNCTUATION:
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def _md_row(cells: Sequence[str], escape: Sequence[bool]) -> str:
    return "| " + " | ".join(md_text(c) if e else c for c, e in zip(cells, escape, strict=True)) + " |"


def render_markdown(board: Board, *, image: str | None = "scatter.png") -> str:
    """``leaderboard.md``: every text from a submission goes through `md_text`; numbers are the board's own."""
    headers, rows = board_table(board)
    escape = [c.kind == "text" for c in columns(board)]
    metric = parse_sort_key(board.sort_by)[1]
    accepted = ", ".join(str(a) for a in board.accepted) or "no dataset"
    lines = [
        "# S2SBench leaderboard",
        "",
        (
            f"Source: {md_text(board.source)}. {len(board.ranked)} valid submission(s) on {md_text(accepted)}, "
            "ranked by "
            f"**{md_text(board.sort_by)}** ({'higher' if METRICS[metric].higher_is_better else 'lower'} first); "
            f"{len(board.other)} on other data or with unexplained item errors (not ranked); "
            f"{len(board.invalid)} failed "
            "validation. Every number is recomputed from the submission's samples. Accuracies are pairwise accuracies "
            "in %, the gap is text minus audio (or the pair its column names) in percentage points; per-task cells "
            "give the 95% paired-bootstrap interval in brackets; failed items are items not scored because the "
            "dataset makes them unscorable."
        ),
        "",
        "| " + " | ".join(headers) + " |",
        "|" + "---|" * len(headers),
    ]
    lines += [_md_row(row, escape) for row in rows]
    if image:
        lines += ["", f"![text vs audio accuracy]({image})"]
    if board.other:
        _, rows = board_table(board, ranked=False)
        lines += [
            "",
            "## Other data and unranked runs (not ranked)",
            "",
            "| " + " | ".join(headers) + " |",
            "|" + "---|" * len(headers),
        ]
        lines += [_md_row(row, escape) for row in rows]
    if board.invalid:
        headers, rows = invalid_table(board)
        lines += [
            "",
            "## Failed validation (not ranked)",
            "",
            "| " + " | ".join(headers) + " |",
            "|" + "---|" * len(headers),
        ]
        lines += ["| ⚠ " + _md_row(row, [True] * len(row))[2:] for row in rows]
    return "\n".join(lines) + "\n"


def scatter_png(board: Board) -> bytes:
    """Text (x) vs audio (y) accuracy, %, one labelled point per ranked submission, with y = x and chance."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    accuracies = [(s.name, s.value("text_accuracy"), s.value("audio_accuracy")) for s in board.ranked]
    points = [(n, 100 * x, 100 * y) for n, x, y in accuracies if x is not None and y is not None]
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
        ax.annotate(
            name if len(name) <= 28 else name[:26] + "…",
            (x, y),
            textcoords="offset points",
            xytext=(-5 if right_half else 5, 4 - 10 * below),
            ha="right" if right_half else "left",
            fontsize=8,
        )
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


def _html_rows(subs: Sequence[Submission], cols: Sequence[Column]) -> list[str]:
    """One escaped ``<tr>`` per submission."""
    esc = html.escape
    body_rows = []
    for sub in subs:
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
    return body_rows


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
    body_rows = _html_rows(board.ranked, cols)
    other = ""
    if board.other:
        plain_head = "".join(f"<th>{esc(c.label)}</th>" for c in cols)
        other = (
            f"<h2>Other data and unranked runs ({len(board.other)}, not ranked)</h2>"
            f'<table id="other"><thead><tr>{plain_head}</tr></thead><tbody>'
            + "".join(_html_rows(board.other, cols))
            + "</tbody></table>"
        )
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
<code>{esc(board.source)}</code>. <strong>{len(board.ranked)}</strong> valid submission(s) on
{esc(", ".join(str(a) for a in board.accepted) or "no dataset")}, ranked by
<strong>{esc(board.sort_by)}</strong> ({direction} first); {len(board.other)} on other data or with unexplained item
errors (not ranked); {len(board.invalid)} failed validation{failed_note}. Every number is recomputed from the
submission's samples. Pairwise accuracy in % (chance 50%); the gap is text minus audio accuracy (or the pair its
column names) in percentage points;
per-task cells show the 95% paired-bootstrap interval. Click a column header to sort.</p>
<table id="board" data-ranked-by="{esc(board.sort_by)}"><thead><tr>{head}</tr></thead>
<tbody>{"".join(body_rows)}</tbody></table>
<h2>Text vs speech context</h2>
<img id="scatter" alt="scatter plot of text vs audio accuracy, one point per submission"
 src="data:image/png;base64,{image}">
{other}
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
        "accepted_datasets": [str(a) for a in board.accepted],
        "ranked": [{c.key: _cell(s, c)[0] for c in cols} | {"path": s.path} for s in board.ranked],
        "other": [{c.key: _cell(s, c)[0] for c in cols} | {"path": s.path, "reasons": s.reasons} for s in board.other],
        "invalid": [{"path": s.path, "model": s.name, **s.report.to_dict()} for s in board.invalid],
    }


def summary(board: Board, paths: Sequence[Path] = ()) -> str:
    metric = parse_sort_key(board.sort_by)[1]
    lines = [
        (
            f"{len(board.ranked)} valid submission(s) ranked by {board.sort_by}; {len(board.other)} not ranked "
            f"(other data, unexplained item errors); {len(board.invalid)} failed validation."
        )
    ]
    lines += [
        plain(f"  {s.rank}. {s.name} @ {short_revision(s.revision)}  {format_value(s.value(board.sort_by), metric)}")
        for s in board.ranked
    ]
    lines += [plain(f"  NOT RANKED {s.path}: " + "; ".join(s.reasons)) for s in board.other]
    for s in board.invalid:
        lines.append(
            plain(
                f"  FAILED {s.path}: "
                + "; ".join(str(p) for p in s.report.problems[:3])
                + (" ..." if len(s.report.problems) > 3 else "")
            )
        )
    lines += [f"wrote {p}" for p in paths]
    return "\n".join(lines)
