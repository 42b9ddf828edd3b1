"""`s2sbench validate`: a real run passes; every way of breaking a submission is caught, all at once."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from fake_runs import make_run

from s2sbench_hf import metrics
from s2sbench_hf.cli import main
from s2sbench_hf.rerun import RerunError, pick_items, rerun_items
from s2sbench_hf.results import ResultsSchemaError, read_samples, results_problems, write_results, write_samples
from s2sbench_hf.tasks import get_task
from s2sbench_hf.validate import KINDS, DatasetResolver, validate_run


@pytest.fixture
def copy(cli_run, tmp_path):
    dst = tmp_path / "run"
    shutil.copytree(cli_run, dst)
    return dst


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _write_lines(path: Path, lines: list[str]) -> None:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _edit_results(folder: Path, edit) -> None:
    data = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    edit(data)
    (folder / "results.json").write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")


def test_a_real_run_is_valid(cli_run, capsys):
    report = validate_run(cli_run)
    assert report.valid, report.summary()
    assert set(report.recomputed) == {"sstorycloze", "scmmlu"}
    assert main(["validate", str(cli_run / "results.json")]) == 0
    assert "OK:" in capsys.readouterr().out


def test_every_problem_of_a_broken_submission_is_listed(copy, capsys):
    """Missing item, duplicated record, wrong metric, wrong fingerprint, malformed line: all five reported."""
    story = copy / "samples_sstorycloze.jsonl"
    lines = _lines(story)
    removed = json.loads(lines[3])
    duplicated = json.loads(lines[0])
    _write_lines(story, lines[:3] + lines[4:] + [lines[0]])
    mmlu = copy / "samples_scmmlu.jsonl"
    lines = _lines(mmlu)
    _write_lines(mmlu, lines[:5] + ['{"task": "scmmlu", "item_id": '] + lines[5:])

    def edit(data):
        data["results"]["scmmlu"]["settings"]["audio"]["accuracy"] += 0.25
        data["datasets"]["sstorycloze"]["fingerprint"] = "deadbeefdeadbeef"

    _edit_results(copy, edit)

    report = validate_run(copy)
    assert not report.valid
    assert {"missing_item", "duplicate_item", "metric_mismatch", "fingerprint_mismatch", "malformed"} <= report.kinds
    by_kind = {k: [p for p in report.problems if p.kind == k] for k in report.kinds}
    missing = by_kind["missing_item"]
    assert [(p.task, p.item_id) for p in missing] == [("sstorycloze", removed["item_id"])]
    assert f"{removed['setting']}/choice {removed['choice']}" in missing[0].message
    assert [(p.task, p.item_id) for p in by_kind["duplicate_item"]] == [("sstorycloze", duplicated["item_id"])]
    assert any(p.task == "scmmlu" and "settings.audio.accuracy" in p.message for p in by_kind["metric_mismatch"])
    assert by_kind["fingerprint_mismatch"][0].task == "sstorycloze"
    assert "line 6" in by_kind["malformed"][0].message

    assert main(["validate", str(copy)]) == 1
    err = capsys.readouterr().err
    assert "INVALID" in err
    for kind in ("missing_item", "duplicate_item", "metric_mismatch", "fingerprint_mismatch", "malformed"):
        assert f"[{kind}]" in err


def test_a_file_that_is_not_json_is_rejected(copy, capsys):
    (copy / "results.json").write_text('{"schema_version": "1.0", "model": ', encoding="utf-8")
    report = validate_run(copy)
    assert report.kinds == {"malformed"}
    assert main(["validate", str(copy), "--json"]) == 1
    printed = json.loads(capsys.readouterr().out)
    assert printed["valid"] is False and printed["problems"][0]["kind"] == "malformed"


def test_schema_and_identity_problems_are_all_listed(copy):
    def edit(data):
        data["schema_version"] = "9.9"
        del data["config"]["seed"]
        data["results"]["sstorycloze"]["settings"]["text"]["accuracy"] = "high"
        data["model"]["revision"] = None
        data["model"].pop("content_hash")
        data["config"]["tie_policy"] = "coin-flip"

    _edit_results(copy, edit)
    report = validate_run(copy)
    assert {"schema_version", "schema", "model_identity"} <= report.kinds
    text = "\n".join(str(p) for p in report.problems)
    assert "config.seed is missing" in text
    assert "results.sstorycloze.settings.text.accuracy should be a number" in text
    assert "coin-flip" in text
    assert "neither model.revision nor model.content_hash" in text


def test_records_that_disagree_with_the_dataset(copy):
    story = copy / "samples_sstorycloze.jsonl"
    rows = [json.loads(line) for line in _lines(story)]
    rows[0]["item_id"] = "no-such-item"
    rows[1]["is_answer"] = not rows[1]["is_answer"]
    rows[2]["continuation"] = "something else entirely"
    _write_lines(story, [json.dumps(r, ensure_ascii=False) for r in rows])
    report = validate_run(copy)
    assert {"unknown_item", "record_mismatch", "missing_item"} <= report.kinds
    unknown = [p for p in report.problems if p.kind == "unknown_item"]
    assert unknown[0].item_id == "no-such-item"
    mismatch = " ".join(p.message for p in report.problems if p.kind == "record_mismatch")
    assert "is_answer" in mismatch and "something else entirely" in mismatch


def test_a_dataset_that_cannot_be_loaded_is_a_problem(copy):
    def edit(data):
        data["config"]["dataset"] = "nobody/no-such-dataset"
        for info in data["datasets"].values():
            info["source"] = "nobody/no-such-dataset"

    _edit_results(copy, edit)
    report = validate_run(copy)
    assert "dataset_unavailable" in report.kinds
    assert [p.task for p in report.problems if p.kind == "dataset_unavailable"] == ["sstorycloze", "scmmlu"]


def test_a_dataset_path_is_never_read(copy, monkeypatch):
    """Issue 12 changed this rule: a source that is a path is a problem of its own, and nothing is loaded."""
    from s2sbench_hf.data import sources

    monkeypatch.setattr(sources, "load_task", lambda *a, **k: pytest.fail("a submission's path was loaded"))

    def edit(data):
        data["config"]["dataset"] = "/"
        for info in data["datasets"].values():
            info["source"] = "/"

    _edit_results(copy, edit)
    report = validate_run(copy)
    assert "dataset_source" in report.kinds and "dataset_unavailable" not in report.kinds
    assert "is not a Hub dataset id or 'samples'" in str(report.problems[0])


def test_an_item_reported_as_failed_may_be_absent(tmp_path):
    """A scoring failure the run declared is a warning; the metrics must still match the remaining items."""
    run = make_run(tmp_path / "run", "org/model", text=0.8, audio=0.6)
    story = run / "samples_sstorycloze.jsonl"
    rows = [json.loads(line) for line in _lines(story)]
    gone = rows[0]["item_id"]
    _write_lines(story, [json.dumps(r, ensure_ascii=False) for r in rows if r["item_id"] != gone])
    report = validate_run(run)
    assert "missing_item" in report.kinds and "metric_mismatch" in report.kinds

    def declare(data):
        data["errors"].append({"task": "sstorycloze", "item_id": gone, "problem": "CUDA out of memory", "fix": "-"})
        data["results"]["sstorycloze"].update(report.recomputed["sstorycloze"])
        data["overall"] = metrics.overall({t: data["results"][t] for t in data["config"]["tasks"]})

    _edit_results(run, declare)
    again = validate_run(run)
    assert again.valid, again.summary()
    # Issue 12 added the second warning: the dataset does not explain this error, so a board does not rank the run.
    assert [(w.kind, w.item_id) for w in again.warnings] == [("missing_item", gone), ("unexplained_error", None)]
    assert "CUDA out of memory" in again.warnings[1].message


def test_the_schema_lists_every_wrong_path(cli_run):
    data = json.loads((cli_run / "results.json").read_text(encoding="utf-8"))
    assert results_problems(data) == []
    data["model"]["num_parameters"] = 10**400
    data["model"]["params"] = float("inf")
    data["results"]["scmmlu"]["settings"]["text"]["accuracy_ci"] = [0.1, 0.2, 0.3]
    data["results"]["scmmlu"]["settings"]["audio"]["accuracy"] = 1.5
    data["config"]["settings"] = ["text", "smell"]
    data["errors"] = [{"task": "scmmlu", "item_id": "a\rb", "problem": "x", "fix": "y"}]
    paths = [path for path, _ in results_problems(data)]
    assert sorted(paths) == sorted(
        [
            "model.num_parameters",
            "model.params",
            "results.scmmlu.settings.text.accuracy_ci",
            "results.scmmlu.settings.audio.accuracy",
            "config.settings[1]",
            "errors[0].item_id",
        ]
    )
    assert {"malformed", "missing_item", "duplicate_item", "metric_mismatch", "fingerprint_mismatch"} <= set(KINDS)


def test_writer_and_validator_refuse_the_same_unknown_key(cli_run, copy, tmp_path):
    """One schema: a key the runner does not write fails the writer (in every test that saves a run) and validate."""
    data = json.loads((cli_run / "results.json").read_text(encoding="utf-8"))
    data["results"]["scmmlu"]["settings"]["text"]["bonus"] = 0.5
    with pytest.raises(ResultsSchemaError, match=r"results\.scmmlu\.settings\.text\.bonus is not a key"):
        write_results(tmp_path, data)
    assert not (tmp_path / "results.json").exists()
    _edit_results(copy, lambda d: d["results"]["scmmlu"]["settings"]["text"].update(bonus=0.5))
    report = validate_run(copy)
    assert report.kinds == {"schema"} and "settings.text.bonus" in report.problems[0].message


# ----------------------------------------------------------------------- re-scoring


def _fake_consistently(folder: Path, task_id: str, item_id: str) -> None:
    """Lower the answer's NLL of one item in the samples AND recompute results.json from them: validation passes."""
    records = [
        replace(r, nll_sum=r.nll_sum * 0.5) if r.item_id == item_id and r.is_answer else r
        for r in read_samples(folder / f"samples_{task_id}.jsonl")
    ]
    write_samples(folder, task_id, records)
    data = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    config = data["config"]
    summary = metrics.summarize_records(
        get_task(task_id),
        records,
        config["settings"],
        scoring_rule=config["scoring_rule"],
        tie_policy=config["tie_policy"],
        n_bootstrap=config["n_bootstrap"],
        seed=config["seed"],
    )
    summary.pop("item_ids")
    data["results"][task_id] = {**summary, "n_failed": data["results"][task_id]["n_failed"]}
    data["overall"] = metrics.overall(data["results"])
    write_results(folder, data)


def test_rerun_confirms_honest_records_and_catches_consistent_fakes(copy, qwen2_audio_path, capsys):
    drawn = pick_items(validate_run(copy), 2, seed=5)  # what --rerun 2 --rerun-seed 5 re-scores
    victim = drawn[0]
    _fake_consistently(copy, *victim)
    assert validate_run(copy).valid  # what validation alone cannot see
    code = main(
        [
            "validate",
            str(copy),
            "--rerun",
            "2",
            "--rerun-seed",
            "5",
            "--model",
            str(qwen2_audio_path),
            "--device",
            "cpu",
            "--tolerance",
            "1e-4",
            "--json",
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 1 and out["valid"] is True and out["rerun"]["valid"] is False
    assert [tuple(i) for i in out["rerun"]["items"]] == drawn
    assert out["rerun"]["compared"] == sum(2 * get_task(task).num_choices for task, _ in drawn)
    # The honest item agrees to 1e-4 (fp32 on CPU: only the batch differs); the faked one does not.
    assert {(p["kind"], p["task"], p["item_id"]) for p in out["rerun"]["problems"]} == {("rerun_mismatch", *victim)}


def test_rerun_never_loads_a_model_path_named_by_the_submission(cli_run):
    resolver = DatasetResolver()
    report = validate_run(cli_run, resolver=resolver)
    with pytest.raises(RerunError, match="--model PATH"):
        rerun_items(report, 2, resolver=resolver)
    assert pick_items(report, 5, seed=3) == pick_items(report, 5, seed=3) != pick_items(report, 5, seed=4)
