"""sWUGGY as WebDataset shards (``coml/sWuggy``, config ``zrc2021``, splits ``en_dev`` and ``en_test``).

A shard is a ``.tar`` of samples; the members of one sample share a key (the member's path up to the first ``.``
of its name): its audio (``<key>.wav`` or ``<key>.flac``) and its ZeroSpeech 2021 lexical gold row as
``<key>.json``: ``id`` (the pair: a word and its non-word share it), ``voice``, ``frequency`` (the word's band,
``oov`` out of the training vocabulary), ``word`` (the spelling) and ``correct`` (1 for the word, 0 for the
non-word). The samples of one ``id`` and ``voice`` are one pair: the word (positive) against the non-word, with
``meta`` ``id``, ``voice``, ``frequency``, ``in_vocab`` (sWUGGY's breakdown) and the samples' keys (``files``).
A sample without its json or audio, or an unreadable json, is an `ItemError` named by its key; an id and voice
without exactly one word and one non-word is an `ItemError` of that pair; the other pairs still load.

`SHARD_SETS` says, per task, which config and split are read (``swuggy``: ``zrc2021``, ``en_dev``, whose gold is
public; replace the entry to read ``en_test``). The finder takes the shards whose path names the split in the
folder, ``<split>/``, ``<config>/`` or ``<config>/<split>/``; each shard is extracted once into the cache, with the
limits of a Hub archive (`paired.extracted`), and the fingerprint covers the shards' bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from s2sbench_hf.data import paired
from s2sbench_hf.data.loaded import Layout, LoadedTask, Source, check_limit
from s2sbench_hf.tasks import Item, ItemError, get_task

AUDIO_EXTENSIONS = ("wav", "flac")
GOLD_FIX = "Give each sample a <key>.json with id, voice, frequency, word and correct (1 word, 0 non-word)."


@dataclass(frozen=True)
class ShardSet:
    """The config and split of a task's shards."""

    config: str = "zrc2021"
    split: str = "en_dev"


SHARD_SETS: dict[str, ShardSet] = {"swuggy": ShardSet()}
"""The WebDataset sets, by task (module docstring); replace an entry to read another split."""


@dataclass(frozen=True)
class Sample:
    """One sample's gold row and audio file."""

    key: str
    gold: dict[str, Any]
    audio: Path
    correct: bool


def find_shards(folder: Path, task_id: str) -> list[Path] | None:
    """This layout's finder: the task's split's shards in the folder or the few folders named after its config and
    split (never walks the folder), or None."""
    spec = SHARD_SETS.get(task_id)
    if spec is None:
        return None
    places = [folder, folder / spec.split, folder / spec.config, folder / spec.config / spec.split]
    shards = {
        shard
        for place in places
        if place.is_dir()
        for shard in place.glob("*.tar")
        if spec.split in shard.relative_to(folder).as_posix()
    }
    return sorted(shards) or None


def _patterns(task_id: str) -> list[str]:
    spec = SHARD_SETS.get(task_id)
    return [] if spec is None else [f"*{spec.split}*.tar"]


def read_shards(task_id: str, shards: list[Path], source: Source, limit: int | None) -> LoadedTask:
    """This layout's reader: every sample of the shards, paired by gold id and voice, in id order."""
    task, spec = get_task(task_id), SHARD_SETS[task_id]
    check_limit(limit)
    members: dict[str, dict[str, Path]] = {}
    for shard in shards:
        root = paired.extracted(source, shard)
        for path in sorted(path for path in root.rglob("*") if path.is_file()):
            key, _, extension = path.relative_to(root).as_posix().partition(".")
            members.setdefault(key, {})[extension.lower()] = path
    samples, unplaced = _samples(task_id, members)
    groups: dict[tuple[str, str], list[Sample]] = {}
    for sample in samples:
        groups.setdefault((str(sample.gold["id"]), str(sample.gold.get("voice") or "")), []).append(sample)
    order = sorted(groups, key=lambda group: (paired.natural_key(group[0]), group[1]))
    entries = [_pair(task_id, identity, voice, groups[(identity, voice)]) for identity, voice in order]
    fingerprint = paired.fingerprint(source.folder, shards)
    info = paired.record(source, spec.config, spec.split, len(members), fingerprint, "webdataset")
    return paired.finish(task, entries, info, limit, unplaced)


def _samples(task_id: str, members: dict[str, dict[str, Path]]) -> tuple[list[Sample], list[ItemError]]:
    """Each key's gold row and audio, or the `ItemError` of a sample that lacks one or whose json is unreadable."""
    samples, errors = [], []
    for key, files in members.items():
        audio = next((files[ext] for ext in AUDIO_EXTENSIONS if ext in files), None)
        if audio is None or "json" not in files:
            missing = "audio (.wav or .flac)" if audio is None else "gold row (.json)"
            errors.append(ItemError(task_id, key, f"the sample has no {missing}", GOLD_FIX))
            continue
        try:
            gold = json.loads(files["json"].read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            reason = err.strerror if isinstance(err, OSError) else str(err)  # no folder of this machine
            errors.append(ItemError(task_id, key, f"its gold row cannot be read ({reason})", GOLD_FIX))
            continue
        correct = _truth(gold.get("correct")) if isinstance(gold, dict) else None
        if correct is None or gold.get("id") in (None, ""):
            errors.append(ItemError(task_id, key, "its gold row has no id or no correct of 0 or 1", GOLD_FIX))
            continue
        samples.append(Sample(key, gold, audio, correct))
    return samples, errors


def _truth(value: Any) -> bool | None:
    """``correct`` as ZeroSpeech writes it (1/0, true/false, "1"/"0"); None for anything else."""
    if isinstance(value, bool) or value in (0, 1):
        return bool(value)
    text = str(value).strip().lower() if isinstance(value, str) else None
    return {"1": True, "true": True, "0": False, "false": False}.get(text or "")


def _pair(task_id: str, identity: str, voice: str, group: Iterable[Sample]) -> Item | ItemError:
    """The pair of one id and voice: its word against its non-word; an `ItemError` unless it has one of each."""
    item_id = f"{identity}/{voice}" if voice else identity
    words = [sample for sample in group if sample.correct]
    nonwords = [sample for sample in group if not sample.correct]
    if len(words) != 1 or len(nonwords) != 1:
        keys = ", ".join(sample.key for sample in [*words, *nonwords])
        return ItemError(
            task_id,
            item_id,
            f"it has {len(words)} word(s) and {len(nonwords)} non-word(s) (samples {keys})",
            "Give each id and voice exactly one word (correct 1) and one non-word (correct 0).",
        )
    word, nonword = words[0], nonwords[0]
    meta = {
        "id": identity,
        "voice": voice,
        **paired.vocabulary(word.gold.get("frequency")),
        "files": [word.key, nonword.key],
    }
    texts = [str(sample.gold.get("word") or "") for sample in (word, nonword)]
    return paired.pair_item(task_id, item_id, (str(word.audio), str(nonword.audio)), texts, meta)


LAYOUT = Layout(name="webdataset", find=find_shards, read=read_shards, patterns=_patterns)
"""sWUGGY's WebDataset shards (module docstring)."""
