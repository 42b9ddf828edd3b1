"""The scoring engine: items -> framed requests -> planned batches -> per-continuation records.

The engine applies the task's prompt framing, sizes every request in tokens
(audio from its header, before decoding), sorts by length and fills batches up
to a token budget, so that padding stays small and memory bounded. The batch
plan depends only on the items and the model, never on what is cached or on
the number of processes: a resumed or sharded run computes exactly the same
batches, hence bit-identical scores. Audio is decoded only for the batch at
hand. Every failure becomes an `ItemError` for that item alone: a bad item
never costs the records of the good ones.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable, Iterator, Protocol, Sequence

from tqdm.auto import tqdm

from s2sbench_hf.scoring.interface import AdapterError, Record, Request, Scorer
from s2sbench_hf.tasks import SETTINGS, Framing, Item, ItemError, Task


def make_request(
    task: Task, item: Item, setting: str, framing: Framing, sampling_rate: int | None, *, decode: bool = True
) -> Request:
    """Frame one item for one setting (PROTOCOL.md, "Prompt framing used by the reference release").

    With ``decode=False`` the audio is only measured (``audio_seconds``), not decoded.
    """
    if setting == "text":
        conts = tuple(framing.text_separator + c for c in item.choices)
        return Request(task.id, item.id, setting, item.context, conts)
    if setting == "audio":
        conts = tuple(framing.audio_separator + c for c in item.choices)
        rate = sampling_rate or 16000
        seconds = item.audio_seconds()
        audio = item.waveform(rate) if decode else None
        text_conts = tuple(framing.text_separator + c for c in item.choices)
        return Request(
            task.id, item.id, setting, framing.audio_prefix, conts, audio, rate, seconds,
            context_text=item.context, text_continuations=text_conts,
        )
    raise ValueError(f"unknown setting {setting!r}; known: {', '.join(SETTINGS)}")


@dataclass(frozen=True)
class Planned:
    """A request sized in tokens, its audio not decoded yet."""

    item: Item
    request: Request
    prompt_tokens: int
    continuation_tokens: tuple[int, ...]


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
    """The default batch size (``--batch-size`` not given) for ``scorer``'s device and ``setting``."""
    device = getattr(getattr(scorer, "device", None), "type", "cpu")  # a scorer without a device: a CPU
    return CPU_BATCH_SIZE.get(setting, 1) if device == "cpu" else GPU_BATCH_SIZE


def resolve_batch_size(batch_size: int | None, scorer: Scorer, setting: str) -> int:
    """``batch_size``, or when it is None ("auto") `auto_batch_size`."""
    return auto_batch_size(scorer, setting) if batch_size is None else batch_size


def windowed_clips(scorer: Scorer, items: Sequence[Item], setting: str) -> int:
    """How many of the items' context clips ``scorer`` scores over several consecutive windows in ``setting``."""
    if setting != "audio":
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
        try:
            request = make_request(task, item, setting, task.framing, scorer.sampling_rate, decode=False)
            prompt, conts = scorer.token_lengths(request)
        except ItemError as err:
            errors.append(err)
            continue
        planned.append(Planned(item, request, prompt, tuple(conts)))
    planned.sort(key=lambda p: (p.prompt_tokens, max(p.continuation_tokens), p.item.id), reverse=True)
    batches: list[list[Planned]] = []
    for p in planned:
        current = batches[-1] if batches else None
        fits = current is not None and len(current) < batch_size and (
            max_batch_tokens is None or batch_tokens([*current, p]) <= max_batch_tokens
        )
        if fits:
            current.append(p)
        else:
            batches.append([p])
    return batches, errors


class RecordSink(Protocol):
    def append(self, records: Iterable[Record]) -> None: ...


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
    (item order, setting, choice), whoever computed them.
    """
    check_settings(scorer, settings)
    done = {(r.item_id, r.setting, r.choice): r for r in cached if r.task == task.id}
    records: list[Record] = []
    errors: list[ItemError] = []
    pending: list[tuple[str, list[Planned]]] = []
    for setting in settings:
        batches, plan_errors = plan_batches(
            scorer, task, items, setting, batch_size=batch_size, max_batch_tokens=max_batch_tokens
        )
        errors.extend(plan_errors)
        for batch in batches:
            keys = [(p.item.id, setting, j) for p in batch for j in range(len(p.item.choices))]
            if all(key in done for key in keys):
                records.extend(done[key] for key in keys)
            else:
                pending.append((setting, batch))
    rank, world = shard
    mine = pending[rank::world]
    total = sum(len(batch) for _, batch in mine)
    with tqdm(total=total, desc=task.id, unit="req", disable=not progress, leave=False) as bar:
        for setting, batch in mine:
            new_records, new_errors = _score_batch(scorer, task, batch, setting)
            if sink is not None:
                sink.append(new_records)
            records.extend(new_records)
            errors.extend(new_errors)
            bar.update(len(batch))
    return sort_records(records, items, settings), errors


def sort_records(records: Iterable[Record], items: Sequence[Item], settings: Sequence[str]) -> list[Record]:
    """Canonical order: the items' order, then the settings' order, then the choice."""
    item_order = {item.id: i for i, item in enumerate(items)}
    setting_order = {s: i for i, s in enumerate(settings)}
    return sorted(records, key=lambda r: (item_order.get(r.item_id, len(item_order)), setting_order[r.setting], r.choice))


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
            extra=getattr(s, "extra", None),
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


def _score_batch(scorer: Scorer, task: Task, batch: Sequence[Planned], setting: str) -> tuple[list[Record], list[ItemError]]:
    errors: list[ItemError] = []
    ready: list[tuple[Item, Request]] = []
    for p in batch:
        try:
            audio = p.item.waveform(p.request.sampling_rate) if setting == "audio" else None
            ready.append((p.item, replace(p.request, audio=audio)))
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
