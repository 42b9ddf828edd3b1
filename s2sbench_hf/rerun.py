"""Re-score a random sample of a submission's items with the model, and compare with its records.

`validate` recomputes every number from the samples, but it cannot see scores
that were faked consistently in both the samples and ``results.json``. The
remedy is to run the model again on some items: `rerun_items` draws
``options.rerun`` items over every task, scores them with the submitted model
(its Hub id and revision, or a local folder given by the person checking: a
path in a submission is never loaded), the submission's prompt framing and
options, and checks:

1. **Each score.** A continuation's ``n_tokens`` exactly, its ``nll_sum`` within
   the relative ``tolerance`` (`relative_difference`).
2. **Each decision.** For every re-scored item, setting and (answer, distractor)
   comparison, the submitted and the re-scored scores (under the run's scoring
   rule) must pick the same winner, unless the re-scored pair is itself within
   the tolerance of a tie. A decision is what accuracy counts: a fake that
   moves two scores apart, each within the tolerance, still changes it.
3. **A draw that cannot be planned.** The seed comes from fresh randomness
   (`secrets`) unless the checker fixes it (``--rerun-seed``); the report
   carries it, so the same draw can be repeated. With a known seed a cheater
   would fake every item but the ones drawn.

The default tolerance (`options.DEFAULT_RERUN_TOLERANCE`) and its measured
basis: docs/results.md. On a CPU this is practical for tiny models only; real
7B models need a GPU, as for the run itself. Nothing from the submission is
trusted to run code: ``trust_remote_code`` and ``python:module:Class`` adapters
are only used when the person checking asks.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from s2sbench_hf import environment, metrics, protocol
from s2sbench_hf.hub_repo import hub_id_problem
from s2sbench_hf.model_identity import hash_progress
from s2sbench_hf.model_loading import model_kwargs_value
from s2sbench_hf.options import DTYPE_CHOICES, ModelSpec, RerunOptions
from s2sbench_hf.results import Environment, RunResults
from s2sbench_hf.scoring.engine import score_items
from s2sbench_hf.scoring.interface import Record, Scorer
from s2sbench_hf.scoring.registry import load_scorer
from s2sbench_hf.tasks import S2SBenchError, Task
from s2sbench_hf.validate import DatasetResolver, Problem, ValidationReport

SEED_BITS = 32
"""A fresh seed has this many random bits: no cheater can fake every item but those of 4 billion draws."""
KINDS = {
    "rerun_failed": "a drawn item could not be re-scored",
    "rerun_mismatch": "a continuation's token count differs, or its nll_sum differs by more than the tolerance",
    "rerun_decision": "the submitted and the re-scored scores pick different winners of a comparison, and the "
    "re-scored margin is larger than the tolerance",
}
"""The problems a re-score reports (the warnings: ``rerun_model``, the model loaded is not the one submitted;
``rerun_versions``, the re-score runs on other package versions than the submission recorded)."""

CHECKER_OPTIONS = ("device", "trust_remote_code", "device_map", "max_memory", "backend")
"""Model options the person checking decides, never the submission: where and on which engine the model runs, and
whether its code runs.
Every other model option comes from the submission's record (`options.ModelSpec.from_record`)."""
SUBMITTED_MODEL_KWARGS = frozenset({"quantization_config", "variant", "use_safetensors"})
"""The ``--model-kwargs`` keys a re-score takes from a submission's record: those that pick or quantize the weights
it was scored with. Any other key could name a path or a loading mechanism (``cache_dir``, ``subfolder``,
``gguf_file``, ``key_mapping`` ...), which a submission never decides: the checker passes ``--model-kwargs``."""
Key = tuple[str, str, int]
"""(item id, setting, choice): one continuation of a task."""


class RerunError(S2SBenchError, ValueError):
    """The items cannot be re-scored (no valid submission, no model to load); the message says what to do."""


@dataclass
class RerunReport:
    """What re-scoring found: the draw (its seed), the largest difference, every mismatch."""

    model: str
    seed: int
    """The seed of the draw: ``--rerun-seed`` with it re-scores the same items."""
    tolerance: float
    items: list[tuple[str, str]] = field(default_factory=list)
    """(task, item id) of every item re-scored."""
    compared: int = 0
    """Continuation records compared."""
    decisions: int = 0
    """(answer, distractor) comparisons compared."""
    max_difference: float = 0.0
    """The largest relative difference of ``nll_sum`` seen."""
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.problems

    @property
    def changed_decisions(self) -> int:
        return sum(p.kind == "rerun_decision" for p in self.problems)

    def summary(self) -> str:
        """OK or MISMATCH with the seed (to repeat the draw) and the largest difference, then every problem."""
        head = (
            f"re-scored {len(self.items)} item(s) with {self.model}, drawn with seed {self.seed} (--rerun-seed "
            f"{self.seed} repeats the draw): {self.compared} continuation(s), largest relative difference of "
            f"nll_sum {self.max_difference:.2e}; {self.decisions} decision(s), {self.changed_decisions} changed "
            f"(tolerance {self.tolerance:g})"
        )
        lines = [("OK: " if self.valid else f"MISMATCH: {len(self.problems)} problem(s); ") + head + "."]
        lines += [f"  - {p}" for p in self.problems[:50]]
        if len(self.problems) > 50:
            lines.append(f"  ... and {len(self.problems) - 50} more.")
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "valid": self.valid,
            "seed": self.seed,
            "items": [list(i) for i in self.items],
            "compared": self.compared,
            "decisions": self.decisions,
            "changed_decisions": self.changed_decisions,
            "max_difference": self.max_difference,
            "tolerance": self.tolerance,
            "problems": [asdict(p) for p in self.problems],
            "warnings": [asdict(w) for w in self.warnings],
        }


def relative_difference(a: float, b: float) -> float:
    """|a - b| relative to the larger magnitude, or absolute when both are at most 1."""
    return abs(a - b) / max(abs(a), abs(b), 1.0)


def pick_items(report: ValidationReport, n: int, seed: int) -> list[tuple[str, str]]:
    """``n`` (task, item id) pairs drawn without replacement from the items the metrics counted (seeded)."""
    candidates = [
        (task, item_id)
        for task, records in report.records.items()
        for item_id in dict.fromkeys(r.item_id for r in records)
    ]
    return random.Random(seed).sample(candidates, min(n, len(candidates)))


def rerun_items(
    report: ValidationReport, options: RerunOptions, *, resolver: DatasetResolver, progress: bool = False
) -> RerunReport:
    """Re-score ``options.rerun`` random items of a validated submission and compare them with its records.

    ``report`` comes from `validate.validate_run` with the same ``resolver`` (it
    has the submission's records; the resolver has its dataset). The draw's
    seed is ``options.rerun_seed``, or fresh randomness when it is None.
    """
    parsed = report.parsed
    if options.rerun is None:
        raise RerunError("nothing to re-score: give the number of items to draw (--rerun N).")
    if parsed is None or not report.valid:
        raise RerunError("only a valid submission can be re-scored; fix the problems `s2sbench validate` lists.")
    config = parsed.run_config()
    unchecked = [t for t in config.tasks if t not in report.checked_datasets]
    if unchecked:
        raise RerunError(f"the dataset of {', '.join(unchecked)} was not loaded, so its items cannot be re-scored.")
    scorer, model = _load_model(parsed, options)
    seed = secrets.randbits(SEED_BITS) if options.rerun_seed is None else options.rerun_seed
    out = RerunReport(
        model=model, seed=seed, tolerance=options.tolerance, items=pick_items(report, options.rerun, seed)
    )
    with hash_progress(progress):  # describe hashes a local model folder
        described = scorer.describe()
    _check_identity(described, parsed.model, out)
    _check_versions(parsed.environment, out)
    for task_id in config.tasks:
        wanted = {item_id for task, item_id in out.items if task == task_id}
        if not wanted:
            continue
        info = parsed.datasets[task_id]
        loaded = resolver.load(task_id, info.source, info.revision, config.limit)
        task = loaded.task.with_framing(parsed.framing(task_id))
        settings = list(config.task_settings(task))  # an utterance task: its own setting, as the run scored it
        items = [item for item in loaded.items if item.id in wanted]
        records, errors = score_items(scorer, task, items, settings, batch_size=options.batch_size, progress=progress)
        for err in errors:
            out.problems.append(Problem("rerun_failed", f"{err.problem}.", task_id, err.item_id))
        submitted = {(r.item_id, r.setting, r.choice): r for r in report.records[task_id]}
        _compare_scores(records, submitted, task_id, out)
        _compare_decisions(task, records, submitted, settings, config.scoring_rule, out)
    return out


def _load_model(parsed: RunResults, options: RerunOptions) -> tuple[Scorer, str]:
    """The scorer of the submitted model (or of ``options.model``) and its name; never a path or code it names."""
    submitted, config = parsed.model, parsed.run_config()
    model = options.model
    if model is None:
        if submitted.content_hash or not submitted.model_id or hub_id_problem(submitted.model_id):
            raise RerunError(
                f"the submission's model {submitted.model_id!r} is a local folder, which is never loaded "
                "from a submission. Pass the model folder yourself (--model PATH)."
            )
        model = submitted.model_id
    adapter = options.adapter
    if adapter is None:
        adapter = config.adapter
        if adapter and adapter.startswith("python:"):
            raise RerunError(
                f"the submission was scored by {adapter!r}, code that is never imported on a "
                "submission's word. Pass --adapter yourself."
            )
    if config.asr_model and hub_id_problem(config.asr_model):
        raise RerunError(
            f"the submission's recognizer {config.asr_model!r} is not a Hub id; it is not loaded from a submission."
        )
    untrusted = sorted(set(model_kwargs_value(config.model_kwargs)) - SUBMITTED_MODEL_KWARGS)
    if untrusted and not options.model_kwargs:
        raise RerunError(
            f"the submission loaded its model with {', '.join(untrusted)} (--model-kwargs), which is never taken "
            "from a submission. Pass --model-kwargs yourself to re-score it."
        )
    recorded = submitted.dtype if submitted.dtype in DTYPE_CHOICES and submitted.dtype != "auto" else None
    spec = ModelSpec.from_record(
        asdict(config),
        model=model,
        adapter=adapter,
        revision=None if model != submitted.model_id else submitted.revision,
        dtype=options.dtype or recorded or "auto",
        model_kwargs=options.model_kwargs or config.model_kwargs,
        **{name: getattr(options, name) for name in CHECKER_OPTIONS},
    )
    scorer = load_scorer(spec.model, spec.adapter, **spec.scorer_kwargs())
    return scorer, model


def _check_identity(described: dict[str, Any], submitted: Any, out: RerunReport) -> None:
    """Warn when the model loaded is not the one submitted (another content hash or commit)."""
    for key in ("content_hash", "revision"):
        want, got = getattr(submitted, key), described.get(key)
        if want and got and want != got:
            out.warnings.append(
                Problem(
                    "rerun_model",
                    f"the model loaded has {key} {got!r}, the submission {want!r}: this compares another model.",
                )
            )


def _check_versions(recorded: Environment, out: RerunReport) -> None:
    """Warn when the re-score runs on other versions than the submission recorded: then a mismatch may be the
    versions' (another kernel, another tokenizer), not the submission's."""
    submitted = recorded.versions()
    here = environment.installed_versions(submitted)
    changed = [
        f"{name} {here[name] or 'not installed'} (submission: {version})"
        for name, version in submitted.items()
        if here[name] != version
    ]
    if changed:
        out.warnings.append(
            Problem(
                "rerun_versions",
                f"the re-score runs on {', '.join(changed)}: its scores may differ by more than rounding.",
            )
        )


def _compare_scores(records: list[Record], submitted: Mapping[Key, Record], task_id: str, out: RerunReport) -> None:
    """Each re-scored continuation against its submitted record: token count exactly, nll_sum within tolerance."""
    for r in records:
        old = submitted.get((r.item_id, r.setting, r.choice))
        if old is None:
            continue
        out.compared += 1
        difference = relative_difference(old.nll_sum, r.nll_sum)
        out.max_difference = max(out.max_difference, difference)
        if old.n_tokens != r.n_tokens or not difference <= out.tolerance:
            out.problems.append(
                Problem(
                    "rerun_mismatch",
                    f"{r.setting}, choice {r.choice}: submitted nll_sum {old.nll_sum:.6g} "
                    f"over {old.n_tokens} token(s), "
                    f"re-scored {r.nll_sum:.6g} over {r.n_tokens} (relative difference {difference:.2e}).",
                    task_id,
                    r.item_id,
                )
            )


def _compare_decisions(
    task: Task,
    records: list[Record],
    submitted: Mapping[Key, Record],
    settings: Sequence[str],
    rule: str,
    out: RerunReport,
) -> None:
    """Each (answer, distractor) winner, submitted against re-scored: a change beyond a tie is a mismatch.

    "Beyond a tie": the re-scored pair differs by more than the tolerance
    (`relative_difference` of their scores under ``rule``). Honest noise of that
    size can flip only a pair closer than it; any other flip means the submitted
    scores were moved apart.
    """
    k = task.num_choices
    for setting in settings:
        item_ids = [
            item_id
            for item_id in metrics.complete_items([r for r in records if r.setting == setting], [setting], k)
            if all((item_id, setting, j) in submitted for j in range(k))
        ]
        if not item_ids:
            continue
        before = [submitted[(item_id, setting, j)] for item_id in item_ids for j in range(k)]
        old, new = (metrics.record_arrays(rs, item_ids, setting, k) for rs in (before, records))
        scores = protocol.choice_scores(new["nll_sum"], new["n_tokens"], new["n_bytes"], rule)
        # 0.5 marks a tie: only which side wins is compared here, not the credit the tie policy gives.
        was = protocol.pairwise_outcomes(
            protocol.choice_scores(old["nll_sum"], old["n_tokens"], old["n_bytes"], rule), old["labels"], 0.5
        )
        now = protocol.pairwise_outcomes(scores, new["labels"], 0.5)
        out.decisions += now.size
        for i, j in zip(*np.nonzero(was != now), strict=True):
            answer = int(new["labels"][i])
            other = [c for c in range(k) if c != answer][j]
            margin = relative_difference(scores[i, answer], scores[i, other])
            if margin <= out.tolerance:
                continue
            out.problems.append(
                Problem(
                    "rerun_decision",
                    f"{setting}, the answer (choice {answer}) against choice {other}: the submitted scores pick "
                    f"{_winner(was[i, j], other)}, the re-scored ones {_winner(now[i, j], other)} ({rule} scores "
                    f"{scores[i, answer]:.6g} and {scores[i, other]:.6g}, a relative margin of {margin:.2e}: "
                    f"more than the tolerance of a tie, {out.tolerance:g}).",
                    task.id,
                    item_ids[i],
                )
            )


def _winner(outcome: float, other: int) -> str:
    """Who wins a comparison, from its `protocol.pairwise_outcomes` value (1 answer, 0.5 tie, 0 distractor)."""
    return {1.0: "the answer", 0.5: "a tie"}.get(float(outcome), f"choice {other}")
