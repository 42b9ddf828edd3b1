"""What the model is given: the framed inputs of a few items, their tokens, and which tokens are scored.

lm-evaluation-harness users check prompts with ``--write_out``; ``s2sbench prompts`` is the same
check here. For each task and setting it frames the first items exactly as a run does
(`s2sbench_hf.scoring.engine.make_request`, with the run's framing options) and, for a transformers
adapter (`HFScorer`), shows the prompt as the model sees it, token by token, then each continuation's
scored tokens (docs/protocol.md, "Which tokens are scored: the token rule") between ``[[`` and ``]]``.
A run of one special token (the audio placeholders a clip expands to) is shown once, with its count and
the clip's seconds. A user's own scorer tokenizes in its own way: its framed strings are shown.

The functions return text and never print, so the command line and the tests share them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from s2sbench_hf.data.sources import load_task
from s2sbench_hf.options import OptionError, RunConfig
from s2sbench_hf.runner import library_progress
from s2sbench_hf.scoring.adapters.base import HFScorer
from s2sbench_hf.scoring.engine import check_settings, make_request
from s2sbench_hf.scoring.interface import Request, Scorer
from s2sbench_hf.scoring.registry import load_scorer
from s2sbench_hf.tasks import SPEECH_CONTEXT, SPEECH_CONTINUATION, Item, Task

SCORED_OPEN, SCORED_CLOSE = "[[", "]]"
"""Brackets around the tokens a continuation is scored on."""


@dataclass(frozen=True)
class Piece:
    """Decoded text of consecutive tokens: one token, a run of one special token (``count`` > 1), or the few
    tokens that together make whole UTF-8 characters (a byte-level BPE splits a Chinese character)."""

    text: str
    count: int = 1
    run: bool = False
    """``count`` copies of one special token (e.g. the audio placeholders of a clip)."""

    def show(self) -> str:
        return f"{self.text!r} x {self.count}" if self.run else repr(self.text)


def text_pieces(tokenizer: Any, ids: Sequence[int], before: Sequence[int] = ()) -> list[Piece]:
    """``ids`` decoded token by token, as they read after the tokens ``before``.

    Each piece is what one more token adds to the decoded text, so the pieces join to exactly the
    decoded text (a SentencePiece token's leading space is kept, which a token decoded alone loses);
    a token that ends inside a UTF-8 character is joined with the next ones until the character is whole.
    """
    decode = _decoder(tokenizer)
    shown, start, pieces = decode(before), 0, []
    for end in range(1, len(ids) + 1):
        text = decode([*before, *ids[:end]])
        if text.endswith("\ufffd") and end < len(ids):
            continue
        pieces.append(Piece(text[len(shown) :], end - start))
        shown, start = text, end
    return pieces


def prompt_pieces(tokenizer: Any, ids: Sequence[int]) -> list[Piece]:
    """The prompt's tokens as pieces (`text_pieces`), each run of two or more of one special token as one piece."""
    special = set(tokenizer.all_special_ids) | set(getattr(tokenizer, "added_tokens_decoder", {}))
    pieces: list[Piece] = []
    shown = position = 0  # ids[:shown] are in pieces; ids[:position] have been looked at
    for token, group in groupby(ids):
        count = len(list(group))
        if count > 1 and token in special:
            pieces += text_pieces(tokenizer, ids[shown:position], ids[max(0, shown - 1) : shown])
            pieces.append(Piece(_decoder(tokenizer)([token]), count, run=True))
            shown = position + count
        position += count
    return pieces + text_pieces(tokenizer, ids[shown:], ids[max(0, shown - 1) : shown])


def _decoder(tokenizer: Any) -> Any:
    """Token ids -> text, special tokens shown and no clean-up of spaces (the text the ids stand for)."""
    return lambda ids: tokenizer.decode(list(ids), skip_special_tokens=False, clean_up_tokenization_spaces=False)


def wrapped(parts: Sequence[str], width: int = 100, indent: str = "  ") -> list[str]:
    """``parts`` joined by spaces into indented lines of at most ``width`` characters (a part is never cut)."""
    lines: list[str] = []
    for part in parts:
        if lines and len(lines[-1]) + 1 + len(part) <= width:
            lines[-1] += " " + part
        else:
            lines.append(indent + part)
    return lines


def prompt_ids(scorer: HFScorer, request: Request) -> list[int]:
    """The prompt's token ids as the model gets them: `HFScorer.prefix_inputs` of the request alone, unpadded."""
    inputs = scorer.prefix_inputs([request])
    ids, mask = inputs["input_ids"][0], inputs["attention_mask"][0]
    return [int(i) for i in ids[mask.bool()]]


def _choice_label(choice: int, label: int) -> str:
    return f"choice {choice}" + (" (answer)" if choice == label else "")


def show_request(scorer: Scorer, request: Request, choices: Sequence[int], label: int) -> str:
    """One framed request as text: its prompt and, per continuation, what is scored.

    ``choices`` are the item's choice indices of the request's continuations and ``label`` the answer's.
    A transformers adapter's prompt is shown token by token (`prompt_pieces`) and each text continuation's
    scored tokens (`HFScorer.continuation_ids`) between `SCORED_OPEN` and `SCORED_CLOSE`; another scorer's
    request as its framed strings.
    """
    lines = [f"--- {request.task} · {request.setting} · item {request.item_id}"]
    speech = f" + {request.audio_seconds:.2f} s of speech" if request.setting in SPEECH_CONTEXT else ""
    hf = scorer if isinstance(scorer, HFScorer) else None
    if hf is not None:
        ids = prompt_ids(hf, request)
        pieces = prompt_pieces(hf.tokenizer, ids)
        runs = sum(p.count for p in pieces if p.run)
        audio = f" ({runs} of them for {request.audio_seconds:.2f} s of speech)" if speech and runs else ""
        lines += [f"prompt: {len(ids)} tokens{audio}", *wrapped([p.show() for p in pieces])]
    else:
        lines.append(f"prompt (framed): {request.context!r}{speech}")
    for index, (choice, text) in enumerate(zip(choices, request.continuations, strict=True)):
        name = _choice_label(choice, label)
        if request.setting in SPEECH_CONTINUATION:
            seconds = (request.continuation_seconds or ())[index]
            lines.append(f"{name}: {seconds:.2f} s of speech saying {text!r} (scored on the model's speech tokens)")
        elif hf is not None:
            cont = hf.continuation_ids(request)[index]
            shown = [p.show() for p in text_pieces(hf.tokenizer, cont, ids[-1:])]
            lines += [f"{name}: {len(cont)} scored tokens", *wrapped([SCORED_OPEN, *shown, SCORED_CLOSE])]
        else:
            lines.append(f"{name} (framed): {text!r}")
    return "\n".join(lines)


def _requests(task: Task, item: Item, setting: str, scorer: Scorer) -> Iterator[tuple[Request, tuple[int, ...]]]:
    """The requests a run makes of ``item`` in ``setting``: one per distinct context speech (`Item.audio_groups`)."""
    groups = item.audio_groups() if setting in SPEECH_CONTEXT else [tuple(range(len(item.choices)))]
    for choices in groups:
        yield make_request(task, item, setting, task.framing, scorer.sampling_rate, choices=choices), choices


def show_prompts(config: RunConfig, n_items: int, *, progress: bool = True) -> Iterator[str]:
    """The first ``n_items`` items of each task of ``config``, in each of its settings, framed as the run frames
    them (`show_request`), one block per request; the data is read before the model is loaded, as in a run.
    ``progress`` False: no bar while they load, ours or the libraries' (`runner.library_progress`)."""
    if isinstance(n_items, bool) or not isinstance(n_items, int) or n_items < 1:
        raise OptionError(f"--items must be an integer >= 1, got {n_items!r}.")
    with library_progress(progress):
        loaded = [
            load_task(t, config.dataset, limit=n_items, revision=config.dataset_revision, progress=progress)
            for t in config.tasks
        ]
        scorer = load_scorer(config.model, config.adapter, **config.scorer_kwargs())
    check_settings(scorer, config.settings)
    if not isinstance(scorer, HFScorer):
        yield (
            f"note: {type(scorer).__name__} is not a transformers adapter (HFScorer): the framed strings are "
            "shown; which tokens it scores is its own."
        )
    for each in loaded:
        task = config.task(each.task)
        for setting in config.settings:
            for item in each.items:
                for request, choices in _requests(task, item, setting, scorer):
                    yield show_request(scorer, request, choices, item.label)
