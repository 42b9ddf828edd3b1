"""Moshi in all four settings, on a tiny random Moshi built offline (its family module's recipe).

The shared-context scores equal a plain reference written here: one forward pass
of the model's own ``forward`` over the whole frame sequence of one prompt and
one continuation (no cache, no padding), the speech codes delayed by the
model's own ``build_delay_pattern_mask``, and one depth-transformer call over
every frame of the continuation for the semantic codebook. Batches that mix
context and clip lengths equal each request alone; bf16 stays close to fp32; a
different continuation clip, and in speech_to_speech a different context clip,
change the scores; limits are item errors; ``s2sbench run`` scores the four
settings end to end and the run validates.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from cli_helpers import run_cli

from s2sbench_hf.cli import main
from s2sbench_hf.scoring.adapters.moshi import TEXT_PADDING_ID
from s2sbench_hf.scoring.interface import AdapterError, Request
from s2sbench_hf.scoring.registry import detect_adapter, load_scorer
from s2sbench_hf.tasks import SETTINGS, SPEECH_CONTEXT, SPEECH_CONTINUATION, ItemError
from s2sbench_hf.testing import REL_TOL, STORIES, make_tiny_model, relative_deviation

RATE = 24000


@pytest.fixture(scope="module")
def moshi_path(tmp_path_factory):
    return str(make_tiny_model("moshi", tmp_path_factory.mktemp("tiny-moshi")))


@pytest.fixture(scope="module")
def scorer(moshi_path):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the tiny model's operations are too small to gain from more threads
    try:
        yield load_scorer(moshi_path, device="cpu", dtype="float32")
    finally:
        torch.set_num_threads(threads)


def clip(seconds: float, seed: int) -> np.ndarray:
    """Noise standing in for speech, 24 kHz; lengths that are no multiple of Mimi's 1920-sample frame."""
    return (0.1 * np.random.default_rng(seed).standard_normal(round(RATE * seconds))).astype(np.float32)


def requests(setting: str) -> list[Request]:
    """Two requests of ``setting`` with contexts and continuations of different lengths (batched together)."""
    out = []
    for i, (story, endings) in enumerate(STORIES[:2]):
        context, conts = story, endings
        fields: dict = {"sampling_rate": RATE}
        if setting in SPEECH_CONTEXT:
            fields.update(audio=clip(0.5 + 0.77 * i, i), audio_seconds=0.5 + 0.77 * i)
            context = "Below is speech: "
        if setting in SPEECH_CONTINUATION:
            lengths = (0.31 + 0.4 * i, 0.93 - 0.2 * i)
            fields.update(
                continuation_audio=tuple(clip(s, 10 + 2 * i + j) for j, s in enumerate(lengths)),
                continuation_seconds=lengths,
            )
            conts = [c.strip() for c in conts]
        elif setting in SPEECH_CONTEXT:
            conts = [c.lstrip() for c in conts]
        out.append(Request("sstorycloze", str(i), setting, context, tuple(conts), **fields))
    return out


@torch.inference_mode()
def plain_reference(scorer, request: Request, j: int) -> tuple[float, int]:
    """(NLL, tokens) of continuation ``j``: one plain forward over the whole sequence, from the model's parts."""
    model, tok = scorer.model, scorer.tokenizer
    config = model.config
    k, initial = config.num_codebooks, config.audio_vocab_size

    def encode(wave):
        return model.audio_encoder.encode(torch.tensor(wave)[None, None], num_quantizers=k).audio_codes[0]

    silent = encode(np.zeros(1920, np.float32))
    text, moshi, user = [config.vocab_size], [torch.full((k, 1), initial)], [torch.full((k, 1), initial)]

    def add(ids, own, heard):
        text.extend(ids)
        moshi.append(silent.expand(-1, len(ids)) if own is None else own)
        user.append(silent.expand(-1, len(ids)) if heard is None else heard)

    add(tok(request.context.rstrip(), add_special_tokens=False)["input_ids"], None, None)
    if request.setting in SPEECH_CONTEXT:
        heard = encode(request.audio)
        add([TEXT_PADDING_ID] * heard.shape[1], None, heard)
    start = len(text)
    if request.setting in SPEECH_CONTINUATION:
        said = encode(request.continuation_audio[j])
        add([TEXT_PADDING_ID] * said.shape[1], said, None)
        targets = said[0]
    else:
        ids = scorer.continuation_ids(request)[j]
        add(ids, None, None)
        targets = torch.tensor(ids)
    ids = torch.tensor([text])
    length = ids.shape[1]
    delay = [
        model.build_delay_pattern_mask(
            torch.cat(s, dim=1)[None], bos_token_id=initial, pad_token_id=initial, max_length=length + 1
        )[0]
        for s in (moshi, user)
    ]
    out = model(input_ids=ids, moshi_audio_codes=delay[0], user_audio_codes=delay[1])
    n = len(targets)
    if request.setting in SPEECH_CONTINUATION:  # frame t's codebook 0 from the state of frame t-1 and t's text token
        depth = model.depth_decoder(
            input_ids=ids[0, start : start + n, None],
            last_hidden_state=out.last_hidden_state[0, start - 1 : start + n - 1, None],
        )
        logits = depth.logits[:, 0]
    else:
        logits = out.logits[0, start - 1 : start + n - 1]
    logprobs = torch.log_softmax(logits.float(), dim=-1)
    return -float(logprobs[torch.arange(n), targets].sum()), n


def test_moshi_is_detected_and_scores_every_setting(moshi_path, scorer):
    assert detect_adapter(moshi_path) == "moshi"
    assert scorer.settings == (*SETTINGS, "utterance") and scorer.sampling_rate == RATE
    assert scorer.describe()["speech_tokens"] == "Mimi codebook 0 (semantic) of 4, one token per 80 ms frame"
    with pytest.raises(AdapterError, match="no chat template"):
        load_scorer(moshi_path, device="cpu", dtype="float32", chat_template=True)


@pytest.mark.parametrize("setting", SETTINGS)
def test_shared_context_equals_a_plain_full_forward(scorer, setting):
    """A batch mixing context lengths and clip lengths: every score equals the plain forward, and the request alone."""
    batch = requests(setting)
    batched = scorer.score(batch)
    for request, scores in zip(batch, batched, strict=True):
        alone = [s.nll_sum for s in scorer.score([request])[0]]
        reference = [plain_reference(scorer, request, j) for j in range(len(scores))]
        assert [s.n_tokens for s in scores] == [n for _, n in reference]
        assert relative_deviation([s.nll_sum for s in scores], [nll for nll, _ in reference]) < REL_TOL
        assert relative_deviation([s.nll_sum for s in scores], alone) < REL_TOL


def test_bfloat16_is_close_to_float32(moshi_path, scorer):
    """The transformers run in bf16, Mimi in float32: the codes scored are the same in both, only their NLL moves."""
    half = load_scorer(moshi_path, device="cpu", dtype="bfloat16")
    assert half.dtype == torch.bfloat16 and half.model.decoder.lm_head.weight.dtype == torch.bfloat16
    for request in requests("speech_to_speech"):
        for wave in (request.audio, *request.continuation_audio):
            assert torch.equal(half.encode_speech(wave), scorer.encode_speech(wave))
    for setting in SETTINGS:
        batch = requests(setting)[:1]
        for full, low in zip(scorer.score(batch), half.score(batch), strict=True):
            for x, y in zip(full, low, strict=True):
                assert y.n_tokens == x.n_tokens
                assert y.nll_sum / y.n_tokens == pytest.approx(x.nll_sum / x.n_tokens, abs=2e-2), setting


def test_a_different_clip_changes_the_scores(scorer):
    for setting in ("text_to_speech", "speech_to_speech"):
        base = requests(setting)[0]
        other = replace(base, continuation_audio=(clip(0.31, 99), base.continuation_audio[1]))
        a, b = (scorer.score([r])[0] for r in (base, other))
        assert abs(a[0].nll_sum - b[0].nll_sum) > 1e-3 and a[1].nll_sum == b[1].nll_sum, setting
    for setting in ("audio", "speech_to_speech"):  # the context clip, same length
        base = requests(setting)[0]
        a, b = (scorer.score([r])[0] for r in (base, replace(base, audio=clip(0.5, 98))))
        assert min(abs(x.nll_sum - y.nll_sum) for x, y in zip(a, b, strict=True)) > 1e-3, setting


def test_limits_are_item_errors(scorer):
    """No audio window (Mimi encodes any length); a prompt past the temporal transformer's positions is an
    `ItemError` naming the item, before any audio is decoded."""
    assert scorer.audio_window_seconds is None and scorer.audio_window_limit() is None
    assert scorer.position_limit() == scorer.model.config.max_position_embeddings == 4096
    base = requests("speech_to_speech")[0]
    seconds = 4096 * 0.08  # 4096 frames of user speech, plus the initial frame and the framing text
    with pytest.raises(ItemError, match=r"sstorycloze.*item '0'.*4096 the model has \(max_position_embeddings\)"):
        scorer.token_lengths(replace(base, audio=None, continuation_audio=None, audio_seconds=seconds))
    empty = replace(requests("text")[0], continuations=(" and went home happy.", ""))
    with pytest.raises(ItemError, match="continuation 1 has no tokens"):
        scorer.score([empty])
    with pytest.raises(AdapterError, match=r"48000 Hz.*24000 Hz"):
        scorer.score([replace(requests("text_to_speech")[0], sampling_rate=48000)])


@pytest.mark.parametrize("setting", SETTINGS)
def test_planned_lengths_are_the_frames_scored(scorer, setting):
    """The engine plans with `token_lengths` before decoding: prompt frames and continuation frames, exactly."""
    for request in requests(setting):
        prompt, conts = scorer.token_lengths(replace(request, audio=None, continuation_audio=None))
        assert prompt == scorer.prefix_inputs([request])["input_ids"].shape[1]
        assert conts == [s.n_tokens for s in scorer.score([request])[0]]


def test_run_end_to_end_in_the_four_settings(moshi_path, tmp_path):
    out = tmp_path / "out"
    code = run_cli(
        moshi_path,
        out,
        tasks="sstorycloze",
        dataset="samples",
        limit=3,
        settings=SETTINGS,
        gap="text:speech_to_speech",
        device="cpu",
        n_bootstrap=20,
        no_progress=True,
    )
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    assert results["model"]["speech_tokens"].startswith("Mimi codebook 0")
    assert results["config"]["settings"] == list(SETTINGS) and results["config"]["gap"] == "text:speech_to_speech"
    task = results["results"]["sstorycloze"]
    assert task["n_items"] == 3 and set(task["settings"]) == set(SETTINGS)
    assert task["degradation"]["gap"] == pytest.approx(
        task["settings"]["text"]["accuracy"] - task["settings"]["speech_to_speech"]["accuracy"]
    )
    rows = [json.loads(line) for line in (out / "samples_sstorycloze.jsonl").read_text().splitlines()]
    assert len(rows) == 3 * 4 * 2  # items x settings x continuations
    spoken = [r for r in rows if r["setting"] in SPEECH_CONTINUATION]
    assert all(r["n_tokens"] >= 5 for r in spoken)  # frames of a spoken ending (80 ms each), not its text tokens
    assert main(["validate", str(out)]) == 0  # every number recomputed from the samples and the dataset
