"""The bundled sample sets: small S2SBench-style tasks that work offline, out of the box.

The package ships only the texts (``data/samples/<task>.jsonl``, one
``{"id", "context", "choices", "label"}`` object per line, plus ``"subject"`` for
sCMMLU). The speech is synthesized with espeak-ng on first use and written as a
dataset folder (`hub_folder.write_dataset_folder`) in the cache, so the samples
are read by exactly the code that reads the Hub dataset. The cache folder's
name hashes the texts and the TTS settings: edited texts or a new espeak-ng get
a fresh build, and an unchanged one is reused.
"""

from __future__ import annotations

import hashlib
import json
import os
from importlib.metadata import version
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

import s2sbench_hf
from s2sbench_hf.data.hub_folder import DATA_FILE, SAMPLING_RATE, write_dataset_folder
from s2sbench_hf.data.tts import EspeakTTS, voice_for_language
from s2sbench_hf.tasks import TASKS, S2SBenchError, get_task

SAMPLES_DIR = Path(__file__).parent / "samples"
"""Where the sample texts live inside the package."""

SAMPLE_TASKS = tuple(TASKS)
TTS_RATE = 160
"""espeak-ng speaking rate (words per minute) of the samples: a little slower than its default, 175."""


def cache_root() -> Path:
    """``$S2SBENCH_CACHE``, by default ``~/.cache/s2sbench_hf``."""
    return Path(os.environ.get("S2SBENCH_CACHE") or "~/.cache/s2sbench_hf").expanduser()


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
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as err:
            raise S2SBenchError(f"{path}, line {number}: not valid JSON ({err}). Fix the line.") from err
    return rows


def _tts_settings() -> dict[str, Any]:
    return {
        "engine": "espeak-ng",
        "espeakng_loader": version("espeakng-loader"),
        "voices": {task_id: voice_for_language(get_task(task_id).language) for task_id in SAMPLE_TASKS},
        "rate": TTS_RATE,
        "sampling_rate": SAMPLING_RATE,
    }


def samples_folder() -> Path:
    """The cache folder of the current sample texts and TTS settings (built or not)."""
    digest = hashlib.sha256(json.dumps(_tts_settings(), sort_keys=True).encode())
    digest.update(s2sbench_hf.__version__.encode())
    for task_id in SAMPLE_TASKS:
        digest.update(f"\0{task_id}\0".encode() + _sample_file(task_id).read_bytes())
    return cache_root() / f"samples-{digest.hexdigest()[:12]}"


def _is_complete(folder: Path) -> bool:
    # write_dataset_folder renames a finished folder into place, so these files are all or nothing
    return (folder / "README.md").is_file() and all((folder / t / DATA_FILE).is_file() for t in SAMPLE_TASKS)


def build_samples(folder: Path | None = None, force: bool = False) -> Path:
    """Synthesize the sample contexts and write the dataset folder; return it.

    Does nothing if ``folder`` (default `samples_folder`) is already complete,
    unless ``force``.
    """
    folder = Path(folder) if folder is not None else samples_folder()
    if not force and _is_complete(folder):
        return folder
    texts = {task_id: read_sample_texts(task_id) for task_id in SAMPLE_TASKS}
    settings = _tts_settings()
    rows_by_task: dict[str, list[dict[str, Any]]] = {}
    with tqdm(total=sum(map(len, texts.values())), desc="Synthesizing the S2SBench samples", unit="item") as bar:
        for task_id, rows in texts.items():
            tts = EspeakTTS(settings["voices"][task_id], rate=TTS_RATE)
            rows_by_task[task_id] = []
            for row in rows:
                rows_by_task[task_id].append({**row, "audio": tts.synthesize(row["context"], SAMPLING_RATE)})
                bar.update()
    build_info = {
        "pretty_name": "S2SBench samples",
        "description": "Small sample sets in the format of the S2SBench dataset, with synthetic speech.",
        "source": "the sample texts bundled with s2sbench_hf (s2sbench_hf/data/samples/*.jsonl), written for it",
        "text-to-speech": f"espeak-ng (espeakng-loader {settings['espeakng_loader']}), "
        f"rate {TTS_RATE} words per minute, resampled to {SAMPLING_RATE} Hz",
        "voices": ", ".join(f"{task_id}: {voice}" for task_id, voice in settings["voices"].items()),
        "license": "apache-2.0",
        "license_note": "The sample texts and their synthetic speech are part of s2sbench_hf (Apache-2.0). "
        "They are not items of the S2SBench release and their scores are not comparable with published ones.",
    }
    return write_dataset_folder(folder, rows_by_task, build_info)


def ensure_samples() -> Path:
    """The built sample folder, built first if needed (what ``load_task(task, source=None)`` reads)."""
    return build_samples()
