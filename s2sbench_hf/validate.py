"""Check a run folder before anyone trusts it: schema, completeness, recomputed metrics, dataset identity.

`validate_run` is what ``s2sbench validate``, ``s2sbench submit``, ``s2sbench card``
and the leaderboard call. It never stops at the first problem: it collects every
one it finds into a `ValidationReport`, each naming the task and item where that
applies. What it checks:

1. **Schema.** ``results.json`` parses, has a known ``schema_version``
   (`KNOWN_SCHEMA_VERSIONS`), and every key the board and the checks below read
   is there with the right type (`RESULTS_SCHEMA`). Known tasks, settings,
   scoring rule and tie policy.
2. **Identity.** ``model.model_id`` and either ``model.revision`` or
   ``model.content_hash`` are present, so a number names exactly one model.
3. **Dataset.** Each task's dataset is loaded again from the source the run
   names (``datasets.<task>.source``; ``"samples"`` is the bundled sample sets),
   with the run's ``limit`` and dataset revision; its fingerprint and row count
   must equal the recorded ones.
4. **Completeness.** ``samples_<task>.jsonl`` holds exactly one record per item
   x setting x continuation: no item of the dataset missing, none twice, none
   that the dataset does not have; each record's continuation text, answer flag
   and byte count agree with the dataset item. An item the run itself reported
   as failed (``errors``) may be absent: that is a warning, not a problem, and
   the reported ``n_failed`` shows it.
5. **Metrics.** The metrics are recomputed from the records with
   `metrics.summarize_records` (the run's scoring rule, tie policy, bootstrap
   size and seed) and compared with every reported number, intervals and the
   test of the gap included, to `TOLERANCE`; ``overall`` with `metrics.overall`.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from s2sbench_hf import metrics
from s2sbench_hf.data.loaded import SAMPLES_SOURCE
from s2sbench_hf.jsonl import jsonl_objects
from s2sbench_hf.protocol import SCORING_RULES, TIE_POLICIES
from s2sbench_hf.results import RESULTS_SCHEMA_VERSION
from s2sbench_hf.scoring.interface import Record
from s2sbench_hf.tasks import SETTINGS, TASKS, get_task

KNOWN_SCHEMA_VERSIONS = (RESULTS_SCHEMA_VERSION,)
"""``schema_version`` values this validator understands."""

TOLERANCE = 1e-9
"""Absolute (and relative) tolerance when a reported number is compared with the recomputed one."""


# ------------------------------------------------------------------------- the report


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a submission. ``kind`` is a stable code (see `KINDS`)."""

    kind: str
    message: str
    task: str | None = None
    item_id: str | None = None

    def __str__(self) -> str:
        where = []
        if self.task:
            where.append(f"task {self.task!r}")
        if self.item_id is not None:
            where.append(f"item {self.item_id!r}")
        return f"[{self.kind}] " + (", ".join(where) + ": " if where else "") + self.message


KINDS = {
    "malformed": "a file is not valid JSON / JSON lines, or cannot be read",
    "schema": "a required key is missing or has the wrong type, or a value is not a known one",
    "schema_version": "results.json has a schema version this validator does not know",
    "model_identity": "the model id, or both its revision and content hash, are missing",
    "missing_file": "a samples file of a task is missing",
    "dataset_unavailable": "the dataset the run names cannot be loaded to check against",
    "fingerprint_mismatch": "the dataset's fingerprint or size differs from the one recorded",
    "missing_item": "an item of the dataset has no record for some setting/continuation",
    "duplicate_item": "a record appears more than once for the same item, setting and continuation",
    "unknown_item": "a record names an item, setting or continuation that the dataset/run does not have",
    "record_mismatch": "a record disagrees with its dataset item (continuation text, answer flag, bytes) "
                       "or its score is not finite",
    "metric_mismatch": "a reported number differs from the one recomputed from the samples",
}


@dataclass
class ValidationReport:
    """Everything `validate_run` found about one run folder."""

    path: Path
    """The ``results.json`` checked."""
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    results: dict | None = None
    """The parsed ``results.json`` (None when it could not be parsed)."""
    recomputed: dict[str, dict] = field(default_factory=dict)
    """Per task, the metrics recomputed from the samples."""

    @property
    def valid(self) -> bool:
        return not self.problems

    @property
    def kinds(self) -> set[str]:
        return {p.kind for p in self.problems}

    def add(self, kind: str, message: str, task: str | None = None, item_id: str | None = None) -> None:
        self.problems.append(Problem(kind, message, task, item_id))

    def warn(self, kind: str, message: str, task: str | None = None, item_id: str | None = None) -> None:
        self.warnings.append(Problem(kind, message, task, item_id))

    def summary(self, max_lines: int | None = 50) -> str:
        """Human-readable: OK or INVALID, then every problem (``max_lines`` of them) and the warnings."""
        model = ((self.results or {}).get("model") or {}) if isinstance(self.results, dict) else {}
        name = model.get("model_id") if isinstance(model, dict) else None
        head = f"{self.path}" + (f" (model {name})" if name else "")
        if self.valid:
            lines = [f"OK: {head} is a valid S2SBench result."]
        else:
            lines = [f"INVALID: {head}: {len(self.problems)} problem(s)."]
            shown = self.problems if max_lines is None else self.problems[:max_lines]
            lines += [f"  - {p}" for p in shown]
            if len(shown) < len(self.problems):
                lines.append(f"  ... and {len(self.problems) - len(shown)} more (use --json to see all).")
        if self.warnings:
            lines.append(f"{len(self.warnings)} warning(s):")
            lines += [f"  - {w}" for w in self.warnings]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "path": str(self.path),
            "valid": self.valid,
            "problems": [asdict(p) for p in self.problems],
            "warnings": [asdict(w) for w in self.warnings],
        }


# ---------------------------------------------------------------------------- the schema


class Opt:
    """A value that may be null (and, with ``absent_ok``, a key that may be missing)."""

    def __init__(self, spec: Any, absent_ok: bool = False):
        self.spec, self.absent_ok = spec, absent_ok


class Absent:
    """A key that may be missing; when present it must match ``spec`` (null not allowed)."""

    def __init__(self, spec: Any):
        self.spec = spec


class ListOf:
    def __init__(self, spec: Any, length: int | None = None):
        self.spec, self.length = spec, length


class MapOf:
    """A mapping from string keys (tasks, settings) to values matching ``spec``."""

    def __init__(self, spec: Any):
        self.spec = spec


NUMBER = "number"
"""An int or float, not a bool."""

_SETTING_RESULT = {
    "accuracy": NUMBER,
    "accuracy_ci": ListOf(NUMBER, 2),
    "argmin_accuracy": NUMBER,
    "n_comparisons": int,
}
_DEGRADATION = {
    "gap": NUMBER,
    "gap_ci": ListOf(NUMBER, 2),
    "relative_gap": Opt(NUMBER),
    "test": {"method": str, "p_value": NUMBER, "n_discordant": int, "text_better": int, "audio_better": int,
             "n_resamples": Opt(int)},
}
RESULTS_SCHEMA: dict[str, Any] = {
    "schema_version": str,
    "s2sbench_hf_version": str,
    "created": str,
    "model": {
        "adapter": str,
        "model_id": str,
        "revision": Opt(str, absent_ok=True),
        "content_hash": Opt(str, absent_ok=True),
        "dtype": Opt(str, absent_ok=True),
        "num_parameters": Opt(int, absent_ok=True),
    },
    "config": {
        "tasks": ListOf(str),
        "settings": ListOf(str),
        "dataset": Opt(str),
        "dataset_revision": Opt(str, absent_ok=True),
        "limit": Opt(int),
        "scoring_rule": str,
        "tie_policy": str,
        "n_bootstrap": int,
        "seed": int,
    },
    "datasets": MapOf({
        "source": str,
        "fingerprint": str,
        "num_rows": int,
        "config": Absent(str),
        "split": Absent(str),
        "revision": Opt(str, absent_ok=True),
    }),
    "results": MapOf({
        "n_items": int,
        "settings": MapOf(_SETTING_RESULT),
        "degradation": Absent(_DEGRADATION),
        "n_failed": Absent(int),
    }),
    "overall": dict,
    "errors": ListOf({"task": str, "item_id": str, "problem": str}),
}
"""The keys of ``results.json`` (schema 1.0) that validation and the leaderboard rely on.

Other keys may be present (``environment``, ``framing``, per-setting losses): they
are kept and, where they are metrics, compared with the recomputed values.
"""


def _type_name(spec: Any) -> str:
    if spec is NUMBER:
        return "a number"
    if isinstance(spec, type):
        return {str: "a string", int: "an integer", dict: "an object", list: "a list"}.get(spec, spec.__name__)
    if isinstance(spec, (dict, MapOf)):
        return "an object"
    if isinstance(spec, ListOf):
        return "a list" + (f" of {spec.length}" if spec.length else "")
    return str(spec)


def check_schema(value: Any, spec: Any = None, path: str = "") -> list[str]:
    """Messages for every place where ``value`` does not match ``spec`` (default: `RESULTS_SCHEMA`)."""
    spec = RESULTS_SCHEMA if spec is None else spec
    out: list[str] = []
    where = path or "results.json"
    if isinstance(spec, Opt):
        return [] if value is None else check_schema(value, spec.spec, path)
    if isinstance(spec, Absent):
        return check_schema(value, spec.spec, path)
    if spec is NUMBER:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if ok and not math.isfinite(value):
            return [f"{where} is {value!r}, not a finite number"]
        return [] if ok else [f"{where} should be a number, got {_describe(value)}"]
    if isinstance(spec, type):
        ok = isinstance(value, spec) and not (spec is int and isinstance(value, bool))
        return [] if ok else [f"{where} should be {_type_name(spec)}, got {_describe(value)}"]
    if isinstance(spec, ListOf):
        if not isinstance(value, list):
            return [f"{where} should be {_type_name(spec)}, got {_describe(value)}"]
        if spec.length is not None and len(value) != spec.length:
            out.append(f"{where} should have {spec.length} elements, has {len(value)}")
        for i, element in enumerate(value):
            out += check_schema(element, spec.spec, f"{where}[{i}]")
        return out
    if isinstance(spec, MapOf):
        if not isinstance(value, dict):
            return [f"{where} should be an object, got {_describe(value)}"]
        for key, element in value.items():
            out += check_schema(element, spec.spec, f"{where}.{key}")
        return out
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            return [f"{where} should be an object, got {_describe(value)}"]
        for key, sub in spec.items():
            sub_path = f"{path}.{key}" if path else key
            if key not in value:
                if not (isinstance(sub, Absent) or (isinstance(sub, Opt) and sub.absent_ok)):
                    out.append(f"{sub_path} is missing")
                continue
            out += check_schema(value[key], sub, sub_path)
        return out
    raise TypeError(f"bad schema spec {spec!r}")


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, (str, int, float, bool)) else type(value).__name__
    return text if len(text) < 40 else text[:37] + "..."


# ------------------------------------------------------------------------- datasets


class DatasetResolver:
    """Loads (and remembers) the dataset items a run names, so a board loads each dataset once.

    The key is (task, source, revision, limit). ``source`` is the run's recorded
    ``datasets.<task>.source``: ``"samples"`` means the bundled sample sets.
    """

    def __init__(self) -> None:
        self._cache: dict[tuple, Any] = {}

    def load(self, task_id: str, source: str, revision: str | None, limit: int | None):
        """A `LoadedTask`, or raises what `load_task` raised."""
        key = (task_id, source, revision, limit)
        if key not in self._cache:
            # datasets takes a second or more to import: only a validation that reloads data pays for it.
            from s2sbench_hf.data.sources import load_task

            try:
                self._cache[key] = load_task(
                    task_id, None if source == SAMPLES_SOURCE else source, limit=limit, revision=revision
                )
            except Exception as err:  # noqa: BLE001 - remembered and reported as a problem by the caller
                self._cache[key] = err
        value = self._cache[key]
        if isinstance(value, Exception):
            raise value
        return value


# ----------------------------------------------------------------------- the checks


def results_path(path: str | os.PathLike) -> Path:
    """``results.json`` itself, given the file or the run folder that holds it."""
    path = Path(path)
    return path / "results.json" if path.is_dir() else path


def validate_run(
    path: str | os.PathLike,
    *,
    check_dataset: bool = True,
    resolver: DatasetResolver | None = None,
) -> ValidationReport:
    """Validate ``results.json`` (or its folder) and the samples files beside it; collect every problem.

    ``check_dataset=False`` skips loading the datasets (then item ids are only
    checked for completeness against each other and fingerprints are not
    compared): for quick local checks, never for the leaderboard.
    """
    file = results_path(path)
    report = ValidationReport(path=file)
    try:
        results = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        report.add("missing_file", f"{file} does not exist. Give a run folder written by `s2sbench run`.")
        return report
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        report.add("malformed", f"{file.name} is not valid JSON ({err}).")
        return report
    if not isinstance(results, dict):
        report.add("malformed", f"{file.name} should hold a JSON object, got {_describe(results)}.")
        return report
    report.results = results

    version = results.get("schema_version")
    if version is not None and version not in KNOWN_SCHEMA_VERSIONS:
        report.add(
            "schema_version",
            f"schema_version {version!r} is not one this validator knows ({', '.join(KNOWN_SCHEMA_VERSIONS)}). "
            "Upgrade s2sbench_hf, or re-run with this version.",
        )
    for message in check_schema(results):
        report.add("schema", message + ".")
    _check_known_values(results, report)
    _check_model(results, report)

    config = results.get("config") if isinstance(results.get("config"), dict) else {}
    tasks = [t for t in config.get("tasks", []) if isinstance(t, str) and t in TASKS] if isinstance(
        config.get("tasks"), list) else []
    settings = [s for s in config.get("settings", []) if s in SETTINGS] if isinstance(
        config.get("settings"), list) else []
    if not settings:
        return report
    resolver = resolver or DatasetResolver()
    for task_id in tasks:
        _check_task(file.parent, results, task_id, settings, report, check_dataset, resolver)
    _check_overall(results, report)
    return report


def _check_known_values(results: Mapping, report: ValidationReport) -> None:
    config = results.get("config")
    if not isinstance(config, dict):
        return
    tasks = config.get("tasks") if isinstance(config.get("tasks"), list) else []
    for t in tasks:
        if t not in TASKS:
            report.add("schema", f"config.tasks names the unknown task {t!r} (known: {', '.join(TASKS)}).")
    if isinstance(tasks, list) and not tasks:
        report.add("schema", "config.tasks is empty: the run evaluated nothing.")
    for s in config.get("settings") if isinstance(config.get("settings"), list) else []:
        if s not in SETTINGS:
            report.add("schema", f"config.settings names the unknown setting {s!r} (known: {', '.join(SETTINGS)}).")
    if config.get("scoring_rule") not in (None, *SCORING_RULES):
        report.add("schema", f"config.scoring_rule {config['scoring_rule']!r} is not one of {SCORING_RULES}.")
    if config.get("tie_policy") not in (None, *TIE_POLICIES):
        report.add("schema", f"config.tie_policy {config['tie_policy']!r} is not one of {TIE_POLICIES}.")
    for section in ("datasets", "results"):
        block = results.get(section)
        if not isinstance(block, dict):
            continue
        for t in tasks:
            if t in TASKS and t not in block:
                report.add("schema", f"{section}.{t} is missing although config.tasks lists {t!r}.", task=t)
        for t in block:
            if t not in tasks:
                report.add("schema", f"{section}.{t} is present but config.tasks does not list {t!r}.", task=t)


def _check_model(results: Mapping, report: ValidationReport) -> None:
    model = results.get("model")
    if not isinstance(model, dict):
        return
    if not str(model.get("model_id") or "").strip():
        report.add("model_identity", "model.model_id is empty: the result does not say which model it is.")
    if not (model.get("revision") or model.get("content_hash")):
        report.add(
            "model_identity",
            "neither model.revision nor model.content_hash is set: the numbers cannot be tied to one "
            "version of the model. Re-run with --revision (a Hub commit) or from a local folder.",
        )
    model_id = str(model.get("model_id") or "")
    if os.path.isabs(model_id) or model_id.startswith((".", "~")):
        report.warn(
            "model_identity",
            f"model.model_id {model_id!r} is a local path; others cannot load it (content_hash identifies it).",
        )


def _task_section(results: Mapping, section: str, task_id: str) -> dict:
    block = results.get(section)
    value = block.get(task_id) if isinstance(block, dict) else None
    return value if isinstance(value, dict) else {}


def _check_task(
    folder: Path,
    results: Mapping,
    task_id: str,
    settings: list[str],
    report: ValidationReport,
    check_dataset: bool,
    resolver: DatasetResolver,
) -> None:
    task = get_task(task_id)
    config = results["config"]
    info = _task_section(results, "datasets", task_id)

    # The dataset: the items that must be there, and its identity.
    expected: dict[str, Any] | None = None
    if check_dataset and isinstance(info.get("source"), str):
        limit = config.get("limit") if isinstance(config.get("limit"), int) else None
        revision = info.get("revision") if isinstance(info.get("revision"), str) else None
        try:
            loaded = resolver.load(task_id, info["source"], revision, limit)
        except Exception as err:  # noqa: BLE001 - any loading failure is one problem
            report.add(
                "dataset_unavailable",
                f"the dataset {info['source']!r} cannot be loaded to check the run against ({err}). "
                "Results must name a dataset that others can load (a Hub id, or 'samples').",
                task=task_id,
            )
        else:
            expected = {item.id: item for item in loaded.items}
            got_fp, want_fp = info.get("fingerprint"), loaded.info.get("fingerprint")
            if got_fp != want_fp:
                report.add(
                    "fingerprint_mismatch",
                    f"datasets.{task_id}.fingerprint is {got_fp!r} but the dataset {info['source']!r} has "
                    f"{want_fp!r}: the run scored different data. Re-run on the current dataset.",
                    task=task_id,
                )
            if info.get("num_rows") != loaded.info.get("num_rows"):
                report.add(
                    "fingerprint_mismatch",
                    f"datasets.{task_id}.num_rows is {info.get('num_rows')!r} but the dataset has "
                    f"{loaded.info.get('num_rows')!r} rows.",
                    task=task_id,
                )

    # The records.
    samples = folder / f"samples_{task_id}.jsonl"
    if not samples.is_file():
        report.add("missing_file", f"{samples.name} is missing: every task needs its per-item records.", task=task_id)
        return
    records = _read_records(samples, task_id, report)
    failed = {
        e.get("item_id") for e in results.get("errors") or [] if isinstance(e, dict) and e.get("task") == task_id
    }
    kept = _check_records(task, records, settings, expected, failed, report)

    # The metrics, recomputed.
    def option(key: str, allowed: Any, default: Any) -> Any:
        value = config.get(key, default)
        ok = value in allowed if isinstance(allowed, tuple) else isinstance(value, int) and not isinstance(value, bool)
        return value if ok else default

    try:
        recomputed = metrics.summarize_records(
            task,
            kept,
            settings,
            scoring_rule=option("scoring_rule", SCORING_RULES, "mean"),
            tie_policy=option("tie_policy", TIE_POLICIES, "reference"),
            n_bootstrap=option("n_bootstrap", int, 1000),
            seed=option("seed", int, 0),
        )
    except Exception as err:  # noqa: BLE001 - e.g. records so broken that no metric can be computed
        report.add("metric_mismatch", f"the metrics cannot be recomputed from the samples ({err}).", task=task_id)
        return
    recomputed.pop("item_ids", None)
    if expected is not None:
        recomputed["n_failed"] = len(expected) + len(loaded.errors) - recomputed["n_items"]
    report.recomputed[task_id] = recomputed
    reported = _task_section(results, "results", task_id)
    for path, got, want in _differences(reported, recomputed, f"results.{task_id}"):
        report.add(
            "metric_mismatch",
            f"{path} is reported as {_fmt(got)} but the samples give {_fmt(want)}.",
            task=task_id,
        )


def _read_records(path: Path, task_id: str, report: ValidationReport) -> list[tuple[int, Record]]:
    """The records of a samples file with their line numbers; a bad line is a problem, not the end."""
    fields = Record.__dataclass_fields__
    types = {"task": str, "item_id": str, "setting": str, "choice": int, "is_answer": bool,
             "continuation": str, "nll_sum": NUMBER, "n_tokens": int, "n_bytes": int}
    out: list[tuple[int, Record]] = []
    try:
        lines = list(jsonl_objects(path))
    except (OSError, UnicodeDecodeError) as err:
        report.add("malformed", f"{path.name} cannot be read ({err}).", task=task_id)
        return out
    for number, row, problem in lines:
        if problem:
            report.add("malformed", f"{path.name}, line {number}: {problem}.", task=task_id)
            continue
        wrong = [m for key, spec in types.items() for m in check_schema(row.get(key), spec, key)
                 if key in row] + [f"{key} is missing" for key in types if key not in row]
        if wrong:
            report.add(
                "malformed", f"{path.name}, line {number}: " + "; ".join(wrong) + ".",
                task=task_id, item_id=row.get("item_id") if isinstance(row.get("item_id"), str) else None,
            )
            continue
        out.append((number, Record(**{k: v for k, v in row.items() if k in fields})))
    return out


def _check_records(
    task,
    records: list[tuple[int, Record]],
    settings: list[str],
    expected: dict[str, Any] | None,
    failed: set,
    report: ValidationReport,
) -> list[Record]:
    """Completeness and agreement with the dataset; returns the records to recompute from (first of duplicates)."""
    k = task.num_choices
    seen: dict[tuple[str, str, int], int] = {}
    kept: list[Record] = []
    unknown_items: dict[str, int] = {}
    for number, r in records:
        key = (r.item_id, r.setting, r.choice)
        if r.task != task.id:
            report.add("record_mismatch", f"line {number} belongs to task {r.task!r}.", task=task.id, item_id=r.item_id)
            continue
        if r.setting not in settings or not 0 <= r.choice < k:
            report.add(
                "unknown_item",
                f"line {number}: setting {r.setting!r}, choice {r.choice} is not part of this run "
                f"(settings {settings}, {k} choices).",
                task=task.id, item_id=r.item_id,
            )
            continue
        if expected is not None and r.item_id not in expected:
            unknown_items[r.item_id] = unknown_items.get(r.item_id, number)
            continue
        if key in seen:
            report.add(
                "duplicate_item",
                f"setting {r.setting!r}, choice {r.choice} is recorded twice (lines {seen[key]} and {number}).",
                task=task.id, item_id=r.item_id,
            )
            continue
        seen[key] = number
        if not (math.isfinite(r.nll_sum) and r.n_tokens > 0):
            report.add(
                "record_mismatch",
                f"line {number}: nll_sum={r.nll_sum!r}, n_tokens={r.n_tokens!r}: a score needs a finite NLL "
                "over at least one token.",
                task=task.id, item_id=r.item_id,
            )
        if expected is not None:
            item = expected[r.item_id]
            wrong = []
            if r.continuation != item.choices[r.choice]:
                wrong.append(f"continuation {r.continuation!r} is not the dataset's {item.choices[r.choice]!r}")
            if r.is_answer != (r.choice == item.label):
                wrong.append(f"is_answer={r.is_answer} but the dataset's answer is choice {item.label}")
            if r.n_bytes != len(item.choices[r.choice].encode("utf-8")):
                wrong.append(f"n_bytes={r.n_bytes} but the continuation has "
                             f"{len(item.choices[r.choice].encode('utf-8'))} UTF-8 bytes")
            if wrong:
                report.add("record_mismatch", f"line {number} ({r.setting}, choice {r.choice}): " + "; ".join(wrong)
                           + ".", task=task.id, item_id=r.item_id)
        kept.append(r)
    for item_id, number in unknown_items.items():
        report.add("unknown_item", f"line {number}: the dataset has no item with this id.", task=task.id,
                   item_id=item_id)

    # Missing: against the dataset when loaded, else against the items seen in the file.
    ids = list(expected) if expected is not None else list(dict.fromkeys(r.item_id for r in kept))
    for item_id in ids:
        missing = [f"{s}/choice {j}" for s in settings for j in range(k) if (item_id, s, j) not in seen]
        if not missing:
            continue
        if item_id in failed:
            report.warn("missing_item", f"no records for {', '.join(missing)}; the run reported this item as "
                        "failed.", task=task.id, item_id=item_id)
        else:
            report.add("missing_item", f"no record for {', '.join(missing)}.", task=task.id, item_id=item_id)
    return kept


def _check_overall(results: Mapping, report: ValidationReport) -> None:
    if not report.recomputed or not isinstance(results.get("overall"), dict):
        return
    if set(report.recomputed) != set(_task_section_keys(results)):
        return  # a task could not be recomputed; its own problems say why
    want = metrics.overall(report.recomputed)
    for path, got, expect in _differences(results["overall"], want, "overall"):
        report.add("metric_mismatch", f"{path} is reported as {_fmt(got)} but the samples give {_fmt(expect)}.")


def _task_section_keys(results: Mapping) -> Iterable[str]:
    config = results.get("config") or {}
    return [t for t in config.get("tasks") or [] if t in TASKS]


def _differences(reported: Any, recomputed: Any, path: str) -> list[tuple[str, Any, Any]]:
    """(path, reported, recomputed) wherever they differ.

    Only keys that both have are compared: the keys a result must have are the
    schema's business, and a file written by an older version may lack a newer
    metric (say ``overall.degradation.relative_gap``) without being wrong.
    """
    if isinstance(recomputed, dict):
        if not isinstance(reported, dict):
            return [(path, reported, recomputed)]
        out = []
        for key, want in recomputed.items():
            if key in reported:
                out += _differences(reported[key], want, f"{path}.{key}")
        return out
    if isinstance(recomputed, (list, tuple)):
        if not isinstance(reported, (list, tuple)) or len(reported) != len(recomputed):
            return [(path, reported, recomputed)]
        out = []
        for i, (got, want) in enumerate(zip(reported, recomputed)):
            out += _differences(got, want, f"{path}[{i}]")
        return out
    if isinstance(recomputed, (int, float)) and not isinstance(recomputed, bool):
        ok = (
            isinstance(reported, (int, float))
            and not isinstance(reported, bool)
            and (
                (math.isnan(recomputed) and math.isnan(reported))
                or math.isclose(reported, recomputed, rel_tol=TOLERANCE, abs_tol=TOLERANCE)
            )
        )
        return [] if ok else [(path, reported, recomputed)]
    return [] if reported == recomputed else [(path, reported, recomputed)]


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.10g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return repr(value)
