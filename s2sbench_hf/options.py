"""The run options, in one place: what model to load (`ModelSpec`) and how to run it (`RunOptions`).

Each option is a typed dataclass field whose metadata carries its help text and,
where it differs from the field name, its command-line flag. Everything else is
derived from these two classes, so an option can never be missing from one
front door:

* the ``s2sbench run`` / ``sweep`` flags (`add_arguments`, `from_namespace`),
* the keyword arguments of the `evaluate` metric's model mode (`RunConfig.from_kwargs`),
* the ``config`` block of ``results.json`` (`RunConfig.record`) and what a sweep
  compares to skip a checkpoint (`RunConfig.decisive`),
* the arguments a scorer is loaded with and the key of loaded models (`ModelSpec`).

Values are checked when the configuration is built (`RunConfig.__post_init__`),
before any model is loaded or item scored.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from s2sbench_hf.data.loaded import DEFAULT_DATASET
from s2sbench_hf.model_loading import (
    TENSOR_PARALLEL_KEYWORDS,
    canonical_device_map,
    canonical_max_memory,
    canonical_model_kwargs,
    device_map_value,
    max_memory_value,
    model_kwargs_value,
)
from s2sbench_hf.protocol import SCORING_RULES, TIE_POLICIES
from s2sbench_hf.tasks import (
    AS_SHIPPED_FRAMING,
    AS_SHIPPED_NOTE,
    DEFAULT_GAP,
    DEFAULT_SETTINGS,
    FRAMING_PRESETS,
    GAP_PAIRS,
    REFERENCE_AS_SHIPPED,
    SETTINGS,
    TASKS,
    UTTERANCE,
    Framing,
    S2SBenchError,
    Task,
    gap_settings,
)

DTYPE_CHOICES = ("auto", "float32", "bfloat16", "float16")
ATTENTION_CHOICES = ("sdpa", "flash_attention_2", "eager")
BACKENDS = ("hf", "vllm")
"""The engines a model is scored with: transformers, or vLLM (s2sbench_hf.scoring.vllm_backend)."""


_Spec = typing.TypeVar("_Spec", bound="ModelSpec")


class OptionError(S2SBenchError, ValueError):
    """An option has a value that cannot work; raised before any work is done."""


MAX_BOOTSTRAP = 10_000
"""Bootstrap resamples at most: a leaderboard recomputes every interval, so their cost is bounded."""
MAX_COUNT = 10_000_000
"""Upper bound of the other integer options (items, tokens): far above any real run, below any overflow."""
MAX_SEED = 2**63 - 1
"""Upper bound of a seed: what numpy and torch take."""


def option(
    default: Any,
    help: str,
    *,
    flag: str | None = None,
    choices: Sequence[str] | None = None,
    metavar: str | None = None,
    decisive: bool = True,
    minimum: int | None = None,
    maximum: int | None = None,
) -> Any:
    """A dataclass field with its command-line help and the range of its values.

    ``flag``: the long option when it is not ``--<name with dashes>``; ``decisive``:
    False for options that never change a number (batching), which a sweep ignores
    when it decides whether a checkpoint is already done; ``minimum``/``maximum``:
    the range of an integer option (checked when a `RunConfig` is built, and by the
    results.json schema).
    """
    metadata = {
        "help": help,
        "flag": flag,
        "choices": choices,
        "metavar": metavar,
        "decisive": decisive,
        "minimum": minimum,
        "maximum": maximum,
    }
    return field(default=default, metadata=metadata)


def range_problems(options: Any) -> list[str]:
    """Each integer field of the dataclass ``options`` outside its ``minimum``/``maximum`` (`option`), in one line."""
    problems = []
    for f in fields(options):
        low, high = f.metadata.get("minimum"), f.metadata.get("maximum", None) or MAX_COUNT
        value = getattr(options, f.name)
        if low is None or value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            problems.append(f"{f.name} must be an integer from {low} to {high}, got {value!r}")
    return problems


def choice_problems(options: Any) -> list[str]:
    """Each single-valued field of the dataclass ``options`` whose value is not one of its ``choices`` (`option`),
    in one line; None passes where it is the default."""
    problems = []
    for f in fields(options):
        choices, value = f.metadata.get("choices"), getattr(options, f.name)
        if (
            choices
            and not isinstance(value, tuple)
            and value not in choices
            and not (value is None and f.default is None)
        ):
            problems.append(f"{f.name} {value!r}: choose from {', '.join(choices)}")
    return problems


@dataclass
class ModelSpec:
    """What decides the loaded model: the same spec loads the same weights the same way."""

    model: str = field(metadata={"help": "Hub model id or local folder (loaded the same way).", "decisive": False})
    adapter: str | None = option(
        None, "model family (default: detected from the config), or python:module:Class for your own scorer."
    )
    revision: str | None = option(None, "model revision on the Hub (branch, tag or commit).")
    dtype: str = option(
        "auto", "weights and activations (auto: bfloat16 on a GPU, else float32).", choices=DTYPE_CHOICES
    )
    device: str = option("auto", "cpu, cuda, cuda:1 ... (auto: a GPU if there is one).")
    attn_implementation: str | None = option(
        None,
        "attention kernel (default: transformers' choice, SDPA where the model supports it).",
        choices=ATTENTION_CHOICES,
    )
    chat_template: bool = option(
        False, "wrap each prompt in the model's chat template as a user turn (default: base framing)."
    )
    trust_remote_code: bool = option(False, "allow the model's own code from the Hub (never implied).")
    backend: str = option(
        "hf",
        "hf: transformers (every family); vllm: the vLLM engine (the families docs/scale.md lists; "
        "pip install s2sbench-hf[vllm]).",
        choices=BACKENDS,
        decisive=False,
    )
    device_map: str | None = option(
        None,
        "split the model over devices as accelerate does: auto, balanced, balanced_low_0, sequential, or a JSON "
        "map of module names to devices (default: the whole model on --device).",
        decisive=False,
    )
    max_memory: tuple[str, ...] = option(
        (),
        "with --device-map: the memory each device may hold, DEVICE=SIZE (cpu=8GiB 0=70GiB); layers past it "
        "are offloaded to the CPU, then to disk.",
        metavar="DEVICE=SIZE",
        decisive=False,
    )
    model_kwargs: tuple[str, ...] = option(
        (),
        "more keyword arguments of the model's from_pretrained, KEY=VALUE, VALUE read as JSON where it is JSON "
        "(quantization_config='{\"load_in_8bit\": true}').",
        metavar="KEY=VALUE",
    )
    asr_model: str | None = option(None, "with --adapter cascade: the Whisper checkpoint that transcribes the speech.")

    def __post_init__(self) -> None:
        problems = loading_problems(self)
        if problems:
            raise OptionError("invalid model options: " + "; ".join(problems) + ".")

    def model_spec(self) -> ModelSpec:
        """Just the model part (of a `RunConfig`), e.g. as the key of a loaded model."""
        return ModelSpec(**{f.name: getattr(self, f.name) for f in fields(ModelSpec)})

    def tensor_parallel(self) -> bool:
        """Whether ``--model-kwargs`` splits each layer over the processes (``tp_plan=auto`` under ``torchrun``):
        then every process scores every batch, instead of each its share of the batches."""
        return any(entry.split("=", 1)[0] in TENSOR_PARALLEL_KEYWORDS for entry in self.model_kwargs)

    @classmethod
    def from_record(cls: type[_Spec], record: Mapping[str, Any], **overrides: Any) -> _Spec:
        """The spec (a `ModelSpec`, or a whole `RunConfig`) of a recorded configuration (``results.json``
        ``config``), ``overrides`` in place of its values; checked as when it was built.

        Every option comes from the record unless overridden, so a re-score
        (`rerun`) loads the model the way the run did, and a new option can never
        be left out of it. JSON's lists are read back as the tuples the fields
        hold; the framing each task ran with stays in the record
        (`results.RunResults.framing`).
        """
        values = {f.name: record.get(f.name, f.default) for f in fields(cls)}
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in {**values, **overrides}.items()}
        return cls(**values)

    def scorer_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of the adapter's constructor.

        The optional ones are left out when unset, so that a user's own `Scorer`
        with a simple signature loads too.
        """
        kwargs: dict[str, Any] = {
            "device": self.device,
            "dtype": self.dtype,
            "revision": self.revision,
            "trust_remote_code": self.trust_remote_code,
        }
        for name in ("chat_template", "asr_model", "attn_implementation"):
            if getattr(self, name):
                kwargs[name] = getattr(self, name)
        if self.device_map is not None:
            kwargs["device_map"] = device_map_value(self.device_map)
        if self.max_memory:
            kwargs["max_memory"] = max_memory_value(self.max_memory)
        if self.model_kwargs:
            kwargs["model_kwargs"] = model_kwargs_value(self.model_kwargs)
        if self.backend != "hf":
            kwargs["backend"] = self.backend
        return kwargs


FROM_PRETRAINED_OPTIONS = {
    "dtype": "dtype",
    "torch_dtype": "dtype",
    "device": "device",
    "device_map": "device_map",
    "max_memory": "max_memory",
    "revision": "revision",
    "trust_remote_code": "trust_remote_code",
    "attn_implementation": "attn_implementation",
}
"""Keyword arguments of ``from_pretrained`` that a model option sets (keyword -> `ModelSpec` field): refused in
``--model-kwargs``, which would set them a second time, apart from what the run records."""
ADAPTER_KEYWORDS = {
    "offload_folder": "the adapter gives a temporary one (set TMPDIR to put it elsewhere)",
    "config": "the adapter loads the model's own config",
    "output_loading_info": "the adapter asks for it, to refuse missing weights",
}
"""Keyword arguments of ``from_pretrained`` that the adapters set themselves, and why."""


def loading_problems(spec: Any) -> list[str]:
    """Put ``spec``'s ``device_map``, ``max_memory`` and ``model_kwargs`` in their canonical form (`model_loading`)
    and return a line for each problem (for `ModelSpec`, `RunConfig`, `RerunOptions`)."""
    problems = []
    for name, canonical in (
        ("device_map", canonical_device_map),
        ("max_memory", canonical_max_memory),
        ("model_kwargs", canonical_model_kwargs),
    ):
        try:
            setattr(spec, name, canonical(getattr(spec, name)))
        except ValueError as err:
            problems.append(str(err))
    owners = {f.name: flag(f) for f in fields(ModelSpec)}
    if spec.max_memory and spec.device_map is None:
        problems.append(
            f"{owners['max_memory']} needs a device map to split the model by: add {owners['device_map']} auto"
        )
    for key in (entry.split("=", 1)[0] for entry in spec.model_kwargs if isinstance(entry, str)):
        if key in TENSOR_PARALLEL_KEYWORDS and spec.device_map is not None:
            problems.append(f"model_kwargs {key!r} splits the model over processes: drop {owners['device_map']}")
        elif key in FROM_PRETRAINED_OPTIONS:
            problems.append(f"model_kwargs {key!r} is an option of its own: use {owners[FROM_PRETRAINED_OPTIONS[key]]}")
        elif key in ADAPTER_KEYWORDS:
            problems.append(f"model_kwargs {key!r} is not yours to set: {ADAPTER_KEYWORDS[key]}")
    return problems


@dataclass
class DataOptions:
    """Which data a run scores, and how it is framed: tasks, settings, the dataset, how much of it."""

    tasks: tuple[str, ...] = option(tuple(TASKS), f"tasks to run (default: {' '.join(TASKS)}).", metavar="TASK")
    settings: tuple[str, ...] = option(
        DEFAULT_SETTINGS,
        "context -> continuation modalities: text (T->T), audio (S->T), text_to_speech (T->S), "
        "speech_to_speech (S->S; the last two need a model of speech tokens). Default: text audio. A speech-LM "
        "set of utterance pairs (salmon, swuggy, ...) is scored in its own utterance setting whatever this says.",
        choices=SETTINGS,
    )
    dataset: str = option(
        DEFAULT_DATASET,
        f"Hub dataset id, local folder, or 'samples' (the bundled sample sets, not the benchmark); "
        f"default: {DEFAULT_DATASET}, the S2SBench release.",
    )
    dataset_revision: str | None = option(None, "revision of a Hub dataset.")
    limit: int | None = option(None, "score only the first N items of each task.", metavar="N", minimum=1)
    framing_preset: str = option(
        "intended",
        "intended: each task's own framing (the protocol); reference-as-shipped: the shipped reference "
        "scripts' (Chinese framing, no separator, on every task), to compare with published numbers.",
        flag="--framing",
        choices=FRAMING_PRESETS,
    )
    audio_prefix: str | None = option(None, "framing text before the speech (default: each task's reference text).")
    text_separator: str | None = option(None, "between text context and continuation (default: the task's).")


@dataclass
class BatchOptions:
    """How the items are batched: never a number, only time and memory (a sweep ignores them)."""

    batch_size: int | None = option(
        None,
        "at most N items per forward pass (default: the fastest for the device and setting: on a CPU "
        "16 for text and 8 for audio, on a GPU 16; the value used is recorded in results.json).",
        metavar="N",
        decisive=False,
        minimum=1,
    )
    max_batch_tokens: int | None = option(
        None,
        "token budget per batch: continuations x (longest prompt + longest continuation), the KV "
        "positions the continuation pass holds; the LM head runs only on continuation positions and on each "
        "prompt's last one, so this bounds a batch's memory (default: no budget).",
        metavar="N",
        decisive=False,
        minimum=1,
    )


@dataclass
class SummaryOptions:
    """How records become numbers: the scoring rule, ties, the intervals and the gap. ``s2sbench score`` takes these
    alone (its records are the reference's); values are checked when built."""

    scoring_rule: str = option(
        "mean", "mean NLL per token (the paper's), summed NLL, or NLL per byte.", choices=SCORING_RULES
    )
    tie_policy: str = option(
        "reference",
        "reference: as each set's own scripts (S2SBench stories: tie=wrong, sCMMLU: tie=right; the speech-LM "
        "sets, slamkit's and ZeroSpeech's: 0.5); half: 0.5; wrong: 0 (a tie never counts).",
        choices=TIE_POLICIES,
    )
    n_bootstrap: int = option(
        1000,
        "bootstrap resamples for the intervals.",
        flag="--bootstrap",
        metavar="N",
        minimum=1,
        maximum=MAX_BOOTSTRAP,
    )
    seed: int = option(0, "bootstrap seed.", minimum=0, maximum=MAX_SEED)
    gap: str = option(
        DEFAULT_GAP,
        "the degradation reported: A:B is the accuracy of setting A minus that of B (both among the "
        "settings run, or read by score), with its interval and test; default text:audio, the paper's.",
        choices=GAP_PAIRS,
        metavar="A:B",
    )

    def __post_init__(self) -> None:
        problems = range_problems(self) + choice_problems(self)
        if problems:
            raise OptionError("invalid scoring options: " + "; ".join(problems) + ".")


SUMMARY_DEFAULTS = SummaryOptions()
"""The summary options' defaults, for the functions that take them one by one (`metrics`, `reference`)."""


@dataclass
class RunOptions(SummaryOptions, BatchOptions, DataOptions):
    """How a model is run: its data (`DataOptions`), batching (`BatchOptions`) and summary (`SummaryOptions`)."""


@dataclass
class RunConfig(RunOptions, ModelSpec):
    """Everything that decides a run: the model (`ModelSpec`) and the options (`RunOptions`)."""

    def __post_init__(self) -> None:
        self.tasks = _as_tuple(self.tasks, "tasks")
        self.settings = _as_tuple(self.settings, "settings")
        problems = []
        if not self.model:
            problems.append("no model: give a Hub model id or a local folder")
        unknown = [s for s in self.settings if s not in SETTINGS]
        if unknown or not self.settings:
            problems.append(f"settings {unknown or '(none)'}: choose from {', '.join(SETTINGS)}")
        if not self.tasks:
            problems.append("no tasks: name at least one")
        if self.gap in GAP_PAIRS and self.gap != DEFAULT_GAP and not set(gap_settings(self.gap)) <= set(self.settings):
            problems.append(
                f"--gap {self.gap} compares settings that --settings does not run (it runs "
                f"{' '.join(self.settings)}): add them, or choose another gap"
            )
        problems += choice_problems(self) + range_problems(self) + loading_problems(self)
        overrides = [flag(f) for f in fields(self) if f.name in FRAMING_OVERRIDES and getattr(self, f.name) is not None]
        if self.framing_preset == REFERENCE_AS_SHIPPED and overrides:
            problems.append(f"--framing {REFERENCE_AS_SHIPPED} fixes the framing: drop {' and '.join(overrides)}")
        if problems:
            raise OptionError("invalid run options: " + "; ".join(problems) + ".")

    @classmethod
    def from_kwargs(cls, **kwargs: Any) -> RunConfig:
        """A configuration from keyword arguments named like the fields; unknown names are an error."""
        defaults = {f.name: f.default for f in fields(cls)}
        unknown = sorted(set(kwargs) - set(defaults))
        if unknown:
            raise OptionError(f"unknown option(s) {unknown}; the options are: {', '.join(sorted(defaults))}.")
        # None stands for "the default" (as an omitted keyword), also where the default is a value
        return cls(**{k: v for k, v in kwargs.items() if v is not None or defaults[k] is None})

    def task(self, task: Task) -> Task:
        """The task with this run's framing: the preset's, then the overrides applied."""
        framing: Framing = AS_SHIPPED_FRAMING if self.framing_preset == REFERENCE_AS_SHIPPED else task.framing
        if self.audio_prefix is not None:
            framing = replace(framing, audio_prefix=self.audio_prefix)
        if self.text_separator is not None:
            framing = replace(framing, text_separator=self.text_separator)
        return task.with_framing(framing)

    def task_settings(self, task: Task) -> tuple[str, ...]:
        """The settings ``task`` is scored in: ``--settings`` for a continuation task, its own (``utterance``) for an
        utterance task, which has no context to give in a setting of ``--settings``."""
        return task.settings if task.kind == UTTERANCE else self.settings

    def record(self, framing: Mapping[str, Framing]) -> dict[str, Any]:
        """The ``config`` block of ``results.json``: every field, and ``framing`` as applied per task.

        The framing overrides are recorded through the framing each task was run
        with (``framing``: task id -> `Framing`), not as raw overrides.
        """
        recorded = {k: v for k, v in asdict(self).items() if k not in FRAMING_OVERRIDES}
        values = {k: list(v) if isinstance(v, tuple) else v for k, v in recorded.items()}  # JSON's lists
        values["framing"] = {task_id: f.to_dict() for task_id, f in framing.items()}
        return values

    def notes(self) -> list[str]:
        """What a reader of the results must know to compare them (``results.json`` ``notes``)."""
        return [AS_SHIPPED_NOTE] if self.framing_preset == REFERENCE_AS_SHIPPED else []

    @staticmethod
    def decisive(record: Mapping[str, Any]) -> dict[str, Any]:
        """The part of a recorded configuration (`record`) that decides the numbers (what a sweep compares)."""
        skip = {f.name for f in fields(RunConfig) if not f.metadata.get("decisive", True)}
        return {k: v for k, v in record.items() if k not in skip}


FRAMING_OVERRIDES = ("audio_prefix", "text_separator")
"""Options recorded through the framing each task ran with (``config.framing``), not as themselves."""


def _as_tuple(value: Any, name: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    try:
        return tuple(value)
    except TypeError:
        raise OptionError(f"{name} must be a list of names, got {value!r}") from None


# ------------------------------------------------------------------------- re-scoring a submission


def same_option(cls: type, name: str, **metadata: Any) -> Any:
    """The option ``name`` of ``cls`` again (default, help, choices, range): a flag that means the same in another
    command; ``metadata`` replaces some of it (a help that fits the other command)."""
    original = next(f for f in fields(cls) if f.name == name)
    return field(default=original.default, metadata={**original.metadata, **metadata})


DEFAULT_RERUN_TOLERANCE = 5e-3
"""Default ``validate --tolerance``: about twice the largest difference measured between bfloat16 and float32 or
between batch sizes in bfloat16 (2.6e-3, on the tiny models with a trained model's spread of logits), and below
the 0.9% that flips close calls (docs/results.md has the measurements)."""


@dataclass
class RerunOptions:
    """How ``s2sbench validate --rerun`` re-scores a submission: the draw, the tolerance and the model it loads.

    The ``validate`` flags come from these fields (`add_arguments`) and `rerun.rerun_items` takes them, so a
    check from Python is the check from the command line. Values are checked when built.
    """

    rerun: int | None = option(
        None, "re-score N items drawn at random over every task (default: none).", metavar="N", minimum=1
    )
    rerun_seed: int | None = option(
        None,
        "seed of the draw (default: fresh randomness; the seed used is printed, so the draw can be repeated).",
        metavar="S",
        minimum=0,
        maximum=MAX_SEED,
    )
    tolerance: float = option(
        DEFAULT_RERUN_TOLERANCE,
        "largest relative difference of a continuation's summed NLL, and the relative margin within which "
        f"two re-scored scores count as a tie (default: {DEFAULT_RERUN_TOLERANCE:g}; docs/results.md says why).",
        metavar="T",
    )
    model: str | None = option(
        None,
        "model folder or Hub id to load instead of the submitted one (required when the submission names a "
        "local folder).",
    )
    adapter: str | None = option(None, "adapter to use (default: the submission's, never a python: one).")
    device: str = same_option(ModelSpec, "device")
    dtype: str | None = option(
        None, "weights and activations (default: the dtype the submission recorded).", choices=DTYPE_CHOICES
    )
    batch_size: int | None = option(
        None, "at most N items per forward pass (default: as for a run).", metavar="N", minimum=1
    )
    trust_remote_code: bool = same_option(ModelSpec, "trust_remote_code")
    device_map: str | None = same_option(ModelSpec, "device_map")
    max_memory: tuple[str, ...] = same_option(ModelSpec, "max_memory")
    backend: str = same_option(ModelSpec, "backend")
    model_kwargs: tuple[str, ...] = option(
        (),
        "more keyword arguments of the model's from_pretrained, KEY=VALUE (default: those the submission recorded).",
        metavar="KEY=VALUE",
    )

    def __post_init__(self) -> None:
        problems = range_problems(self) + loading_problems(self)
        if isinstance(self.tolerance, bool) or not isinstance(self.tolerance, (int, float)):
            problems.append(f"tolerance must be a number, got {self.tolerance!r}")
        elif not 0 < self.tolerance < 1:  # also NaN
            problems.append(
                f"tolerance must be above 0 and below 1 (a relative difference), got {self.tolerance!r}: "
                f"the default, {DEFAULT_RERUN_TOLERANCE:g}, is measured (docs/results.md)"
            )
        if problems:
            raise OptionError("invalid re-scoring options: " + "; ".join(problems) + ".")


# ------------------------------------------------------------------------- the command line


def flag(f: dataclasses.Field) -> str:
    """The command-line flag of an option field."""
    return f.metadata.get("flag") or "--" + f.name.replace("_", "-")


def add_arguments(parser: argparse.ArgumentParser, cls: type = RunConfig, *, exclude: Sequence[str] = ()) -> None:
    """Add one flag per field of ``cls`` (its help, choices, type and default from the field)."""
    hints = typing.get_type_hints(cls)
    for f in fields(cls):
        if f.name in exclude:
            continue
        kind = hints[f.name]
        kwargs: dict[str, Any] = {"dest": f.name, "help": f.metadata.get("help")}
        if f.metadata.get("metavar"):
            kwargs["metavar"] = f.metadata["metavar"]
        if f.metadata.get("choices"):
            kwargs["choices"] = list(f.metadata["choices"])
        if f.default is dataclasses.MISSING:
            kwargs["required"] = True
        else:
            kwargs["default"] = list(f.default) if isinstance(f.default, tuple) else f.default
        if kind is bool:
            kwargs["action"] = "store_true"
        elif typing.get_origin(kind) is tuple:
            kwargs["nargs"] = "+"
        else:
            kwargs["type"] = next((t for t in (int, float) if t in (kind, *typing.get_args(kind))), str)
        parser.add_argument(flag(f), **kwargs)


def integer(minimum: int, maximum: int = MAX_COUNT) -> Callable[[str], int]:
    """The ``type`` of a command-line integer that is no option field (``tiny-model --seed``, ``build --workers``):
    one from ``minimum`` to ``maximum``, else the parser's one-line refusal that names the flag."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(f"{text!r}: give an integer from {minimum} to {maximum}")
        return value

    return parse


def from_namespace(args: argparse.Namespace, **overrides: Any) -> RunConfig:
    """The `RunConfig` that the flags of `add_arguments` parsed into ``args``."""
    values = {f.name: getattr(args, f.name) for f in fields(RunConfig) if hasattr(args, f.name)}
    values.update(overrides)
    return RunConfig(**values)
