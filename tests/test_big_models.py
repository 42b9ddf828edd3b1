"""Models larger than one device: a device map with a memory budget offloads layers, and the scores do not move.

On the CPU, a ``--max-memory cpu=...`` below the model's size makes accelerate put
the layers past it on ``disk`` (meta weights, loaded by hooks as they run), the
offload folder is the scorer's own temporary folder, and every score equals the
whole model's within `REL_TOL`, with batching, the shared context's KV cache and
the trimmed encoder as `score_items` runs them by default.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from s2sbench_hf import rerun, results, runner
from s2sbench_hf.cli import main
from s2sbench_hf.data.sources import load_task
from s2sbench_hf.options import ModelSpec, RunConfig
from s2sbench_hf.scoring.engine import score_items
from s2sbench_hf.scoring.interface import Record
from s2sbench_hf.scoring.registry import load_scorer
from s2sbench_hf.testing import REL_TOL, make_tiny_model, relative_deviation

pytestmark = pytest.mark.usefixtures("tiny_model_backends")

FAMILIES = ("causal-lm", "qwen2-audio", "qwen2.5-omni", "moshi")
BATCH = 4
"""Items per batch: several prompts share each pass, so padding and the KV cache's rows are exercised."""


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The tiny model of a family, built once per module."""
    built: dict[str, Path] = {}

    def get(family: str) -> Path:
        if family not in built:
            built[family] = make_tiny_model(family, tmp_path_factory.mktemp(family.replace(".", "")))
        return built[family]

    return get


def weights_bytes(folder: Path) -> int:
    """Bytes of a model folder's weights (its safetensors files)."""
    return sum(path.stat().st_size for path in folder.glob("*.safetensors"))


def scores(scorer, settings: tuple[str, ...]) -> list[Record]:
    """The records of 8 sample items of sStoryCloze in ``settings``, batched `BATCH` at a time."""
    loaded = load_task("sstorycloze", "samples", limit=8)
    records, errors = score_items(scorer, loaded.task, loaded.items, list(settings), batch_size=BATCH, progress=False)
    assert not errors
    return records


def offloaded_spec(folder: Path, share: float = 0.5) -> ModelSpec:
    """Options that give the CPU ``share`` of the model's weights, so the rest goes to disk."""
    budget = int(weights_bytes(folder) * share)
    return ModelSpec(model=str(folder), device="cpu", dtype="float32", device_map="auto", max_memory=(f"cpu={budget}",))


@pytest.mark.parametrize("family", FAMILIES)
def test_offloaded_model_scores_as_the_whole_one(tiny, family):
    folder = tiny(family)
    settings = ("text",) if family == "causal-lm" else ("text", "audio")
    whole = load_scorer(str(folder), device="cpu", dtype="float32")
    expected = scores(whole, settings)
    spec = offloaded_spec(folder)
    sharded = load_scorer(spec.model, spec.adapter, **spec.scorer_kwargs())
    placement = sharded.model.hf_device_map
    assert "disk" in placement.values(), placement
    assert any(p.device.type == "meta" for p in sharded.model.parameters()), "offloaded weights stay on meta"
    assert str(sharded.device) == "cpu"
    offload = Path(sharded.offload_folder())
    assert offload.is_dir() and offload.name.startswith("s2sbench-offload-")
    got = scores(sharded, settings)
    assert [(r.item_id, r.setting, r.choice, r.n_tokens) for r in got] == [
        (r.item_id, r.setting, r.choice, r.n_tokens) for r in expected
    ]
    assert relative_deviation([r.nll_sum for r in got], [r.nll_sum for r in expected]) < REL_TOL
    del sharded
    gc.collect()
    assert not offload.exists(), "the offload folder goes with its scorer"


def test_qwen2_audio_trims_its_encoder_while_offloaded(tiny):
    """The trimmed encoder reads the position table through its module: an offloaded tower has meta weights."""
    folder = tiny("qwen2-audio")
    spec = offloaded_spec(folder, share=0.2)
    scorer = load_scorer(spec.model, spec.adapter, **spec.scorer_kwargs())
    tower = scorer.model.model.audio_tower
    assert scorer.trim_encoder and tower.embed_positions.weight.device.type == "meta"
    assert scores(scorer, ("audio",))


def _loads_seen(module, monkeypatch) -> list[dict]:
    """The keyword arguments of every `load_scorer` call ``module`` makes from now on (the loads still happen)."""
    seen: list[dict] = []
    real = module.load_scorer

    def spy(model, adapter, **kwargs):
        seen.append(kwargs)
        return real(model, adapter, **kwargs)

    monkeypatch.setattr(module, "load_scorer", spy)
    return seen


def test_model_kwargs_reach_from_pretrained_and_the_cache_key(causal_lm_path, tmp_path, monkeypatch):
    """--model-kwargs reaches the scorer, is recorded, decides the numbers and is part of the cached records' key."""
    seen = _loads_seen(runner, monkeypatch)
    base = {"model": str(causal_lm_path), "tasks": ["sstorycloze"], "settings": ["text"], "dataset": "samples"}
    base.update(limit=2, n_bootstrap=10, device="cpu")
    plain = runner.evaluate_model(RunConfig.from_kwargs(**base), progress=False, output=tmp_path)
    extra = RunConfig.from_kwargs(**base, model_kwargs={"use_safetensors": True})
    run = runner.evaluate_model(extra, progress=False, output=tmp_path)
    assert seen[-1]["model_kwargs"] == {"use_safetensors": True}
    assert run.results["config"]["model_kwargs"] == ["use_safetensors=true"]
    assert run.results["compute"]["records_from_cache"] == 0, "other model_kwargs: not the cached records"
    assert plain.results["compute"]["records_scored"] > 0
    assert RunConfig.decisive(run.results["config"]) != RunConfig.decisive(plain.results["config"])
    assert len(list((tmp_path / "cache").iterdir())) == 2


@pytest.fixture(scope="module")
def sharded_run(causal_lm_path, tmp_path_factory) -> tuple[Path, int]:
    """A run of the tiny causal LM through the CLI with every loading option; its folder and CPU budget."""
    out = tmp_path_factory.mktemp("sharded") / "run"
    budget = weights_bytes(Path(causal_lm_path)) // 2
    code = main(
        ["run", "--model", str(causal_lm_path), "--tasks", "sstorycloze", "--settings", "text", "--dataset"]
        + ["samples", "--limit", "4", "--device", "cpu", "--bootstrap", "10", "--no-progress", "--output", str(out)]
        + ["--device-map", "auto", "--max-memory", f"cpu={budget}", "--model-kwargs", "use_safetensors=true"]
    )
    assert code == 0
    return out, budget


def test_run_records_the_loading_options_and_validates(sharded_run):
    """results.json records the canonical options and passes its own schema."""
    out, budget = sharded_run
    config = json.loads((out / "results.json").read_text(encoding="utf-8"))["config"]
    recorded = (config["device_map"], config["max_memory"], config["model_kwargs"])
    assert recorded == ("auto", [f"cpu={budget}"], ["use_safetensors=true"])
    assert main(["validate", str(out)]) == 0


def test_older_results_without_the_loading_options_still_parse(sharded_run):
    data = json.loads((sharded_run[0] / "results.json").read_text(encoding="utf-8"))
    for name in ("device_map", "max_memory", "model_kwargs"):
        del data["config"][name]
    config = results.RunResults.model_validate(data).config
    assert (config.device_map, config.max_memory, config.model_kwargs) == (None, [], [])


def test_rerun_loads_the_submission_the_checkers_way(sharded_run, causal_lm_path, monkeypatch):
    """validate --rerun: the model options come from the submission (model_kwargs), where and how it is spread over
    devices from the person checking; the re-scored numbers agree."""
    out, budget = sharded_run
    seen = _loads_seen(rerun, monkeypatch)
    checker = ["--model", str(causal_lm_path), "--device", "cpu", "--device-map", "sequential"]
    code = main(["validate", str(out), "--rerun", "3", "--rerun-seed", "0", *checker, "--max-memory", f"cpu={budget}"])
    assert code == 0
    assert seen[0]["model_kwargs"] == {"use_safetensors": True}
    assert (seen[0]["device_map"], seen[0]["max_memory"]) == ("sequential", {"cpu": budget})


def test_rerun_takes_no_loading_mechanism_from_a_submission(sharded_run, causal_lm_path, tmp_path, capsys):
    """A submission that recorded a model keyword outside `rerun.SUBMITTED_MODEL_KWARGS` (here a path) is not
    re-scored with it: one line asks the checker for --model-kwargs, and nothing is loaded."""
    data = json.loads((sharded_run[0] / "results.json").read_text(encoding="utf-8"))
    data["config"]["model_kwargs"] = ["cache_dir=/home/checker/.ssh", "use_safetensors=true"]
    crafted = tmp_path / "crafted"
    shutil.copytree(sharded_run[0], crafted, ignore=shutil.ignore_patterns("cache"))
    (crafted / "results.json").write_text(json.dumps(data), encoding="utf-8")
    check = ["validate", str(crafted), "--rerun", "2", "--model", str(causal_lm_path), "--device", "cpu"]
    code = main(check)
    err = capsys.readouterr().err
    assert code == 2 and "cache_dir (--model-kwargs), which is never taken from a submission" in err, err
    assert main([*check, "--model-kwargs", "use_safetensors=true"]) == 0


def test_max_memory_without_device_map_exits_2_with_one_line(causal_lm_path, tmp_path, capsys):
    code = main(["run", "--model", str(causal_lm_path), "--max-memory", "cpu=1GiB", "--output", str(tmp_path / "x")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and "add --device-map auto" in err, err
    assert not (tmp_path / "x").exists()


def test_no_device_map_no_offload_folder(causal_lm_path):
    """Without a device map the model is moved whole to the device and no offload folder is made."""
    whole = load_scorer(str(causal_lm_path), device="cpu")
    assert not whole.placed_by_loading() and "offload_folder" not in whole.model_kwargs()
    assert whole._offload is None


# ------------------------------------------------------------------------- tensor parallelism (tp_plan=auto, torchrun)

TEXT_RUN = ["--tasks", "sstorycloze", "--settings", "text", "--dataset", "samples", "--limit", "8", "--device", "cpu"]
TEXT_RUN += ["--bootstrap", "10", "--no-progress", "--batch-size", "4"]

SPLIT_CHECK = """
import sys
from torch.distributed.tensor import DTensor
from s2sbench_hf.scoring.registry import load_scorer
scorer = load_scorer(sys.argv[1], device="cpu", dtype="float32", model_kwargs={"tp_plan": "auto"})
weight = scorer.model.model.layers[0].self_attn.q_proj.weight
assert isinstance(weight, DTensor), type(weight)
assert weight.to_local().shape[0] * 2 == weight.shape[0], (weight.to_local().shape, weight.shape)
assert str(scorer.device) == "cpu"
"""
"""Run in each of 2 processes: the layers of a model loaded with tp_plan=auto hold half their rows in each."""


def _torchrun(*args: str) -> None:
    """``args`` under ``torchrun --nproc-per-node 2`` (CPU, gloo), checked."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", *args]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env.pop("PYTEST_CURRENT_TEST", None)
    done = subprocess.run(cmd, check=False, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.slow
def test_tensor_parallel_on_two_cpu_processes_scores_as_one(causal_lm_path, tmp_path):
    """tp_plan=auto on 2 CPU processes (gloo): each holds half of each layer, both score every batch, the main one
    alone caches and writes, and the scores equal one process's."""
    script = tmp_path / "split_check.py"
    script.write_text(SPLIT_CHECK, encoding="utf-8")
    _torchrun(str(script), str(causal_lm_path))
    one, two = tmp_path / "one", tmp_path / "two"
    assert main(["run", "--model", str(causal_lm_path), *TEXT_RUN, "--output", str(one)]) == 0
    model = ["--model", str(causal_lm_path), "--model-kwargs", "tp_plan=auto"]
    _torchrun("-m", "s2sbench_hf", "run", *model, *TEXT_RUN, "--output", str(two))
    split = results.read_results(two)
    assert split["compute"]["processes"] == 2 and split["compute"]["records_scored"] == 8 * 2
    assert [p.name for p in two.glob("cache/*/records-rank*.jsonl")] == ["records-rank0.jsonl"]
    rows = [[json.loads(line) for line in (run / "samples_sstorycloze.jsonl").open()] for run in (one, two)]
    assert [r["item_id"] for r in rows[0]] == [r["item_id"] for r in rows[1]]
    assert relative_deviation([r["nll_sum"] for r in rows[1]], [r["nll_sum"] for r in rows[0]]) < REL_TOL


def test_tensor_parallel_in_one_process_says_to_use_torchrun(causal_lm_path, tmp_path, capsys):
    code = main(["run", "--model", str(causal_lm_path), *TEXT_RUN, "--model-kwargs", "tp_plan=auto"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "start the run with torchrun --nproc-per-node N" in err, err
