"""The reference S2SBench release (jsonl + one wav per row): read it directly, or convert it.

Formats (docs/data.md):

* story sets (``sstorycloze``, ``zh_sstorycloze``): one ``{"uttid", "first", "last"}``
  per line. Rows with uttid 2k and 2k+1 form one item with the same ``first``, the
  even row holding the plausible ending (`pairing.pair_rows`: pairs by the
  integer of the uttid, as the reference scripts read it, so a missing,
  duplicated or unreadable row costs only its own story). Each row's own
  ``<audio_dir>/<uttid>.wav`` is the context speech its ending is scored after,
  as in the reference scripts: when the two wavs of a pair are the same bytes
  (the usual case) the item has one context speech; when they differ, the item
  keeps both (`Item.choice_context_audio`).
* ``scmmlu``: one ``{"uttid", "first", "A", "B", "C", "D", "answer"}`` per line
  (an optional ``subject`` is kept), context speech ``<audio_dir>/<uttid>.wav``.

Continuation speech (for the settings with spoken continuations), where a
release has it: ``<choice_audio_dir>/<uttid>.wav`` is a story row's ending as
speech, ``<choice_audio_dir>/<uttid>_<A-D>.wav`` an sCMMLU option. In the
canonical layout the folder is ``DIR/<task>/choice_wavs/``; otherwise name it
(``--choice-audio-dir``). The authors' release has none (its sets are S->T).

In our schema a story item is ``choices = [even.last, odd.last]`` and ``label = 0``
(nothing is shuffled: the plausible ending is always the first choice, as in the
release; the scores do not depend on the order). Its ``id`` is the even row's
uttid; an sCMMLU item's ``id`` is its uttid and ``label`` the index of ``answer``
in A-D. The original uttids are kept in the ``uttid`` column / ``Item.meta["uttid"]``
(stories: ``[even, odd]``; sCMMLU: ``[uttid]``), as strings.

Release folder layouts accepted (`release_files`), checked in this order for each
task, in the folder itself and then in each of its top-level folders:

1. ``DIR/<task>/data.jsonl`` with the wavs in ``DIR/<task>/wavs/`` (the layout of
   this package's reference export, ``reference/<task>/data.jsonl``);
2. the original release as the reference scripts' ``eval_s2t.yaml`` names it, with
   ``DIR`` the folder that holds ``S2S/`` or ``S2S/`` itself:
   ``StoryCloze/sStory_s2t.jsonl`` + ``StoryCloze/s-story-firstspeech/``,
   ``StoryCloze/zh_story.jsonl`` + ``StoryCloze/zh_story/``,
   ``cmmlu/cmmlu_rewrite_4.jsonl`` + ``cmmlu/cmmlu_rewrite/``;
3. anything else: name the files (``--jsonl FILE --audio-dir DIR``).

A release published on the Hub (`loaded.DEFAULT_DATASET`) is the same
layout in a dataset repository, possibly inside an archive: a
`hub_snapshot.HubSource` downloads only the asked tasks' files
(`release_patterns`), and its archives are searched when they are not there.

`LAYOUT` is this layout for the one dispatcher (`sources.load_task`): its finder
(`find_release`) names it where a task's release files are (and the folder is
not a Parquet dataset of that task), and its reader (`read_task`) reads them
without conversion: bad rows become `ItemError`s and the good items are
used, and a missing wav fails the item in the audio setting only, as for any
source. `convert_release` is strict: every problem of every task (bad JSON,
missing field, incomplete story, answer not among A-D, empty text, missing,
unreadable or out-of-range wav) is listed in ONE `BadSourceError` and nothing is
written; otherwise the dataset folder appears atomically.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import soundfile as sf
from tqdm.auto import tqdm

from s2sbench_hf.audio import AudioDecodeError, audio_duration, load_audio
from s2sbench_hf.data.hub_folder import (
    SAMPLING_RATE,
    SPLIT,
    card_configs,
    encode_wav,
    write_dataset_folder,
)
from s2sbench_hf.data.hub_snapshot import HubSource, is_hub_id
from s2sbench_hf.data.loaded import BadSourceError, DataSourceError, Layout, LoadedTask, Source, check_limit
from s2sbench_hf.data.pairing import PAIR_FIX, pair_rows, uttid_key
from s2sbench_hf.jsonl import jsonl_objects
from s2sbench_hf.tasks import TASKS, Item, ItemError, get_task

STORY_TASKS = ("sstorycloze", "zh_sstorycloze")
LETTERS = "ABCD"
RELEASE_FORMAT = "s2sbench-reference-release"
"""``LoadedTask.info["format"]`` of a task read from a release folder."""

CANONICAL_LAYOUT = ("{task}/data.jsonl", "{task}/wavs")
CANONICAL_CHOICE_AUDIO = "{task}/choice_wavs"
"""Where the canonical layout keeps the continuations' speech, if it has any."""
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
    """Where one task's rows and wavs are (``choice_audio_dir``: the continuations' speech, if any).

    ``root`` is the release folder they were found in (a local folder, a Hub snapshot, an extracted archive):
    what is recorded and reported names them relative to it, as paths in the release, never in this machine's
    caches. None for files named one by one (``--jsonl``, ``--audio-dir``): named as given.
    """

    task: str
    jsonl: Path
    audio_dir: Path
    choice_audio_dir: Path | None = None
    root: Path | None = None

    def shown(self, path: Path) -> str:
        """``path`` as recorded and reported: relative to ``root`` (POSIX), else as given."""
        return path.relative_to(self.root).as_posix() if self.root is not None else str(path)


def _layouts(task_id: str) -> list[tuple[str, str]]:
    """(jsonl, wav folder) of ``task_id`` relative to a release folder, in the order they are tried."""
    jsonl, audio = (part.format(task=task_id) for part in CANONICAL_LAYOUT)
    found = [(jsonl, audio)]
    if task_id in ORIGINAL_LAYOUT:
        jsonl, audio = ORIGINAL_LAYOUT[task_id]
        found += [(f"S2S/{jsonl}", f"S2S/{audio}"), (jsonl, audio)]
    return found


def release_patterns(task_ids: list[str]) -> list[str]:
    """``snapshot_download`` patterns of the tasks' files, at the top of the repository or in one folder."""
    patterns = []
    for task_id in task_ids:
        for jsonl, audio in _layouts(task_id):
            for prefix in ("", "*/"):
                patterns += [f"{prefix}{jsonl}", f"{prefix}{audio}/*"]
        patterns += [f"{prefix}{CANONICAL_CHOICE_AUDIO.format(task=task_id)}/*" for prefix in ("", "*/")]
    return patterns


def _files_in(folder: Path, task_id: str, root: Path) -> ReleaseFiles | None:
    """The files of ``task_id`` laid out in ``folder`` itself (a release found in ``root``), or None."""
    for jsonl, audio in _layouts(task_id):
        if (folder / jsonl).is_file():
            choices = folder / CANONICAL_CHOICE_AUDIO.format(task=task_id)
            canonical = jsonl == CANONICAL_LAYOUT[0].format(task=task_id)
            return ReleaseFiles(
                task_id, folder / jsonl, folder / audio, choices if canonical and choices.is_dir() else None, root
            )
    return None


def release_files(folder: str | os.PathLike, task_id: str) -> ReleaseFiles | None:
    """The files of ``task_id`` in a release folder or in one of its top-level folders (module docstring), or None.

    Two top-level folders that both hold the task are a `DataSourceError` (which one is meant?).
    """
    folder = Path(folder)
    found = _files_in(folder, task_id, folder)
    if found is not None or not folder.is_dir():
        return found
    inside = [
        files
        for sub in sorted(folder.iterdir())
        if sub.is_dir() and not sub.name.startswith(".")
        for files in [_files_in(sub, task_id, folder)]
        if files is not None
    ]
    if len(inside) > 1:
        raise DataSourceError(
            f"{folder} holds task {task_id!r} in several folders ("
            + ", ".join(str(files.jsonl) for files in inside)
            + "); give one of them"
        )
    return inside[0] if inside else None


def is_release_folder(folder: str | os.PathLike) -> bool:
    """True for a folder that holds release files of some task, in it or in one of its top-level folders."""
    return Path(folder).is_dir() and any(release_files(folder, task_id) for task_id in TASKS)


def _layout_help(folder: str | Path, task_id: str) -> str:
    tried = ", ".join(jsonl for jsonl, _ in _layouts(task_id))
    return (
        f"no release files for task {task_id!r} in {folder} (looked for {tried}, also one folder down). Lay the "
        f"release out as {task_id}/data.jsonl + {task_id}/wavs/<uttid>.wav, or give --jsonl and --audio-dir."
    )


def _holds_its_dataset(folder: Path, task_id: str) -> bool:
    """True when ``folder`` holds the Parquet files its card names for ``task_id``: then it is that dataset, and
    release files of the task beside them are not what it means."""
    for pattern in card_configs(folder).get(task_id, []):
        try:
            if next(folder.glob(pattern), None) is not None:
                return True
        except (ValueError, NotImplementedError):  # an absolute or empty pattern: no file of this folder
            continue
    return False


def find_release(folder: Path, task_id: str) -> ReleaseFiles | None:
    """The release layout's finder (`LAYOUT`): the files of an S2SBench task (`release_files`), unless the folder
    is a Parquet dataset of that task."""
    if task_id not in TASKS:
        return None
    files = release_files(folder, task_id)
    return None if files is None or _holds_its_dataset(folder, task_id) else files


def _release_lacks(folder: Path, task_id: str, label: str) -> str | None:
    """Why a release folder has no data for ``task_id`` (None: not a release folder)."""
    if not is_release_folder(folder):
        return None
    get_task(task_id)  # a task no release holds: UnknownTaskError, listing the known ones
    return _layout_help(folder, task_id)


def locate_release(
    release: str | os.PathLike, tasks: list[str] | None, revision: str | None = None
) -> tuple[dict[str, ReleaseFiles], str]:
    """The files of ``tasks`` (None: every task found) in a release folder or Hub dataset (in it, one folder down,
    or in one of its archives), and how to name it."""
    task_ids = tasks or list(TASKS)
    if is_hub_id(str(release)):
        source: Source = HubSource(str(release), release_patterns(task_ids), revision)
        where = f"{source.label}@{source.revision}"
    else:
        source = Source(str(release), Path(release).absolute())
        if not source.folder.is_dir():
            raise DataSourceError(f"release folder {release} does not exist")
        where = str(source.folder)
    found: dict[str, ReleaseFiles | None] = {}
    for task_id in task_ids:
        found[task_id] = release_files(source.folder, task_id)
        if found[task_id] is None:
            inside = source.in_archives(task_id, functools.partial(release_files, task_id=task_id))
            found[task_id] = inside[0] if inside else None
    missing = [task_id for task_id, files in found.items() if files is None]
    if tasks and missing:
        raise DataSourceError(_layout_help(where, missing[0]))
    files = {task_id: files for task_id, files in found.items() if files is not None}
    if not files:
        raise DataSourceError(
            f"{where} holds no release files of any task ({', '.join(TASKS)}); see `s2sbench build convert -h`"
        )
    return files, where


# --- reading ------------------------------------------------------------------------------


@dataclass
class ReleaseRead:
    """A task read from release files, in the source's order (stories by uttid, sCMMLU by line).

    ``entries`` holds, per item of the source, the `Item` or the `ItemError` that
    stopped it (so ``--limit`` counts items the same way on every source);
    ``unplaced`` the problems that belong to no item (an unreadable story line).
    ``digests`` maps every wav read to its SHA-256 (the fingerprint covers them).
    """

    files: ReleaseFiles
    entries: list[Item | ItemError] = field(default_factory=list)
    unplaced: list[ItemError] = field(default_factory=list)
    num_rows: int = 0
    digests: dict[str, str | None] = field(default_factory=dict)

    @property
    def items(self) -> list[Item]:
        return [entry for entry in self.entries if isinstance(entry, Item)]

    @property
    def errors(self) -> list[ItemError]:
        return [entry for entry in self.entries if isinstance(entry, ItemError)] + self.unplaced

    def digest(self, path: Path) -> str | None:
        """SHA-256 of a wav (None if it is missing), read once."""
        key = str(path)
        if key not in self.digests:
            self.digests[key] = _file_digest(path)
        return self.digests[key]


def _file_digest(path: Path) -> str | None:
    if not path.is_file():
        return None
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _where(number: int, row: dict[str, Any]) -> str:
    return f"line {number} (uttid {row.get('uttid')!r})"


def _lines(read: ReleaseRead, fields: tuple[str, ...], story: bool) -> list[tuple[int, dict[str, Any]] | ItemError]:
    """The jsonl's rows, or per bad line its error (`_line_problem`); an empty file is a `DataSourceError`."""
    files, task = read.files, read.files.task
    try:
        lines = list(jsonl_objects(files.jsonl, encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError) as err:
        raise DataSourceError(f"cannot read {files.jsonl}: {err}") from err
    if not lines:
        raise DataSourceError(
            f"{files.jsonl} has no rows: task {task!r} would score nothing. Give the release's full jsonl file."
        )
    read.num_rows = len(lines)
    out: list[tuple[int, dict[str, Any]] | ItemError] = []
    seen: dict[str, int] = {}
    for number, row, problem in lines:
        if problem is not None or row is None:
            out.append(ItemError(task, f"line {number}", str(problem), "Write one valid JSON object per line."))
            continue
        error = _line_problem(task, number, row, fields, None if story else seen)
        out.append((number, row) if error is None else error)
    return out


def _line_problem(
    task: str, number: int, row: dict[str, Any], fields: tuple[str, ...], seen: dict[str, int] | None
) -> ItemError | None:
    """What stops one row from forming an item, or None. ``seen`` (uttid -> line) checks the uttid's integer and
    its uniqueness, and records it; None for story rows, which the pairing checks (a missing or duplicate row costs
    its story)."""
    missing = [name for name in fields if name not in row]
    if missing:
        return ItemError(task, _where(number, row), f"it lacks the fields {missing}", f"Each row needs {list(fields)}.")
    if any(sep in str(row["uttid"]) for sep in ("/", "\\")) or str(row["uttid"]).strip(".") == "":
        return ItemError(
            task,
            _where(number, row),
            "its uttid is not a file name (its wav is <uttid>.wav)",
            "Use uttids without '/' or '\\'.",
        )
    if seen is None:
        return None
    key = str(row["uttid"])
    if uttid_key(row["uttid"]) is None:
        return ItemError(
            task,
            _where(number, row),
            f"its uttid {row['uttid']!r} has no integer",
            "Use integer uttids (or strings that start with one, like '12_a').",
        )
    if key in seen:
        return ItemError(
            task, _where(number, row), f"its uttid is a duplicate of line {seen[key]}", "Give every row a unique uttid."
        )
    seen[key] = number
    return None


def _story_entries(read: ReleaseRead) -> None:
    files, task = read.files, read.files.task
    rows = []
    for entry in _lines(read, ("uttid", "first", "last"), story=True):
        if isinstance(entry, ItemError):
            read.unplaced.append(entry)
        else:
            rows.append(entry)
    pairs, problems = pair_rows(rows, [row["uttid"] for _, row in rows], [_where(n, row) for n, row in rows])
    placed: list[tuple[int, Item | ItemError]] = []
    for problem in problems:
        error = ItemError(task, problem.item_id, problem.problem, PAIR_FIX + ".")
        if problem.index is None:
            read.unplaced.append(error)
        else:
            placed.append((problem.index, error))
    for pair in pairs:
        (n_even, even), (n_odd, odd) = pair.plausible, pair.implausible
        item_id = str(even["uttid"])

        def fail(problem: str, fix: str) -> None:
            placed.append((pair.index, ItemError(task, f"{item_id} (line {n_even})", problem, fix)))  # noqa: B023 - called in this iteration only

        if not (
            isinstance(even["first"], str)
            and isinstance(odd["first"], str)
            and even["first"].strip() == odd["first"].strip()
        ):
            fail(
                f"it and its pair partner uttid {odd['uttid']!r} (line {n_odd}) have different contexts",
                "Rows 2k and 2k+1 must share the context; the even one holds the plausible ending.",
            )
            continue
        item = Item(
            task=task,
            id=item_id,
            context=even["first"],
            choices=[even["last"], odd["last"]],
            label=0,
            meta={"uttid": [str(even["uttid"]), str(odd["uttid"])]},
        )
        found = item.problems(get_task(task), context_name="first", choice_names=("last", "last of the odd row"))
        if found:
            placed.append((pair.index, ItemError.of(task, f"{item_id} (line {n_even})", found)))
            continue
        wavs = [files.audio_dir / f"{row['uttid']}.wav" for row in (even, odd)]
        digests = [read.digest(wav) for wav in wavs]  # None: missing
        same = digests[0] == digests[1] is not None  # the usual case: one context pass for both endings
        item.audio = str(wavs[0])
        item.choice_context_audio = None if same else [str(wav) for wav in wavs]
        item.choices_audio = _choice_wavs(read, [str(row["uttid"]) for row in (even, odd)])
        placed.append((pair.index, item))
    placed.sort(key=lambda entry: entry[0])
    read.entries = [entry for _, entry in placed]


def _mmlu_entries(read: ReleaseRead) -> None:
    files, task = read.files, read.files.task
    for entry in _lines(read, ("uttid", "first", *LETTERS, "answer"), story=False):
        if isinstance(entry, ItemError):
            read.entries.append(entry)
            continue
        number, row = entry
        item_id = str(row["uttid"])
        answer = row["answer"].strip().upper() if isinstance(row["answer"], str) else row["answer"]
        if answer not in tuple(LETTERS):
            read.entries.append(
                ItemError(
                    task,
                    f"{item_id} (line {number})",
                    f"the answer {row['answer']!r} is not among the choices A-D",
                    "Give the answer as one of A, B, C, D.",
                )
            )
            continue
        meta: dict[str, Any] = {"uttid": [item_id]}
        if isinstance(row.get("subject"), str):
            meta["subject"] = row["subject"]
        wav = files.audio_dir / f"{item_id}.wav"
        item = Item(
            task=task,
            id=item_id,
            context=row["first"],
            choices=[row[letter] for letter in LETTERS],
            label=LETTERS.index(answer),
            audio=str(wav),
            meta=meta,
        )
        found = item.problems(get_task(task), context_name="first", choice_names=LETTERS)
        if found:
            read.entries.append(ItemError.of(task, f"{item_id} (line {number})", found))
            continue
        read.digest(wav)
        item.choices_audio = _choice_wavs(read, [f"{item_id}_{letter}" for letter in LETTERS])
        read.entries.append(item)


def _choice_wavs(read: ReleaseRead, stems: list[str]) -> list[str] | None:
    """The continuations' wavs ``<choice_audio_dir>/<stem>.wav`` (digested: the fingerprint covers them), or None
    when the release has no continuation speech."""
    folder = read.files.choice_audio_dir
    if folder is None:
        return None
    wavs = [folder / f"{stem}.wav" for stem in stems]
    for wav in wavs:
        read.digest(wav)
    return [str(wav) for wav in wavs]


def _wav_paths(clips: Sequence[object]) -> list[str]:
    """The clips of a release item: the wav paths that the readers above put there."""
    paths = [clip for clip in clips if isinstance(clip, str)]
    if len(paths) != len(clips):
        raise TypeError(f"a release item holds wav paths, not {[type(clip).__name__ for clip in clips]}")
    return paths


def read_release(files: ReleaseFiles, *, check_audio: bool = False) -> ReleaseRead:
    """Read one task's release rows into validated `Item`s (audio as wav paths, decoded only when needed).

    Rows that cannot form an item become `ItemError`s. ``check_audio`` also makes
    a missing wav (of the context, or of a continuation where the release has
    continuation speech) an error (what a conversion needs); otherwise the item
    keeps the path and fails later, in the settings that need it only. An empty
    jsonl is a `DataSourceError`.
    """
    task = get_task(files.task)
    read = ReleaseRead(files=files)
    (_story_entries if task.id in STORY_TASKS else _mmlu_entries)(read)

    def absent(clips: Sequence[object]) -> list[str]:  # digests every wav: the fingerprint covers them
        return [files.shown(Path(wav)) for wav in _wav_paths(clips) if read.digest(Path(wav)) is None]

    for position, entry in enumerate(read.entries):
        if isinstance(entry, ItemError):
            continue
        missing, spoken = absent(entry.choice_context_audio or [entry.audio]), absent(entry.choices_audio or [])
        if check_audio and missing:
            read.entries[position] = ItemError(
                task.id,
                entry.id,
                f"its context speech {', '.join(missing)} is missing",
                f"Put <uttid>.wav files in {files.shown(files.audio_dir)}, or give the right --audio-dir.",
            )
        elif check_audio and spoken and files.choice_audio_dir is not None:
            read.entries[position] = ItemError(
                task.id,
                entry.id,
                f"its continuation speech {', '.join(spoken)} is missing",
                f"Put every continuation's wav in {files.shown(files.choice_audio_dir)}, or give the right "
                "--choice-audio-dir.",
            )
    return read


def _fingerprint(read: ReleaseRead) -> str:
    """SHA-256 (16 hex digits) over the jsonl and every wav the items use (names and contents)."""
    digest = hashlib.sha256(read.files.jsonl.read_bytes())
    for path, wav_digest in sorted(read.digests.items(), key=lambda entry: os.path.basename(entry[0])):
        digest.update(f"\0{os.path.basename(path)}\0{wav_digest}".encode())
    return digest.hexdigest()[:16]


def read_task(task_id: str, files: ReleaseFiles, source: Source, limit: int | None) -> LoadedTask:
    """The release layout's reader (`LAYOUT`): the `LoadedTask` of located release files, named by ``source``.

    ``limit`` keeps the first N items of the source, usable or not (`ReleaseRead`).
    """
    task = get_task(task_id)
    check_limit(limit)
    read = read_release(files)
    entries = read.entries[:limit] if limit is not None else read.entries
    info = {
        "source": source.label,
        "config": task.id,
        "split": SPLIT,
        "revision": source.revision,
        "num_rows": read.num_rows,
        "fingerprint": _fingerprint(read),
        "format": RELEASE_FORMAT,
        "jsonl": files.shown(files.jsonl),
        "audio_dir": files.shown(files.audio_dir),
    }
    if files.choice_audio_dir is not None:
        info["choice_audio_dir"] = files.shown(files.choice_audio_dir)
    items = [entry for entry in entries if isinstance(entry, Item)]
    errors = [entry for entry in entries if isinstance(entry, ItemError)] + read.unplaced
    return LoadedTask(task=task, items=items, errors=errors, info=info)


def _patterns(task_id: str) -> list[str]:
    return release_patterns([task_id]) if task_id in TASKS else []


LAYOUT = Layout(
    name="release",
    find=find_release,
    read=read_task,
    patterns=_patterns,
    lacks=_release_lacks,
    in_archives=True,
)
"""The reference release's layout: jsonl + one wav per row (module docstring), also inside a Hub archive."""


# --- converting ---------------------------------------------------------------------------


def _wav_bytes(path: str) -> bytes:
    """The wav as 16 kHz mono PCM_16 bytes: unchanged if it already is, else decoded (checked) and re-encoded.

    An unreadable, empty or truncated file is an `AudioDecodeError` naming it (`audio_duration` reads its header).
    """
    audio_duration(path)
    data = Path(path).read_bytes()
    info = sf.info(io.BytesIO(data))
    if (info.format, info.subtype, info.channels, info.samplerate) == ("WAV", "PCM_16", 1, SAMPLING_RATE):
        return data
    return encode_wav(load_audio(path, SAMPLING_RATE))  # refuses non-finite or out-of-range samples


def convert_release(
    output: str | os.PathLike,
    tasks: list[str] | None,
    release: str | os.PathLike | None = None,
    *,
    jsonl: str | os.PathLike | None = None,
    audio_dir: str | os.PathLike | None = None,
    choice_audio_dir: str | os.PathLike | None = None,
    revision: str | None = None,
    build_info: dict[str, Any] | None = None,
    progress: bool = True,
) -> Path:
    """Convert release tasks into a dataset folder at ``output`` (atomically); return its path.

    ``release`` is a release folder or a Hub dataset id (layouts in the module
    docstring; ``tasks`` None: every task it holds); or, for a single task,
    ``jsonl`` and ``audio_dir`` name the files (and ``choice_audio_dir`` the
    continuations' speech, if any). A release with continuation speech gets the
    ``choices_audio`` column. Every problem of every task is collected first and
    raised as one `BadSourceError`, and then nothing is written.

    The steps: locate the files (`_conversion_files`), read and check the rows (`read_release`), read and check
    the wavs (`_dataset_rows`), write the folder with its card (`_card_info`).
    """
    files, where = _conversion_files(tasks, release, jsonl, audio_dir, choice_audio_dir, revision)
    reads = {task_id: read_release(found, check_audio=True) for task_id, found in files.items()}
    problems = [str(err) for read in reads.values() for err in read.errors]
    rows_by_task = _dataset_rows(reads, problems, progress)
    if problems:
        raise BadSourceError(f"the release {where}", problems)
    return write_dataset_folder(output, rows_by_task, {**_card_info(files, where), **(build_info or {})})


def _conversion_files(
    tasks: list[str] | None,
    release: str | os.PathLike | None,
    jsonl: str | os.PathLike | None,
    audio_dir: str | os.PathLike | None,
    choice_audio_dir: str | os.PathLike | None,
    revision: str | None,
) -> tuple[dict[str, ReleaseFiles], str]:
    """The files to convert, per task, and how to name them: named one by one, or located in ``release``."""
    for task_id in tasks or []:
        get_task(task_id)
    if choice_audio_dir is not None and jsonl is None:
        raise DataSourceError(
            "--choice-audio-dir goes with --jsonl and --audio-dir (a release folder's canonical "
            "layout keeps it in <task>/choice_wavs/)"
        )
    if jsonl is None and audio_dir is None:
        if release is None:
            raise DataSourceError("give a release folder or Hub id (--release) or --jsonl FILE --audio-dir DIR")
        return locate_release(release, tasks, revision)
    if jsonl is None or audio_dir is None or not tasks or len(tasks) != 1:
        raise DataSourceError("--jsonl and --audio-dir go together, and with exactly one --task")
    if choice_audio_dir is not None and not Path(choice_audio_dir).is_dir():
        raise DataSourceError(f"{choice_audio_dir} is not a folder")
    files = ReleaseFiles(
        tasks[0], Path(jsonl), Path(audio_dir), None if choice_audio_dir is None else Path(choice_audio_dir)
    )
    if not files.jsonl.is_file():
        raise DataSourceError(f"{jsonl} is not a file")
    return {tasks[0]: files}, str(jsonl)


def _dataset_rows(
    reads: dict[str, ReleaseRead], problems: list[str], progress: bool
) -> dict[str, list[dict[str, Any]]]:
    """The dataset rows of every task's items, their wavs read and checked; an item whose wav cannot be used adds
    its problem to ``problems`` instead."""
    rows_by_task: dict[str, list[dict[str, Any]]] = {}
    total = sum(len(read.items) for read in reads.values())
    with tqdm(total=total, desc="Reading the release wavs", unit="item", disable=not progress) as bar:
        for task_id, read in reads.items():
            rows_by_task[task_id] = []
            for item in read.items:
                bar.update()
                try:
                    rows_by_task[task_id].append(_dataset_row(item))
                except ItemError as err:
                    problems.append(str(err))
    return rows_by_task


def _dataset_row(item: Item) -> dict[str, Any]:
    """One item as a dataset row, its speech as 16 kHz mono PCM_16 wav bytes; `ItemError` for a wav that cannot be
    used."""
    which = "context"
    try:
        clips = [_wav_bytes(path) for path in _wav_paths(item.choice_context_audio or [item.audio])]
        which = "continuation"
        spoken = None if item.choices_audio is None else [_wav_bytes(path) for path in _wav_paths(item.choices_audio)]
    except (AudioDecodeError, OSError) as err:
        raise ItemError(
            item.task,
            item.id,
            f"its {which} speech cannot be used ({err})",
            "Replace the wav with a readable 16 kHz wav whose samples are within [-1, 1].",
        ) from None
    return {
        "id": item.id,
        "context": item.context,
        "audio": clips[0],
        "choices": item.choices,
        "label": item.label,
        "subject": item.meta.get("subject", ""),
        "uttid": item.meta["uttid"],
        "choice_context_audio": clips if len(set(clips)) > 1 else None,
        "choices_audio": spoken,
    }


def _card_info(files: dict[str, ReleaseFiles], where: str) -> dict[str, Any]:
    """What the converted folder's card says of its source and the conversion."""
    return {
        "pretty_name": "S2SBench",
        "description": "The S2SBench sets (spoken StoryCloze in English and Chinese, spoken CMMLU) converted from "
        "the reference release: each item has its context as text and as speech, and k text continuations.",
        "license": "other",
        "license_note": RELEASE_LICENSE_NOTE,
        "source": f"the S2SBench reference release (https://github.com/undobug/S2SBench), {where}: "
        + ", ".join(f"{t}: {f.jsonl.name} + {f.audio_dir.name}/" for t, f in files.items()),
        "conversion": "story rows 2k/2k+1 -> one item, choices [plausible, implausible], label 0, paired by uttid; "
        "sCMMLU A-D -> choices, answer -> label; wavs kept as 16 kHz mono PCM_16 (others resampled); the odd row's "
        "wav kept in `choice_context_audio` where it differs from the even row's; uttids kept in `uttid`; the "
        "continuations' speech, where the release has it, in `choices_audio`",
    }
