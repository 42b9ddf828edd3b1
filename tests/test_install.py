"""What a fresh install promises: the wheel's contents, ``evaluate.load("s2sbench")`` by name, model mode in a plain
script.

The evaluate checks run in subprocesses, from a temporary directory, with
``HF_HUB_OFFLINE=1`` and their own ``HF_MODULES_CACHE``, after the install step
the README gives (``s2sbench metric install``), as a user's first session would.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from s2sbench_hf import evaluate_metric, metric_module, results
from s2sbench_hf.cli import main
from s2sbench_hf.tasks import S2SBenchError

ROOT = Path(__file__).resolve().parents[1]
METRIC_DIR = ROOT / "metric" / "s2sbench"
TASKS, LIMIT, BOOTSTRAP = ["sstorycloze"], 2, 50
SCORES = {
    "references": [0, 0, 1, 1],
    "text_scores": [[1.0, 2.0], [2.0, 1.5], [3.0, 1.0], [0.5, 0.7]],
    "audio_scores": [[2.0, 1.0], [2.0, 2.5], [3.0, 1.0], [0.9, 0.2]],
}


def _python(code: str, cwd: Path, env: dict[str, str], timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def _last_json(proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def offline_env(tmp_path_factory) -> dict[str, str]:
    """The environment of a user's offline session, with an empty modules cache of its own."""
    return {**os.environ, "HF_HUB_OFFLINE": "1", "HF_MODULES_CACHE": str(tmp_path_factory.mktemp("hf-modules"))}


@pytest.fixture(scope="module")
def installed(offline_env, tmp_path_factory) -> Path:
    """The registered file, after ``s2sbench metric install`` ran twice (the README's install line may be run
    again); before it, the name is unknown to evaluate (so the by-name tests below pass because of it)."""
    code = textwrap.dedent("""
        import evaluate
        from s2sbench_hf.cli import main
        try:
            evaluate.load("s2sbench")
        except FileNotFoundError as err:
            print("before install:", err)
        assert main(["metric", "install"]) == 0
        assert main(["metric", "install"]) == 0
    """)
    proc = _python(code, tmp_path_factory.mktemp("anywhere"), offline_env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    before, first, second = proc.stdout.strip().splitlines()
    assert before.startswith("before install:") and "doesn't exist on the Hugging Face Hub" in before
    assert first == second
    return Path(first.split(" now loads ")[1].split(" (offline")[0])


@pytest.fixture(scope="module")
def cli_run(qwen2_audio_path, tmp_path_factory) -> dict:
    """``s2sbench run`` on the tiny model, the bundled samples named explicitly: the numbers to match."""
    out = tmp_path_factory.mktemp("cli-run")
    code = main(
        [
            "run",
            "--model",
            str(qwen2_audio_path),
            "--dataset",
            "samples",
            "--tasks",
            *TASKS,
            "--limit",
            str(LIMIT),
            "--device",
            "cpu",
            "--bootstrap",
            str(BOOTSTRAP),
            "--output",
            str(out),
            "--no-progress",
        ]
    )
    assert code == 0
    return evaluate_metric.metric_output(results.read_results(out))


def _model_mode_kwargs(model: Path) -> dict:
    return dict(
        model_id=str(model),
        dataset="samples",
        tasks=TASKS,
        limit=LIMIT,
        device="cpu",
        n_bootstrap=BOOTSTRAP,
        progress=False,
    )


def _same_numbers(got: dict, want: dict) -> None:
    for key in ("text_accuracy", "audio_accuracy", "degradation"):
        assert got[key] == want[key], key
    assert got["tasks"] == json.loads(json.dumps(want["tasks"]))


def test_every_package_is_in_the_wheel():
    """pyproject lists the packages by hand (for the metric folder's mapping): none may be forgotten."""
    tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11's tomllib")
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "s2sbench_hf").rglob("__init__.py")}
    assert on_disk <= set(tool["packages"])
    assert tool["package-dir"] == {"s2sbench_hf.metric_space": "metric/s2sbench"}
    assert {"s2sbench_hf.metric_space", "s2sbench_hf.data.samples"} <= set(tool["packages"])
    assert metric_module.space_folder() == METRIC_DIR  # an editable install reads the repository's folder


@pytest.mark.slow
def test_install_registers_the_module_where_evaluate_looks(installed, offline_env):
    modules = Path(offline_env["HF_MODULES_CACHE"])
    assert installed.is_relative_to(modules / "evaluate_modules" / "metrics" / "evaluate-metric--s2sbench")
    assert installed.read_bytes() == (METRIC_DIR / "s2sbench.py").read_bytes()
    assert len([p for p in installed.parent.parent.iterdir() if p.is_dir()]) == 1  # run twice, stored once


@pytest.mark.slow
def test_evaluate_load_by_name_offline_from_any_directory(installed, offline_env, qwen2_audio_path, cli_run, tmp_path):
    code = textwrap.dedent(f"""
        import json
        import evaluate
        metric = evaluate.load("s2sbench")
        scores = metric.compute(**{SCORES!r}, n_bootstrap={BOOTSTRAP})
        model = metric.compute(**{_model_mode_kwargs(qwen2_audio_path)!r})
        print(json.dumps({{"name": metric.name, "scores": scores, "model": model}}))
    """)
    out = _last_json(_python(code, tmp_path, offline_env))
    assert out["name"] == "s2sbench"
    assert out["scores"] == json.loads(json.dumps(evaluate_metric.compute_scores(**SCORES, n_bootstrap=BOOTSTRAP)))
    _same_numbers(out["model"], cli_run)


def test_install_into_an_unwritable_cache_says_what_to_do(tmp_path, monkeypatch, capsys):
    import evaluate.config

    blocker = tmp_path / "modules"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setattr(evaluate.config, "HF_MODULES_CACHE", blocker)
    monkeypatch.setattr(sys, "path", list(sys.path))  # evaluate appends the cache folder to sys.path
    assert main(["metric", "install"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot write evaluate's modules cache") and "HF_MODULES_CACHE" in err


@pytest.mark.slow
def test_model_mode_in_a_plain_script_on_a_clean_cache(installed, offline_env, qwen2_audio_path, cli_run, tmp_path):
    """No main guard, nothing built yet: the samples are synthesized in the script's own process."""
    script = tmp_path / "evaluate_my_model.py"
    script.write_text(
        textwrap.dedent(f"""
        import json
        import evaluate
        print("script body runs")
        metric = evaluate.load("s2sbench")
        out = metric.compute(**{_model_mode_kwargs(qwen2_audio_path)!r})
        print(json.dumps(out))
    """),
        encoding="utf-8",
    )
    cache = tmp_path / "fresh-cache"
    env = {**offline_env, "S2SBENCH_CACHE": str(cache), "HF_DATASETS_CACHE": str(cache / "datasets")}
    proc = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    out = _last_json(proc)
    assert proc.stdout.count("script body runs") == 1
    assert any(p.name.startswith("samples-") for p in cache.iterdir())  # built here, on first use
    assert out["tasks"]["sstorycloze"]["n_items"] == LIMIT
    _same_numbers(out, cli_run)


# ------------------------------------------------------------------------- s2sbench metric push


class FakeHubApi:
    """Records what a push would send."""

    def __init__(self):
        self.calls = []

    def create_repo(self, repo_id, **kwargs):
        self.calls.append(("create_repo", repo_id, kwargs))

    def create_commit(self, **kwargs):
        self.calls.append(("create_commit", kwargs["repo_id"], kwargs))
        return type("CommitInfo", (), {"commit_url": f"https://hub.example/{kwargs['repo_id']}/commit/1"})()


def test_metric_push_dry_run_prints_the_plan(capsys):
    assert main(["metric", "push", "--repo", "acme/s2sbench", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "acme/s2sbench (space)" in out and "nothing is sent" in out
    for name in metric_module.SPACE_FILES:
        assert f"{name} " in out and f"{(METRIC_DIR / name).stat().st_size:,} bytes" in out
    # until a maintainer writes the package's repository into the Space files, the dry run says so
    assert ("still name '<owner>'" in out) == bool(metric_module.placeholder_files())


def test_metric_push_needs_the_module_name_as_space_name(capsys):
    assert main(["metric", "push", "--repo", "acme/my-metric", "--dry-run"]) == 2
    assert "ORG/s2sbench" in capsys.readouterr().err


def test_metric_push_creates_a_gradio_space_and_uploads_the_four_files(tmp_path, monkeypatch):
    folder = tmp_path / "space"
    shutil.copytree(METRIC_DIR, folder, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(metric_module, "space_folder", lambda: folder)
    requirements = folder / "requirements.txt"
    requirements.write_text("s2sbench-hf @ git+https://github.com/<owner>/s2sbench-hf@v0.1.0\n", encoding="utf-8")
    api = FakeHubApi()
    with pytest.raises(S2SBenchError, match=r"requirements\.txt still name"):
        metric_module.push(metric_module.plan_push("acme/s2sbench"), api=api)
    assert api.calls == []  # refused before anything was sent

    for name in metric_module.SPACE_FILES:
        (folder / name).write_text(
            (folder / name).read_text(encoding="utf-8").replace("<owner>", "acme"), encoding="utf-8"
        )
    info = metric_module.push(metric_module.plan_push("acme/s2sbench"), token="not-a-token", api=api)
    (kind, repo, created), (_, _, commit) = api.calls
    assert (kind, repo) == ("create_repo", "acme/s2sbench")
    assert created == {"repo_type": "space", "space_sdk": "gradio", "exist_ok": True, "token": "not-a-token"}
    assert commit["repo_type"] == "space" and commit["create_pr"] is False
    assert sorted(op.path_in_repo for op in commit["operations"]) == sorted(metric_module.SPACE_FILES)
    assert info.endswith("/commit/1")
