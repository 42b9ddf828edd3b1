"""The ``utterance`` setting end to end (issue 24): the speech-LM sets scored on Moshi and on a scorer of your own.

On a fake ``slprl/SALMon`` (2 subsets) and a fake ``speed/sStoryCloze`` in the Hub cache (`test_speech_lm_data`'s
helpers), ``s2sbench run`` on a tiny Moshi writes per-task utterance accuracies with the convention recorded and
SALMon's breakdown by subset, and ``validate`` (and ``--rerun``) accepts the folder; swapping every pair's clips flips
every outcome; a tie counts 0.5 under the speech-LM default and 0 under ``--tie-policy wrong`` (a scorer of your own
that ties every pair); the documented remote-code scorer scores utterances once it lists them; Moshi's utterance
scores equal the plain forward of `test_moshi`; a speech LLM is refused in one line before any scoring.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from cli_helpers import run_cli
from fake_release import fake_snapshot
from test_moshi import plain_reference
from test_speech_lm_data import clip, fake_salmon, hub_cache, write_pairs  # noqa: F401 - hub_cache is a fixture
from test_speech_output_docs import documented_scorer

from s2sbench_hf import metrics, plots, render
from s2sbench_hf.cli import main
from s2sbench_hf.data import paired_parquet, sources
from s2sbench_hf.report import run_report
from s2sbench_hf.results import read_samples
from s2sbench_hf.scoring.engine import make_request
from s2sbench_hf.scoring.registry import load_scorer
from s2sbench_hf.tables import format_table
from s2sbench_hf.tasks import SPEECH_CONTINUATION, UTTERANCE, Task, get_task
from s2sbench_hf.testing import REL_TOL, make_tiny_model, make_tiny_speech_unit_lm, relative_deviation
from s2sbench_hf.validate import validate_run

RUN = {"device": "cpu", "n_bootstrap": 20, "no_progress": True}
"""Options of every run here: small, quiet, on the CPU."""

TIE_SCORER = '''
from s2sbench_hf import ContinuationScore, Scorer


class Tied(Scorer):
    """Every clip gets the same score: each pair is a tie."""

    name = "tied"
    settings = ("utterance",)
    sampling_rate = 16000

    def __init__(self, model_id, **kwargs):
        self.model_id = model_id

    def score(self, requests):
        assert all(r.context == "" and r.audio is None and len(r.continuation_audio) == 2 for r in requests)
        return [[ContinuationScore(nll_sum=2.0, n_tokens=4) for _ in r.continuation_audio] for r in requests]

    def describe(self):
        return {"adapter": self.name, "model_id": self.model_id, "revision": "0" * 40}
'''


@pytest.fixture(scope="module")
def moshi(tmp_path_factory) -> Path:
    return make_tiny_model("moshi", tmp_path_factory.mktemp("tiny-moshi"))


def fake_sstorycloze(cache: Path) -> None:
    """``speed/sStoryCloze``: three pairs of whole-story clips with their texts."""
    folder = fake_snapshot(cache, "speed/sStoryCloze")
    rows = [
        {"positive": clip(50 + i), "negative": clip(60 + i), "positive_text": f"Story {i}.", "negative_text": "No."}
        for i in range(3)
    ]
    write_pairs(folder / "data" / "train-00000-of-00001.parquet", rows, ("positive", "negative"))


def results_of(folder: Path) -> dict:
    return json.loads((folder / "results.json").read_text())


def outcomes(folder: Path, task: str) -> dict[str, float]:
    """Per item, the credit the samples give it: 1 when the positive clip has the lower mean NLL, 0.5 on a tie."""
    by_item: dict[str, dict[bool, float]] = {}
    for r in read_samples(folder / f"samples_{task}.jsonl"):
        assert r.setting == UTTERANCE
        by_item.setdefault(r.item_id, {})[r.is_answer] = r.mean_nll
    return {i: 1.0 if s[True] < s[False] else 0.5 if s[True] == s[False] else 0.0 for i, s in by_item.items()}


def test_moshi_scores_the_speech_lm_sets_and_the_run_validates(hub_cache, moshi, tmp_path, capsys):  # noqa: F811
    fake_salmon(hub_cache)
    fake_sstorycloze(hub_cache)
    salmon, story = tmp_path / "salmon", tmp_path / "story"
    assert run_cli(moshi, salmon, tasks="salmon", dataset="slprl/SALMon", **RUN) == 0
    assert run_cli(moshi, story, tasks="sstorycloze_slm", dataset="speed/sStoryCloze", **RUN) == 0

    res = results_of(salmon)
    assert (res["config"]["scoring_rule"], res["config"]["tie_policy"]) == ("mean", "reference")
    task = res["results"]["salmon"]
    assert set(task["settings"]) == {UTTERANCE} and "degradation" not in task
    assert task["n_items"] == 4 and task["n_failed"] == 1  # speaker_consistency/1 has no negative clip
    credit = outcomes(salmon, "salmon")
    assert task["settings"][UTTERANCE]["accuracy"] == pytest.approx(sum(credit.values()) / len(credit))
    groups = task["breakdown"]["groups"]
    assert task["breakdown"]["by"] == "subset" and {g: v["n_items"] for g, v in groups.items()} == {
        "bg_alignment": 3,
        "speaker_consistency": 1,
    }
    bg = [v for i, v in credit.items() if i.startswith("bg_alignment/")]
    assert groups["bg_alignment"]["settings"][UTTERANCE]["accuracy"] == pytest.approx(sum(bg) / 3)
    assert res["overall"] == {"utterance": {"tasks": ["salmon"], "accuracy": task["settings"][UTTERANCE]["accuracy"]}}
    assert not (salmon / "reference").exists()  # the reference scripts' formats are for continuation tasks
    assert results_of(story)["results"]["sstorycloze_slm"]["n_items"] == 3
    for folder in (salmon, story):
        report = validate_run(folder)
        assert report.valid, report.summary()
    rescored = [str(salmon), "--rerun", "2", "--model", str(moshi), "--device", "cpu", "--json"]
    capsys.readouterr()  # what the runs printed
    assert main(["validate", *rescored]) == 0  # the re-score scores the utterance setting the run did
    assert json.loads(capsys.readouterr().out)["rerun"]["valid"]
    table = format_table(res)
    assert "utterance acc %" in table and "| salmon | subset | speaker_consistency | 1 |" in table
    assert "Breakdown" in render.markdown(run_report(salmon))


def test_swapping_the_clips_of_every_pair_flips_every_outcome(hub_cache, moshi, tmp_path, monkeypatch):  # noqa: F811
    fake_salmon(hub_cache)
    assert run_cli(moshi, tmp_path / "plain", tasks="salmon_bg_alignment", dataset="slprl/SALMon", **RUN) == 0
    swapped = paired_parquet.ParquetSet(configs=("bg_alignment",), audio=("negative_audio", "positive_audio"))
    monkeypatch.setitem(paired_parquet.PARQUET_SETS, "salmon_bg_alignment", swapped)
    assert run_cli(moshi, tmp_path / "swapped", tasks="salmon_bg_alignment", dataset="slprl/SALMon", **RUN) == 0
    plain, flipped = (outcomes(tmp_path / name, "salmon_bg_alignment") for name in ("plain", "swapped"))
    assert len(plain) == 3 and 0.5 not in plain.values()
    assert flipped == {item: 1.0 - credit for item, credit in plain.items()}


@pytest.mark.parametrize(("policy", "accuracy"), [(None, 0.5), ("half", 0.5), ("wrong", 0.0)])
def test_a_tie_counts_half_under_the_speech_lm_rule_and_nothing_when_ties_are_wrong(
    hub_cache,  # noqa: F811
    tmp_path,
    monkeypatch,
    policy,
    accuracy,
):
    """A scorer of your own (``python:module:Class``) that lists ``utterance`` scores the set; it ties every pair."""
    fake_salmon(hub_cache)
    (tmp_path / "tied_scorer.py").write_text(TIE_SCORER, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tmp_path / "out"
    options = {**RUN, "tie_policy": policy, "adapter": "python:tied_scorer:Tied"}
    assert run_cli("any-model", out, tasks="salmon_bg_alignment", dataset="slprl/SALMon", **options) == 0
    res = results_of(out)
    assert res["config"]["tie_policy"] == (policy or "reference")
    assert res["results"]["salmon_bg_alignment"]["settings"][UTTERANCE]["accuracy"] == accuracy


def test_the_documented_scorer_of_your_own_scores_utterances_once_it_lists_them(
    hub_cache,  # noqa: F811
    tmp_path,
    monkeypatch,
):
    """docs/speech-output.md's remote-code scorer, with ``utterance`` in its settings, on the stand-in speech-unit
    LM: its prompt is the token that opens speech, then each clip's units."""
    fake_salmon(hub_cache)
    code = documented_scorer()
    if '"utterance"' not in code:  # the document's class before it lists the setting
        code = code.replace('"speech_to_speech")', '"speech_to_speech", "utterance")', 1)
    (tmp_path / "utterance_scorer.py").write_text(code, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    model = make_tiny_speech_unit_lm(tmp_path / "unit-lm")
    out = tmp_path / "out"
    options = {**RUN, "adapter": "python:utterance_scorer:SpeechTokenScorer", "trust_remote_code": True}
    assert run_cli(model, out, tasks="salmon_bg_alignment", dataset="slprl/SALMon", **options) == 0
    assert set(results_of(out)["results"]["salmon_bg_alignment"]["settings"]) == {UTTERANCE}
    assert validate_run(out).valid


def test_moshi_utterance_scores_equal_a_plain_forward(hub_cache, moshi):  # noqa: F811
    """An utterance is a spoken continuation after an empty context: the initial frame, then the clip."""
    fake_salmon(hub_cache)
    loaded = sources.load_task("salmon_bg_alignment", "slprl/SALMon")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        scorer = load_scorer(str(moshi), device="cpu", dtype="float32")
        assert UTTERANCE in scorer.settings and UTTERANCE in SPEECH_CONTINUATION
        requests = [
            make_request(loaded.task, item, UTTERANCE, loaded.task.framing, scorer.sampling_rate)
            for item in loaded.items
        ]
        assert all(r.context == "" and r.audio is None and len(r.continuation_audio) == 2 for r in requests)
        scores = [score for batch in scorer.score(requests) for score in batch]
        plain = [plain_reference(scorer, request, j) for request in requests for j in range(2)]
        assert [score.n_tokens for score in scores] == [n for _, n in plain]
        assert relative_deviation([score.nll_sum for score in scores], [nll for nll, _ in plain]) < REL_TOL
    finally:
        torch.set_num_threads(threads)


def test_a_speech_llm_is_refused_an_utterance_task_in_one_line(hub_cache, tmp_path, capsys):  # noqa: F811
    fake_salmon(hub_cache)
    model = make_tiny_model("qwen2-audio", tmp_path / "qwen2-audio")
    capsys.readouterr()  # what building the model printed
    code = run_cli(model, tmp_path / "out", tasks="salmon_bg_alignment", dataset="slprl/SALMon", **RUN)
    err = capsys.readouterr().err
    assert code == 2, err
    (line,) = err.strip().splitlines()
    assert (
        "family 'qwen2-audio' cannot score task 'salmon_bg_alignment': it reads speech but predicts text, so a clip "
        "has no likelihood under it; score utterances with a speech LM: Moshi, Llama-Mimi, or your own --adapter "
        "python:module:Class whose settings list 'utterance'."
    ) in line
    assert not (tmp_path / "out" / "results.json").exists()


def test_the_breakdown_is_recorded_in_a_task_spec_and_checked():
    spec = get_task("salmon").to_spec()
    assert spec["breakdown"] == "subset" and Task.from_spec("salmon", spec).breakdown == "subset"
    assert get_task("swuggy").breakdown == "in_vocab" and "breakdown" not in get_task("sstorycloze").to_spec()
    with pytest.raises(ValueError, match="task 'x': breakdown 3 is not the name of an item field"):
        Task.from_spec("x", {**spec, "breakdown": 3})


def test_the_s2sbench_average_and_the_speech_lm_average_are_kept_apart():
    per_task = {
        "sstorycloze": {"n_items": 2, "settings": {"text": {"accuracy": 1.0}, "audio": {"accuracy": 0.5}}},
        "salmon": {"n_items": 4, "settings": {UTTERANCE: {"accuracy": 0.25}}},
        "swuggy": {"n_items": 2, "settings": {UTTERANCE: {"accuracy": 0.75}}},
    }
    overall = metrics.overall(per_task)
    assert overall["tasks"] == ["sstorycloze"] and set(overall["settings"]) == {"text", "audio"}
    assert overall["utterance"] == {"tasks": ["salmon", "swuggy"], "accuracy": 0.5}


def test_the_figures_draw_the_settings_each_task_was_scored_in(tmp_path):
    """An utterance task is scored in ``utterance`` whatever ``config.settings`` lists: the figures draw the settings
    the results hold, so its bars are there (and a run of both kinds draws both)."""
    run = {
        "config": {"settings": ["text", "audio"], "gap": "text:audio"},
        "model": {"model_id": "m"},
        "results": {
            "salmon": {"n_items": 2, "settings": {"utterance": {"accuracy": 0.5, "accuracy_ci": [0.0, 1.0]}}},
            "sstorycloze": {"n_items": 2, "settings": {s: {"accuracy": 1.0} for s in ("text", "audio")}},
        },
    }
    assert plots.scored_settings([run], ["salmon"]) == ["utterance"]
    assert plots.scored_settings([run], ["salmon", "sstorycloze"]) == ["text", "audio", "utterance"]
    assert plots.plot_run(run, tmp_path / "run.png").stat().st_size > 0
    assert plots.plot_compare({"a": run, "b": run}, tmp_path / "compare.png").stat().st_size > 0
