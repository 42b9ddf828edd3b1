"""What every family's tiny-model recipe shares: a tokenizer trained offline (or a real one), small configs, saving.

Each family's recipe (``tiny_model`` in its module, `family`) builds a tiny random
model of the family from these pieces; `testing.make_tiny_model` dispatches to it.
Nothing can be downloaded on the machines this project is tested on, so the
tokenizer is trained here with `tokenizers` on a few sentences (byte-level BPE,
so Chinese works), or is a real vocabulary that a package ships
(`real_tokenizers`, ``tokenizer=``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import AutoTokenizer, MimiConfig, PreTrainedModel, PreTrainedTokenizerBase, PreTrainedTokenizerFast

from s2sbench_hf.data.samples import SAMPLES_DIR
from s2sbench_hf.real_tokenizers import CHATML_TEMPLATE, REAL_TOKENIZERS
from s2sbench_hf.scoring.adapters.base import speech_only
from s2sbench_hf.tasks import S2SBenchError


class TinyModelError(S2SBenchError, ValueError):
    """A tiny model that cannot be built as asked: an unknown family or tokenizer, a tokenizer whose ids the
    family cannot use, a published layout that cannot be written or checked."""


QWEN_SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|AUDIO|>", "<|audio_bos|>", "<|audio_eos|>"]


_EXTRA_TEXT = [
    "Below is a segment of alternating speech and text content: ",
    "下面是一段语音和文本交错的内容：",
    "The quick brown fox jumps over the lazy dog. 我们今天去公园散步。",
]


def build_tokenizer(
    vocab_size: int = 800,
    *,
    special_tokens: Sequence[str] = QWEN_SPECIAL_TOKENS,
    extra_special_tokens: Sequence[str] = (),
    named_tokens: dict[str, str] | None = None,
    bos_token: str | None = None,
    eos_token: str = "<|endoftext|>",
    pad_token: str = "<|endoftext|>",
    chat_template: str | None = CHATML_TEMPLATE,
    base: str | Path | None = None,
) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer trained on the bundled sample texts (deterministic), or ``base`` with the
    family's tokens.

    ``special_tokens`` take the first ids, in order (a family that hard-codes a
    token id, like Voxtral's ``[AUDIO]`` = 24, lays them out here); then
    ``extra_special_tokens`` and the values of ``named_tokens`` (model-specific
    named tokens such as ``audio_token``, which processors read as attributes).

    ``base``: a folder holding a saved tokenizer, or a name of
    `real_tokenizers.REAL_TOKENIZERS`. Nothing is trained: the tokens above that
    it lacks are added after its vocabulary (those it has keep their ids), and
    its bos, eos and pad tokens and its chat template are kept where it has them
    (the family's otherwise).
    """
    named_tokens = dict(named_tokens or {})
    specials = list(dict.fromkeys([*special_tokens, *extra_special_tokens, *named_tokens.values()]))
    roles = {"bos_token": bos_token, "eos_token": eos_token, "pad_token": pad_token}
    if base is None:
        backend = _trained_backend(vocab_size, [*specials, *(t for t in roles.values() if t is not None)])
    else:
        loaded = load_base_tokenizer(base)
        roles = {role: getattr(loaded, role) or token for role, token in roles.items()}
        specials = list(dict.fromkeys([*loaded.all_special_tokens, *specials]))
        chat_template = loaded.chat_template or chat_template
        backend = loaded.backend_tokenizer
        backend.add_special_tokens([t for t in dict.fromkeys([*specials, *roles.values()]) if t is not None])
    kwargs = {"model_specific_special_tokens": named_tokens} if named_tokens else {}
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        **roles,
        additional_special_tokens=[t for t in specials if t not in roles.values()],
        chat_template=chat_template,
        **kwargs,
    )


def _trained_backend(vocab_size: int, specials: Sequence[str]) -> Tokenizer:
    """A byte-level BPE trained on the bundled sample texts, ``specials`` first (unique, in order)."""
    corpus = list(_EXTRA_TEXT)
    for path in sorted(Path(SAMPLES_DIR).glob("*.jsonl")):
        corpus.extend(path.read_text(encoding="utf-8").splitlines())
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(dict.fromkeys(specials)),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus, trainer=trainer)
    return tok


def load_base_tokenizer(base: str | Path) -> PreTrainedTokenizerBase:
    """A tokenizer to build a tiny model on: a folder holding a saved one, or a name of `REAL_TOKENIZERS`."""
    if Path(base).is_dir():
        try:
            return AutoTokenizer.from_pretrained(base)
        except (OSError, ValueError) as err:
            raise TinyModelError(
                f"folder {str(base)!r} holds no tokenizer that transformers loads ({str(err).splitlines()[0]}): give "
                "the folder a tokenizer's save_pretrained wrote, or a real tokenizer's name."
            ) from None
    if str(base) in REAL_TOKENIZERS:
        return REAL_TOKENIZERS[str(base)]()
    raise TinyModelError(
        f"tokenizer {str(base)!r} is neither a folder nor a real tokenizer's name ({', '.join(REAL_TOKENIZERS)})."
    )


def refuse_tokenizer(family: str, tokenizer: str | Path | None, why: str) -> None:
    """Raise where a family's tiny model cannot be built on a given tokenizer; ``why``: what pins its own."""
    if tokenizer is not None:
        raise TinyModelError(f"{family}: no tiny model on another tokenizer ({str(tokenizer)!r}): {why}.")


def token_id(tokenizer: Any, token: str) -> int:
    """The id of one token (`convert_tokens_to_ids` of a single token, which is typed to return a list too)."""
    token_id = tokenizer.convert_tokens_to_ids(token)
    if not isinstance(token_id, int):
        raise TypeError(f"{token!r} is not one token of this tokenizer: {token_id!r}")
    return token_id


def save_model(folder: Path, model: PreTrainedModel, *parts) -> Path:
    """Save a model and the parts of its processor (tokenizer, feature extractor, processor) to ``folder``.

    The weights are saved under transformers 5's own module names (``save_original_format=False``), whatever
    the release's default; `save_hub_layout` rewrites them under the published checkpoints' names.
    """
    model.eval().save_pretrained(folder, save_original_format=False)
    for part in parts:
        part.save_pretrained(folder)
    return folder


def text_config(vocab_size: int, hidden: int, layers: int, head_dim: int | None = None, **extra) -> dict:
    """A small text config: 4 attention heads (2 key/value heads), or ``hidden // head_dim`` heads of ``head_dim``."""
    heads = 4 if head_dim is None else heads_of(hidden, head_dim)
    return dict(
        vocab_size=vocab_size,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=min(2, heads),
        max_position_embeddings=4096,
        **extra,
    )


def heads_of(hidden: int, head_dim: int) -> int:
    """Attention heads of width ``head_dim`` in ``hidden`` (vLLM derives the head width as hidden // heads)."""
    if head_dim <= 0 or hidden % head_dim:
        raise TinyModelError(f"head_dim {head_dim} does not divide the hidden size {hidden}: give a divisor of it.")
    return hidden // head_dim


def tiny_mimi_config(codebooks: int, codebook_size: int) -> MimiConfig:
    """A tiny Mimi codec: its real 24 kHz rate and 1920-sample frames (12.5 a second), ``codebooks`` quantizers
    (the first one Mimi's semantic codebook) of ``codebook_size`` codes, a one-layer transformer of width 32."""
    return MimiConfig(
        num_quantizers=codebooks,
        num_filters=8,
        hidden_size=32,
        upsample_groups=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        head_dim=16,
        intermediate_size=64,
        codebook_size=codebook_size,
        codebook_dim=16,
        vector_quantization_hidden_dimension=16,
        sliding_window=64,
    )


@torch.no_grad()
def spread_codebooks(model: torch.nn.Module, std: float = 0.1) -> None:
    """Give every Mimi codebook in ``model`` random centroids (normal, ``std``): a new one starts all zero, and
    every frame would then be code 0 (a tiny model whose codes never change would test nothing)."""
    for module in model.modules():
        if type(module).__name__ == "MimiEuclideanCodebook":
            embed_sum: torch.Tensor = module.embed_sum  # type: ignore[assignment]  # a buffer
            embed_sum.normal_(std=std)


def whisper_encoder(layers: int, dim: int, **extra) -> dict:
    """A Whisper-style audio encoder config, shrunk (128 mel bins kept)."""
    return dict(
        num_mel_bins=128,
        encoder_layers=layers,
        encoder_attention_heads=4,
        encoder_ffn_dim=2 * dim,
        d_model=dim,
        **extra,
    )


def save_speech_only(
    folder: Path, model: PreTrainedModel, processor_class: type, feature_extractor, tokenizer, **settings
) -> Path:
    """Save a model of a family whose processor also takes images and videos, with that processor's speech parts
    (feature extractor, tokenizer) and settings, and check that it builds without its image and video processors
    (`base.speech_only`), as `ProcessorAudioScorer.speech_processor` loads it back."""
    cls = speech_only(processor_class)
    parts = {"feature_extractor": feature_extractor, "tokenizer": tokenizer}
    cls(**{name: parts.get(name) for name in cls.get_attributes()}, **settings)
    save_model(folder, model, feature_extractor, tokenizer)
    config = {"processor_class": processor_class.__name__, **settings}
    (folder / "processor_config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    return folder


GEMMA_TOKENS = {
    "audio_token": "<audio_soft_token>",
    "boa_token": "<start_of_audio>",
    "eoa_token": "<end_of_audio>",
    "image_token": "<image_soft_token>",
    "boi_token": "<start_of_image>",
    "eoi_token": "<end_of_image>",
}
"""Gemma's named multimodal tokens (the processors read them from the tokenizer)."""
