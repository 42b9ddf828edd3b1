"""slamkit's cross-modal tStoryCloze: a folder of stories, each a shared prompt and two endings, as text and speech.

Each story ``<id>`` has six files: ``<id>_mutual.wav`` and ``<id>_mutual.txt`` (the prompt), ``<id>_correct.wav``
and ``.txt`` (the story's ending), ``<id>_incorrect.wav`` and ``.txt`` (another story's). It is an ordinary
two-choice item (task ``tsc_crossmodal``): context = the prompt's text, its speech the prompt's wav, choices = [the
correct text, the incorrect text], ``choices_audio`` = their wavs, label 0; so it runs in every setting (text,
audio, text_to_speech, speech_to_speech) and with ``--gap`` like an S2SBench task. A story that lacks one of its
six files, or whose text cannot be read, is an `ItemError` naming the story and the files; the others load.

The stories are the files of the given folder, or, where it has none, of its top-level folders (slamkit's
``subfolder`` mode, one folder per speaker: an item id is then ``<folder>/<id>`` and ``meta["speaker"]`` the
folder; ``meta["story"]`` is the story's own id), in id order (numbers as numbers). The fingerprint covers every
file read.
"""

from __future__ import annotations

import re
from pathlib import Path

from s2sbench_hf.data import paired
from s2sbench_hf.data.hub_folder import SPLIT
from s2sbench_hf.data.loaded import Layout, LoadedTask, Source, check_limit
from s2sbench_hf.tasks import Item, ItemError, get_task

CROSSMODAL_TASKS = ("tsc_crossmodal",)
ROLES = ("mutual", "correct", "incorrect")
KINDS = ("wav", "txt")
STORY_FILE = re.compile(r"(?P<id>.+)_(?P<role>mutual|correct|incorrect)\.(?P<kind>wav|txt)")
STORY_FIX = "Give each story its six files: <id>_mutual, <id>_correct and <id>_incorrect, each as .wav and .txt."


def _holds_stories(folder: Path) -> bool:
    return any(STORY_FILE.fullmatch(path.name) for path in folder.glob("*_correct.*"))


def find_folders(folder: Path, task_id: str) -> list[Path] | None:
    """This layout's finder: the folder itself if it holds stories, else its top-level folders that do, or None."""
    if task_id not in CROSSMODAL_TASKS:
        return None
    if _holds_stories(folder):
        return [folder]
    found = [sub for sub in sorted(folder.iterdir()) if sub.is_dir() and _holds_stories(sub)]
    return found or None


def _patterns(task_id: str) -> list[str]:
    if task_id not in CROSSMODAL_TASKS:
        return []
    return [f"*_{role}.{kind}" for role in ROLES for kind in KINDS]


def read_stories(task_id: str, folders: list[Path], source: Source, limit: int | None) -> LoadedTask:
    """This layout's reader: one item per story id, folder by folder, in id order."""
    task = get_task(task_id)
    check_limit(limit)
    entries: list[Item | ItemError] = []
    used: list[Path] = []
    for folder in folders:
        stories: dict[str, dict[tuple[str, str], Path]] = {}
        for path in folder.iterdir():
            match = STORY_FILE.fullmatch(path.name)
            if match and path.is_file():
                stories.setdefault(match["id"], {})[(match["role"], match["kind"])] = path
        speaker = None if folder == source.folder else folder.name
        for identity in sorted(stories, key=paired.natural_key):
            entries.append(_story(task_id, identity, speaker, stories[identity]))
            used += stories[identity].values()
    fingerprint = paired.fingerprint(source.folder, used)
    info = paired.record(source, task_id, SPLIT, len(entries), fingerprint, "crossmodal-folder")
    return paired.finish(task, entries, info, limit)


def _story(task_id: str, identity: str, speaker: str | None, files: dict[tuple[str, str], Path]) -> Item | ItemError:
    """One story's (unchecked) item, or the `ItemError` of a story that lacks a file or whose text is unreadable."""
    item_id = identity if speaker is None else f"{speaker}/{identity}"
    missing = [f"{identity}_{role}.{kind}" for role in ROLES for kind in KINDS if (role, kind) not in files]
    if missing:
        return ItemError(task_id, item_id, f"it lacks {', '.join(missing)}", STORY_FIX)
    texts = {}
    for role in ROLES:
        path = files[(role, "txt")]
        try:
            texts[role] = path.read_text(encoding="utf-8-sig").strip()
        except (OSError, UnicodeDecodeError) as err:
            reason = err.strerror if isinstance(err, OSError) else str(err)  # no folder of this machine
            return ItemError(task_id, item_id, f"{path.name} cannot be read ({reason})", "Write it as UTF-8 text.")
    return Item(
        task=task_id,
        id=item_id,
        context=texts["mutual"],
        choices=[texts["correct"], texts["incorrect"]],
        label=0,
        audio=str(files[("mutual", "wav")]),
        choices_audio=[str(files[("correct", "wav")]), str(files[("incorrect", "wav")])],
        meta={"story": identity, **({"speaker": speaker} if speaker else {})},
    )


LAYOUT = Layout(name="crossmodal-folder", find=find_folders, read=read_stories, patterns=_patterns)
"""slamkit's cross-modal folders (module docstring)."""
