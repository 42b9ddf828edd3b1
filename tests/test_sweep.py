"""`s2sbench sweep`: steps from names, one evaluation per new checkpoint, the table, the plots, the report."""

from __future__ import annotations

import csv
import json
import re

import pytest
from test_speech_lm_data import fake_salmon, hub_cache  # noqa: F401  (hub_cache: a fixture)

from s2sbench_hf import render, report, results, runner, sweep
from s2sbench_hf.cli import main
from s2sbench_hf.options import RunConfig
from s2sbench_hf.sweep import Checkpoint, SweepError, step_from_name
from s2sbench_hf.tasks import UTTERANCE
from s2sbench_hf.testing import make_tiny_model

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_step_rules():
    assert step_from_name("ckpt_stage1_lr3e-4_3000") == 3000  # reference: the third field after "ckpt"
    assert step_from_name("ckpt_1_2_40_extra") == 40
    assert step_from_name("checkpoint-1200") == 1200  # transformers Trainer
    assert step_from_name("model_step750", r"step(\d+)") == 750
    assert step_from_name("run-a.s9000", r"s(?P<step>\d+)$") == 9000
    with pytest.raises(SweepError, match=r"ckpt_<a>_<b>_<step>.*checkpoint-<step>.*--step-regex"):
        step_from_name("final")
    with pytest.raises(SweepError, match="does not match --step-regex"):
        step_from_name("ckpt_a_b_10", r"step(\d+)")


def test_checkpoints_are_found_in_step_order_and_clashes_are_refused(tmp_path):
    for name in ("ckpt_a_b_1000", "ckpt_a_b_200", "ckpt_a_b_30", "notes.txt"):
        (tmp_path / name).mkdir() if name.startswith("ckpt") else (tmp_path / name).write_text("x")
    found = sweep.find_checkpoints(str(tmp_path / "*"))
    assert [c.step for c in found] == [30, 200, 1000]  # numeric, not lexical, order; files ignored
    with pytest.raises(SweepError, match="no checkpoint folders match"):
        sweep.find_checkpoints(str(tmp_path / "nothing_*"))
    (tmp_path / "checkpoint-200").mkdir()
    with pytest.raises(SweepError, match="both have step 200"):
        sweep.find_checkpoints([str(tmp_path / "ckpt_*"), str(tmp_path / "checkpoint-*")])


def test_a_stored_run_counts_only_with_the_same_configuration():
    config = RunConfig(model="m", tasks=["sstorycloze"], dataset="samples", limit=3, device="cpu", n_bootstrap=50)
    stored = {"results": {"sstorycloze": {}}, "config": {**sweep.decisive_config(config), "batch_size": 99}}
    assert sweep._matches(stored, config, None)  # the batch size does not change the numbers
    assert not sweep._matches({**stored, "config": {**stored["config"], "limit": 4}}, config, None)
    assert not sweep._matches({**stored, "results": {}}, config, None)  # incomplete


@pytest.fixture(scope="module")
def sweep_setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("train-run")
    for seed, step in ((1, 100), (2, 1000), (3, 250)):  # written out of order; lexical order differs too
        make_tiny_model("qwen2-audio", root / f"ckpt_stage1_bs8_{step}", seed=seed)
    return root, tmp_path_factory.mktemp("sweep-out")


@pytest.fixture
def count_evaluations(monkeypatch):
    evaluated, loads = [], []
    real_evaluate, real_load = runner.evaluate_model, runner.load_scorer

    def evaluate(config, *args, **kwargs):
        evaluated.append(config.model)
        return real_evaluate(config, *args, **kwargs)

    def load(*args, **kwargs):
        loads.append(args[0])
        return real_load(*args, **kwargs)

    monkeypatch.setattr(runner, "evaluate_model", evaluate)
    monkeypatch.setattr(runner, "load_scorer", load)
    return evaluated, loads


def _sweep(root, out):
    return main(
        [
            "sweep",
            "--checkpoints",
            str(root / "ckpt_*"),
            "--tasks",
            "sstorycloze",
            "scmmlu",
            "--dataset",
            "samples",
            "--limit",
            "3",
            "--device",
            "cpu",
            "--bootstrap",
            "50",
            "--output",
            str(out),
            "--no-progress",
        ]
    )


@pytest.mark.slow
def test_sweep_evaluates_each_checkpoint_once_and_only_new_ones_later(sweep_setup, count_evaluations):
    root, out = sweep_setup
    evaluated, loads = count_evaluations
    assert _sweep(root, out) == 0
    assert [p.rsplit("_", 1)[1] for p in evaluated] == ["100", "250", "1000"]
    assert len(loads) == 3  # each checkpoint loaded once for both tasks and both settings

    with (out / "sweep.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [(int(r["step"]), r["task"]) for r in rows] == [
        (100, "sstorycloze"),
        (100, "scmmlu"),
        (250, "sstorycloze"),
        (250, "scmmlu"),
        (1000, "sstorycloze"),
        (1000, "scmmlu"),
    ]
    data = sweep.read_sweep(out)
    assert data["steps"] == [100, 250, 1000]
    for row in data["rows"]:  # the table holds each checkpoint's own results
        stored = results.read_results(out / "checkpoints" / row["checkpoint"])["results"][row["task"]]
        assert row["text_accuracy"] == stored["settings"]["text"]["accuracy"]
        assert row["degradation"] == stored["degradation"]["gap"]
        assert row["degradation_ci_low"] == stored["degradation"]["gap_ci"][0]
        assert row["audio_answer_loss"] == stored["settings"]["audio"]["answer_loss"]
    for task_id in ("sstorycloze", "scmmlu"):
        png = out / "plots" / f"sweep_{task_id}.png"
        assert png.read_bytes()[:8] == PNG_MAGIC and png.stat().st_size > 20_000
    assert (out / "report.md").is_file() and (out / "report.html").is_file()

    # training went on: a fourth checkpoint; only it is evaluated
    make_tiny_model("qwen2-audio", root / "ckpt_stage1_bs8_1500", seed=4)
    evaluated.clear(), loads.clear()
    assert _sweep(root, out) == 0
    assert [p.rsplit("_", 1)[1] for p in evaluated] == ["1500"]
    assert len(loads) == 1
    data = sweep.read_sweep(out)
    assert data["steps"] == [100, 250, 1000, 1500]
    assert [c["evaluated_now"] for c in data["checkpoints"]] == [False, False, False, True]
    assert [r["step"] for r in data["rows"] if r["task"] == "scmmlu"] == [100, 250, 1000, 1500]


@pytest.mark.slow
def test_sweep_report_opens_in_chromium_with_its_plots(sweep_setup):
    from browser import render_dom, require_chromium

    require_chromium()
    root, out = sweep_setup
    if not (out / "report.html").is_file():  # the sweep test ran in another worker process (pytest -n)
        assert _sweep(root, out) == 0
    dom = render_dom(out / "report.html")
    body = re.search(r"<body[^>]*>", dom).group(0)
    assert 'data-images-loaded="true"' in body
    assert 'data-image-count="2"' in body  # one figure per task
    assert dom.count("<table") == 2 and "ckpt_stage1_bs8_250" in dom


def test_a_checkpoint_name_without_a_step_is_a_clear_cli_error(tmp_path, capsys):
    (tmp_path / "final_model").mkdir()
    code = main(["sweep", "--checkpoints", str(tmp_path / "*"), "--output", str(tmp_path / "out"), "--no-progress"])
    assert code == 2
    assert "cannot read a training step from checkpoint 'final_model'" in capsys.readouterr().err


def test_sweep_rows_split_intervals():
    res = {
        "results": {
            "scmmlu": {
                "n_items": 2,
                "settings": {
                    "text": {"accuracy": 0.5, "accuracy_ci": [0.25, 0.75], "argmin_accuracy": 0.5, "n_comparisons": 6},
                },
            }
        }
    }
    (row,) = sweep.sweep_rows([(Checkpoint(7, "ckpt_a_b_7", None), res)])
    assert row["step"] == 7 and row["text_accuracy_ci_low"] == 0.25 and row["text_accuracy_ci_high"] == 0.75
    assert row["audio_accuracy"] is None and row["degradation"] is None
    assert json.loads(json.dumps(row)) == row


def test_a_bar_across_the_checkpoints_and_none_with_no_progress(tmp_path, monkeypatch, capsys):
    """The sweep's own bars: one across the checkpoints evaluated now, and the bar of a checkpoint folder hashed to
    see whether it changed since its stored run (the hashing threshold lowered here); --no-progress shows neither."""
    from s2sbench_hf import model_identity

    monkeypatch.setattr(model_identity, "HASH_PROGRESS_BYTES", 1)
    # each checkpoint "evaluated" at once, as by a process other than the main one (which writes nothing)
    monkeypatch.setattr(
        runner, "evaluate_model", lambda config, **kwargs: runner.RunOutput(results={}, config=config, is_main=False)
    )
    train, out = tmp_path / "train", tmp_path / "out"
    config = RunConfig(model="m", tasks=["sstorycloze"], dataset="samples", device="cpu")
    for step in (100, 250):
        (train / f"checkpoint-{step}").mkdir(parents=True)
        (train / f"checkpoint-{step}" / "model.safetensors").write_bytes(bytes(1000))
        stored = {  # a stored run of this configuration, on other weights: hashed, then evaluated again
            "results": {"sstorycloze": {}},
            "config": sweep.decisive_config(config),
            "model": {"content_hash": "sha256:" + "0" * 64},
        }
        (out / "checkpoints" / f"checkpoint-{step}").mkdir(parents=True)
        (out / "checkpoints" / f"checkpoint-{step}" / "results.json").write_text(json.dumps(stored))
    command = ["sweep", "--checkpoints", str(train / "checkpoint-*"), "--tasks", "sstorycloze", "--dataset", "samples"]
    command += ["--device", "cpu", "--output", str(out)]

    monkeypatch.setenv("S2SBENCH_CACHE", str(tmp_path / "cache-quiet"))
    assert main([*command, "--no-progress"]) == 0
    assert capsys.readouterr().err == ""

    monkeypatch.setenv("S2SBENCH_CACHE", str(tmp_path / "cache-shown"))  # nothing remembered: hashed again
    assert main(command) == 0
    err = capsys.readouterr().err
    assert "hashing checkpoint-100:" in err and "hashing checkpoint-250:" in err
    assert re.search(r"checkpoints: +0%.*0/2.*checkpoint-100", err)  # the one being evaluated
    assert re.search(r"checkpoints: +100%.*2/2", err)


def test_a_sweep_of_a_speech_lm_set_tables_and_plots_its_utterance_accuracy(
    hub_cache,  # noqa: F811
    tmp_path,
    count_evaluations,
):
    """A sweep read its columns and curves from ``--settings`` (text, audio), which never lists the one
    setting of a speech-LM set, so a sweep of SALMon on two tiny Moshi checkpoints had empty columns and an empty
    plot; the table now has the settings its runs scored (``utterance``), and a second call evaluates nothing."""
    fake_salmon(hub_cache)
    for seed, step in ((1, 100), (2, 200)):
        make_tiny_model("moshi", tmp_path / "train" / f"checkpoint-{step}", seed=seed)
    out = tmp_path / "out"
    command = ["sweep", "--checkpoints", str(tmp_path / "train" / "checkpoint-*"), "--tasks", "salmon_bg_alignment"]
    command += ["--dataset", "slprl/SALMon", "--device", "cpu", "--bootstrap", "20", "--output", str(out)]
    assert main([*command, "--no-progress"]) == 0
    data = sweep.read_sweep(out)
    assert data["settings"] == [UTTERANCE] and data["config"]["settings"] == ["text", "audio"]
    with (out / "sweep.csv").open() as handle:
        table = list(csv.DictReader(handle))
    assert "utterance_accuracy" in table[0] and "text_accuracy" not in table[0]
    for row, line in zip(data["rows"], table, strict=True):
        stored = results.read_results(out / "checkpoints" / row["checkpoint"])["results"]["salmon_bg_alignment"]
        assert (
            row["utterance_accuracy"] == stored["settings"][UTTERANCE]["accuracy"] == float(line["utterance_accuracy"])
        )
        assert row["utterance_accuracy_ci_low"] == stored["settings"][UTTERANCE]["accuracy_ci"][0]
        assert row["degradation"] is None and line["degradation"] == ""
    assert [(r["step"], r["n_items"]) for r in data["rows"]] == [(100, 3), (200, 3)]
    assert (out / "plots" / "sweep_salmon_bg_alignment.png").read_bytes()[:8] == PNG_MAGIC
    evaluated, _loads = count_evaluations
    assert len(evaluated) == 2
    assert main([*command, "--no-progress"]) == 0 and len(evaluated) == 2  # both done: nothing evaluated again
    page = render.markdown(report.sweep_report(out))
    assert "settings: utterance;" in page and "utterance acc % [95% CI]" in page and "text acc %" not in page
