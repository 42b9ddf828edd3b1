"""Speed and memory of our scoring against the reference algorithm and lm-evaluation-harness.

Run with ``make bench`` (or ``python benchmarks/bench.py --help``). In one process,
on the same random-weight models and the same sample items, it times:

* ``reference``: what the reference release does: every continuation scored by
  its own full forward pass at batch size 1, the context (and its audio: the
  processor and the audio encoder) recomputed each time;
* ``lm-eval``: lm-evaluation-harness ``HFLM.loglikelihood`` (text setting only);
* ``ours``: `s2sbench_hf.scoring.engine.score_items` (context once, KV cache
  shared by the k continuations, length-sorted token-budget batches).

It checks that all methods give the same per-continuation scores (1e-4) and
accuracies, and prints items/s, tokens/s, peak memory, the speed-up of ours,
the ideal speed-up from token counts alone, and our utilization: useful FLOPs
per second (2 x parameters x tokens, each context counted once) against a dense
matrix multiply timed in the same run.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from s2sbench_hf import protocol
from s2sbench_hf.data.sources import load_task
from s2sbench_hf.scoring.registry import load_scorer
from s2sbench_hf.scoring.engine import make_request, score_items
from s2sbench_hf.testing import full_forward_nll, make_tiny_causal_lm, make_tiny_qwen2_audio


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


@dataclass
class Measure:
    method: str
    seconds: float
    peak_mib: float
    nll: np.ndarray  # (n_items, k), nll_sum per continuation


def reference_algorithm(scorer, requests) -> np.ndarray:
    """One full forward per continuation, batch size 1, the whole prompt (and audio) recomputed."""
    return np.array([[full_forward_nll(scorer, r, j) for j in range(len(r.continuations))] for r in requests])


def lm_eval_method(model_path: Path, requests, batch_size: int, device: str, dtype: str):
    """lm-evaluation-harness ``HFLM.loglikelihood`` over every (context, continuation) pair (model loaded once)."""
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    lm = HFLM(pretrained=str(model_path), device=device, batch_size=batch_size, dtype=dtype)
    pairs = [(r.context, c) for r in requests for c in r.continuations]
    k = len(requests[0].continuations)

    def run() -> np.ndarray:
        instances = [Instance("loglikelihood", {}, pair, i) for i, pair in enumerate(pairs)]
        lls = lm.loglikelihood(instances, disable_tqdm=True)
        return np.array([-ll for ll, _ in lls]).reshape(len(requests), k)

    return run


def matmul_flops(device: str, dtype: torch.dtype, n: int = 2048, repeats: int = 5) -> float:
    """Dense matrix multiply FLOP/s on this device in this dtype (the physical reference)."""
    n = 8192 if device.startswith("cuda") else n
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    a @ b
    _sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    _sync(device)
    return 2 * n**3 * repeats / (time.perf_counter() - start)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def token_counts(scorer, requests, encoder_positions: int) -> dict[str, int]:
    """Positions each algorithm runs through the model (audio-encoder positions counted separately).

    ``reference``: every continuation with its whole prompt (and clip); ``ours``:
    each prompt and clip once, plus every continuation.
    """
    counts = {"reference_lm": 0, "reference_encoder": 0, "ours_lm": 0, "ours_encoder": 0}
    for request in requests:
        prompt, conts = scorer.token_lengths(request)
        enc = encoder_positions if request.setting == "audio" else 0
        counts["reference_lm"] += sum(prompt + c for c in conts)
        counts["reference_encoder"] += enc * len(conts)
        counts["ours_lm"] += prompt + sum(conts)
        counts["ours_encoder"] += enc
    return counts


def param_counts(model) -> tuple[int, int]:
    """(language-model parameters, audio-encoder parameters), embeddings excluded: what a position passes through."""
    inner = getattr(model, "model", model)
    lm = getattr(inner, "language_model", None) or getattr(model, "language_model", None)
    encoder = getattr(inner, "audio_tower", None) or getattr(model, "audio_tower", None)

    def count(module) -> int:
        return 0 if module is None else sum(p.numel() for n, p in module.named_parameters() if "embed" not in n)

    return (count(lm) if lm is not None else count(model)), count(encoder)


def timed(run, repeats: int) -> tuple[float, float, np.ndarray]:
    """Best wall time over ``repeats`` runs, the peak memory of the first, and the scores."""
    best, peak_mib, out = float("inf"), 0.0, None
    for i in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        with PeakRSS() as peak:
            out = run()
        best = min(best, time.perf_counter() - start)
        if i == 0:
            peak_mib = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else peak.mib
    return best, peak_mib, out


def run_case(name, scorer, model_path, task, items, setting, args, peak_flops) -> list[str]:
    requests = [make_request(task, it, setting, task.framing, scorer.sampling_rate) for it in items]
    labels = np.array([it.label for it in items])
    batch_size = args.audio_batch_size if setting == "audio" else args.text_batch_size
    index = {it.id: i for i, it in enumerate(items)}

    def ours() -> np.ndarray:
        records, errors = score_items(scorer, task, items, [setting], batch_size=batch_size,
                                      max_batch_tokens=args.max_batch_tokens, progress=False)
        assert not errors, errors
        out = np.zeros((len(items), task.num_choices))
        for r in records:
            out[index[r.item_id], r.choice] = r.nll_sum
        return out

    methods = {"reference": lambda: reference_algorithm(scorer, requests)}
    if setting == "text":
        methods["lm-eval"] = lm_eval_method(model_path, requests, args.lm_eval_batch_size, args.device, args.dtype)
    methods["ours"] = ours
    measures = [Measure(method, *timed(run, args.repeats)) for method, run in methods.items()]

    counts = token_counts(scorer, requests, args.encoder_positions)
    lm_params, encoder_params = param_counts(scorer.model)
    useful_tokens = counts["ours_lm"]
    useful_flops = 2 * (lm_params * counts["ours_lm"] + encoder_params * counts["ours_encoder"])
    ideal = (counts["reference_lm"] + counts["reference_encoder"]) / (counts["ours_lm"] + counts["ours_encoder"])
    tie = protocol.tie_credit("reference", task.reference_tie_credit)
    base = measures[-1]
    lines = []
    for m in measures:
        agree = np.abs(m.nll - base.nll).max()
        acc = protocol.pairwise_accuracy(m.nll, labels, tie)  # sum rule: identical nll -> identical accuracy
        assert agree < args.tolerance, f"{name}: {m.method} differs from ours by {agree}"
        lines.append(
            f"| {name} | {m.method} | {len(items) / m.seconds:7.2f} | {useful_tokens / m.seconds:9.0f} | "
            f"{m.peak_mib:7.1f} | {m.seconds / base.seconds:5.2f}x | {agree:.1e} | {100 * acc:5.1f} |"
        )
    measured = measures[0].seconds / base.seconds
    lines.append(f"| {name} | ideal (token counts) | | | | {ideal:5.2f}x | ours reaches {100 * measured / ideal:.0f}% | |")
    utilization = useful_flops / base.seconds / peak_flops
    lines.append(f"| {name} | ours: useful FLOP/s | | | | {100 * utilization:5.1f}% of matmul | | |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--limit", type=int, default=24, help="items per task")
    parser.add_argument("--text-batch-size", type=int, default=16)
    parser.add_argument("--audio-batch-size", type=int, default=1,
                        help="on a CPU, batch 1 is fastest: the 30 s encoder windows are memory-bound")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs per method; the best counts")
    parser.add_argument("--max-batch-tokens", type=int, default=8192)
    parser.add_argument("--lm-eval-batch-size", type=int, default=16)
    parser.add_argument("--encoder-positions", type=int, default=1500, help="audio encoder positions per clip (30 s)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--tolerance", type=float, default=None,
                        help="largest allowed score difference between methods (default: 1e-4 fp32, 0.1 bf16)")
    parser.add_argument("--cases", nargs="+", choices=["scmmlu-audio", "sstorycloze-audio", "scmmlu-text",
                        "sstorycloze-text"], help="run only these cases (default: all)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    workdir = Path(tempfile.mkdtemp(prefix="s2sbench-bench-"))
    llama = make_tiny_causal_lm(workdir / "llama", hidden=args.hidden, layers=args.layers)
    qwen = make_tiny_qwen2_audio(workdir / "qwen2-audio", hidden=args.hidden, layers=args.layers,
                                 encoder_dim=args.hidden)
    args.tolerance = args.tolerance or (1e-4 if args.dtype == "float32" else 0.1)
    text_scorer = load_scorer(str(llama), device=args.device, dtype=args.dtype)
    audio_scorer = load_scorer(str(qwen), device=args.device, dtype=args.dtype)
    peak_flops = matmul_flops(args.device, getattr(torch, args.dtype))

    print(f"device={args.device} ({torch.cuda.get_device_name() if args.device.startswith('cuda') else 'CPU'})  "
          f"dtype={args.dtype}  threads={args.threads}  hidden={args.hidden}  layers={args.layers}  items/task={args.limit}  "
          f"batch-size text={args.text_batch_size} audio={args.audio_batch_size}  max-batch-tokens={args.max_batch_tokens}  "
          f"matmul={peak_flops / 1e9:.1f} GFLOP/s")
    print("| case | method | items/s | tokens/s | peak MiB (GPU) / RSS growth (CPU) | time / ours | max |dnll| | pairwise acc % (sum rule) |")
    print("|---|---|---|---|---|---|---|---|")
    cases = [
        ("scmmlu 4-way, audio", audio_scorer, qwen, "scmmlu", "audio"),
        ("sstorycloze 2-way, audio", audio_scorer, qwen, "sstorycloze", "audio"),
        ("scmmlu 4-way, text", text_scorer, llama, "scmmlu", "text"),
        ("sstorycloze 2-way, text", text_scorer, llama, "sstorycloze", "text"),
    ]
    for name, scorer, path, task_id, setting in cases:
        if args.cases and f"{task_id}-{setting}" not in args.cases:
            continue
        loaded = load_task(task_id, limit=args.limit)
        for line in run_case(name, scorer, path, loaded.task, loaded.items, setting, args, peak_flops):
            print(line, flush=True)


if __name__ == "__main__":
    main()
