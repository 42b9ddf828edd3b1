"""The adapters' shared-prefix scoring against plain references, and the engine's error handling."""

from __future__ import annotations

import numpy as np
import pytest

from s2sbench_hf.scoring.interface import AdapterError
from s2sbench_hf.scoring.registry import load_scorer
from s2sbench_hf.scoring.engine import make_request, score_items
from s2sbench_hf.scoring.interface import Request
from s2sbench_hf.tasks import TASKS, Item
from s2sbench_hf.testing import REL_TOL, deviation_from_full_forward, noise_clip, story_requests

CASES = [("causal_lm_path", "text"), ("qwen2_audio_path", "text"), ("qwen2_audio_path", "audio")]


@pytest.mark.parametrize("model_fixture,setting", CASES)
def test_shared_prefix_equals_full_forward(request, model_fixture, setting):
    scorer = load_scorer(str(request.getfixturevalue(model_fixture)), device="cpu", dtype="float32")
    assert deviation_from_full_forward(scorer, story_requests(setting)) < REL_TOL


def test_text_scores_match_lm_evaluation_harness(causal_lm_path):
    lm_eval_hf = pytest.importorskip("lm_eval.models.huggingface")
    from lm_eval.api.instance import Instance

    scorer = load_scorer(str(causal_lm_path), device="cpu", dtype="float32")
    requests = story_requests("text")
    ours = [s.nll_sum for scores in scorer.score(requests) for s in scores]
    pairs = [(r.context, c) for r in requests for c in r.continuations]
    lm = lm_eval_hf.HFLM(pretrained=str(causal_lm_path), device="cpu", batch_size=2)
    instances = [Instance("loglikelihood", {}, pair, i) for i, pair in enumerate(pairs)]
    theirs = [-ll for ll, _ in lm.loglikelihood(instances, disable_tqdm=True)]
    assert ours == pytest.approx(theirs, abs=1e-4)


def test_audio_conditions_the_score(qwen2_audio_path):
    scorer = load_scorer(str(qwen2_audio_path), device="cpu", dtype="float32")
    base = story_requests("audio")[0]
    other = Request(base.task, base.item_id, "audio", base.context, base.continuations, noise_clip(2.5, seed=99), 16000)
    a = [s.nll_sum for s in scorer.score([base])[0]]
    b = [s.nll_sum for s in scorer.score([other])[0]]
    assert max(abs(x - y) for x, y in zip(a, b)) > 1e-3


def test_causal_lm_refuses_audio_setting_clearly(causal_lm_path):
    scorer = load_scorer(str(causal_lm_path), device="cpu")
    with pytest.raises(AdapterError, match="cannot score the 'audio' setting"):
        score_items(scorer, TASKS["sstorycloze"], [], ["text", "audio"])


def test_unknown_adapter_lists_the_supported(causal_lm_path):
    with pytest.raises(AdapterError, match="qwen2-audio"):
        load_scorer(str(causal_lm_path), adapter="nope")


def test_adapter_is_detected_from_config(causal_lm_path, qwen2_audio_path):
    assert load_scorer(str(causal_lm_path), device="cpu").name == "causal-lm"
    assert load_scorer(str(qwen2_audio_path), device="cpu").name == "qwen2-audio"


def test_framing_follows_the_reference():
    en, zh = TASKS["sstorycloze"], TASKS["zh_sstorycloze"]
    item = Item("sstorycloze", "1", "A story.", ["Good end.", "Bad end."], 0, audio=noise_clip(1, 0), sampling_rate=16000)
    text = make_request(en, item, "text", en.framing, 16000)
    assert text.context == "A story." and text.continuations == (" Good end.", " Bad end.")
    audio = make_request(en, item, "audio", en.framing, 16000)
    assert audio.context == "Below is a segment of alternating speech and text content: "
    assert audio.continuations == ("Good end.", "Bad end.")
    zh_item = Item("zh_sstorycloze", "1", "故事。", ["好。", "坏。"], 0)
    assert make_request(zh, zh_item, "text", zh.framing, None).continuations == ("好。", "坏。")
    assert zh.framing.audio_prefix == "下面是一段语音和文本交错的内容："


def test_bad_items_are_reported_and_good_ones_kept(qwen2_audio_path, tmp_path):
    import soundfile as sf

    task = TASKS["sstorycloze"]
    stereo_44k = tmp_path / "stereo.wav"
    sf.write(stereo_44k, np.stack([noise_clip(1.5, 1), noise_clip(1.5, 2)], axis=1)[: int(44100 * 1.5)], 44100)
    good = Item("sstorycloze", "good", "A story.", ["Good end.", "Bad end."], 0, audio=str(stereo_44k))
    missing = Item("sstorycloze", "missing", "A story.", ["Good end.", "Bad end."], 1, audio=str(tmp_path / "x.wav"))
    broken = Item("sstorycloze", "broken", "A story.", ["Good end.", "Bad end."], 1, audio=b"not a wav file")
    scorer = load_scorer(str(qwen2_audio_path), device="cpu")
    records, errors = score_items(scorer, task, [good, missing, broken], ["text", "audio"], progress=False)
    assert sorted(e.item_id for e in errors) == ["broken", "missing"]
    assert all("sstorycloze" in str(e) and "audio" in str(e) for e in errors)
    assert {(r.item_id, r.setting) for r in records} == {
        ("good", "text"), ("good", "audio"), ("missing", "text"), ("broken", "text")
    }


def test_a_failing_request_costs_only_its_item(causal_lm_path):
    """A model error on one request is retried alone and reported; the batch's other items are kept."""
    scorer = load_scorer(str(causal_lm_path), device="cpu")
    real_score = scorer.score

    def flaky(requests):
        if any(r.item_id == "bad" for r in requests):
            raise RuntimeError("CUDA error: device-side assert")
        return real_score(requests)

    scorer.score = flaky
    items = [Item("sstorycloze", i, "A story.", ["Good end.", "Bad end."], 0) for i in ("a", "bad", "b")]
    records, errors = score_items(scorer, TASKS["sstorycloze"], items, ["text"], batch_size=3, progress=False)
    assert [e.item_id for e in errors] == ["bad"] and "device-side assert" in str(errors[0])
    assert sorted({r.item_id for r in records}) == ["a", "b"]
