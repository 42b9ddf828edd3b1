"""Every speech LLM family's adapter, on a tiny random model built offline.

For each family: shared-context scores equal one plain full forward pass per
continuation (fp32, 1e-5) for batches that mix context lengths; a different
clip changes the audio-setting scores; bf16 stays close to fp32; the family is
detected from its config; ``s2sbench run`` works end to end.
"""

from __future__ import annotations

import importlib.util
import json

import pytest
import torch

from s2sbench_hf.cli import main
from s2sbench_hf.scoring.interface import AdapterError
from s2sbench_hf.scoring.registry import ADAPTERS, detect_adapter, load_scorer
from s2sbench_hf.scoring.interface import Request
from s2sbench_hf.testing import REL_TOL, TINY_MODELS, deviation_from_full_forward, full_forward_nll, make_tiny_model, noise_clip, story_requests

NEEDS = {"granite-speech": "torchaudio"}
"""Families whose processor needs a package that is missing on some machines (skipped there)."""

FAMILIES = [
    pytest.param(
        name,
        marks=pytest.mark.skipif(
            name in NEEDS and importlib.util.find_spec(NEEDS[name]) is None,
            reason=f"{name}'s feature extractor needs {NEEDS.get(name)}, which is not installed",
        ),
    )
    for name in TINY_MODELS
    if name not in ("causal-lm", "qwen2-audio")  # covered by test_scoring.py
]

_PATHS: dict[str, str] = {}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """family -> path of its tiny model, built once per module."""

    def get(family: str) -> str:
        if family not in _PATHS:
            _PATHS[family] = str(make_tiny_model(family, tmp_path_factory.mktemp(family)))
        return _PATHS[family]

    return get


_SCORERS: dict[tuple, object] = {}


def _scorer(tiny, family: str, dtype: str = "float32", **kwargs):
    key = (family, dtype, tuple(sorted(kwargs.items())))
    if key not in _SCORERS:
        _SCORERS[key] = load_scorer(tiny(family), device="cpu", dtype=dtype, **kwargs)
    return _SCORERS[key]


@pytest.mark.parametrize("family", FAMILIES)
def test_family_is_detected_from_its_config(tiny, family):
    assert detect_adapter(tiny(family)) == family
    scorer = _scorer(tiny, family)
    assert scorer.name == family and set(scorer.settings) == {"text", "audio"}
    assert scorer.describe()["adapter"] == family


@pytest.mark.parametrize("setting", ["text", "audio"])
@pytest.mark.parametrize("family", FAMILIES)
def test_shared_context_equals_full_forward(tiny, family, setting):
    assert deviation_from_full_forward(_scorer(tiny, family), story_requests(setting)) < REL_TOL


@pytest.mark.parametrize("family", FAMILIES)
def test_a_different_clip_changes_the_audio_scores(tiny, family):
    scorer = _scorer(tiny, family)
    base = story_requests("audio")[0]
    other = Request(base.task, base.item_id, "audio", base.context, base.continuations, noise_clip(2.5, seed=99), 16000)
    a = [s.nll_sum for s in scorer.score([base])[0]]
    b = [s.nll_sum for s in scorer.score([other])[0]]
    assert max(abs(x - y) for x, y in zip(a, b)) > 1e-3


@pytest.mark.parametrize("family", FAMILIES)
def test_bfloat16_is_close_to_float32(tiny, family):
    fp32, bf16 = _scorer(tiny, family), _scorer(tiny, family, dtype="bfloat16")
    assert bf16.dtype == torch.bfloat16
    for setting in ("text", "audio"):
        requests = story_requests(setting)
        for full, half in zip(fp32.score(requests), bf16.score(requests)):
            for x, y in zip(full, half):
                assert y.nll_sum / y.n_tokens == pytest.approx(x.nll_sum / x.n_tokens, abs=1e-2)


@pytest.mark.parametrize("family", FAMILIES)
def test_run_end_to_end(tiny, family, tmp_path):
    out = tmp_path / "out"
    code = main(["run", "--model", tiny(family), "--tasks", "sstorycloze", "--limit", "4", "--device", "cpu",
                 "--bootstrap", "20", "--no-progress", "--output", str(out)])
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    assert results["model"]["adapter"] == family
    assert results["results"]["sstorycloze"]["n_items"] == 4
    rows = (out / "samples_sstorycloze.jsonl").read_text().splitlines()
    assert len(rows) == 4 * 2 * 2  # items x settings x continuations


def test_leaky_encoders_are_split_by_clip_length(tiny):
    """Phi-4-multimodal's encoder sees one clip's padding in another's features: without the split the
    scores of a batch differ from one clip at a time, with it they are equal (tested above)."""
    scorer = _scorer(tiny, "phi4-multimodal")
    requests = story_requests("audio")
    assert len(scorer.batch_groups(requests)) == 3
    scorer.pad_leaks_into_encoder = False
    try:
        batched = scorer.score(requests)
    finally:
        scorer.pad_leaks_into_encoder = True
    alone = scorer.score([requests[0]])[0]
    assert max(abs(a.nll_sum - b.nll_sum) for a, b in zip(alone, batched[0])) > 1e-4


def test_qwen_omni_thinker_loads_out_of_a_full_checkpoint(tiny, tmp_path):
    from transformers import AutoConfig, Qwen2_5OmniConfig, Qwen2_5OmniForConditionalGeneration

    thinker_path = tiny("qwen2.5-omni")
    thinker = _scorer(tiny, "qwen2.5-omni")
    full = Qwen2_5OmniForConditionalGeneration(
        Qwen2_5OmniConfig(thinker_config=AutoConfig.from_pretrained(thinker_path).to_dict(), enable_audio_output=False)
    )
    full.thinker.load_state_dict(thinker.model.state_dict())
    full.save_pretrained(tmp_path)
    for name in ("tokenizer.json", "tokenizer_config.json", "preprocessor_config.json"):
        (tmp_path / name).write_bytes((__import__("pathlib").Path(thinker_path) / name).read_bytes())
    scorer = load_scorer(str(tmp_path), device="cpu", dtype="float32")
    assert scorer.name == "qwen2.5-omni" and type(scorer.model).__name__.endswith("ThinkerForConditionalGeneration")
    requests = story_requests("audio")[:1]
    assert [s.nll_sum for s in scorer.score(requests)[0]] == pytest.approx(
        [s.nll_sum for s in thinker.score(requests)[0]], abs=1e-5
    )


@pytest.mark.parametrize("family", ["qwen2.5-omni", "audio-flamingo3", "causal-lm"])
def test_chat_framing_wraps_the_prompt_and_stays_exact(tiny, family):
    scorer = _scorer(tiny, family, chat_template=True)
    assert scorer.describe()["chat_template"] is True
    settings = [s for s in ("text", "audio") if s in scorer.settings]
    for setting in settings:
        requests = story_requests(setting)
        prompt = scorer.tokenizer.decode(scorer.prefix_inputs(requests[:1])["input_ids"][0])
        assert prompt.startswith("<|im_start|>user\n") and prompt.endswith("<|im_end|>\n<|im_start|>assistant\n")
        # the reply is the continuation without the text separator
        assert scorer.continuation_ids(requests[0])[0] == scorer.encode(requests[0].continuations[0].lstrip())
        for req, scores in zip(requests, scorer.score(requests)):
            for j, score in enumerate(scores):
                assert score.nll_sum == pytest.approx(full_forward_nll(scorer, req, j), abs=1e-5)


def test_chat_template_flag_is_recorded(tiny, tmp_path):
    code = main(["run", "--model", tiny("glm-asr"), "--tasks", "sstorycloze", "--limit", "2", "--device", "cpu",
                 "--bootstrap", "10", "--no-progress", "--chat-template", "--output", str(tmp_path)])
    assert code == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["config"]["chat_template"] is True and results["model"]["chat_template"] is True


def test_missing_chat_template_is_a_clear_error(tiny):
    scorer = _scorer(tiny, "voxtral")  # builds Mistral's [INST] format itself
    chat = load_scorer(tiny("voxtral"), device="cpu", dtype="float32", chat_template=True)
    ids = chat.prefix_inputs(story_requests("text")[:1])["input_ids"][0].tolist()
    assert scorer.tokenizer.convert_tokens_to_ids("[INST]") in ids[:2]
    assert ids[-1] == scorer.tokenizer.convert_tokens_to_ids("[/INST]")
    plain = load_scorer(tiny("phi4-multimodal"), device="cpu", dtype="float32", chat_template=True)
    plain.tokenizer.chat_template = None
    with pytest.raises(AdapterError, match="no chat template"):
        plain.score(story_requests("text")[:1])


def test_unknown_model_type_lists_every_family(tmp_path):
    from transformers import ViTConfig

    ViTConfig(hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=8).save_pretrained(tmp_path)
    with pytest.raises(AdapterError) as err:
        detect_adapter(str(tmp_path))
    for name in ADAPTERS:
        assert name in str(err.value)
