"""Write a Hugging Face dataset repository folder: what the Hub hosts for S2SBench.

Layout (one config per task, one ``test`` split each)::

    <folder>/README.md                              dataset card; its YAML header has the
                                                    ``configs:`` block and ``dataset_info``
    <folder>/eval.yaml                              declares the benchmark's tasks for the Hub's
                                                    evaluation results (`s2sbench_hf.data.eval_yaml`)
    <folder>/<task>/test-00000-of-00001.parquet     (large tasks: test-0000i-of-0000n, <= 500 MB each)

``datasets.load_dataset(<folder or repo id>, <task>, split="test")`` reads it, and
the same folder uploaded as is (`push_dataset_folder`) becomes the Hub dataset.
Columns: ``id``, ``context``, ``audio`` (``datasets.Audio(sampling_rate=16000)``,
the bytes of a 16 kHz mono PCM_16 WAV embedded in the file), ``choices``,
``label``, ``subject``; and, when some row of the task has them, ``uttid`` (the
reference release's row ids the item came from), ``voice`` (the synthetic voice
of the item), ``choices_audio`` (the continuations as speech, a list of
`datasets.Audio`) and ``choice_context_audio`` (for an item whose choices are
scored after different context speech, one context clip per choice; null for
the usual item whose choices all follow ``audio``).

The card's YAML header also carries each config's task spec under
``s2sbench_tasks`` (`Task.to_spec`: language, number of choices, framing, tie
rule), so a set built for a new task id runs without code (`card_tasks`).

The audio columns are built as plain ``{"bytes", "path"}`` structs and then cast
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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]  # no py.typed (datasets' own dependency)
import soundfile as sf
import yaml
from datasets import Audio, Dataset, DatasetInfo, Features, List, SplitDict, SplitInfo, Value
from datasets.info import DatasetInfosDict
from datasets.utils.metadata import MetadataConfigs
from huggingface_hub import DatasetCardData
from huggingface_hub.repocard import metadata_load

from s2sbench_hf._version import __version__
from s2sbench_hf.data.eval_yaml import eval_yaml
from s2sbench_hf.data.loaded import DataSourceError
from s2sbench_hf.hub_repo import HUB_ID_RULES, CommitPlan, HubError, PlannedFile, is_hub_id
from s2sbench_hf.tasks import CONTINUATION, DEFAULT_SETTINGS, SETTINGS, UTTERANCE, UTTERANCE_SETTINGS, Task, get_task

SAMPLING_RATE = 16000
SPLIT = "test"
DATA_FILE = "test-00000-of-00001.parquet"
"""The name of a task's Parquet file when it fits in one shard (the usual case)."""
EVAL_YAML = "eval.yaml"
MAX_SHARD_BYTES = 500 * 2**20
"""A task whose encoded audio exceeds this is split into several Parquet shards (as ``push_to_hub`` does)."""

BASE_COLUMNS = ("id", "context", "audio", "choices", "label", "subject")
OPTIONAL_COLUMNS = ("uttid", "voice", "choices_audio", "choice_context_audio")
AUDIO_LIST_COLUMNS = ("choices_audio", "choice_context_audio")
CARD_TASKS_KEY = "s2sbench_tasks"
"""The card's YAML key that maps each config to its `Task.to_spec`."""
COLUMNS = BASE_COLUMNS + OPTIONAL_COLUMNS

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
"""The columns every task's Parquet file has, as Hub users see them."""

OPTIONAL_FEATURES = Features(
    {
        "uttid": List(Value("string")),
        "voice": Value("string"),
        "choices_audio": List(Audio(sampling_rate=SAMPLING_RATE)),
        "choice_context_audio": List(Audio(sampling_rate=SAMPLING_RATE)),
    }
)
"""Columns a task's file has when some of its rows carry them."""

_AUDIO_STRUCT = {"bytes": Value("binary"), "path": Value("string")}

COLUMN_DOCS = {
    "id": "item id",
    "context": "the context as text (story beginning or question)",
    "audio": "the context as speech: 16 kHz mono 16-bit WAV",
    "choices": "the k continuations as text (endings or answer options)",
    "label": "index of the right continuation in `choices`",
    "subject": "sCMMLU subject, empty otherwise",
    "uttid": "the reference release's `uttid`s of the rows the item came from "
    "(stories: [plausible row, implausible row]; sCMMLU: [question row])",
    "voice": "the synthetic voice of the item's speech (espeak-ng: `voice@words-per-minute`)",
    "choices_audio": "the continuations as speech (16 kHz mono WAV, same order as `choices`), "
    "for the speech-continuation settings",
    "choice_context_audio": "only where the choices are scored after different context speech (the reference "
    "release has one wav per story ending): one context clip per choice, same order as `choices`; null otherwise",
}

PAPER_TITLE = "S2SBench: A Benchmark for Quantifying Intelligence Degradation in Speech-to-Speech Large Language Models"
PAPER_URL = "https://arxiv.org/abs/2505.14438"
CITATION = """@article{fang2025s2sbench,
  title   = {S2SBench: A Benchmark for Quantifying Intelligence Degradation in Speech-to-Speech Large Language Models},
  author  = {Fang, Yuanbo and Sun, Haoze and Liu, Jun and Zhang, Tao and Zhou, Zenan and Chen, Weipeng and Xing, Xiaofen and Xu, Xiangmin},
  journal = {arXiv preprint arXiv:2505.14438},
  year    = {2025}
}"""  # noqa: E501 - the paper's BibTeX entry, verbatim
_CARD_KEYS = ("pretty_name", "description", "license", "license_note", "repo_id", "eval_name")
"""``build_info`` keys that shape the card; every other key is listed under "How it was built"."""


def card_metadata(folder: str | os.PathLike) -> dict[str, Any]:
    """The YAML header of a folder's README.md card; {} without one. A card that cannot be read or parsed is a
    `DataSourceError` naming it."""
    readme = Path(folder) / "README.md"
    if not readme.is_file():
        return {}
    try:
        metadata = metadata_load(readme)
    except (OSError, ValueError, yaml.YAMLError) as err:  # ValueError: not UTF-8, or a header that is no mapping
        mark = getattr(err, "problem_mark", None)
        reason = f"{getattr(err, 'problem', err)} at line {mark.line + 1} of its YAML header" if mark else str(err)
        raise DataSourceError(f"cannot read the card {readme}: {' '.join(reason.split())}. Fix it.") from None
    return metadata if isinstance(metadata, dict) else {}


def card_tasks(folder: str | os.PathLike) -> dict[str, Task]:
    """The task specs a dataset folder's card declares (``s2sbench_tasks``), checked; {} when it has none.

    A spec that is malformed is a `DataSourceError` naming the card and the field.
    """
    readme = Path(folder) / "README.md"
    specs = card_metadata(folder).get(CARD_TASKS_KEY) or {}
    if not isinstance(specs, dict):
        raise DataSourceError(f"{readme}: {CARD_TASKS_KEY} should map each config to its task spec")
    try:
        return {str(task_id): Task.from_spec(str(task_id), spec) for task_id, spec in specs.items()}
    except ValueError as err:
        raise DataSourceError(f"{readme}: {err}. Rebuild the dataset with `s2sbench build`.") from None


def card_configs(folder: str | os.PathLike, split: str | None = None) -> dict[str, list[str]]:
    """The configs of the ``configs:`` block of a folder's README.md card, each with the file patterns it reads
    (of every split, or of ``split`` only: a file entry that names another split is left out).

    {} without a card or a ``configs:`` block (then the folder is no Parquet dataset of this kind).
    """
    configs: dict[str, list[str]] = {}
    for config in card_metadata(folder).get("configs") or []:
        if not isinstance(config, dict) or not config.get("config_name"):
            continue
        data_files = config.get("data_files") or []
        if isinstance(data_files, dict):  # {split: path(s)}
            data_files = [{"split": name, "path": paths} for name, paths in data_files.items()]
        entries = data_files if isinstance(data_files, list) else [data_files]
        patterns = []
        for entry in entries:
            if split is not None and isinstance(entry, dict) and entry.get("split", split) != split:
                continue
            paths = entry.get("path") if isinstance(entry, dict) else entry
            patterns += [str(path) for path in (paths if isinstance(paths, list) else [paths]) if path]
        if config.get("data_dir"):
            patterns.append(f"{config['data_dir']}/*")
        configs[str(config["config_name"])] = patterns
    return configs


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


def _encode_rows(task_id: str, rows: list[dict[str, Any]]) -> tuple[list[str], dict[str, list[Any]], list[int]]:
    """Column lists of ``rows`` (audio encoded), the optional columns they use, and each row's encoded size."""
    optional = [name for name in OPTIONAL_COLUMNS if any(row.get(name) is not None for row in rows)]
    audio_lists = [name for name in AUDIO_LIST_COLUMNS if name in optional]
    names = [*BASE_COLUMNS, *optional]
    columns: dict[str, list[Any]] = {name: [] for name in names}
    columns |= _meta_columns(task_id, rows)
    sizes = []
    for index, row in enumerate(rows):
        unknown = set(row) - {*COLUMNS, "meta"}
        if unknown:
            raise ValueError(f"task {task_id!r}, row {index}: unknown fields {sorted(unknown)}; columns are {COLUMNS}")
        item_id = str(row["id"])
        audio = row.get("audio")
        encoded = None if audio is None else {"bytes": encode_wav(audio), "path": f"{item_id}.wav"}
        size = len(encoded["bytes"]) if encoded else 0
        columns["id"].append(item_id)
        columns["context"].append(row["context"])
        columns["audio"].append(encoded)
        columns["choices"].append(list(row["choices"]))
        columns["label"].append(int(row["label"]))
        columns["subject"].append(row.get("subject") or "")
        if "uttid" in columns:
            columns["uttid"].append([str(u) for u in row.get("uttid") or []])
        if "voice" in columns:
            columns["voice"].append(row.get("voice") or "")
        for name in audio_lists:
            clips = row.get(name)
            if clips is None:
                columns[name].append(None)
                continue
            stem = f"{item_id}-{'context-' if name == 'choice_context_audio' else ''}"
            encoded_clips = [{"bytes": encode_wav(clip), "path": f"{stem}{j}.wav"} for j, clip in enumerate(clips)]
            size += sum(len(clip["bytes"]) for clip in encoded_clips)
            columns[name].append(encoded_clips)
        sizes.append(size)
    return optional, columns, sizes


def _meta_columns(task_id: str, rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """One plain column per key of the rows' ``meta`` (an item's fields from its source: SALMon's subset, sWUGGY's
    frequency...; None where a row lacks it), which `dataset_folder` reads back into `Item.meta`."""
    keys = dict.fromkeys(key for row in rows for key in row.get("meta") or {})
    taken = [key for key in keys if key in COLUMNS]
    if taken:
        raise ValueError(f"task {task_id!r}: meta fields {taken} are column names of the format; rename them")
    return {key: [(row.get("meta") or {}).get(key) for row in rows] for key in keys}


def _meta_feature(task_id: str, name: str, values: list[Any]) -> Any:
    """The `datasets` feature of a meta column, inferred by Arrow from its values (one type per column)."""
    try:
        arrow_type = pa.array(values).type
    except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
        raise ValueError(f"task {task_id!r}: meta field {name!r} mixes types ({err}); give it one type") from None
    return Features.from_arrow_schema(pa.schema([pa.field(name, arrow_type)]))[name]


def _shard_bounds(sizes: list[int], max_bytes: int) -> list[tuple[int, int]]:
    bounds, start, total = [], 0, 0
    for index, size in enumerate(sizes):
        if total and total + size > max_bytes:
            bounds.append((start, index))
            start, total = index, 0
        total += size
    bounds.append((start, len(sizes)))
    return bounds


def _task_datasets(task_id: str, rows: list[dict[str, Any]], max_shard_bytes: int) -> list[Dataset]:
    """One `Dataset` per Parquet shard of a task, audio columns cast to `datasets.Audio`."""
    optional, columns, sizes = _encode_rows(task_id, rows)
    build = Features({name: FEATURES[name] for name in BASE_COLUMNS})
    build["audio"] = _AUDIO_STRUCT
    for name in optional:
        build[name] = List(_AUDIO_STRUCT) if name in AUDIO_LIST_COLUMNS else OPTIONAL_FEATURES[name]
    for name in columns.keys() - build.keys():
        build[name] = _meta_feature(task_id, name, columns[name])
    shards = []
    for start, stop in _shard_bounds(sizes, max_shard_bytes):
        dataset = Dataset.from_dict({name: values[start:stop] for name, values in columns.items()}, features=build)
        dataset = dataset.cast_column("audio", Audio(sampling_rate=SAMPLING_RATE))
        for name in AUDIO_LIST_COLUMNS:
            if name in optional:
                dataset = dataset.cast_column(name, OPTIONAL_FEATURES[name])
        shards.append(dataset)
    return shards


_DEFAULT_DESCRIPTION = (
    "Spoken versions of the S2SBench sets: each item has a context as text and as speech, "
    "and k text continuations of which one is right."
)
"""The card's opening paragraph when ``build_info`` has no ``description``."""

_CARD_TEMPLATE = """---
{header}
---

# {pretty_name}

{description}

{about}

| config | language | choices | rows | MB | content |
|---|---|---|---|---|---|
{table}

One split, `test`. Columns:

{columns}

```python
from datasets import load_dataset, Audio, List

ds = load_dataset("{repo}", "{first_task}", split="test")
# encoded WAV bytes; decode them with soundfile, no torchcodec needed
{casts}
```

{evaluate}

`{eval_yaml}` registers the benchmark for the Hub's evaluation results: one leaderboard per config and
setting ({eval_ids}: pairwise accuracy in %).

## How it was built

{built}
- s2sbench_hf version: {version}
- content hash (SHA-256 over the Parquet files): `{content_hash}`

## Licence

{licence}

## Citation

```bibtex
{citation}
```
"""
"""The dataset card (README.md), filled by `_card` with `str.format`; `content_hash` reads the hash line back."""


def _card(infos: dict[str, DatasetInfo], build_info: dict[str, Any], content_hash: str, specs: dict[str, Task]) -> str:
    """The dataset card of the folder: the YAML header that the Hub and `datasets` read (`_card_data`), then what a
    reader needs: the configs, the columns, how to load and evaluate them, how the set was built."""
    tasks = [specs[task_id] for task_id in infos]
    return _CARD_TEMPLATE.format(
        header=_card_data(infos, build_info, tasks).to_yaml(),
        pretty_name=build_info.get("pretty_name", "S2SBench"),
        description=build_info.get("description", _DEFAULT_DESCRIPTION),
        about=_about(tasks),
        table=_task_table(infos, tasks),
        columns="\n".join(f"- `{name}`: {COLUMN_DOCS[name]}" for name in _present_columns(infos)),
        repo=build_info.get("repo_id", "path/to/this/folder"),
        first_task=tasks[0].id,
        casts=_audio_casts(infos[tasks[0].id].features),
        evaluate=_evaluate_block(build_info.get("repo_id", "path/to/this/folder"), tasks),
        eval_yaml=EVAL_YAML,
        eval_ids=", ".join(f"`<config>_{setting}`" for setting in _card_settings(tasks)),
        built="\n".join(f"- {key}: {value}" for key, value in build_info.items() if key not in _CARD_KEYS),
        version=__version__,
        content_hash=content_hash,
        licence=build_info.get("license_note", "See the licences of the source texts."),
        citation=CITATION,
    )


@dataclass(frozen=True)
class _CardKind:
    """What a card says of its tasks of one kind (`Task.kind`)."""

    about: str
    """What they measure: a paragraph under the card's title."""
    settings: tuple[str, ...]
    """The settings of their leaderboards (``<config>_<setting>`` in eval.yaml)."""
    categories: tuple[str, ...]
    """The Hub's task categories."""
    model: str
    """The model of the card's example command."""
    scored: str
    """What that command scores, a few words."""


_CARD_KINDS = {
    CONTINUATION: _CardKind(
        about=(
            f'S2SBench ("[{PAPER_TITLE}]({PAPER_URL})") measures how much a speech language model loses when it '
            "hears the context instead of reading it: same model, same items, text context vs speech context."
        ),
        settings=DEFAULT_SETTINGS,
        categories=("audio-text-to-text", "multiple-choice"),
        model="Qwen/Qwen2-Audio-7B",
        scored="pairwise perplexity, text vs speech context",
    ),
    UTTERANCE: _CardKind(
        about=(
            "An utterance pair is scored without context: a spoken language model should give the positive clip a "
            "higher likelihood than the negative one, and accuracy is how often it does (the sStoryCloze, sWUGGY, "
            "sBLIMP and SALMon protocol). These sets do not enter S2SBench's text or audio averages."
        ),
        settings=UTTERANCE_SETTINGS,
        categories=("audio-classification",),
        model="kmhf/hf-moshiko",
        scored="a speech LM's likelihood of each whole utterance, no context",
    ),
}
"""The card's words for each kind of task: a card of both kinds says both, continuation tasks first."""


def _card_kinds(tasks: list[Task]) -> list[tuple[_CardKind, list[Task]]]:
    """The `_CARD_KINDS` entries of the kinds the card's tasks have, each with its tasks."""
    grouped = [(said, [task for task in tasks if task.kind == kind]) for kind, said in _CARD_KINDS.items()]
    return [(said, group) for said, group in grouped if group]


def _about(tasks: list[Task]) -> str:
    """What the card's sets measure, a paragraph per kind of task."""
    return "\n\n".join(said.about for said, _ in _card_kinds(tasks))


def _card_settings(tasks: list[Task]) -> list[str]:
    """The settings the card's leaderboards name: the paper's two for continuation tasks, ``utterance`` for
    utterance pairs."""
    return [setting for said, _ in _card_kinds(tasks) for setting in said.settings]


def _evaluate_block(repo: str, tasks: list[Task]) -> str:
    """How to evaluate a model on the set: a speech LLM on continuation tasks (text vs speech context), a speech
    LM on utterance pairs (each whole clip scored with no context)."""
    return "\n\n".join(
        f"Evaluate a model with the `s2sbench` command of s2sbench-hf ({said.scored}):\n\n```bash\n"
        f"s2sbench run --model {said.model} --dataset {repo} --tasks {' '.join(task.id for task in group)}\n```"
        for said, group in _card_kinds(tasks)
    )


def _card_data(infos: dict[str, DatasetInfo], build_info: dict[str, Any], tasks: list[Task]) -> DatasetCardData:
    """The card's YAML header: the Hub's metadata (languages, licence, size, categories), each config's
    ``dataset_info`` and data files (so `datasets` reads the folder without a script), and each config's task spec
    under `CARD_TASKS_KEY` (so `card_tasks` runs a task that is not in the registry)."""
    total_rows = sum(info.splits[SPLIT].num_examples for info in infos.values())
    size_category = next(
        name
        for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (float("inf"), "n>100K"))
        if total_rows < limit
    )
    task_specs: dict[str, Any] = {CARD_TASKS_KEY: {task.id: task.to_spec() for task in tasks}}  # a custom key
    data = DatasetCardData(
        pretty_name=build_info.get("pretty_name", "S2SBench"),
        language=list(dict.fromkeys(task.language for task in tasks)),
        license=build_info.get("license", "other"),
        size_categories=[size_category],
        task_categories=[category for said, _ in _card_kinds(tasks) for category in said.categories],
        tags=["speech", "audio", "spoken-language-understanding", "s2sbench", "benchmark"],
        **task_specs,
    )
    DatasetInfosDict(infos).to_dataset_card_data(data)
    MetadataConfigs(
        {task_id: {"data_files": [{"split": SPLIT, "path": f"{task_id}/{SPLIT}-*.parquet"}]} for task_id in infos}
    ).to_dataset_card_data(data)
    return data


def _task_table(infos: dict[str, DatasetInfo], tasks: list[Task]) -> str:
    """The rows of the card's table of configs: language, choices, rows, size in MB (as downloaded), content."""

    def megabytes(n: int | None) -> str:
        return f"{(n or 0) / 2**20:.1f}"

    return "\n".join(
        f"| `{task.id}` | {task.language} | {task.num_choices} | {infos[task.id].splits[SPLIT].num_examples} "
        f"| {megabytes(infos[task.id].download_size)} | {task.description} |"
        for task in tasks
    )


def _present_columns(infos: dict[str, DatasetInfo]) -> list[str]:
    """The columns some config has, in `COLUMNS` order: those the card documents."""
    return [name for name in COLUMNS if any(name in info.features for info in infos.values())]


def _audio_casts(features: Features) -> str:
    """The usage example's lines that keep the audio columns of ``features`` as encoded bytes (no torchcodec)."""
    return "\n".join(
        f'ds = ds.cast_column("{name}", '
        + ("List(Audio(decode=False)))" if name in AUDIO_LIST_COLUMNS else "Audio(decode=False))")
        for name in ("audio", *AUDIO_LIST_COLUMNS)
        if name in features
    )


def write_dataset_folder(
    folder: str | os.PathLike,
    rows_by_task: dict[str, list[dict]],
    build_info: dict,
    *,
    tasks: dict[str, Task] | None = None,
    max_shard_bytes: int = MAX_SHARD_BYTES,
) -> Path:
    """Write ``rows_by_task`` (task id -> rows) as a dataset repository folder; return its path.

    Each row has ``id``, ``context``, ``audio`` (a float32 16 kHz mono waveform,
    encoded wav bytes, or None), ``choices``, ``label`` and optionally ``subject``,
    ``uttid`` (list of str), ``voice`` (str), ``choices_audio`` and
    ``choice_context_audio`` (one waveform or wav bytes per choice), and ``meta``
    (an item's own fields, one plain column each, read back into `Item.meta`). ``build_info``
    describes the build for the card (source, TTS engine, voices, ...);
    ``pretty_name``, ``description``, ``license`` (a Hub licence id),
    ``license_note``, ``repo_id`` and ``eval_name`` shape the card and eval.yaml.
    ``tasks`` gives the `Task` of a task id that is not in the registry (a set
    built from a user's source); the card records every config's spec. An
    existing folder is replaced; nothing is left behind if writing fails.
    """
    folder = Path(folder)
    if not rows_by_task:
        raise ValueError("no tasks to write")
    specs = {task_id: (tasks or {}).get(task_id) or get_task(task_id) for task_id in rows_by_task}
    folder.parent.mkdir(parents=True, exist_ok=True)
    partial = folder.parent / f".{folder.name}.partial-{uuid.uuid4().hex[:8]}"
    try:
        digest = hashlib.sha256()
        infos = {
            task_id: _write_task(partial, task_id, rows, max_shard_bytes, digest.update)
            for task_id, rows in rows_by_task.items()
        }
        (partial / "README.md").write_text(_card(infos, build_info, digest.hexdigest(), specs), encoding="utf-8")
        spoken = all("choices_audio" in info.features for info in infos.values())
        utterance = [task_id for task_id in infos if specs[task_id].kind == UTTERANCE]
        (partial / EVAL_YAML).write_text(_eval_yaml(list(infos), build_info, spoken, utterance), encoding="utf-8")
        _replace_folder(folder, partial)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return folder


def _write_task(
    partial: Path, task_id: str, rows: list[dict[str, Any]], max_shard_bytes: int, digest: Callable[[bytes], None]
) -> DatasetInfo:
    """Write one task's Parquet shards into ``partial/<task_id>``, each one's name and bytes fed to ``digest`` (the
    card's content hash, in the card's task order); return the config's `DatasetInfo` for the card's header."""
    shards = _task_datasets(task_id, rows, max_shard_bytes)
    (partial / task_id).mkdir(parents=True)
    download_size = num_bytes = num_rows = 0
    for index, dataset in enumerate(shards):
        name = DATA_FILE if len(shards) == 1 else f"{SPLIT}-{index:05d}-of-{len(shards):05d}.parquet"
        path = partial / task_id / name
        dataset.to_parquet(str(path))
        digest(f"{task_id}/{name}\0".encode() + path.read_bytes())
        download_size += path.stat().st_size
        num_bytes += dataset.data.nbytes
        num_rows += len(dataset)
    info = DatasetInfo(
        config_name=task_id,
        features=shards[0].features,
        splits=SplitDict(),
        download_size=download_size,
        dataset_size=num_bytes,
    )
    info.splits.add(SplitInfo(name=SPLIT, num_bytes=num_bytes, num_examples=num_rows))
    return info


def _replace_folder(folder: Path, partial: Path) -> None:
    """Rename the written ``partial`` folder to ``folder``; an existing one is moved aside first and put back if
    the rename fails, so that a reader sees the old folder or the new one, never half of either."""
    if folder.exists():
        previous = folder.parent / f".{folder.name}.old-{uuid.uuid4().hex[:8]}"
        folder.rename(previous)
        try:
            partial.rename(folder)
        except OSError:
            previous.rename(folder)
            raise
        shutil.rmtree(previous)
    else:
        partial.rename(folder)


def _eval_yaml(
    task_ids: list[str], build_info: dict[str, Any], spoken_continuations: bool, utterance_tasks: list[str]
) -> str:
    """The eval.yaml: every setting when every task has the continuations' speech, else the paper's two; an
    utterance task's one setting."""
    return eval_yaml(
        task_ids,
        settings=SETTINGS if spoken_continuations else DEFAULT_SETTINGS,
        name=build_info.get("eval_name") or build_info.get("pretty_name", "S2SBench"),
        utterance_tasks=utterance_tasks,
    )


def content_hash(folder: str | os.PathLike) -> str:
    """The content hash a folder's card records: SHA-256 over its Parquet files (task order of the card)."""
    folder = Path(folder)
    card = (folder / "README.md").read_text(encoding="utf-8")
    marker = "content hash (SHA-256 over the Parquet files): `"
    if marker not in card:
        raise HubError(f"{folder}/README.md has no content hash: it was not written by s2sbench_hf")
    return card.split(marker, 1)[1].split("`", 1)[0]


# --- publishing ---------------------------------------------------------------------------


def plan_push(
    folder: str | os.PathLike,
    repo_id: str,
    *,
    create_pr: bool = False,
    private: bool = False,
    commit_message: str | None = None,
) -> CommitPlan:
    """The commit that publishes a dataset folder (every file but hidden ones), checked first (card with
    ``configs:``, Parquet files). The repository is created if missing, ``private`` or public; `hub_repo.push`
    sends it."""
    folder = Path(folder)
    if not is_hub_id(repo_id):
        raise HubError(f"repository id {repo_id!r} is not of the form ORG/NAME ({HUB_ID_RULES})")
    card = folder / "README.md"
    if not card.is_file() or "configs:" not in card.read_text(encoding="utf-8"):
        raise HubError(
            f"{folder} is not a dataset folder written by s2sbench_hf (no README.md with a configs: block). "
            "Build one with `s2sbench build convert|source|samples` first."
        )
    files = sorted(
        (
            PlannedFile(path.relative_to(folder).as_posix(), path)
            for path in folder.rglob("*")
            if path.is_file() and not any(part.startswith(".") for part in path.relative_to(folder).parts)
        ),
        key=lambda f: f.path_in_repo,
    )
    if not any(f.path_in_repo.endswith(".parquet") for f in files):
        raise HubError(f"{folder} has no Parquet files to publish")
    message = commit_message or f"Upload S2SBench dataset (content hash {content_hash(folder)[:12]})"
    return CommitPlan(repo_id, "dataset", files, message, create_pr=create_pr, create_repo={"private": private})
