"""Tiny random-weight models, built offline, for the tests and the demo.

Nothing can be downloaded on the machines this project is tested on, so the
tokenizer is trained here with `tokenizers` on a few sentences (byte-level BPE,
so Chinese works), the models are created from small configs, and everything is
saved to a folder that is then loaded by path, exactly as a Hub id would be.
Random weights give chance-level accuracies: these models test the plumbing,
not the benchmark.
"""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerFast,
    Qwen2AudioConfig,
    Qwen2AudioForConditionalGeneration,
    Qwen2AudioProcessor,
    WhisperFeatureExtractor,
)

from s2sbench_hf.data.samples import SAMPLES_DIR

QWEN_SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|AUDIO|>", "<|audio_bos|>", "<|audio_eos|>"]
_EXTRA_TEXT = [
    "Below is a segment of alternating speech and text content: ",
    "下面是一段语音和文本交错的内容：",
    "The quick brown fox jumps over the lazy dog. 我们今天去公园散步。",
]


def build_tokenizer(vocab_size: int = 800) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer trained on the bundled sample texts (deterministic)."""
    corpus = list(_EXTRA_TEXT)
    for path in sorted(Path(SAMPLES_DIR).glob("*.jsonl")):
        corpus.extend(path.read_text(encoding="utf-8").splitlines())
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=QWEN_SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=QWEN_SPECIAL_TOKENS[1:],
    )


def _text_config(vocab_size: int, hidden: int, layers: int, **extra) -> dict:
    return dict(
        vocab_size=vocab_size,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        **extra,
    )


def make_tiny_causal_lm(folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2) -> Path:
    """Save a random Llama-style causal LM and its tokenizer to ``folder``; return the path."""
    folder = Path(folder)
    tokenizer = build_tokenizer()
    torch.manual_seed(seed)
    config = LlamaConfig(
        **_text_config(len(tokenizer), hidden, layers),
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    LlamaForCausalLM(config).eval().save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def make_tiny_qwen2_audio(
    folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2, encoder_dim: int = 32
) -> Path:
    """Save a random Qwen2-Audio model and its processor to ``folder``; return the path.

    The audio encoder keeps the real front end (128 mel bins, 30 s windows, 25 LM
    positions per second) and only shrinks widths and depths.
    """
    folder = Path(folder)
    tokenizer = build_tokenizer()
    processor = Qwen2AudioProcessor(feature_extractor=WhisperFeatureExtractor(feature_size=128), tokenizer=tokenizer)
    torch.manual_seed(seed)
    config = Qwen2AudioConfig(
        audio_config=dict(
            num_mel_bins=128,
            encoder_layers=layers,
            encoder_attention_heads=4,
            encoder_ffn_dim=2 * encoder_dim,
            d_model=encoder_dim,
        ),
        text_config=dict(model_type="qwen2", **_text_config(len(tokenizer), hidden, layers)),
        audio_token_index=tokenizer.convert_tokens_to_ids("<|AUDIO|>"),
    )
    Qwen2AudioForConditionalGeneration(config).eval().save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


TINY_MODELS = {"causal-lm": make_tiny_causal_lm, "qwen2-audio": make_tiny_qwen2_audio}
"""Adapter name -> factory of a tiny random model of that family."""


def make_tiny_model(family: str, folder: str | Path, *, seed: int = 0) -> Path:
    """Save a tiny random model of ``family`` to ``folder`` (see `TINY_MODELS`)."""
    try:
        factory = TINY_MODELS[family]
    except KeyError:
        raise ValueError(f"no tiny model for {family!r}; known: {', '.join(TINY_MODELS)}") from None
    return factory(folder, seed=seed)
