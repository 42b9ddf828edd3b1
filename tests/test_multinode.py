"""Many nodes: two "machines" on 127.0.0.1, each its own launcher process (torchrun or ``accelerate launch``), one
process each, one output folder. Same results as one process; a node that dies or freezes stops the other within a
bounded time, and the same command then resumes from the cache (docs/scale.md, "Many nodes")."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from launchers import (
    PROC_CHILDREN,
    RUN,
    RUN_RECORDS,
    Nodes,
    accelerate_node,
    cache_lines,
    free_port,
    run_one_process,
    subprocess_env,
    torchrun_node,
    wait_until,
)

from s2sbench_hf import results
from s2sbench_hf.options import RunConfig
from s2sbench_hf.runner import DIST_TIMEOUT_ENV, LOCK_FILE, process_state
from s2sbench_hf.tasks import S2SBenchError


def multinode(test: Callable) -> Callable:
    """Mark a test that starts two nodes: slow, and only where a launcher's workers can be found (Linux's /proc)."""
    return pytest.mark.slow(pytest.mark.skipif(not PROC_CHILDREN, reason="finding the workers needs /proc")(test))


START = 180
"""Seconds two nodes may take to meet, load the model and score `RUN` on 2 shared cores (about 30 s here)."""


@pytest.fixture(scope="module")
def one_process(qwen2_audio_path, tmp_path_factory) -> Path:
    return run_one_process(qwen2_audio_path, tmp_path_factory.mktemp("one-process"))


def _node_commands(launcher: str, model: Path, out: Path) -> list[list[str]]:
    """Both nodes' command lines for `RUN` of ``model`` into ``out``, one item per batch, on a free port."""
    port = free_port()
    run = ["-m", "s2sbench_hf", *RUN, "--model", str(model), "--batch-size", "1", "--output", str(out)]
    if launcher == "accelerate":
        return [[*accelerate_node(port, rank), *run] for rank in (0, 1)]
    return [[*torchrun_node(port, rank, rendezvous=launcher), *run] for rank in (0, 1)]


def _run_nodes(launcher: str, model: Path, out: Path, logs: Path) -> None:
    """Both nodes to the end; both must succeed."""
    with Nodes(_node_commands(launcher, model, out), logs, subprocess_env()) as nodes:
        codes = [nodes.wait(i, START) for i in (0, 1)]
        assert codes == [0, 0], nodes.logs_text()


def _assert_same_as_one_process(out: Path, one_process: Path) -> dict:
    """``out``'s results and per-item records equal the one-process run's, bit for bit; returns its results."""
    mine = results.read_results(out)
    assert mine["compute"]["processes"] == 2
    assert mine["results"] == results.read_results(one_process)["results"]
    assert (out / "samples_scmmlu.jsonl").read_text() == (one_process / "samples_scmmlu.jsonl").read_text()
    ranks = sorted(p.name for p in out.glob("cache/*/records-rank*.jsonl"))
    assert ranks == ["records-rank0.jsonl", "records-rank1.jsonl"], "both nodes did part of the work"
    assert not (out / LOCK_FILE).exists(), "the main process let go of the folder"
    return mine


@multinode
@pytest.mark.parametrize("launcher", ["c10d", "accelerate"])
def test_two_nodes_give_the_results_of_one(launcher, qwen2_audio_path, one_process, tmp_path):
    out = tmp_path / "run"
    _run_nodes(launcher, qwen2_audio_path, out, tmp_path / "logs")
    two = _assert_same_as_one_process(out, one_process)
    assert two["compute"]["records_from_cache"] == 0
    assert two["compute"]["records_scored"] == RUN_RECORDS


def _start_and_fail_node_1(nodes: Nodes, out: Path, sig: signal.Signals) -> tuple[int | None, float]:
    """Wait until both nodes score, send ``sig`` to rank 1's node (launcher and worker) part way through, and wait
    for rank 0's: its exit status (None if still running after `START` s) and how long it took."""
    wait_until(lambda: None not in nodes.ranks(), START, nodes, "both workers started")
    ranks = nodes.ranks()
    assert sorted(ranks) == [0, 1], ranks  # with c10d, a node's rank is the order it joined in
    victim, survivor = ranks.index(1), ranks.index(0)
    wait_until(lambda: len(cache_lines(out)) >= 8, START, nodes, "two batches cached")
    nodes.signal(victim, sig)
    stopped = time.monotonic()
    return nodes.wait(survivor, START), time.monotonic() - stopped


@multinode
def test_a_killed_node_stops_the_other_and_the_same_command_resumes(qwen2_audio_path, one_process, tmp_path):
    out = tmp_path / "run"
    with Nodes(_node_commands("c10d", qwen2_audio_path, out), tmp_path / "killed", subprocess_env()) as nodes:
        code, took = _start_and_fail_node_1(nodes, out, signal.SIGKILL)
        assert code not in (None, 0), f"the other node should fail, not hang or succeed\n{nodes.logs_text()}"
        assert took < 60, f"the other node took {took:.0f} s to stop"
    done_before = len(cache_lines(out))
    assert 0 < done_before < RUN_RECORDS, "the kill should land part way through the run"
    assert not (out / "results.json").exists()

    _run_nodes("c10d", qwen2_audio_path, out, tmp_path / "resumed")
    lines = cache_lines(out)
    keys = [(r["item_id"], r["setting"], r["choice"]) for r in lines]
    assert len(keys) == len(set(keys)) == RUN_RECORDS, "every record computed exactly once over both runs"
    resumed = _assert_same_as_one_process(out, one_process)
    assert resumed["compute"]["records_from_cache"] == done_before
    assert resumed["compute"]["records_scored"] == RUN_RECORDS - done_before


@multinode
def test_a_frozen_node_stops_the_other_within_the_timeout(qwen2_audio_path, tmp_path):
    """A node that stops answering without closing its connections (frozen, cut off the network) holds the others in
    their next collective until the process group's timeout: torch's 30 min on CPUs unless S2SBENCH_DIST_TIMEOUT is
    set. Static rendezvous: node 0 hosts the store, so only the collective waits for the frozen node 1."""
    out = tmp_path / "run"
    env = subprocess_env(**{DIST_TIMEOUT_ENV: "10"})
    with Nodes(_node_commands("static", qwen2_audio_path, out), tmp_path / "logs", env) as nodes:
        code, took = _start_and_fail_node_1(nodes, out, signal.SIGSTOP)
        assert code not in (None, 0), f"the other node should fail, not hang or succeed\n{nodes.logs_text()}"
        assert took < 60, f"the other node took {took:.0f} s to stop"
        assert "Timed out" in nodes.log(0, chars=20000), nodes.log(0)
    assert not (out / "results.json").exists()


ENV_REPORT = """
import json, os, sys
from s2sbench_hf.options import RunConfig
from s2sbench_hf.runner import process_state
state = process_state(RunConfig(model="any", device="cpu"))
names = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
report = {"env": {k: os.environ[k] for k in names if k in os.environ}, "index": state.process_index,
          "processes": state.num_processes, "main": state.is_main_process}
(__import__("pathlib").Path(sys.argv[1]) / f"{os.getpid()}.json").write_text(json.dumps(report))
"""
"""What each process of `test_launchers_set_what_the_runner_reads` reports: the launcher's variables, and where the
runner's `process_state` places the process."""


def _reports(launcher: str, tmp_path: Path) -> list[dict]:
    """Every process's `ENV_REPORT` of a 2-node ``launcher`` job (both nodes must succeed)."""
    script, found = tmp_path / "report.py", tmp_path / "reports"
    script.write_text(ENV_REPORT)
    found.mkdir()
    port = free_port()
    if launcher.startswith("accelerate"):
        starts = [accelerate_node(port, rank, cpu_flag=launcher.endswith("--cpu")) for rank in (0, 1)]
    else:
        starts = [torchrun_node(port, rank, rendezvous="c10d") for rank in (0, 1)]
    commands = [[*start, str(script), str(found)] for start in starts]
    with Nodes(commands, tmp_path / "logs", subprocess_env(**{DIST_TIMEOUT_ENV: "60"})) as nodes:
        assert [nodes.wait(i, START) for i in (0, 1)] == [0, 0], nodes.logs_text()
    return sorted((json.loads(p.read_text()) for p in found.glob("*.json")), key=lambda r: r["index"])


@multinode
@pytest.mark.parametrize("launcher", ["torchrun", "accelerate"])
def test_launchers_set_what_the_runner_reads(launcher, tmp_path):
    reports = _reports(launcher, tmp_path)
    assert [(r["index"], r["processes"], r["main"]) for r in reports] == [(0, 2, True), (1, 2, False)]
    for report in reports:
        env = report["env"]
        assert env["RANK"] == str(report["index"]) and env["WORLD_SIZE"] == "2"
        assert env["LOCAL_RANK"] == "0" and env["LOCAL_WORLD_SIZE"] == "1"
        assert env["MASTER_ADDR"] in ("127.0.0.1", "localhost") and env["MASTER_PORT"].isdigit()


@multinode
def test_accelerate_cpu_flag_starts_lone_processes(tmp_path):
    """``accelerate launch --cpu --num_machines 2`` without ``--mpirun_hostfile`` starts one plain process per machine
    and sets no RANK or WORLD_SIZE: each would run the whole benchmark alone (the docs say to use ``--multi_gpu``)."""
    reports = _reports("accelerate --cpu", tmp_path)
    assert [(r["index"], r["processes"], r["main"]) for r in reports] == [(0, 1, True), (0, 1, True)]
    assert all("RANK" not in r["env"] and "WORLD_SIZE" not in r["env"] for r in reports)


@pytest.mark.parametrize("value", ["soon", "0", "-5", "nan", "inf"])
def test_a_timeout_that_is_no_number_of_seconds_is_refused(value, monkeypatch):
    monkeypatch.setenv(DIST_TIMEOUT_ENV, value)
    with pytest.raises(S2SBenchError, match=DIST_TIMEOUT_ENV):
        process_state(RunConfig(model="any", device="cpu"))
