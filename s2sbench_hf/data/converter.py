"""Convert what a reader reads into the Hub dataset format: a group publishes its own set in the format runs read.

``s2sbench build convert --source SOURCE --task TASK ...`` takes the items exactly as a run sees them
(`sources.load_task`: a Hub dataset id or a local folder in any layout a reader knows, the speech-LM ones included:
Hub Parquet pairs such as ``slprl/SALMon`` or ``speed/sStoryCloze``, WebDataset shards, a zip or folder of wav
pairs, slamkit's cross-modal folder) and writes them with `hub_folder.write_dataset_folder`: Parquet with embedded
audio, a card whose ``s2sbench_tasks`` block records each task's `Task.to_spec` (``kind: utterance`` for a pair of
whole clips), and an eval.yaml. Read back with ``sources.load_task(task, folder)``, the folder gives the same items:
ids, texts, labels, every clip's bytes and the items' ``meta`` (with the format's ``subject`` column, empty where the
source has none; less a field named like a required column, such as the cross-modal reader's ``id``).

Each clip is written as read: encoded bytes unchanged, a file the reader named by its path read as it is, a waveform
encoded as 16 kHz WAV. An utterance pair's two clips are the ``choices_audio`` column, the column the format already
has for spoken continuations (the positive clip at ``label``); its context is empty, with no context audio. The
fields of ``meta`` that are columns of the format (``subject``, ``uttid``, ``voice``) go to those columns; the others
(SALMon's ``subset``, sWUGGY's ``in_vocab`` and ``frequency``, a pair's file names...) become one plain column each,
which the reader puts back into ``meta``. The S2SBench reference release has a converter of its own
(`release.convert_release`), which reads the release's own file layout.

Every item the reader rejects (a missing clip, an unreadable file) is a problem: all of them, of every task, are
raised as one `BadSourceError` before anything is written.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from s2sbench_hf.audio import load_audio
from s2sbench_hf.data.hub_folder import COLUMNS, SAMPLING_RATE, encode_wav, write_dataset_folder
from s2sbench_hf.data.loaded import BadSourceError, DataSourceError, LoadedTask
from s2sbench_hf.data.sources import load_task
from s2sbench_hf.tasks import UTTERANCE, Item

Clip = np.ndarray | bytes | str | None
META_COLUMNS = ("subject", "uttid", "voice")
"""The item fields (`Item.meta`) that the format has columns of its own for."""


def convert_source(
    output: str | os.PathLike,
    tasks: list[str],
    source: str,
    *,
    revision: str | None = None,
    build_info: dict[str, Any] | None = None,
    progress: bool = True,
) -> Path:
    """Write ``tasks`` as ``sources.load_task`` reads them from ``source`` into a dataset folder at ``output``
    (atomically); return its path. Every rejected item of every task is raised first, as one `BadSourceError`."""
    if not tasks:
        raise DataSourceError(f"name the tasks to convert from {source!r} (--task), e.g. --task salmon")
    loaded = {task_id: load_task(task_id, source, revision=revision, progress=progress) for task_id in tasks}
    problems = [str(error) for task in loaded.values() for error in task.errors]
    if problems:
        raise BadSourceError(f"the source {source}", problems)
    rows = {task_id: [item_row(item) for item in task.items] for task_id, task in loaded.items()}
    info = {**_card_info(loaded, source, revision), **(build_info or {})}
    return write_dataset_folder(output, rows, info, tasks={task_id: task.task for task_id, task in loaded.items()})


def item_row(item: Item) -> dict[str, Any]:
    """One row of the dataset format from an item as a reader made it (module docstring): clips as bytes, the meta
    fields the format has columns for (`META_COLUMNS`) in those columns, the others under ``meta`` but those named
    like another column of the format (the cross-modal reader's ``id``), which the item itself carries."""
    columns = {key: value for key, value in item.meta.items() if key in META_COLUMNS}
    return {
        **columns,
        "id": item.id,
        "context": item.context,
        "audio": _clip_bytes(item, item.audio),
        "choices": list(item.choices),
        "label": item.label,
        "choices_audio": _clips(item, item.choices_audio),
        "choice_context_audio": _clips(item, item.choice_context_audio),
        "meta": {key: value for key, value in item.meta.items() if key not in COLUMNS},
    }


def _clips(item: Item, clips: Sequence[Clip] | None) -> list[bytes | None] | None:
    return None if clips is None else [_clip_bytes(item, clip) for clip in clips]


def _clip_bytes(item: Item, clip: Clip) -> bytes | None:
    """A clip as the bytes the format embeds: encoded bytes as they are, a file's bytes, a waveform as 16 kHz WAV."""
    if clip is None or isinstance(clip, bytes):
        return clip
    if isinstance(clip, str):
        try:
            return Path(clip).read_bytes()
        except OSError as err:
            raise DataSourceError(
                f"task {item.task!r}, item {item.id!r}: cannot read its clip {os.path.basename(clip)} ({err}); "
                "restore the file and convert again."
            ) from err
    return encode_wav(load_audio(clip, SAMPLING_RATE, source_rate=item.sampling_rate))


def _card_info(loaded: dict[str, LoadedTask], source: str, revision: str | None) -> dict[str, Any]:
    """What the card says of a converted set: where it came from, and what its items are."""
    utterances = [task_id for task_id, task in loaded.items() if task.task.kind == UTTERANCE]
    description = (
        "Paired utterances for spoken language models: each item is a positive and a negative whole clip "
        "(`choices_audio`, the positive one at `label`), scored with no context in the `utterance` setting."
        if len(utterances) == len(loaded)
        else ""
    )
    return {
        "pretty_name": f"{', '.join(loaded)} (converted for s2sbench)",
        "source": f"{source}" + (f" (revision {revision})" if revision else ""),
        "converted with": "s2sbench build convert --source (the items as `s2sbench run --dataset` reads them)",
        **({"description": description} if description else {}),
    }
