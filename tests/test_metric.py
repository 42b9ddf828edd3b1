"""The `evaluate` module in metric/s2sbench/: loads offline, model mode = `s2sbench run`, scores mode = protocol."""

from __future__ import annotations

import errno
import json
import math
import shutil
import sys
from pathlib import Path

import evaluate
import evaluate.config
import numpy as np
import pytest
from conftest import CLI_RUN
from evaluate.loading import CachedEvaluationModuleFactory
from test_speech_lm_data import fake_salmon, hub_cache  # noqa: F401  (hub_cache: a fixture)

from s2sbench_hf import evaluate_metric, metric_module, metrics, protocol, results, runner
from s2sbench_hf.cli import main
from s2sbench_hf.options import ModelSpec, OptionError
from s2sbench_hf.scoring import registry
from s2sbench_hf.tasks import TASKS, UTTERANCE
from s2sbench_hf.testing import make_tiny_model

METRIC_DIR = Path(__file__).resolve().parents[1] / "metric" / "s2sbench"
TASK_IDS, LIMIT, BOOTSTRAP = CLI_RUN["tasks"], CLI_RUN["limit"], CLI_RUN["bootstrap"]


@pytest.fixture(scope="module")
def metric():
    return evaluate.load(str(METRIC_DIR))


@pytest.fixture
def count_loads(monkeypatch):
    """Count model loads, wherever they come from (the metric's cache or the runner)."""
    evaluate_metric.SCORER_CACHE.clear()
    calls = []
    real = registry.load_scorer

    def counting(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(registry, "load_scorer", counting)
    monkeypatch.setattr(runner, "load_scorer", counting)
    yield calls
    evaluate_metric.SCORER_CACHE.clear()


def _expected(run_results: dict, task_id: str) -> dict:
    return _numbers(metrics.flatten_task(run_results["results"][task_id]))


def _numbers(flat: dict) -> dict:
    """A task's metrics without ``n_failed`` (which only a model run knows)."""
    return {k: v for k, v in flat.items() if k != "n_failed"}


def test_module_loads_offline_with_its_name_and_features(metric):
    assert metric.name == "s2sbench"
    assert set(metric.features) == {"references", "text_scores", "audio_scores"}
    assert "Scores mode" in metric.inputs_description and "S2SBench" in metric.citation
    # app.py loads the module file itself, as a Space does
    assert evaluate.load(str(METRIC_DIR / "s2sbench.py"), module_type="metric").name == "s2sbench"


def test_module_imports_one_per_line_and_card_has_the_space_header():
    source = (METRIC_DIR / "s2sbench.py").read_text(encoding="utf-8")
    for line in source.splitlines():
        if line.startswith("import "):
            assert "," not in line, f"evaluate's dependency check needs one import per line: {line!r}"
    card = (METRIC_DIR / "README.md").read_text(encoding="utf-8")
    header = card.split("---")[1]
    for key in (
        "title:",
        "emoji:",
        "colorFrom:",
        "colorTo:",
        "sdk: gradio",
        "sdk_version:",
        "app_file: app.py",
        "pinned: false",
        "- evaluate",
        "- metric",
        "description:",
    ):
        assert key in header, key
    for section in ("## How to Use", "### Inputs", "### Output Values", "## Limitations and Bias", "## Citation"):
        assert section in card, section
    assert "s2sbench-hf" in (METRIC_DIR / "requirements.txt").read_text(encoding="utf-8")


def test_model_mode_equals_cli_run_and_loads_once(metric, cli_run, qwen2_audio_path, count_loads):
    run_results = results.read_results(cli_run)
    kwargs = dict(
        model_id=str(qwen2_audio_path),
        tasks=TASK_IDS,
        dataset="samples",
        settings=["text", "audio"],
        limit=LIMIT,
        device="cpu",
        n_bootstrap=BOOTSTRAP,
        progress=False,
    )  # the run's (automatic) batch sizes
    first = metric.compute(**kwargs)
    assert len(count_loads) == 1
    for task_id in TASK_IDS:
        assert _numbers(first["tasks"][task_id]) == _expected(run_results, task_id)
    assert first["text_accuracy"] == run_results["overall"]["settings"]["text"]["accuracy"]
    assert first["audio_accuracy"] == run_results["overall"]["settings"]["audio"]["accuracy"]
    assert first["degradation"] == pytest.approx(first["text_accuracy"] - first["audio_accuracy"])
    assert first["tasks"]["scmmlu"]["degradation_ci"][0] <= first["tasks"]["scmmlu"]["degradation_ci"][1]

    # a second compute with the same model id, on a new metric instance too, does not load again
    again = evaluate.load(str(METRIC_DIR)).compute(**{**kwargs, "tasks": ["sstorycloze"], "limit": 2})
    assert len(count_loads) == 1
    assert again["tasks"]["sstorycloze"]["n_items"] == 2
    # another dtype is another model: loaded (and the old one dropped: one model is kept)
    evaluate_metric.SCORER_CACHE.get(ModelSpec(str(qwen2_audio_path), device="cpu", dtype="bfloat16"))
    assert len(count_loads) == 2 and len(evaluate_metric.SCORER_CACHE) == 1


def test_model_mode_refuses_an_output_dir_with_a_users_files_before_loading(qwen2_audio_path, tmp_path, count_loads):
    """output_dir holding a report.md no run wrote: refused as `s2sbench run --output` is, nothing loaded or lost."""
    (tmp_path / "report.md").write_text("the user's")
    with pytest.raises(runner.RunFolderError, match="no s2sbench run wrote there"):
        evaluate_metric.compute_model(str(qwen2_audio_path), output_dir=str(tmp_path), dataset="samples", limit=2)
    assert count_loads == [] and (tmp_path / "report.md").read_text() == "the user's"


def test_model_mode_with_a_loaded_model_and_processor(metric, cli_run, qwen2_audio_path, count_loads):
    from transformers import AutoProcessor, Qwen2AudioForConditionalGeneration

    model = Qwen2AudioForConditionalGeneration.from_pretrained(qwen2_audio_path).eval()
    processor = AutoProcessor.from_pretrained(qwen2_audio_path)
    out = metric.compute(
        model=model,
        processor=processor,
        tasks=["sstorycloze"],
        dataset="samples",
        limit=LIMIT,
        n_bootstrap=BOOTSTRAP,
        progress=False,
    )
    assert count_loads == []
    assert out["model"]["adapter"] == "qwen2-audio"
    assert _numbers(out["tasks"]["sstorycloze"]) == _expected(results.read_results(cli_run), "sstorycloze")


def _score_matrices(cli_run: Path, task_id: str) -> tuple[list[int], dict[str, list[list[float]]]]:
    """Per item (in the run's order) the mean NLL of each choice per setting, and the answer index."""
    rows = [json.loads(line) for line in (cli_run / f"samples_{task_id}.jsonl").read_text().splitlines()]
    k = TASKS[task_id].num_choices
    order = list(dict.fromkeys(r["item_id"] for r in rows))
    scores = {s: [[0.0] * k for _ in order] for s in ("text", "audio")}
    labels = [0] * len(order)
    for r in rows:
        i = order.index(r["item_id"])
        scores[r["setting"]][i][r["choice"]] = r["nll_sum"] / r["n_tokens"]
        if r["is_answer"]:
            labels[i] = r["choice"]
    return labels, scores


@pytest.mark.parametrize("task_id", TASK_IDS)
def test_scores_mode_equals_the_run(metric, cli_run, task_id):
    labels, scores = _score_matrices(cli_run, task_id)
    out = metric.compute(
        predictions=None,
        references=labels,
        text_scores=scores["text"],
        audio_scores=scores["audio"],
        task=task_id,
        n_bootstrap=BOOTSTRAP,
        scores_are_losses=True,
    )
    assert out["tasks"][task_id] == _expected(results.read_results(cli_run), task_id)


def test_scores_mode_streaming_and_ties_follow_the_protocol(metric):
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 4, size=30)
    text = rng.integers(0, 3, size=(30, 4)).astype(float)  # small integers: many exact ties
    audio = rng.integers(0, 3, size=(30, 4)).astype(float)
    for start in range(0, 30, 7):
        metric.add_batch(
            references=labels[start : start + 7].tolist(),
            text_scores=text[start : start + 7].tolist(),
            audio_scores=audio[start : start + 7].tolist(),
        )
    streamed = metric.compute(n_bootstrap=BOOTSTRAP)  # 4 choices: scmmlu's rule (a tie is right)
    at_once = metric.compute(
        references=labels.tolist(),
        text_scores=text.tolist(),
        audio_scores=audio.tolist(),
        task="scmmlu",
        n_bootstrap=BOOTSTRAP,
    )
    assert streamed == at_once
    task = at_once["tasks"]["scmmlu"]
    assert task["text_accuracy"] == protocol.pairwise_accuracy(text, labels, tie=1.0)
    assert task["audio_accuracy"] == protocol.pairwise_accuracy(audio, labels, tie=1.0)
    assert task["degradation"] == protocol.gap(task["text_accuracy"], task["audio_accuracy"])
    direct = metrics.summarize_scores(TASKS["scmmlu"], {"text": text, "audio": audio}, labels, n_bootstrap=BOOTSTRAP)
    assert task["degradation_ci"] == direct["degradation"]["gap_ci"]
    assert task["degradation_p_value"] == direct["degradation"]["test"]["p_value"]

    # two choices: the story rule (a tie is wrong); half credit on request
    story = metric.compute(
        references=[0, 0, 1],
        text_scores=[[1.0, 1.0], [1.0, 2.0], [2.0, 1.0]],
        audio_scores=[[1.0, 1.0], [2.0, 1.0], [1.0, 1.0]],
        n_bootstrap=BOOTSTRAP,
    )
    assert story["tasks"]["sstorycloze"]["text_accuracy"] == pytest.approx(2 / 3)
    assert story["tasks"]["sstorycloze"]["audio_accuracy"] == 0.0
    half = metric.compute(
        references=[0, 0, 1],
        text_scores=[[1.0, 1.0], [1.0, 2.0], [2.0, 1.0]],
        audio_scores=[[1.0, 1.0], [2.0, 1.0], [1.0, 1.0]],
        tie_policy="half",
        n_bootstrap=BOOTSTRAP,
    )
    assert half["tasks"]["sstorycloze"]["text_accuracy"] == pytest.approx(2.5 / 3)


def test_scores_mode_rejects_inconsistent_inputs(metric):
    with pytest.raises(ValueError, match="choices per item"):
        metric.compute(references=[0], text_scores=[[1.0, 2.0]], audio_scores=[[1.0, 2.0]], task="scmmlu")
    with pytest.raises(ValueError):
        metric.compute(references=[0, 1], text_scores=[[1.0, 2.0]], audio_scores=[[1.0, 2.0]])
    with pytest.raises(ValueError, match="no S2SBench task has 3 choices"):
        metric.compute(references=[0], text_scores=[[1.0, 2.0, 3.0]], audio_scores=[[1.0, 2.0, 3.0]])
    with pytest.raises(ValueError, match="model_id"):
        evaluate_metric.compute_model()


GOOD = {"references": [0, 1], "text_scores": [[1.0, 2.0], [2.0, 1.0]], "audio_scores": [[1.0, 2.0], [1.0, 2.0]]}


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"references": [0, 1.7]}, "references[1] is 1.7, not an answer index"),
        ({"references": [0, None]}, "references[1] is None, not an answer index"),
        ({"references": [0, 2]}, "references[1] is 2.0, not an answer index"),
        ({"text_scores": [[1.0, math.inf], [2.0, 1.0]]}, "text_scores[0][1] is inf, not a finite number"),
        ({"audio_scores": [[1.0, 2.0], [-math.inf, 1.0]]}, "audio_scores[1][0] is -inf, not a finite number"),
        ({"text_scores": [[1.0, 2.0], [None, 1.0]]}, "text_scores[1][0] is None, not a finite number"),
        ({"audio_scores": [[math.nan, 2.0], [1.0, 2.0]]}, "audio_scores[0][0] is nan, not a finite number"),
    ],
)
def test_scores_mode_names_the_row_of_a_bad_input_and_says_what_to_do(metric, change, words):
    """Through evaluate (which would truncate 1.7 to 1 under an int64 feature), a label that is not an index, an
    infinite, NaN or missing score: a ValueError naming the row, never a rounded label or a bare TypeError."""
    with pytest.raises(ValueError, match=r"give ") as caught:
        metric.compute(**{**GOOD, **change}, n_bootstrap=BOOTSTRAP)
    assert words in str(caught.value)


def test_scores_mode_checks_the_direct_call_too_and_takes_integral_floats():
    for references in ([0, True], [0, "1"], [0, 1.5]):
        with pytest.raises(evaluate_metric.MetricInputError, match=r"references\[1\]"):
            evaluate_metric.compute_scores(references, GOOD["text_scores"], GOOD["audio_scores"], n_bootstrap=10)
    with pytest.raises(evaluate_metric.MetricInputError, match=r"text_scores\[0\] is 1.0, not a list"):
        evaluate_metric.compute_scores([0, 1], [1.0, 2.0], GOOD["audio_scores"], n_bootstrap=10)
    as_floats = evaluate_metric.compute_scores([0.0, 1.0], GOOD["text_scores"], GOOD["audio_scores"], n_bootstrap=10)
    assert as_floats == evaluate_metric.compute_scores(**GOOD, n_bootstrap=10)
    assert as_floats["text_accuracy"] == 1.0 and as_floats["audio_accuracy"] == 0.5


@pytest.mark.parametrize(
    ("option", "value"),
    [("n_bootstrap", 0), ("n_bootstrap", 10**5), ("seed", -1), ("seed", 2**64), ("tie_policy", "x")],
)
def test_scores_mode_takes_the_summary_options_within_a_runs_bounds(option, value):
    """The scores mode's summary options are checked by `options.SummaryOptions`, as a run's and `score`'s are."""
    with pytest.raises(OptionError, match=f"invalid scoring options: {option} "):
        evaluate_metric.compute_scores(**{**GOOD, option: value})


# --------------------------------------------------------------- metric install


@pytest.fixture
def salmon_run(metric, hub_cache, tmp_path, count_loads) -> tuple[dict, dict]:  # noqa: F811
    """The metric's output for a tiny Moshi on the fake ``slprl/SALMon`` (both subsets), and the run's results.json
    (written with ``output_dir``)."""
    fake_salmon(hub_cache)
    moshi = make_tiny_model("moshi", tmp_path / "moshi")
    out = metric.compute(
        model_id=str(moshi),
        tasks=["salmon"],
        dataset="slprl/SALMon",
        device="cpu",
        n_bootstrap=BOOTSTRAP,
        progress=False,
        output_dir=str(tmp_path / "run"),
    )
    return out, results.read_results(tmp_path / "run")


def test_model_mode_gives_a_speech_lm_set_its_own_average_and_breakdown(salmon_run):
    """Issue 24: the utterance accuracy of a speech-LM set was only under ``tasks``, with nothing on top; it is now
    ``utterance_accuracy`` (``overall.utterance``), and the text and audio means stay empty (no continuation task)."""
    out, run_results = salmon_run
    salmon = run_results["results"]["salmon"]
    assert _numbers(out["tasks"]["salmon"]) == {
        **_expected(run_results, "salmon"),
        "breakdown": {
            "by": "subset",
            "groups": {
                value: {"n_items": group["n_items"], "utterance_accuracy": group["settings"][UTTERANCE]["accuracy"]}
                for value, group in salmon["breakdown"]["groups"].items()
            },
        },
    }
    assert sorted(out["tasks"]["salmon"]["breakdown"]["groups"]) == ["bg_alignment", "speaker_consistency"]
    assert out["utterance_accuracy"] == run_results["overall"]["utterance"]["accuracy"]
    assert out["utterance_accuracy"] == salmon["settings"][UTTERANCE]["accuracy"] and out["utterance_tasks"] == [
        "salmon"
    ]
    assert [out[k] for k in ("text_accuracy", "audio_accuracy", "degradation", "relative_degradation")] == [None] * 4


def test_a_run_of_both_kinds_keeps_the_utterance_accuracy_out_of_the_text_and_audio_means(salmon_run, cli_run):
    """A run that mixes S2SBench's tasks and a speech-LM set: the text and audio means and the degradation are
    S2SBench's alone, the same as without the set, and the set's accuracy is on top apart."""
    _, salmon = salmon_run
    s2sbench = results.read_results(cli_run)
    mixed = {**s2sbench, "results": {**s2sbench["results"], "salmon": salmon["results"]["salmon"]}}
    mixed["overall"] = metrics.overall(mixed["results"], s2sbench["config"]["gap"])
    out, alone = evaluate_metric.metric_output(mixed), evaluate_metric.metric_output(s2sbench)
    assert {k: v for k, v in out.items() if k not in ("tasks", "utterance_accuracy", "utterance_tasks")} == {
        k: v for k, v in alone.items() if k != "tasks"
    }
    assert out["utterance_accuracy"] == salmon["overall"]["utterance"]["accuracy"] and out["utterance_tasks"] == [
        "salmon"
    ]
    assert "utterance_accuracy" not in alone  # a run without a speech-LM set keeps its shape


def test_scores_mode_refuses_a_speech_lm_set_and_says_where_it_runs(metric):
    with pytest.raises(evaluate_metric.MetricInputError, match=r"'salmon' is a speech-LM set: .* model mode"):
        metric.compute(references=[0], text_scores=[[1.0, 2.0]], audio_scores=[[1.0, 2.0]], task="salmon")


@pytest.fixture
def modules_cache(tmp_path, monkeypatch) -> Path:
    """evaluate's modules cache in a folder of this test; returns the module's folder in it."""
    monkeypatch.setattr(evaluate.config, "HF_MODULES_CACHE", tmp_path / "modules")
    monkeypatch.setattr(sys, "path", list(sys.path))  # evaluate appends the cache folder to sys.path
    return tmp_path / "modules" / "evaluate_modules" / "metrics" / metric_module.CACHE_FOLDER


def _found() -> str:
    """The version (hash) that evaluate.load("s2sbench") loads offline: evaluate's own lookup."""
    return CachedEvaluationModuleFactory(metric_module.CACHE_FOLDER).get_module().hash


def _error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err, err
    return err


def test_install_interrupted_by_a_full_disk_leaves_the_installed_version_whole(
    modules_cache, tmp_path, monkeypatch, capsys
):
    older = tmp_path / "older"
    older.mkdir()
    source = METRIC_DIR / "s2sbench.py"
    (older / "s2sbench.py").write_text(source.read_text(encoding="utf-8") + "OLDER_RELEASE = True\n")
    monkeypatch.setattr(metric_module, "space_folder", lambda: older)
    installed = metric_module.install().module
    monkeypatch.setattr(metric_module, "space_folder", lambda: METRIC_DIR)

    def full_disk(src, dst, *args, **kwargs):
        Path(dst).write_bytes(Path(src).read_bytes()[:100])  # part of the file, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device", str(dst))

    with monkeypatch.context() as patch:
        patch.setattr(shutil, "copyfile", full_disk)
        assert main(["metric", "install"]) == 2
    line = _error_line(capsys)
    assert "No space left on device" in line and "unchanged" in line
    assert {p.name for p in modules_cache.iterdir()} == {"__init__.py", installed.parent.name}
    assert installed.read_bytes() == (older / "s2sbench.py").read_bytes()
    assert _found() == installed.parent.name  # evaluate.load still loads the older version

    assert main(["metric", "install"]) == 0  # disk freed: the new version is stored and found
    assert "repaired" not in capsys.readouterr().out
    new = metric_module.install().module
    assert new != installed and new.read_bytes() == source.read_bytes() and _found() == new.parent.name


def test_install_repairs_an_empty_module_and_broken_leftovers(modules_cache, capsys):
    installed = metric_module.install().module
    installed.write_bytes(b"")  # what a full disk left before installs were atomic
    (modules_cache / ("f" * 64)).mkdir()  # a version folder without its module breaks evaluate's lookup
    (modules_cache / f"{metric_module.STAGING_PREFIX}abc").mkdir()  # an interrupted install of this package
    with pytest.raises(FileNotFoundError):
        _found()

    assert main(["metric", "install"]) == 0
    out = capsys.readouterr().out
    assert out.count("repaired: removed") == 3 and str(installed.parent) in out
    assert installed.read_bytes() == (METRIC_DIR / "s2sbench.py").read_bytes()
    assert _found() == installed.parent.name
    assert {p.name for p in modules_cache.iterdir()} == {"__init__.py", installed.parent.name}
    assert metric_module.install().removed == []  # whole now: nothing more to repair
