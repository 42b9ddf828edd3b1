"""Every speech LLM family's adapter, on a tiny random model built offline.

For each family with a tiny-model recipe in its module (`s2sbench_hf.testing.tiny_families`): shared-context
scores equal one plain full forward pass per continuation (within 1e-6 of their size in fp32),
for batches that mix context lengths and clip lengths that are no multiple of a
10 ms hop; the prompt length planned for a clip is the
processor's real expansion; a different clip changes the audio-setting scores;
bf16 stays close to fp32; the family is detected from its config; ``s2sbench
run`` works end to end. The families that need torchaudio or timm (their extras,
`Family.needs`) run on the real package where it is installed, and on
`backend_stand_ins` where it is missing (tests/conftest.py, `tiny_model_backends`).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_helpers import run_cli

from s2sbench_hf.scoring.adapters.base import lm_head
from s2sbench_hf.scoring.interface import AdapterError, Request
from s2sbench_hf.scoring.registry import ADAPTERS, detect_adapter, load_scorer
from s2sbench_hf.tasks import ItemError
from s2sbench_hf.testing import (
    REL_TOL,
    deviation_from_full_forward,
    full_forward_nll,
    make_tiny_model,
    noise_clip,
    relative_deviation,
    story_requests,
    tiny_families,
)

FAMILIES = [
    name
    for name in tiny_families()
    if name not in ("causal-lm", "qwen2-audio", "moshi")
    and (
        ADAPTERS[name].missing_transformers() is not None
        or {"text", "audio"} <= set(ADAPTERS[name].load_class().settings)
    )
]
"""The families of one token sequence that score the text and the audio setting (causal-lm, qwen2-audio:
test_scoring.py; moshi's streams: test_moshi.py; a family of other settings, such as llama-mimi's utterances: its own
test file). One that the installed transformers is too old for cannot be imported to ask: it stays, and its tests
skip."""

E2E_FAST: tuple[str, ...] = ()
"""Families whose ``s2sbench run`` is in the fast suite: none, the fast suite's CLI runs are Qwen2-Audio's
(tests/conftest.py) and Moshi's; every family's run is marked slow (``-m "not slow"`` leaves them out)."""

MATRIX_FAST = ("gemma4", "audio-flamingo3", "qwen2.5-omni", "causal-lm")
"""The families whose exactness checks are in the fast suite (a trimmed Whisper encoder, an omni thinker, a
processor loaded without its vision parts, a text LM); the others' are marked slow (`make test` runs them all)."""


def matrix(families: list[str]) -> list:
    """``families`` as parameters, those outside `MATRIX_FAST` marked slow."""
    return [f if f in MATRIX_FAST else pytest.param(f, marks=pytest.mark.slow) for f in families]


_PATHS: dict[str, str] = {}
_SCORERS: dict[tuple, object] = {}


pytestmark = pytest.mark.usefixtures("tiny_model_backends")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """family -> path of its tiny model, built once per module; a test of a family that the installed transformers
    is too old for skips, naming the release it needs."""

    def get(family: str) -> str:
        missing = ADAPTERS[family].missing_transformers()
        if missing is not None:
            pytest.skip(missing)
        if family not in _PATHS:
            _PATHS[family] = str(make_tiny_model(family, tmp_path_factory.mktemp(family)))
        return _PATHS[family]

    return get


def by_name(family: str) -> dict[str, str]:
    """The adapter option for a family chosen by name only (no model type of its own, e.g. a family that another
    package adds on a model type of ours); nothing for a family detected from its config."""
    return {} if ADAPTERS[family].model_types else {"adapter": family}


def _scorer(tiny, family: str, dtype: str = "float32", **kwargs):
    key = (family, dtype, tuple(sorted(kwargs.items())))
    if key not in _SCORERS:
        _SCORERS[key] = load_scorer(tiny(family), device="cpu", dtype=dtype, **by_name(family), **kwargs)
    return _SCORERS[key]


def _audio_requests(rate: int = 16000) -> list[Request]:
    """Two audio `story_requests` (different contexts) with clips of 16050 samples (100 hops of 10 ms + 50) and
    1.6 s: lengths that differ and are no multiple of a hop, where padding or frame counting could leak."""
    requests = story_requests("audio", rate)[:2]
    return [
        replace(r, audio=noise_clip(s, i, rate), audio_seconds=s)
        for i, (r, s) in enumerate(zip(requests, (1.003125, 1.6), strict=True))
    ]


def _assert_exact(scorer, requests) -> None:
    """Batched shared-prefix scores equal a plain full forward pass of each prompt + continuation alone
    (no padding, no cache), within 1e-6 of the score's size: float32 rounding of a sum near 150 is 1e-5."""
    assert deviation_from_full_forward(scorer, requests) < REL_TOL


@pytest.mark.parametrize("family", FAMILIES)
def test_family_is_detected_from_its_config(tiny, family):
    if ADAPTERS[family].model_types:
        assert detect_adapter(tiny(family)) == family
    scorer = _scorer(tiny, family)
    assert scorer.name == family and set(scorer.settings) == {"text", "audio"}
    assert scorer.describe()["adapter"] == family


@pytest.mark.parametrize("setting", ["text", "audio"])
@pytest.mark.parametrize("family", matrix(FAMILIES))
def test_shared_context_equals_full_forward(tiny, family, setting):
    scorer = _scorer(tiny, family)
    _assert_exact(scorer, story_requests("text") if setting == "text" else _audio_requests(scorer.sampling_rate))


@pytest.mark.parametrize("family", matrix(FAMILIES))
def test_planned_prompt_length_is_the_processors_expansion(tiny, family):
    """The engine plans batches with `token_lengths` before any audio is decoded: it must count exactly."""
    scorer = _scorer(tiny, family)
    text = story_requests("text")[0]
    assert scorer.token_lengths(text)[0] == scorer.prefix_inputs([text])["input_ids"].shape[1]
    rate = scorer.sampling_rate
    windows = scorer.audio_window_limit() or 2
    for seconds in (0.37, 1.003125, 7.03, 29.97, 31.3)[: 4 if windows == 1 else 5]:  # 31.3 s: past one window
        clip = (0.1 * np.random.default_rng(0).standard_normal(round(seconds * rate))).astype(np.float32)
        request = Request("t", "0", "audio", "Below is speech: ", ("x",), clip, rate, audio_seconds=len(clip) / rate)
        assert scorer.token_lengths(request)[0] == scorer.prefix_inputs([request])["input_ids"].shape[1], seconds


@pytest.mark.parametrize("family", matrix(FAMILIES))
def test_a_different_clip_changes_the_audio_scores(tiny, family):
    scorer = _scorer(tiny, family)
    base = story_requests("audio", scorer.sampling_rate)[0]
    other = replace(base, audio=noise_clip(2.5, 99, scorer.sampling_rate), audio_seconds=2.5)
    a = [s.nll_sum for s in scorer.score([base])[0]]
    b = [s.nll_sum for s in scorer.score([other])[0]]
    assert max(abs(x - y) for x, y in zip(a, b, strict=True)) > 1e-3


@pytest.mark.parametrize("family", matrix(FAMILIES))
def test_bfloat16_is_close_to_float32(tiny, family):
    fp32, bf16 = _scorer(tiny, family), _scorer(tiny, family, dtype="bfloat16")
    assert bf16.dtype == torch.bfloat16
    for setting in ("text", "audio"):
        requests = story_requests(setting, fp32.sampling_rate)[:1]
        for full, half in zip(fp32.score(requests), bf16.score(requests), strict=True):
            for x, y in zip(full, half, strict=True):
                assert y.nll_sum / y.n_tokens == pytest.approx(x.nll_sum / x.n_tokens, abs=1e-2)


@pytest.mark.parametrize("family", [f if f in E2E_FAST else pytest.param(f, marks=pytest.mark.slow) for f in FAMILIES])
def test_run_end_to_end(tiny, family, tmp_path):
    out = tmp_path / "out"
    code = run_cli(
        tiny(family),
        out,
        tasks="sstorycloze",
        dataset="samples",
        limit=4,
        device="cpu",
        n_bootstrap=20,
        no_progress=True,
        **by_name(family),
    )
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    assert results["model"]["adapter"] == family
    assert results["results"]["sstorycloze"]["n_items"] == 4
    rows = (out / "samples_sstorycloze.jsonl").read_text().splitlines()
    assert len(rows) == 4 * 2 * 2  # items x settings x continuations


def declaring(attribute: str, families: list[str]) -> list[str]:
    """The ``families`` whose adapter class sets ``attribute``. One the installed transformers is too old for cannot
    be imported to ask: it is left out (its other tests skip, tests/conftest.py's `pytest_collection_modifyitems`)."""
    loadable = [f for f in families if ADAPTERS[f].missing_transformers() is None]
    return [f for f in loadable if getattr(ADAPTERS[f].load_class(), attribute)]


LEAKY = declaring("pad_leaks_into_encoder", FAMILIES)


@pytest.mark.parametrize("family", LEAKY)
def test_leaky_families_need_their_split_by_clip_length(tiny, family):
    """Each family that declares ``pad_leaks_into_encoder`` shows why: batched with clips of other lengths
    (16050 samples, 1.6 s, 2 s, 10 s), a clip scores differently than alone (its padding reaches the encoder, or the
    feature extractor counts its frames differently) beyond the exactness bound; with the split the scores are equal
    (`_assert_exact`)."""
    scorer = _scorer(tiny, family)
    rate = scorer.sampling_rate
    requests = [*_audio_requests(rate), _clip_request(2.0, 4, "short", rate), _clip_request(10.0, 3, "long", rate)]
    assert len(scorer.batch_groups(requests)) == 4
    scorer.pad_leaks_into_encoder = False
    try:
        batched = [s for scores in scorer.score(requests) for s in scores]
    finally:
        scorer.pad_leaks_into_encoder = True
    alone = [s for r in requests for s in scorer.score([r])[0]]
    assert (
        max(abs(a.nll_sum - b.nll_sum) / abs(a.nll_sum) for a, b in zip(alone, batched, strict=True)) > REL_TOL
    )  # past the bound


def test_leaky_families_are_the_expected_ones():
    assert set(LEAKY) == {
        "phi4-multimodal",
        "granite-speech",
        "granite-speech-plus",
        "fun-asr-nano",
        "qwen3-asr",
        "qwen3-omni",
        "gemma3n",
        "nemotron-h-omni",
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
        for req, scores in zip(requests, scorer.score(requests), strict=True):
            for j, score in enumerate(scores):
                assert score.nll_sum == pytest.approx(full_forward_nll(scorer, req, j), rel=1e-6)


def test_speech_only_processor_is_the_familys_own_without_vision(tiny):
    """Omni processors are loaded without their image and video processors (torchvision); giving one an
    image fails instead of being ignored."""
    processor = _scorer(tiny, "gemma4").processor  # first: skips where transformers is too old for Gemma 4's
    from transformers import Gemma4Processor

    assert isinstance(processor, Gemma4Processor) and type(processor).__name__ == "Gemma4Processor"
    assert processor.image_processor is None and processor.video_processor is None
    assert processor.audio_seq_length == 750  # the processor's own settings
    with pytest.raises(Exception):  # noqa: B017 - whatever it raises: the point is that it does not ignore the image
        processor(text=["<image_soft_token>"], images=[np.zeros((8, 8, 3), np.uint8)])


def test_dots3_refuses_items_beyond_its_sparse_attention(tiny):
    scorer = _scorer(tiny, "dots3-note")
    config = scorer.model.config.get_text_config()
    keys, config.index_topk = config.index_topk, 16
    try:
        with pytest.raises(ItemError, match=r"item '0'.* more than the 16 the model has \(keys its sparse attention"):
            scorer.score(story_requests("text")[:1])
    finally:
        config.index_topk = keys


def test_chat_template_flag_is_recorded(tiny, tmp_path):
    code = run_cli(
        tiny("glm-asr"),
        tmp_path,
        tasks="sstorycloze",
        dataset="samples",
        limit=2,
        device="cpu",
        n_bootstrap=10,
        no_progress=True,
        chat_template=True,
    )
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


# -- issue 15: the encoder over real audio, the LM head where it is used; issue 11: no silent cuts ---------

SPEECH_FAMILIES = [*FAMILIES, "qwen2-audio"]
WINDOWED = ["qwen2-audio", "qwen2.5-omni", "audio-flamingo3", "music-flamingo", "glm-asr", "voxtral"]
"""Families whose clips are scored in consecutive 30 s windows (their own markers, or the processor's chunks)."""
ONE_WINDOW = ["gemma3n", "gemma4"]
"""Families whose processor keeps the first 30 s of a clip: a longer one is an item error."""


def _clip_request(seconds: float, seed: int, item_id: str = "clip", rate: int = 16000) -> Request:
    """An audio request with ``seconds`` of noise at ``rate`` (a family's own `sampling_rate`)."""
    clip = (0.1 * np.random.default_rng(seed).standard_normal(round(rate * seconds))).astype(np.float32)
    return Request(
        "sstorycloze",
        item_id,
        "audio",
        "Below is speech: ",
        ("and went home happy.", "the moon ate him."),
        clip,
        rate,
        audio_seconds=seconds,
    )


def _nll(scores) -> list[float]:
    return [s.nll_sum for s in scores]


TRIMMED = declaring("trim_encoder", SPEECH_FAMILIES)
"""Families whose encoder runs over the batch's longest clip instead of a padded 30 s window."""


def test_families_that_trim_are_the_expected_ones():
    """The others either take a clip of any length unpadded already, or have an encoder that reads the
    padding (GLM-ASR: `test_an_encoder_without_a_padding_mask_keeps_the_window`), or need the ids of the
    placeholders (Music Flamingo)."""
    assert set(TRIMMED) == {"qwen2-audio", "qwen2.5-omni", "qwen3-omni", "audio-flamingo3"}


@pytest.mark.parametrize("family", TRIMMED)
def test_trimmed_encoder_equals_the_whole_window(tiny, family):
    """A ``trim_encoder`` family: a short clip in a batch with a longer one (its features cut to the longer
    clip) and a clip alone (cut to itself) score as over the whole 30 s window (the model's own forward)."""
    scorer = _scorer(tiny, family)
    short, long = _clip_request(1.3, seed=1, item_id="short"), _clip_request(6.0, seed=2, item_id="long")
    trimmed_batch = scorer.score([short, long])
    trimmed_alone = scorer.score([short])[0]
    scorer.trim_encoder = False
    try:
        window = [scorer.score([r])[0] for r in (short, long)]
    finally:
        del scorer.trim_encoder
    assert relative_deviation(_nll(trimmed_batch[0]), _nll(window[0])) < REL_TOL
    assert relative_deviation(_nll(trimmed_batch[1]), _nll(window[1])) < REL_TOL
    assert relative_deviation(_nll(trimmed_alone), _nll(window[0])) < REL_TOL


def _language_model_embeddings(scorer, inputs) -> torch.Tensor:
    """The embeddings the language model receives from the model's own forward (whole window)."""
    seen = {}
    hook = scorer.model.model.language_model.register_forward_pre_hook(
        lambda _m, _args, kwargs: seen.update(embeds=kwargs["inputs_embeds"]), with_kwargs=True
    )
    try:
        with torch.inference_mode():
            scorer.model(**inputs)
    finally:
        hook.remove()
    return seen["embeds"]


@pytest.mark.parametrize("family", ["qwen2-audio", "audio-flamingo3"])
def test_whisper_encoder_output_does_not_depend_on_the_padding(tiny, family, monkeypatch):
    """The Whisper-style encoders mask padded positions: a clip's encoder outputs (the embeddings that
    replace its placeholders) are the same alone over the whole window, alone cut to itself, and padded
    to a longer clip in a batch. Without the margin of padding frames the convolutions read, they are not."""
    from s2sbench_hf.scoring.adapters import base

    scorer = _scorer(tiny, family)
    short, long = _clip_request(1.3, seed=1), _clip_request(6.0, seed=2)
    audio_id = scorer.model.config.audio_token_id

    def placeholders(requests, trimmed: bool) -> torch.Tensor:
        inputs = scorer.prefix_inputs(requests)
        if trimmed:
            with torch.inference_mode():
                embeds = scorer.trim_audio(inputs)["inputs_embeds"]
        else:
            embeds = _language_model_embeddings(scorer, inputs)
        return embeds[0][inputs["input_ids"][0] == audio_id]  # the first request's clip

    window = placeholders([short], trimmed=False)
    assert len(window) >= 25  # 1.3 s: 32 positions
    for trimmed in (placeholders([short], trimmed=True), placeholders([short, long], trimmed=True)):
        assert float((trimmed - window).abs().max() / window.abs().max()) < REL_TOL
    monkeypatch.setattr(base, "whisper_frames_needed", lambda valid, window_frames: valid)  # no margin
    unmargined = placeholders([short], trimmed=True)
    assert float((unmargined - window).abs().max() / window.abs().max()) > 1e-4


def test_an_encoder_without_a_padding_mask_keeps_the_window(tiny, monkeypatch):
    """GLM-ASR's encoder attends to the padding of its window: cutting the features to the clip changes
    the scores, which is why it does not declare ``trim_encoder``."""
    scorer = _scorer(tiny, "glm-asr")
    assert not scorer.trim_encoder
    request = _clip_request(1.3, seed=1)
    window = scorer.score([request])[0]

    def cut(inputs):  # to the clip's frames, rounded up to what its 4-frame merge needs
        keep = -(-int(inputs["input_features_mask"].sum()) // 8) * 8
        return {
            **inputs,
            "input_features": inputs["input_features"][..., :keep],
            "input_features_mask": inputs["input_features_mask"][:, :keep],
        }

    monkeypatch.setattr(scorer, "trim_encoder", True)
    monkeypatch.setattr(scorer, "trim_audio", cut)
    assert max(abs(a - b) for a, b in zip(_nll(scorer.score([request])[0]), _nll(window), strict=True)) > 1e-3


@pytest.mark.parametrize("family", matrix([*SPEECH_FAMILIES, "causal-lm"]))
def test_the_lm_head_runs_only_where_logits_are_used(tiny, family):
    """The prompt pass computes logits at each prompt's last position, the continuation passes at the
    continuation positions: the head never sees a prompt's other positions."""
    scorer = _scorer(tiny, family)
    seen: list[tuple[int, int]] = []
    hook = lm_head(scorer.model).register_forward_hook(lambda _m, _args, logits: seen.append(tuple(logits.shape[:2])))
    try:
        for setting in [s for s in ("text", "audio") if s in scorer.settings]:
            requests = story_requests(setting, scorer.sampling_rate)
            longest = max(len(c) for r in requests for c in scorer.continuation_ids(r))
            prompt = max(scorer.token_lengths(r)[0] for r in requests)
            seen.clear()
            scorer.score(requests)
            assert max(positions for _, positions in seen) <= max(1, longest - 1) < prompt
            assert sum(rows for rows, positions in seen if positions == 1) >= len(requests)  # one row per prompt
    finally:
        hook.remove()


@pytest.mark.parametrize("family", matrix(SPEECH_FAMILIES))
def test_a_long_clip_is_scored_whole_or_refused(tiny, family):
    """45 s of speech: scored over consecutive 30 s windows (or in one piece where the encoder takes any
    length), equal to one plain forward pass and different from its first 30 s, the planner's counts exact;
    or, for a family whose processor keeps one window, an item error, and its processor does cut there (the
    declared limit is the processor's own, not a guess)."""
    scorer = _scorer(tiny, family)
    rate = scorer.sampling_rate
    first_30 = _clip_request(30.0, seed=3, item_id="first-30", rate=rate)
    tail = 8 * _clip_request(15.0, seed=7, rate=rate).audio  # loud, unlike the first 30 s
    long = replace(first_30, item_id="long", audio=np.concatenate([first_30.audio, tail]), audio_seconds=45.0)
    if family in ONE_WINDOW:
        assert scorer.audio_window_limit() == 1
        with pytest.raises(ItemError, match=r"45\.0 s"):
            scorer.score([long])
        expanded = scorer.prefix_inputs([long])  # what the processor would make of it, unchecked
        if family == "gemma3n":  # a fixed number of soft tokens: compare the features it keeps
            assert torch.equal(expanded["input_features"], scorer.prefix_inputs([first_30])["input_features"])
        else:
            assert torch.equal(expanded["input_ids"], scorer.prefix_inputs([first_30])["input_ids"])
        return
    assert scorer.audio_windows(45.0) == (2 if family in WINDOWED else 1)
    assert deviation_from_full_forward(scorer, [long, _clip_request(2.0, seed=4, rate=rate)]) < REL_TOL
    assert (
        max(abs(a - b) for a, b in zip(_nll(scorer.score([long])[0]), _nll(scorer.score([first_30])[0]), strict=True))
        > 1e-3
    )
    assert scorer.token_lengths(long)[0] == int(scorer.prefix_inputs([long])["attention_mask"].sum())


def test_a_clip_past_what_the_processor_takes_is_an_item_error(tiny):
    """Audio Flamingo 3's processor would keep only its first ``max_audio_len`` seconds: past that the item
    is an error for the audio setting that names the length and the limit; the other items are scored."""
    from s2sbench_hf.scoring.engine import score_items
    from s2sbench_hf.tasks import TASKS, Item

    scorer = load_scorer(tiny("audio-flamingo3"), device="cpu", dtype="float32")
    scorer.processor.max_audio_len = 30
    items = [
        Item(
            "sstorycloze",
            name,
            "A story.",
            ["Good end.", "Bad end."],
            0,
            audio=noise_clip(seconds, 5),
            sampling_rate=16000,
        )
        for name, seconds in (("long", 45.0), ("short", 2.0))
    ]
    records, errors = score_items(scorer, TASKS["sstorycloze"], items, ["text", "audio"], progress=False)
    assert [(e.item_id, e.task) for e in errors] == [("long", "sstorycloze")]
    assert "45.0 s" in str(errors[0]) and "30 s" in str(errors[0]) and "audio setting" in str(errors[0])
    assert {(r.item_id, r.setting) for r in records} == {("long", "text"), ("short", "text"), ("short", "audio")}
    with pytest.raises(ItemError, match=r"45\.0 s"):
        scorer.score([_clip_request(45.0, seed=3)])
