"""The ``llama-mimi`` family on its tiny random model: found from its file, listed, and its utterance scores equal a
plain re-implementation of Llama-Mimi's own evaluation (llm-jp/llama-mimi, eval/sStoryCloze.py): the clip written
as ``<audio><code_codebook>...`` text, tokenized, one full forward, the mean NLL of the codebook-0 positions."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from transformers import AutoTokenizer, LlamaForCausalLM, MimiModel

from s2sbench_hf.results import ModelInfo
from s2sbench_hf.scoring.adapters.llama_mimi import MIMI_FOLDER
from s2sbench_hf.scoring.interface import AdapterError, Request
from s2sbench_hf.scoring.registry import ADAPTERS, detect_adapter, load_scorer
from s2sbench_hf.testing import REL_TOL, make_tiny_model

RATE = 24000
FRAME = 1920  # samples of one 80 ms Mimi frame at 24 kHz


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return make_tiny_model("llama-mimi", tmp_path_factory.mktemp("llama-mimi"))


@pytest.fixture(scope="module")
def scorer(folder):
    return load_scorer(str(folder), adapter="llama-mimi", device="cpu", dtype="float32")


def clip(samples: int, seed: int) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(samples)).astype(np.float32)


def utterance(*clips: np.ndarray, item: str = "0") -> Request:
    """An ``utterance`` request as the engine makes it: no context, one clip per choice, their lengths."""
    return Request(
        "swuggy",
        item,
        "utterance",
        "",
        ("",) * len(clips),
        sampling_rate=RATE,
        continuation_audio=clips,
        continuation_seconds=tuple(len(c) / RATE for c in clips),
    )


def reference_mean_nll(folder, waveform: np.ndarray) -> float:
    """Llama-Mimi's evaluation, written out: Mimi's first Q codes per frame as ``<code_codebook>`` text after
    ``<audio>``, tokenized with the tokenizer's own BOS, one forward, the mean NLL of the codebook-0 positions."""
    model = LlamaForCausalLM.from_pretrained(folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    mimi = MimiModel.from_pretrained(folder / MIMI_FOLDER).eval()
    q = model.config.num_quantizers
    with torch.no_grad():
        codes = mimi.encode(torch.from_numpy(waveform)[None, None], num_quantizers=q).audio_codes[0]
        text = "<audio>" + "".join(f"<{int(code)}_{level}>" for frame in codes.T for level, code in enumerate(frame))
        ids = tokenizer(text, return_tensors="pt").input_ids
        assert ids[0, 0] == tokenizer.bos_token_id and ids.shape[1] == 2 + q * codes.shape[1]
        labels = torch.full_like(ids, -100)
        labels[:, 2::q] = ids[:, 2::q]  # codebook 0 of every frame
        return model(input_ids=ids, labels=labels).loss.item()


def test_the_family_is_found_in_its_file_and_listed():
    family = ADAPTERS["llama-mimi"]
    assert family.tiny and family.model_types == ()  # a plain llama config: detected by its mark
    assert family.config_marks == (("llama", "num_quantizers"),)
    assert family.load_class().settings == ("utterance",)
    listed = subprocess.run(
        [sys.executable, "-m", "s2sbench_hf", "families"], capture_output=True, text=True, check=True, timeout=120
    )
    assert "llama-mimi" in listed.stdout


def test_utterance_scores_equal_the_models_own_evaluation(folder, scorer):
    """Clips of different lengths (no multiple of a frame), from two requests, scored in one batch."""
    clips = [clip(24000, 0), clip(38500, 1), clip(9000, 2), clip(30001, 3)]
    scores = [s for r in scorer.score([utterance(*clips[:2]), utterance(*clips[2:], item="1")]) for s in r]
    for waveform, score in zip(clips, scores, strict=True):
        assert score.n_tokens == math.ceil(len(waveform) / FRAME)  # one token per Mimi frame (12.5 Hz)
        expected = reference_mean_nll(folder, waveform)
        assert abs(score.nll_sum / score.n_tokens - expected) <= REL_TOL * expected


def test_a_different_clip_changes_the_score_and_the_plan_is_the_real_length(scorer):
    first, other = clip(24000, 0), clip(24000, 7)
    request = utterance(first, other)
    same, different = scorer.score([request])[0]
    assert same.n_tokens == different.n_tokens == 13
    assert abs(same.nll_sum - different.nll_sum) > 1e-3
    assert scorer.score([utterance(first)])[0][0].nll_sum == pytest.approx(same.nll_sum, rel=REL_TOL)
    prompt, positions = scorer.token_lengths(request)
    assert prompt == 2 and positions == [4 * 13, 4 * 13]  # BOS, <audio>; 4 codebooks a frame


def test_what_it_records_fits_results_json(scorer):
    """results.json's model section is strict: the Mimi that made the codes is named within ``speech_tokens``."""
    info = ModelInfo.model_validate(scorer.describe())
    assert info.adapter == "llama-mimi" and info.speech_tokens is not None and MIMI_FOLDER in info.speech_tokens


def test_it_is_detected_from_its_config_and_a_plain_llama_is_not(folder, tmp_path):
    """A llama config with num_quantizers is Llama-Mimi's; without it, the same model type is any causal LM's."""
    assert detect_adapter(str(folder)) == "llama-mimi"
    assert load_scorer(str(folder), device="cpu", dtype="float32").name == "llama-mimi"
    text_lm = make_tiny_model("causal-lm", tmp_path / "lm")
    assert json.loads((text_lm / "config.json").read_text())["model_type"] == "llama"
    assert detect_adapter(str(text_lm)) == "causal-lm"


def test_a_checkpoint_without_mimi_codebooks_is_refused(tmp_path):
    text_lm = make_tiny_model("causal-lm", tmp_path / "lm")
    with pytest.raises(AdapterError, match="no num_quantizers"):
        load_scorer(str(text_lm), adapter="llama-mimi", device="cpu", dtype="float32")
