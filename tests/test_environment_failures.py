"""Failures a user can act on: one line naming the problem and the fix, exit 2 (130 for Ctrl-C), no traceback.

The Hub and disk failures are produced for real where that is possible offline
(a misspelled id with HF_HUB_OFFLINE=1, a missing folder, a file where the
output folder should be, Ctrl-C), and by raising the library's own exception
types where it is not (a gated or private repository, a full disk).
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from types import SimpleNamespace

import pytest
from cli_helpers import run_argv, run_cli
from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

from s2sbench_hf import failures
from s2sbench_hf.cli import main

HUB_RESPONSE = SimpleNamespace(headers={}, request=None)
"""What huggingface_hub's HTTP errors read from a response (no request is made)."""


@pytest.fixture(autouse=True)
def _in_a_folder_of_its_own(tmp_path, monkeypatch):
    """Each test runs in its own folder: the default ``--output`` (``s2sbench-output``) is made there, never in the
    repository, and never shared with a test running beside it (a run folder takes one run at a time)."""
    monkeypatch.chdir(tmp_path)


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_misspelled_hub_id_offline_is_one_line(capsys):
    assert run_cli("Qwen/Qwen2-Audio-7B-typo", dataset="samples", limit=1) == 2
    line = _one_line_error(capsys)
    assert "cannot reach the Hugging Face Hub" in line and "Qwen/Qwen2-Audio-7B-typo" in line


def test_missing_model_folder_is_one_line(capsys, tmp_path):
    assert run_cli(tmp_path / "nope", dataset="samples", limit=1) == 2
    assert "does not exist" in _one_line_error(capsys)


def test_model_folder_without_config_json_is_one_line(capsys, tmp_path):
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "model.safetensors").write_bytes(b"")
    assert run_cli(tmp_path / "weights", dataset="samples", limit=1) == 2
    line = _one_line_error(capsys)
    assert "has no config.json" in line and "weights" in line


def test_an_empty_output_name_is_refused_and_nothing_is_written(capsys, tmp_path, causal_lm_path):
    assert run_cli(causal_lm_path, "", settings="text") == 2
    assert "output folder is an empty name" in _one_line_error(capsys)
    assert list(tmp_path.iterdir()) == []  # not a file in the current directory


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (GatedRepoError("403 gated", response=HUB_RESPONSE), "is gated"),
        (RepositoryNotFoundError("404", response=HUB_RESPONSE), "was not found on the Hugging Face Hub"),
    ],
)
def test_gated_and_private_repositories_say_what_to_do(capsys, monkeypatch, error, words):
    import transformers

    def refuse(*args, **kwargs):
        raise OSError("transformers wraps it") from error

    monkeypatch.setattr(transformers.PretrainedConfig, "get_config_dict", refuse)  # the first read of a config
    monkeypatch.setattr(transformers.AutoConfig, "from_pretrained", refuse)
    assert run_cli("org/some-model", dataset="samples", limit=1) == 2
    line = _one_line_error(capsys)
    assert words in line and "org/some-model" in line


def test_unwritable_output_fails_before_any_work(capsys, tmp_path, causal_lm_path, monkeypatch):
    from s2sbench_hf.scoring import registry

    loads = []
    monkeypatch.setattr(registry, "load_scorer", lambda *a, **k: loads.append(a))
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    code = run_cli(causal_lm_path, blocker / "out", settings="text")
    assert code == 2 and loads == []
    assert "cannot use" in _one_line_error(capsys)


def test_a_full_disk_is_one_line_and_says_the_work_is_kept(capsys, monkeypatch, causal_lm_path, tmp_path):
    from s2sbench_hf import runner

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "out" / "results.json"))

    monkeypatch.setattr(runner.results, "write_results", full)
    code = run_cli(
        causal_lm_path,
        tmp_path / "out",
        dataset="samples",
        settings="text",
        tasks="sstorycloze",
        limit=2,
        device="cpu",
        no_progress=True,
    )
    assert code == 2
    line = _one_line_error(capsys)
    assert "disk is full" in line and "kept" in line


def test_debug_shows_the_traceback(monkeypatch):
    with pytest.raises(Exception):  # noqa: B017 - any error: the point is that --debug raises it, not an exit code
        main(["run", "--model", "Qwen/Qwen2-Audio-7B-typo", "--debug", "--limit", "1"])


def test_explain_walks_the_chain_and_leaves_unknown_errors_alone():
    try:
        try:
            raise RepositoryNotFoundError("404", response=HUB_RESPONSE)
        except RepositoryNotFoundError as inner:
            raise OSError("wrapped") from inner
    except OSError as outer:
        assert "not found" in failures.explain(outer, "model 'x/y'")
    assert failures.explain(ValueError("a bug")) is None


SLOW_SCORER = textwrap.dedent("""
    import time
    from s2sbench_hf.scoring.interface import ContinuationScore, Scorer

    class SlowScorer(Scorer):
        name = "slow"
        settings = ("text",)

        def __init__(self, model_id, **kwargs):
            self.model_id = model_id

        def score(self, requests):
            time.sleep(0.2)
            return [[ContinuationScore(float(len(c)), 1) for c in r.continuations] for r in requests]
""")


@pytest.mark.slow
def test_ctrl_c_exits_130_and_keeps_what_was_scored(tmp_path):
    (tmp_path / "slow_scorer.py").write_text(SLOW_SCORER)
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    run = run_argv(
        "m",
        tmp_path / "out",
        adapter="python:slow_scorer:SlowScorer",
        dataset="samples",
        tasks="sstorycloze",
        settings="text",
        batch_size=1,
        n_bootstrap=10,
        no_progress=True,
    )
    command = [sys.executable, "-m", "s2sbench_hf", *run]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    cache = tmp_path / "out" / "cache"
    deadline = time.time() + 120
    while time.time() < deadline and not any(p.stat().st_size for p in cache.glob("*/records-rank0.jsonl")):
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    kept = sum(len(p.read_text().splitlines()) for p in cache.glob("*/records-rank0.jsonl"))
    assert 0 < kept < 2 * 48
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    compute = json.loads((tmp_path / "out" / "results.json").read_text())["compute"]
    assert compute["records_from_cache"] == kept


# ------------------------------------------------------------------ no network: one probe, one line, each warning once


def _online_env() -> dict[str, str]:
    """This process's environment with the offline switches off and the Hub at a closed local port: a request
    fails as without a network, and nothing leaves the machine."""
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    return {**env, "HF_ENDPOINT": "http://127.0.0.1:9"}


def _timed_main(argv: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess, float]:
    """``s2sbench ARGV`` in a new process with ``env``, and the seconds its `main` took (the imports and the first
    synthesis of the bundled samples, which this session's cache may not hold yet, not counted)."""
    script = textwrap.dedent(
        """
        import sys, time
        import s2sbench_hf.runner, transformers
        from s2sbench_hf.cli import main
        from s2sbench_hf.data.samples import ensure_samples
        ensure_samples()
        started = time.monotonic()
        code = main(sys.argv[1:])
        print(f"seconds {time.monotonic() - started:.2f}")
        sys.exit(code)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, *argv], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    return done, float(done.stdout.split("seconds ")[1]) if "seconds " in done.stdout else float("nan")


def test_without_a_network_a_hub_id_fails_in_seconds_with_one_line(tmp_path):
    argv = run_argv("Qwen/Qwen2-Audio-7B-typo", tmp_path / "out", dataset="samples", tasks="sstorycloze", limit=1)
    done, seconds = _timed_main(argv, _online_env())
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "cannot reach the Hugging Face Hub" in errors[0], done.stderr
    assert "Retrying" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert seconds < 10, (seconds, done.stderr)  # huggingface_hub's retries alone take 23 s
    assert not (tmp_path / "out").exists()  # failed before scoring: no folder left


def test_without_a_network_a_hub_dataset_fails_in_seconds_with_one_line(tmp_path, causal_lm_path):
    argv = run_argv(
        causal_lm_path,
        tmp_path / "out",
        dataset="undobug/S2SBench-not-cached",
        settings="text",
        tasks=["sstorycloze", "scmmlu"],
        device="cpu",
    )
    env = {**_online_env(), "HF_HUB_CACHE": str(tmp_path / "empty-cache")}
    done, seconds = _timed_main(argv, env)
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "cannot reach the Hugging Face Hub" in errors[0], done.stderr
    assert "undobug/S2SBench-not-cached is not in the local cache" in errors[0], done.stderr
    assert "Retrying" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert seconds < 10, (seconds, done.stderr)
    assert not (tmp_path / "out").exists()


def test_each_library_warning_is_printed_once():
    script = textwrap.dedent(
        """
        import logging
        from s2sbench_hf.cli import configure_logging
        configure_logging()
        import datasets, huggingface_hub, transformers  # each sets up its own logging on import, after ours
        for name in ("huggingface_hub.utils._http", "datasets.builder", "s2sbench_hf.runner", "urllib3.connectionpool"):
            logging.getLogger(name).warning("warned by %s", name)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True)
    for name in ("huggingface_hub.utils._http", "datasets.builder", "s2sbench_hf.runner", "urllib3.connectionpool"):
        assert done.stderr.count(f"warned by {name}") == 1, done.stderr


def test_the_hub_is_probed_once_and_offline_mode_is_restored(monkeypatch):
    from huggingface_hub import constants

    probes = []
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(failures, "hub_reachable", lambda: probes.append(1) or False)
    monkeypatch.setattr(failures, "_last_probe", None)
    with failures.offline_unless_hub_answers() as online:
        assert not online and constants.HF_HUB_OFFLINE  # cache only inside: no request is retried
    assert constants.HF_HUB_OFFLINE is False and probes == [1]
    with failures.offline_unless_hub_answers() as online:  # the next block of the same run: the same answer
        assert not online and constants.HF_HUB_OFFLINE
    assert probes == [1]
    monkeypatch.setattr(failures, "PROBE_REUSE_S", -1.0)  # the answer has expired: probed again
    with failures.offline_unless_hub_answers():
        pass
    assert probes == [1, 1]
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)  # HF_HUB_OFFLINE=1: nothing to probe
    with failures.offline_unless_hub_answers() as online:
        assert not online
    assert probes == [1, 1] and constants.HF_HUB_OFFLINE is True


def test_a_closed_endpoint_is_not_reachable(monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")
    started = time.monotonic()
    assert failures.hub_reachable() is False
    assert time.monotonic() - started <= failures.HUB_PROBE_TIMEOUT_S + 1
