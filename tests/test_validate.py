"""`s2sbench validate`: a real run passes; every way of breaking a submission is caught, all at once."""

from __future__ import annotations

import json
import math
import re
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from attack_cases import copy_run, faked_except_the_draw, flipped_close_calls, recompute
from fake_runs import TASKS, make_run

from s2sbench_hf import metrics, rerun
from s2sbench_hf.cli import main
from s2sbench_hf.options import DEFAULT_RERUN_TOLERANCE, RerunOptions
from s2sbench_hf.rerun import RerunError, pick_items, rerun_items
from s2sbench_hf.results import ResultsSchemaError, read_samples, results_problems, write_results, write_samples
from s2sbench_hf.scoring.interface import ContinuationScore, Scorer
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


# ------------------------------------------------------------- records a model could have produced


@pytest.fixture(scope="module")
def honest(tmp_path_factory) -> Path:
    """A valid run of the fake model on 48 items (24 per task), both settings."""
    return make_run(tmp_path_factory.mktemp("honest") / "run", "org/model", text=0.8, audio=0.6, limit=24)


def _edit_record(folder: Path, task_id: str, n: int, edit) -> dict:
    """Apply ``edit`` to line ``n`` of a samples file; return the edited row."""
    path = folder / f"samples_{task_id}.jsonl"
    rows = [json.loads(line) for line in _lines(path)]
    edit(rows[n])
    _write_lines(path, [json.dumps(r, ensure_ascii=False) for r in rows])
    return rows[n]


def _negative(row: dict) -> None:
    """A negative NLL, with mean_nll and ppl derived from it as the writer does: only its sign is impossible."""
    row["nll_sum"] = -row["nll_sum"]
    row["mean_nll"] = row["nll_sum"] / row["n_tokens"]
    row["ppl"] = math.exp(row["mean_nll"])


RECORD_EDITS = {
    "negative nll_sum": (_negative, "impossible_record", "nll_sum is -"),
    "zero n_tokens": (lambda r: r.update(n_tokens=0), "malformed", "n_tokens is 0"),
    "fractional n_tokens": (lambda r: r.update(n_tokens=r["n_tokens"] + 0.5), "malformed", "should be an integer"),
    "NaN nll_sum": (lambda r: r.update(nll_sum=math.nan), "malformed", "nll_sum is NaN"),
    "infinite ppl": (lambda r: r.update(ppl=math.inf), "malformed", "ppl is Infinity"),
    "mean_nll off by 1e-6": (lambda r: r.update(mean_nll=r["mean_nll"] * (1 + 1e-6)), "record_mismatch", "mean_nll="),
    "ppl off by 1%": (lambda r: r.update(ppl=r["ppl"] * 1.01), "record_mismatch", "ppl="),
}


@pytest.mark.parametrize("case", sorted(RECORD_EDITS))
def test_a_record_no_model_produces_is_invalid_and_named(case, honest, tmp_path):
    edit, kind, words = RECORD_EDITS[case]
    run = copy_run(honest, tmp_path / "run")
    row = _edit_record(run, "scmmlu", 9, edit)
    if case == "negative nll_sum":
        recompute(run)  # results.json agrees with the samples: only the record itself is wrong
    report = validate_run(run)
    named = [p for p in report.problems if p.kind == kind and (p.task, p.item_id) == ("scmmlu", row["item_id"])]
    assert len(named) == 1, report.summary()
    assert words in named[0].message and f'"{row["setting"]}", choice {row["choice"]}' in named[0].message


def test_negative_nlls_that_win_every_item_do_not_validate(honest, tmp_path):
    """Issue 20: every answer given a negative NLL (consistent mean_nll, ppl and results.json) ranked #2 at 100%."""
    run = copy_run(honest, tmp_path / "run")
    for task_id in TASKS:
        records = read_samples(run / f"samples_{task_id}.jsonl")
        write_samples(run, task_id, [replace(r, nll_sum=-r.nll_sum) if r.is_answer else r for r in records])
    recompute(run)
    assert json.loads((run / "results.json").read_text(encoding="utf-8"))["overall"]["settings"]["audio"] == {
        "accuracy": 1.0
    }
    report = validate_run(run)
    impossible = [p for p in report.problems if p.kind == "impossible_record"]
    assert len(impossible) == 24 * 2 * len(TASKS)  # every answer record: 24 items per task, 2 settings


def test_the_writer_s_ppl_cap_is_valid(honest, tmp_path):
    """A huge NLL (mean 800 nats) keeps ppl = exp(700), as `Record.to_dict` writes it: a possible record."""
    run = copy_run(honest, tmp_path / "run")
    records = read_samples(run / "samples_scmmlu.jsonl")
    huge = next(r for r in records if not r.is_answer)
    write_samples(run, "scmmlu", [replace(r, nll_sum=800.0 * r.n_tokens) if r == huge else r for r in records])
    recompute(run)
    row = next(json.loads(x) for x in _lines(run / "samples_scmmlu.jsonl") if json.loads(x)["nll_sum"] > 700)
    assert row["ppl"] == math.exp(700) and row["mean_nll"] == 800.0
    report = validate_run(run)
    assert report.valid, report.summary()


# ----------------------------------------------------------------------- re-scoring


class Replay(Scorer):
    """A model without a model: gives back the scores of an honest run's records, i.e. what the model says."""

    name = "replay"
    settings = ("text", "audio")
    sampling_rate = 16000

    def __init__(self, folder: Path):
        self.said = {
            (r.task, r.item_id, r.setting, r.choice): r
            for task_id in TASKS
            for r in read_samples(folder / f"samples_{task_id}.jsonl")
        }

    def score(self, requests):
        return [
            [
                ContinuationScore(self.said[key].nll_sum, self.said[key].n_tokens)
                for key in ((q.task, q.item_id, q.setting, j) for j in range(len(q.continuations)))
            ]
            for q in requests
        ]

    def describe(self):
        return {}


@pytest.fixture
def replay(honest, monkeypatch):
    """`validate --rerun` re-scores with `Replay` of the honest run instead of loading a model."""
    monkeypatch.setattr(rerun, "load_scorer", lambda *args, **kwargs: Replay(honest))


def test_a_fresh_draw_cannot_be_planned_around(honest, replay, tmp_path, capsys):
    """Issue 20: with the seed known (0), faking every item but the ones drawn passed ``--rerun 5``."""
    run = copy_run(honest, tmp_path / "run")
    faked_except_the_draw(run, set(pick_items(validate_run(run), 5, seed=0)))
    resolver = DatasetResolver()
    report = validate_run(run, resolver=resolver)
    assert report.valid and report.overall is not None
    assert report.overall["settings"]["audio"]["accuracy"] > 0.85  # the honest run has about 0.6
    assert rerun_items(report, RerunOptions(rerun=5, rerun_seed=0), resolver=resolver).valid  # what was planned for
    for seed in (1, 2, 3):
        assert not rerun_items(report, RerunOptions(rerun=5, rerun_seed=seed), resolver=resolver).valid
    seeds = []
    for _ in range(2):
        assert main(["validate", str(run), "--rerun", "5", "--json"]) == 1
        out = json.loads(capsys.readouterr().out)
        assert out["valid"] and not out["rerun"]["valid"]
        seeds.append(out["rerun"]["seed"])
    # A fresh draw passes only when it is the seed-0 draw itself: 1 in C(48, 5) = 1,712,304.
    assert 0 not in seeds and seeds[0] != seeds[1]


def test_the_seed_is_printed_and_repeats_the_draw(honest, replay, capsys):
    assert main(["validate", str(honest), "--rerun", "3", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)["rerun"]
    assert first["valid"] and first["max_difference"] == 0 and first["tolerance"] == DEFAULT_RERUN_TOLERANCE
    assert first["compared"] == sum(2 * get_task(t).num_choices for t, _ in first["items"])
    assert first["decisions"] == sum(2 * (get_task(t).num_choices - 1) for t, _ in first["items"])

    assert main(["validate", str(honest), "--rerun", "3"]) == 0
    printed = re.search(r"drawn with seed (\d+) \(--rerun-seed \1 repeats the draw\)", capsys.readouterr().out)
    assert printed is not None and int(printed[1]) != first["seed"]

    seed = first["seed"]
    assert main(["validate", str(honest), "--rerun", "3", "--rerun-seed", str(seed), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)["rerun"]
    assert again["seed"] == seed and again["items"] == first["items"]
    assert [tuple(i) for i in again["items"]] == pick_items(validate_run(honest), 3, seed)


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--rerun", "-3"], "rerun must be an integer from 1"),
        (["--rerun", "0"], "rerun must be an integer from 1"),
        (["--rerun", "2", "--rerun-seed", "-1"], "rerun_seed must be an integer from 0"),
        (["--rerun", "2", "--tolerance", "inf"], "tolerance must be above 0 and below 1"),
        (["--rerun", "2", "--tolerance", "nan"], "tolerance must be above 0 and below 1"),
        (["--rerun", "2", "--tolerance", "0"], "tolerance must be above 0 and below 1"),
        (["--rerun", "2", "--tolerance", "-0.01"], "tolerance must be above 0 and below 1"),
        (["--tolerance", "1"], "tolerance must be above 0 and below 1"),
    ],
)
def test_bad_counts_and_tolerances_are_refused_in_one_line(argv, words, monkeypatch, capsys):
    monkeypatch.setattr("s2sbench_hf.validate.validate_run", lambda *a, **k: pytest.fail("validated before the check"))
    assert main(["validate", "run-folder", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: invalid re-scoring options: ") and words in err


def test_a_count_that_is_not_an_integer_is_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["validate", "run-folder", "--rerun", "inf"])
    assert stopped.value.code == 2 and "argument --rerun: invalid int value: 'inf'" in capsys.readouterr().err


def test_a_full_rerun_catches_the_close_call_flip(cli_run, qwen2_audio_path, tmp_path, capsys):
    """Issue 20: the answer's NLL lowered by 0.9% wherever that flips a close call passed a 1% tolerance."""
    honest_run, cheat = copy_run(cli_run, tmp_path / "honest"), copy_run(cli_run, tmp_path / "cheat")
    changed = flipped_close_calls(cheat, answer=0.991)
    before, after = validate_run(honest_run), validate_run(cheat)
    assert changed and after.valid and before.overall is not None and after.overall is not None
    assert after.overall["settings"]["audio"]["accuracy"] > before.overall["settings"]["audio"]["accuracy"]
    outcome = {}
    for name, folder in (("honest", honest_run), ("cheat", cheat)):
        argv = ["validate", str(folder), "--rerun", "1000", "--model", str(qwen2_audio_path), "--device", "cpu"]
        code = main([*argv, "--json"])
        outcome[name] = code, json.loads(capsys.readouterr().out)["rerun"]
    code, honest_rerun = outcome["honest"]
    assert code == 0 and honest_rerun["valid"] and len(honest_rerun["items"]) == 12  # every item of the run
    assert honest_rerun["max_difference"] < DEFAULT_RERUN_TOLERANCE / 100  # float32 on a CPU: only batching differs
    code, cheat_rerun = outcome["cheat"]
    assert code == 1 and not cheat_rerun["valid"]
    by_kind = {k: {(p["task"], p["item_id"]) for p in cheat_rerun["problems"] if p["kind"] == k} for k in rerun.KINDS}
    assert by_kind["rerun_mismatch"] == {(task, item) for task, item, _ in changed}
    # Flipped calls further apart than a tie are reported as changed decisions too (4 of the 10 here).
    assert by_kind["rerun_decision"] and by_kind["rerun_decision"] <= by_kind["rerun_mismatch"]
    assert not by_kind["rerun_failed"] and cheat_rerun["max_difference"] == pytest.approx(0.009)


def _changed_beyond(honest: Path, cheat: Path, tolerance: float) -> int:
    """Comparisons whose winner (mean rule) differs between two runs while the honest pair is further apart than
    ``tolerance`` relative to the larger score: what the decision check must report, counted independently."""
    count = 0
    for task_id in TASKS:
        scores = [
            {(r.item_id, r.setting, r.choice): (r.nll_sum / r.n_tokens, r.is_answer) for r in read_samples(f)}
            for f in (honest / f"samples_{task_id}.jsonl", cheat / f"samples_{task_id}.jsonl")
        ]
        for (item_id, setting, choice), (true, is_answer) in scores[0].items():
            if is_answer:
                continue
            answer = next(j for j in range(get_task(task_id).num_choices) if scores[0][(item_id, setting, j)][1])
            a, b = scores[0][(item_id, setting, answer)][0], scores[1][(item_id, setting, answer)][0]
            faked = scores[1][(item_id, setting, choice)][0]
            flipped = np.sign(true - a) != np.sign(faked - b)
            count += bool(flipped and abs(true - a) / max(abs(true), abs(a), 1.0) > tolerance)
    return count


def test_the_decision_check_catches_scores_moved_apart_within_the_tolerance(honest, replay, tmp_path):
    """Each NLL moved by 0.9% (answer down, distractors up), within --tolerance 0.01: the decisions still catch it."""
    cheat = copy_run(honest, tmp_path / "cheat")
    changed = flipped_close_calls(cheat, answer=0.991, distractors=1.009)
    resolver = DatasetResolver()
    report = validate_run(cheat, resolver=resolver)
    assert report.valid and changed
    out = rerun_items(report, RerunOptions(rerun=1000, tolerance=0.01), resolver=resolver)
    assert len(out.items) == 48 and 0.0089 < out.max_difference <= 0.009 + 1e-12  # every NLL within the tolerance
    assert {p.kind for p in out.problems} == {"rerun_decision"}
    assert out.changed_decisions == _changed_beyond(honest, cheat, 0.01) > 0
    assert {(p.task, p.item_id) for p in out.problems} <= {(task, item) for task, item, _ in changed}
    assert "the submitted scores pick the answer, the re-scored ones choice" in out.problems[0].message


def test_rerun_confirms_honest_records_and_catches_consistent_fakes(copy, qwen2_audio_path, capsys):
    drawn = pick_items(validate_run(copy), 2, seed=5)  # what --rerun 2 --rerun-seed 5 re-scores
    victim = drawn[0]
    faked_except_the_draw(copy, keep={d for d in pick_items(validate_run(copy), 1000, seed=0) if d != victim})
    assert validate_run(copy).valid  # what validation alone cannot see
    argv = ["validate", str(copy), "--rerun", "2", "--rerun-seed", "5", "--model", str(qwen2_audio_path)]
    code = main([*argv, "--device", "cpu", "--tolerance", "1e-4", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1 and out["valid"] is True and out["rerun"]["valid"] is False
    assert [tuple(i) for i in out["rerun"]["items"]] == drawn
    assert out["rerun"]["compared"] == sum(2 * get_task(task).num_choices for task, _ in drawn)
    # The honest item agrees to 1e-4 (fp32 on CPU: only the batch differs); the faked one does not.
    assert {(p["task"], p["item_id"]) for p in out["rerun"]["problems"]} == {victim}
    assert "rerun_mismatch" in {p["kind"] for p in out["rerun"]["problems"]}


def test_rerun_never_loads_a_model_path_named_by_the_submission(cli_run):
    resolver = DatasetResolver()
    report = validate_run(cli_run, resolver=resolver)
    with pytest.raises(RerunError, match="--model PATH"):
        rerun_items(report, RerunOptions(rerun=2), resolver=resolver)
    assert pick_items(report, 5, seed=3) == pick_items(report, 5, seed=3) != pick_items(report, 5, seed=4)


def test_a_rescore_on_other_versions_warns(honest, replay, tmp_path, capsys):
    """A recorded version that differs from this process's is a warning, printed and in the JSON, not a failure."""
    assert main(["validate", str(honest), "--rerun", "3", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rerun"]["warnings"] == []  # recorded here: the same versions
    run = copy_run(honest, tmp_path / "run")

    def older(data):
        data["environment"]["torch"] = "1.0.0"
        data["environment"]["packages"]["numpy"] = "1.0.0"

    _edit_results(run, older)
    assert main(["validate", str(run), "--rerun", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)["rerun"]
    assert out["valid"] and [w["kind"] for w in out["warnings"]] == ["rerun_versions"]
    for name, version in (("torch", torch.__version__), ("numpy", np.__version__)):
        assert f"{name} {version} (submission: 1.0.0)" in out["warnings"][0]["message"]
    assert main(["validate", str(run), "--rerun", "3"]) == 0
    assert "warning: [rerun_versions] the re-score runs on torch" in capsys.readouterr().out


def test_a_config_block_no_run_could_have_is_a_problem(cli_run):
    """Each value may pass the schema and the combination still be one no run accepts (a --max-memory without a
    device map): the block is read back through `RunConfig`, and its refusal is the problem, not a crash later."""
    data = json.loads((cli_run / "results.json").read_text(encoding="utf-8"))
    data["config"]["max_memory"] = ["cpu=1GiB"]
    problems = results_problems(data)
    assert [path for path, _ in problems] == ["config"]
    assert "--max-memory needs a device map to split the model by" in problems[0][1]
