"""Re-score a random sample of a submission's items with the model, and compare with its records.

`validate` recomputes every number from the samples, but it cannot see scores
that were faked consistently in both the samples and ``results.json``. The
remedy is to run the model again on a few items: `rerun_items` draws ``n``
items (seeded, over every task), scores them with the submitted model (its Hub
id and revision, or a local folder given by the person checking: a path in a
submission is never loaded), the submission's prompt framing and options, and
compares each continuation's ``n_tokens`` (exactly) and ``nll_sum`` (within a
relative tolerance: GPU kernels, batch composition and bf16 move scores a
little). On a CPU this is practical for tiny models only; real 7B models need a
GPU, as for the run itself.

Nothing from the submission is trusted to run code: ``trust_remote_code`` and
``python:module:Class`` adapters are only used when the person checking asks.
"""

from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass, field
from typing import Any

from s2sbench_hf.hub_repo import hub_id_problem
from s2sbench_hf.scoring.engine import score_items
from s2sbench_hf.scoring.interface import Record
from s2sbench_hf.scoring.registry import load_scorer
from s2sbench_hf.tasks import Framing, S2SBenchError, get_task
from s2sbench_hf.validate import DatasetResolver, Problem, ValidationReport

DEFAULT_TOLERANCE = 1e-2
"""Largest accepted relative difference of a re-scored ``nll_sum`` (differences of 1 nat or less: absolute)."""

DTYPES = ("float32", "bfloat16", "float16")


class RerunError(S2SBenchError, ValueError):
    """The items cannot be re-scored (no valid submission, no model to load); the message says what to do."""


@dataclass
class RerunReport:
    """What re-scoring found: the items checked, the largest difference, every mismatch."""

    model: str
    items: list[tuple[str, str]] = field(default_factory=list)
    """(task, item id) of every item re-scored."""
    compared: int = 0
    """Continuation records compared."""
    max_difference: float = 0.0
    """The largest relative difference of ``nll_sum`` seen."""
    tolerance: float = DEFAULT_TOLERANCE
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        head = (
            f"re-scored {len(self.items)} item(s) ({self.compared} continuation(s)) with {self.model}: largest "
            f"relative difference of nll_sum {self.max_difference:.2e} (tolerance {self.tolerance:g})"
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
            "items": [list(i) for i in self.items],
            "compared": self.compared,
            "max_difference": self.max_difference,
            "tolerance": self.tolerance,
            "problems": [asdict(p) for p in self.problems],
            "warnings": [asdict(w) for w in self.warnings],
        }


def relative_difference(a: float, b: float) -> float:
    """|a - b| relative to the larger magnitude, or absolute when both are at most 1."""
    return abs(a - b) / max(abs(a), abs(b), 1.0)


def pick_items(report: ValidationReport, n: int, seed: int = 0) -> list[tuple[str, str]]:
    """``n`` (task, item id) pairs drawn without replacement from the items the metrics counted (seeded)."""
    candidates = [
        (task, item_id)
        for task, records in report.records.items()
        for item_id in dict.fromkeys(r.item_id for r in records)
    ]
    return random.Random(seed).sample(candidates, min(n, len(candidates)))


def rerun_items(
    report: ValidationReport,
    n: int,
    *,
    resolver: DatasetResolver,
    seed: int = 0,
    model: str | None = None,
    adapter: str | None = None,
    device: str | None = None,
    dtype: str | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    trust_remote_code: bool = False,
    batch_size: int = 8,
    progress: bool = False,
) -> RerunReport:
    """Re-score ``n`` random items of a validated submission and compare them with its records.

    ``report`` comes from `validate.validate_run` with the same ``resolver`` (it
    has the submission's records; the resolver has its dataset). ``model``: a
    local folder or Hub id to load instead of the submitted one (required when
    the submission names a local folder). ``adapter`` likewise.
    """
    parsed = report.parsed
    if parsed is None or not report.valid:
        raise RerunError("only a valid submission can be re-scored; fix the problems `s2sbench validate` lists.")
    unchecked = [t for t in parsed.config.tasks if t not in report.checked_datasets]
    if unchecked:
        raise RerunError(f"the dataset of {', '.join(unchecked)} was not loaded, so its items cannot be re-scored.")
    submitted = parsed.model
    if model is None:
        if submitted.content_hash or not submitted.model_id or hub_id_problem(submitted.model_id):
            raise RerunError(
                f"the submission's model {submitted.model_id!r} is a local folder, which is never loaded "
                "from a submission. Pass the model folder yourself (--model PATH)."
            )
        model = submitted.model_id
    if adapter is None:
        adapter = parsed.config.adapter
        if adapter and adapter.startswith("python:"):
            raise RerunError(
                f"the submission was scored by {adapter!r}, code that is never imported on a "
                "submission's word. Pass --adapter yourself."
            )
    options: dict[str, Any] = {}
    if parsed.config.chat_template:
        options["chat_template"] = True
    if parsed.config.attn_implementation:
        options["attn_implementation"] = parsed.config.attn_implementation
    if parsed.config.asr_model:
        if hub_id_problem(parsed.config.asr_model):
            raise RerunError(
                f"the submission's recognizer {parsed.config.asr_model!r} is not a Hub id; it is "
                "not loaded from a submission."
            )
        options["asr_model"] = parsed.config.asr_model
    dtype = dtype or (submitted.dtype if submitted.dtype in DTYPES else None)
    scorer = load_scorer(
        model,
        adapter,
        device=device,
        dtype=dtype,
        trust_remote_code=trust_remote_code,
        revision=None if model != submitted.model_id else submitted.revision,
        **options,
    )
    out = RerunReport(model=model, tolerance=tolerance)
    _check_identity(scorer.describe(), submitted, out)

    picked = pick_items(report, n, seed)
    out.items = picked
    settings = list(parsed.config.settings)
    for task_id in parsed.config.tasks:
        wanted = {item_id for task, item_id in picked if task == task_id}
        if not wanted:
            continue
        info = parsed.datasets[task_id]
        loaded = resolver.load(task_id, info.source, info.revision, parsed.config.limit)
        task = get_task(task_id).with_framing(Framing(**parsed.config.framing[task_id].model_dump()))
        items = [item for item in loaded.items if item.id in wanted]
        records, errors = score_items(scorer, task, items, settings, batch_size=batch_size, progress=progress)
        for err in errors:
            out.problems.append(Problem("rerun_failed", f"{err.problem}.", task_id, err.item_id))
        _compare(records, {(r.item_id, r.setting, r.choice): r for r in report.records[task_id]}, task_id, out)
    return out


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


def _compare(
    records: list[Record], submitted: dict[tuple[str, str, int], Record], task_id: str, out: RerunReport
) -> None:
    for r in records:
        old = submitted.get((r.item_id, r.setting, r.choice))
        if old is None:
            continue
        out.compared += 1
        difference = relative_difference(old.nll_sum, r.nll_sum)
        out.max_difference = max(out.max_difference, difference if math.isfinite(difference) else math.inf)
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
