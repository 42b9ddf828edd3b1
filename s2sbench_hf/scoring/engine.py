"""The scoring engine: items -> framed requests -> planned batches -> per-continuation records.

The engine applies the task's prompt framing, sizes every request in tokens
(audio from its header, before decoding), sorts by length and fills batches up
to a token budget, so that padding stays small and memory bounded. The batch
plan depends only on the items and the model, never on what is cached or on
the number of processes: a resumed or sharded run computes exactly the same
batches, hence bit-identical scores. Audio is decoded only for the batch at
hand.

Failures (`score_items`):

* An item the model fails on, or scores as NaN or infinity, becomes an
  `ItemError` for that item and setting alone: a failing batch is retried one
  request at a time, so a bad item never costs the records of the good ones.
  A non-finite score is never returned as a record, hence never cached: the
  next run tries the item again.
* A failure that cannot be about one item stops the run with one `AdapterError`
  instead of failing every item: a missing package (`ImportError`) at once;
  otherwise, when every request of a setting's first batch fails, each alone,
  with the same kind of error, and so does the setting's shortest request
  alone (the one least likely to fail for its own sake).

In the settings with spoken context an item whose choices follow different
context speech (`Item.choice_context_audio`: the reference release's odd row
with its own wav) becomes one request per distinct speech (`Item.audio_groups`),
each scoring its choices; their records merge back in choice order. The usual
item is one request. In the settings with spoken continuations the request
carries the choices' speech (`Item.continuation_waveform`), decoded, like the
context speech, only for the batch at hand.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from tqdm.auto import tqdm

from s2sbench_hf.scoring.interface import AdapterError, Record, Request, Scorer
from s2sbench_hf.tasks import (
    ALL_SETTINGS,
    SPEECH_CONTEXT,
    SPEECH_CONTINUATION,
    UTTERANCE,
    Framing,
    Item,
    ItemError,
    Task,
)


def make_request(
    task: Task,
    item: Item,
    setting: str,
    framing: Framing,
    sampling_rate: int | None,
    *,
    decode: bool = True,
    choices: Sequence[int] | None = None,
) -> Request:
    """Frame one item for one setting (docs/protocol.md, "Prompt framing").

    The prompt follows from the context's modality alone (text: the context;
    speech: the framing text, then the speech), the continuation from its own
    (text: the text framed after that context; speech: the choice's clip). With
    ``decode=False`` the audio is only measured (``audio_seconds``,
    ``continuation_seconds``), not decoded. ``choices`` (default: all) are the
    continuations to score: with spoken context, one group of
    `Item.audio_groups`, after that group's speech.

    The ``utterance`` setting (an utterance task's only one, `Task.settings`) is a
    spoken continuation after an empty context: ``context`` "", no ``audio``, the
    clips in ``continuation_audio`` and their transcripts (or "") in
    ``continuations``; each clip is scored from its first speech token.
    """
    if setting not in task.settings:
        raise ValueError(f"task {task.id!r} is not scored in setting {setting!r}; its settings: {task.settings}")
    chosen = list(range(len(item.choices)) if choices is None else choices)
    texts = [item.choices[j] for j in chosen]
    fields: dict = {}
    if setting in SPEECH_CONTEXT or setting in SPEECH_CONTINUATION:
        fields["sampling_rate"] = rate = sampling_rate or 16000
    if setting in SPEECH_CONTEXT:
        speech_of = None if choices is None else choices[0]
        fields.update(
            audio_seconds=item.audio_seconds(speech_of),
            context_text=item.context,
            audio=item.waveform(rate, speech_of) if decode else None,
            text_continuations=tuple(framing.text_separator + c for c in texts),
        )
        context, separator = framing.audio_prefix, framing.audio_separator
    elif setting == UTTERANCE:
        context, separator = "", ""
    else:
        context, separator = framing.text_context(item.context), framing.text_separator
    if setting in SPEECH_CONTINUATION:
        conts = tuple(texts)
        fields["continuation_seconds"] = tuple(item.continuation_seconds(j) for j in chosen)
        if decode:
            fields["continuation_audio"] = tuple(item.continuation_waveform(j, rate) for j in chosen)
    else:
        conts = tuple(separator + c for c in texts)
    return Request(task.id, item.id, setting, context, conts, **fields)


@dataclass(frozen=True)
class Planned:
    """A request sized in tokens, its audio not decoded yet."""

    item: Item
    request: Request
    prompt_tokens: int
    continuation_tokens: tuple[int, ...]
    choices: tuple[int, ...]
    """The item's choices this request scores (all of them, except for items with per-choice speech)."""


def decoded(planned: Planned) -> Request:
    """A planned request with its speech decoded: the context's, and the continuations' where they are spoken."""
    request, item, rate = planned.request, planned.item, planned.request.sampling_rate
    audio, conts = None, None
    if request.setting in SPEECH_CONTEXT or request.setting in SPEECH_CONTINUATION:
        if rate is None:  # make_request always sets it for a speech setting
            raise ValueError(f"item {item.id!r}: a {request.setting} request without a sampling rate")
        if request.setting in SPEECH_CONTEXT:
            audio = item.waveform(rate, planned.choices[0])
        if request.setting in SPEECH_CONTINUATION:
            conts = tuple(item.continuation_waveform(j, rate) for j in planned.choices)
    return replace(request, audio=audio, continuation_audio=conts)


def batch_tokens(batch: Sequence[Planned]) -> int:
    """The budgeted size of a batch: continuations x (longest prompt + longest continuation).

    That is what bounds a batch's memory: the continuation pass holds one copy
    of the prompt's KV cache per continuation (these positions), and the LM
    head runs on the continuation positions only (continuations x longest
    continuation, a part of them). The prompt pass holds each prompt once and
    computes vocabulary logits at its last position only, so it never exceeds
    the continuation pass; nothing else scales with the vocabulary.
    """
    k = sum(len(p.continuation_tokens) for p in batch)
    return k * (max(p.prompt_tokens for p in batch) + max(max(p.continuation_tokens) for p in batch))


CPU_BATCH_SIZE = {"text": 16, "audio": 8}
"""The fastest batch sizes on a CPU (``make bench``, its "batch sizes" cases): with the encoder over the
batch's longest clip, audio batches of 8 clips of similar lengths run about twice as fast as one clip at a
time (over whole 30 s windows one clip at a time was fastest); 16 text items fill the matrix products."""
GPU_BATCH_SIZE = 16
"""On a GPU: batching fills the device; memory stays bounded by ``--max-batch-tokens`` when set."""


def auto_batch_size(scorer: Scorer, setting: str) -> int:
    """The default batch size (``--batch-size`` not given) for ``scorer``'s device and ``setting``; a scorer that
    schedules its own passes (the vLLM backend) names its own (``auto_batch_size`` attribute)."""
    own = getattr(scorer, "auto_batch_size", None)  # only scorers that batch on their own set it
    if isinstance(own, int):
        return own
    device = getattr(getattr(scorer, "device", None), "type", "cpu")  # a scorer without a device: a CPU
    return CPU_BATCH_SIZE.get(setting, 1) if device == "cpu" else GPU_BATCH_SIZE


def resolve_batch_size(batch_size: int | None, scorer: Scorer, setting: str) -> int:
    """``batch_size``, or when it is None ("auto") `auto_batch_size`."""
    return auto_batch_size(scorer, setting) if batch_size is None else batch_size


def windowed_clips(scorer: Scorer, items: Sequence[Item], setting: str) -> int:
    """How many of the items' context clips ``scorer`` scores over several consecutive windows in ``setting``."""
    if setting not in SPEECH_CONTEXT:
        return 0
    count = 0
    for item in items:
        try:
            count += scorer.audio_windows(item.audio_seconds()) > 1
        except ItemError:  # an unreadable clip is an item error of its own, counted elsewhere
            continue
    return count


def plan_batches(
    scorer: Scorer,
    task: Task,
    items: Sequence[Item],
    setting: str,
    *,
    batch_size: int | None = None,
    max_batch_tokens: int | None = None,
) -> tuple[list[list[Planned]], list[ItemError]]:
    """Size, sort (longest prompt first) and group one setting's requests into batches.

    A batch closes at ``batch_size`` items (None: `auto_batch_size`) or when one
    more item would take it past ``max_batch_tokens`` (`batch_tokens`); an item
    larger than the budget on its own gets a batch of its own. In the audio
    setting the prompt length grows with the clip (the framing text is the same
    for every item), so the order is by clip length and a batch's clips are of
    similar lengths: the encoder of a ``trim_encoder`` family runs over little
    padding. An item past the model's limits (`Scorer.token_lengths` raises) is
    an item error here, before any work.
    """
    batch_size = resolve_batch_size(batch_size, scorer, setting)
    planned, errors = [], []
    for item in items:
        groups = item.audio_groups() if setting in SPEECH_CONTEXT else [tuple(range(len(item.choices)))]
        for choices in groups:
            try:
                request = make_request(
                    task, item, setting, task.framing, scorer.sampling_rate, decode=False, choices=choices
                )
                prompt, conts = scorer.token_lengths(request)
            except ItemError as err:
                errors.append(err)
                continue
            planned.append(Planned(item, request, prompt, tuple(conts), choices))
    planned.sort(key=lambda p: (p.prompt_tokens, max(p.continuation_tokens), p.item.id, p.choices), reverse=True)
    batches: list[list[Planned]] = []
    for p in planned:
        current = batches[-1] if batches else None
        if (
            current is not None
            and len(current) < batch_size
            and (max_batch_tokens is None or batch_tokens([*current, p]) <= max_batch_tokens)
        ):
            current.append(p)
        else:
            batches.append([p])
    return batches, errors


class RecordSink(Protocol):
    def append(self, records: Iterable[Record]) -> None: ...


class NonFiniteScore(ValueError):
    """The model returned NaN or infinity for a continuation (fp16 overflow, a pathological input)."""


def score_items(
    scorer: Scorer,
    task: Task,
    items: Sequence[Item],
    settings: Sequence[str],
    *,
    batch_size: int | None = None,
    max_batch_tokens: int | None = None,
    cached: Iterable[Record] = (),
    sink: RecordSink | None = None,
    shard: tuple[int, int] = (0, 1),
    progress: bool = True,
) -> tuple[list[Record], list[ItemError]]:
    """Score every item of one task in every setting; return the records and the per-item errors.

    ``cached`` records are reused: a batch whose records are all there is
    skipped. New records go to ``sink`` batch by batch (the resume cache).
    ``shard=(rank, world)`` scores every world-th pending batch, for one of
    several processes; the caller gathers. Records come back in canonical order
    (item order, setting, choice), whoever computed them. Raises `AdapterError`
    when the model cannot score a setting at all (module docstring).
    """
    check_settings(scorer, settings)
    done = {(r.item_id, r.setting, r.choice): r for r in cached if r.task == task.id}
    records: list[Record] = []
    errors: list[ItemError] = []
    pending: list[tuple[str, list[Planned]]] = []
    shortest: dict[str, Planned] = {}
    for setting in settings:
        batches, plan_errors = plan_batches(
            scorer, task, items, setting, batch_size=batch_size, max_batch_tokens=max_batch_tokens
        )
        errors.extend(plan_errors)
        if batches:
            shortest[setting] = batches[-1][-1]  # the plan runs from the longest request to the shortest
        for batch in batches:
            keys = [(p.item.id, setting, j) for p in batch for j in p.choices]
            if all(key in done for key in keys):
                records.extend(done[key] for key in keys)
            else:
                pending.append((setting, batch))
    rank, world = shard
    mine = pending[rank::world]
    total = sum(len(batch) for _, batch in mine)
    checked: set[str] = set()
    with tqdm(total=total, desc=task.id, unit="req", disable=not progress, leave=False) as bar:
        for setting, batch in mine:
            outcome = _score_batch(scorer, batch, setting)
            if setting not in checked:
                checked.add(setting)
                _stop_if_the_model_cannot_run(scorer, task, setting, batch, outcome, shortest[setting])
            if sink is not None:
                sink.append(outcome.records)
            records.extend(outcome.records)
            errors.extend(outcome.errors)
            bar.update(len(batch))
    return sort_records(records, items, settings), errors


def sort_records(records: Iterable[Record], items: Sequence[Item], settings: Sequence[str]) -> list[Record]:
    """Canonical order: the items' order, then the settings' order, then the choice."""
    item_order = {item.id: i for i, item in enumerate(items)}
    setting_order = {s: i for i, s in enumerate(settings)}
    return sorted(
        records, key=lambda r: (item_order.get(r.item_id, len(item_order)), setting_order[r.setting], r.choice)
    )


def _records(item: Item, request: Request, scores: Sequence, choices: Sequence[int]) -> list[Record]:
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
            extra=getattr(s, "extra", None),
        )
        for j, s in zip(choices, scores, strict=True)
    ]


def check_settings(scorer: Scorer, settings: Iterable[str]) -> None:
    """Fail before any work when the scorer cannot do a requested setting."""
    for setting in settings:
        if setting not in ALL_SETTINGS:
            raise AdapterError(f"unknown setting {setting!r}; known: {', '.join(ALL_SETTINGS)}")
        if setting not in scorer.settings:
            raise AdapterError(
                f"adapter {scorer.name!r} cannot score the {setting!r} setting (it supports: "
                f"{', '.join(scorer.settings)}). Use a speech model's adapter, or pass --settings "
                f"{' '.join(scorer.settings)}."
            )


@dataclass
class BatchOutcome:
    """What one batch gave: records, per-item errors, and the model failures behind some of those errors."""

    records: list[Record] = field(default_factory=list)
    errors: list[ItemError] = field(default_factory=list)
    failures: list[Exception] = field(default_factory=list)
    """Exceptions of requests the model failed on alone (not bad audio, not an `ItemError` the scorer raised)."""


def _score_batch(scorer: Scorer, batch: Sequence[Planned], setting: str) -> BatchOutcome:
    outcome = BatchOutcome()
    ready: list[tuple[Item, Request]] = []
    choices: dict[int, tuple[int, ...]] = {}  # the choices each request scores, by the request object scored
    for p in batch:
        try:
            request = decoded(p)
            ready.append((p.item, request))
            choices[id(request)] = p.choices
        except ItemError as err:
            outcome.errors.append(err)
    for item, request, result in _isolating(scorer, ready):
        if isinstance(result, ItemError):
            outcome.errors.append(result)
        elif isinstance(result, Exception):
            outcome.failures.append(result)
            outcome.errors.append(_failure_error(item, request, result))
        else:
            outcome.records.extend(_records(item, request, result, choices[id(request)]))
    return outcome


def _isolating(scorer: Scorer, ready: list[tuple[Item, Request]]) -> Iterator[tuple[Item, Request, Any]]:
    """Score a batch; if it fails, score its requests one by one so only the culprit is lost.

    Yields (item, request, outcome) where outcome is the scores, an `ItemError`
    the scorer raised for that item, or the exception it failed with alone (a
    `NonFiniteScore` for NaN or infinite scores, found per request, so the
    batch's other requests keep theirs). `AdapterError` and `ImportError` stop
    everything: they are never about one item.
    """
    if not ready:
        return
    try:
        results = scorer.score([request for _, request in ready])
        _check_shapes(ready, results)
    except AdapterError:
        raise
    except ImportError as err:
        raise AdapterError(
            f"the model needs a package that is not installed ({type(err).__name__}: {err}). Install it and run again."
        ) from err
    except Exception as err:  # noqa: BLE001 - any model failure is reported per item
        if len(ready) > 1:
            for one in ready:
                yield from _isolating(scorer, [one])
            return
        item, request = ready[0]
        yield item, request, err
        return
    for (item, request), scores in zip(ready, results, strict=True):
        yield item, request, _non_finite(request, scores) or scores


def _non_finite(request: Request, scores: Sequence) -> NonFiniteScore | None:
    """A `NonFiniteScore` naming the continuations whose score is NaN or infinite, if any."""
    bad = [j for j, s in enumerate(scores) if not math.isfinite(float(s.nll_sum))]
    if not bad:
        return None
    values = ", ".join(f"{j}: {float(scores[j].nll_sum)}" for j in bad)
    return NonFiniteScore(f"the model returned a non-finite score for continuation(s) {values}")


def _failure_error(item: Item, request: Request, err: Exception) -> ItemError:
    if isinstance(err, NonFiniteScore):
        return ItemError(
            item.task,
            item.id,
            f"{err} in the {request.setting} setting (not cached: the next run tries it again)",
            "If many items do this, run with --dtype float32 (half precision overflows); the other items were scored.",
        )
    return ItemError(
        item.task,
        item.id,
        f"scoring failed in the {request.setting} setting ({type(err).__name__}: {err})",
        "Check this item's text and audio; the other items were scored.",
    )


def _stop_if_the_model_cannot_run(
    scorer: Scorer, task: Task, setting: str, batch: Sequence[Planned], outcome: BatchOutcome, shortest: Planned
) -> None:
    """After a setting's first scored batch: raise `AdapterError` if the model, not the items, is at fault.

    That is when no request of the batch was scored, every one of them failed
    alone with the same type of exception, and the setting's shortest request,
    scored alone, fails with it too. Otherwise the failures stay per-item errors.
    """
    kinds = {type(err) for err in outcome.failures}
    if outcome.records or len(kinds) != 1:
        return
    kind = kinds.pop()
    if all(p.item.id != shortest.item.id for p in batch):
        try:
            probe = [(shortest.item, decoded(shortest))]
        except ItemError:
            return  # the probe cannot tell
        results = [result for _, _, result in _isolating(scorer, probe)]
        if not (results and type(results[0]) is kind):
            return
    first = outcome.failures[0]
    raise AdapterError(
        f"the model cannot score task {task.id!r} in the {setting} setting: every request of the first batch "
        f"failed with {kind.__name__} ({first}), and so did the shortest request alone, so the cause is the "
        "model or its environment, not the items. Fix it (a missing package, --device, --dtype, memory: "
        "--batch-size / --max-batch-tokens) and run again; records already scored are kept in the output's cache."
    ) from first


def _check_shapes(ready: list[tuple[Item, Request]], results: Sequence) -> None:
    if len(results) != len(ready) or any(
        len(s) != len(r.continuations) for (_, r), s in zip(ready, results, strict=True)
    ):
        raise ValueError("the scorer returned a different number of scores than requests/continuations")
