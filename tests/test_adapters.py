"""Every speech LLM family's adapter, on a tiny random model built offline.

For each family (`s2sbench_hf.testing.TINY_MODELS`): shared-context scores equal
one plain full forward pass per continuation (within 1e-6 of their size in fp32),
for batches that mix context lengths and clip lengths that are no multiple of a
10 ms hop; the prompt length planned for a clip is the
processor's real expansion; a different clip changes the audio-setting scores;
bf16 stays close to fp32; the family is detected from its config; ``s2sbench
run`` works end to end. Families whose processor needs torchaudio run with
`backend_stand_ins` where torchaudio or timm is missing.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from s2sbench_hf.cli import main
from s2sbench_hf.scoring.interface import AdapterError, Request
from s2sbench_hf.scoring.registry import ADAPTERS, detect_adapter, load_scorer
from s2sbench_hf.testing import (
    TINY_MODELS, backend_stand_ins, deviation_from_full_forward, full_forward_nll, make_tiny_model, noise_clip, story_requests,
)

FAMILIES = [name for name in TINY_MODELS if name not in ("causal-lm", "qwen2-audio")]  # those: test_scoring.py

E2E_FAST = ("gemma4",)
"""The family whose ``s2sbench run`` is in the fast suite (its processor is loaded without its vision parts);
the others' runs are marked slow (``-m "not slow"`` leaves them out)."""

_PATHS: dict[str, str] = {}
_SCORERS: dict[tuple, object] = {}


@pytest.fixture(scope="module", autouse=True)
def _setup():
    """Stand-ins for torchaudio and timm where they are missing; one torch thread: the tiny models' operations are
    too small to gain from more, and on a shared machine extra threads only wait for each other (5x slower here)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with backend_stand_ins():
            yield
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """family -> path of its tiny model, built once per module."""

    def get(family: str) -> str:
        if family not in _PATHS:
            _PATHS[family] = str(make_tiny_model(family, tmp_path_factory.mktemp(family)))
        return _PATHS[family]

    return get


def _scorer(tiny, family: str, dtype: str = "float32", **kwargs):
    key = (family, dtype, tuple(sorted(kwargs.items())))
    if key not in _SCORERS:
        _SCORERS[key] = load_scorer(tiny(family), device="cpu", dtype=dtype, **kwargs)
    return _SCORERS[key]


def _audio_requests() -> list[Request]:
    """Two audio `story_requests` (different contexts) with clips of 16050 samples (100 hops of 10 ms + 50) and
    1.6 s: lengths that differ and are no multiple of a hop, where padding or frame counting could leak."""
    requests = story_requests("audio")[:2]
    return [replace(r, audio=noise_clip(s, i), audio_seconds=s) for i, (r, s) in enumerate(zip(requests, (1.003125, 1.6)))]


def _assert_exact(scorer, requests) -> None:
    """Batched shared-prefix scores equal a plain full forward pass of each prompt + continuation alone
    (no padding, no cache), within 1e-6 of the score's size: float32 rounding of a sum near 150 is 1e-5."""
    assert deviation_from_full_forward(scorer, requests) < 1e-6


@pytest.mark.parametrize("family", FAMILIES)
def test_family_is_detected_from_its_config(tiny, family):
    assert detect_adapter(tiny(family)) == family
    scorer = _scorer(tiny, family)
    assert scorer.name == family and set(scorer.settings) == {"text", "audio"}
    assert scorer.describe()["adapter"] == family


@pytest.mark.parametrize("setting", ["text", "audio"])
@pytest.mark.parametrize("family", FAMILIES)
def test_shared_context_equals_full_forward(tiny, family, setting):
    _assert_exact(_scorer(tiny, family), story_requests("text") if setting == "text" else _audio_requests())


@pytest.mark.parametrize("family", FAMILIES)
def test_planned_prompt_length_is_the_processors_expansion(tiny, family):
    """The engine plans batches with `token_lengths` before any audio is decoded: it must count exactly."""
    scorer = _scorer(tiny, family)
    text = story_requests("text")[0]
    assert scorer.token_lengths(text)[0] == scorer.prefix_inputs([text])["input_ids"].shape[1]
    rate = scorer.sampling_rate
    for seconds in (0.37, 1.003125, 7.03, 31.3):
        clip = (0.1 * np.random.default_rng(0).standard_normal(round(seconds * rate))).astype(np.float32)
        request = Request("t", "0", "audio", "Below is speech: ", ("x",), clip, rate, audio_seconds=len(clip) / rate)
        assert scorer.token_lengths(request)[0] == scorer.prefix_inputs([request])["input_ids"].shape[1], seconds


@pytest.mark.parametrize("family", ["audio-flamingo3", "music-flamingo"])
def test_clips_beyond_the_processors_limit_are_counted_as_cut(tiny, family):
    scorer = _scorer(tiny, family)
    limit, scorer.processor.max_audio_len = scorer.processor.max_audio_len, 30  # one window instead of 20 minutes
    try:
        request = Request("t", "0", "audio", "Speech: ", ("x",), noise_clip(61.0, 0), 16000, audio_seconds=61.0)
        planned = scorer.token_lengths(request)[0]
        assert planned == scorer.prefix_inputs([request])["input_ids"].shape[1]
        assert planned == scorer.token_lengths(replace(request, audio_seconds=30.0))[0]
    finally:
        scorer.processor.max_audio_len = limit


@pytest.mark.parametrize("family", FAMILIES)
def test_a_different_clip_changes_the_audio_scores(tiny, family):
    scorer = _scorer(tiny, family)
    base = story_requests("audio")[0]
    other = replace(base, audio=noise_clip(2.5, seed=99), audio_seconds=2.5)
    a = [s.nll_sum for s in scorer.score([base])[0]]
    b = [s.nll_sum for s in scorer.score([other])[0]]
    assert max(abs(x - y) for x, y in zip(a, b)) > 1e-3


@pytest.mark.parametrize("family", FAMILIES)
def test_bfloat16_is_close_to_float32(tiny, family):
    fp32, bf16 = _scorer(tiny, family), _scorer(tiny, family, dtype="bfloat16")
    assert bf16.dtype == torch.bfloat16
    for setting in ("text", "audio"):
        requests = story_requests(setting)[:1]
        for full, half in zip(fp32.score(requests), bf16.score(requests)):
            for x, y in zip(full, half):
                assert y.nll_sum / y.n_tokens == pytest.approx(x.nll_sum / x.n_tokens, abs=1e-2)


@pytest.mark.parametrize(
    "family", [f if f in E2E_FAST else pytest.param(f, marks=pytest.mark.slow) for f in FAMILIES]
)
def test_run_end_to_end(tiny, family, tmp_path):
    out = tmp_path / "out"
    code = main(["run", "--model", tiny(family), "--tasks", "sstorycloze", "--dataset", "samples", "--limit", "4", "--device", "cpu",
                 "--bootstrap", "20", "--no-progress", "--output", str(out)])
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    assert results["model"]["adapter"] == family
    assert results["results"]["sstorycloze"]["n_items"] == 4
    rows = (out / "samples_sstorycloze.jsonl").read_text().splitlines()
    assert len(rows) == 4 * 2 * 2  # items x settings x continuations


LEAKY = [f for f in FAMILIES if ADAPTERS[f].load_class().pad_leaks_into_encoder]


@pytest.mark.parametrize("family", LEAKY)
def test_leaky_families_need_their_split_by_clip_length(tiny, family):
    """Each family that declares ``pad_leaks_into_encoder`` shows why: batched with a longer clip, a clip of
    16050 samples scores differently than alone (its padding reaches the encoder, or the feature extractor
    counts its frames differently); with the split the scores are equal (`_assert_exact`)."""
    scorer = _scorer(tiny, family)
    requests = _audio_requests()[:2]
    assert len(scorer.batch_groups(requests)) == 2
    scorer.pad_leaks_into_encoder = False
    try:
        batched = scorer.score(requests)[0]
    finally:
        scorer.pad_leaks_into_encoder = True
    alone = scorer.score(requests[:1])[0]
    assert max(abs(a.nll_sum - b.nll_sum) / abs(a.nll_sum) for a, b in zip(alone, batched)) > 1e-5


def test_leaky_families_are_the_expected_ones():
    assert set(LEAKY) == {
        "phi4-multimodal", "granite-speech", "granite-speech-plus", "fun-asr-nano", "qwen3-asr", "qwen3-omni", "gemma3n",
    }


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
        (tmp_path / name).write_bytes((Path(thinker_path) / name).read_bytes())
    scorer = load_scorer(str(tmp_path), device="cpu", dtype="float32")
    assert scorer.name == "qwen2.5-omni" and type(scorer.model).__name__.endswith("ThinkerForConditionalGeneration")
    requests = story_requests("audio")[:1]
    assert [s.nll_sum for s in scorer.score(requests)[0]] == pytest.approx(
        [s.nll_sum for s in thinker.score(requests)[0]], rel=1e-6
    )


@pytest.mark.parametrize("family", ["qwen2.5-omni", "audio-flamingo3", "gemma4", "causal-lm"])
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
                assert score.nll_sum == pytest.approx(full_forward_nll(scorer, req, j), rel=1e-6)


def test_speech_only_processor_is_the_familys_own_without_vision(tiny):
    """Omni processors are loaded without their image and video processors (torchvision); giving one an
    image fails instead of being ignored."""
    from transformers import Gemma4Processor

    processor = _scorer(tiny, "gemma4").processor
    assert isinstance(processor, Gemma4Processor) and type(processor).__name__ == "Gemma4Processor"
    assert processor.image_processor is None and processor.video_processor is None
    assert processor.audio_seq_length == 750  # the processor's own settings
    with pytest.raises(Exception):
        processor(text=["<image_soft_token>"], images=[np.zeros((8, 8, 3), np.uint8)])


def test_dots3_refuses_items_beyond_its_sparse_attention(tiny):
    scorer = _scorer(tiny, "dots3-note")
    config = scorer.model.config.get_text_config()
    keys, config.index_topk = config.index_topk, 16
    try:
        with pytest.raises(ValueError, match=r"task 'sstorycloze', item '0': \d+ positions exceed the 16 keys"):
            scorer.score(story_requests("text")[:1])
    finally:
        config.index_topk = keys


def test_chat_template_flag_is_recorded(tiny, tmp_path):
    code = main(["run", "--model", tiny("glm-asr"), "--tasks", "sstorycloze", "--dataset", "samples", "--limit", "2", "--device", "cpu",
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
