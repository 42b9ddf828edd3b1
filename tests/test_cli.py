"""`s2sbench run` end to end on the bundled sample sets with a tiny Qwen2-Audio."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys

import pytest
from cli_helpers import run_cli

from s2sbench_hf import results, runner
from s2sbench_hf.data.sources import load_task
from s2sbench_hf.scoring import interface
from s2sbench_hf.tasks import UnknownTaskError


def test_results_file_records_what_decides_the_numbers(cli_run, qwen2_audio_path):
    res = results.read_results(cli_run)
    assert res["schema_version"] == results.RESULTS_SCHEMA_VERSION
    assert res["model"]["adapter"] == "qwen2-audio"
    assert res["model"]["content_hash"].startswith("sha256:") and len(res["model"]["content_hash"]) == 71
    assert res["config"]["settings"] == ["text", "audio"] and res["config"]["limit"] == 6
    assert res["config"]["framing"]["scmmlu"]["audio_prefix"] == "下面是一段语音和文本交错的内容："
    assert set(res["datasets"]) == {"sstorycloze", "scmmlu"} and res["datasets"]["scmmlu"]["fingerprint"]
    for task_id in ("sstorycloze", "scmmlu"):
        m = res["results"][task_id]
        assert m["n_items"] == 6 and m["n_failed"] == 0
        gap = m["settings"]["text"]["accuracy"] - m["settings"]["audio"]["accuracy"]
        assert m["degradation"]["gap"] == pytest.approx(gap)
        lo, hi = m["degradation"]["gap_ci"]
        assert lo <= hi


def test_samples_have_one_line_per_item_setting_continuation(cli_run):
    lines = (cli_run / "samples_scmmlu.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 6 * 2 * 4
    rows = [json.loads(line) for line in lines]
    assert sum(r["is_answer"] for r in rows) == 6 * 2
    assert (cli_run / "reference" / "scmmlu" / "audio" / "result.jsonl").exists()


def test_the_same_run_gives_the_same_numbers(cli_run, qwen2_audio_path, tmp_path):
    run_cli(
        qwen2_audio_path,
        tmp_path,
        tasks="sstorycloze",
        dataset="samples",
        limit=6,
        device="cpu",
        n_bootstrap=100,
        no_progress=True,
    )
    first = results.read_results(cli_run)["results"]["sstorycloze"]
    again = results.read_results(tmp_path)["results"]["sstorycloze"]
    assert again == first


def test_unknown_task_names_the_known_ones():
    with pytest.raises(UnknownTaskError, match="Known tasks: scmmlu, sstorycloze, zh_sstorycloze"):
        load_task("storycloze")


def test_text_only_model_rejects_audio_with_a_clear_cli_error(causal_lm_path, tmp_path, capsys):
    code = run_cli(
        causal_lm_path, tmp_path, tasks="sstorycloze", dataset="samples", limit=2, device="cpu", no_progress=True
    )
    assert code == 2
    assert "cannot score the 'audio' setting" in capsys.readouterr().err


# ------------------------------------------------------------------ one run per folder


def _text_run(model, output, **changes) -> int:
    """A short text-only run of a tiny causal LM into ``output`` (its options changed by ``changes``)."""
    run = {
        "tasks": "sstorycloze",
        "settings": "text",
        "dataset": "samples",
        "limit": 2,
        "device": "cpu",
        "n_bootstrap": 10,
        "no_progress": True,
    }
    return run_cli(model, output, **{**run, **changes})


def _lock(folder, pid: int, host: str | None = None) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"pid": pid, "host": host or socket.gethostname(), "started": "2025-01-01T00:00:00+00:00"})
    (folder / runner.LOCK_FILE).write_text(text)
    return text


@pytest.fixture
def live_pid():
    """The PID of a process that runs for the whole test (the other run)."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield process.pid
    process.kill()
    process.wait()


def test_a_folder_another_live_run_writes_into_is_refused(causal_lm_path, tmp_path, live_pid, capsys):
    held = _lock(tmp_path / "out", live_pid)
    assert _text_run(causal_lm_path, tmp_path / "out") == 2
    (line,) = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert f"in use by another run (pid {live_pid} on {socket.gethostname()}" in line
    assert "choose another --output" in line and runner.LOCK_FILE in line
    assert not (tmp_path / "out" / "results.json").exists() and not (tmp_path / "out" / "cache").exists()
    assert (tmp_path / "out" / runner.LOCK_FILE).read_text() == held  # the other run's lock is left alone


def test_a_lock_left_by_a_dead_run_is_taken_over_with_a_note(causal_lm_path, tmp_path, caplog):
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True, capture_output=True)
    _lock(tmp_path / "out", int(ended.stdout))
    with caplog.at_level(logging.WARNING, logger="s2sbench_hf.runner"):
        assert _text_run(causal_lm_path, tmp_path / "out") == 0
    assert f"took over the lock of a run that is no longer running (pid {int(ended.stdout)}" in caplog.text
    assert (tmp_path / "out" / "results.json").exists()
    assert not (tmp_path / "out" / runner.LOCK_FILE).exists()  # released at the end


def test_the_lock_names_its_run_and_is_released_after_a_failure(tmp_path, live_pid):
    folder = tmp_path / "out"
    with runner.run_folder_lock(folder) as lock:  # what another process reads to tell whether this run lives
        holder = json.loads(lock.read_text())
        assert holder["pid"] == os.getpid() and holder["host"] == socket.gethostname()
    assert not lock.exists()
    with pytest.raises(RuntimeError), runner.run_folder_lock(folder):
        raise RuntimeError("the run failed")
    assert not lock.exists()
    # another host's lock cannot be checked from here: it counts as live; garbage is no run's lock
    _lock(folder, live_pid, host="another-host")
    with pytest.raises(runner.RunFolderError, match="another-host"), runner.run_folder_lock(folder):
        pass
    (folder / runner.LOCK_FILE).write_text("not json")
    with runner.run_folder_lock(folder):
        assert json.loads(lock.read_text())["pid"] == os.getpid()


# ------------------------------------------------------------------ a run owns its output folder


def test_a_rerun_with_fewer_tasks_leaves_no_stale_file_and_resumes_from_the_cache(causal_lm_path, tmp_path):
    out = tmp_path / "out"
    assert _text_run(causal_lm_path, out, tasks=["sstorycloze", "zh_sstorycloze"]) == 0
    assert (out / "samples_zh_sstorycloze.jsonl").exists() and (out / "reference" / "zh_sstorycloze").is_dir()
    for name in ("report.md", "report.html", "plots/accuracy.png"):  # what `s2sbench report` writes there
        (out / name).parent.mkdir(exist_ok=True)
        (out / name).write_text("a report of the first run")
    (out / "notes.txt").write_text("the user's")
    (out / "plots" / "mine.png").write_text("the user's")

    assert _text_run(causal_lm_path, out) == 0  # sstorycloze only

    kept = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and "cache" not in p.parts)
    assert kept == [
        "notes.txt",
        "plots/mine.png",
        "reference/sstorycloze/data.jsonl",
        "reference/sstorycloze/text/result.jsonl",
        "results.json",
        "samples_sstorycloze.jsonl",
    ]
    compute = results.read_results(out)["compute"]
    assert compute["records_scored"] == 0 and compute["records_from_cache"] > 0  # the cache still resumes


def test_a_folder_no_run_wrote_is_refused_where_a_run_would_replace_its_files(causal_lm_path, tmp_path, capsys):
    """A user's own report.md or samples_*.jsonl in --output: one line before scoring, and every file kept; a folder
    with only files of other names takes the run beside them."""
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "report.md").write_text("the user's notes")
    (mine / "samples_old.jsonl").write_text("the user's")
    assert _text_run(causal_lm_path, mine) == 2
    err = capsys.readouterr().err.strip()
    assert "holds report.md, samples_old.jsonl, which no s2sbench run wrote there" in err and "\n" not in err
    assert sorted(p.name for p in mine.iterdir()) == ["report.md", "samples_old.jsonl"]
    assert (mine / "report.md").read_text() == "the user's notes"

    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("the user's")
    assert _text_run(causal_lm_path, other) == 0
    assert (other / "notes.txt").read_text() == "the user's" and (other / "results.json").is_file()


def test_a_run_that_fails_before_scoring_leaves_no_folder(tmp_path, capsys):
    out = tmp_path / "out"
    assert _text_run(tmp_path / "no-such-model", out) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not out.exists()
    out.mkdir()  # a folder the user made is theirs: it stays
    assert _text_run(tmp_path / "no-such-model", out) == 2
    assert out.is_dir() and list(out.iterdir()) == []


def test_no_progress_silences_the_libraries_bars_too(causal_lm_path, tmp_path, capsys, monkeypatch):
    """--no-progress leaves no bar on stderr, transformers' "Loading weights" and the model folder's hashing
    included; without it, those bars show (so the check can fail), and the libraries' own switches are as they
    were after the run."""
    from transformers.utils import logging as transformers_logging

    from s2sbench_hf import model_identity

    monkeypatch.setattr(model_identity, "HASH_PROGRESS_BYTES", 1)  # the tiny model counts as a large one
    hashing = f"hashing {causal_lm_path.name}:"
    monkeypatch.setattr(model_identity, "_cache_path", lambda: tmp_path / "quiet-digests.json")
    assert _text_run(causal_lm_path, tmp_path / "quiet") == 0
    err = capsys.readouterr().err
    assert "Loading weights" not in err and hashing not in err and "%|" not in err
    assert transformers_logging.is_progress_bar_enabled()
    monkeypatch.setattr(model_identity, "_cache_path", lambda: tmp_path / "shown-digests.json")  # hashed again
    assert _text_run(causal_lm_path, tmp_path / "shown", no_progress=False) == 0
    err = capsys.readouterr().err
    assert "Loading weights" in err and hashing in err


def test_the_command_line_stops_any_backends_engines_then_ends_at_once(monkeypatch):
    """`cli.entry` stops the engines a backend registered and ends with os._exit and main's status; with no engine
    running it ends through sys.exit (the interpreter's own teardown)."""
    from s2sbench_hf.cli import entry

    stopped: list[str] = []
    monkeypatch.setattr(interface, "ENGINE_STOPS", [])
    interface.register_engine_stop(lambda: stopped.append("idle") is not None)  # registered, but ran nothing
    monkeypatch.setattr(sys, "argv", ["s2sbench", "tasks"])
    monkeypatch.setattr(logging, "shutdown", lambda: None)

    def ended_at_once(code: int) -> None:
        raise SystemExit(f"os._exit({code})")

    monkeypatch.setattr(os, "_exit", ended_at_once)
    with pytest.raises(SystemExit) as ended:
        entry()
    assert ended.value.code == 0 and stopped == ["idle"]
    interface.register_engine_stop(lambda: stopped.append("engines") is None)  # this one had engines to stop
    with pytest.raises(SystemExit) as ended:
        entry()
    assert ended.value.code == "os._exit(0)" and stopped == ["idle", "idle", "engines"]
