"""The real tokenizers (`s2sbench_hf.real_tokenizers`) tokenize exactly as the families' own tokenizers do.

Tekken is checked against mistral-common's `Tekkenizer` on the bundled sample texts (English and Chinese, each
context with each continuation glued on with and without a space) and on edge cases; Qwen's on its known merges.
Building a 130k-150k vocabulary takes seconds, so each is built once per module and the cases are marked slow.
"""

from __future__ import annotations

import json

import pytest
from transformers import PreTrainedTokenizerFast

from s2sbench_hf.data.samples import SAMPLES_DIR
from s2sbench_hf.real_tokenizers import (
    REAL_TOKENIZERS,
    TEKKEN_FILE,
    TEKKEN_NUM_SPECIAL_TOKENS,
    TEKKEN_SPECIAL_TOKENS,
    TEKKEN_VOCAB_SIZE,
    VOXTRAL_AUDIO_SPECIAL_TOKENS,
    MissingVocabulary,
    package_file,
    qwen_tokenizer,
    save_real_tokenizer,
    tekken_tokenizer,
)

pytestmark = pytest.mark.slow

EDGE_CASES = [
    "a panic.She",
    "He was in a panic.She ran home.",
    "lang:en",
    "Hello, world!",
    " leading space",
    "   three leading spaces",
    "trailing space ",
    "double  space",
    "\n\nnew\r\nlines\tand tabs\n",
    "12345 67890 3.14159 1,000,000 2024-05-22",
    "x=1;y=2;z=x+y",
    "(parentheses)[brackets]{braces}",
    "end.Next!Again?Yes",
    "don't won't it's I'll we've they're",
    "URL: https://example.com/a/b?c=d&e=f",
    "emoji 🙂👍 and accents: café, naïve, Ærø",
    "ÜBER GROSS kleinGROSS CamelCaseWord",
    "你好，世界。",
    "他说：“今天天气很好！”然后走了。",
    "中文English混合123",
    "日本語のテキスト",
    "한국어 텍스트",
    "русский текст",
    "",
    " ",
]


def _sample_texts() -> list[str]:
    """Every context, continuation and context+continuation of the bundled samples, plus `EDGE_CASES`."""
    texts = list(EDGE_CASES)
    for path in sorted(SAMPLES_DIR.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            texts.append(row["context"])
            for choice in row["choices"]:
                texts.extend([choice, row["context"] + " " + choice, row["context"] + choice])
    return texts


def _build(builder):
    try:
        return builder()
    except MissingVocabulary as err:
        pytest.skip(str(err))


@pytest.fixture(scope="module")
def tekken() -> PreTrainedTokenizerFast:
    return _build(tekken_tokenizer)


@pytest.fixture(scope="module")
def voxtral_tekkenizer():
    """mistral-common's own `Tekkenizer` on the shipped ranks with Voxtral's specials, laid out the way
    mistral-common's tests lay out a v7 tokenizer with audio (fillers up to 24, audio, fillers up to 34,
    ``[TRANSCRIBE]``), from mistral-common's own names (`SpecialTokens`, `DEPRECATED_SPECIAL_TOKENS`)."""
    pytest.importorskip("mistral_common", reason="the reference Tekkenizer is mistral-common's (a dev dependency)")
    from mistral_common.tokens.tokenizers.base import SpecialTokens, TokenizerVersion
    from mistral_common.tokens.tokenizers.tekken import SpecialTokenInfo, Tekkenizer

    audio = {24: SpecialTokens.audio, 25: SpecialTokens.begin_audio, 34: SpecialTokens.transcribe}
    specials = list(Tekkenizer.DEPRECATED_SPECIAL_TOKENS)
    for rank in range(len(specials), max(audio) + 1):
        name = audio.get(rank) or Tekkenizer.SPECIAL_TOKEN_TEMPLATE.format(id=rank)
        specials.append(SpecialTokenInfo(rank=rank, token_str=str(name), is_control=True))
    data = json.loads(package_file("mistral_common", TEKKEN_FILE, "mistral-common").read_text(encoding="utf-8"))
    config = data["config"]
    return Tekkenizer(
        data["vocab"],
        specials,
        pattern=config["pattern"],
        vocab_size=config["default_vocab_size"],
        num_special_tokens=config["default_num_special_tokens"],
        version=TokenizerVersion.v7,
    )


def test_tekken_encodes_and_decodes_like_mistral_common(tekken, voxtral_tekkenizer):
    texts = _sample_texts()
    assert len(texts) > 300
    for text in texts:
        ids = voxtral_tekkenizer.encode(text, bos=False, eos=False)
        assert tekken.encode(text, add_special_tokens=False) == ids, text
        assert tekken.encode(text) == voxtral_tekkenizer.encode(text, bos=True, eos=False), text
        assert tekken.decode(ids) == voxtral_tekkenizer.decode(ids) == text


def test_tekken_has_voxtrals_special_tokens_at_their_ids(tekken, voxtral_tekkenizer):
    assert len(tekken) == voxtral_tekkenizer.n_words == TEKKEN_VOCAB_SIZE == 131_072
    assert tekken.convert_ids_to_tokens(list(range(TEKKEN_NUM_SPECIAL_TOKENS))) == [
        voxtral_tekkenizer.id_to_piece(i) for i in range(TEKKEN_NUM_SPECIAL_TOKENS)
    ]
    ids = {token: tekken.convert_tokens_to_ids(token) for token in ("<unk>", "<s>", "</s>", "<pad>")}
    assert ids == {"<unk>": 0, "<s>": 1, "</s>": 2, "<pad>": 11}
    assert (tekken.unk_token_id, tekken.bos_token_id, tekken.eos_token_id, tekken.pad_token_id) == (0, 1, 2, 11)
    assert (voxtral_tekkenizer.unk_id, voxtral_tekkenizer.bos_id, voxtral_tekkenizer.eos_id) == (0, 1, 2)
    assert voxtral_tekkenizer.pad_id == 11
    for token_id, token in VOXTRAL_AUDIO_SPECIAL_TOKENS.items():
        assert tekken.convert_tokens_to_ids(token) == voxtral_tekkenizer.get_special_token(token) == token_id
    # `VoxtralProcessor` reads its audio token back from id 24.
    assert tekken.convert_ids_to_tokens(24) == "[AUDIO]"
    assert set(VOXTRAL_AUDIO_SPECIAL_TOKENS.values()) <= set(tekken.all_special_tokens)


def test_tekken_special_names_are_mistral_commons():
    pytest.importorskip("mistral_common", reason="the names are checked against mistral-common (a dev dependency)")
    from mistral_common.tokens.tokenizers.base import SpecialTokens
    from mistral_common.tokens.tokenizers.tekken import Tekkenizer

    assert TEKKEN_SPECIAL_TOKENS == tuple(str(info["token_str"]) for info in Tekkenizer.DEPRECATED_SPECIAL_TOKENS)
    assert [str(SpecialTokens.audio), str(SpecialTokens.begin_audio), str(SpecialTokens.transcribe)] == list(
        VOXTRAL_AUDIO_SPECIAL_TOKENS.values()
    )


def test_tekken_merges_across_the_sentence_boundary_and_gives_voxtrals_prompt_ids(tekken):
    assert tekken.tokenize("a panic.She") == ["a", "Ġpanic", ".S", "he"]
    # The language prompt of Voxtral's transcription request ("lang:en" etc.), as published for the real model.
    assert tekken.encode("lang:en", add_special_tokens=False) == [9909, 1058, 1262]
    assert tekken.encode("lang:fr", add_special_tokens=False) == [9909, 1058, 7064]
    # Special tokens written in text are special (the processors write ``[AUDIO]`` into prompts); <s> comes first
    # with the special tokens, as Voxtral's own tokenizer adds it.
    assert tekken.encode("[BEGIN_AUDIO][AUDIO][AUDIO][TRANSCRIBE]") == [1, 25, 24, 24, 34]


def test_tekken_survives_save_and_load(tekken, tmp_path):
    folder = save_real_tokenizer("tekken", tmp_path / "tekken")
    loaded = PreTrainedTokenizerFast.from_pretrained(folder)
    assert len(loaded) == TEKKEN_VOCAB_SIZE
    assert loaded.pad_token_id == 11 and loaded.convert_ids_to_tokens(24) == "[AUDIO]"
    for text in EDGE_CASES:
        assert loaded.encode(text) == tekken.encode(text), text


def test_qwen_merges_across_the_sentence_boundary():
    qwen = _build(qwen_tokenizer)
    assert qwen.tokenize("a panic.She") == ["a", "Ġpanic", ".She"]
    assert len(qwen) == 151_643 + 3
    assert qwen.convert_tokens_to_ids(["<|endoftext|>", "<|im_start|>", "<|im_end|>"]) == [151_643, 151_644, 151_645]
    for text in EDGE_CASES:
        assert qwen.decode(qwen.encode(text)) == text


def test_registered_names():
    assert set(REAL_TOKENIZERS) >= {"qwen", "tekken"}
    assert REAL_TOKENIZERS["tekken"] is tekken_tokenizer
