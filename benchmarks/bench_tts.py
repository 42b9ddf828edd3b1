"""espeak-ng synthesis throughput of the dataset builder: 1 vs 2 (or more) worker processes, side by side.

    python benchmarks/bench_tts.py [--workers 1 2] [--repeat 1]      (or: make bench-tts)

Speaks the bundled sample stories (English and Chinese, 96 items, cycled to
``--items``: each a context and two endings, what `s2sbench build source` does
per item) through `tts.synthesize_jobs`, the builder's synthesis path, and prints
items per second for each worker count, including the start of the worker
processes (the time to the first item shows that start-up). It also checks that
every worker count gives the same samples.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from s2sbench_hf.data.samples import read_sample_texts
from s2sbench_hf.data.tts import SAMPLING_RATE, SpeechJob, make_voices, synthesize_jobs
from s2sbench_hf.tasks import get_task

TASKS = ("sstorycloze", "zh_sstorycloze")


def jobs(items: int) -> list[SpeechJob]:
    """``items`` items: the sample stories of both languages, cycled (each copy gets its own id)."""
    texts = []
    for task_id in TASKS:
        voice = make_voices("espeak", get_task(task_id).language)[0]
        texts += [(row["id"], (row["context"], *row["choices"]), voice) for row in read_sample_texts(task_id)]
    return [
        SpeechJob(
            n, f"{texts[n % len(texts)][0]}-{n // len(texts)}", texts[n % len(texts)][1], texts[n % len(texts)][2]
        )
        for n in range(items)
    ]


def run(work: list[SpeechJob], workers: int) -> tuple[float, float, list[list[np.ndarray]]]:
    """(seconds in all, seconds to the first item, the audio); the first item includes starting the workers."""
    start = time.perf_counter()
    first, results = None, []
    for result in synthesize_jobs("espeak", work, workers=workers, progress=False):
        first = first or time.perf_counter() - start
        results.append(result)
    elapsed = time.perf_counter() - start
    bad = [r.error for r in results if r.error]
    if bad:
        raise SystemExit(f"synthesis failed: {bad[:3]}")
    return elapsed, first, [r.audio for r in results]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[1, 2], help="worker counts to compare (default: 1 2)."
    )
    parser.add_argument("--items", type=int, default=288, help="items to speak (default: the 96 sample stories x 3).")
    parser.add_argument("--repeat", type=int, default=1, help="runs per worker count; the best is reported.")
    args = parser.parse_args()

    work = jobs(args.items)
    texts = sum(len(job.texts) for job in work)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"espeak-ng synthesis: {len(work)} items ({texts} texts: contexts + endings) of {', '.join(TASKS)}; "
        f"{os.cpu_count()} CPU cores, Python {platform.python_version()}, load average {load:.1f}"
    )
    print(
        f"{'workers':>8} {'seconds':>8} {'items/s':>8} {'texts/s':>8} {'audio s/s':>9} {'speed-up':>8} "
        f"{'1st item s':>10}"
    )
    reference, base = None, None
    for workers in args.workers:
        best, first, audio = min((run(work, workers) for _ in range(max(1, args.repeat))), key=lambda r: r[0])
        seconds = sum(clip.size for clips in audio for clip in clips) / SAMPLING_RATE
        if reference is None:
            reference, base = audio, best
        same = all(
            np.array_equal(a, b) for x, y in zip(reference, audio, strict=True) for a, b in zip(x, y, strict=True)
        )
        print(
            f"{workers:>8} {best:>8.2f} {len(work) / best:>8.2f} {texts / best:>8.2f} {seconds / best:>9.1f} "
            f"{base / best:>7.2f}x {first:>10.2f}" + ("" if same else "  (DIFFERENT SAMPLES)")
        )
        if not same:
            return 1
    print("every worker count gave identical samples.")
    return 0


if __name__ == "__main__":  # worker processes are spawned and import this file: keep the guard
    sys.exit(main())
