"""Metrics from records, the results files, and the reference-format export read back by the reference rules."""

from __future__ import annotations

import json
import math
import os
import re
import shlex
import subprocess
import sys
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from s2sbench_hf import environment, metrics, results
from s2sbench_hf.cli import main
from s2sbench_hf.options import OptionError, RunConfig
from s2sbench_hf.scoring.engine import score_items
from s2sbench_hf.scoring.interface import Record
from s2sbench_hf.scoring.registry import load_scorer
from s2sbench_hf.tasks import TASKS, Item


def reference_story_accuracy(result_path) -> float:
    """The reference script's rule: sort rows by uttid, rows 2k/2k+1 pair up, plausible wins on strict <."""
    rows = sorted((json.loads(line) for line in open(result_path, encoding="utf-8")), key=lambda r: int(r["uttid"]))
    right = 0
    for k in range(0, len(rows), 2):
        right += rows[k]["loss"][0] < rows[k + 1]["loss"][0]
    return right / (len(rows) // 2)


def reference_scmmlu_accuracy(data_path, result_path) -> float:
    """The reference sCMMLU rule: the answer against each of the 3 others, a tie counts as right (<=)."""
    answers = {int(r["uttid"]): r["answer"] for r in map(json.loads, open(data_path, encoding="utf-8"))}
    losses = defaultdict(dict)
    for r in map(json.loads, open(result_path, encoding="utf-8")):
        losses[int(r["uttid"])][r["key"]] = r["loss"][0]
    right = total = 0
    for uttid, answer in answers.items():
        for key, loss in losses[uttid].items():
            if key != answer:
                right += losses[uttid][answer] <= loss
                total += 1
    return right / total


def _clip(seed: int, seconds: float = 1.0) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(int(16000 * seconds))).astype(np.float32)


def _items(task_id: str, n: int) -> list[Item]:
    task = TASKS[task_id]
    rng = np.random.default_rng(len(task_id))
    out = []
    for i in range(n):
        choices = [f"选项{i}号{j}{'很长' * int(rng.integers(0, 3))}" for j in range(task.num_choices)]
        out.append(
            Item(
                task_id,
                f"q{i}",
                f"问题{i}：天空是什么颜色？",
                choices,
                int(rng.integers(task.num_choices)),
                audio=_clip(i, 1 + i % 3 * 0.5),
                sampling_rate=16000,
            ).validate()
        )
    return out


@pytest.mark.parametrize("task_id", ["zh_sstorycloze", "scmmlu"])
def test_reference_export_gives_the_results_accuracy(qwen2_audio_path, tmp_path, task_id):
    task = TASKS[task_id]
    items = _items(task_id, 12)
    scorer = load_scorer(str(qwen2_audio_path), device="cpu")
    records, errors = score_items(scorer, task, items, ["text", "audio"], batch_size=5, progress=False)
    assert not errors
    summary = metrics.summarize_records(task, records, ["text", "audio"], n_bootstrap=200)
    folder = results.export_reference(tmp_path, task, items, records, ["text", "audio"])
    for setting in ("text", "audio"):
        path = folder / setting / "result.jsonl"
        if task.num_choices == 2:
            ref = reference_story_accuracy(path)
        else:
            ref = reference_scmmlu_accuracy(folder / "data.jsonl", path)
        assert summary["settings"][setting]["accuracy"] == pytest.approx(ref, abs=1e-12)
    deg = summary["degradation"]
    accuracy = {setting: summary["settings"][setting]["accuracy"] for setting in ("text", "audio")}
    assert deg["gap"] == pytest.approx(accuracy["text"] - accuracy["audio"])


def _rule_score(nll_sum, n_tokens, n_bytes, rule):
    return {"mean": nll_sum / n_tokens, "sum": nll_sum, "bytes": nll_sum / n_bytes}[rule]


def _records_with_ties(task_id: str, n: int, seed: int) -> tuple[list[Item], list[Record]]:
    """Items and records whose scores tie often under some rules (small integer sums, few token counts)."""
    task = TASKS[task_id]
    rng = np.random.default_rng(seed)
    items, records = [], []
    for i in range(n):
        choices = [f"ending {i}.{j}" for j in range(task.num_choices)]
        item = Item(task_id, f"q{i}", f"context {i}", choices, int(rng.integers(task.num_choices)))
        items.append(item)
        for setting in ("text", "audio"):
            for j, c in enumerate(choices):
                records.append(
                    Record(
                        task_id,
                        item.id,
                        setting,
                        j,
                        j == item.label,
                        c,
                        float(rng.integers(4, 9)),
                        int(rng.integers(1, 3)),
                        8 * int(rng.integers(1, 3)),
                    )
                )
    return items, records


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("tie_policy", ["reference", "half"])
@pytest.mark.parametrize("rule", ["mean", "sum", "bytes"])
@pytest.mark.parametrize("task_id", ["sstorycloze", "scmmlu"])
def test_the_export_reads_back_to_the_results_for_every_rule_and_tie_policy(tmp_path, task_id, rule, tie_policy, seed):
    task = TASKS[task_id]
    items, records = _records_with_ties(task_id, 16, seed)
    summary = metrics.summarize_records(
        task, records, ["text", "audio"], scoring_rule=rule, tie_policy=tie_policy, n_bootstrap=20
    )
    by_key = {(r.item_id, r.setting, r.choice): r for r in records}
    ties = 0
    for item in items:
        for s in ("text", "audio"):
            score = [
                _rule_score(
                    by_key[(item.id, s, j)].nll_sum,
                    by_key[(item.id, s, j)].n_tokens,
                    by_key[(item.id, s, j)].n_bytes,
                    rule,
                )
                for j in range(task.num_choices)
            ]
            ties += sum(score[j] == score[item.label] for j in range(task.num_choices) if j != item.label)
    assert ties  # every case here has ties, so the tie rules matter
    (tmp_path / "reference" / task_id).mkdir(parents=True)
    (tmp_path / "reference" / task_id / "stale.txt").write_text("an earlier export")
    if tie_policy == "half":
        with pytest.raises(results.ReferenceExportError, match=f"{ties} comparison.s. are exact ties"):
            results.export_reference(
                tmp_path, task, items, records, ["text", "audio"], scoring_rule=rule, tie_policy=tie_policy
            )
        assert not (tmp_path / "reference" / task_id).exists()  # no stale export left to mislead
        return
    folder = results.export_reference(
        tmp_path, task, items, records, ["text", "audio"], scoring_rule=rule, tie_policy=tie_policy
    )
    for setting in ("text", "audio"):
        path = folder / setting / "result.jsonl"
        if task.num_choices == 2:
            ref = reference_story_accuracy(path)
        else:
            ref = reference_scmmlu_accuracy(folder / "data.jsonl", path)
        assert ref == summary["settings"][setting]["accuracy"]
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        for row in rows:
            assert row["ppl"] == [pytest.approx(math.exp(row["loss"][0]), rel=1e-12)]


@pytest.mark.parametrize("rule", ["mean", "sum", "bytes"])
def test_half_credit_exports_when_nothing_ties(tmp_path, rule):
    task = TASKS["scmmlu"]
    items, records = _records_with_ties("scmmlu", 10, 0)
    jitter = np.random.default_rng(5).uniform(0, 0.5, size=len(records))
    records = [replace(r, nll_sum=r.nll_sum + float(x)) for r, x in zip(records, jitter, strict=True)]
    half = metrics.summarize_records(
        task, records, ["text", "audio"], scoring_rule=rule, tie_policy="half", n_bootstrap=20
    )
    folder = results.export_reference(
        tmp_path, task, items, records, ["text", "audio"], scoring_rule=rule, tie_policy="half"
    )
    for setting in ("text", "audio"):
        ref = reference_scmmlu_accuracy(folder / "data.jsonl", folder / setting / "result.jsonl")
        assert ref == half["settings"][setting]["accuracy"]


def _record(item_id, setting, choice, nll, label=0, n=2):
    return Record("sstorycloze", item_id, setting, choice, choice == label, f"c{choice}", nll, n, 4)


def test_ties_in_records_follow_the_policy():
    recs = [
        _record("a", "text", 0, 2.0),
        _record("a", "text", 1, 2.0),
        _record("b", "text", 0, 1.0),
        _record("b", "text", 1, 3.0),
    ]
    task = TASKS["sstorycloze"]
    ref = metrics.summarize_records(task, recs, ["text"], n_bootstrap=50)
    half = metrics.summarize_records(task, recs, ["text"], tie_policy="half", n_bootstrap=50)
    assert ref["settings"]["text"]["accuracy"] == 0.5  # the tie counts as wrong for stories
    assert half["settings"]["text"]["accuracy"] == 0.75


def test_items_missing_a_setting_leave_the_comparison():
    recs = [_record("a", s, j, 1.0 + j) for s in ("text", "audio") for j in range(2)]
    recs += [_record("b", "text", j, 1.0 + j) for j in range(2)]  # b failed in audio
    assert metrics.complete_items(recs, ["text", "audio"], 2) == ["a"]
    summary = metrics.summarize_records(TASKS["sstorycloze"], recs, ["text", "audio"], n_bootstrap=20)
    assert summary["n_items"] == 1


def test_samples_round_trip(tmp_path):
    recs = [_record("a", "text", 0, 1.25), _record("a", "text", 1, 3.5)]
    path = results.write_samples(tmp_path, "sstorycloze", recs)
    assert results.read_samples(path) == recs
    first = json.loads(path.read_text().splitlines()[0])
    assert first["mean_nll"] == pytest.approx(0.625) and first["ppl"] == pytest.approx(np.exp(0.625))


# ------------------------------------------------------------------------------ the environment record


def test_a_run_records_what_it_ran_on(causal_lm_path, tmp_path):
    """Versions of this process, this checkout's commit, the hardware and the command exactly as the CLI got it."""
    import datasets
    import huggingface_hub
    import torch

    folder = tmp_path / "a run"  # a space: the command is recorded quoted, as a shell repeats it
    argv = ["run", "--model", str(causal_lm_path), "--tasks", "sstorycloze", "--dataset", "samples", "--limit", "2"]
    argv += ["--settings", "text", "--device", "cpu", "--bootstrap", "10", "--output", str(folder), "--no-progress"]
    assert main(argv) == 0
    env = results.read_results(folder)["environment"]
    assert env["torch"] == torch.__version__
    for module in (np, datasets, huggingface_hub):
        assert env["packages"][module.__name__] == module.__version__
    assert re.fullmatch(r"[0-9a-f]{40}", env["git_commit"]) and isinstance(env["git_dirty"], bool)
    assert env["hardware"]["cpu_count"] == os.cpu_count()
    assert len(env["hardware"]["gpus"]) == torch.cuda.device_count()
    assert env["command"] == "s2sbench " + shlex.join(argv) and shlex.split(env["command"])[1:] == argv
    assert not results.results_problems(results.read_results(folder))


def test_the_evaluate_metric_records_its_call(causal_lm_path, tmp_path):
    """The call with every keyword argument given (``progress``, which changes no number, is left out)."""
    from s2sbench_hf import evaluate_metric

    options = {"device": "cpu", "tasks": ["sstorycloze"], "dataset": "samples", "limit": 2, "settings": ["text"]}
    evaluate_metric.compute_model(str(causal_lm_path), output_dir=str(tmp_path), progress=False, **options)
    assert results.read_results(tmp_path)["environment"]["command"] == (
        f"evaluate: compute(model_id={str(causal_lm_path)!r}, output_dir={str(tmp_path)!r}, device='cpu', "
        "tasks=['sstorycloze'], dataset='samples', limit=2, settings=['text'])"
    )


def test_a_hub_token_in_any_argument_is_masked_in_the_record():
    """A board publishes the recorded command: a token pasted into any argument is written ``hf_***``."""
    token = "hf_" + "aB3" * 12
    argv = ["run", "--model", f"https://x:{token}@example.org/m", "--output", "hf_out"]
    line = environment.environment(environment.command_line(argv))["command"]
    assert token not in line and "x:hf_***@example.org" in line and "hf_out" in line
    call = environment.call_line("evaluate: compute", {"model_id": token})
    assert token not in environment.environment(call)["command"]


def test_no_checkout_and_no_git_record_no_commit(tmp_path, monkeypatch):
    """A folder outside any checkout, or no git program: no commit, and no failure."""
    assert environment.git_checkout(tmp_path) == {"git_commit": None, "git_dirty": None}
    monkeypatch.setenv("PATH", str(tmp_path))  # no git to run: the record says nothing, the run goes on
    assert environment.git_checkout(Path(environment.__file__).parent) == {"git_commit": None, "git_dirty": None}


def test_files_from_before_the_record_stay_valid(cli_run):
    """An environment of only python, torch and transformers (older files) passes; the block stays strict."""
    data = results.read_results(cli_run)
    data["environment"] = {k: data["environment"][k] for k in ("python", "torch", "transformers")}
    assert not results.results_problems(data)
    data["environment"]["gpus"] = ["an unknown key"]
    assert results.results_problems(data)


def test_a_misspelt_option_read_from_a_results_file_fails_the_type_check(tmp_path):
    """The config block is read through the typed `RunConfig` (`RunResults.run_config`), never through an attribute
    that mypy takes as ``Any``: a typo in an option's name is a type error."""
    code = tmp_path / "typo.py"
    code.write_text(
        "from s2sbench_hf.results import RunResults\n\n\n"
        "def typo(parsed: RunResults) -> bool:\n    return parsed.run_config().chat_templat\n\n\n"
        "def untyped(parsed: RunResults) -> bool:\n    return parsed.config.chat_template\n\n\n"
        "def right(parsed: RunResults) -> bool:\n    return parsed.run_config().chat_template\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "cache"), "--follow-imports=silent", str(code)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    errors = [line.split(": error: ")[1] for line in done.stdout.splitlines() if ": error: " in line]
    assert errors == [
        '"RunConfig" has no attribute "chat_templat"  [attr-defined]',
        '"RunConfigBlock" has no attribute "chat_template"  [attr-defined]',
    ], done.stdout


def test_the_config_block_reads_back_as_the_run_config(tmp_path):
    config = RunConfig(
        model="m",
        tasks=("scmmlu",),
        settings=("text", "audio"),
        max_memory=("cpu=1GiB",),
        device_map="auto",
        seed=7,
        limit=3,
    )
    record = json.loads(json.dumps(config.record({"scmmlu": config.task(TASKS["scmmlu"]).framing})))
    assert RunConfig.from_record(record) == config  # JSON's lists back as tuples; every field as it was
    with pytest.raises(OptionError, match="--max-memory needs a device map"):
        RunConfig.from_record({**record, "device_map": None})  # checked as when a run starts
