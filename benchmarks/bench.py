"""Speed and memory of our scoring against the reference algorithm and lm-evaluation-harness.

Run with ``make bench`` (or ``python benchmarks/bench.py --help``). In one process,
on the same random-weight models and the same sample items, it times:

* ``reference``: what the reference release does: every continuation scored by
  its own full forward pass at batch size 1, the context (and its audio: the
  processor and the audio encoder over the whole 30 s window) recomputed each time;
* ``lm-eval``: lm-evaluation-harness ``HFLM.loglikelihood`` (text setting only);
* ``ours``: `s2sbench_hf.scoring.engine.score_items` (context once, KV cache
  shared by the k continuations, the encoder over the batch's longest clip, the
  LM head on the used positions only, length-sorted batches of the automatic size);
* two ablations of ours: ``ours, whole window`` (the encoder over the 30 s window)
  and ``ours, all prompt logits`` (the LM head on every prompt position).

How a ratio is measured so that it holds on a busy machine: the methods of a case
run in turn (A B A B ...), each sample repeats a method until it has run at least
``--min-sample`` seconds, and rounds go on until every method has run
``--min-seconds`` in total (and at least ``--min-rounds`` rounds). The ratio of
two methods is the median of the per-round ratios; its spread is the
interquartile range of those ratios over their median. The matrix-multiply
reference (the physical peak of useful FLOP/s) is one more method of every
round, so our utilization is paired with the peak measured under the same load.

It checks that every method gives the same per-continuation scores (relative
2e-5) and accuracies, prints items/s, peak memory, each ratio with its spread,
the ideal ratio from token counts alone, our utilization, the start-up times of
the command line, and the targets with whether each holds.

``--device cuda --dtype bfloat16`` scores a 7B-size random-weight Qwen2-Audio
built from its configuration on the GPU (no download) and reports items/s, model
FLOP utilization against the GPU's measured matmul, and peak memory.

Where vLLM is installed, one more case times the vLLM backend (``--backend vllm``
of a run, `s2sbench_hf.scoring.vllm_backend`) against ours on the same weights.
``--device cuda --backend vllm`` times it on the 7B-size Qwen2-Audio after ours,
its weights random too (vLLM's ``load_format="dummy"``, so its scores are not
compared with ours).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from s2sbench_hf import protocol
from s2sbench_hf.data.sources import load_task
from s2sbench_hf.scoring.adapters.base import whisper_frames_needed
from s2sbench_hf.scoring.engine import make_request, plan_batches, score_items
from s2sbench_hf.scoring.registry import adapter_class, load_scorer
from s2sbench_hf.testing import (
    full_forward_nll,
    make_tiny_model,
    qwen2_audio_7b,
    relative_deviation,
)

SCORE_TOLERANCE = 2e-5
"""Largest relative difference of any score between two methods (fp32)."""
SPREAD_TARGET = 0.15


@dataclass(frozen=True)
class Target:
    case: str
    method: str
    baseline: str
    at_least: float


TARGETS = (
    Target("scmmlu 4-way, audio", "ours", "reference", 8.0),
    Target("sstorycloze 2-way, audio", "ours", "reference", 3.0),
    Target("scmmlu 4-way, text", "ours", "lm-eval", 1.7),
    Target("scmmlu 4-way, text, 1024 wide, 8 layers", "ours", "lm-eval", 1.7),
)


class PeakRSS:
    """Peak resident memory above the level at start, sampled every 5 ms from /proc.

    Memory that an earlier method freed is reused by the allocator without growing
    the process, so for every method but the first this is a lower bound; the
    bound that matters, no batch above the token budget, is checked by the tests.
    """

    def __enter__(self) -> PeakRSS:
        self.base = self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _watch(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self._rss())

    @property
    def mib(self) -> float:
        return (self.peak - self.base) / 2**20


# -- timing ----------------------------------------------------------------------------------


@dataclass
class Timing:
    """Per-run seconds of each method, one value per round (rounds are paired across methods)."""

    seconds: dict[str, list[float]] = field(default_factory=dict)

    def ratio(self, slow: str, fast: str) -> tuple[float, float]:
        """Median over rounds of ``slow / fast`` and its spread (interquartile range / median)."""
        ratios = sorted(a / b for a, b in zip(self.seconds[slow], self.seconds[fast], strict=True))
        return median_and_spread(ratios)

    def median(self, method: str) -> float:
        return statistics.median(self.seconds[method])


def median_and_spread(values: list[float]) -> tuple[float, float]:
    """The median of ``values`` and their interquartile range relative to it (0 for fewer than 2 values)."""
    middle = statistics.median(values)
    if len(values) < 2:
        return middle, 0.0
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return middle, (q3 - q1) / middle


def alternate(
    methods: dict[str, Sequence[Callable[[], object]]],
    *,
    min_sample: float,
    min_seconds: float,
    min_rounds: int,
    sync: Callable[[], None],
    first: dict[str, float] | None = None,
) -> Timing:
    """Time ``methods`` in turn, round after round, until each ran ``min_seconds`` and ``min_rounds`` rounds.

    Each method is a list of chunks (the same items cut the same way for every
    method); a round runs chunk 1 of every method, then chunk 2 of every method
    ..., so the runs compared lie seconds apart, whatever the machine's load
    does over minutes. A sample repeats a chunk until it has run ``min_sample``
    seconds (the number of repeats is set once per method, from a first untimed
    run of all its chunks, or from ``first``: the seconds of one such run), so
    that a fast method is not timed over a few milliseconds. A round's time of a
    method is the sum over its chunks of the sample over its repeats.
    """
    first = dict(first or {})
    for name, chunks in methods.items():  # calibrate: one run of each method not run yet
        if name not in first:
            start = time.perf_counter()
            for run in chunks:
                run()
            sync()
            first[name] = time.perf_counter() - start
    repeats = {
        name: max(1, int(np.ceil(min_sample * len(chunks) / max(first[name], 1e-6))))
        for name, chunks in methods.items()
    }
    sizes = {len(chunks) for chunks in methods.values()}
    if len(sizes) != 1:
        raise ValueError("every method must run the same chunks")
    n_chunks = sizes.pop()
    timing = Timing({name: [] for name in methods})
    while True:
        spent = dict.fromkeys(methods, 0.0)
        for c in range(n_chunks):
            for name, chunks in methods.items():
                start = time.perf_counter()
                for _ in range(repeats[name]):
                    chunks[c]()
                sync()
                spent[name] += (time.perf_counter() - start) / repeats[name]
        for name, seconds in spent.items():
            timing.seconds[name].append(seconds)
        rounds = len(timing.seconds[next(iter(methods))])
        total = min(sum(v) * repeats[n] for n, v in timing.seconds.items())
        if rounds >= min_rounds and total >= min_seconds:
            return timing


def matmul(device: str, dtype: torch.dtype) -> tuple[Callable[[], None], float]:
    """A dense matrix multiply and its FLOPs: the physical reference of useful FLOP/s on this device."""
    n = 8192 if device.startswith("cuda") else 2048
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    return (lambda: a @ b), 2.0 * n**3


def _sync(device: str) -> Callable[[], None]:
    return torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)


# -- what is counted -------------------------------------------------------------------------


def encoder_positions(scorer, task, items, batch_size: int | None, trimmed: bool) -> int:
    """Audio-encoder positions one pass of ours runs: per batch, its windows x the longest one's positions."""
    batches, _ = plan_batches(scorer, task, items, "audio", batch_size=batch_size)
    window = round(scorer.audio_window_seconds * 100)  # mel frames of a whole window
    total = 0
    for batch in batches:
        frames = [f for p in batch for f in scorer.window_frames(p.request.audio_seconds)]
        longest = whisper_frames_needed(max(frames), window) if trimmed else window
        total += len(frames) * ((longest - 1) // 2 + 1)
    return total


def token_counts(scorer, requests) -> dict[str, int]:
    """Positions each algorithm runs: the reference every continuation with its whole prompt, ours each
    prompt once plus every continuation; ``scored``: continuation tokens (where ours runs the LM head)."""
    counts = {"reference_lm": 0, "ours_lm": 0, "scored": 0, "reference_windows": 0}
    for request in requests:
        prompt, conts = scorer.token_lengths(request)
        counts["reference_lm"] += sum(prompt + c for c in conts)
        counts["ours_lm"] += prompt + sum(conts)
        counts["scored"] += sum(conts)
        if request.setting == "audio":
            counts["reference_windows"] += len(conts) * scorer.audio_windows(request.audio_seconds)
    return counts


@dataclass(frozen=True)
class Params:
    """Parameters a position passes through, embedding tables excluded."""

    body: int
    """The language model's layers: every position."""
    head: int
    """The LM head: every scored position."""
    encoder: int
    """The audio encoder: every encoder position."""


def param_counts(model) -> Params:
    inner = getattr(model, "model", model)
    lm = getattr(inner, "language_model", None) or inner
    encoder = getattr(inner, "audio_tower", None)

    def count(module) -> int:
        return 0 if module is None else sum(p.numel() for n, p in module.named_parameters() if "embed" not in n)

    return Params(count(lm), count(model.get_output_embeddings()), count(encoder))


def useful_flops(params: Params, lm_positions: int, scored: int, encoder_positions: int) -> float:
    """FLOPs a scoring pass cannot avoid: 2 per parameter per position it must pass (multiply and add),
    attention not counted; the LM head only where a token is scored."""
    return 2.0 * (params.body * lm_positions + params.head * scored + params.encoder * encoder_positions)


def utilization(flops: float, seconds: float, peak_flops_per_second: float) -> float:
    """Useful FLOP/s as a share of the peak (the measured matmul): model FLOP utilization."""
    return flops / seconds / peak_flops_per_second


# -- the methods -----------------------------------------------------------------------------


def reference_algorithm(scorer, requests) -> np.ndarray:
    """One full forward per continuation, batch size 1, the whole prompt (and audio window) recomputed."""
    return np.array([[full_forward_nll(scorer, r, j) for j in range(len(r.continuations))] for r in requests])


def lm_eval_method(lm, requests):
    """lm-evaluation-harness ``HFLM.loglikelihood`` over every (context, continuation) pair of ``requests``."""
    from lm_eval.api.instance import Instance

    pairs = [(r.context, c) for r in requests for c in r.continuations]
    k = len(requests[0].continuations)

    def run() -> np.ndarray:
        instances = [Instance("loglikelihood", {}, pair, i) for i, pair in enumerate(pairs)]
        lls = lm.loglikelihood(instances, disable_tqdm=True)
        return np.array([-ll for ll, _ in lls]).reshape(len(requests), k)

    return run


def load_lm_eval(model_path: Path, batch_size: int, device: str, dtype: str):
    """lm-evaluation-harness's ``HFLM`` on the case's model (loaded once per case)."""
    from lm_eval.models.huggingface import HFLM

    return HFLM(pretrained=str(model_path), device=device, batch_size=batch_size, dtype=dtype)


def ours_method(scorer, task, items, setting: str, batch_size: int | None, **switches):
    """`score_items` as a run uses it; ``switches`` set scorer attributes for the run (the ablations)."""
    index = {it.id: i for i, it in enumerate(items)}

    def run() -> np.ndarray:
        saved = {name: getattr(scorer, name) for name in switches}
        for name, value in switches.items():
            setattr(scorer, name, value)
        try:
            records, errors = score_items(scorer, task, items, [setting], batch_size=batch_size, progress=False)
        finally:
            for name, value in saved.items():
                setattr(scorer, name, value)
        assert not errors, errors
        out = np.zeros((len(items), task.num_choices))
        for r in records:
            out[index[r.item_id], r.choice] = r.nll_sum
        return out

    return run


@dataclass
class Case:
    name: str
    scorer: object
    model_path: Path | None
    task_id: str
    setting: str
    methods: tuple[str, ...]
    chunked: bool = True
    """Audio cases: methods alternate chunk by chunk (``--audio-chunk`` items); False: whole passes (for
    batch sizes larger than a chunk)."""
    vllm: object | None = None
    """The ``vllm`` method's scorer: the same model on the vLLM backend."""


def run_case(case: Case, args, results: dict) -> list[str]:
    loaded = load_task(case.task_id, limit=args.limit)
    task, items = loaded.task, loaded.items
    scorer = case.scorer
    requests = [make_request(task, it, case.setting, task.framing, scorer.sampling_rate) for it in items]
    batch_size = args.batch_size
    lm = (
        load_lm_eval(case.model_path, args.lm_eval_batch_size, args.device, args.dtype)
        if "lm-eval" in case.methods
        else None
    )
    builders = {
        "reference": lambda its, reqs: lambda: reference_algorithm(scorer, reqs),
        "lm-eval": lambda its, reqs: lm_eval_method(lm, reqs),
        "ours": lambda its, reqs: ours_method(scorer, task, its, case.setting, batch_size),
        "vllm": lambda its, reqs: ours_method(case.vllm, task, its, case.setting, None),
        "ours, whole window": lambda its, reqs: ours_method(
            scorer, task, its, case.setting, batch_size, trim_encoder=False
        ),
        "ours, all prompt logits": lambda its, reqs: ours_method(
            scorer, task, its, case.setting, batch_size, last_logits_only=False
        ),
    }
    # Chunks of items of similar prompt lengths (as the engine's plan orders them), the same for every method.
    order = sorted(range(len(items)), key=lambda i: scorer.token_lengths(requests[i])[0], reverse=True)
    size = args.audio_chunk if case.setting == "audio" and case.chunked else len(items)
    chunks = [order[start : start + size] for start in range(0, len(order), size)]
    for name in case.methods:  # "ours, batch N": ours at a given batch size (the automatic default's evidence)
        if name.startswith("ours, batch "):
            size_n = int(name.removeprefix("ours, batch "))
            builders[name] = lambda its, reqs, n=size_n: ours_method(scorer, task, its, case.setting, n)
    methods = {
        name: [builders[name]([items[i] for i in chunk], [requests[i] for i in chunk]) for chunk in chunks]
        for name in case.methods
    }
    scores, peaks, first = {}, {}, {}
    for name, runs in methods.items():  # a first run, not in the ratios: scores, peak memory, calibration
        if args.device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        scores[name] = np.zeros((len(items), task.num_choices))
        start = time.perf_counter()
        with PeakRSS() as peak:
            for chunk, run in zip(chunks, runs, strict=True):
                scores[name][chunk] = run()
        first[name] = time.perf_counter() - start
        peaks[name] = torch.cuda.max_memory_allocated() / 2**20 if args.device.startswith("cuda") else peak.mib
    product, product_flops = matmul(args.device, getattr(torch, args.dtype))
    timing = alternate(
        {**methods, "matmul": [product] * len(chunks)},
        min_sample=args.min_sample,
        min_seconds=args.min_seconds,
        min_rounds=args.min_rounds,
        sync=_sync(args.device),
        first=first,
    )

    labels = np.array([it.label for it in items])
    tie = protocol.tie_credit("reference", task.reference_tie_credit)
    ours = scores["ours"]
    ours_acc = protocol.pairwise_accuracy(ours, labels, tie)
    counts = token_counts(scorer, requests)
    enc = encoder_positions(scorer, task, items, batch_size, True) if case.setting == "audio" else 0
    flops = useful_flops(param_counts(scorer.model), counts["ours_lm"], counts["scored"], enc)
    reference_encoder = counts["reference_windows"] * 1500
    ideal = (counts["reference_lm"] + reference_encoder) / (counts["ours_lm"] + enc)
    lines = []
    for name in methods:
        deviation = relative_deviation(scores[name].ravel().tolist(), ours.ravel().tolist())
        acc = protocol.pairwise_accuracy(scores[name], labels, tie)  # sum rule
        assert deviation < SCORE_TOLERANCE, f"{case.name}: {name} differs from ours by {deviation:.1e} (relative)"
        assert acc == ours_acc, f"{case.name}: {name} accuracy {acc} != ours {ours_acc}"
        ratio, spread = timing.ratio(name, "ours") if name != "ours" else (1.0, 0.0)
        results[(case.name, name, "ours")] = (ratio, spread)
        lines.append(
            f"| {case.name} | {name} | {len(items) / timing.median(name):7.2f} | {peaks[name]:7.1f} | "
            f"{ratio:6.2f}x ± {100 * spread:4.1f}% | {len(timing.seconds[name])} | {deviation:.1e} | {100 * acc:5.1f} |"
        )
    lines.append(f"| {case.name} | ideal (token counts) | | | {ideal:6.2f}x | | | |")
    peak_rate = [len(chunks) * product_flops / s for s in timing.seconds["matmul"]]
    shares = sorted(utilization(flops, s, p) for s, p in zip(timing.seconds["ours"], peak_rate, strict=True))
    share, share_spread = median_and_spread(shares)
    results[(case.name, "utilization")] = share
    lines.append(
        f"| {case.name} | ours: useful FLOP/s | | | {100 * share:5.1f}% ± {100 * share_spread:4.1f}% of matmul "
        f"({statistics.median(peak_rate) / 1e9:.0f} GFLOP/s) | | | |"
    )
    return lines


# -- start-up --------------------------------------------------------------------------------


def startup_times(repeats: int = 5) -> dict[str, float]:
    """Median wall seconds of ``s2sbench --help`` and of importing the light modules, each in a new process."""
    commands = {
        "s2sbench --help": [sys.executable, "-m", "s2sbench_hf", "--help"],
        "import s2sbench_hf.metrics": [sys.executable, "-c", "import s2sbench_hf.metrics"],
        "import s2sbench_hf.runner": [sys.executable, "-c", "import s2sbench_hf.runner"],
    }
    times = {}
    for name, command in commands.items():
        samples = []
        for _ in range(repeats):
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            samples.append(time.perf_counter() - start)
        times[name] = statistics.median(samples)
    return times


# -- the GPU path: a 7B-size model -------------------------------------------------------------


def gpu_7b(args) -> None:
    """Items/s, model FLOP utilization and peak memory of a random-weight 7B-size Qwen2-Audio on the GPU: ours,
    then (``--backend vllm``) the vLLM backend on a model of the same configuration."""
    from s2sbench_hf.scoring.adapters.qwen2_audio import Qwen2AudioScorer

    model, processor = qwen2_audio_7b(args.device, getattr(torch, args.dtype))
    params = param_counts(model)
    print(
        f"device={args.device} ({torch.cuda.get_device_name()})  dtype={args.dtype}  parameters: language "
        f"model {params.body / 1e9:.2f}B, head {params.head / 1e9:.2f}B, audio encoder {params.encoder / 1e9:.2f}B"
    )
    print(
        "| backend | case | items/s | model FLOP utilization (of measured matmul) | matmul TFLOP/s | "
        "peak GPU memory GiB |"
    )
    print("|---|---|---|---|---|---|")
    time_7b(args, Qwen2AudioScorer("random-qwen2-audio-7b", model=model, processor=processor), params, "hf")
    if args.backend == "vllm":
        temp = tempfile.TemporaryDirectory(prefix="s2sbench-bench-7b-")  # removed when the script exits
        folder = Path(temp.name)
        config: Any = model.config
        config.architectures = [type(model).__name__]
        config.save_pretrained(folder)  # the configuration and processor only: vLLM draws the weights
        processor.save_pretrained(folder)
        del model  # vLLM's engine takes most of the GPU's memory: ours gives its model back first
        torch.cuda.empty_cache()
        time_7b(args, vllm_7b(folder, args), params, "vllm")


def vllm_7b(folder: Path, args):
    """The vLLM backend on the model configured in ``folder``, its weights random (``load_format="dummy"``)."""
    from s2sbench_hf.scoring.vllm_backend import VLLMScorer, engine_args, vllm_module

    options = engine_args(str(folder), device_type="cuda", dtype=args.dtype, audio_per_prompt=1)
    print(f"vLLM {vllm_module().__version__}: LLM({options}, load_format='dummy')", flush=True)
    engine = vllm_module().LLM(**options, load_format="dummy")
    return VLLMScorer(str(folder), adapter_class("qwen2-audio"), device="cuda", dtype=args.dtype, engine=engine)


def time_7b(args, scorer, params: Params, backend: str) -> None:
    """One table row per task and setting for ``scorer`` (vLLM's memory is in its own process: not shown)."""
    product, product_flops = matmul(args.device, getattr(torch, args.dtype))
    prompts = getattr(scorer, "prompts", scorer)  # the vLLM backend's token counts are its adapter's
    for task_id in ("scmmlu", "sstorycloze"):
        for setting in ("audio", "text"):
            loaded = load_task(task_id, limit=args.limit)
            task, items = loaded.task, loaded.items
            requests = [make_request(task, it, setting, task.framing, 16000) for it in items]
            run = ours_method(scorer, task, items, setting, args.batch_size)
            torch.cuda.reset_peak_memory_stats()
            timing = alternate(
                {"ours": [run], "matmul": [product]},
                min_sample=args.min_sample,
                min_seconds=args.min_seconds,
                min_rounds=args.min_rounds,
                sync=torch.cuda.synchronize,
            )
            enc = encoder_positions(prompts, task, items, args.batch_size, True) if setting == "audio" else 0
            counts = token_counts(prompts, requests)
            flops = useful_flops(params, counts["ours_lm"], counts["scored"], enc)
            peak = statistics.median(product_flops / s for s in timing.seconds["matmul"])
            share = utilization(flops, timing.median("ours"), peak)
            memory = "-" if backend == "vllm" else f"{torch.cuda.max_memory_allocated() / 2**30:.1f}"
            print(
                f"| {backend} | {task_id} {task.num_choices}-way, {setting} | "
                f"{len(items) / timing.median('ours'):.1f} | {100 * share:.1f}% | {peak / 1e12:.0f} | {memory} |",
                flush=True,
            )


# -- main ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hidden", type=int, default=512, help="the audio model's and the small text model's width")
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--vocab", type=int, default=32000, help="vocabulary of every model (a real model's LM head)")
    parser.add_argument("--limit", type=int, default=24, help="items per task")
    parser.add_argument("--batch-size", type=int, default=None, help="ours (default: automatic, as a run)")
    parser.add_argument("--lm-eval-batch-size", type=int, default=16)
    parser.add_argument("--min-sample", type=float, default=0.5, help="seconds a timed sample runs at least")
    parser.add_argument("--min-seconds", type=float, default=2.0, help="seconds each method runs at least in all")
    parser.add_argument("--min-rounds", type=int, default=3, help="paired rounds at least")
    parser.add_argument(
        "--audio-chunk",
        type=int,
        default=8,
        help="items per chunk in the audio cases (methods alternate chunk by chunk)",
    )
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--cases", nargs="+", help="run only the cases whose name contains one of these")
    parser.add_argument(
        "--backend",
        default="hf",
        choices=["hf", "vllm"],
        help="with --device cuda: vllm times the vLLM backend too (on a CPU its case runs wherever vLLM is installed)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.device.startswith("cuda"):
        gpu_7b(args)
        return

    load = os.getloadavg()
    print(
        f"device=cpu  dtype={args.dtype}  threads={args.threads}  cores={os.cpu_count()}  "
        f"load average={load[0]:.1f} {load[1]:.1f} {load[2]:.1f}  items/task={args.limit}  "
        f"batch size={args.batch_size or 'auto'}  at least {args.min_seconds:g} s and {args.min_rounds} paired "
        f"rounds per method, samples of {args.min_sample:g} s"
    )
    startup = startup_times()
    print("start-up (median of 5, a new process each): " + ", ".join(f"{k} {v:.2f} s" for k, v in startup.items()))

    temp = tempfile.TemporaryDirectory(prefix="s2sbench-bench-")  # removed when the script exits
    workdir = Path(temp.name)
    llama = make_tiny_model(
        "causal-lm", workdir / "llama", hidden=args.hidden, layers=args.layers, vocab_size=args.vocab
    )
    big = make_tiny_model("causal-lm", workdir / "llama-1024", hidden=1024, layers=8, vocab_size=args.vocab)
    qwen = make_tiny_model(
        "qwen2-audio",
        workdir / "qwen2-audio",
        hidden=args.hidden,
        layers=args.layers,
        encoder_dim=args.hidden,
        vocab_size=args.vocab,
    )
    text, text_big, audio = (load_scorer(str(p), device="cpu", dtype=args.dtype) for p in (llama, big, qwen))
    with_ablations = ("reference", "ours", "ours, whole window", "ours, all prompt logits")
    cases = [
        Case("scmmlu 4-way, audio", audio, qwen, "scmmlu", "audio", with_ablations),
        Case(
            "sstorycloze 2-way, audio", audio, qwen, "sstorycloze", "audio", ("reference", "ours", "ours, whole window")
        ),
        Case("scmmlu 4-way, text", text, llama, "scmmlu", "text", ("reference", "lm-eval", "ours")),
        Case("sstorycloze 2-way, text", text, llama, "sstorycloze", "text", ("reference", "lm-eval", "ours")),
        Case(
            "scmmlu 4-way, text, 1024 wide, 8 layers",
            text_big,
            big,
            "scmmlu",
            "text",
            ("lm-eval", "ours", "ours, all prompt logits"),
        ),
        Case(
            "batch sizes: scmmlu 4-way, audio",
            audio,
            qwen,
            "scmmlu",
            "audio",
            ("ours, batch 1", "ours", "ours, batch 16"),
            chunked=False,
        ),
        Case(
            "batch sizes: scmmlu 4-way, text",
            text,
            llama,
            "scmmlu",
            "text",
            ("ours, batch 1", "ours, batch 8", "ours", "ours, batch 32"),
        ),
    ]
    vllm_case = "vllm backend: scmmlu 4-way, text"
    if importlib.util.find_spec("vllm") is not None and (not args.cases or any(c in vllm_case for c in args.cases)):
        on_vllm = load_scorer(str(llama), backend="vllm", device="cpu", dtype=args.dtype)  # starts vLLM's engine
        cases.append(Case(vllm_case, text, llama, "scmmlu", "text", ("ours", "vllm"), vllm=on_vllm))
    print(
        "| case | method | items/s | peak RSS growth MiB | time / ours (median of paired rounds ± IQR) | rounds | "
        "max relative dnll vs ours | pairwise acc % (sum rule) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    results: dict = {}
    for case in cases:
        if args.cases and not any(c in case.name for c in args.cases):
            continue
        for line in run_case(case, args, results):
            print(line, flush=True)

    print("\nTargets (the issue's): ")
    for t in TARGETS:
        if (t.case, t.baseline, t.method) not in results:
            continue
        ratio, spread = results[(t.case, t.baseline, t.method)]
        holds = ratio >= t.at_least and spread < SPREAD_TARGET
        print(
            f"  {t.case}: {t.method} {ratio:.2f}x {t.baseline} (target >= {t.at_least:g}x), spread "
            f"{100 * spread:.1f}% (target < {100 * SPREAD_TARGET:.0f}%): {'holds' if holds else 'DOES NOT HOLD'}"
        )
    for (name, *rest), value in results.items():
        if rest == ["utilization"]:
            print(
                f"  {name}: useful FLOP/s {100 * value:.1f}% of matmul (must be < 100%): "
                f"{'holds' if value < 1 else 'DOES NOT HOLD'}"
            )
    print(f"  every method's scores within {SCORE_TOLERANCE:g} (relative) of ours, accuracies identical: holds")
    help_time = startup["s2sbench --help"]
    print(f"  s2sbench --help {help_time:.2f} s (target < 0.5 s): {'holds' if help_time < 0.5 else 'DOES NOT HOLD'}")
    print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
