"""The reference S2SBench release (jsonl + one wav per row): read it directly, or convert it.

Formats (``../shared/PROTOCOL.md``, "Reference file formats"):

* story sets (``sstorycloze``, ``zh_sstorycloze``): one ``{"uttid", "first", "last"}``
  per line. Rows are sorted by the integer in ``uttid`` (an int, or a string whose
  part before the first ``_`` is one, as the reference scripts read it); rows 2k
  and 2k+1 form one item with the same ``first``, the even row holds the plausible
  ending. The item's context speech is the even row's ``<audio_dir>/<uttid>.wav``
  (the odd row's wav, if any, is the same context and is not read).
* ``scmmlu``: one ``{"uttid", "first", "A", "B", "C", "D", "answer"}`` per line
  (an optional ``subject`` is kept), context speech ``<audio_dir>/<uttid>.wav``.

In our schema a story item is ``choices = [even.last, odd.last]`` and ``label = 0``
(nothing is shuffled: the plausible ending is always the first choice, as in the
release; the scores do not depend on the order). Its ``id`` is the even row's
uttid; an sCMMLU item's ``id`` is its uttid and ``label`` the index of ``answer``
in A-D. The original uttids are kept in the ``uttid`` column / ``Item.meta["uttid"]``
(stories: ``[even, odd]``; sCMMLU: ``[uttid]``), as strings.

Release folder layouts accepted (`release_files`), checked in this order for each task:

1. ``DIR/<task>/data.jsonl`` with the wavs in ``DIR/<task>/wavs/`` (the layout of
   this package's reference export, ``reference/<task>/data.jsonl``);
2. the original release as the reference scripts' ``eval_s2t.yaml`` names it, with
   ``DIR`` the folder that holds ``S2S/`` or ``S2S/`` itself:
   ``StoryCloze/sStory_s2t.jsonl`` + ``StoryCloze/s-story-firstspeech/``,
   ``StoryCloze/zh_story.jsonl`` + ``StoryCloze/zh_story/``,
   ``cmmlu/cmmlu_rewrite_4.jsonl`` + ``cmmlu/cmmlu_rewrite/``;
3. anything else: name the files (``--jsonl FILE --audio-dir DIR``).

`load_release_task` reads such a folder without conversion (``load_task(task,
source=DIR)`` detects it): bad rows become `ItemError`s and the good items are
used, and a missing wav fails the item in the audio setting only, as for any
source. `convert_release` is strict: every problem of every task (bad JSON,
missing field, duplicate uttid, unmatched pair, answer not among A-D, empty text,
missing or unreadable wav) is listed in ONE `BadSourceError` and nothing is written;
otherwise the dataset folder appears atomically.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import soundfile as sf
from tqdm.auto import tqdm

from s2sbench_hf.data.audio import AudioDecodeError, load_audio
from s2sbench_hf.data.hub_folder import (
    SAMPLING_RATE,
    SPLIT,
    encode_wav,
    write_dataset_folder,
)
from s2sbench_hf.data.loaded import BadSourceError, DataSourceError, LoadedTask
from s2sbench_hf.jsonl import jsonl_objects
from s2sbench_hf.tasks import TASKS, Item, ItemError, get_task

STORY_TASKS = ("sstorycloze", "zh_sstorycloze")
LETTERS = "ABCD"
RELEASE_FORMAT = "s2sbench-reference-release"
"""``LoadedTask.info["format"]`` of a task read from a release folder."""

CANONICAL_LAYOUT = ("{task}/data.jsonl", "{task}/wavs")
ORIGINAL_LAYOUT = {
    "sstorycloze": ("StoryCloze/sStory_s2t.jsonl", "StoryCloze/s-story-firstspeech"),
    "zh_sstorycloze": ("StoryCloze/zh_story.jsonl", "StoryCloze/zh_story"),
    "scmmlu": ("cmmlu/cmmlu_rewrite_4.jsonl", "cmmlu/cmmlu_rewrite"),
}
"""Where the original release keeps each set (the reference scripts' ``eval_s2t.yaml``), below ``S2S/``."""

RELEASE_LICENSE_NOTE = (
    "The texts come from StoryCloze 2016 (English; ROCStories/StoryCloze terms of use), its Chinese "
    "version, and CMMLU (CC BY-NC 4.0), and the speech from the S2SBench release "
    "(https://github.com/undobug/S2SBench). Check that their terms allow redistribution before publishing "
    "this folder, and cite the sources."
)


@dataclass(frozen=True)
class ReleaseFiles:
    """Where one task's rows and wavs are."""

    task: str
    jsonl: Path
    audio_dir: Path


def _candidates(folder: Path, task_id: str) -> list[tuple[Path, Path]]:
    jsonl, audio = (part.format(task=task_id) for part in CANONICAL_LAYOUT)
    found = [(folder / jsonl, folder / audio)]
    if task_id in ORIGINAL_LAYOUT:
        jsonl, audio = ORIGINAL_LAYOUT[task_id]
        for root in (folder / "S2S", folder):
            found.append((root / jsonl, root / audio))
    return found


def release_files(folder: str | os.PathLike, task_id: str) -> ReleaseFiles | None:
    """The files of ``task_id`` in a release folder (layouts in the module docstring), or None."""
    folder = Path(folder)
    for jsonl, audio in _candidates(folder, task_id):
        if jsonl.is_file():
            return ReleaseFiles(task_id, jsonl, audio)
    return None


def is_release_folder(folder: str | os.PathLike) -> bool:
    """True for a local folder laid out as a reference release (and holding no Parquet dataset)."""
    folder = Path(folder)
    if not folder.is_dir() or any(folder.glob("*.parquet")) or any(folder.glob("*/*.parquet")):
        return False
    return any(release_files(folder, task_id) for task_id in TASKS)


def _layout_help(folder: Path, task_id: str) -> str:
    tried = ", ".join(str(jsonl.relative_to(folder)) for jsonl, _ in _candidates(folder, task_id))
    return (
        f"no release files for task {task_id!r} in {folder} (looked for {tried}). Lay the release out as "
        f"{folder}/{task_id}/data.jsonl + {folder}/{task_id}/wavs/<uttid>.wav, or give --jsonl and --audio-dir."
    )


# --- reading ------------------------------------------------------------------------------


@dataclass
class ReleaseRead:
    """A task read from release files: its items, the rows that could not be used, and the files."""

    files: ReleaseFiles
    items: list[Item] = field(default_factory=list)
    errors: list[ItemError] = field(default_factory=list)
    num_rows: int = 0


def _int_key(uttid: Any) -> int | None:
    """The integer the reference scripts sort by: the uttid, or its part before the first ``_``."""
    if isinstance(uttid, bool):
        return None
    if isinstance(uttid, int):
        return uttid
    if isinstance(uttid, str):
        try:
            return int(uttid.split("_")[0])
        except ValueError:
            return None
    return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


class _Rows:
    """The jsonl rows of one task, with every problem recorded as an `ItemError`."""

    def __init__(self, files: ReleaseFiles, fields: tuple[str, ...]):
        self.task = files.task
        self.rows: list[tuple[int, dict[str, Any]]] = []
        self.errors: list[ItemError] = []
        seen: dict[str, int] = {}
        try:
            lines = list(jsonl_objects(files.jsonl, encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError) as err:
            raise DataSourceError(f"cannot read {files.jsonl}: {err}") from err
        for number, row, problem in lines:
            if problem:
                self.fail(f"line {number}", problem, "Write one valid JSON object per line.")
                continue
            missing = [name for name in fields if name not in row]
            if missing:
                self.fail(self.where(number, row), f"it lacks the fields {missing}",
                          f"Each row needs {list(fields)}.")
                continue
            if _int_key(row["uttid"]) is None:
                self.fail(self.where(number, row), f"its uttid {row['uttid']!r} has no integer",
                          "Use integer uttids (or strings that start with one, like '12_a').")
                continue
            key = str(row["uttid"])
            if key in seen:
                self.fail(self.where(number, row), f"its uttid is a duplicate of line {seen[key]}",
                          "Give every row a unique uttid.")
                continue
            seen[key] = number
            self.rows.append((number, row))

    @staticmethod
    def where(number: int, row: dict[str, Any]) -> str:
        return f"line {number} (uttid {row.get('uttid')!r})"

    def fail(self, item_id: str, problem: str, fix: str) -> None:
        self.errors.append(ItemError(self.task, item_id, problem, fix))


def _story_items(files: ReleaseFiles, rows: _Rows) -> list[Item]:
    ordered = sorted(rows.rows, key=lambda entry: _int_key(entry[1]["uttid"]))  # stable: file order breaks ties
    items = []
    for start in range(0, len(ordered), 2):
        if start + 1 == len(ordered):
            number, row = ordered[start]
            rows.fail(_Rows.where(number, row), "it is left without a pair (an odd number of rows)",
                      "Add its implausible ending as the next uttid, or remove it.")
            break
        (n_even, even), (n_odd, odd) = ordered[start], ordered[start + 1]
        item_id = str(even["uttid"])
        problems = []
        if _int_key(odd["uttid"]) != _int_key(even["uttid"]) + 1:
            problems.append(
                f"its pair partner after sorting is uttid {odd['uttid']!r} (line {n_odd}), not the next integer"
            )
        elif not (isinstance(even["first"], str) and isinstance(odd["first"], str)
                  and even["first"].strip() == odd["first"].strip()):
            problems.append(f"it and its pair partner uttid {odd['uttid']!r} (line {n_odd}) have different contexts")
        if problems:
            rows.fail(f"{item_id} (line {n_even})", "unmatched pair: " + problems[0],
                      "Rows 2k and 2k+1 must share the context; the even one holds the plausible ending.")
            continue
        texts = (("first", even["first"]), ("last", even["last"]), ("last of the odd row", odd["last"]))
        empty = [name for name, value in texts if _text(value) is None]
        if empty:
            rows.fail(f"{item_id} (line {n_even})", f"empty text in {', '.join(empty)}", "Fill in the text.")
            continue
        items.append(Item(
            task=files.task, id=item_id, context=even["first"], choices=[even["last"], odd["last"]], label=0,
            audio=str(files.audio_dir / f"{even['uttid']}.wav"),
            meta={"uttid": [str(even["uttid"]), str(odd["uttid"])]},
        ))
    return items


def _mmlu_items(files: ReleaseFiles, rows: _Rows) -> list[Item]:
    items = []
    for number, row in rows.rows:
        item_id = str(row["uttid"])
        answer = row["answer"].strip().upper() if isinstance(row["answer"], str) else row["answer"]
        if answer not in tuple(LETTERS):
            rows.fail(f"{item_id} (line {number})", f"the answer {row['answer']!r} is not among the choices A-D",
                      "Give the answer as one of A, B, C, D.")
            continue
        empty = [name for name in ("first", *LETTERS) if _text(row[name]) is None]
        if empty:
            rows.fail(f"{item_id} (line {number})", f"empty text in {', '.join(empty)}", "Fill in the text.")
            continue
        meta: dict[str, Any] = {"uttid": [item_id]}
        if isinstance(row.get("subject"), str):
            meta["subject"] = row["subject"]
        items.append(Item(
            task=files.task, id=item_id, context=row["first"], choices=[row[letter] for letter in LETTERS],
            label=LETTERS.index(answer), audio=str(files.audio_dir / f"{item_id}.wav"), meta=meta,
        ))
    return items


def read_release(files: ReleaseFiles, *, check_audio: bool = False) -> ReleaseRead:
    """Read one task's release rows into validated `Item`s (audio as wav paths, decoded only when needed).

    Rows that cannot form an item become `ItemError`s. ``check_audio`` also makes
    a missing context wav an error (what a conversion needs); otherwise the item
    keeps the path and fails later, in the audio setting only.
    """
    task = get_task(files.task)
    story = task.id in STORY_TASKS
    rows = _Rows(files, ("uttid", "first", "last") if story else ("uttid", "first", *LETTERS, "answer"))
    items = _story_items(files, rows) if story else _mmlu_items(files, rows)
    result = ReleaseRead(files=files, errors=rows.errors, num_rows=len(rows.rows) + len(rows.errors))
    for item in items:
        try:
            item.validate(task)
        except ItemError as err:
            result.errors.append(err)
            continue
        if check_audio and not os.path.isfile(item.audio):
            result.errors.append(ItemError(
                task.id, item.id, f"its context speech {item.audio} is missing",
                f"Put <uttid>.wav files in {files.audio_dir}, or give the right --audio-dir.",
            ))
            continue
        result.items.append(item)
    return result


def _fingerprint(read: ReleaseRead) -> str:
    digest = hashlib.sha256(read.files.jsonl.read_bytes())
    for item in read.items:
        digest.update(f"\0{os.path.basename(item.audio)}\0".encode())
        if os.path.isfile(item.audio):
            with open(item.audio, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()[:16]


def load_release_task(task_id: str, folder: str | os.PathLike, *, limit: int | None = None) -> LoadedTask:
    """A task read straight from a release folder (what ``load_task(task, source=DIR)`` does for one)."""
    task = get_task(task_id)
    folder = Path(folder)
    files = release_files(folder, task_id)
    if files is None:
        raise DataSourceError(_layout_help(folder, task_id))
    read = read_release(files)
    items = read.items[:limit] if limit is not None else read.items
    info = {
        "source": str(folder),
        "config": task_id,
        "split": SPLIT,
        "revision": None,
        "num_rows": read.num_rows,
        "fingerprint": _fingerprint(read),
        "format": RELEASE_FORMAT,
        "jsonl": str(files.jsonl),
        "audio_dir": str(files.audio_dir),
    }
    return LoadedTask(task=task, items=items, errors=read.errors, info=info)


# --- converting ---------------------------------------------------------------------------


def _wav_bytes(path: str) -> bytes:
    """The wav as 16 kHz mono PCM_16 bytes: unchanged if it already is, else decoded and re-encoded."""
    data = Path(path).read_bytes()
    try:
        info = sf.info(io.BytesIO(data))
    except (sf.LibsndfileError, RuntimeError) as err:
        raise AudioDecodeError(f"cannot decode audio: {err}") from err
    layout = (info.format, info.subtype, info.channels, info.samplerate)
    if layout == ("WAV", "PCM_16", 1, SAMPLING_RATE) and info.frames > 0:
        return data
    return encode_wav(load_audio(data, SAMPLING_RATE))


def convert_release(
    output: str | os.PathLike,
    tasks: list[str],
    release: str | os.PathLike | None = None,
    *,
    jsonl: str | os.PathLike | None = None,
    audio_dir: str | os.PathLike | None = None,
    build_info: dict[str, Any] | None = None,
    progress: bool = True,
) -> Path:
    """Convert release tasks into a dataset folder at ``output`` (atomically); return its path.

    ``release`` is a release folder (layouts in the module docstring); or, for a
    single task, ``jsonl`` and ``audio_dir`` name the files. Every problem of
    every task is collected first and raised as one `BadSourceError`, and then
    nothing is written.
    """
    if not tasks:
        raise DataSourceError("no tasks to convert: name at least one with --task")
    for task_id in tasks:
        get_task(task_id)
    if jsonl is not None or audio_dir is not None:
        if jsonl is None or audio_dir is None or len(tasks) != 1:
            raise DataSourceError("--jsonl and --audio-dir go together, and with exactly one --task")
        files = {tasks[0]: ReleaseFiles(tasks[0], Path(jsonl), Path(audio_dir))}
        if not files[tasks[0]].jsonl.is_file():
            raise DataSourceError(f"{jsonl} is not a file")
    elif release is not None:
        folder = Path(release)
        if not folder.is_dir():
            raise DataSourceError(f"release folder {folder} does not exist")
        files = {}
        for task_id in tasks:
            found = release_files(folder, task_id)
            if found is None:
                raise DataSourceError(_layout_help(folder, task_id))
            files[task_id] = found
    else:
        raise DataSourceError("give a release folder (--release DIR) or --jsonl FILE --audio-dir DIR")

    reads = {task_id: read_release(found, check_audio=True) for task_id, found in files.items()}
    problems = [str(err) for read in reads.values() for err in read.errors]
    rows_by_task: dict[str, list[dict[str, Any]]] = {}
    total = sum(len(read.items) for read in reads.values())
    with tqdm(total=total, desc="Reading the release wavs", unit="item", disable=not progress) as bar:
        for task_id, read in reads.items():
            rows_by_task[task_id] = []
            for item in read.items:
                bar.update()
                try:
                    audio = _wav_bytes(item.audio)
                except (AudioDecodeError, OSError) as err:
                    problems.append(str(ItemError(
                        task_id, item.id, f"its context speech {item.audio} cannot be used ({err})",
                        "Replace it with a readable wav.",
                    )))
                    continue
                rows_by_task[task_id].append({
                    "id": item.id, "context": item.context, "audio": audio, "choices": item.choices,
                    "label": item.label, "subject": item.meta.get("subject", ""), "uttid": item.meta["uttid"],
                })
    if problems:
        where = release if release is not None else jsonl
        raise BadSourceError(f"the release {where}", problems)
    empty = [task_id for task_id, rows in rows_by_task.items() if not rows]
    if empty:
        raise BadSourceError(f"the release {release or jsonl}", [f"task {t!r}: the jsonl has no rows" for t in empty])
    info = {
        "pretty_name": "S2SBench",
        "description": "The S2SBench sets (spoken StoryCloze in English and Chinese, spoken CMMLU) converted from "
        "the reference release: each item has its context as text and as speech, and k text continuations.",
        "license": "other",
        "license_note": RELEASE_LICENSE_NOTE,
        "source": "the S2SBench reference release (https://github.com/undobug/S2SBench), "
        + ", ".join(f"{t}: {f.jsonl.name} + {f.audio_dir.name}/" for t, f in files.items()),
        "conversion": "story rows 2k/2k+1 -> one item, choices [plausible, implausible], label 0; sCMMLU A-D -> "
        "choices, answer -> label; wavs kept as 16 kHz mono PCM_16 (others resampled); uttids kept in `uttid`",
        **(build_info or {}),
    }
    return write_dataset_folder(output, rows_by_task, info)
