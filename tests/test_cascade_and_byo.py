"""The cascade baseline (recognizer + language model) and a bring-your-own scorer through the CLI."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest
from cli_helpers import run_cli

from s2sbench_hf.scoring.adapters.cascade import CascadeScorer, word_error_rate
from s2sbench_hf.scoring.engine import score_items
from s2sbench_hf.scoring.interface import AdapterError
from s2sbench_hf.scoring.registry import load_scorer
from s2sbench_hf.tasks import TASKS, Item


class EchoRecognizer:
    """A perfect recognizer: it 'hears' the context text that each test clip stands for."""

    def __init__(self, texts: dict[int, str]):
        self.texts = texts  # clip length (samples) -> the text it stands for
        self.calls: list[str | None] = []

    def transcribe(self, audio, language=None):
        self.calls.append(language)
        return [self.texts[len(a)] for a in audio]


def _items() -> tuple[list[Item], dict[int, str]]:
    stories = [
        (
            "Tom went to the market early in the morning. He bought apples",
            ["and went home happy.", "the moon ate him."],
            0,
        ),
        ("It rained all day", ["so we stayed inside and read books.", "cats flew."], 1),
        ("Anna baked bread for her neighbours", ["They thanked her warmly.", "The oven sang opera."], 0),
    ]
    items, texts = [], {}
    for i, (context, choices, label) in enumerate(stories):
        audio = (0.1 * np.random.default_rng(i).standard_normal(16000 + 1000 * i)).astype(np.float32)
        texts[len(audio)] = context
        items.append(Item("sstorycloze", str(i), context, choices, label, audio=audio, sampling_rate=16000))
    return items, texts


def test_perfect_transcript_gives_exactly_the_text_scores(causal_lm_path):
    items, texts = _items()
    lm = load_scorer(str(causal_lm_path), device="cpu", dtype="float32")
    recognizer = EchoRecognizer(texts)
    cascade = CascadeScorer(str(causal_lm_path), lm=lm, recognizer=recognizer)
    records, errors = score_items(cascade, TASKS["sstorycloze"], items, ["text", "audio"], progress=False)
    assert not errors
    by_key = {(r.item_id, r.setting, r.choice): r for r in records}
    for item in items:
        for j in range(2):
            text, audio = by_key[(item.id, "text", j)], by_key[(item.id, "audio", j)]
            assert audio.nll_sum == text.nll_sum and audio.n_tokens == text.n_tokens
            assert audio.extra == {"transcript": item.context, "wer": 0.0}
            assert text.extra is None
    assert recognizer.calls and set(recognizer.calls) == {"en"}  # the task's language is passed on
    row = audio.to_dict()
    assert row["extra"]["transcript"] == items[-1].context or row["extra"]["wer"] == 0.0


def test_recognition_errors_are_scored_and_measured(causal_lm_path):
    items, texts = _items()
    wrong = {n: "Tom went to a market" for n in texts}
    cascade = CascadeScorer(
        str(causal_lm_path), lm=load_scorer(str(causal_lm_path), device="cpu"), recognizer=EchoRecognizer(wrong)
    )
    records, _ = score_items(cascade, TASKS["sstorycloze"], items[:1], ["audio"], progress=False)
    assert records[0].extra["transcript"] == "Tom went to a market"
    assert records[0].extra["wer"] == pytest.approx(word_error_rate(items[0].context, "Tom went to a market"))
    assert records[0].extra["wer"] > 0.5
    assert word_error_rate("我们去公园", "我们去公园") == 0.0 and word_error_rate("我们去公园", "我们去", "zh") == 0.4


def test_cascade_needs_a_recognizer(causal_lm_path):
    with pytest.raises(AdapterError, match="--asr-model"):
        load_scorer(str(causal_lm_path), "cascade", device="cpu")
    with pytest.raises(AdapterError, match="--asr-model is for --adapter cascade"):
        load_scorer(str(causal_lm_path), "causal-lm", device="cpu", asr_model="openai/whisper-tiny")


BYO_MODULE = '''
"""A user's own scorer: every continuation costs one nat per character (a stand-in for any model)."""

from s2sbench_hf.scoring.interface import ContinuationScore, Scorer


class CharScorer(Scorer):
    name = "char-count"
    settings = ("text", "audio")
    sampling_rate = 16000
    seen = {}

    def __init__(self, model_id, **kwargs):
        CharScorer.seen = {"model_id": model_id, **kwargs}

    def score(self, requests):
        return [[ContinuationScore(float(len(c)), max(len(c), 1)) for c in r.continuations] for r in requests]

    def describe(self):
        return {"adapter": self.name, "model_id": CharScorer.seen["model_id"]}
'''


def test_bring_your_own_scorer_runs_through_the_cli(tmp_path, monkeypatch):
    (tmp_path / "my_scorer.py").write_text(textwrap.dedent(BYO_MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tmp_path / "out"
    code = run_cli(
        "anything/at-all",
        out,
        adapter="python:my_scorer:CharScorer",
        tasks="sstorycloze",
        dataset="samples",
        limit=3,
        device="cpu",
        n_bootstrap=10,
        no_progress=True,
        trust_remote_code=True,
    )
    assert code == 0
    import my_scorer

    assert my_scorer.CharScorer.seen["model_id"] == "anything/at-all"
    assert my_scorer.CharScorer.seen["trust_remote_code"] is True  # passed through when asked ...
    assert "chat_template" not in my_scorer.CharScorer.seen  # ... and unset options are not imposed on it
    results = json.loads((out / "results.json").read_text())
    assert results["model"] == {"adapter": "char-count", "model_id": "anything/at-all"}
    assert results["results"]["sstorycloze"]["n_items"] == 3


def test_trust_remote_code_is_never_implied(tmp_path, monkeypatch):
    (tmp_path / "my_scorer2.py").write_text(textwrap.dedent(BYO_MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    code = run_cli(
        "m",
        tmp_path / "o",
        adapter="python:my_scorer2:CharScorer",
        tasks="sstorycloze",
        dataset="samples",
        limit=1,
        device="cpu",
        n_bootstrap=10,
        no_progress=True,
    )
    assert code == 0
    import my_scorer2

    assert my_scorer2.CharScorer.seen["trust_remote_code"] is False


def test_a_bad_python_adapter_is_a_clear_error(tmp_path, monkeypatch, capsys):
    code = run_cli(
        "m",
        tmp_path,
        adapter="python:no_such_module:X",
        tasks="sstorycloze",
        dataset="samples",
        limit=1,
        no_progress=True,
    )
    assert code == 2 and "python:module:Class" in capsys.readouterr().err


def test_cascade_with_a_real_whisper_runs_through_the_cli(causal_lm_path, tmp_path):
    """The real recognizer path: a tiny random Whisper transcribes, the samples keep transcript and WER."""
    from s2sbench_hf.testing import make_tiny_whisper

    whisper = make_tiny_whisper(tmp_path / "whisper")
    out = tmp_path / "run"
    code = run_cli(
        causal_lm_path,
        out,
        adapter="cascade",
        asr_model=whisper,
        tasks="sstorycloze",
        dataset="samples",
        limit=2,
        device="cpu",
        n_bootstrap=20,
        no_progress=True,
    )
    assert code == 0
    rows = [json.loads(line) for line in (out / "samples_sstorycloze.jsonl").read_text().splitlines()]
    audio = [r for r in rows if r["setting"] == "audio"]
    assert len(audio) == 4 and all(isinstance(r["extra"]["transcript"], str) for r in audio)
    assert all(r["extra"]["wer"] > 0 for r in audio)  # random weights cannot transcribe
    results = json.loads((out / "results.json").read_text())
    assert results["model"]["adapter"] == "cascade" and results["model"]["content_hash"]


def test_without_jiwer_the_cascade_names_its_extra(causal_lm_path, monkeypatch, capsys, tmp_path):
    from s2sbench_hf.scoring.adapters import cascade

    monkeypatch.setattr(cascade, "jiwer", None)
    code = run_cli(
        causal_lm_path,
        tmp_path / "out",
        adapter="cascade",
        asr_model="openai/whisper-tiny",
        tasks="sstorycloze",
        dataset="samples",
        limit=1,
        device="cpu",
        no_progress=True,
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and "pip install 's2sbench-hf[cascade]'" in err
    with pytest.raises(AdapterError, match=r"s2sbench-hf\[cascade\]"):
        word_error_rate("a b", "a c")
