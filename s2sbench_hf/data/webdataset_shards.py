"""sWUGGY as ``coml/sWuggy`` publishes it: WebDataset shards of the clips, and ZeroSpeech 2021's lexical gold.

The layout (`SHARD_SETS`, per task; ``swuggy`` reads English, the task's language): in the language folder
``inftrain/<lang>/`` of the repository, the gold ``gold.csv`` (one row per clip) and the shards
``audio/testset_<n>-*.tar`` (n = 1, 2, 4, 8, 16, 32, 64; all of them by default, which together hold every gold
row). A shard is a ``.tar`` of samples; a sample's key is the member's path up to the first ``.`` of its name (the
WebDataset rule, ``__key__``) and its audio the member ``<key>.ogg`` (``.wav`` and ``.flac`` are read too).

The gold is read as ZeroSpeech's own evaluation reads it: a header row, a ``filename`` per row (the clip), ``id``
and ``voice`` (a word and its non-word share both: one pair), ``correct`` (1 for the word, 0 for the non-word),
``word`` (the spelling; empty for a non-word where the set gives only its ``phones``) and ``frequency`` (the word's
occurrences in the training data, an integer). A pair is the word (positive) against its non-word; ``choices`` are
their spellings (a non-word without one: its phones) and ``meta`` holds ``id``, ``voice``, the word's frequency
band and ``in_vocab`` (`paired.vocabulary`: sWUGGY's breakdown) and the two gold filenames (``files``).

What is checked and what is assumed: the paths (the gold at ``inftrain/<lang>/gold.csv``, the shards at
``inftrain/<lang>/audio/testset_<n>-*.tar`` with an ``ogg`` audio member per sample, the test sets together
covering the gold's rows) are those of two independent public scripts that read ``coml/sWuggy``; the gold's columns,
the pairing by id and voice and the frequency bands are those of ZeroSpeech 2021's evaluation. Assumed: that a
sample's key, less any folder, is its gold ``filename`` less any extension (a filename is matched with or without
its extension).

Each problem stays with what it concerns: a gold row without a filename, an id or a ``correct`` of 0 or 1, or a
filename the gold repeats, is an `ItemError` named by that filename (or line); a sample the gold lacks, one named
by its key; an id and voice without exactly one word and one non-word, or whose clip is in no shard (or in more
than one), an `ItemError` of that pair; the other pairs still load. A gold file or shards that cannot be found or
read stop the task (`DataSourceError`). Each shard is extracted once into the cache with the limits of a Hub archive
(`paired.extracted`: a member that would land outside its folder is refused), and the fingerprint covers the bytes
of the gold and of every shard read. The Hub download fetches only the gold and the language's shards.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from s2sbench_hf.data import paired
from s2sbench_hf.data.loaded import DataSourceError, Layout, LoadedTask, Source, check_limit
from s2sbench_hf.tasks import ALL_TASKS, Item, ItemError, get_task

AUDIO_EXTENSIONS = ("ogg", "wav", "flac")
"""A sample's audio member, by its extension (the published shards hold ``ogg``)."""
GOLD_FIX = "Give each clip one gold row with filename, id, voice and correct (1 word, 0 non-word)."
PAIR_FIX = "Give each id and voice exactly one word (correct 1) and one non-word (correct 0), each with one clip."
_KEY = re.compile(r"^((?:.*/|)[^./]+)[.]([^/]*)$")
"""WebDataset's key rule: a member's path up to the first ``.`` of its name, and the rest (the field)."""


@dataclass(frozen=True)
class ShardSet:
    """Where a task's files sit: the language folder of the repository, and in it the shards (a glob) and the
    gold file."""

    folder: str
    shards: str = "audio/testset_*-*.tar"
    gold: str = "gold.csv"


SHARD_SETS: dict[str, ShardSet] = {"swuggy": ShardSet(f"inftrain/{ALL_TASKS['swuggy'].language}")}
"""The WebDataset sets, by task (module docstring); replace an entry to read other test sets or another language
(``ShardSet("inftrain/en", shards="audio/testset_1-*.tar", gold=...)``: the gold must then hold those test sets'
rows only, since a gold row without a clip is an error of its pair)."""


@dataclass(frozen=True)
class Found:
    """What the finder found: the gold file (None where it is missing) and the shards."""

    gold: Path | None
    shards: list[Path]


@dataclass(frozen=True)
class Sample:
    """One gold row: its filename without extension (the sample's key), its columns, and word or non-word."""

    name: str
    row: dict[str, str]
    correct: bool


def find_shards(folder: Path, task_id: str) -> Found | None:
    """This layout's finder: the task's gold and shards in the language folder of ``folder`` (a repository) or
    in ``folder`` itself (that language folder), at their fixed paths (never walks the folder), or None."""
    spec = SHARD_SETS.get(task_id)
    if spec is None:
        return None
    for place in (folder / spec.folder, folder):
        gold, shards = place / spec.gold, sorted(path for path in place.glob(spec.shards) if path.is_file())
        if gold.is_file() or shards:
            return Found(gold if gold.is_file() else None, shards)
    return None


def _patterns(task_id: str) -> list[str]:
    spec = SHARD_SETS.get(task_id)
    return [] if spec is None else [f"{spec.folder}/{spec.gold}", f"{spec.folder}/{spec.shards}"]


def read_shards(task_id: str, found: Found, source: Source, limit: int | None) -> LoadedTask:
    """This layout's reader: every gold row's clip from the shards, paired by id and voice, in id order."""
    task, spec = get_task(task_id), SHARD_SETS[task_id]
    check_limit(limit)
    if found.gold is None or not found.shards:
        missing = spec.gold if found.gold is None else f"shards {spec.shards}"
        raise DataSourceError(
            f"{source.label} has no {missing} for task {task_id!r} (in {spec.folder}/ or the folder itself). Give "
            f"the language folder with {spec.gold} and {spec.shards}."
        )
    samples, unplaced, num_rows = _gold(task_id, found.gold, source)
    clips = _clips(source, found.shards)
    known = {sample.name for sample in samples}
    for name, held in sorted(clips.items()):
        if name not in known:
            where = ", ".join(where for where, _ in held)
            unplaced.append(ItemError(task_id, name, f"the sample ({where}) has no row in the gold", GOLD_FIX))
    groups: dict[tuple[str, str], list[Sample]] = {}
    for sample in samples:
        groups.setdefault((sample.row["id"], sample.row.get("voice") or ""), []).append(sample)
    order = sorted(groups, key=lambda group: (paired.natural_key(group[0]), group[1]))
    entries = [_pair(task_id, identity, voice, groups[(identity, voice)], clips) for identity, voice in order]
    fingerprint = paired.fingerprint(source.folder, [found.gold, *found.shards])
    info = paired.record(source, spec.folder, spec.shards, num_rows, fingerprint, "webdataset")
    return paired.finish(task, entries, info, limit, unplaced)


def _gold(task_id: str, gold: Path, source: Source) -> tuple[list[Sample], list[ItemError], int]:
    """The gold's rows as samples, the `ItemError` of each row that cannot be one (no filename, id or correct; a
    repeated filename), and the number of rows; a file that is no CSV with those columns: `DataSourceError`."""
    name = gold.relative_to(source.folder).as_posix()
    try:
        with open(gold, encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            columns = set(reader.fieldnames or ())
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        reason = err.strerror if isinstance(err, OSError) else str(err)  # no folder of this machine
        raise DataSourceError(f"cannot read the gold {name} of {source.label}: {reason}") from None
    lacking = [column for column in ("filename", "id", "correct") if column not in columns]
    if lacking:
        raise DataSourceError(
            f"the gold {name} of {source.label} has no column {', '.join(lacking)} (it has {sorted(columns)}). "
            "Give ZeroSpeech's lexical gold: filename, id, voice, frequency, word, phones, correct."
        )
    samples, errors, seen = [], [], set()
    for line, raw in enumerate(rows, start=2):
        row = {key: (value or "").strip() for key, value in raw.items() if isinstance(key, str)}
        sample_name = _stem(row.get("filename", ""))
        correct = _truth(row.get("correct", ""))
        if not sample_name or not row.get("id") or correct is None:
            problem = "its gold row has no filename, no id or no correct of 0 or 1"
            errors.append(ItemError(task_id, sample_name or f"{name} line {line}", problem, GOLD_FIX))
        elif sample_name in seen:
            errors.append(ItemError(task_id, sample_name, f"the gold repeats it ({name} line {line})", GOLD_FIX))
        else:
            seen.add(sample_name)
            samples.append(Sample(sample_name, row, correct))
    return samples, errors, len(rows)


def _stem(path: str) -> str:
    """A file's name less its folder and its extensions: how a gold filename and a sample's key are matched."""
    base = path.replace("\\", "/").rsplit("/", 1)[-1]
    return base.split(".", 1)[0]


def _truth(value: str) -> bool | None:
    """``correct`` as ZeroSpeech writes it (1/0, or true/false); None for anything else."""
    return {"1": True, "true": True, "0": False, "false": False}.get(value.lower())


def _clips(source: Source, shards: Iterable[Path]) -> dict[str, list[tuple[str, Path]]]:
    """Every sample's audio in the shards, by its key less any folder: (where: its key and shard, the extracted
    file) per audio member found (more than one: the pair that needs it is an error)."""
    clips: dict[str, list[tuple[str, Path]]] = {}
    for shard in shards:
        root = paired.extracted(source, shard)
        for path in sorted(path for path in root.rglob("*") if path.is_file()):
            match = _KEY.match(path.relative_to(root).as_posix())
            if match is None or match.group(2).rsplit(".", 1)[-1].lower() not in AUDIO_EXTENSIONS:
                continue
            clips.setdefault(_stem(match.group(1)), []).append((f"{match.group(1)} in {shard.name}", path))
    return clips


def _pair(
    task_id: str, identity: str, voice: str, group: list[Sample], clips: dict[str, list[tuple[str, Path]]]
) -> Item | ItemError:
    """The pair of one id and voice: its word against its non-word; an `ItemError` unless it has one of each, each
    with exactly one clip."""
    item_id = f"{identity}/{voice}" if voice else identity
    words = [sample for sample in group if sample.correct]
    nonwords = [sample for sample in group if not sample.correct]
    if len(words) != 1 or len(nonwords) != 1:
        names = ", ".join(sample.name for sample in [*words, *nonwords])
        problem = f"it has {len(words)} word(s) and {len(nonwords)} non-word(s) (samples {names})"
        return ItemError(task_id, item_id, problem, PAIR_FIX)
    word, nonword = words[0], nonwords[0]
    for sample in (word, nonword):
        found = clips.get(sample.name, [])
        if len(found) != 1:
            where = "no shard read" if not found else ", ".join(key for key, _ in found)
            return ItemError(task_id, item_id, f"the clip of sample {sample.name} is in {where}", PAIR_FIX)
    meta = {
        "id": identity,
        "voice": voice,
        **paired.vocabulary(word.row.get("frequency")),
        "files": [word.name, nonword.name],
    }
    texts = [sample.row.get("word") or sample.row.get("phones") or "" for sample in (word, nonword)]
    audio = tuple(str(clips[sample.name][0][1]) for sample in (word, nonword))
    return paired.pair_item(task_id, item_id, (audio[0], audio[1]), texts, meta)


LAYOUT = Layout(name="webdataset", find=find_shards, read=read_shards, patterns=_patterns)
"""sWUGGY's WebDataset shards and gold (module docstring)."""
