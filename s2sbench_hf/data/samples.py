"""The bundled sample sets: small S2SBench-style tasks that work offline, out of the box.

The package ships only the texts (``data/samples/<task>.jsonl``, one
``{"id", "context", "choices", "label"}`` object per line, plus ``"subject"`` for
sCMMLU). On first use (or ``s2sbench build samples`` / ``make samples``) the
dataset builder (`builder.build_tasks`, the path every spoken set is built by)
speaks the contexts and continuations with espeak-ng and writes a dataset
folder in the cache, so the samples are read by exactly the code that reads the
Hub dataset. The cache folder's
name hashes the texts and the TTS settings: edited texts or a new espeak-ng get
a fresh build, and an unchanged one is reused.
"""

from __future__ import annotations

import hashlib
import json
from importlib.metadata import version
from pathlib import Path
from typing import Any

from s2sbench_hf._version import __version__
from s2sbench_hf.data.builder import SpeechConfig, TaskSource, build_tasks, default_workers
from s2sbench_hf.data.hub_folder import DATA_FILE, SAMPLING_RATE
from s2sbench_hf.data.tts import voice_for_language
from s2sbench_hf.files import cache_root
from s2sbench_hf.jsonl import jsonl_objects
from s2sbench_hf.tasks import TASKS, S2SBenchError, get_task

SAMPLES_DIR = Path(__file__).parent / "samples"
"""Where the sample texts live inside the package."""

SAMPLE_TASKS = tuple(TASKS)
TTS_RATE = 160
"""espeak-ng speaking rate (words per minute) of the samples: a little slower than its default, 175."""


def _sample_file(task_id: str) -> Path:
    get_task(task_id)
    path = SAMPLES_DIR / f"{task_id}.jsonl"
    if not path.is_file():
        raise S2SBenchError(f"no bundled sample texts for task {task_id!r}: {path} is missing. Reinstall s2sbench_hf.")
    return path


def read_sample_texts(task_id: str) -> list[dict[str, Any]]:
    """The sample rows of a task, as written in its jsonl file."""
    path = _sample_file(task_id)
    rows = []
    for number, row, problem in jsonl_objects(path):
        if row is None:
            raise S2SBenchError(f"{path}, line {number}: {problem}. Fix the line.")
        rows.append(row)
    return rows


def _tts_settings() -> dict[str, Any]:
    return {
        "engine": "espeak-ng",
        "espeakng_loader": version("espeakng-loader"),
        "voices": {task_id: voice_for_language(get_task(task_id).language) for task_id in SAMPLE_TASKS},
        "rate": TTS_RATE,
        "sampling_rate": SAMPLING_RATE,
        "builder": "builder.build_tasks: contexts and continuations spoken, voice column",
    }


def samples_folder() -> Path:
    """The cache folder of the current sample texts and TTS settings (built or not)."""
    digest = hashlib.sha256(json.dumps(_tts_settings(), sort_keys=True).encode())
    digest.update(__version__.encode())
    for task_id in SAMPLE_TASKS:
        digest.update(f"\0{task_id}\0".encode() + _sample_file(task_id).read_bytes())
    return cache_root() / f"samples-{digest.hexdigest()[:12]}"


def _is_complete(folder: Path) -> bool:
    # write_dataset_folder renames a finished folder into place, so these files are all or nothing
    return (folder / "README.md").is_file() and all((folder / t / DATA_FILE).is_file() for t in SAMPLE_TASKS)


def build_samples(
    folder: Path | None = None, force: bool = False, *, workers: int | None = None, progress: bool = True
) -> Path:
    """Synthesize the samples with the dataset builder and write the dataset folder; return it.

    The same path as any user's build (`builder.build_tasks`: jsonl source,
    espeak-ng, one fixed voice per language at `TTS_RATE`, speech for the
    contexts and the continuations). Does nothing if ``folder`` (default
    `samples_folder`) is already complete, unless ``force``. ``workers``
    defaults to the CPU cores (at most 4), or 1 for a handful of items.
    """
    folder = Path(folder) if folder is not None else samples_folder()
    if not force and _is_complete(folder):
        return folder
    sources = [
        TaskSource(
            task_id=task_id, source=_sample_file(task_id), source_label=f"s2sbench_hf/data/samples/{task_id}.jsonl"
        )
        for task_id in SAMPLE_TASKS
    ]
    if workers is None:
        items = sum(len(read_sample_texts(task_id)) for task_id in SAMPLE_TASKS)
        workers = default_workers() if items >= 32 else 1
    build_info = {
        "pretty_name": "S2SBench samples",
        "description": "Small sample sets in the format of the S2SBench dataset, with synthetic speech.",
        "source": "the sample texts bundled with s2sbench_hf (s2sbench_hf/data/samples/*.jsonl), written for it",
        "license": "apache-2.0",
        "license_note": "The sample texts and their synthetic speech are part of s2sbench_hf (Apache-2.0). "
        "They are not items of the S2SBench release and their scores are not comparable with published ones.",
    }
    return build_tasks(
        folder,
        sources,
        SpeechConfig(engine="espeak", rates=[TTS_RATE]),
        workers=workers,
        progress=progress,
        build_info=build_info,
    )


def ensure_samples(*, progress: bool = True) -> Path:
    """The built sample folder, built first if needed (what ``load_task(task, "samples")`` reads), with a progress
    bar unless ``progress`` is False.

    Built in the calling process (``workers=1``, about 10 s on one core): worker
    processes would re-import the caller's main module, which re-runs a plain
    script that has no ``if __name__ == "__main__":`` guard (and fails in
    notebooks). ``s2sbench build samples`` builds with several processes.
    """
    return build_samples(workers=1, progress=progress)
