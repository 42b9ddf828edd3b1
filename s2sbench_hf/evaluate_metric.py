"""What the `evaluate` metric (``metric/s2sbench/s2sbench.py``) calls: model mode, scores mode, the scorer cache.

The published module only declares its inputs and documentation and forwards
here, so the CLI, the metric and the reference importer share one code path
(`runner.evaluate_model` and `metrics.summarize_scores`) and cannot disagree.

* **Model mode** (`compute_model`): runs the engine on a model id (Hub or
  folder) or on an already loaded model + processor. A loaded model id is kept
  in a small module-level cache (`SCORER_CACHE`, keyed by model id, adapter,
  device, dtype, revision and ``trust_remote_code``), so a second ``compute``
  with the same id does not load it again. evaluate's own ``perplexity``
  reloads on every call; for a 7B speech LLM that is minutes each time. By
  default one model is kept (switching models frees the memory of the old one).
* **Scores mode** (`compute_scores`): per-item scores from any model (one
  number per choice, lower is better) and the answer indices, for models this
  package cannot load.

Both return `metric_output`: the unweighted mean over tasks on top (as the
paper averages) and every task's numbers under ``"tasks"``. A speech-LM set
(an utterance task, model mode only) has its own average on top,
``utterance_accuracy``, never mixed into the text and audio means.
"""

from __future__ import annotations

import gc
import math
import numbers
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import astuple
from typing import Any

import numpy as np

from s2sbench_hf import environment, metrics, results, runner
from s2sbench_hf.options import SUMMARY_DEFAULTS, ModelSpec, RunConfig, SummaryOptions
from s2sbench_hf.scoring import registry
from s2sbench_hf.scoring.interface import Scorer
from s2sbench_hf.tasks import DEFAULT_GAP, DEFAULT_SETTINGS, TASKS, UTTERANCE, S2SBenchError, Task, get_task


class MetricInputError(S2SBenchError, ValueError):
    """The metric's inputs do not describe one S2SBench measurement."""


class ScorerCache:
    """Loaded scorers by their `ModelSpec` (what decides the loaded weights); least recently used ones are dropped.

    Loads go through ``registry.load_scorer`` (looked up at call time, so tests
    can count them).
    """

    def __init__(self, max_models: int = 1):
        self.max_models = max_models
        self._scorers: OrderedDict[tuple, Scorer] = OrderedDict()

    def get(self, spec: ModelSpec) -> Scorer:
        key = astuple(spec)
        if key in self._scorers:
            self._scorers.move_to_end(key)
            return self._scorers[key]
        while self._scorers and len(self._scorers) >= max(self.max_models, 1):
            self._scorers.popitem(last=False)
            _free_memory()
        scorer = registry.load_scorer(spec.model, spec.adapter, **spec.scorer_kwargs())
        if self.max_models > 0:
            self._scorers[key] = scorer
        return scorer

    def clear(self) -> None:
        self._scorers.clear()
        _free_memory()

    def __len__(self) -> int:
        return len(self._scorers)


def _free_memory() -> None:
    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:  # pragma: no cover - torch is a dependency
        pass


SCORER_CACHE = ScorerCache()
"""The models kept between ``compute`` calls of every metric instance in this process."""


def scorer_for_model(model: Any, processor: Any, adapter: str | None = None, model_id: str | None = None) -> Scorer:
    """Wrap an already loaded transformers model and its processor/tokenizer in its family's adapter.

    ``adapter`` is the family name (``qwen2-audio``, ``causal-lm``, ...); when
    omitted it is looked up from ``model.config`` in the registry (`registry.adapter_for_config`).
    """
    if processor is None:
        raise MetricInputError("pass the model's processor (or tokenizer) with processor=... together with model=...")
    if adapter is None:
        config = getattr(model, "config", None)
        model_type = getattr(config, "model_type", None)
        adapter = registry.adapter_for_config(config.to_dict() if config is not None else {})
        if adapter is None:
            raise MetricInputError(
                f"cannot tell the adapter of a model of type {model_type!r}; pass adapter=... "
                f"(one of: {', '.join(registry.ADAPTERS)})"
            )
    wrappable = [name for name in registry.ADAPTERS if name != "cascade"]
    if adapter not in wrappable:
        raise MetricInputError(f"adapter {adapter!r} cannot wrap a loaded model; use one of: {', '.join(wrappable)}")
    return registry.adapter_class(adapter)(loaded_model_id(model, model_id), model=model, processor=processor)


def loaded_model_id(model: Any, model_id: str | None = None) -> str:
    """The id a loaded model is recorded under: ``model_id``, else its config's ``name_or_path``, else its class."""
    return str(model_id or getattr(getattr(model, "config", None), "name_or_path", None) or type(model).__name__)


def compute_model(
    model_id: str | None = None,
    *,
    model: Any = None,
    processor: Any = None,
    output_dir: str | None = None,
    progress: bool = True,
    **options: Any,
) -> dict[str, Any]:
    """Evaluate a model (by id, or loaded) with `runner.evaluate_model`; return `metric_output`.

    ``options`` are the run options by field name (`s2sbench_hf.options.RunConfig`:
    the same as the ``s2sbench run`` flags, e.g. ``tasks``, ``dataset``, ``limit``,
    ``chat_template``, ``max_batch_tokens``). ``output_dir`` also writes the run
    folder (`runner.save_run`), the same as ``s2sbench run --output``, so
    ``s2sbench report`` can render it. results.json records the call with the
    keyword arguments given (``environment.command``).
    """
    call = {"model_id": model_id, "model": model, "processor": processor, "output_dir": output_dir, **options}
    command = environment.call_line("evaluate: compute", {k: v for k, v in call.items() if v is not None})
    if model is not None:
        model_id = loaded_model_id(model, model_id)
        scorer = scorer_for_model(model, processor, options.get("adapter"), model_id)
    elif model_id is None:
        raise MetricInputError(
            "model mode needs model_id=... (a Hub id or folder) or model=... and processor=...; "
            "scores mode needs references=..., text_scores=... and audio_scores=..."
        )
    config = RunConfig.from_kwargs(model=str(model_id), **options)
    if output_dir is not None:
        runner.check_run_folder(output_dir)
    if model is None:
        scorer = SCORER_CACHE.get(config.model_spec())
    run = runner.evaluate_model(config, scorer=scorer, progress=progress, command=command)
    if output_dir is not None:
        runner.save_run(run, output_dir)
    return metric_output(run.results)


def compute_scores(
    references: Sequence[int],
    text_scores: Sequence[Sequence[float]] | None,
    audio_scores: Sequence[Sequence[float]] | None,
    *,
    task: str | None = None,
    tie_policy: str = SUMMARY_DEFAULTS.tie_policy,
    n_bootstrap: int = SUMMARY_DEFAULTS.n_bootstrap,
    seed: int = SUMMARY_DEFAULTS.seed,
    scores_are_losses: bool = False,
) -> dict[str, Any]:
    """The metrics of per-item scores (lower is better) through `metrics.summarize_scores`.

    ``references[i]`` is the index of item i's answer; ``text_scores[i][j]`` and
    ``audio_scores[i][j]`` the scores of its choice j after the text and the
    spoken context. ``task`` decides the tie rule of policy ``reference``; when
    omitted it follows from the number of choices (2: the story tasks, whose
    rules are the same; 4: ``scmmlu``). ``scores_are_losses``: the scores are
    mean NLLs per token (the paper's loss), so answer and distractor loss means
    are reported too.
    """
    if references is None or text_scores is None or audio_scores is None or not len(references):
        given = {"references": references, "text": text_scores, "audio": audio_scores}
        missing = [name for name, v in given.items() if v is None or not len(v)]
        raise MetricInputError(
            f"scores mode needs references, text_scores and audio_scores; missing or empty: {missing}"
        )
    matrices = {
        setting: _score_matrix(f"{setting}_scores", values, len(references))
        for setting, values in (("text", text_scores), ("audio", audio_scores))
    }
    k = matrices["text"].shape[1]
    if matrices["audio"].shape[1] != k:
        raise MetricInputError(f"text_scores have {k} choices per item, audio_scores {matrices['audio'].shape[1]}")
    task_spec = _task_for(task, k)
    labels = _answer_indices(references, k)
    SummaryOptions(tie_policy=tie_policy, n_bootstrap=n_bootstrap, seed=seed)  # their bounds, as for a run's
    summary = metrics.summarize_scores(
        task_spec,
        matrices,
        labels,
        mean_nll=matrices if scores_are_losses else None,
        tie_policy=tie_policy,
        n_bootstrap=n_bootstrap,
        seed=seed,
    )
    per_task = {task_spec.id: summary}
    return metric_output(
        {
            "config": {"settings": list(matrices), "tie_policy": tie_policy, "n_bootstrap": n_bootstrap, "seed": seed},
            "results": per_task,
            "overall": metrics.overall(per_task),
        }
    )


def _score_matrix(name: str, rows: Sequence[Any], n_items: int) -> np.ndarray:
    """One setting's scores as an items x choices matrix, every score checked: a finite number, named by its item and
    choice when it is not (None, infinity, NaN or a string would otherwise fail later without a row, or decide)."""
    if len(rows) != n_items:
        raise MetricInputError(f"{name} has {len(rows)} items but references has {n_items}")
    matrix = []
    for i, row in enumerate(rows):
        if isinstance(row, (str, bytes)) or not isinstance(row, Iterable):
            raise MetricInputError(f"{name}[{i}] is {row!r}, not a list: give item {i} one score per choice.")
        values = list(row)
        for j, value in enumerate(values):
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
                raise MetricInputError(
                    f"{name}[{i}][{j}] is {value!r}, not a finite number: give every choice of item {i} a finite "
                    f"score (lower is better), or leave item {i} out of references and both score lists."
                )
        matrix.append([float(v) for v in values])
    widths = {len(row) for row in matrix}
    if len(widths) != 1:
        raise MetricInputError(f"{name}: every item needs the same number of choices, got {sorted(widths)}")
    return np.asarray(matrix, dtype=float)


def _answer_indices(references: Sequence[Any], num_choices: int) -> np.ndarray:
    """The answer indices, each checked: an integer in 0..k-1 (1.0 from a table widget is 1; 1.7, None or True are
    refused, never rounded or truncated)."""
    indices = []
    for i, value in enumerate(references):
        number = float(value) if isinstance(value, numbers.Real) and not isinstance(value, bool) else math.nan
        if not (number.is_integer() and 0 <= number < num_choices):
            raise MetricInputError(
                f"references[{i}] is {value!r}, not an answer index: give the position of item {i}'s answer among "
                f"its scores, an integer from 0 to {num_choices - 1}."
            )
        indices.append(int(number))
    return np.asarray(indices, dtype=np.int64)


def _task_for(task: str | None, num_choices: int) -> Task:
    """The task whose tie rule scores mode applies: ``task``, else the S2SBench task with ``num_choices`` choices. A
    speech-LM set is refused: its items are pairs of whole clips, scored in ``utterance``, not text and audio."""
    if task is not None:
        spec = get_task(task)
        if spec.kind == UTTERANCE:
            raise MetricInputError(
                f"task {task!r} is a speech-LM set: its pairs of clips are scored in the utterance setting, which "
                "scores mode (text_scores, audio_scores) does not take; run it in model mode "
                f"(model_id=..., tasks=[{task!r}], dataset=...) with a speech LM such as moshi or llama-mimi."
            )
        if spec.num_choices != num_choices:
            raise MetricInputError(
                f"task {task!r} has {spec.num_choices} choices per item, the scores have {num_choices}"
            )
        return spec
    by_k = [t for t in TASKS.values() if t.num_choices == num_choices]
    if not by_k:
        raise MetricInputError(
            f"no S2SBench task has {num_choices} choices per item; pass task=... (one of: {', '.join(TASKS)})"
        )
    return by_k[0]


def metric_output(res: dict[str, Any]) -> dict[str, Any]:
    """The metric's return value from a results dict (``results.json`` or the scores-mode equivalent).

    Top level: ``<setting>_accuracy`` (``text_accuracy`` and ``audio_accuracy``
    always, the other settings where they ran), ``degradation`` (the setting pair
    ``gap``, by default ``text:audio``: text minus audio) and
    ``relative_degradation``, unweighted means over the continuation tasks, as fractions;
    ``utterance_accuracy`` and ``utterance_tasks`` when the run has a speech-LM set
    (`_utterance_overall`). ``tasks``: per task `_task_output` (accuracies with 95% intervals,
    the gap with its paired-bootstrap interval, relative gap, the p-value of the gap, argmin
    accuracies, answer/distractor losses, a breakdown). ``model`` and ``errors`` when a model ran.
    """
    overall = res.get("overall") or {}
    accuracies = {
        **dict.fromkeys(DEFAULT_SETTINGS),
        **{s: e.get("accuracy") for s, e in (overall.get("settings") or {}).items()},
    }
    out: dict[str, Any] = {f"{s}_accuracy": value for s, value in accuracies.items()}
    out.update(
        {
            "gap": res.get("config", {}).get("gap", DEFAULT_GAP),
            "degradation": overall.get("degradation", {}).get("gap"),
            "relative_degradation": overall.get("degradation", {}).get("relative_gap"),
            **_utterance_overall(res),
            "tasks": {t: _task_output(m) for t, m in res["results"].items()},
        }
    )
    if "model" in res:
        out["model"] = res["model"]
        out["errors"] = res.get("errors", [])
        out["schema_version"] = res.get("schema_version", results.RESULTS_SCHEMA_VERSION)
    return out


def _utterance_overall(res: dict[str, Any]) -> dict[str, Any]:
    """``utterance_accuracy`` (``overall.utterance``: the mean utterance accuracy of the speech-LM sets, their own
    average, apart from the text and audio means, which cover the continuation tasks only) and ``utterance_tasks``
    (the sets it averages); the accuracy is None when a set ran but none scored an item, and {} for a run without
    a speech-LM set, whose output keeps the shape it always had."""
    found = (res.get("overall") or {}).get(UTTERANCE)
    if found is None and not any(UTTERANCE in (m.get("settings") or {}) for m in res["results"].values()):
        return {}
    found = found or {}
    return {"utterance_accuracy": found.get("accuracy"), "utterance_tasks": found.get("tasks", [])}


def _task_output(m: dict[str, Any]) -> dict[str, Any]:
    """One task's output: `metrics.flatten_task`, and for a task with a breakdown (SALMon by subset, sWUGGY by
    in_vocab) ``breakdown``: ``{"by": field, "groups": {value: {"n_items": n, "<setting>_accuracy": a}}}``, flat as
    the task's own keys, so a user reads ``breakdown["groups"]["bg_alignment"]["utterance_accuracy"]``."""
    out = metrics.flatten_task(m)
    found = m.get("breakdown")
    if found:
        groups = {
            value: {
                "n_items": group["n_items"],
                **{f"{s}_accuracy": e["accuracy"] for s, e in group["settings"].items()},
            }
            for value, group in found["groups"].items()
        }
        out["breakdown"] = {"by": found["by"], "groups": groups}
    return out
