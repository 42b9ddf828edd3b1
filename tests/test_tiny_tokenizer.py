"""Tiny models built on a real tokenizer (``make_tiny_model(..., tokenizer=...)``, ``s2sbench tiny-model --tokenizer``).

Qwen2-Audio, Qwen2.5-Omni and Qwen3-Omni are built once each on the real Qwen BPE
(`s2sbench_hf.real_tokenizers`, saved once per session by the ``qwen_tokenizer_dir``
fixture): the saved tokenizer merges across a boundary without space as the real one
does, the family's speech markers are added as single tokens after the vocabulary with
the placeholder at the config's audio token id, and the model scores text and audio.
A family whose token ids are pinned refuses another tokenizer with a ValueError that
names it.
"""

from __future__ import annotations

import math

import pytest
from transformers import AutoConfig, AutoTokenizer

from s2sbench_hf.cli import main
from s2sbench_hf.scoring.registry import load_scorer
from s2sbench_hf.scoring.tiny import build_tokenizer
from s2sbench_hf.testing import make_tiny_model, story_requests

SPEECH_MARKERS = {
    "qwen2-audio": ("<|audio_bos|>", "<|AUDIO|>", "<|audio_eos|>"),
    "qwen2.5-omni": ("<|audio_bos|>", "<|AUDIO|>", "<|audio_eos|>"),
    "qwen3-omni": ("<|audio_start|>", "<|audio_pad|>", "<|audio_end|>"),
}
"""Family -> start, placeholder and end of a clip in its prompts (the real checkpoints' tokens)."""

FAMILIES = [f if f == "qwen2-audio" else pytest.param(f, marks=pytest.mark.slow) for f in SPEECH_MARKERS]
"""The families, the Omni ones marked slow: each builds its own model on the 151k vocabulary (8 s here), where
Qwen2-Audio's is the session's shared one (conftest's ``real_qwen2_audio_path``)."""

QWEN_VOCABULARY = 151643
"""Ranks of the Qwen BPE: the families' added tokens come after them."""


@pytest.fixture(scope="session")
def real_qwen_models(qwen_tokenizer_dir, real_qwen2_audio_path, tmp_path_factory):
    """Family -> its tiny model on the real Qwen tokenizer, built once per session (Qwen2-Audio's is conftest's)."""
    paths = {"qwen2-audio": real_qwen2_audio_path}

    def get(family: str):
        if family not in paths:
            paths[family] = make_tiny_model(family, tmp_path_factory.mktemp(family), tokenizer=qwen_tokenizer_dir)
        return paths[family]

    return get


def audio_token_id(path) -> int:
    """The audio placeholder id of a model's config (the thinker's for an Omni model)."""
    config = AutoConfig.from_pretrained(path)
    config = getattr(config, "thinker_config", config)
    return getattr(config, "audio_token_id", None) or config.audio_token_index


@pytest.mark.parametrize("family", FAMILIES)
def test_the_saved_tokenizer_merges_as_the_real_qwen_bpe(real_qwen_models, family):
    tokenizer = AutoTokenizer.from_pretrained(real_qwen_models(family))
    assert tokenizer.tokenize("a panic.She") == ["a", "Ġpanic", ".She"]


@pytest.mark.parametrize("family", FAMILIES)
def test_the_speech_markers_are_single_tokens_after_the_vocabulary(real_qwen_models, family):
    path = real_qwen_models(family)
    tokenizer = AutoTokenizer.from_pretrained(path)
    markers = SPEECH_MARKERS[family]
    ids = tokenizer("".join(markers), add_special_tokens=False)["input_ids"]
    assert ids == tokenizer.convert_tokens_to_ids(list(markers))
    assert min(ids) >= QWEN_VOCABULARY
    assert ids[1] == audio_token_id(path)
    text_config = AutoConfig.from_pretrained(path).get_text_config()
    assert text_config.vocab_size >= len(tokenizer)


@pytest.mark.parametrize("family", FAMILIES)
def test_the_model_scores_text_and_audio(real_qwen_models, family):
    scorer = load_scorer(str(real_qwen_models(family)), device="cpu", dtype="float32")
    for setting in ("text", "audio"):
        for scores in scorer.score(story_requests(setting)):
            assert all(math.isfinite(s.nll_sum) and s.n_tokens > 0 for s in scores), setting


@pytest.mark.parametrize("family", ["moshi", "gemma3n", "voxtral"])
def test_a_family_with_pinned_token_ids_refuses_another_tokenizer(tmp_path, family):
    """Moshi pads its text stream with id 3, Gemma 3n lays its multimodal tokens at fixed offsets, and Voxtral's
    processor hard-codes ``[AUDIO]`` = 24, which a Qwen-style vocabulary (here the stand-in's, quick to build)
    does not have there."""
    base = tmp_path / "base"
    build_tokenizer().save_pretrained(base)
    with pytest.raises(ValueError, match=f"^{family}: "):
        make_tiny_model(family, tmp_path / "model", tokenizer=base)


def test_an_unknown_tokenizer_is_a_one_line_cli_error(tmp_path, capsys):
    code = main(["tiny-model", "--family", "qwen2-audio", "--tokenizer", "no-such", "--output", str(tmp_path)])
    assert code == 2
    assert "tokenizer 'no-such' is neither a folder nor a real tokenizer's name" in capsys.readouterr().err
