"""Token-budget batching, resume after a kill, and several processes: same numbers, no lost or repeated work."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
from launchers import RUN, RUN_RECORDS, cache_lines, cli, run_one_process, subprocess_env

from s2sbench_hf import results
from s2sbench_hf.data.sources import load_task
from s2sbench_hf.scoring.engine import batch_tokens, make_request, plan_batches, score_items
from s2sbench_hf.scoring.registry import load_scorer
from s2sbench_hf.testing import REL_TOL, relative_deviation


@pytest.fixture(scope="module")
def uninterrupted(qwen2_audio_path, tmp_path_factory):
    return run_one_process(qwen2_audio_path, tmp_path_factory.mktemp("uninterrupted"))


@pytest.mark.parametrize("budget", [300, 900])
def test_no_batch_exceeds_the_token_budget(qwen2_audio_path, budget):
    scorer = load_scorer(str(qwen2_audio_path), device="cpu")
    loaded = load_task("scmmlu", limit=12)
    sizes = []
    real_score = scorer.score

    def spy(requests):
        out = real_score(requests)
        sizes.append((len(requests), scorer.last_batch_tokens))
        return out

    scorer.score = spy
    for setting in ("text", "audio"):
        batches, _ = plan_batches(scorer, loaded.task, loaded.items, setting, batch_size=64, max_batch_tokens=budget)
        assert all(batch_tokens(b) <= budget or len(b) == 1 for b in batches)
    records, errors = score_items(
        scorer, loaded.task, loaded.items, ["text", "audio"], batch_size=64, max_batch_tokens=budget, progress=False
    )
    assert not errors and len(records) == 12 * 2 * 4
    # The planned sizes are exact: the tensors the model really saw stay within the budget.
    assert all(tokens <= budget for n, tokens in sizes if n > 1)
    assert any(n > 1 for n, _ in sizes), "the budget should still allow some batching"
    # A budget changes the batches, not the numbers.
    unbudgeted, _ = score_items(scorer, loaded.task, loaded.items, ["text", "audio"], batch_size=1, progress=False)
    assert relative_deviation([r.nll_sum for r in records], [r.nll_sum for r in unbudgeted]) < REL_TOL


@pytest.mark.slow
def test_killed_run_resumes_without_recomputing(qwen2_audio_path, uninterrupted, tmp_path):
    out = tmp_path / "run"
    cmd = cli(*RUN, "--model", str(qwen2_audio_path), "--batch-size", "1", "--output", str(out))
    total = RUN_RECORDS
    proc = subprocess.Popen(cmd, env=subprocess_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and len(cache_lines(out)) < total // 3:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = len(cache_lines(out))
    assert 0 < done_before < total, "the kill should land part way through the run"
    assert not (out / "results.json").exists()

    subprocess.run(cmd, check=True, env=subprocess_env(), capture_output=True)
    lines = cache_lines(out)
    keys = [(r["item_id"], r["setting"], r["choice"]) for r in lines]
    assert len(keys) == len(set(keys)) == total, "every record computed exactly once over both runs"
    resumed = results.read_results(out)
    assert resumed["compute"]["records_from_cache"] == done_before
    assert resumed["compute"]["records_scored"] == total - done_before
    assert resumed["results"] == results.read_results(uninterrupted)["results"]
    assert (out / "samples_scmmlu.jsonl").read_text() == (uninterrupted / "samples_scmmlu.jsonl").read_text()


@pytest.mark.slow
def test_overwrite_starts_afresh(qwen2_audio_path, uninterrupted, tmp_path):
    out = tmp_path / "again"
    cmd = cli(*RUN, "--model", str(qwen2_audio_path), "--batch-size", "1", "--output", str(out))
    subprocess.run(cmd, check=True, env=subprocess_env(), capture_output=True)
    subprocess.run([*cmd, "--overwrite"], check=True, env=subprocess_env(), capture_output=True)
    assert results.read_results(out)["compute"]["records_from_cache"] == 0
    assert len(cache_lines(out)) == RUN_RECORDS


@pytest.mark.slow
def test_two_processes_give_the_results_of_one(qwen2_audio_path, uninterrupted, tmp_path):
    out = tmp_path / "two"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "-m",
        "s2sbench_hf",
        *RUN,
        "--model",
        str(qwen2_audio_path),
        "--batch-size",
        "1",
        "--output",
        str(out),
    ]
    subprocess.run(cmd, check=True, env=subprocess_env(), capture_output=True)
    two = results.read_results(out)
    assert two["compute"]["processes"] == 2
    assert two["results"] == results.read_results(uninterrupted)["results"]
    assert (out / "samples_scmmlu.jsonl").read_text() == (uninterrupted / "samples_scmmlu.jsonl").read_text()
    ranks = sorted(p.name for p in out.glob("cache/*/records-rank*.jsonl"))
    assert ranks == ["records-rank0.jsonl", "records-rank1.jsonl"], "both processes did part of the work"


def test_token_lengths_are_exact(qwen2_audio_path):
    """The planner's token counts equal the real prompt lengths, so the budget bounds real tensors."""
    scorer = load_scorer(str(qwen2_audio_path), device="cpu")
    loaded = load_task("sstorycloze", limit=3)

    for item in loaded.items:
        for setting in ("text", "audio"):
            request = make_request(loaded.task, item, setting, loaded.task.framing, 16000)
            prompt, conts = scorer.token_lengths(request)
            assert prompt == int(scorer.prefix_inputs([request])["attention_mask"].sum())
            assert conts == [len(c) for c in scorer.continuation_ids(request)]
