"""The benchmark's arithmetic and its 7B-size model builder (the GPU path itself needs a GPU: unmeasured here)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

from s2sbench_hf.testing import qwen2_audio_7b

_SPEC = importlib.util.spec_from_file_location("bench", Path(__file__).parents[1] / "benchmarks" / "bench.py")
bench = sys.modules.setdefault("bench", importlib.util.module_from_spec(_SPEC))
_SPEC.loader.exec_module(bench)  # benchmarks/ is not a package: loaded from its path


def test_methods_alternate_and_run_long_enough():
    calls: list[str] = []
    clock = {"t": 0.0}

    def method(name: str, seconds: float):
        def run():
            calls.append(name)
            clock["t"] += seconds

        return run

    real = bench.time.perf_counter
    bench.time.perf_counter = lambda: clock["t"]
    try:
        timing = bench.alternate(
            {"a": [method("a", 0.3)], "b": [method("b", 0.1)]},
            min_sample=0.25,
            min_seconds=2.0,
            min_rounds=3,
            sync=lambda: None,
        )
    finally:
        bench.time.perf_counter = real
    assert calls[:2] == ["a", "b"]  # calibration, then rounds of a once and b three times (samples of >= 0.25 s)
    rounds = calls[2:]
    assert rounds[:4] == ["a", "b", "b", "b"] and rounds == ["a", "b", "b", "b"] * (len(rounds) // 4)
    assert timing.seconds["a"] == pytest.approx([0.3] * 7) and timing.seconds["b"] == pytest.approx([0.1] * 7)
    assert sum(timing.seconds["b"]) * 3 >= 2.0  # b ran 2 s in all: 7 rounds
    assert timing.ratio("a", "b") == pytest.approx((3.0, 0.0))
    calls.clear()  # a method already run once (its seconds given) is not run again to calibrate
    bench.time.perf_counter = lambda: clock["t"]
    try:
        bench.alternate(
            {"a": [method("a", 0.3)]},
            min_sample=0.25,
            min_seconds=0.5,
            min_rounds=2,
            sync=lambda: None,
            first={"a": 0.3},
        )
    finally:
        bench.time.perf_counter = real
    assert calls == ["a", "a"]


def test_chunks_alternate_between_methods():
    """Chunk 1 of every method, then chunk 2 of every method: compared runs lie close in time."""
    calls: list[str] = []
    methods = {m: [lambda m=m, c=c: calls.append(f"{m}{c}") for c in range(2)] for m in ("a", "b")}
    timing = bench.alternate(methods, min_sample=0.0, min_seconds=0.0, min_rounds=2, sync=lambda: None)
    assert calls == ["a0", "a1", "b0", "b1"] + ["a0", "b0", "a1", "b1"] * 2
    assert len(timing.seconds["a"]) == 2
    with pytest.raises(ValueError, match="same chunks"):
        bench.alternate(
            {"a": methods["a"], "b": methods["b"][:1]}, min_sample=0, min_seconds=0, min_rounds=1, sync=lambda: None
        )


def test_median_and_spread():
    assert bench.median_and_spread([1.0, 2.0, 3.0, 4.0, 5.0]) == pytest.approx((3.0, (4.0 - 2.0) / 3.0))
    assert bench.median_and_spread([2.0]) == (2.0, 0.0)


def test_useful_flops_and_utilization():
    params = bench.Params(body=1_000, head=100, encoder=10)
    flops = bench.useful_flops(params, lm_positions=50, scored=7, encoder_positions=300)
    assert flops == 2 * (1_000 * 50 + 100 * 7 + 10 * 300)
    assert bench.utilization(flops, seconds=2.0, peak_flops_per_second=flops) == pytest.approx(0.5)


def test_the_7b_model_has_qwen2_audio_7b_shape_without_memory():
    """Built on the meta device: the shape and the dtype only, no weights (the GPU builds it for real)."""
    model, processor = qwen2_audio_7b("meta", torch.bfloat16)
    params = bench.param_counts(model)
    total = sum(p.numel() for p in model.parameters())
    assert 8.3e9 < total < 8.5e9  # Qwen2-Audio-7B: 8.4B parameters
    assert params.encoder == pytest.approx(0.64e9, rel=0.02) and params.head == 156032 * 4096
    assert params.body == pytest.approx(6.47e9, rel=0.01)
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16} and next(model.parameters()).is_meta
    assert model.config.audio_token_id == processor.tokenizer.convert_tokens_to_ids("<|AUDIO|>")
