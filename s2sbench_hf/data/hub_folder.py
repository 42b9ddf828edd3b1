"""Write a Hugging Face dataset repository folder: what the Hub hosts for S2SBench.

Layout (one config per task, one ``test`` split each)::

    <folder>/README.md                              dataset card; its YAML header has the
                                                    ``configs:`` block and ``dataset_info``
    <folder>/<task>/test-00000-of-00001.parquet

``datasets.load_dataset(<folder or repo id>, <task>, split="test")`` reads it, and
the same folder uploaded as is becomes the Hub dataset. Columns: ``id``,
``context``, ``audio`` (``datasets.Audio(sampling_rate=16000)``, the bytes of a
16 kHz mono PCM_16 WAV embedded in the file), ``choices``, ``label``, ``subject``.

The audio column is built as plain ``{"bytes", "path"}`` structs and then cast
to `datasets.Audio`: pure Arrow, so no torchcodec is needed to write, while the
Parquet schema still says ``Audio`` for Hub users.

Builds are deterministic (the same rows give byte-identical Parquet files and
card, so content hashes mean something) and atomic (written into a temporary
sibling folder that is renamed into place, so a reader never sees half a folder).
Rows are written as given: validation is the loader's job (`sources.load_task`),
so that a bad item is reported the same way whatever wrote it.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from datasets import Audio, Dataset, DatasetInfo, Features, List, SplitDict, SplitInfo, Value
from datasets.info import DatasetInfosDict
from datasets.utils.metadata import MetadataConfigs
from huggingface_hub import DatasetCardData

import s2sbench_hf
from s2sbench_hf.tasks import get_task

SAMPLING_RATE = 16000
SPLIT = "test"
DATA_FILE = "test-00000-of-00001.parquet"
COLUMNS = ("id", "context", "audio", "choices", "label", "subject")

FEATURES = Features(
    {
        "id": Value("string"),
        "context": Value("string"),
        "audio": Audio(sampling_rate=SAMPLING_RATE),
        "choices": List(Value("string")),
        "label": Value("int64"),
        "subject": Value("string"),
    }
)
"""The schema of every task's Parquet file, as Hub users see it."""

_BUILD_FEATURES = Features({**FEATURES, "audio": {"bytes": Value("binary"), "path": Value("string")}})

PAPER_TITLE = (
    "S2SBench: A Benchmark for Quantifying Intelligence Degradation in Speech-to-Speech Large Language Models"
)
_CARD_KEYS = ("pretty_name", "description", "license", "license_note", "repo_id")
"""``build_info`` keys that shape the card; every other key is listed under "How it was built"."""


def encode_wav(audio: np.ndarray | bytes) -> bytes:
    """16 kHz mono PCM_16 WAV bytes of a float waveform (clipped to [-1, 1]); bytes pass unchanged."""
    if isinstance(audio, (bytes, bytearray)):
        return bytes(audio)
    waveform = np.asarray(audio, dtype=np.float32)
    if waveform.ndim != 1 or waveform.size == 0:
        raise ValueError(f"expected a non-empty mono waveform, got shape {waveform.shape}")
    buffer = io.BytesIO()
    sf.write(buffer, np.clip(waveform, -1.0, 1.0), SAMPLING_RATE, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def _task_dataset(task_id: str, rows: list[dict[str, Any]]) -> Dataset:
    columns: dict[str, list[Any]] = {name: [] for name in COLUMNS}
    for index, row in enumerate(rows):
        unknown = set(row) - set(COLUMNS)
        if unknown:
            raise ValueError(f"task {task_id!r}, row {index}: unknown fields {sorted(unknown)}; columns are {COLUMNS}")
        item_id = str(row["id"])
        audio = row.get("audio")
        columns["id"].append(item_id)
        columns["context"].append(row["context"])
        columns["audio"].append(None if audio is None else {"bytes": encode_wav(audio), "path": f"{item_id}.wav"})
        columns["choices"].append(list(row["choices"]))
        columns["label"].append(int(row["label"]))
        columns["subject"].append(row.get("subject") or "")
    dataset = Dataset.from_dict(columns, features=_BUILD_FEATURES)
    return dataset.cast_column("audio", Audio(sampling_rate=SAMPLING_RATE))


def _card(infos: dict[str, DatasetInfo], build_info: dict[str, Any], content_hash: str) -> str:
    tasks = [get_task(task_id) for task_id in infos]
    languages = list(dict.fromkeys(task.language for task in tasks))
    pretty_name = build_info.get("pretty_name", "S2SBench")
    data = DatasetCardData(
        pretty_name=pretty_name,
        language=languages,
        license=build_info.get("license", "other"),
        tags=["speech", "audio", "spoken-language-understanding", "s2sbench"],
    )
    DatasetInfosDict(infos).to_dataset_card_data(data)
    MetadataConfigs(
        {task_id: {"data_files": [{"split": SPLIT, "path": f"{task_id}/{SPLIT}-*.parquet"}]} for task_id in infos}
    ).to_dataset_card_data(data)

    table = "\n".join(
        f"| `{task.id}` | {task.language} | {task.num_choices} | {infos[task.id].splits[SPLIT].num_examples} | {task.description} |"
        for task in tasks
    )
    built = "\n".join(f"- {key}: {value}" for key, value in build_info.items() if key not in _CARD_KEYS)
    repo = build_info.get("repo_id", "path/to/this/folder")
    description = build_info.get(
        "description",
        "Spoken versions of the S2SBench sets: each item has a context as text and as speech, "
        "and k text continuations of which one is right.",
    )
    licence = build_info.get("license_note", "See the licences of the source texts.")
    return f"""---
{data.to_yaml()}
---

# {pretty_name}

{description}

S2SBench ("{PAPER_TITLE}") measures how much a speech language model loses when
it hears the context instead of reading it: same model, same items, text context
vs speech context.

| config | language | choices | rows | content |
|---|---|---|---|---|
{table}

Columns: `id`, `context` (text), `audio` (the context as speech: 16 kHz mono WAV),
`choices` (continuations), `label` (index of the right continuation), `subject`
(sCMMLU subject, empty otherwise). One split, `test`.

```python
from datasets import load_dataset

ds = load_dataset("{repo}", "{tasks[0].id}", split="test")
```

## How it was built

{built}
- s2sbench_hf version: {s2sbench_hf.__version__}
- content hash (SHA-256 over the Parquet files): `{content_hash}`

## Licence

{licence}

## Citation

```bibtex
@article{{s2sbench,
  title   = {{{PAPER_TITLE}}},
  author  = {{TODO}},
  journal = {{TODO}},
  year    = {{TODO}}
}}
```
"""


def write_dataset_folder(folder: str | os.PathLike, rows_by_task: dict[str, list[dict]], build_info: dict) -> Path:
    """Write ``rows_by_task`` (task id -> rows) as a dataset repository folder; return its path.

    Each row has ``id``, ``context``, ``audio`` (a float32 16 kHz mono waveform,
    encoded wav bytes, or None), ``choices``, ``label`` and optionally ``subject``.
    ``build_info`` describes the build for the card (source, TTS engine, voices,
    ...); ``pretty_name``, ``description``, ``license`` (a Hub licence id),
    ``license_note`` and ``repo_id`` shape the card itself. An existing folder is
    replaced.
    """
    folder = Path(folder)
    if not rows_by_task:
        raise ValueError("no tasks to write")
    for task_id in rows_by_task:
        get_task(task_id)
    folder.parent.mkdir(parents=True, exist_ok=True)
    partial = folder.parent / f".{folder.name}.partial-{uuid.uuid4().hex[:8]}"
    try:
        infos: dict[str, DatasetInfo] = {}
        digest = hashlib.sha256()
        for task_id, rows in rows_by_task.items():
            dataset = _task_dataset(task_id, rows)
            path = partial / task_id / DATA_FILE
            path.parent.mkdir(parents=True)
            dataset.to_parquet(str(path))
            digest.update(f"{task_id}/{DATA_FILE}\0".encode() + path.read_bytes())
            nbytes = dataset.data.nbytes
            info = DatasetInfo(
                config_name=task_id, features=dataset.features, splits=SplitDict(),
                download_size=path.stat().st_size, dataset_size=nbytes,
            )
            info.splits.add(SplitInfo(name=SPLIT, num_bytes=nbytes, num_examples=len(dataset)))
            infos[task_id] = info
        (partial / "README.md").write_text(_card(infos, build_info, digest.hexdigest()), encoding="utf-8")
        if folder.exists():
            previous = folder.parent / f".{folder.name}.old-{uuid.uuid4().hex[:8]}"
            folder.rename(previous)
            partial.rename(folder)
            shutil.rmtree(previous)
        else:
            partial.rename(folder)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return folder
