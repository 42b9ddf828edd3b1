"""The S2SBench task registry and the validated `Item` record.

A task says what an item looks like (language, number of choices), what chance
is, how the reference release frames the prompts, and how the reference
accuracy scripts treat ties (docs/protocol.md). `TASKS` holds the three
S2SBench sets (what a run scores by default, the samples, the board);
`SPEECH_LM_TASKS` the speech-LM sets (sStoryCloze, tStoryCloze, sWUGGY, sBLIMP,
SALMon, slamkit's cross-modal tStoryCloze), run only when asked for by name;
`get_task` looks both up (`ALL_TASKS`). A dataset may define more (``s2sbench
build source --task-id`` writes each task's `Task.to_spec` into its card,
`Task.from_spec` reads and checks it back). Everything that reads items, from the Hub, a local folder or a
reference release, ends in `Item.validate`, so a bad item is reported the same
way whatever its source.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from s2sbench_hf.audio import AudioDecodeError, audio_duration, load_audio

SETTINGS = ("text", "audio", "text_to_speech", "speech_to_speech")
"""The settings, each a (context, continuation) modality: ``text`` (T->T), ``audio`` (S->T, the paper's
speech-to-text), ``text_to_speech`` (T->S) and ``speech_to_speech`` (S->S). `SPEECH_CONTEXT` and
`SPEECH_CONTINUATION` say which side of each is speech; everything else treats them alike."""

DEFAULT_SETTINGS = ("text", "audio")
"""The paper's two settings: what a run scores unless asked for others."""

SPEECH_CONTEXT = ("audio", "speech_to_speech")
"""Settings whose context is the item's speech (the others give it as text)."""

UTTERANCE = "utterance"
"""The kind of task of the speech-LM sets, and its one setting: an item is a (positive, negative) pair of whole clips
(`Item.choices_audio`), each scored alone from its first token, with no context: a spoken continuation after an
empty context."""

UTTERANCE_SETTINGS = (UTTERANCE,)
"""The settings of an utterance task: only ``utterance`` (no context to give as text or speech). Not a value of
``--settings``: a run scores an utterance task in these whatever ``--settings`` says (`Task.settings`)."""

ALL_SETTINGS = SETTINGS + UTTERANCE_SETTINGS
"""Every setting a record can be in: the four of the continuation tasks and ``utterance``."""

SPEECH_CONTINUATION = ("text_to_speech", "speech_to_speech", UTTERANCE)
"""Settings whose continuations are the choices' speech (the others score their text): only models of speech
tokens score them. ``utterance`` is one: a whole clip is a spoken continuation of an empty context."""

GAP_PAIRS = tuple(f"{a}:{b}" for a in SETTINGS for b in SETTINGS if a != b)
"""Every ``A:B`` pair of settings whose gap (accuracy of A minus that of B) a run can report."""

DEFAULT_GAP = "text:audio"
"""The paper's degradation: text minus audio accuracy."""


def gap_settings(pair: str) -> tuple[str, str]:
    """``"text:audio"`` -> ``("text", "audio")``; `ValueError` for anything not in `GAP_PAIRS`."""
    if pair not in GAP_PAIRS:
        raise ValueError(f"unknown gap {pair!r}: write it A:B with two different settings of {', '.join(SETTINGS)}")
    first, second = pair.split(":")
    return first, second


CONTINUATION = "continuation"
"""The kind of task of S2SBench: a context (text and speech) and k continuations, scored after the context."""

TASK_KINDS = (CONTINUATION, UTTERANCE)

TASK_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
"""A task id (a dataset config name): letters, digits, ``_``, ``.``, ``-``; at most 64 characters."""


class S2SBenchError(Exception):
    """Base class of every error this package raises on purpose."""


class UnknownTaskError(S2SBenchError, KeyError):
    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class ItemError(S2SBenchError, ValueError):
    """One item cannot be used. Names the task and the item, says what to do."""

    def __init__(self, task: str, item_id: str, problem: str, fix: str):
        self.task, self.item_id, self.problem, self.fix = task, item_id, problem, fix
        super().__init__(f"task {task!r}, item {item_id!r}: {problem}. {fix}")

    def __reduce__(self):  # picklable, to gather errors across processes
        return (type(self), (self.task, self.item_id, self.problem, self.fix))

    @classmethod
    def of(cls, task: str, item_id: str, problems: Sequence[tuple[str, str]]) -> ItemError:
        """One error for several (problem, fix) pairs (`Item.problems`)."""
        return cls(task, item_id, "; ".join(p for p, _ in problems), " ".join(f for _, f in problems))


@dataclass(frozen=True)
class Framing:
    """How a context and a continuation are put together (docs/protocol.md, "Prompt framing").

    ``text``:  ``context + text_separator + continuation``
    ``audio``: ``audio_prefix + <speech> + audio_separator + continuation``; each
    adapter renders <speech> its own way (placeholder tokens, markers).

    ``keep_trailing_space``: a text context's trailing whitespace is kept, as the
    reference scripts keep it in their question segment; by default it is layout,
    not text, and is dropped, so that the separator is the only boundary.
    """

    audio_prefix: str
    text_separator: str
    audio_separator: str = ""
    keep_trailing_space: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "audio_prefix": self.audio_prefix,
            "text_separator": self.text_separator,
            "audio_separator": self.audio_separator,
            "keep_trailing_space": self.keep_trailing_space,
        }

    def text_context(self, context: str) -> str:
        """A text context as this framing puts it in the prompt (its trailing whitespace dropped or kept)."""
        return context if self.keep_trailing_space else context.rstrip()


ENGLISH_FRAMING = Framing(
    audio_prefix="Below is a segment of alternating speech and text content: ",
    text_separator=" ",
)
CHINESE_FRAMING = Framing(audio_prefix="下面是一段语音和文本交错的内容：", text_separator="")

INTENDED = "intended"
REFERENCE_AS_SHIPPED = "reference-as-shipped"
FRAMING_PRESETS = (INTENDED, REFERENCE_AS_SHIPPED)
"""How prompts are framed. ``intended``: each task its own language's framing (the protocol).
``reference-as-shipped``: `AS_SHIPPED_FRAMING` for every task, as the reference release's scripts
actually run them (docs/protocol.md, "Comparing with published numbers")."""

AS_SHIPPED_FRAMING = replace(CHINESE_FRAMING, keep_trailing_space=True)
"""The framing the shipped reference scripts give every task: their prompt builder reads a module-level
``lang`` that keeps the last dataset's value (Chinese) in their loop over the three sets, so the English
stories too get the Chinese audio prefix and no space before the ending; and the context goes into the
prompt as it is, trailing whitespace included."""

AS_SHIPPED_NOTE = (
    "Framing preset reference-as-shipped: every task framed as the shipped reference scripts frame it "
    "(Chinese audio prefix, no separator before the continuation, English stories included), to compare with "
    "published numbers; not the intended protocol, so not comparable with runs that use it."
)


def framing_for_language(language: str) -> Framing:
    """The reference framing of a language: the Chinese one for ``zh``, else the English one."""
    return CHINESE_FRAMING if language == "zh" else ENGLISH_FRAMING


@dataclass(frozen=True)
class Task:
    """One set: what its items look like, how they are framed, and its literature's scoring conventions."""

    id: str
    language: str
    num_choices: int
    framing: Framing
    """How a context and a continuation are put together (unused by an utterance task, which has no context)."""
    reference_tie_credit: float
    """Credit of a tie in the reference accuracy scripts: 0 (strict ``<``) or 1 (``<=``) for S2SBench's, 0.5
    for slamkit's and ZeroSpeech's."""
    description: str = ""
    reference_size: int = 0
    """Items in the reference release (docs/protocol.md), for the record."""
    kind: str = CONTINUATION
    """`CONTINUATION` (a context and k continuations) or `UTTERANCE` (a pair of whole clips, no context)."""
    hub_datasets: tuple[str, ...] = ()
    """The public Hub datasets that publish the set, the first its usual home (a speech-LM set's; empty for
    S2SBench's, whose home is the run's default dataset): the hint of a source that lacks the task, and the data
    the board accepts for it."""
    breakdown: str | None = None
    """The `Item.meta` key its literature reports accuracy by (``subset`` for SALMon, ``in_vocab`` for sWUGGY):
    results.json then carries the accuracy per value of it (`metrics.breakdown`); None: no breakdown."""

    def __post_init__(self) -> None:
        if self.kind not in TASK_KINDS:
            raise ValueError(f"task {self.id!r}: kind {self.kind!r} is not one of {', '.join(TASK_KINDS)}")

    @property
    def settings(self) -> tuple[str, ...]:
        """The settings the task can be scored in: ``utterance`` alone for an utterance task, else `SETTINGS`."""
        return UTTERANCE_SETTINGS if self.kind == UTTERANCE else SETTINGS

    @property
    def chance(self) -> float:
        """Chance level of the pairwise accuracy (the headline number): always 1/2."""
        return 0.5

    @property
    def argmin_chance(self) -> float:
        return 1.0 / self.num_choices

    def with_framing(self, framing: Framing) -> Task:
        return replace(self, framing=framing)

    def to_spec(self) -> dict[str, Any]:
        """What a dataset card records about the task (`from_spec` reads it back); ``kind`` only where it is not
        `CONTINUATION` and ``breakdown`` only where it is set, so an S2SBench card is unchanged."""
        spec: dict[str, Any] = {
            "language": self.language,
            "num_choices": self.num_choices,
            "framing": self.framing.to_dict(),
            "reference_tie_credit": self.reference_tie_credit,
            "description": self.description,
        }
        if self.kind != CONTINUATION:
            spec["kind"] = self.kind
        if self.breakdown is not None:
            spec["breakdown"] = self.breakdown
        return spec

    @classmethod
    def from_spec(cls, task_id: str, spec: Any) -> Task:
        """A task from its `to_spec` dict; `ValueError` naming every field that is missing or wrong."""
        if not isinstance(spec, dict):
            raise ValueError(f"task {task_id!r}: the spec should be a mapping, got {type(spec).__name__}")
        problems = []
        language, k = spec.get("language"), spec.get("num_choices")
        framing, tie = spec.get("framing"), spec.get("reference_tie_credit", 0.0)
        if not isinstance(language, str) or not language.strip():
            problems.append(f"language {language!r} is not a language code (en, zh, ...)")
        if isinstance(k, bool) or not isinstance(k, int) or k < 2:
            problems.append(f"num_choices {k!r} is not an integer >= 2")
        keys = ("audio_prefix", "text_separator", "audio_separator")
        if (
            not isinstance(framing, dict)
            or any(not isinstance(framing.get(key, ""), str) for key in keys)
            or not isinstance(framing.get("keep_trailing_space", False), bool)
            or not {"audio_prefix", "text_separator"} <= set(framing)
            or set(framing) - {*keys, "keep_trailing_space"}
        ):
            problems.append(
                f"framing {framing!r} should map audio_prefix, text_separator (and audio_separator) to strings "
                "(and keep_trailing_space to true or false)"
            )
        if isinstance(tie, bool) or not isinstance(tie, (int, float)) or not 0 <= tie <= 1:
            problems.append(f"reference_tie_credit {tie!r} is not a number from 0 to 1")
        if not isinstance(spec.get("description", ""), str):
            problems.append("description is not a string")
        if spec.get("kind", CONTINUATION) not in TASK_KINDS:
            problems.append(f"kind {spec.get('kind')!r} is not one of {', '.join(TASK_KINDS)}")
        breakdown = spec.get("breakdown")
        if breakdown is not None and (not isinstance(breakdown, str) or not breakdown.strip()):
            problems.append(f"breakdown {breakdown!r} is not the name of an item field (subset, in_vocab, ...)")
        if problems:
            raise ValueError(f"task {task_id!r}: " + "; ".join(problems))
        assert isinstance(language, str) and isinstance(k, int) and isinstance(framing, dict)  # checked above
        return cls(
            id=task_id,
            language=language,
            num_choices=k,
            framing=Framing(**framing),
            reference_tie_credit=float(tie),
            description=spec.get("description", ""),
            kind=spec.get("kind", CONTINUATION),
            breakdown=breakdown,
        )


TASKS: dict[str, Task] = {
    t.id: t
    for t in (
        Task(
            id="sstorycloze",
            language="en",
            num_choices=2,
            framing=ENGLISH_FRAMING,
            reference_tie_credit=0.0,
            description="English spoken StoryCloze: a four-sentence story, a plausible and an implausible ending.",
            reference_size=1871,
        ),
        Task(
            id="zh_sstorycloze",
            language="zh",
            num_choices=2,
            framing=CHINESE_FRAMING,
            reference_tie_credit=0.0,
            description="Chinese spoken StoryCloze.",
            reference_size=1871,
        ),
        Task(
            id="scmmlu",
            language="zh",
            num_choices=4,
            framing=CHINESE_FRAMING,
            reference_tie_credit=1.0,
            description="Spoken CMMLU: Chinese knowledge questions, one answer and three distractors.",
            reference_size=4743,
        ),
    )
}


SALMON_SUBSETS = (
    "bg_alignment",
    "bg_all_consistency",
    "bg_domain_consistency",
    "gender_consistency",
    "rir_consistency",
    "sentiment_alignment",
    "sentiment_consistency",
    "speaker_consistency",
)
"""SALMon's acoustic-consistency and alignment subsets (Maimon et al. 2025), 200 pairs each."""


def _speech_lm_task(
    task_id: str,
    description: str,
    *hub_datasets: str,
    kind: str = UTTERANCE,
    size: int = 0,
    breakdown: str | None = None,
) -> Task:
    """A speech-LM set: English, two choices, and a tie counts 0.5, as in slamkit's and ZeroSpeech's scripts (the
    credit of ``--tie-policy reference``); ``breakdown`` as its literature reports it."""
    return Task(
        id=task_id,
        language="en",
        num_choices=2,
        framing=ENGLISH_FRAMING,
        reference_tie_credit=0.5,
        description=description,
        reference_size=size,
        kind=kind,
        breakdown=breakdown,
        hub_datasets=hub_datasets,
    )


SPEECH_LM_TASKS: dict[str, Task] = {
    t.id: t
    for t in (
        _speech_lm_task(
            "sstorycloze_slm",
            "Spoken StoryCloze (TWIST): a whole spoken story with its original or an implausible ending.",
            "speed/sStoryCloze",
            size=1871,
        ),
        _speech_lm_task(
            "tstorycloze_slm",
            "Topic StoryCloze (TWIST): a whole spoken story with its original or a random other story's ending.",
            "speed/tStoryCloze",
            size=1871,
        ),
        _speech_lm_task(
            "swuggy",
            "sWUGGY (ZeroSpeech 2021): a spoken word against a spoken non-word.",
            "speed/sWUGGY",
            "coml/sWuggy",
            breakdown="in_vocab",
        ),
        _speech_lm_task(
            "sblimp",
            "sBLIMP (ZeroSpeech 2021): a grammatical against an ungrammatical spoken sentence.",
            "speed/sBLIMP",
        ),
        *(
            _speech_lm_task(
                f"salmon_{subset}",
                f"SALMon {subset}: a clip whose acoustics are consistent (or fit its words) against one that is not.",
                "slprl/SALMon",
                size=200,
            )
            for subset in SALMON_SUBSETS
        ),
        _speech_lm_task(
            "salmon",
            "SALMon, its 8 subsets together, reported by subset.",
            "slprl/SALMon",
            size=200 * len(SALMON_SUBSETS),
            breakdown="subset",
        ),
        _speech_lm_task(
            "tsc_crossmodal",
            "slamkit's cross-modal tStoryCloze: a shared prompt and two endings, each as text and as speech.",
            kind=CONTINUATION,
        ),
    )
}
"""The speech-LM sets (issue 24): run when named (``--tasks salmon``), never by default, never on the S2SBench board.
A tie counts 0.5 under ``--tie-policy reference`` (their scripts'); the default ``--scoring-rule mean`` is theirs."""

ALL_TASKS: dict[str, Task] = {**TASKS, **SPEECH_LM_TASKS}
"""Every built-in task, by id: what `get_task` looks up."""


def get_task(task_id: str) -> Task:
    """Look a built-in task up by id (`ALL_TASKS`), with an error that lists the known ones."""
    try:
        return ALL_TASKS[task_id]
    except KeyError:
        known, speech_lm = ", ".join(sorted(TASKS)), ", ".join(sorted(SPEECH_LM_TASKS))
        raise UnknownTaskError(
            f"unknown task {task_id!r}. Known tasks: {known}; speech-LM sets: {speech_lm}."
        ) from None


@dataclass
class Item:
    """One benchmark item: a context (as text and as speech) and k continuations.

    ``audio`` is the context speech in one of three forms: a waveform (with
    ``sampling_rate``), the bytes of an encoded file (wav, flac, ...) or a file path.
    Encoded audio is decoded only when a batch needs it (`waveform`), so a full
    task never sits in memory as float arrays. ``None`` means the item has no
    speech (a text-only source). ``meta`` carries source fields that exports need
    (the reference ``uttid``, a subject, ...).

    ``choice_context_audio`` is set only when the choices are not all scored after the
    same speech: one context speech per choice (the reference release has one wav
    per story row, and scores each ending after its own row's wav). Choices whose
    speech is the same (`audio_groups`) share one context pass.

    ``choices_audio`` holds the continuations as speech, one clip per choice in
    the same three forms, for the settings with spoken continuations
    (`SPEECH_CONTINUATION`); None when the source has none. Like the context
    speech, a missing or unusable clip fails the item only in those settings.

    An item of an `UTTERANCE` task is a pair of whole clips: ``context`` is "", ``audio`` None, ``choices`` the
    clips' transcripts where the data has them (else ""), ``choices_audio`` the clips (the positive one at
    ``label``, 0 by convention), and ``meta`` the source's fields (subset, word frequency, file names). Its
    clips are the item, so a missing or unreadable one is a problem of the item (`problems`), found on load.
    """

    task: str
    id: str
    context: str
    choices: list[str]
    label: int
    audio: np.ndarray | bytes | str | None = None
    sampling_rate: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    choice_context_audio: Sequence[np.ndarray | bytes | str | None] | None = None
    choices_audio: Sequence[np.ndarray | bytes | str | None] | None = None

    def audio_groups(self) -> list[tuple[int, ...]]:
        """The choices grouped by the context speech they are scored after, in choice order.

        One group of every choice unless ``choice_context_audio`` gives some choice other speech.
        """
        if self.choice_context_audio is None:
            return [tuple(range(len(self.choices)))]
        groups: list[list[int]] = []
        for j, clip in enumerate(self.choice_context_audio):
            for group in groups:
                if _same_audio(self.choice_context_audio[group[0]], clip):
                    group.append(j)
                    break
            else:
                groups.append([j])
        return [tuple(group) for group in groups]

    def speech_of(self, choice: int | None = None) -> np.ndarray | bytes | str | None:
        """The context speech that ``choice`` is scored after (None: the item's ``audio``)."""
        if choice is None or self.choice_context_audio is None:
            return self.audio
        return self.choice_context_audio[choice]

    def waveform(self, sampling_rate: int, choice: int | None = None) -> np.ndarray:
        """The context speech (of ``choice``) as mono float32 at ``sampling_rate``; `ItemError` if unusable."""
        return self._audio_call(load_audio, choice, sampling_rate, source_rate=self.sampling_rate)

    def audio_seconds(self, choice: int | None = None) -> float:
        """The context speech's (of ``choice``) length, from the file header; `ItemError` if unusable."""
        return self._audio_call(audio_duration, choice, source_rate=self.sampling_rate)

    def _audio_call(self, function: Any, choice: int | None, *args: Any, **kwargs: Any) -> Any:
        audio = self.speech_of(choice)
        if audio is None:
            raise ItemError(
                self.task,
                self.id,
                "it has no context audio",
                "Add the speech for this item, or run only the text setting (--settings text).",
            )
        which = (
            "its context audio"
            if choice is None or self.choice_context_audio is None
            else f"choice {choice}'s context audio"
        )
        return self._decode(function, audio, which, *args, **kwargs)

    def continuation_waveform(self, choice: int, sampling_rate: int) -> np.ndarray:
        """Choice ``choice`` as speech, mono float32 at ``sampling_rate``; `ItemError` if missing or unusable."""
        return self._decode(
            load_audio,
            self._continuation_clip(choice),
            f"continuation {choice}'s speech",
            sampling_rate,
            source_rate=self.sampling_rate,
        )

    def continuation_seconds(self, choice: int) -> float:
        """The length of choice ``choice``'s speech, from the file header; `ItemError` if missing or unusable."""
        return self._decode(
            audio_duration,
            self._continuation_clip(choice),
            f"continuation {choice}'s speech",
            source_rate=self.sampling_rate,
        )

    def _continuation_clip(self, choice: int) -> np.ndarray | bytes | str:
        clips = self.choices_audio
        if clips is None:
            raise ItemError(
                self.task,
                self.id,
                "it has no speech for its continuations",
                "Use a dataset built with the continuations' speech (the `choices_audio` column), or run "
                "without the text_to_speech and speech_to_speech settings.",
            )
        clip = clips[choice] if len(clips) == len(self.choices) else None
        if clip is None:
            raise ItemError(
                self.task,
                self.id,
                f"continuation {choice} has no speech ({len(clips)} clip(s) for {len(self.choices)} choices)",
                "Give one speech clip per choice, in the order of the choices.",
            )
        return clip

    def _decode(self, function: Any, audio: np.ndarray | bytes | str, which: str, *args: Any, **kwargs: Any) -> Any:
        """``function(audio, ...)``; an `ItemError` when the audio is unusable, naming a file by its name alone
        (its folder is this machine's, a cache or a home folder: results.json records the error)."""
        try:
            return function(audio, *args, **kwargs)
        except AudioDecodeError as err:
            reason = str(err).replace(audio, os.path.basename(audio)) if isinstance(audio, str) else str(err)
            raise ItemError(
                self.task,
                self.id,
                f"{which} cannot be used ({reason})",
                "Replace the audio file with a readable one (wav, flac or ogg), or drop the item.",
            ) from err

    def problems(
        self, task: Task | None = None, *, context_name: str = "the context", choice_names: Sequence[str] | None = None
    ) -> list[tuple[str, str]]:
        """Everything wrong with the item for its task, as (problem, what to do) pairs; empty when it is usable.

        The one item check of the package: the dataset readers, the reference
        release reader and the dataset builder all use it, so a bad item is
        reported the same way whatever its source. ``context_name`` and
        ``choice_names`` name the texts in the source's own terms (a release's
        ``first`` / ``last``, a builder's columns); by default "the context" and
        "continuation j".
        """
        task = task or get_task(self.task)
        if task.kind == UTTERANCE:
            return self._utterance_problems(task)
        found: list[tuple[str, str]] = []
        names = (
            list(choice_names) if choice_names is not None else [f"continuation {j}" for j in range(len(self.choices))]
        )
        names += [f"continuation {j}" for j in range(len(names), len(self.choices))]
        empty = [context_name] if not _visible(self.context) else []
        empty += [names[j] for j, choice in enumerate(self.choices) if not _visible(choice)]
        if empty:
            found.append((f"empty text in {', '.join(empty)}", "Fill in the text, or drop the item."))
        found += _repeated_choices(self.choices, names)
        found += self._shape_problems(task)
        if isinstance(self.audio, np.ndarray) and not self.sampling_rate:
            found.append(("its context waveform has no sampling rate", "Record the audio's sampling rate."))
        if self.choice_context_audio is not None:
            clips = self.choice_context_audio
            if len(clips) != len(self.choices):
                found.append(
                    (
                        f"it has {len(clips)} per-choice context clips for {len(self.choices)} choices",
                        "Give one context clip per choice, or none.",
                    )
                )
            elif any(clip is None for clip in clips):
                found.append(
                    (
                        f"choice(s) {[j for j, clip in enumerate(clips) if clip is None]} have no context clip",
                        "Give one context clip per choice, or none.",
                    )
                )
            if any(isinstance(clip, np.ndarray) for clip in clips) and not self.sampling_rate:
                found.append(
                    ("its per-choice context waveforms have no sampling rate", "Record the audio's sampling rate.")
                )
        if any(isinstance(clip, np.ndarray) for clip in self.choices_audio or ()) and not self.sampling_rate:
            found.append(("its continuations' waveforms have no sampling rate", "Record the audio's sampling rate."))
        return found

    def _shape_problems(self, task: Task) -> list[tuple[str, str]]:
        """The number of choices (at least two, the task's), the label (an index of a choice), and texts that are
        not text (a lone surrogate, which a JSON source can spell as an escape: nothing can encode or score it)."""
        found = _unencodable(
            ["the context", *(f"continuation {j}" for j in range(len(self.choices)))], [self.context, *self.choices]
        )
        if len(self.choices) < 2:
            found.append(
                (
                    f"it has {len(self.choices)} choice(s); at least two are needed",
                    "Give each item one answer and at least one distractor.",
                )
            )
        elif len(self.choices) != task.num_choices:
            found.append(
                (
                    f"it has {len(self.choices)} choices but task {task.id!r} has {task.num_choices}",
                    "Use the task whose number of choices matches the data.",
                )
            )
        if isinstance(self.label, bool) or not isinstance(self.label, (int, np.integer)):
            found.append((f"the label {self.label!r} is not an integer", "Give the label as the answer's index."))
        elif not 0 <= int(self.label) < len(self.choices):
            found.append(
                (
                    f"the label {self.label} is out of range for {len(self.choices)} choices",
                    f"Give the answer's index, 0 to {max(len(self.choices) - 1, 0)}.",
                )
            )
        return found

    def _utterance_problems(self, task: Task) -> list[tuple[str, str]]:
        """`problems` of a pair of whole clips: no context, one readable clip per utterance (read from its header,
        since the clips are the item and nothing else can be scored)."""
        found = self._shape_problems(task)
        if _visible(self.context) or self.audio is not None or self.choice_context_audio is not None:
            found.append(
                ("an utterance pair has a context", "Give the pair as two whole clips (choices_audio), no context.")
            )
        clips = list(self.choices_audio or [])
        if len(clips) != len(self.choices):
            found.append(
                (
                    f"it has {len(clips)} clip(s) for {len(self.choices)} utterances",
                    "Give one clip per utterance, the positive one first.",
                )
            )
            return found
        for j, clip in enumerate(clips):
            problem = _clip_problem(clip, self.sampling_rate)
            if problem is not None:
                role = "positive" if j == self.label else "negative"
                found.append(
                    (
                        f"its {role} clip {problem}",
                        "Replace the clip with a readable one (wav, flac or ogg), or drop the pair.",
                    )
                )
        return found

    def validate(self, task: Task | None = None, **names: Any) -> Item:
        """The item itself when `problems` finds nothing; else one `ItemError` naming every problem."""
        found = self.problems(task, **names)
        if found:
            raise ItemError.of(self.task, str(self.id), found)
        self.label = int(self.label)
        return self


def _unencodable(names: Sequence[str], texts: Sequence[Any]) -> list[tuple[str, str]]:
    """A problem for each of ``texts`` that UTF-8 cannot encode (a lone surrogate), named by ``names``."""
    bad = [name for name, text in zip(names, texts, strict=True) if isinstance(text, str) and not _encodes(text)]
    if not bad:
        return []
    return [(f"the text of {', '.join(bad)} holds a lone surrogate (not a character)", "Fix the source's encoding.")]


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _visible(text: Any) -> str:
    """What a reader sees of ``text``: NFC, without format characters (zero-width spaces and joiners, the byte order
    mark, soft hyphens) and without surrounding whitespace; "" for a text of nothing else, or not a string."""
    if not isinstance(text, str):
        return ""
    return "".join(ch for ch in unicodedata.normalize("NFC", text) if unicodedata.category(ch) != "Cf").strip()


def _repeated_choices(choices: Sequence[Any], names: Sequence[str]) -> list[tuple[str, str]]:
    """A problem for every continuation that reads the same as an earlier one: such a pair always ties, so the
    item measures nothing (and an answer equal to a distractor has no right answer)."""
    first: dict[str, int] = {}
    found = []
    for j, choice in enumerate(choices):
        seen = _visible(choice)
        if not seen:
            continue  # reported as empty text
        if seen in first:
            found.append(
                (
                    f"{names[j]} reads the same as {names[first[seen]]}",
                    "Make every continuation a different text, or drop the item.",
                )
            )
        first.setdefault(seen, j)
    return found


def _clip_problem(clip: np.ndarray | bytes | str | None, sampling_rate: int | None) -> str | None:
    """Why a clip cannot be scored (missing, empty, unreadable header; a file named by its name alone), or None."""
    if clip is None or (isinstance(clip, (bytes, str)) and not clip):
        return "is missing"
    if isinstance(clip, str) and not os.path.isfile(clip):
        return f"{os.path.basename(clip)} is missing"
    try:
        audio_duration(clip, source_rate=sampling_rate)
    except AudioDecodeError as err:
        reason = str(err).replace(clip, os.path.basename(clip)) if isinstance(clip, str) else str(err)
        return f"cannot be read ({reason})"
    return None


def _same_audio(a: np.ndarray | bytes | str | None, b: np.ndarray | bytes | str | None) -> bool:
    """Whether two context clips are the same speech: the same waveform, bytes or file path."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and np.array_equal(a, b)
    return type(a) is type(b) and a == b
