"""The ranked board of S2SBench submissions: re-validated, recomputed, ranked, written as markdown and static HTML.

Source: a local folder holding ``submissions/**/results.json`` (the layout
``s2sbench submit`` creates, `hub.submission_folder`), or a Hub results dataset
id, downloaded with ``snapshot_download(repo_type="dataset")``. Folders are
walked without following symbolic links, and a submission's files are read as
regular files only (`validate.read_submission_file`; a Hub snapshot's links
into its own cache folder are the one exception).

Every submission is validated again (`validate.validate_run`) and every number
the board shows is the one **recomputed** from its samples and config
(`ValidationReport.recomputed`), never the one ``results.json`` claims. Each
submission lands in one of four lists (`GROUPS`, and the invalid ones):

* **ranked**: valid, every task on a dataset this board accepts
  (`AcceptedDataset`; by default the official release `OFFICIAL_DATASET`, any
  revision; pin one with ``--accept ID@REVISION``), no item error that the
  dataset does not explain, and **complete**: every task of the benchmark
  (`tasks.TASKS`), every item of the dataset (no ``--limit`` below its size).
  The ``failed`` column counts the items that were not scored (the dataset made
  them unscorable);
* **partial**: as ranked, but over a subset of the tasks or the items
  (`incomplete` says which): shown in a table of its own, never ranked, since an
  average over fewer or easier items is not comparable;
* **other**: valid, but on other data (a dataset the board does not accept is
  not even loaded) or with unexplained item errors: listed apart with the
  reason, never ranked;
* **invalid**: failed validation, listed with the reasons. A submission whose
  validation raised is listed here too, with the error: one file never takes
  the board down.

**The speech-LM table** (`SpeechLMSubmission`, ``Board.speech_lm``): the speech-LM
sets, ranked apart by their mean ``utterance`` accuracy over `SPEECH_LM_SETS`, never
mixed with S2SBench's ranking. A submission is listed in each table whose tasks it
ran (`views_of`), placed by the same rules on that table's tasks alone: a complete
row has every set of `SPEECH_LM_SETS` on accepted data (each speech-LM set's own Hub
dataset by default, `OFFICIAL_SPEECH_LM_DATASETS`); one with fewer is partial.
S2SBench's numbers of a submission are over S2SBench's tasks and settings alone
(`Submission.overall`).

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
always, any other setting or gap where a submission has it.

**Output.** Every text that comes from a submission (model id, revision, folder
name, reasons) goes through one rule: `files.plain` for the text tables
(`board_table`, `invalid_table`, shown as text by the Gradio Space,
``leaderboard/app.py``) and the printed summary; a `render.Quote` of the board's
one document (`board_document`) for ``leaderboard.md`` and the page, which
`render` escapes for each (no link, image, emphasis, HTML, row or line break
can come from a submission); `files.safe_text` for ``leaderboard.json``: a lone
surrogate or a byte that is not UTF-8 shows as its backslash escape, and never
stops a build. `write_board` renders every file before it writes any, and
writes each atomically: a build that fails leaves the last published board
whole. The HTML page (`render_html`) is one self-contained file: the table
(click a header to sort; the page also honours ``#sort=<column key>``, which
clicks that header on load), intervals as small text and tooltips, the
text-vs-audio scatter plot as an embedded PNG, the partial, unranked and failed
submissions.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from tqdm.auto import tqdm

from s2sbench_hf import hub, metrics, render
from s2sbench_hf.data.loaded import SAMPLES_SOURCE
from s2sbench_hf.failures import explain, offline_unless_hub_answers
from s2sbench_hf.files import atomic_write, plain, safe_text
from s2sbench_hf.hub_repo import hub_id_problem
from s2sbench_hf.results import DatasetInfo, RunResults
from s2sbench_hf.tasks import (
    DEFAULT_GAP,
    DEFAULT_SETTINGS,
    GAP_PAIRS,
    SALMON_SUBSETS,
    SETTINGS,
    SPEECH_LM_TASKS,
    TASKS,
    UTTERANCE,
    S2SBenchError,
)
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
ALL_METRICS: dict[str, Metric] = {**METRICS, "utterance_accuracy": Metric("utterance acc. %", True)}
"""`METRICS` and the speech-LM table's one metric (`UTTERANCE_METRIC`), which S2SBench's table never sorts by."""
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
    optional ``fingerprints`` (task -> fingerprint) pin the data itself; the
    optional ``tasks`` the tasks it is accepted for (None: any), so that the
    default speech-LM sources vouch only for their own sets. The board loads
    these datasets, and only these, to check submissions against.
    """

    id: str
    revision: str | None = None
    fingerprints: Mapping[str, str] | None = field(default=None, compare=False)
    tasks: tuple[str, ...] | None = None

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
        return (
            self.loads(info.source, info.revision)
            and (pinned is None or pinned == info.fingerprint)
            and (self.tasks is None or task_id in self.tasks)
        )

    def __str__(self) -> str:
        return self.id + (f"@{self.revision}" if self.revision else "")


SPEECH_LM_SETS = ("sstorycloze_slm", "tstorycloze_slm", "swuggy", "sblimp", "salmon")
"""The speech-LM sets the speech-LM table ranks on: a ranked row has all of them, its average is their mean utterance
accuracy. SALMon counts once, as ``salmon`` (its 8 subsets together); a ``salmon_<subset>`` run is shown in its own
column, never averaged, since its pairs are ``salmon``'s."""
SPEECH_LM_COLUMNS = SPEECH_LM_SETS + tuple(f"salmon_{subset}" for subset in SALMON_SUBSETS)
"""The tasks of the speech-LM table, one column each: `SPEECH_LM_SETS`, then SALMon's subsets. ``tsc_crossmodal`` is in
neither table: it is a continuation task (scored in S2SBench's settings) on data that is not S2SBench's."""
UTTERANCE_METRIC = "utterance_accuracy"
"""The speech-LM table's one metric: the pairwise accuracy of a run's ``utterance`` setting."""
OFFICIAL_SPEECH_LM_DATASETS = tuple(
    AcceptedDataset(repo, tasks=tuple(t for t in SPEECH_LM_COLUMNS if repo in SPEECH_LM_TASKS[t].hub_datasets))
    for repo in dict.fromkeys(repo for t in SPEECH_LM_COLUMNS for repo in SPEECH_LM_TASKS[t].hub_datasets)
)
"""The speech-LM sets' public Hub datasets (`Task.hub_datasets`), each accepted for its own sets only (docs/data.md)."""
DEFAULT_ACCEPTED = (AcceptedDataset(OFFICIAL_DATASET, tasks=tuple(TASKS)), *OFFICIAL_SPEECH_LM_DATASETS)


# ---------------------------------------------------------------------------- entries


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
    """Why a valid submission is not ranked (other data, unexplained item errors, `incomplete`); empty when ranked."""

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

    required: ClassVar[tuple[str, ...]] = tuple(TASKS)
    """The tasks of this table: a complete run has all of them (`incomplete`), and only they are shown or averaged."""

    @property
    def tasks(self) -> list[str]:
        """The tasks of `required` that the run scored, in the table's order: what this table shows of it."""
        return [t for t in self.required if self.task_metrics(t).get("n_items")]

    @property
    def failed(self) -> int:
        """Items of the table's tasks that were not scored (recomputed ``n_failed``)."""
        return sum(self.task_metrics(t).get("n_failed", 0) for t in self.tasks)

    def task_metrics(self, task_id: str) -> dict:
        """The task's metrics as recomputed from the samples."""
        return self.report.recomputed.get(task_id) or {}

    @property
    def overall(self) -> dict:
        """`metrics.overall` of the S2SBench tasks in S2SBench's settings alone: a speech-LM task the run also scored
        (utterance or continuation), or an ``utterance`` entry under an S2SBench task, never moves its averages."""
        per_task = {}
        for task in self.tasks:
            m = self.task_metrics(task)
            per_task[task] = {**m, "settings": {s: v for s, v in (m.get("settings") or {}).items() if s in SETTINGS}}
        return metrics.overall(per_task, self.gap or DEFAULT_GAP)

    @property
    def settings(self) -> list[str]:
        parsed = self.report.parsed
        return list(parsed.run_config().settings) if parsed is not None else []

    @property
    def gap(self) -> str | None:
        """The settings pair of the submission's gap (``config.gap``)."""
        parsed = self.report.parsed
        return parsed.run_config().gap if parsed is not None else None

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
        overall = self.overall
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


class SpeechLMSubmission(Submission):
    """A submission as the speech-LM table sees it: its utterance accuracies on the speech-LM sets
    (`SPEECH_LM_COLUMNS`), nothing of its S2SBench tasks; the same report, placed and ranked apart (`place`)."""

    required: ClassVar[tuple[str, ...]] = SPEECH_LM_SETS

    @property
    def tasks(self) -> list[str]:
        """Every column's set the run scored in the ``utterance`` setting (a subset of SALMon included)."""
        return [t for t in SPEECH_LM_COLUMNS if self.value(f"{t}:{UTTERANCE_METRIC}") is not None]

    def value(self, key: str) -> float | None:
        """``utterance_accuracy``: the mean over the `SPEECH_LM_SETS` the run has; ``<set>:utterance_accuracy``: that
        set's. An S2SBench task id, or a setting other than ``utterance``, has no value here."""
        task, _, metric = key.rpartition(":")
        if metric != UTTERANCE_METRIC:
            return None
        if not task:
            found = [v for t in SPEECH_LM_SETS if (v := self.value(f"{t}:{UTTERANCE_METRIC}")) is not None]
            return sum(found) / len(found) if found else None
        entry = self._utterance(task)
        return entry.get("accuracy") if entry else None

    def interval(self, key: str) -> tuple[float, float] | None:
        task, _, metric = key.rpartition(":")
        ci = (self._utterance(task) or {}).get("accuracy_ci") if task and metric == UTTERANCE_METRIC else None
        return (ci[0], ci[1]) if ci and len(ci) == 2 else None

    def _utterance(self, task: str) -> dict | None:
        """The recomputed ``utterance`` setting of a speech-LM set the run scored, else None."""
        m = self.task_metrics(task) if task in SPEECH_LM_COLUMNS else {}
        entry = (m.get("settings") or {}).get(UTTERANCE) if m.get("n_items") else None
        return entry if isinstance(entry, dict) else None


UNRANKED = {
    "partial": "Partial runs: a subset of the tasks or of the items (not ranked)",
    "other": "Other data and unranked runs (not ranked)",
}
"""The lists of valid submissions shown apart from the ranking, below it, in this order: name -> title."""
GROUPS = ("ranked", *UNRANKED)
"""Every list of valid submissions (`Board.group`); the invalid ones are `Board.invalid`."""
S2SBENCH, SPEECH_LM = "s2sbench", "speech_lm"
VIEWS = (S2SBENCH, SPEECH_LM)
"""The board's two tables, never mixed: S2SBench's tasks (`TASKS`) and the speech-LM sets (`SPEECH_LM_COLUMNS`)."""


@dataclass
class Board:
    source: str
    sort_by: str
    ranked: list[Submission] = field(default_factory=list)
    partial: list[Submission] = field(default_factory=list)
    """Valid runs on accepted data over a subset of the tasks or the items (``--limit``): shown apart, never ranked."""
    other: list[Submission] = field(default_factory=list)
    """Valid submissions kept off the ranking (other data, unexplained item errors), with their reasons."""
    invalid: list[Submission] = field(default_factory=list)
    accepted: tuple[AcceptedDataset, ...] = DEFAULT_ACCEPTED
    speech_lm: dict[str, list[Submission]] = field(default_factory=lambda: {name: [] for name in GROUPS})
    """The speech-LM table's `GROUPS`: the valid submissions with a speech-LM set (`SpeechLMSubmission`), placed by the
    same rules on their speech-LM sets alone; a submission with S2SBench tasks too is also in S2SBench's lists."""

    def group(self, name: str, view: str = S2SBENCH) -> list[Submission]:
        """The submissions of one of `GROUPS`, in the S2SBench table or (``view`` `SPEECH_LM`) the speech-LM one."""
        if name not in GROUPS or view not in VIEWS:
            raise ValueError(f"no group {name!r} of {view!r}; the groups are {', '.join(GROUPS)} of {', '.join(VIEWS)}")
        return self.speech_lm[name] if view == SPEECH_LM else getattr(self, name)

    @property
    def listed(self) -> list[Submission]:
        """Every valid submission, of every group."""
        return [s for name in GROUPS for s in self.group(name)]

    @property
    def tasks(self) -> list[str]:
        present = {t for s in self.listed for t in s.tasks}
        return [t for t in TASKS if t in present]

    @property
    def settings(self) -> list[str]:
        """The paper's two settings, and any other a listed submission scored, in `tasks.SETTINGS` order."""
        present = {*DEFAULT_SETTINGS, *(x for s in self.listed for x in s.settings)}
        return [s for s in SETTINGS if s in present]

    @property
    def gaps(self) -> list[str]:
        """The paper's text:audio gap, and any other pair a listed submission reported."""
        present = {s.gap for s in self.listed} - {None, DEFAULT_GAP}
        return [DEFAULT_GAP, *(pair for pair in GAP_PAIRS if pair in present)]

    def counts(self) -> str:
        """One line: how many submissions each list holds, and the ranking key."""
        direction = "higher" if METRICS[parse_sort_key(self.sort_by)[1]].higher_is_better else "lower"
        return (
            f"{len(self.ranked)} ranked by {self.sort_by} ({direction} first); {len(self.partial)} partial (a subset "
            f"of the tasks or items, not ranked); {len(self.other)} on other data or with unexplained item errors "
            f"(not ranked); {len(self.invalid)} failed validation."
        )

    def speech_lm_counts(self) -> str:
        """One line: how many submissions each list of the speech-LM table holds, and its ranking."""
        ranked, partial, other = (len(self.speech_lm[name]) for name in GROUPS)
        return (
            f"speech LM: {ranked} ranked by {UTTERANCE_METRIC} (higher first); {partial} partial (a subset of the sets "
            f"or items, not ranked); {other} on other data or with unexplained item errors (not ranked)."
        )


def resolve_source(
    source: str, *, revision: str | None = None, token: str | None = None, progress: bool = True
) -> tuple[Path, Path | None]:
    """(folder, link root): a local folder as is; a Hub results dataset id is downloaded (only ``submissions/``,
    with huggingface_hub's bars unless ``progress`` is False).

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
    from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

    silenced = not progress and not are_progress_bars_disabled()  # off for the download, as they were after
    if silenced:
        disable_progress_bars()
    try:
        with offline_unless_hub_answers():  # no network: the cached snapshot, or one line at once (`source_problem`)
            snapshot = Path(
                snapshot_download(
                    repo_id=source,
                    repo_type="dataset",
                    revision=revision,
                    token=token,
                    allow_patterns=[f"{hub.SUBMISSIONS_DIR}/**"],
                )
            )
    finally:
        if silenced:
            enable_progress_bars()
    return snapshot, snapshot.parents[1]


def source_problem(source: str, err: BaseException) -> str:
    """One line that names the results source and why it cannot be read: `failures.explain` where it knows the cause
    (no network, a repository missing or private), else the error itself; for a page to show instead of a board (the
    Space), where a traceback would reach only the server log."""
    if isinstance(err, LeaderboardError):  # resolve_source's own messages name the source already
        return str(err)
    subject = f"the results dataset {source!r}"
    return explain(err, subject) or f"cannot read {subject}: {type(err).__name__}: {err}"


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
    progress: bool = False,
) -> Board:
    """Find, re-validate, place and rank every submission of ``source`` (folder or Hub results dataset).

    ``accepted``: the datasets whose runs are ranked (`AcceptedDataset` or
    ``ID[@REVISION]``); the default is the official release. ``progress``: the
    bars of a Hub source's download, of the sample sets' synthesis on first use
    and one over the submissions validated, on stderr (``s2sbench leaderboard``
    shows them, ``--no-progress`` not).
    """
    parse_sort_key(sort_by)
    datasets = tuple(a if isinstance(a, AcceptedDataset) else AcceptedDataset.parse(a) for a in accepted)
    root, link_root = resolve_source(str(source), revision=revision, token=token, progress=progress)
    resolver = resolver or DatasetResolver(
        may_load=lambda s, r: any(a.loads(s, r) for a in datasets), progress=progress
    )
    board = Board(source=str(source), sort_by=sort_by, accepted=datasets)
    for path in tqdm(find_submissions(root), desc="validating submissions", unit="submission", disable=not progress):
        place(board, Submission(*_validate(path, root, resolver, link_root)))
    board.invalid.sort(key=lambda s: s.path)
    return rank_board(board, sort_by)


def _validate(
    path: Path, root: Path, resolver: DatasetResolver, link_root: Path | None
) -> tuple[str, ValidationReport]:
    """(submission folder relative to ``root``, validation report) of one `find_submissions` entry; never raises.

    A folder that is a link, or whose name is not UTF-8, is not read. Validation
    turns every problem of a file into a listed problem; should it raise all the
    same, the error becomes the submission's problem, so that one file cannot
    take down the board or the Space.
    """
    if path.is_symlink() and path.is_dir():
        report = ValidationReport(path=path)
        report.add("unsafe_file", "the submission folder is a symbolic link; folders are read without following links.")
        return path.relative_to(root).as_posix(), report
    folder = path.parent.relative_to(root).as_posix() or "."
    if safe_text(folder) != folder:  # Python reads a name's non-UTF-8 bytes as lone surrogates
        report = ValidationReport(path=path)
        report.add(
            "unsafe_file",
            "the submission folder's name is not UTF-8 (shown with backslash escapes); no Hub repository holds such "
            "a path, and `s2sbench submit` lays folders out from the model id and revision.",
        )
        return folder, report
    try:
        return folder, validate_run(path, resolver=resolver, link_root=link_root)
    except Exception as err:  # noqa: BLE001 - one submission's failure is listed, never the board's end
        report = ValidationReport(path=path)
        report.add("malformed", f"validation stopped with {type(err).__name__}: {str(err)[:300]}")
        return folder, report


def place(board: Board, sub: Submission) -> None:
    """Append ``sub`` to its lists: invalid; else, in each table whose tasks it has (`views_of`), other (data, item
    errors), partial (`incomplete`) or ranked, judged on that table's tasks alone."""
    if not sub.valid:
        board.invalid.append(sub)
        return
    for view in views_of(sub):
        entry = sub if view == S2SBENCH else SpeechLMSubmission(sub.path, sub.report)
        other = reasons_not_ranked(entry, board.accepted)
        entry.reasons = other + incomplete(entry)
        board.group("other" if other else "partial" if entry.reasons else "ranked", view).append(entry)


def views_of(sub: Submission) -> list[str]:
    """The tables a valid submission is listed in: the speech-LM one when it ran a speech-LM set (`SPEECH_LM_COLUMNS`),
    S2SBench's when it ran an S2SBench task or no speech-LM set (a run of neither is listed, as partial or other)."""
    ran = set(_parsed(sub).run_config().tasks)
    speech_lm = bool(ran & set(SPEECH_LM_COLUMNS))
    return [S2SBENCH] * (bool(ran & set(TASKS)) or not speech_lm) + [SPEECH_LM] * speech_lm


def _parsed(sub: Submission) -> RunResults:
    """The schema model of a valid submission's results (a board places only valid ones)."""
    if sub.report.parsed is None:
        raise ValueError(f"submission {sub.path!r} failed validation: only a valid one is ranked or not")
    return sub.report.parsed


def _table_datasets(sub: Submission) -> dict[str, DatasetInfo]:
    """``datasets.<task>`` of the run's tasks that ``sub``'s table shows (`SPEECH_LM_COLUMNS` or `TASKS`): the data
    of the other table's tasks never keeps a row off this one."""
    shown = SPEECH_LM_COLUMNS if isinstance(sub, SpeechLMSubmission) else tuple(TASKS)
    return {t: info for t, info in _parsed(sub).datasets.items() if t in shown}


def reasons_not_ranked(sub: Submission, accepted: Sequence[AcceptedDataset]) -> list[str]:
    """Why a valid submission stays off its table's ranking: other data, item errors the dataset does not explain
    (of the table's tasks)."""
    datasets = _table_datasets(sub)
    reasons = []
    other = sorted(
        {
            f"{info.source}" + (f"@{info.revision}" if info.revision else "")
            for task, info in datasets.items()
            if not any(a.accepts(task, info) for a in accepted)
        }
    )
    if other:
        named = [str(a) for a in accepted if a.tasks is None or set(a.tasks) & datasets.keys()]  # for these tasks
        reasons.append(f"other data: {', '.join(other)} (this board ranks runs on {', '.join(named) or 'no dataset'})")
    unexplained = [w for w in sub.report.warnings if w.kind == "unexplained_error" and w.task in datasets]
    if unexplained and not other:
        reasons.append(
            "item errors the dataset does not explain: " + "; ".join(f"{w.task}: {w.message}" for w in unexplained)
        )
    return reasons


def incomplete(sub: Submission) -> list[str]:
    """Why a valid run does not cover its table's whole benchmark: tasks it left out (of `Submission.required`:
    `tasks.TASKS`, or `SPEECH_LM_SETS`), items a ``--limit`` below a dataset's size left out. An average over fewer or
    other items is not comparable."""
    config, required = _parsed(sub).run_config(), sub.required
    noun = "sets" if isinstance(sub, SpeechLMSubmission) else "tasks"
    reasons = []
    missing = [t for t in required if t not in config.tasks]
    if missing:
        reasons.append(
            f"partial run: {len(required) - len(missing)} of the {len(required)} {noun} (not {', '.join(missing)})"
        )
    limit = config.limit
    cut = [
        f"{t}: {limit} of {i.num_rows}"
        for t, i in _table_datasets(sub).items()
        if limit is not None and limit < i.num_rows
    ]
    if cut:
        reasons.append(f"partial run: --limit {limit} scored the first items only ({', '.join(cut)})")
    return reasons


def rank_board(board: Board, sort_by: str) -> Board:
    """Rank S2SBench's ranked submissions by ``sort_by``, and the speech-LM table's by their mean utterance accuracy
    (in place; no re-validation; the unranked lists sorted alike)."""
    board.sort_by = sort_by
    _rank(board, S2SBENCH, sort_by, METRICS[parse_sort_key(sort_by)[1]].higher_is_better)
    _rank(board, SPEECH_LM, UTTERANCE_METRIC, True)
    return board


def _rank(board: Board, view: str, sort_by: str, descending: bool) -> None:
    """Sort every list of one table by ``sort_by`` (missing values last, ties by name and revision); number the
    ranked one from 1."""

    def key(sub: Submission) -> tuple:
        value = sub.value(sort_by)
        return (value is None, 0.0 if value is None else (-value if descending else value), sub.name, sub.revision)

    for name in GROUPS:
        board.group(name, view).sort(key=key)
    for rank, sub in enumerate(board.group("ranked", view), start=1):
        sub.rank = rank


def sort_choices(board: Board | None = None) -> list[str]:
    """Every valid ``--sort-by`` value: each metric (the gaps of every pair) overall and per task.

    Given a board: only the keys of its metric columns (`columns`) that hold a value
    for at least one listed submission, plus `DEFAULT_SORT` (a page opens ranked by
    it). That is the Space's sort menu: the full list has over a hundred keys, most
    of them settings, pairs or tasks that no submission has.
    """
    if board is None:
        keys = [metric_key(m, pair) for m in METRICS for pair in (GAP_PAIRS if m in GAP_METRICS else [None])]
        return keys + [f"{t}:{k}" for t in TASKS for k in keys]
    keys = [c.key for c in columns(board) if c.metric and any(s.value(c.key) is not None for s in board.listed)]
    return keys if DEFAULT_SORT in keys else [DEFAULT_SORT, *keys]


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


def _leading_columns(count: Column) -> list[Column]:
    """The columns of a row's identity, then ``count`` (its tasks or sets) and its unscored items."""
    return [
        Column("rank", "#", "num", "asc"),
        Column("model", "model", "text", "asc"),
        Column("revision", "revision", "text", "asc"),
        Column("params", "params", "num", "desc"),
        count,
        Column("failed", "failed items", "num", "asc"),
    ]


def columns(board: Board, view: str = S2SBENCH) -> list[Column]:
    """The columns of one table (`VIEWS`), in order; ``key`` is what ``#sort=`` and ``--sort-by`` name."""
    if view == SPEECH_LM:
        return speech_lm_columns(board)
    out = _leading_columns(Column("tasks", "tasks", "num", "desc"))
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


def speech_lm_columns(board: Board) -> list[Column]:
    """The speech-LM table's columns: the sets each row has, the mean utterance accuracy over `SPEECH_LM_SETS`, and
    one utterance accuracy per set (`SPEECH_LM_SETS` always, a SALMon subset where a listed row has it)."""
    present = {t for name in GROUPS for s in board.group(name, SPEECH_LM) for t in s.tasks}
    shown = [t for t in SPEECH_LM_COLUMNS if t in SPEECH_LM_SETS or t in present]
    label = ALL_METRICS[UTTERANCE_METRIC].label
    return [
        *_leading_columns(Column("sets", "sets", "num", "desc")),
        Column(UTTERANCE_METRIC, f"avg {label}", "num", "desc", UTTERANCE_METRIC),
        *(Column(f"{t}:{UTTERANCE_METRIC}", f"{t} {label}", "num", "desc", UTTERANCE_METRIC) for t in shown),
        Column("notes", "notes", "text", "asc"),
    ]


def format_value(value: float | None, metric: str) -> str:
    if value is None:
        return "-"
    kind = ALL_METRICS[metric].kind
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
    if col.key == "sets":
        count = len([t for t in sub.tasks if t in SPEECH_LM_SETS])
        return count, f"{count}/{len(SPEECH_LM_SETS)}: {', '.join(sub.tasks)}", ""
    if col.key == "failed":
        return sub.failed, str(sub.failed), ""
    if col.key == "notes":
        return sub.notes, sub.notes or "", ""
    if col.metric is None:  # every column but the ones above shows a metric
        raise ValueError(f"column {col.key!r} has no metric")
    value = sub.value(col.key)
    return value, format_value(value, col.metric), _interval_text(sub.interval(col.key), col.metric)


def board_table(
    board: Board, *, intervals: bool = True, group: str = "ranked", view: str = S2SBENCH
) -> tuple[list[str], list[list[str]]]:
    """Headers and display rows (`plain` text) of one of `GROUPS` of one table (`VIEWS`): S2SBench's ranked
    submissions by default."""
    cols = columns(board, view)
    rows = []
    for sub in board.group(group, view):
        row = []
        for col in cols:
            _, text, ci = _cell(sub, col)
            row.append(plain(f"{text} {ci}" if intervals and ci else text))
        rows.append(row)
    return [c.label for c in cols], rows


def invalid_table(board: Board) -> tuple[list[str], list[list[str]]]:
    """Headers and rows (`plain` text) of the submissions that failed validation, with their reasons."""
    rows = []
    for s in board.invalid:
        problems = s.report.problems
        why = " | ".join(str(p) for p in problems[:5]) + (" | ..." if len(problems) > 5 else "")
        rows.append([plain(s.name), plain(s.path), plain(f"{len(problems)} problem(s): {why}")])
    return ["model", "submission", "why it failed validation"], rows


BOARD_NOTE = (
    "Only complete runs are ranked: every task, every item of the dataset. Every number is recomputed from the "
    "submission's samples. Accuracies are pairwise accuracies in %, the gap is text minus audio (or the pair its "
    "column names) in percentage points; per-task cells give the 95% paired-bootstrap interval in brackets; failed "
    "items are items not scored because the dataset makes them unscorable."
)
"""What the board's numbers are, under its title."""
FOOTER = (
    "Click a column header of the ranked table to sort. Generated by s2sbench-hf. Every submission was re-validated: "
    "schema, one record per item, setting and continuation, metrics recomputed from the per-item records, dataset "
    "fingerprints."
)
"""The page's footer (HTML only)."""


def _rows(subs: Sequence[Submission], cols: Sequence[Column]) -> list[render.Row]:
    """One row per submission: each cell's text (every text from a submission a `render.Quote`), its interval, the
    value the page sorts by; the row names the model and the folder (``data-model``, ``data-path``)."""
    rows = []
    for sub in subs:
        cells = []
        for col in cols:
            value, text, ci = _cell(sub, col)
            title: render.Text = ""
            if col.key == "revision":
                title = render.Quote(sub.revision)
            elif ci:
                n = sub.task_metrics(col.key.split(":")[0]).get("n_items")
                title = f"95% CI {ci} (paired bootstrap over {n} items)"
            cells.append(
                render.Cell(
                    render.Quote(text) if col.kind == "text" else text,
                    note=ci,
                    title=title,
                    value="" if value is None else (repr(float(value)) if col.kind == "num" else str(value)),
                    css="notes" if col.key == "notes" else "",
                )
            )
        rows.append(render.Row(cells, {"model": render.Quote(sub.name), "path": render.Quote(sub.path)}))
    return rows


def _invalid_rows(board: Board, limit: int = 20) -> list[render.Row]:
    """One row per submission that failed validation, with (up to ``limit`` of) its problems."""
    rows = []
    for sub in board.invalid:
        problems = sub.report.problems
        reasons: list[render.Text] = [render.Quote(str(p)) for p in problems[:limit]]
        if len(problems) > limit:
            reasons.append(f"... and {len(problems) - limit} more")
        cells = [
            render.Cell("⚠ failed validation", title="failed validation", css="marker"),
            render.Cell(render.Quote(sub.name)),
            render.Cell(render.Quote(sub.path)),
            render.Cell(f"{len(problems)} problem(s):", items=reasons),
        ]
        rows.append(render.Row(cells, {"model": render.Quote(sub.name), "path": render.Quote(sub.path)}, "invalid"))
    return rows


def board_document(board: Board, *, image: str | None = "scatter.png", png: bytes | None = None) -> render.Document:
    """The board as one `render.Document`, for ``leaderboard.md`` and ``index.html``: every text from a submission a
    `render.Quote`; numbers are the board's own. ``image``: the scatter plot's file (None: no plot), ``png`` its
    bytes for the page (by default `scatter_png`)."""
    cols = columns(board)
    header = [render.Column(c.label, c.kind == "text", c.key, c.order) for c in cols]
    accepted = ", ".join(str(a) for a in board.accepted) or "no dataset"
    doc = render.Document("S2SBench leaderboard", footer=FOOTER, page="leaderboard")
    doc.add(
        render.Paragraph(
            (
                "Source: ",
                render.Quote(board.source),
                ". Accepted data: ",
                render.Quote(accepted),
                f". {board.counts()} {BOARD_NOTE}",
            )
        ),
        render.Table(header, _rows(board.ranked, cols), id="board", data={"ranked-by": board.sort_by}),
    )
    if image is not None:
        doc.add(
            render.Heading("Text vs speech context"),
            render.Image(
                image,
                "text vs audio accuracy, one point per ranked submission",
                data=png if png is not None else scatter_png(board),
                id="scatter",
            ),
        )
    for name, title in UNRANKED.items():
        if board.group(name):
            doc.add(render.Heading(title), render.Table(header, _rows(board.group(name), cols), id=name))
    if any(board.speech_lm.values()):
        _add_speech_lm(doc, board)
    if board.invalid:
        doc.add(
            render.Heading("Failed validation (not ranked)"),
            render.Table(
                [render.Column(label, True) for label in ("status", "model", "submission", "why it failed validation")],
                _invalid_rows(board),
                id="invalid",
            ),
        )
    return doc


SPEECH_LM_NOTE = (
    "A ranking of its own, never mixed with S2SBench's: models on the speech-LM sets (sStoryCloze, tStoryCloze, "
    "sWUGGY, sBLIMP, SALMon), each a pair of whole utterances scored with no context. Only runs of every set "
    f"({', '.join(SPEECH_LM_SETS)}), every item, are ranked, by their utterance accuracy averaged over the sets; a run "
    "of fewer sets is listed below, not ranked. A SALMon subset run alone is shown in its column, never averaged. "
    "Utterance accuracy is the pairwise accuracy in %, with its 95% bootstrap interval in brackets."
)
"""What the speech-LM table's numbers are, under its heading."""


def _add_speech_lm(doc: render.Document, board: Board) -> None:
    """The speech-LM table (``#speech-lm``) and its unranked lists, below S2SBench's, with their own columns."""
    cols = speech_lm_columns(board)
    header = [render.Column(c.label, c.kind == "text", c.key, c.order) for c in cols]
    doc.add(
        render.Heading("Speech LM: the speech-LM sets"),
        render.Paragraph(f"{board.speech_lm_counts()} {SPEECH_LM_NOTE}"),
        render.Table(
            header, _rows(board.speech_lm["ranked"], cols), id="speech-lm", data={"ranked-by": UTTERANCE_METRIC}
        ),
    )
    for name, title in UNRANKED.items():
        if board.speech_lm[name]:
            doc.add(
                render.Heading(f"Speech LM: {title[0].lower()}{title[1:]}", 3),
                render.Table(header, _rows(board.speech_lm[name], cols), id=f"speech-lm-{name}"),
            )


def render_markdown(board: Board, *, image: str | None = "scatter.png") -> str:
    """``leaderboard.md`` (`board_document` through `render.markdown`); ``image``: the plot's file, linked."""
    return render.markdown(board_document(board, image=image, png=b""))


def render_html(board: Board, *, png: bytes | None = None) -> str:
    """``index.html`` (`board_document` through `render.html`): one self-contained page (inline style and script,
    the plot as a data URI); a click on a header of the ranked table sorts by it, ``#sort=<column key>`` too."""
    return render.html(board_document(board, png=png))


def scatter_png(board: Board) -> bytes:
    """Text (x) vs audio (y) accuracy, %, one labelled point per ranked submission (`scatter_figure`), as PNG."""
    accuracies = [(plain(s.name), s.value("text_accuracy"), s.value("audio_accuracy")) for s in board.ranked]
    fig = scatter_figure([(n, 100 * x, 100 * y) for n, x, y in accuracies if x is not None and y is not None])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def scatter_figure(points: Sequence[tuple[str, float, float]]) -> Any:
    """The board's scatter plot of (name, text accuracy %, audio accuracy %) points, with y = x and chance.

    A `matplotlib.figure.Figure` (no pyplot: no global state in a server) with a
    constrained layout and the legend outside the axes, below them: a point may lie
    anywhere in the square, so a legend inside would hide one (it once did).
    """
    from matplotlib.figure import Figure  # the first plot imports matplotlib: the board's tables need none of it

    fig = Figure(figsize=(6.4, 5.2), dpi=100, layout="constrained")
    ax = fig.subplots()
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
            parse_math=False,  # a name is text: "$...$" in it is not a formula to typeset (or to fail on)
        )
    if not points:
        ax.text(0.5, 0.5, "no valid submissions", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal")
    ax.set_xlabel("text-context accuracy (%)")
    ax.set_ylabel("speech-context accuracy (%)")
    ax.set_title("S2SBench: text vs speech context (below the line = degradation)", fontsize=10, pad=14)
    fig.legend(loc="outside lower center", ncol=2, fontsize=8, frameon=False)
    return fig


def write_board(board: Board, output: str | os.PathLike) -> dict[str, Path]:
    """Write ``leaderboard.md``, ``index.html``, ``scatter.png`` and ``leaderboard.json`` into ``output``.

    Every file is rendered and encoded before any is written, and each is
    written atomically (`files.atomic_write`): a build that fails leaves the
    board published before it whole, never an empty or half-written file.
    """
    output = Path(output)
    png = scatter_png(board)
    texts = {
        "markdown": ("leaderboard.md", render_markdown(board, image="scatter.png")),
        "html": ("index.html", render_html(board, png=png)),
        "json": ("leaderboard.json", json.dumps(board_json(board), ensure_ascii=False, indent=2) + "\n"),
    }
    payloads = {"png": (output / "scatter.png", png)}
    payloads |= {key: (output / name, text.encode("utf-8")) for key, (name, text) in texts.items()}
    for path, data in payloads.values():
        atomic_write(path, data)
    return {key: path for key, (path, _) in payloads.items()}


def _json_safe(value: Any) -> Any:
    """``value`` with every string, keys included, through `safe_text`: JSON that every parser reads."""
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, dict):
        return {safe_text(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def board_json(board: Board) -> dict:
    """The board as data: the rows (raw values) of `GROUPS` with why each unranked one is not ranked, and the
    failed submissions with their problems; every string through `safe_text`."""
    cols = columns(board)
    return _json_safe(
        {
            "source": board.source,
            "sort_by": board.sort_by,
            "columns": [c.key for c in cols],
            "accepted_datasets": [str(a) for a in board.accepted],
            **_json_rows(board, S2SBENCH),
            "invalid": [{"path": s.path, "model": s.name, **s.report.to_dict()} for s in board.invalid],
            SPEECH_LM: {
                "sort_by": UTTERANCE_METRIC,
                "sets": list(SPEECH_LM_SETS),
                "columns": [c.key for c in speech_lm_columns(board)],
                **_json_rows(board, SPEECH_LM),
            },
        }
    )


def _json_rows(board: Board, view: str) -> dict[str, list[dict]]:
    """Each of `GROUPS` of one table: a row of raw values per submission, with its folder and why it is not ranked."""
    cols = columns(board, view)
    return {
        name: [
            {c.key: _cell(s, c)[0] for c in cols} | {"path": s.path, "reasons": s.reasons}
            for s in board.group(name, view)
        ]
        for name in GROUPS
    }


def summary(board: Board, paths: Sequence[Path] = ()) -> str:
    """What ``s2sbench leaderboard`` prints: the counts, the ranking, why each other submission is not ranked,
    the files written; every line `plain`."""
    metric = parse_sort_key(board.sort_by)[1]
    lines = [board.counts()]
    lines += [
        f"  {s.rank}. {s.name} @ {short_revision(s.revision)}  {format_value(s.value(board.sort_by), metric)}"
        for s in board.ranked
    ]
    lines += [
        f"  NOT RANKED ({name}) {s.path}: " + "; ".join(s.reasons) for name in UNRANKED for s in board.group(name)
    ]
    if any(board.speech_lm.values()):
        lines.append(board.speech_lm_counts())
        lines += [
            f"  {s.rank}. {s.name} @ {short_revision(s.revision)}  "
            f"{format_value(s.value(UTTERANCE_METRIC), UTTERANCE_METRIC)}"
            for s in board.speech_lm["ranked"]
        ]
        lines += [
            f"  NOT RANKED (speech LM, {name}) {s.path}: " + "; ".join(s.reasons)
            for name in UNRANKED
            for s in board.speech_lm[name]
        ]
    lines += [
        f"  FAILED {s.path}: "
        + "; ".join(str(p) for p in s.report.problems[:3])
        + (" ..." if len(s.report.problems) > 3 else "")
        for s in board.invalid
    ]
    lines += [f"wrote {p}" for p in paths]
    return "\n".join(plain(line) for line in lines)
