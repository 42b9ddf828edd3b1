"""The scoring engine: items -> framed requests -> batches -> per-continuation records.

The engine applies the task's prompt framing, sorts requests by length so that
batches pad little, decodes audio only for the batch at hand, and turns every
failure into an `ItemError` for that item alone: a bad item never costs the
records of the good ones.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Iterable, Iterator, Sequence

from tqdm.auto import tqdm

from s2sbench_hf.scoring.adapters.base import AdapterError
from s2sbench_hf.scoring.interface import Request, Scorer
from s2sbench_hf.tasks import SETTINGS, Framing, Item, ItemError, Task


@dataclass(frozen=True)
class Record:
    """The score of one continuation of one item in one setting."""

    task: str
    item_id: str
    setting: str
    choice: int
    is_answer: bool
    continuation: str
    nll_sum: float
    n_tokens: int
    n_bytes: int

    @property
    def mean_nll(self) -> float:
        return self.nll_sum / self.n_tokens

    def to_dict(self) -> dict:
        row = asdict(self)
        row["mean_nll"] = self.mean_nll
        row["ppl"] = math.exp(min(self.mean_nll, 700.0))
        return row


def make_request(task: Task, item: Item, setting: str, framing: Framing, sampling_rate: int | None) -> Request:
    """Frame one item for one setting (PROTOCOL.md, "Prompt framing used by the reference release")."""
    if setting == "text":
        conts = tuple(framing.text_separator + c for c in item.choices)
        return Request(task.id, item.id, setting, item.context, conts)
    if setting == "audio":
        conts = tuple(framing.audio_separator + c for c in item.choices)
        rate = sampling_rate or 16000
        return Request(task.id, item.id, setting, framing.audio_prefix, conts, item.waveform(rate), rate)
    raise ValueError(f"unknown setting {setting!r}; known: {', '.join(SETTINGS)}")


def _length_hint(item: Item, setting: str) -> int:
    """Cheap sort key: text length, plus the encoded audio's size in the audio setting."""
    hint = len(item.context) + sum(len(c) for c in item.choices)
    if setting == "audio" and item.audio is not None:
        hint += len(item.audio) if not isinstance(item.audio, str) else 0
    return hint


def _records(item: Item, request: Request, scores: Sequence) -> list[Record]:
    return [
        Record(
            task=request.task,
            item_id=item.id,
            setting=request.setting,
            choice=j,
            is_answer=j == item.label,
            continuation=item.choices[j],
            nll_sum=float(s.nll_sum),
            n_tokens=int(s.n_tokens),
            n_bytes=len(item.choices[j].encode("utf-8")),
        )
        for j, s in enumerate(scores)
    ]


def check_settings(scorer: Scorer, settings: Iterable[str]) -> None:
    """Fail before any work when the scorer cannot do a requested setting."""
    for setting in settings:
        if setting not in SETTINGS:
            raise AdapterError(f"unknown setting {setting!r}; known: {', '.join(SETTINGS)}")
        if setting not in scorer.settings:
            raise AdapterError(
                f"adapter {scorer.name!r} cannot score the {setting!r} setting (it supports: "
                f"{', '.join(scorer.settings)}). Use a speech model's adapter, or pass --settings "
                f"{' '.join(scorer.settings)}."
            )


def score_items(
    scorer: Scorer,
    task: Task,
    items: Sequence[Item],
    settings: Sequence[str],
    *,
    batch_size: int = 8,
    progress: bool = True,
) -> tuple[list[Record], list[ItemError]]:
    """Score every item of one task in every setting; return the records and the per-item errors."""
    check_settings(scorer, settings)
    records: list[Record] = []
    errors: list[ItemError] = []
    total = len(items) * len(settings)
    with tqdm(total=total, desc=f"{task.id}", unit="req", disable=not progress, leave=False) as bar:
        for setting in settings:
            ordered = sorted(items, key=lambda it: _length_hint(it, setting), reverse=True)
            for start in range(0, len(ordered), batch_size):
                batch = ordered[start : start + batch_size]
                new_records, new_errors = _score_batch(scorer, task, batch, setting)
                records.extend(new_records)
                errors.extend(new_errors)
                bar.update(len(batch))
    return records, errors


def _score_batch(scorer: Scorer, task: Task, batch: Sequence[Item], setting: str) -> tuple[list[Record], list[ItemError]]:
    errors: list[ItemError] = []
    ready: list[tuple[Item, Request]] = []
    for item in batch:
        try:
            ready.append((item, make_request(task, item, setting, task.framing, scorer.sampling_rate)))
        except ItemError as err:
            errors.append(err)
    records: list[Record] = []
    for group in _isolating(scorer, ready):
        if isinstance(group, ItemError):
            errors.append(group)
        else:
            item, request, scores = group
            records.extend(_records(item, request, scores))
    return records, errors


def _isolating(scorer: Scorer, ready: list[tuple[Item, Request]]) -> Iterator:
    """Score a batch; if it fails, score its requests one by one so only the culprit is lost."""
    if not ready:
        return
    try:
        results = scorer.score([request for _, request in ready])
        _check_shapes(ready, results)
    except AdapterError:
        raise
    except Exception as err:  # noqa: BLE001 - any model failure is reported per item
        if len(ready) > 1:
            for one in ready:
                yield from _isolating(scorer, [one])
            return
        item, request = ready[0]
        yield ItemError(
            item.task, item.id, f"scoring failed in the {request.setting} setting ({type(err).__name__}: {err})",
            "Check this item's text and audio; the other items were scored.",
        )
        return
    for (item, request), scores in zip(ready, results):
        yield item, request, scores


def _check_shapes(ready: list[tuple[Item, Request]], results: Sequence) -> None:
    if len(results) != len(ready) or any(len(s) != len(r.continuations) for (_, r), s in zip(ready, results)):
        raise ValueError("the scorer returned a different number of scores than requests/continuations")
