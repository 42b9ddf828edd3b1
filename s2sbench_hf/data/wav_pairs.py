"""The official sStoryCloze and tStoryCloze (TWIST): a zip, or the folder it extracts to, of whole-story wavs.

slamkit reads such a folder by sorting its wavs by the integer before the first ``_`` of their names and taking
them two at a time as (positive, negative), so one missing or extra file shifts every later pair. Here the wavs
pair by their integer, as the release's story rows do (`pairing.pair_rows`): ``2k_*.wav`` (the positive, the
story's original ending) and ``2k+1_*.wav`` (the negative) are pair k. A complete folder gives slamkit's pairs; a
missing, duplicated or extra file is an `ItemError` of its own pair, named, and a file without an integer one
that belongs to no pair; every other pair is read as in a complete folder. An item's clips are the two wav paths
(no transcripts), ``meta["files"]`` their names.

Where the set is (`WAV_PAIR_SETS`, by task): a folder or a ``.zip`` named after it (``sStoryCloze``, ``sSC``;
``tStoryCloze``, ``tSC``; any case), in the given folder, or the given folder itself. The wavs are those of that
folder, or, where it has none, those of its subfolders (each paired on its own, as slamkit's ``subfolder`` mode
reads them; a folder that holds only one subfolder is that subfolder). A folder wins over a zip of the same name
(it is the zip extracted). A zip is extracted once into the cache, with the limits of a Hub archive
(`paired.extracted`); the fingerprint covers the zip's bytes, or the wavs'.
"""

from __future__ import annotations

from pathlib import Path

from s2sbench_hf.data import paired
from s2sbench_hf.data.hub_folder import SPLIT
from s2sbench_hf.data.loaded import DataSourceError, Layout, LoadedTask, Source, check_limit
from s2sbench_hf.data.pairing import pair_rows
from s2sbench_hf.tasks import Item, ItemError, get_task

WAV_PAIR_SETS: dict[str, tuple[str, ...]] = {
    "sstorycloze_slm": ("sStoryCloze", "sSC"),
    "tstorycloze_slm": ("tStoryCloze", "tSC"),
}
"""The names a set's folder or zip may have, by task (matched in any case)."""

PAIR_FIX = (
    "Each pair needs two wavs: <2k>_*.wav (the positive) and <2k+1>_*.wav (the negative); add the missing one or "
    "remove the extra ones"
)


def find_set(folder: Path, task_id: str) -> Path | None:
    """This layout's finder: the folder (or zip) of the task's set, in ``folder`` or ``folder`` itself, or None."""
    names = {name.lower() for name in WAV_PAIR_SETS.get(task_id, ())}
    if not names:
        return None
    if folder.name.lower() in names:
        return folder
    entries = [entry for entry in sorted(folder.iterdir()) if entry.name.lower().removesuffix(".zip") in names]
    folders = [entry for entry in entries if entry.is_dir()]
    zips = [entry for entry in entries if entry.is_file() and entry.suffix.lower() == ".zip"]
    return next(iter(folders + zips), None)


def _patterns(task_id: str) -> list[str]:
    names = WAV_PAIR_SETS.get(task_id, ())
    return [pattern for name in names for pattern in (f"{name}.zip", f"{name}/*", f"{name}/*/*")]


def read_set(task_id: str, found: Path, source: Source, limit: int | None) -> LoadedTask:
    """This layout's reader: the set's wavs paired by their integer, pair by pair in integer order."""
    task = get_task(task_id)
    check_limit(limit)
    root = paired.extracted(source, found) if found.is_file() else found
    subfolders = sorted(sub for sub in root.iterdir() if sub.is_dir())
    while not any(root.glob("*.wav")) and len(subfolders) == 1:  # a zip of one folder: read that folder
        root = subfolders[0]
        subfolders = sorted(sub for sub in root.iterdir() if sub.is_dir())
    groups = [root] if any(root.glob("*.wav")) else subfolders
    entries: list[Item | ItemError] = []
    unplaced: list[ItemError] = []
    wavs: list[Path] = []
    for group in groups:
        files = sorted(group.glob("*.wav"))
        wavs += files
        _pair_group(task_id, root, files, entries, unplaced)
    if not wavs:
        raise DataSourceError(f"{found.name} of {source.label} holds no wavs for task {task_id!r}: nothing to score")
    read = [found] if found.is_file() else wavs
    fingerprint = paired.fingerprint(found.parent if found.is_file() else root, read)
    info = paired.record(source, task_id, SPLIT, len(wavs), fingerprint, "wav-pairs", audio_dir=_shown(found, source))
    return paired.finish(task, entries, info, limit, unplaced)


def _shown(found: Path, source: Source) -> str:
    """The set's folder or zip as recorded: relative to the source, never this machine's folders."""
    return found.relative_to(source.folder).as_posix() if found != source.folder else "."


def _pair_group(
    task_id: str, root: Path, files: list[Path], entries: list[Item | ItemError], unplaced: list[ItemError]
) -> None:
    """Pair the wavs of one folder by identity (`pair_rows`), adding each pair's item or error to ``entries`` in
    pair order, and a file without an integer to ``unplaced``."""
    pairs, problems = pair_rows(files, [path.name for path in files], [f"file {path.name}" for path in files])
    placed: list[tuple[int, Item | ItemError]] = []
    for problem in problems:
        error = ItemError(task_id, _item_id(root, files[0].parent, problem.item_id), problem.problem, PAIR_FIX + ".")
        if problem.index is None:
            unplaced.append(error)
        else:
            placed.append((problem.index, error))
    for pair in pairs:
        positive, negative = pair.plausible, pair.implausible
        meta = {"files": [positive.name, negative.name]}
        item_id = _item_id(root, positive.parent, positive.name)
        placed.append((pair.index, paired.pair_item(task_id, item_id, (str(positive), str(negative)), meta=meta)))
    entries += [entry for _, entry in sorted(placed, key=lambda entry: entry[0])]


def _item_id(root: Path, folder: Path, name: str) -> str:
    """A pair's id: its positive wav's name without ``.wav`` (``<subfolder>/<name>`` in a subfolder)."""
    stem = name.removesuffix(".wav")
    return stem if folder == root else f"{folder.relative_to(root).as_posix()}/{stem}"


LAYOUT = Layout(name="wav-pairs", find=find_set, read=read_set, patterns=_patterns)
"""The official zips (or folders) of whole-story wav pairs (module docstring)."""
