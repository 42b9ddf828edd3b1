"""The run folder: ``results.json`` (versioned, with its schema), ``samples_<task>.jsonl``, the reference export.

Layout of an output folder::

    results.json                      model, data, configuration and metrics (RESULTS_SCHEMA_VERSION)
    samples_<task>.jsonl              one line per item x setting x continuation
    reference/<task>/data.jsonl       the items in the reference release's format
    reference/<task>/<setting>/result.jsonl   what the reference accuracy scripts read

The reference story format pairs rows 2k (plausible) and 2k+1 (implausible) by
``uttid``; sCMMLU rows carry ``key`` A-D (docs/protocol.md, "Comparing with
published numbers"). The exported ``loss`` is the number the run compared (its
scoring rule), so the reference accuracy scripts read back the run's accuracy.

**The schema.** `RunResults` (a run of ``s2sbench run``) and `ImportedResults`
(``s2sbench score`` on reference files) are pydantic models of exactly the keys
those commands write: an unknown key is an error, so is a missing one, a number
that is not finite or out of its range (accuracies in [0, 1], counts below
`MAX_ITEMS` / `MAX_COUNT`, parameters below `MAX_PARAMETERS`), and a string
longer than its bound or holding control characters. `SampleRecord` is one line
of a samples file. `write_results` checks every file it writes against them and
`s2sbench_hf.validate` every file it reads, so the two cannot drift: a runner
change that adds a key fails in the tests until the schema has it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import shutil
import typing
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationError,
    create_model,
)

from s2sbench_hf import environment, metrics, protocol
from s2sbench_hf.data.loaded import DataSourceError
from s2sbench_hf.files import atomic_write
from s2sbench_hf.options import FRAMING_OVERRIDES, MAX_BOOTSTRAP, MAX_COUNT, SUMMARY_DEFAULTS, OptionError, RunConfig
from s2sbench_hf.protocol import SCORING_RULES, TIE_POLICIES
from s2sbench_hf.scoring.interface import Record
from s2sbench_hf.tasks import (
    ALL_SETTINGS,
    GAP_PAIRS,
    SETTINGS,
    TASK_ID_PATTERN,
    TASKS,
    UTTERANCE,
    Framing,
    Item,
    S2SBenchError,
    Task,
    gap_settings,
)

RESULTS_SCHEMA_VERSION = "2.0"
"""2.0: the gap's test on items (``degradation.test``), ``notes``, full-content model hashes; the settings with
spoken continuations and the gap between any two settings (``config.gap``, ``degradation.test.first_better``); the
speech-LM sets' ``utterance`` setting, a task's ``breakdown`` and ``overall.utterance`` (optional keys: older 2.0
files stay valid)."""
LETTERS = "ABCDEFGHIJ"
IMPORT_ADAPTER = "reference-import"
"""``model.adapter`` of a results file made from reference-format files (`ImportedResults`)."""

# ----------------------------------------------------------------------------- bounds

MAX_ITEMS = 100_000
"""Items (and dataset rows) per task: 20 times the largest S2SBench task (sCMMLU, 4743)."""
MAX_PARAMETERS = 10**13
MAX_NAME = 1024
"""Ids, versions, paths, fingerprints."""
MAX_TEXT = 20_000
"""Free text: item errors, framing texts, continuations, transcripts."""
MAX_TASKS = 64
"""Tasks in one run: the three S2SBench sets and any a dataset defines (`tasks.TASK_ID_PATTERN`)."""
MAX_FREE_ENTRIES = 64
"""Entries of a free list option (``--max-memory``, ``--model-kwargs``) in a record, at most."""
MAX_ERRORS = len(TASKS) * len(ALL_SETTINGS) * MAX_ITEMS

_UNSAFE = r"\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
"""C1 controls, line/paragraph separators, bidirectional overrides (they reorder what a reader sees)."""
_NAME_FORBIDDEN = r"[\x00-\x1f" + _UNSAFE + "]"
_TEXT_FORBIDDEN = r"[\x00-\x08\x0b-\x1f" + _UNSAFE + "]"
"""Free text may hold tabs and line feeds (prompt framings do); no other control character."""


def _without(forbidden: str) -> str:
    """A pattern (checked by pydantic-core, in Rust) that matches strings without the ``forbidden`` class."""
    return "^[^" + forbidden[1:-1] + "]*$"


Name = Annotated[str, StringConstraints(max_length=MAX_NAME, pattern=_without(_NAME_FORBIDDEN))]
"""One line: no control characters at all."""
Text = Annotated[str, StringConstraints(max_length=MAX_TEXT, pattern=_without(_TEXT_FORBIDDEN))]
"""Free text: tabs and line feeds allowed (prompt framings have them), no other control character."""
Fraction = Annotated[float, Field(ge=0, le=1)]
SignedFraction = Annotated[float, Field(ge=-1, le=1)]
Real = Annotated[float, Field(ge=-1e12, le=1e12)]
ItemCount = Annotated[int, Field(ge=0, le=MAX_ITEMS)]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
Interval = Annotated[list[Fraction], Field(min_length=2, max_length=2)]
SignedInterval = Annotated[list[SignedFraction], Field(min_length=2, max_length=2)]
TaskId = Annotated[str, StringConstraints(pattern="^" + TASK_ID_PATTERN.pattern + "$")]
"""A registered S2SBench task or one a dataset defines (the board ranks only the registered ones)."""
Setting = Literal[ALL_SETTINGS]  # type: ignore[valid-type]  # a Literal of a constant's values, read at run time (pydantic does)
"""A setting a task was scored in: one of ``--settings`` (`tasks.SETTINGS`) or an utterance task's ``utterance``."""
GapPair = Literal[GAP_PAIRS]  # type: ignore[valid-type]
ScoringRule = Literal[SCORING_RULES]  # type: ignore[valid-type]
TiePolicy = Literal[TIE_POLICIES]  # type: ignore[valid-type]
TaskList = Annotated[list[TaskId], Field(min_length=1, max_length=MAX_TASKS)]
SettingList = Annotated[list[Literal[SETTINGS]], Field(min_length=1, max_length=len(SETTINGS))]  # type: ignore[valid-type]
"""``config.settings``: values of ``--settings``, never ``utterance``."""


def _scalar(value: Any) -> Any:
    """A JSON scalar: null, true/false, a finite number, or `Text`."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        if not (isinstance(value, int) and abs(value) < 10**15) and not (
            isinstance(value, float) and math.isfinite(value)
        ):
            raise ValueError("a number here must be finite and below 1e15")
        return value
    if isinstance(value, str):
        if len(value) > MAX_TEXT or re.search(_TEXT_FORBIDDEN, value):
            raise ValueError(f"a text here must be at most {MAX_TEXT} characters without control characters")
        return value
    raise ValueError(f"it should be a string, a number, true/false or null, not {describe_value(value)}")


Scalar = Annotated[Any, AfterValidator(_scalar)]


class _Strict(BaseModel):
    """No type coercion, no unknown keys, no infinities or NaN."""

    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)


# ----------------------------------------------------------------------- the metrics


class OverallSetting(_Strict):
    accuracy: Fraction


class SettingResult(_Strict):
    accuracy: Fraction
    accuracy_ci: Interval
    argmin_accuracy: Fraction
    n_comparisons: Count
    answer_loss: Real | None = None
    distractor_loss: Real | None = None
    loss_difference: Real | None = None
    n_windowed_clips: ItemCount | None = None
    """Clips longer than one audio window, scored over several (a model run writes it; 0 where the context is text)."""


class GapTest(_Strict):
    """`metrics.gap_test`: the paired test of the gap over items (first and second: the settings of ``config.gap``)."""

    method: Literal["mcnemar", "sign_flip_exact", "sign_flip_monte_carlo"]
    p_value: Fraction
    n_discordant: ItemCount
    first_better: ItemCount
    second_better: ItemCount
    n_resamples: Count | None


class Degradation(_Strict):
    """The gap between the two settings of ``config.gap`` (``A:B``): accuracy of A minus that of B."""

    gap: SignedFraction
    gap_ci: SignedInterval
    relative_gap: Real | None
    test: GapTest


class BreakdownGroup(_Strict):
    """The items of one value of a task's breakdown field, and their accuracy per setting."""

    n_items: ItemCount
    settings: dict[Setting, OverallSetting]


class Breakdown(_Strict):
    """`metrics.breakdown`: the accuracy per value of ``by`` (`tasks.Task.breakdown`, an item field)."""

    by: Name
    groups: Annotated[dict[Name, BreakdownGroup], Field(max_length=MAX_ITEMS)]


class TaskResult(_Strict):
    n_items: ItemCount
    settings: dict[Setting, SettingResult]
    degradation: Degradation | None = None
    n_failed: ItemCount
    breakdown: Breakdown | None = None
    """Only for a task with a breakdown field (SALMon by subset, sWUGGY in and out of vocabulary)."""


class OverallDegradation(_Strict):
    gap: SignedFraction
    relative_gap: Real | None = None


class OverallUtterance(_Strict):
    """The speech-LM sets' own average: the mean utterance accuracy over the utterance tasks."""

    tasks: TaskList
    accuracy: Fraction


class OverallResult(_Strict):
    """`metrics.overall`: empty when no task scored an item. ``tasks``, ``settings`` and ``degradation`` average the
    continuation tasks (S2SBench's average), ``utterance`` the utterance tasks."""

    tasks: TaskList | None = None
    settings: dict[Literal[SETTINGS], OverallSetting] | None = None  # type: ignore[valid-type]
    degradation: OverallDegradation | None = None
    utterance: OverallUtterance | None = None


class ItemErrorEntry(_Strict):
    task: TaskId
    item_id: Name
    problem: Text
    fix: Text


# ------------------------------------------------------------------ model and data


class RecognizerInfo(_Strict):
    model_id: Name
    model_class: Name | None = None
    dtype: Name | None = None


class ModelInfo(_Strict):
    """What `Scorer.describe` returns: every key an adapter of this package records."""

    adapter: Name
    model_id: Name | None = None
    revision: Name | None = None
    content_hash: Name | None = None
    dtype: Name | None = None
    device: Name | None = None
    model_class: Name | None = None
    num_parameters: Annotated[int, Field(ge=0, lt=MAX_PARAMETERS)] | None = None
    chat_template: bool | None = None
    speech_lora: bool | None = None
    speech_tokens: Text | None = None
    """What a spoken continuation's score sums over (the codec and codebook), for adapters that score speech."""
    language_model_adapter: Name | None = None
    recognizer: RecognizerInfo | None = None
    token_rule: Name | None = None
    backend: Name | None = None
    """The engine that scored (``vllm``; absent: transformers) and its version (``backend_version``)."""
    backend_version: Name | None = None
    audio_window_seconds: Annotated[float, Field(gt=0, le=86400)] | None = None
    """Seconds of speech in one encoder window: a longer clip was scored over consecutive windows (or refused)."""
    """How the prompt's text was tokenized (`scoring.adapters.base.TOKEN_RULE`); absent for a scorer of your own."""


class DatasetInfo(_Strict):
    """`LoadedTask.info`: where a task's items came from and the fingerprint of their data."""

    source: Name
    config: Name
    split: Name
    revision: Name | None = None
    num_rows: ItemCount
    fingerprint: Name
    format: Name | None = None
    jsonl: Name | None = None
    audio_dir: Name | None = None
    choice_audio_dir: Name | None = None
    """A release's folder of the continuations' speech (``<task>/choice_wavs``), where it has one."""

    @classmethod
    def check(cls, task_id: str, info: Mapping[str, Any]) -> None:
        """`DataSourceError` when a loaded task's ``info`` cannot be recorded as ``datasets.<task_id>``: checked
        as soon as the data is loaded, so that a run never ends, after all its scoring, without a results.json."""
        try:
            cls.model_validate(info)
        except ValidationError as err:
            problems = [schema_message({**e, "loc": ("datasets", task_id, *e["loc"])})[1] for e in err.errors()]
            raise DataSourceError(
                f"task {task_id!r}: results.json could not record where its data came from ({'; '.join(problems)}); "
                "nothing was scored. Give the dataset from a plain path (no control characters, at most "
                f"{MAX_NAME} characters) with at most {MAX_ITEMS:,} rows per task."
            ) from None


class FramingInfo(_Strict):
    audio_prefix: Text
    text_separator: Text
    audio_separator: Text
    keep_trailing_space: bool = False
    """Absent in files written before it was recorded: those dropped the trailing whitespace."""


def _option_type(f: dataclasses.Field, hint: Any) -> Any:
    """The schema type of one run option, from its type and its metadata (choices, range)."""
    choices = f.metadata.get("choices") or ()
    optional = type(None) in typing.get_args(hint)
    base = next((t for t in typing.get_args(hint) if t is not type(None)), hint) if optional else hint
    if f.name == "tasks":
        kind: Any = TaskList
    elif typing.get_origin(base) is tuple and choices:
        kind = Annotated[list[Literal[tuple(choices)]], Field(min_length=1, max_length=len(choices))]  # type: ignore[misc]
    elif typing.get_origin(base) is tuple:  # free KEY=VALUE entries (--max-memory, --model-kwargs)
        kind = Annotated[list[Name], Field(max_length=MAX_FREE_ENTRIES)]
    elif base is bool:
        kind = bool
    elif base is int:
        kind = Annotated[int, Field(ge=f.metadata.get("minimum") or 0, le=f.metadata.get("maximum") or MAX_COUNT)]
    else:
        kind = Literal[tuple(choices)] if choices else Name
    return kind | None if optional else kind


OPTIONS_ADDED_IN_2_0 = ("backend", "device_map", "max_memory", "model_kwargs")
"""Run options recorded since after schema 2.0's first files: absent from those, read as their defaults (what
those runs loaded the model with)."""


def _recorded_default(f: dataclasses.Field) -> Any:
    """What an absent option of the ``config`` block reads as: its default for `OPTIONS_ADDED_IN_2_0`, else
    required (``...``)."""
    if f.name not in OPTIONS_ADDED_IN_2_0:
        return ...
    return list(f.default) if isinstance(f.default, tuple) else f.default


if typing.TYPE_CHECKING:

    class RunConfigBlock(_Strict):
        """To mypy, a model without attributes: the real one is built below, from the run options' fields. Code reads
        it through `RunResults.run_config` (the typed `options.RunConfig`) and `RunResults.framing`, so that a
        misspelt option is a type error, not an ``Any``."""

else:
    RunConfigBlock = create_model(
        "RunConfigBlock",
        __base__=_Strict,
        __doc__="The ``config`` block of a run (`options.RunConfig.record`): built from the run options' own fields, "
        "so the schema follows every new option.",
        **{
            f.name: (_option_type(f, hint), _recorded_default(f))
            for f, hint in ((f, typing.get_type_hints(RunConfig)[f.name]) for f in dataclasses.fields(RunConfig))
            if f.name not in FRAMING_OVERRIDES
        },
        framing=(dict[TaskId, FramingInfo], ...),
    )


class Compute(_Strict):
    records_scored: Count
    records_from_cache: Count
    processes: Annotated[int, Field(ge=1, le=100_000)]
    batch_size: dict[Setting, Annotated[int, Field(ge=1, le=MAX_COUNT)]]
    """Items per forward pass in each setting: ``--batch-size`` or the automatic choice for the device."""


CommandLine = Annotated[str, StringConstraints(max_length=environment.MAX_COMMAND, pattern=_without(_NAME_FORBIDDEN))]
"""A `Name` as long as `environment.MAX_COMMAND`."""


class Hardware(_Strict):
    """What the run ran on (`environment.hardware`): a fact the system did not report is None."""

    platform: Name
    cpu: Name | None
    cpu_count: Annotated[int, Field(ge=1, le=MAX_COUNT)] | None
    memory_gib: Annotated[float, Field(ge=0, le=1e9)] | None
    gpus: Annotated[list[Name], Field(max_length=1024)]
    cuda: Name | None


class Environment(_Strict):
    """The ``environment`` block (`environment.environment`). Only python, torch and transformers were recorded
    before the rest, so the rest may be absent: older files stay valid."""

    python: Name
    torch: Name
    transformers: Name
    packages: Annotated[dict[Name, Name], Field(max_length=256)] | None = None
    """The other imported packages this package declares, by name: their versions."""
    git_commit: Annotated[str, StringConstraints(pattern=environment.COMMIT_PATTERN)] | None = None
    git_dirty: bool | None = None
    hardware: Hardware | None = None
    command: CommandLine | None = None
    """The ``s2sbench`` command line, or the `evaluate` ``compute()`` call, that made the run."""

    def versions(self) -> dict[str, str]:
        """Every recorded version by name: python, torch, transformers and the other packages."""
        return environment.recorded_versions(self.model_dump())


class _ResultsFile(_Strict):
    schema_version: Literal[RESULTS_SCHEMA_VERSION]  # type: ignore[valid-type]
    s2sbench_hf_version: Name
    created: Name
    duration_s: Annotated[float, Field(ge=0, le=1e9)]
    model: ModelInfo
    results: dict[TaskId, TaskResult]
    overall: OverallResult
    errors: Annotated[list[ItemErrorEntry], Field(max_length=MAX_ERRORS)]


class RunResults(_ResultsFile):
    """``results.json`` of ``s2sbench run`` (`runner.evaluate_model`)."""

    config: RunConfigBlock
    notes: Annotated[list[Text], Field(max_length=16)]
    """What makes the numbers differ from the intended protocol (`options.RunConfig.notes`)."""
    datasets: dict[TaskId, DatasetInfo]
    compute: Compute
    environment: Environment
    _run_config: RunConfig | None = PrivateAttr(default=None)

    def run_config(self) -> RunConfig:
        """The run's configuration, typed: the ``config`` block read back into `options.RunConfig`
        (`RunConfig.from_record`), checked as when the run was started. What rerun, validate and the board read:
        built once per parsed file, since they ask for it per task and per sort key."""
        if self._run_config is None:
            self._run_config = RunConfig.from_record(self.config.model_dump())
        return self._run_config

    def framing(self, task_id: str) -> Framing:
        """The framing task ``task_id`` was run with (``config.framing``)."""
        return Framing(**self.config.model_dump()["framing"][task_id])


class ImportedConfig(_Strict):
    model: Name
    adapter: Literal[IMPORT_ADAPTER]  # type: ignore[valid-type]
    tasks: TaskList
    settings: SettingList
    gap: GapPair
    dataset: None
    limit: None
    scoring_rule: ScoringRule
    tie_policy: TiePolicy
    n_bootstrap: Annotated[int, Field(ge=1, le=MAX_BOOTSTRAP)]
    seed: Annotated[int, Field(ge=0, lt=2**63)]


class ImportedDatasetInfo(_Strict):
    source: Literal["reference-files"]
    files: Annotated[dict[Name, Name], Field(max_length=len(SETTINGS) + 1)]
    num_rows: ItemCount
    fingerprint: Name


class ImportedResults(_ResultsFile):
    """``results.json`` of ``s2sbench score`` (`reference.score_reference`): metrics without samples."""

    config: ImportedConfig
    datasets: dict[TaskId, ImportedDatasetInfo]


class SampleRecord(_Strict):
    """One line of ``samples_<task>.jsonl`` (`Record.to_dict`)."""

    task: TaskId
    item_id: Annotated[Name, StringConstraints(min_length=1)]
    setting: Setting
    choice: Annotated[int, Field(ge=0, lt=len(LETTERS))]
    is_answer: bool
    continuation: Text
    nll_sum: Real
    n_tokens: Annotated[int, Field(ge=1, le=MAX_COUNT)]
    n_bytes: Count
    mean_nll: Real
    ppl: Annotated[float, Field(ge=0)]
    extra: Annotated[dict[Name, Scalar], Field(max_length=32)] | None = None

    def record(self) -> Record:
        return Record(
            self.task,
            self.item_id,
            self.setting,
            self.choice,
            self.is_answer,
            self.continuation,
            self.nll_sum,
            self.n_tokens,
            self.n_bytes,
            self.extra,
        )


# ---------------------------------------------------------------------- the checks


class ResultsSchemaError(S2SBenchError, ValueError):
    """A results file does not match its schema; ``problems`` lists every (path, message)."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = list(problems)
        listing = "\n".join(f"  - {message}" for _, message in self.problems[:50])
        more = f"\n  ... and {len(self.problems) - 50} more" if len(self.problems) > 50 else ""
        super().__init__(f"results.json does not match its schema ({len(self.problems)} problem(s)):\n{listing}{more}")

    def __reduce__(self):
        return (type(self), (self.problems,))


def schema_for(data: Any) -> type[RunResults] | type[ImportedResults]:
    """`ImportedResults` for a reference import (``model.adapter``), else `RunResults`."""
    model = data.get("model") if isinstance(data, Mapping) else None
    adapter = model.get("adapter") if isinstance(model, Mapping) else None
    return ImportedResults if adapter == IMPORT_ADAPTER else RunResults


def check_results(
    data: Any, schema: type[RunResults] | type[ImportedResults] | None = None
) -> tuple[RunResults | ImportedResults | None, list[tuple[str, str]]]:
    """The parsed file (None when it does not match) and every problem as (path, message)."""
    schema = schema or schema_for(data)
    try:
        parsed = schema.model_validate(data)
    except ValidationError as err:
        return None, [schema_message(e) for e in err.errors()]
    problems = _consistency(parsed)
    return (None if problems else parsed), problems


def results_problems(data: Any) -> list[tuple[str, str]]:
    """Every (path, message) where ``data`` does not match its schema; empty when it does."""
    return check_results(data)[1]


def _consistency(parsed: RunResults | ImportedResults) -> list[tuple[str, str]]:
    """What one key says about another: every task of ``config.tasks`` and no other, each with its settings; and a
    run's ``config`` block is a configuration a run could have had (`RunResults.run_config`)."""
    out: list[tuple[str, str]] = []
    config = SimpleNamespace(**parsed.config.model_dump())  # the fields both kinds of file have
    for name in ("tasks", "settings"):
        values = getattr(config, name)
        for value in {v for v in values if values.count(v) > 1}:
            out.append((f"config.{name}", f"config.{name} lists {value!r} twice"))
    blocks = {"datasets": parsed.datasets, "results": parsed.results}
    if isinstance(parsed, RunResults):
        blocks["config.framing"] = config.framing
        try:
            parsed.run_config()
        except OptionError as err:
            out.append(("config", f"config is not a configuration a run accepts: {err}"))
    for section, block in blocks.items():
        for task in config.tasks:
            if task not in block:
                out.append((f"{section}.{task}", f"{section}.{task} is missing although config.tasks lists {task!r}"))
        for task in block:
            if task not in config.tasks:
                out.append(
                    (f"{section}.{task}", f"{section}.{task} is present but config.tasks does not list {task!r}")
                )
    for task, result in parsed.results.items():
        if result.n_items:
            out += _task_consistency(task, result, config.settings, config.gap)
    for i, error in enumerate(parsed.errors):
        if error.task not in config.tasks:
            out.append(
                (f"errors[{i}].task", f"errors[{i}] names task {error.task!r}, which config.tasks does not list")
            )
    return out


def _task_consistency(task: str, result: TaskResult, settings: Sequence[str], gap: str) -> list[tuple[str, str]]:
    """A scored task has exactly the settings it was run in: ``config.settings``, or ``utterance`` alone for an
    utterance task (one whose result has that setting); and a degradation only where both settings of the gap were
    run."""
    where = f"results.{task}"
    utterance = UTTERANCE in result.settings
    expected = [UTTERANCE] if utterance else list(settings)
    ran = "an utterance task is scored in utterance alone" if utterance else "config.settings does not list it"
    out = [
        (f"{where}.settings.{s}", f"{where}.settings.{s} is missing although the task was run in setting {s!r}")
        for s in expected
        if s not in result.settings
    ]
    out += [
        (f"{where}.settings.{s}", f"{where}.settings.{s} is present but {ran}: the run did not score it")
        for s in result.settings
        if s not in expected
    ]
    if result.degradation is not None and not set(gap_settings(gap)) <= set(expected):
        out.append(
            (
                f"{where}.degradation",
                f"{where}.degradation is present but the task was not run in both settings of config.gap {gap!r}",
            )
        )
    return out


_WANTED = {
    "float_type": "a number",
    "int_type": "an integer",
    "string_type": "a string",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "none_required": "null",
}


def error_path(loc: Sequence[Any]) -> str:
    """A pydantic error location as a results.json path: ``results.scmmlu.settings.audio.accuracy``, ``errors[3]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[key]":
            continue
        elif _PLAIN_KEY.fullmatch(str(part)):
            out += f".{part}" if out else str(part)
        else:  # a key from the file: quoted, escaped, shortened
            out += f"[{json.dumps(str(part)[:40], ensure_ascii=True)}]"
    return out or "the top level"


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")


def schema_message(error: Mapping[str, Any]) -> tuple[str, str]:
    """(path, message) of one pydantic error, worded for the person who has to fix the file."""
    path = error_path(error["loc"])
    kind, value = error["type"], error.get("input")
    if kind == "missing":
        return path, f"{path} is missing"
    if kind == "extra_forbidden":
        return path, f"{path} is not a key of this file (schema {RESULTS_SCHEMA_VERSION}): unknown keys are not allowed"
    if "[key]" in error["loc"]:
        return path, f"{path} is not an allowed key here ({_reason(error['msg'])})"
    if kind in _WANTED:
        return path, f"{path} should be {_WANTED[kind]}, got {describe_value(value)}"
    if kind == "string_pattern_mismatch" and isinstance(value, str):
        found = re.search(_TEXT_FORBIDDEN, value) or re.search(_NAME_FORBIDDEN, value)
        character = f" U+{ord(found.group()):04X}" if found else ""
        return path, f"{path} is {describe_value(value)}: it contains the control character{character}"
    return path, f"{path} is {describe_value(value)}: {_reason(error['msg'])}"


def _reason(msg: str) -> str:
    msg = msg.removeprefix("Value error, ")
    return msg[:1].lower() + msg[1:]


def describe_value(value: Any) -> str:
    """A short, single-line, printable description of any parsed JSON value (never the whole of a big one)."""
    if value is None:
        return "null"
    if isinstance(value, (bool, str)) or (isinstance(value, float)):
        text = json.dumps(value, ensure_ascii=True)
    elif isinstance(value, int):
        digits = len(str(abs(value))) if abs(value) < 10**4000 else 4000
        text = str(value) if digits <= 20 else f"an integer of {digits} digits"
    elif isinstance(value, (list, dict)):
        text = f"{'a list' if isinstance(value, list) else 'an object'} of {len(value)} element(s)"
    else:
        text = type(value).__name__
    return text if len(text) <= 60 else text[:57] + "..."


# ------------------------------------------------------------------------- the files


def _jsonl(rows: Iterable[Mapping[str, Any]]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def write_results(output: Path, results: Mapping[str, Any]) -> Path:
    """Write ``results.json``, after checking it against its schema (`results_problems`).

    A key the schema lacks, a missing key, or a value out of range raises
    `ResultsSchemaError`: the writer and the validator share one schema, so
    they cannot drift apart.
    """
    problems = results_problems(results)
    if problems:
        raise ResultsSchemaError(problems)
    path = Path(output) / "results.json"
    atomic_write(path, json.dumps(results, ensure_ascii=False, indent=2) + "\n")
    return path


def read_results(path: str | os.PathLike) -> dict:
    """Read ``results.json`` (or the folder holding it)."""
    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    return json.loads(path.read_text(encoding="utf-8"))


def write_samples(output: Path, task_id: str, records: Sequence[Record]) -> Path:
    path = Path(output) / f"samples_{task_id}.jsonl"
    atomic_write(path, _jsonl(r.to_dict() for r in records))
    return path


def read_samples(path: str | os.PathLike) -> list[Record]:
    fields = Record.__dataclass_fields__
    rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    return [Record(**{k: v for k, v in row.items() if k in fields}) for row in rows]


class ReferenceExportError(S2SBenchError):
    """The reference format cannot express this run's numbers; the export is not written."""


def export_reference(
    output: Path,
    task: Task,
    items: Sequence[Item],
    records: Sequence[Record],
    settings: Sequence[str],
    *,
    scoring_rule: str = SUMMARY_DEFAULTS.scoring_rule,
    tie_policy: str = SUMMARY_DEFAULTS.tie_policy,
) -> Path:
    """Write the reference-format data and per-setting ``result.jsonl`` files for one task.

    Only ``items`` (those complete in every setting) are exported. Story items
    become rows 2n (answer) and 2n+1 (distractor); sCMMLU items keep one uttid
    with keys A-D. ``loss`` is the score the run compares under ``scoring_rule``
    (`protocol.choice_scores`: the mean NLL per token for ``mean``, as the
    reference scripts write it; the summed NLL for ``sum``; NLL per byte for
    ``bytes``), ``ppl`` its exponential; so the reference accuracy scripts,
    which compare ``loss``, print the run's pairwise accuracy for every rule.

    Their tie rule is fixed (stories: a tie is wrong; sCMMLU: right). Under a tie
    policy that credits a tie otherwise (``half``, ``wrong`` on sCMMLU) an exact
    tie in the exported scores would read back to another accuracy, so then
    `ReferenceExportError` is raised and nothing is written (an earlier export of the task in ``output`` is removed).
    """
    folder = Path(output) / "reference" / task.id
    by_key = {(r.item_id, r.setting, r.choice): r for r in records}
    ids = [item.id for item in items]
    scores = {}
    for s in settings:
        arrays = metrics.record_arrays(
            [by_key[(i, s, j)] for i in ids for j in range(task.num_choices)], ids, s, task.num_choices
        )
        scores[s] = protocol.choice_scores(arrays["nll_sum"], arrays["n_tokens"], arrays["n_bytes"], scoring_rule)
    labels = np.array([item.label for item in items], dtype=np.int64)
    credit = protocol.tie_credit(tie_policy, task.reference_tie_credit)
    if credit != task.reference_tie_credit:
        tied = {(s, ids[i]): n for s, m in scores.items() for i, n in _ties(m, labels).items()}
        if tied:
            shutil.rmtree(folder, ignore_errors=True)
            where = ", ".join(f"item {i!r} ({s})" for s, i in list(tied)[:5]) + (", and more" if len(tied) > 5 else "")
            raise ReferenceExportError(
                f"task {task.id!r}: no reference export: the reference accuracy scripts count a tie as "
                f"{'right' if task.reference_tie_credit else 'wrong'}, this run (--tie-policy {tie_policy}) gives it "
                f"credit {credit:g}, and {sum(tied.values())} comparison(s) are exact ties: {where}. Rerun with "
                "--tie-policy reference for an export that reads back to the same accuracy; results.json is complete."
            )
    data_rows: list[dict[str, Any]] = []
    result_rows: dict[str, list[dict[str, Any]]] = {s: [] for s in settings}
    for n, item in enumerate(items):
        if task.num_choices == 2:
            order = [item.label, 1 - item.label]
            for offset, choice in enumerate(order):
                uttid = 2 * n + offset
                data_rows.append(
                    {"uttid": uttid, "first": item.context, "last": item.choices[choice], "item_id": item.id}
                )
                for s in settings:
                    result_rows[s].append(_reference_row(uttid, None, float(scores[s][n, choice])))
        else:
            row = {"uttid": n, "first": item.context, "answer": LETTERS[item.label], "item_id": item.id}
            row.update({LETTERS[j]: c for j, c in enumerate(item.choices)})
            data_rows.append(row)
            for s in settings:
                for j in range(task.num_choices):
                    result_rows[s].append(_reference_row(n, LETTERS[j], float(scores[s][n, j])))
    atomic_write(folder / "data.jsonl", _jsonl(data_rows))
    for s, rows in result_rows.items():
        atomic_write(folder / s / "result.jsonl", _jsonl(rows))
    return folder


def _ties(scores: np.ndarray, labels: np.ndarray) -> dict[int, int]:
    """Row -> number of distractors whose score equals the answer's exactly (rows with at least one)."""
    answer = scores[np.arange(len(labels)), labels][:, None]
    counts = (scores == answer).sum(axis=1) - 1
    return {int(i): int(counts[i]) for i in np.flatnonzero(counts)}


def _reference_row(uttid: int, key: str | None, loss: float) -> dict:
    return {"uttid": uttid, "key": key, "loss": [loss], "ppl": [math.exp(min(loss, 700.0))]}
