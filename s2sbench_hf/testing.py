"""Tiny random-weight models, built offline, for the tests and the demo.

Nothing can be downloaded on the machines this project is tested on, so the
tokenizer is trained here with `tokenizers` on a few sentences (byte-level BPE,
so Chinese works), or is a real vocabulary that a package ships
(`real_tokenizers`, ``tokenizer=``), the models are created from small configs,
and everything is saved to a folder that is then loaded by path, exactly as a
Hub id would be: in transformers 5's own weight names, or in those of the
family's published checkpoints (``hub_layout``, `save_hub_layout`).
Random weights give chance-level accuracies: these models test the plumbing,
not the benchmark.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
import transformers
from safetensors import safe_open
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    AutoConfig,
    AutoTokenizer,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    PreTrainedTokenizerFast,
    Qwen2AudioConfig,
    Qwen2AudioForConditionalGeneration,
    Qwen2AudioProcessor,
    WhisperFeatureExtractor,
)

from s2sbench_hf.data.samples import SAMPLES_DIR
from s2sbench_hf.real_tokenizers import CHATML_TEMPLATE, REAL_TOKENIZERS, tekken_special_tokens
from s2sbench_hf.scoring.adapters.base import HFScorer, speech_only
from s2sbench_hf.scoring.checkpoint import PUBLISHED_LAYOUTS, PublishedLayout, load_pretrained
from s2sbench_hf.scoring.interface import Request
from s2sbench_hf.scoring.registry import ADAPTERS
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


def _refuse_tokenizer(family: str, tokenizer: str | Path | None, why: str) -> None:
    """Raise where a family's tiny model cannot be built on a given tokenizer; ``why``: what pins its own."""
    if tokenizer is not None:
        raise TinyModelError(f"{family}: no tiny model on another tokenizer ({str(tokenizer)!r}): {why}.")


def _token_id(tokenizer: Any, token: str) -> int:
    """The id of one token (`convert_tokens_to_ids` of a single token, which is typed to return a list too)."""
    token_id = tokenizer.convert_tokens_to_ids(token)
    if not isinstance(token_id, int):
        raise TypeError(f"{token!r} is not one token of this tokenizer: {token_id!r}")
    return token_id


def _save(folder: Path, model: PreTrainedModel, *parts) -> Path:
    """Save a model and the parts of its processor (tokenizer, feature extractor, processor) to ``folder``.

    The weights are saved under transformers 5's own module names (``save_original_format=False``), whatever
    the release's default; `save_hub_layout` rewrites them under the published checkpoints' names.
    """
    model.eval().save_pretrained(folder, save_original_format=False)
    for part in parts:
        part.save_pretrained(folder)
    return folder


def _text_config(vocab_size: int, hidden: int, layers: int, head_dim: int | None = None, **extra) -> dict:
    """A small text config: 4 attention heads (2 key/value heads), or ``hidden // head_dim`` heads of ``head_dim``."""
    heads = 4 if head_dim is None else _heads_of(hidden, head_dim)
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


def _heads_of(hidden: int, head_dim: int) -> int:
    """Attention heads of width ``head_dim`` in ``hidden`` (vLLM derives the head width as hidden // heads)."""
    if head_dim <= 0 or hidden % head_dim:
        raise TinyModelError(f"head_dim {head_dim} does not divide the hidden size {hidden}: give a divisor of it.")
    return hidden // head_dim


def make_tiny_causal_lm(
    folder: str | Path,
    *,
    seed: int = 0,
    hidden: int = 64,
    layers: int = 2,
    vocab_size: int | None = None,
    tokenizer: str | Path | None = None,
    head_dim: int | None = None,
) -> Path:
    """Save a random Llama-style causal LM and its tokenizer to ``folder``; return the path.

    ``vocab_size``: the model's vocabulary (default: the tokenizer's); a larger one
    gives the LM head a real model's cost (ids past the tokenizer's never occur).
    ``tokenizer``: the base of its tokenizer (`build_tokenizer`'s ``base``), as in every factory.
    ``head_dim``: attention heads of this width (default: 4 heads); vLLM's CPU attention needs 64 or more.
    """
    tok = build_tokenizer(base=tokenizer)
    torch.manual_seed(seed)
    config = LlamaConfig(
        **_text_config(max(vocab_size or 0, len(tok)), hidden, layers, head_dim),
        bos_token_id=None,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    return _save(Path(folder), LlamaForCausalLM(config), tok)


def make_tiny_qwen2_audio(
    folder: str | Path,
    *,
    seed: int = 0,
    hidden: int = 64,
    layers: int = 2,
    encoder_dim: int = 32,
    vocab_size: int | None = None,
    tokenizer: str | Path | None = None,
    head_dim: int | None = None,
) -> Path:
    """Save a random Qwen2-Audio model and its processor to ``folder``; return the path.

    The audio encoder keeps the real front end (128 mel bins, 30 s windows, 25 LM
    positions per second) and only shrinks widths and depths. ``vocab_size``,
    ``tokenizer`` and ``head_dim`` (of the language model) as in `make_tiny_causal_lm`.
    """
    tok = build_tokenizer(base=tokenizer)
    processor = Qwen2AudioProcessor(feature_extractor=WhisperFeatureExtractor(feature_size=128), tokenizer=tok)
    torch.manual_seed(seed)
    config = Qwen2AudioConfig(
        audio_config=dict(
            num_mel_bins=128,
            encoder_layers=layers,
            encoder_attention_heads=4,
            encoder_ffn_dim=2 * encoder_dim,
            d_model=encoder_dim,
        ),
        text_config=dict(model_type="qwen2", **_text_config(max(vocab_size or 0, len(tok)), hidden, layers, head_dim)),
        audio_token_index=_token_id(tok, "<|AUDIO|>"),
    )
    return _save(Path(folder), Qwen2AudioForConditionalGeneration(config), processor)


def qwen2_audio_7b_config(audio_token_index: int) -> Qwen2AudioConfig:
    """The shape of Qwen/Qwen2-Audio-7B (its published config.json): a Whisper-large-style encoder
    (32 layers, width 1280) and a 32-layer, 4096-wide language model with a 156,032-token vocabulary."""
    return Qwen2AudioConfig(
        audio_config=dict(
            num_mel_bins=128,
            encoder_layers=32,
            encoder_attention_heads=20,
            encoder_ffn_dim=5120,
            d_model=1280,
            max_source_positions=1500,
        ),
        text_config=dict(
            model_type="qwen2",
            vocab_size=156032,
            hidden_size=4096,
            intermediate_size=11008,
            num_hidden_layers=32,
            num_attention_heads=32,
            num_key_value_heads=32,
            max_position_embeddings=8192,
            rope_theta=10000.0,
            rms_norm_eps=1e-5,
        ),
        audio_token_index=audio_token_index,
    )


def qwen2_audio_7b(device: str | torch.device, dtype: torch.dtype) -> tuple[torch.nn.Module, Qwen2AudioProcessor]:
    """A random-weight 7B-size Qwen2-Audio built directly on ``device`` in ``dtype`` (no download), with the
    tiny tokenizer's processor: for speed and memory measurements, not for scores."""
    tokenizer = build_tokenizer()
    processor = Qwen2AudioProcessor(feature_extractor=WhisperFeatureExtractor(feature_size=128), tokenizer=tokenizer)
    config = qwen2_audio_7b_config(_token_id(tokenizer, "<|AUDIO|>"))
    with torch.device(device):  # parameters are created (and randomly initialized) there, in ``dtype``
        model = Qwen2AudioForConditionalGeneration._from_config(config, dtype=dtype)
    return model.eval(), processor


def _whisper_encoder(layers: int, dim: int, **extra) -> dict:
    """A Whisper-style audio encoder config, shrunk (128 mel bins kept)."""
    return dict(
        num_mel_bins=128,
        encoder_layers=layers,
        encoder_attention_heads=4,
        encoder_ffn_dim=2 * dim,
        d_model=dim,
        **extra,
    )


_OMNI_VISION = dict(depth=1, hidden_size=32, intermediate_size=64, num_heads=2)
"""The Omni thinkers always build a vision tower: the smallest one (never run in speech scoring)."""


def make_tiny_qwen2_5_omni(
    folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2, tokenizer: str | Path | None = None
) -> Path:
    """A random Qwen2.5-Omni thinker, with its feature extractor and tokenizer (no image/video processor)."""
    from transformers import Qwen2_5OmniThinkerConfig, Qwen2_5OmniThinkerForConditionalGeneration

    named = {
        "audio_token": "<|AUDIO|>",
        "audio_bos_token": "<|audio_bos|>",
        "audio_eos_token": "<|audio_eos|>",
        "image_token": "<|IMAGE|>",
        "video_token": "<|VIDEO|>",
        "vision_bos_token": "<|vision_bos|>",
        "vision_eos_token": "<|vision_eos|>",
    }
    tok = build_tokenizer(named_tokens=named, base=tokenizer)
    ids = {k: _token_id(tok, v) for k, v in named.items()}
    # Not fields of the thinker's config (it keeps unknown keywords), but its rope index reads them.
    extra: dict[str, Any] = {
        "vision_start_token_id": ids["vision_bos_token"],
        "vision_end_token_id": ids["vision_eos_token"],
    }
    torch.manual_seed(seed)
    config = Qwen2_5OmniThinkerConfig(
        audio_config=_whisper_encoder(layers, 32, output_dim=hidden),
        vision_config=dict(_OMNI_VISION, out_hidden_size=hidden, fullatt_block_indexes=[0]),
        text_config=dict(
            **_text_config(len(tok), hidden, layers),
            rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]},
        ),
        audio_token_index=ids["audio_token"],
        image_token_index=ids["image_token"],
        video_token_index=ids["video_token"],
        audio_start_token_id=ids["audio_bos_token"],
        audio_end_token_id=ids["audio_eos_token"],
        **extra,
    )
    model = Qwen2_5OmniThinkerForConditionalGeneration(config)
    return _save(Path(folder), model, tok, WhisperFeatureExtractor(feature_size=128))


def make_tiny_qwen3_omni(
    folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2, tokenizer: str | Path | None = None
) -> Path:
    """A random Qwen3-Omni (MoE) thinker, with its feature extractor and tokenizer (no image/video processor)."""
    from transformers import Qwen3OmniMoeThinkerConfig, Qwen3OmniMoeThinkerForConditionalGeneration

    named = {
        "audio_token": "<|audio_pad|>",
        "audio_bos_token": "<|audio_start|>",
        "audio_eos_token": "<|audio_end|>",
        "image_token": "<|image_pad|>",
        "video_token": "<|video_pad|>",
        "vision_bos_token": "<|vision_start|>",
        "vision_eos_token": "<|vision_end|>",
    }
    tok = build_tokenizer(named_tokens=named, base=tokenizer)
    ids = {k: _token_id(tok, v) for k, v in named.items()}
    # Not fields of the thinker's config (it keeps unknown keywords), but its model reads them.
    extra: dict[str, Any] = {
        "audio_end_token_id": ids["audio_eos_token"],
        "vision_start_token_id": ids["vision_bos_token"],
        "vision_end_token_id": ids["vision_eos_token"],
    }
    torch.manual_seed(seed)
    config = Qwen3OmniMoeThinkerConfig(
        audio_config=_whisper_encoder(layers, 32, output_dim=hidden, downsample_hidden_size=16),
        vision_config=dict(_OMNI_VISION, out_hidden_size=hidden, deepstack_visual_indexes=[0]),
        text_config=dict(
            **_text_config(len(tok), hidden, layers),
            moe_intermediate_size=hidden,
            num_experts=4,
            num_experts_per_tok=2,
            rope_parameters={
                "rope_type": "default",
                "rope_theta": 10000.0,
                "mrope_section": [2, 3, 3],
                "mrope_interleaved": True,
            },
        ),
        audio_token_id=ids["audio_token"],
        image_token_id=ids["image_token"],
        video_token_id=ids["video_token"],
        audio_start_token_id=ids["audio_bos_token"],
        **extra,
    )
    model = Qwen3OmniMoeThinkerForConditionalGeneration(config)
    return _save(Path(folder), model, tok, WhisperFeatureExtractor(feature_size=128))


VOXTRAL_SPECIAL_TOKENS = tekken_special_tokens()[:26]
"""Tekken's first special tokens, through ``[BEGIN_AUDIO]`` (id 25), as the real Tekken lays them out
(`real_tokenizers.tekken_special_tokens`): ``[AUDIO]`` is id 24, which `VoxtralProcessor` hard-codes."""


def make_tiny_voxtral(
    folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2, tokenizer: str | Path | None = None
) -> Path:
    """A random Voxtral with a fast tokenizer laid out like Tekken's specials (the real one is mistral-common's).

    On a given ``tokenizer``, ``[AUDIO]`` must already be id 24 (`VoxtralProcessor` hard-codes it).
    """
    from transformers import VoxtralConfig, VoxtralForConditionalGeneration

    tok = build_tokenizer(
        special_tokens=VOXTRAL_SPECIAL_TOKENS,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        chat_template=None,
        base=tokenizer,
    )
    if _token_id(tok, "[AUDIO]") != 24:
        raise TinyModelError(
            f"voxtral: VoxtralProcessor hard-codes [AUDIO] as token id 24, and tokenizer {str(tokenizer)!r} has it "
            f"at id {_token_id(tok, '[AUDIO]')}: build Voxtral on a Tekken vocabulary."
        )
    torch.manual_seed(seed)
    config = VoxtralConfig(
        audio_config=dict(
            hidden_size=32, intermediate_size=128, num_hidden_layers=layers, num_attention_heads=4, num_mel_bins=128
        ),
        text_config=dict(model_type="llama", **_text_config(len(tok), hidden, layers), head_dim=hidden // 4),
        audio_token_id=24,
    )
    model = VoxtralForConditionalGeneration(config)
    return _save(Path(folder), model, tok, WhisperFeatureExtractor(feature_size=128))


def make_tiny_audio_flamingo3(
    folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2, tokenizer: str | Path | None = None
) -> Path:
    """A random Audio Flamingo 3 (Whisper-style encoder + Qwen2 LM) with its processor (``<sound>``)."""
    from transformers import AudioFlamingo3Config, AudioFlamingo3ForConditionalGeneration, AudioFlamingo3Processor

    tok = build_tokenizer(extra_special_tokens=["<sound>"], base=tokenizer)
    processor = AudioFlamingo3Processor(WhisperFeatureExtractor(feature_size=128), tok, chat_template=CHATML_TEMPLATE)
    torch.manual_seed(seed)
    config = AudioFlamingo3Config(
        audio_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=layers, num_attention_heads=4),
        text_config=dict(model_type="qwen2", **_text_config(len(tok), hidden, layers)),
        audio_token_id=_token_id(tok, "<sound>"),
    )
    return _save(Path(folder), AudioFlamingo3ForConditionalGeneration(config), processor)


def make_tiny_glm_asr(
    folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2, tokenizer: str | Path | None = None
) -> Path:
    """A random GLM-ASR with its processor; the audio placeholder ``<|pad|>`` is not the pad token."""
    from transformers import GlmAsrConfig, GlmAsrForConditionalGeneration, GlmAsrProcessor

    tok = build_tokenizer(extra_special_tokens=["<|pad|>", "<|begin_of_audio|>", "<|end_of_audio|>"], base=tokenizer)
    processor = GlmAsrProcessor(WhisperFeatureExtractor(feature_size=128), tok, chat_template=CHATML_TEMPLATE)
    torch.manual_seed(seed)
    config = GlmAsrConfig(
        audio_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=layers, num_attention_heads=4),
        text_config=dict(model_type="llama", **_text_config(len(tok), hidden, layers)),
        audio_token_id=_token_id(tok, "<|pad|>"),
    )
    return _save(Path(folder), GlmAsrForConditionalGeneration(config), processor)


def make_tiny_phi4_multimodal(
    folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2, tokenizer: str | Path | None = None
) -> Path:
    """A random Phi-4-multimodal (conformer audio encoder, tiny vision tower) with feature extractor and tokenizer."""
    from transformers import Phi4MultimodalConfig, Phi4MultimodalFeatureExtractor, Phi4MultimodalForCausalLM

    tok = build_tokenizer(
        named_tokens={"audio_token": "<|endoftext11|>", "image_token": "<|endoftext10|>"}, base=tokenizer
    )
    torch.manual_seed(seed)
    text = _text_config(len(tok), hidden, layers)
    config = Phi4MultimodalConfig(
        **text,
        original_max_position_embeddings=text["max_position_embeddings"],
        bos_token_id=None,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        vision_config=dict(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=1,
            num_attention_heads=2,
            image_size=28,
            crop_size=28,
            patch_size=14,
            image_token_id=tok.image_token_id,
        ),
        audio_config=dict(
            hidden_size=32,
            intermediate_size=64,
            num_blocks=layers,
            num_attention_heads=4,
            ext_pw_out_channel=32,
            depthwise_separable_out_channel=32,
            nemo_conv_channels=32,
            audio_token_id=tok.audio_token_id,
        ),
    )
    return _save(Path(folder), Phi4MultimodalForCausalLM(config), tok, Phi4MultimodalFeatureExtractor())


def make_tiny_music_flamingo(
    folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2, tokenizer: str | Path | None = None
) -> Path:
    """A random Music Flamingo (Audio Flamingo 3's encoder with rotary time embeddings, Qwen2 LM) and its processor."""
    from transformers import MusicFlamingoConfig, MusicFlamingoForConditionalGeneration, MusicFlamingoProcessor

    tok = build_tokenizer(extra_special_tokens=["<sound>", "<|sound_bos|>", "<|sound_eos|>"], base=tokenizer)
    processor = MusicFlamingoProcessor(WhisperFeatureExtractor(feature_size=128), tok, chat_template=CHATML_TEMPLATE)
    torch.manual_seed(seed)
    config = MusicFlamingoConfig(
        audio_config=dict(
            model_type="audioflamingo3_encoder",
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=layers,
            num_attention_heads=4,
        ),
        text_config=dict(model_type="qwen2", **_text_config(len(tok), hidden, layers)),
        audio_token_id=_token_id(tok, "<sound>"),
        audio_bos_token_id=_token_id(tok, "<|sound_bos|>"),
        audio_eos_token_id=_token_id(tok, "<|sound_eos|>"),
    )
    return _save(Path(folder), MusicFlamingoForConditionalGeneration(config), processor)


def make_tiny_qwen3_asr(
    folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2, tokenizer: str | Path | None = None
) -> Path:
    """A random Qwen3-ASR (chunked Whisper-style encoder, Qwen3 LM) with its processor and feature extractor."""
    from transformers import (
        Qwen3ASRConfig,
        Qwen3ASRFeatureExtractor,
        Qwen3ASRForConditionalGeneration,
        Qwen3ASRProcessor,
    )

    named = {"audio_token": "<|audio_pad|>", "audio_bos_token": "<|audio_start|>", "audio_eos_token": "<|audio_end|>"}
    tok = build_tokenizer(named_tokens=named, base=tokenizer)
    processor = Qwen3ASRProcessor(Qwen3ASRFeatureExtractor(), tok, chat_template=CHATML_TEMPLATE)
    torch.manual_seed(seed)
    config = Qwen3ASRConfig(
        audio_config=dict(
            model_type="qwen3_asr_encoder",
            d_model=32,
            encoder_layers=layers,
            encoder_attention_heads=4,
            encoder_ffn_dim=64,
            output_dim=hidden,
            downsample_hidden_size=16,
        ),
        text_config=dict(model_type="qwen3", **_text_config(len(tok), hidden, layers), head_dim=hidden // 4),
        audio_token_id=tok.audio_token_id,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
    )
    return _save(Path(folder), Qwen3ASRForConditionalGeneration(config), processor)


def make_tiny_granite_speech(
    folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2, tokenizer: str | Path | None = None
) -> Path:
    """A random Granite Speech (conformer encoder, Q-Former projector, Granite LM) with its processor.

    Needs torchaudio (`GraniteSpeechFeatureExtractor` computes its mel features with it).
    """
    from transformers import GraniteSpeechConfig, GraniteSpeechForConditionalGeneration

    return _tiny_granite(
        folder, GraniteSpeechConfig, GraniteSpeechForConditionalGeneration, seed, hidden, layers, tokenizer
    )


def make_tiny_granite_speech_plus(
    folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2, tokenizer: str | Path | None = None
) -> Path:
    """A random Granite Speech Plus (its projector also reads encoder layer 1) with the Granite Speech processor."""
    from transformers import GraniteSpeechPlusConfig, GraniteSpeechPlusForConditionalGeneration

    return _tiny_granite(
        folder,
        GraniteSpeechPlusConfig,
        GraniteSpeechPlusForConditionalGeneration,
        seed,
        hidden,
        layers,
        tokenizer,
        cat_hidden_layers=[1],
    )


def _tiny_granite(
    folder: str | Path,
    config_class: Any,
    model_class: Any,
    seed: int,
    hidden: int,
    layers: int,
    tokenizer: str | Path | None,
    cat_hidden_layers: list[int] | None = None,
) -> Path:
    """Granite Speech and Granite Speech Plus: one recipe; Plus concatenates ``cat_hidden_layers`` of the
    encoder to its output (32 wide each), so its projector reads a wider encoder state."""
    from transformers import GraniteSpeechFeatureExtractor, GraniteSpeechProcessor

    tok = build_tokenizer(named_tokens={"audio_token": "<|audio|>"}, base=tokenizer)
    processor = GraniteSpeechProcessor(GraniteSpeechFeatureExtractor(), tok, chat_template=CHATML_TEMPLATE)
    torch.manual_seed(seed)
    encoder: dict[str, Any] = dict(input_dim=160, num_layers=layers, hidden_dim=32, num_heads=4, output_dim=16)
    if cat_hidden_layers:
        encoder["cat_hidden_layers"] = cat_hidden_layers
    config = config_class(
        text_config=dict(model_type="granite", **_text_config(len(tok), hidden, layers)),
        encoder_config=encoder,
        projector_config=dict(
            model_type="blip_2_qformer",
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=4,
            intermediate_size=64,
            encoder_hidden_size=32 * (1 + len(cat_hidden_layers or [])),
            cross_attention_frequency=1,
        ),
        audio_token_index=tok.audio_token_id,
        has_lora_adapter=False,
    )
    return _save(Path(folder), model_class(config), processor)


def make_tiny_fun_asr_nano(
    folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2, tokenizer: str | Path | None = None
) -> Path:
    """A random Fun-ASR-Nano (SAN-M encoder, adaptor, Qwen3 LM) with its processor (needs torchaudio or its
    stand-in)."""
    from transformers import (
        FunAsrNanoConfig,
        FunAsrNanoFeatureExtractor,
        FunAsrNanoForConditionalGeneration,
        FunAsrNanoProcessor,
    )

    tok = build_tokenizer(extra_special_tokens=["<|object_ref_start|>"], base=tokenizer)
    processor = FunAsrNanoProcessor(FunAsrNanoFeatureExtractor(), tok, chat_template=CHATML_TEMPLATE)
    torch.manual_seed(seed)
    config = FunAsrNanoConfig(
        audio_config=dict(
            model_type="fun_asr_nano_encoder",
            hidden_size=32,
            num_attention_heads=4,
            intermediate_size=64,
            num_hidden_layers=layers,
            num_timestamp_prediction_layers=1,
        ),
        adaptor_config=dict(
            hidden_size=hidden,
            num_attention_heads=4,
            intermediate_size=hidden // 4,
            num_hidden_layers=1,
            projector_hidden_size=64,
        ),
        text_config=dict(model_type="qwen3", **_text_config(len(tok), hidden, layers), head_dim=hidden // 4),
        audio_token_id=_token_id(tok, "<|object_ref_start|>"),
    )
    return _save(Path(folder), FunAsrNanoForConditionalGeneration(config), processor)


def make_tiny_omniasr(
    folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2, tokenizer: str | Path | None = None
) -> Path:
    """A random Omnilingual ASR LLM (wav2vec 2.0 encoder with the real 320-sample stride, LLaMA) with its processor."""
    from transformers import OmniASRConfig, OmniASRFeatureExtractor, OmniASRForConditionalGeneration, OmniASRProcessor

    tok = build_tokenizer(extra_special_tokens=["<extra_id_1>"], bos_token="<s>", base=tokenizer)
    processor = OmniASRProcessor(OmniASRFeatureExtractor(), tok, chat_template=CHATML_TEMPLATE)
    torch.manual_seed(seed)
    config = OmniASRConfig(
        audio_config=dict(
            model_type="omniasr_audio",
            hidden_size=32,
            conv_dim=(16,) * 7,
            num_attention_heads=4,
            num_hidden_layers=layers,
            num_conv_pos_embeddings=16,
            num_conv_pos_embedding_groups=4,
            intermediate_size=64,
        ),
        text_config=dict(model_type="llama", **_text_config(len(tok), hidden, layers)),
        audio_token_id=_token_id(tok, "<extra_id_1>"),
    )
    return _save(Path(folder), OmniASRForConditionalGeneration(config), processor)


def make_tiny_moss_transcribe_diarize(
    folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2, tokenizer: str | Path | None = None
) -> Path:
    """A random MOSS-Transcribe-Diarize (Whisper encoder, Qwen3 LM) with its processor (time markers every 2 s)."""
    from transformers import (
        MossTranscribeDiarizeConfig,
        MossTranscribeDiarizeFeatureExtractor,
        MossTranscribeDiarizeForConditionalGeneration,
        MossTranscribeDiarizeProcessor,
    )

    tok = build_tokenizer(extra_special_tokens=["<|audio_pad|>", "<|audio_start|>", "<|audio_end|>"], base=tokenizer)
    processor = MossTranscribeDiarizeProcessor(
        MossTranscribeDiarizeFeatureExtractor(), tok, chat_template=CHATML_TEMPLATE
    )
    torch.manual_seed(seed)
    config = MossTranscribeDiarizeConfig(
        audio_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=layers, num_attention_heads=4),
        text_config=dict(model_type="qwen3", **_text_config(len(tok), hidden, layers), head_dim=hidden // 4),
        audio_token_id=_token_id(tok, "<|audio_pad|>"),
    )
    return _save(Path(folder), MossTranscribeDiarizeForConditionalGeneration(config), processor)


def _tiny_nemotron_h(vocab_size: int, hidden: int, layers: int) -> dict:
    """A Nemotron-H LM config: Mamba-2, attention and MoE layers (``M*E``...), shrunk."""
    return dict(
        model_type="nemotron_h",
        vocab_size=vocab_size,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=3 * layers,
        hybrid_override_pattern="M*E" * layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=hidden // 4,
        mamba_num_heads=4,
        mamba_head_dim=hidden // 4,
        ssm_state_size=16,
        n_groups=1,
        moe_intermediate_size=hidden // 2,
        moe_shared_expert_intermediate_size=hidden // 2,
        n_routed_experts=4,
        num_experts_per_tok=2,
        max_position_embeddings=4096,
    )


def make_tiny_nemotron3_5_transcribe(
    folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 1, tokenizer: str | Path | None = None
) -> Path:
    """A random Nemotron 3.5 Transcribe (encoder, diarization model, word timestamp head, Nemotron-H LM), processor."""
    from transformers import (
        Nemotron3_5TranscribeConfig,
        Nemotron3_5TranscribeForConditionalGeneration,
        Nemotron3_5TranscribeProcessor,
        NemotronAsrStreamingFeatureExtractor,
    )

    tok = build_tokenizer(extra_special_tokens=["<|audio|>"], base=tokenizer)
    processor = Nemotron3_5TranscribeProcessor(
        NemotronAsrStreamingFeatureExtractor(feature_size=128),
        tok,
        build_tokenizer(chat_template=None, base=tokenizer),
        chat_template=CHATML_TEMPLATE,
    )
    encoder = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=layers, num_attention_heads=4)
    torch.manual_seed(seed)
    config = Nemotron3_5TranscribeConfig(
        audio_config=dict(
            asr_config=encoder,
            diarization_config=dict(
                audio_config=encoder,
                head_config=dict(hidden_size=16, num_speakers=4, audio_hidden_size=32),
                streaming_config=dict(
                    num_speakers=4, speaker_cache_length=16, fifo_length=8, speaker_cache_update_period=8
                ),
                chunk_length=20,
                chunk_right_context=4,
                chunk_left_context=2,
                fifo_length=8,
                speaker_cache_update_period=8,
            ),
        ),
        text_config=_tiny_nemotron_h(len(tok), hidden, layers),
        word_timestamp_config=dict(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=1,
            num_attention_heads=4,
            vocab_size=len(tok) + 1,
            blank_token_id=len(tok),
        ),
        audio_token_id=_token_id(tok, "<|audio|>"),
    )
    return _save(Path(folder), Nemotron3_5TranscribeForConditionalGeneration(config), processor)


def make_tiny_vibevoice_asr(
    folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2, tokenizer: str | Path | None = None
) -> Path:
    """A random VibeVoice-ASR (acoustic and semantic tokenizer encoders with the real 3200-sample hop, Qwen2 LM)."""
    from transformers import (
        VibeVoiceAcousticTokenizerFeatureExtractor,
        VibeVoiceAsrConfig,
        VibeVoiceAsrForConditionalGeneration,
        VibeVoiceAsrProcessor,
    )

    tok = build_tokenizer(
        extra_special_tokens=["<|box_start|>", "<|object_ref_start|>", "<|object_ref_end|>"], base=tokenizer
    )
    processor = VibeVoiceAsrProcessor(VibeVoiceAcousticTokenizerFeatureExtractor(), tok, chat_template=CHATML_TEMPLATE)
    encoder = dict(
        model_type="vibevoice_acoustic_tokenizer_encoder",
        hidden_size=16,
        num_filters=4,
        depths=(1,) * 7,
        ffn_expansion=2,
    )
    torch.manual_seed(seed)
    config = VibeVoiceAsrConfig(
        acoustic_tokenizer_encoder_config=encoder,
        semantic_tokenizer_encoder_config=dict(encoder, hidden_size=32),
        text_config=dict(model_type="qwen2", **_text_config(len(tok), hidden, layers)),
        audio_token_id=_token_id(tok, "<|box_start|>"),
        audio_bos_token_id=_token_id(tok, "<|object_ref_start|>"),
        audio_eos_token_id=_token_id(tok, "<|object_ref_end|>"),
    )
    return _save(Path(folder), VibeVoiceAsrForConditionalGeneration(config), processor)


def _save_speech_only(
    folder: Path, model: PreTrainedModel, processor_class: type, feature_extractor, tokenizer, **settings
) -> Path:
    """Save a model of a family whose processor also takes images and videos, with that processor's speech parts
    (feature extractor, tokenizer) and settings, and check that it builds without its image and video processors
    (`base.speech_only`), as `ProcessorAudioScorer.speech_processor` loads it back."""
    cls = speech_only(processor_class)
    parts = {"feature_extractor": feature_extractor, "tokenizer": tokenizer}
    cls(**{name: parts.get(name) for name in cls.get_attributes()}, **settings)
    _save(folder, model, feature_extractor, tokenizer)
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


def make_tiny_gemma3n(
    folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2, tokenizer: str | Path | None = None
) -> Path:
    """A random Gemma 3n (conformer audio encoder, timm vision tower, AltUp LM) with its processor's speech parts.

    Gemma 3n embeds its multimodal tokens after the text vocabulary: 128 vision then 128 audio
    ids, laid out here as in the real tokenizer (end-of-image, image soft token; end-of-audio,
    audio soft token). Its vision tower needs timm: build and load it in `backend_stand_ins`.
    """
    _refuse_tokenizer(
        "gemma3n", tokenizer, "it lays its 256 multimodal tokens at fixed offsets after the text vocabulary"
    )
    from transformers import (
        Gemma3nAudioFeatureExtractor,
        Gemma3nConfig,
        Gemma3nForConditionalGeneration,
        Gemma3nProcessor,
    )

    base = build_tokenizer(
        extra_special_tokens=[GEMMA_TOKENS["boi_token"], GEMMA_TOKENS["boa_token"]], bos_token="<bos>"
    )
    text_vocab = len(base)
    multimodal = [f"<multimodal_{i}>" for i in range(256)]
    multimodal[0], multimodal[1] = GEMMA_TOKENS["eoi_token"], GEMMA_TOKENS["image_token"]
    multimodal[128], multimodal[129] = GEMMA_TOKENS["eoa_token"], GEMMA_TOKENS["audio_token"]
    backend = base.backend_tokenizer
    backend.add_special_tokens(multimodal)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<bos>",
        eos_token=base.eos_token,
        pad_token=base.pad_token,
        model_specific_special_tokens=GEMMA_TOKENS,
        chat_template=CHATML_TEMPLATE,
    )
    ids = {name: _token_id(tok, token) for name, token in GEMMA_TOKENS.items()}
    torch.manual_seed(seed)
    config = Gemma3nConfig(
        text_config=dict(
            **_text_config(text_vocab + 256, hidden, 2 * layers),
            head_dim=hidden // 4,
            sliding_window=8,
            layer_types=["sliding_attention", "full_attention"] * layers,
            num_kv_shared_layers=layers,
            vocab_size_per_layer_input=text_vocab,
            hidden_size_per_layer_input=8,
            laurel_rank=8,
            activation_sparsity_pattern=[0.0] * (2 * layers),
            pad_token_id=tok.pad_token_id,
            bos_token_id=tok.bos_token_id,
            eos_token_id=tok.eos_token_id,
        ),
        audio_config=dict(
            vocab_offset=text_vocab + 128,
            hidden_size=32,
            conf_num_attention_heads=4,
            conf_num_hidden_layers=layers,
            sscp_conv_channel_size=(8, 4),
        ),
        vision_config=dict(vocab_offset=text_vocab, hidden_size=32, architecture="test_convnext"),  # timm's tiny one
        boi_token_id=ids["boi_token"],
        eoi_token_id=ids["eoi_token"],
        image_token_id=ids["image_token"],
        boa_token_id=ids["boa_token"],
        eoa_token_id=ids["eoa_token"],
        audio_token_id=ids["audio_token"],
    )
    model = Gemma3nForConditionalGeneration(config)
    return _save_speech_only(Path(folder), model, Gemma3nProcessor, Gemma3nAudioFeatureExtractor(), tok)


def make_tiny_gemma4(
    folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2, tokenizer: str | Path | None = None
) -> Path:
    """A random Gemma 4 (conformer audio encoder, no vision tower) with its processor's speech parts."""
    from transformers import Gemma4AudioFeatureExtractor, Gemma4Config, Gemma4ForConditionalGeneration, Gemma4Processor

    audio = dict(
        hidden_size=32,
        num_hidden_layers=layers,
        num_attention_heads=4,
        subsampling_conv_channels=(128, 4),
        output_proj_dims=32,
    )  # 128: the mel bins
    return _tiny_gemma4(
        folder,
        Gemma4Config,
        Gemma4ForConditionalGeneration,
        Gemma4Processor,
        Gemma4AudioFeatureExtractor(),
        audio_config=audio,
        seed=seed,
        hidden=hidden,
        layers=layers,
        tokenizer=tokenizer,
    )


def _tiny_gemma4(
    folder,
    config_class,
    model_class,
    processor_class,
    feature_extractor,
    *,
    audio_config: dict,
    seed: int,
    hidden: int,
    layers: int,
    tokenizer: str | Path | None,
) -> Path:
    """A random Gemma 4 family model with an audio config and no vision tower.

    The LM keeps Gemma 4's quirks that matter for the shared-prefix cache: sliding-window
    layers with a window (8) shorter than the prompts, the last layers reusing the keys and
    values of earlier ones, and per-layer token inputs.
    """
    tok = build_tokenizer(named_tokens=GEMMA_TOKENS, bos_token="<bos>", base=tokenizer)
    ids = {name: _token_id(tok, token) for name, token in GEMMA_TOKENS.items()}
    torch.manual_seed(seed)
    config = config_class(
        text_config=dict(
            **_text_config(len(tok), hidden, 2 * layers),
            head_dim=hidden // 4,
            global_head_dim=hidden // 4,
            layer_types=["sliding_attention", "full_attention"] * layers,
            sliding_window=8,
            num_kv_shared_layers=layers,
            vocab_size_per_layer_input=len(tok),
            hidden_size_per_layer_input=8,
            pad_token_id=tok.pad_token_id,
            bos_token_id=tok.bos_token_id,
            eos_token_id=tok.eos_token_id,
        ),
        vision_config=None,
        audio_config=audio_config,
        audio_token_id=ids["audio_token"],
        boa_token_id=ids["boa_token"],
        eoa_token_index=ids["eoa_token"],
        image_token_id=ids["image_token"],
        boi_token_id=ids["boi_token"],
        eoi_token_id=ids["eoi_token"],
        video_token_id=len(tok),
    )
    return _save_speech_only(Path(folder), model_class(config), processor_class, feature_extractor, tok)


def make_tiny_gemma4_unified(
    folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2, tokenizer: str | Path | None = None
) -> Path:
    """A random Gemma 4 unified (40 ms waveform frames projected into the LM, no vision tower) and its processor."""
    from transformers import (
        Gemma4UnifiedAudioFeatureExtractor,
        Gemma4UnifiedConfig,
        Gemma4UnifiedForConditionalGeneration,
        Gemma4UnifiedProcessor,
    )

    return _tiny_gemma4(
        folder,
        Gemma4UnifiedConfig,
        Gemma4UnifiedForConditionalGeneration,
        Gemma4UnifiedProcessor,
        Gemma4UnifiedAudioFeatureExtractor(),
        audio_config={},
        seed=seed,
        hidden=hidden,
        layers=layers,
        tokenizer=tokenizer,
    )


def make_tiny_dots3_note(
    folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2, tokenizer: str | Path | None = None
) -> Path:
    """A random dots3 Note (Whisper-style encoder, tiny vision tower, MLA + sparse-attention MoE LM), speech parts.

    Its sparse-attention indexer keeps the released checkpoint's 2048 keys per query: every key
    of the test prompts (see `Dots3NoteScorer` for longer ones).
    """
    from transformers import (
        Dots3NoteConfig,
        Dots3NoteFeatureExtractor,
        Dots3NoteForConditionalGeneration,
        Dots3NoteProcessor,
    )

    tok = build_tokenizer(extra_special_tokens=["<|imgpad|>", "<|video_pad|>", "<|audio_comp_pad|>"], base=tokenizer)
    torch.manual_seed(seed)
    config = Dots3NoteConfig(
        text_config=dict(
            **{**_text_config(len(tok), hidden, layers), "num_key_value_heads": 4},
            moe_intermediate_size=hidden // 2,
            n_shared_experts=1,
            n_routed_experts=4,
            num_experts_per_tok=2,
            kv_lora_rank=16,
            q_lora_rank=16,
            qk_rope_head_dim=8,
            qk_nope_head_dim=8,
            v_head_dim=16,
            head_dim=16,
            index_head_dim=16,
            index_n_heads=2,
            shared_experts_intermediate_size=hidden // 2,
            use_sliding_window=False,
            pad_token_id=tok.pad_token_id,
            bos_token_id=None,
            eos_token_id=tok.eos_token_id,
        ),
        vision_config=dict(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=1,
            num_attention_heads=2,
            adapter_in_dim=32,
            adapter_out_dim=hidden,
            mlp_layer_types=["dense"],
        ),
        audio_config=dict(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=layers,
            num_attention_heads=4,
            downsample_hidden_size=16,
            adapter_input_size=32,
            adapter_out_dim=hidden,
        ),
        image_token_id=_token_id(tok, "<|imgpad|>"),
        video_token_id=_token_id(tok, "<|video_pad|>"),
        audio_token_id=_token_id(tok, "<|audio_comp_pad|>"),
    )
    model = Dots3NoteForConditionalGeneration(config)
    return _save_speech_only(Path(folder), model, Dots3NoteProcessor, Dots3NoteFeatureExtractor(), tok)


def make_tiny_inkling(
    folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2, tokenizer: str | Path | None = None
) -> Path:
    """A random Inkling (dMel audio embeddings, tiny vision tower, hybrid sliding/full attention + conv MoE LM).

    Its first layer attends through a sliding window (8) shorter than the prompts.
    """
    from transformers import InklingConfig, InklingFeatureExtractor, InklingForConditionalGeneration, InklingProcessor

    specials = ["<|unused_200054|>", "<|unused_200053|>", "<|content_image|>", "<|content_audio_input|>"]
    tok = build_tokenizer(extra_special_tokens=specials, bos_token="<|begin|>", base=tokenizer)
    image, audio, image_bos, audio_bos = (_token_id(tok, t) for t in specials)
    torch.manual_seed(seed)
    config = InklingConfig(
        text_config=dict(
            **_text_config(len(tok), hidden, layers),
            head_dim=hidden // 4,
            swa_num_attention_heads=4,
            swa_num_key_value_heads=2,
            swa_head_dim=hidden // 4,
            sliding_window_size=8,
            d_rel=4,
            rel_extent=16,
            local_layer_ids=[0],
            moe_intermediate_size=hidden // 2,
            n_routed_experts=4,
            num_experts_per_tok=2,
            n_shared_experts=1,
            logits_mup_width_multiplier=1.0,
            pad_token_id=tok.pad_token_id,
            bos_token_id=tok.bos_token_id,
            eos_token_id=tok.eos_token_id,
        ),
        audio_config=dict(n_mel_bins=80, mel_vocab_size=16, text_hidden_size=hidden),
        vision_config=dict(text_hidden_size=hidden, hidden_size=32, num_hidden_layers=1, num_attention_heads=2),
        image_token_id=image,
        audio_token_id=audio,
        image_bos_token_id=image_bos,
        audio_bos_token_id=audio_bos,
    )
    model = InklingForConditionalGeneration(config)
    return _save_speech_only(Path(folder), model, InklingProcessor, InklingFeatureExtractor(), tok)


def make_tiny_muse_spark(
    folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2, tokenizer: str | Path | None = None
) -> Path:
    """A random Muse Spark (waveform patch encoder with the real 1920-sample stride, tiny vision tower, MoE LM
    whose sliding window, 8, is shorter than the prompts)."""
    from transformers import (
        MuseSparkConfig,
        MuseSparkFeatureExtractor,
        MuseSparkForConditionalGeneration,
        MuseSparkProcessor,
    )

    named = {
        "audio_token": "<|audio|>",
        "audio_start_token": "<|soft_audio_start|>",
        "audio_end_token": "<|soft_audio_end|>",
        "image_token": "<|patch|>",
        "video_token": "<|video|>",
    }
    tok = build_tokenizer(named_tokens=named, extra_special_tokens=["<|image_start|>", "<|image_end|>"], base=tokenizer)
    torch.manual_seed(seed)
    config = MuseSparkConfig(
        text_config=dict(
            **_text_config(len(tok), hidden, layers),
            head_dim=hidden // 4,
            sliding_window=8,
            moe_intermediate_size=hidden // 2,
            moe_hidden_size=hidden,
            num_local_experts=4,
            num_experts_per_tok=2,
            pad_token_id=tok.pad_token_id,
            bos_token_id=None,
            eos_token_id=tok.eos_token_id,
        ),
        vision_config=dict(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=1,
            num_attention_heads=2,
            pos_emb_height=4,
            pos_emb_width=4,
            max_position_embeddings=16,
        ),
        audio_config=dict(hidden_sizes=(8, 8, 16, 16), depths=(1, 1, 1, 1), out_hidden_size=hidden),
        out_hidden_size=hidden,
        projector_hidden_size=hidden,
        audio_token_id=tok.audio_token_id,
        image_token_id=tok.image_token_id,
        video_token_id=tok.video_token_id,
    )
    model = MuseSparkForConditionalGeneration(config)
    return _save_speech_only(Path(folder), model, MuseSparkProcessor, MuseSparkFeatureExtractor(), tok)


def make_tiny_apertus1p5(
    folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2, tokenizer: str | Path | None = None
) -> Path:
    """A random Apertus 1.5 (WavTokenizer encoder with the real 600-sample hop, tiny image VQ tokenizer, LM whose
    vocabulary holds the text tokens, then the image codes, then the audio codes)."""
    from transformers import (
        Apertus1p5Config,
        Apertus1p5ForConditionalGeneration,
        Apertus1p5Processor,
        WavTokenizerFeatureExtractor,
    )

    named = {
        "image_token": "<|image|>",
        "audio_token": "<|audio|>",
        "boi_token": "<|image_start|>",
        "eoi_token": "<|image_end|>",
        "image_wrapper_token": "<|image_wrap|>",
        "eol_token": "<|image_eol|>",
        "boa_token": "<|audio_start|>",
        "eoa_token": "<|audio_end|>",
    }
    tok = build_tokenizer(named_tokens=named, bos_token="<s>", base=tokenizer)
    image_codes, audio_codes = 16, 32
    torch.manual_seed(seed)
    config = Apertus1p5Config(
        text_config=dict(
            **{
                **_text_config(len(tok) + image_codes + audio_codes, hidden, layers),
                "max_position_embeddings": 16384,
            },  # above its rope scaling's 8192
            pad_token_id=tok.pad_token_id,
            bos_token_id=tok.bos_token_id,
            eos_token_id=tok.eos_token_id,
        ),
        vision_config=dict(
            codebook_size=image_codes,
            embed_dim=8,
            latent_channels=8,
            base_channels=32,
            channel_multiplier=(1, 1),
            num_res_blocks=1,
            attn_resolutions=(),
            resolution=16,
        ),
        audio_config=dict(
            model_type="wavtokenizer_encoder",
            num_filters=4,
            hidden_size=16,
            codebook_size=audio_codes,
            codebook_dim=16,
            num_lstm_layers=1,
        ),
        image_token_id=tok.image_token_id,
        audio_token_id=tok.audio_token_id,
        image_token_offset=len(tok),
        audio_token_offset=len(tok) + image_codes,
    )
    model = Apertus1p5ForConditionalGeneration(config)
    return _save_speech_only(Path(folder), model, Apertus1p5Processor, WavTokenizerFeatureExtractor(), tok)


def make_tiny_nemotron_h_omni(
    folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 1, tokenizer: str | Path | None = None
) -> Path:
    """A random Nemotron 3 Nano Omni (Parakeet sound encoder, tiny RADIO vision tower, Nemotron-H LM), speech parts."""
    from transformers import (
        NemotronH_Omni_Reasoning_V3,
        NemotronH_Omni_Reasoning_V3_Config,
        NemotronH_Omni_Reasoning_V3Processor,
        ParakeetFeatureExtractor,
    )

    named = {"audio_token": "<so_embedding>", "image_token": "<image>", "video_token": "<video>"}
    tok = build_tokenizer(
        named_tokens=named, extra_special_tokens=["<so_start>", "<so_end>", "<img>", "</img>"], base=tokenizer
    )
    torch.manual_seed(seed)
    config = NemotronH_Omni_Reasoning_V3_Config(
        vision_config=dict(
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            patch_size=16,
            image_size=32,
            max_img_size=64,
            num_cls_tokens=1,
            num_registers=0,
            video_temporal_patch_size=2,
        ),
        text_config=_tiny_nemotron_h(len(tok), hidden, layers),
        audio_config=dict(
            hidden_size=32,
            num_hidden_layers=layers,
            num_attention_heads=4,
            intermediate_size=64,
            subsampling_conv_channels=8,
            num_mel_bins=128,
            projection_hidden_size=64,
            projection_bias=False,
        ),  # two fields of the released checkpoints' audio config
        vision_hidden_size=32,
        projector_hidden_size=64,
        image_token_id=tok.image_token_id,
        video_token_id=tok.video_token_id,
        audio_token_id=tok.audio_token_id,
    )
    model = NemotronH_Omni_Reasoning_V3(config)
    return _save_speech_only(
        Path(folder), model, NemotronH_Omni_Reasoning_V3Processor, ParakeetFeatureExtractor(feature_size=128), tok
    )


def make_tiny_moshi(
    folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2, tokenizer: str | Path | None = None
) -> Path:
    """A random Moshi: small temporal and depth transformers over a tiny Mimi (4 codebooks of 64 codes, its real
    24 kHz rate and 1920-sample frames), with a tokenizer whose id 3 is Moshi's text padding token."""
    _refuse_tokenizer("moshi", tokenizer, "its adapter pads the text stream with token id 3 (Kyutai's padding token)")
    from transformers import MimiConfig, MoshiConfig, MoshiForConditionalGeneration

    tok = build_tokenizer(
        special_tokens=["<unk>", "<s>", "</s>", "<pad>"], eos_token="</s>", pad_token="<pad>", chat_template=None
    )
    codebooks, scale = 4, 0.1  # scale: of the random codebook centroids
    mimi = MimiConfig(
        num_quantizers=codebooks,
        num_filters=8,
        hidden_size=32,
        upsample_groups=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        head_dim=16,
        intermediate_size=64,
        codebook_size=64,
        codebook_dim=16,
        vector_quantization_hidden_dimension=16,
        sliding_window=64,
    )
    torch.manual_seed(seed)
    config = MoshiConfig(
        vocab_size=len(tok),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        ffn_dim=2 * hidden,
        num_codebooks=codebooks,
        max_position_embeddings=4096,
        sliding_window=4096,
        audio_encoder_config=mimi.to_dict(),
        depth_decoder_config=dict(
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=2,
            ffn_dim=64,
            max_position_embeddings=codebooks,
            sliding_window=codebooks,
        ),
    )
    model = MoshiForConditionalGeneration(config)
    with torch.no_grad():
        for module in model.modules():
            if type(module).__name__ == "MoshiFlexibleLinear":  # starts at std 1 (logits in the hundreds): by fan-in
                weight: torch.Tensor = module.weight  # type: ignore[assignment]  # a Parameter, typed as a Module's attr
                weight.normal_(std=weight.shape[-1] ** -0.5)
            if type(module).__name__ == "MimiEuclideanCodebook":  # starts all zero: every frame would be code 0
                embed_sum: torch.Tensor = module.embed_sum  # type: ignore[assignment]  # a buffer
                embed_sum.normal_(std=scale)
    return _save(Path(folder), model, tok)


SPEECH_UNIT_LM_CODE = '''"""A stand-in for a speech LM whose remote code puts speech units in its vocabulary.

For docs/speech-output.md.

Built by `s2sbench_hf.testing.make_tiny_speech_unit_lm`; loaded only with ``trust_remote_code=True``.
"""

import numpy as np
from transformers import LlamaForCausalLM

UNITS = 16
"""Speech units: the last UNITS ids of the vocabulary; the id before them marks the start of speech."""
FRAME = 640
"""Samples per unit at 16 kHz (40 ms)."""


class SpeechUnitLM(LlamaForCausalLM):
    @property
    def speech_start_id(self) -> int:
        return self.config.vocab_size - UNITS - 1

    def speech_ids(self, waveform) -> list:
        """One unit per started 40 ms frame: its loudness and zero-crossing rate, quantized."""
        wave = np.asarray(waveform, dtype=np.float32)
        n = max(1, -(-len(wave) // FRAME))
        frames = np.pad(wave, (0, n * FRAME - len(wave))).reshape(n, FRAME)
        loud = np.clip((np.log(np.sqrt((frames ** 2).mean(1)) + 1e-4) + 9.3) / 2.4, 0, 3.99).astype(int)
        cross = np.clip((np.abs(np.diff(np.sign(frames), axis=1)) > 0).mean(1) * 8, 0, 3.99).astype(int)
        return [self.config.vocab_size - UNITS + int(4 * a + b) for a, b in zip(loud, cross)]
'''
"""The remote code of `make_tiny_speech_unit_lm`'s model (``modeling_speech_unit_lm.py``)."""


def make_tiny_speech_unit_lm(folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2) -> Path:
    """A random Llama whose remote code (`SPEECH_UNIT_LM_CODE`, through ``auto_map``) turns 16 kHz speech into 16
    units of its vocabulary: the stand-in of a ``--trust-remote-code`` speech-to-speech model such as Baichuan-Audio."""
    folder = make_tiny_causal_lm(
        folder, seed=seed, hidden=hidden, layers=layers, vocab_size=len(build_tokenizer()) + 17
    )
    (folder / "modeling_speech_unit_lm.py").write_text(SPEECH_UNIT_LM_CODE, encoding="utf-8")
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    config["auto_map"] = {"AutoModelForCausalLM": "modeling_speech_unit_lm.SpeechUnitLM"}
    (folder / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    return folder


def make_tiny_whisper(folder: str | Path, *, seed: int = 0, dim: int = 32, layers: int = 1) -> Path:
    """A random Whisper recognizer (80 mel bins) with its processor, for the cascade.

    Its generation config is hand-made (no language or task tokens: an English-only
    style checkpoint) and short, so that ``generate`` runs offline and fast.
    """
    from transformers import GenerationConfig, WhisperConfig, WhisperForConditionalGeneration, WhisperProcessor

    tok = build_tokenizer()
    special = tok.eos_token_id
    config = WhisperConfig(
        vocab_size=len(tok),
        d_model=dim,
        encoder_layers=layers,
        decoder_layers=layers,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=2 * dim,
        decoder_ffn_dim=2 * dim,
        num_mel_bins=80,
        max_target_positions=64,
        decoder_start_token_id=special,
        pad_token_id=tok.pad_token_id,
        eos_token_id=special,
        bos_token_id=special,
    )
    torch.manual_seed(seed)
    model = WhisperForConditionalGeneration(config)
    model.generation_config = GenerationConfig(
        decoder_start_token_id=special, eos_token_id=special, pad_token_id=tok.pad_token_id, max_new_tokens=12
    )
    processor = WhisperProcessor(feature_extractor=WhisperFeatureExtractor(feature_size=80), tokenizer=tok)
    return _save(Path(folder), model, processor)


class _MelSpectrogram(torch.nn.Module):
    """Stand-in for ``torchaudio.transforms.MelSpectrogram`` (power spectrogram, HTK mel filters, no norm)."""

    window: torch.Tensor
    filters: torch.Tensor

    def __init__(self, sample_rate: int, n_fft: int, win_length: int, hop_length: int, n_mels: int):
        super().__init__()
        from transformers.audio_utils import mel_filter_bank

        self.n_fft, self.win_length, self.hop_length = n_fft, win_length, hop_length
        self.register_buffer("window", torch.hann_window(win_length))
        filters = mel_filter_bank(n_fft // 2 + 1, n_mels, 0.0, sample_rate / 2, sample_rate, norm=None, mel_scale="htk")
        self.register_buffer("filters", torch.tensor(filters, dtype=torch.float32))

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(audio, self.n_fft, self.hop_length, self.win_length, self.window, return_complex=True)
        return (self.filters.T @ spec.abs() ** 2).float()  # (..., n_mels, frames)


def _kaldi_fbank(
    waveform: torch.Tensor,
    *,
    num_mel_bins: int,
    frame_length: float,
    frame_shift: float,
    sample_frequency: float,
    window_type: str = "hamming",
) -> torch.Tensor:
    """Stand-in for ``torchaudio.compliance.kaldi.fbank``: log mel energies of frames cut as Kaldi cuts them
    (``snip_edges``: ``1 + (samples - window) // shift`` frames, none for a clip shorter than a window)."""
    from transformers.audio_utils import mel_filter_bank

    window = int(sample_frequency * frame_length / 1000)
    shift = int(sample_frequency * frame_shift / 1000)
    wave = waveform.reshape(-1)
    if wave.numel() < window:
        return torch.zeros(0, num_mel_bins)
    frames = wave.unfold(0, window, shift) * torch.hamming_window(window, periodic=False)
    n_fft = 1 << (window - 1).bit_length()
    power = torch.fft.rfft(frames, n=n_fft).abs() ** 2
    filters = mel_filter_bank(n_fft // 2 + 1, num_mel_bins, 20.0, sample_frequency / 2, int(sample_frequency))
    return torch.log(power @ torch.tensor(filters, dtype=torch.float32) + 1e-6)


class _TimmStandIn(torch.nn.Module):
    """Stand-in for the timm vision backbone of a speech LLM (Gemma 3n's MobileNetV5): weights to save and load,
    and a loud error if asked to see an image, which speech scoring never does."""

    def __init__(self, architecture: str, pretrained: bool = False, **kwargs):
        super().__init__()
        self.architecture = architecture
        self.stem = torch.nn.Conv2d(3, 4, 3)

    def forward_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"stand-in for timm's {self.architecture}: it sees no images")


MISSING_BACKENDS = {
    "torchaudio": {
        "granite_speech.feature_extraction_granite_speech": "GraniteSpeechFeatureExtractor",
        "fun_asr_nano.feature_extraction_fun_asr_nano": "FunAsrNanoFeatureExtractor",
    },
    "timm": {"timm_wrapper.modeling_timm_wrapper": "TimmWrapperModel"},
}
"""Packages with no build for the torch this project pins -> the transformers modules (under
``transformers.models``) that need them and the class each provides."""

_STAND_INS = {
    "torchaudio": SimpleNamespace(
        transforms=SimpleNamespace(MelSpectrogram=_MelSpectrogram),
        compliance=SimpleNamespace(kaldi=SimpleNamespace(fbank=_kaldi_fbank)),
    ),
    "timm": SimpleNamespace(create_model=_TimmStandIn, __version__="stand-in"),
}


@contextmanager
def backend_stand_ins() -> Iterator[None]:
    """Let the classes of `MISSING_BACKENDS` run where their package (torchaudio, timm) is missing.

    Neither has a build for the torch release this project pins. Each module gets a
    stand-in for the package (`_MelSpectrogram` and `_kaldi_fbank`: the same shapes and
    frame counts as torchaudio's, not the same values; `_TimmStandIn`: a vision tower
    that speech never runs) and its backend check is switched off, and transformers'
    placeholders for the classes are replaced by the real classes, so that models and
    processors load by path like any other. Everything else (the processor's placeholder
    expansion, the audio encoder, the LM, the scorer) is the real code. Packages that
    are installed are left alone.
    """
    import transformers

    patches: list[tuple[object, str, object]] = []
    for package, modules in MISSING_BACKENDS.items():
        if importlib.util.find_spec(package) is not None:
            continue
        for module_name, class_name in modules.items():
            module = importlib.import_module(f"transformers.models.{module_name}")
            model_package = importlib.import_module(f"transformers.models.{module_name.split('.')[0]}")
            cls = getattr(module, class_name)
            patches += [
                (module, package, _STAND_INS[package]),
                (module, "requires_backends", lambda *a, **k: None),
                (model_package, class_name, cls),
                (transformers, class_name, cls),
            ]
    saved = [(target, name, target.__dict__.get(name, _MISSING)) for target, name, _ in patches]
    try:
        for target, name, value in patches:
            setattr(target, name, value)
        yield
    finally:
        for target, name, value in reversed(saved):
            if value is _MISSING:
                delattr(target, name)
            else:
                setattr(target, name, value)


_MISSING = object()


TINY_MODELS = {
    "causal-lm": make_tiny_causal_lm,
    "qwen2-audio": make_tiny_qwen2_audio,
    "qwen2.5-omni": make_tiny_qwen2_5_omni,
    "qwen3-omni": make_tiny_qwen3_omni,
    "voxtral": make_tiny_voxtral,
    "audio-flamingo3": make_tiny_audio_flamingo3,
    "music-flamingo": make_tiny_music_flamingo,
    "glm-asr": make_tiny_glm_asr,
    "qwen3-asr": make_tiny_qwen3_asr,
    "phi4-multimodal": make_tiny_phi4_multimodal,
    "granite-speech": make_tiny_granite_speech,
    "granite-speech-plus": make_tiny_granite_speech_plus,
    "fun-asr-nano": make_tiny_fun_asr_nano,
    "omniasr": make_tiny_omniasr,
    "moss-transcribe-diarize": make_tiny_moss_transcribe_diarize,
    "nemotron3.5-transcribe": make_tiny_nemotron3_5_transcribe,
    "vibevoice-asr": make_tiny_vibevoice_asr,
    "gemma3n": make_tiny_gemma3n,
    "gemma4": make_tiny_gemma4,
    "gemma4-unified": make_tiny_gemma4_unified,
    "dots3-note": make_tiny_dots3_note,
    "inkling": make_tiny_inkling,
    "muse-spark": make_tiny_muse_spark,
    "apertus1.5": make_tiny_apertus1p5,
    "nemotron-h-omni": make_tiny_nemotron_h_omni,
    "moshi": make_tiny_moshi,
}
"""Adapter name -> factory of a tiny random model of that family."""
HEAD_DIM_FAMILIES = ("causal-lm", "qwen2-audio")
"""The families whose tiny model takes ``head_dim`` (`make_tiny_model`): those the vLLM backend serves."""


def make_tiny_model(
    family: str,
    folder: str | Path,
    *,
    seed: int = 0,
    tokenizer: str | Path | None = None,
    hub_layout: bool = False,
    head_dim: int | None = None,
) -> Path:
    """Save a tiny random model of ``family`` to ``folder`` (see `TINY_MODELS`); return the path.

    ``tokenizer``: build it on this tokenizer instead of the stand-in BPE (a folder, or a name of
    `REAL_TOKENIZERS`; see `build_tokenizer`'s ``base``); a family whose token ids are pinned raises
    a `TinyModelError`. ``hub_layout``: weights under the names of the family's published checkpoints
    (`save_hub_layout`) instead of transformers 5's own. ``head_dim``: the language model's attention
    heads of this width (`HEAD_DIM_FAMILIES`; default: the family's 4 heads), e.g. 64 for vLLM's CPU
    attention, which refuses the default models' 16.
    """
    try:
        factory = TINY_MODELS[family]
    except KeyError:
        raise TinyModelError(f"no tiny model for {family!r}; known: {', '.join(TINY_MODELS)}") from None
    missing = ADAPTERS[family].missing_transformers()  # a family newer than the installed transformers
    if missing is not None:
        raise TinyModelError(missing)
    shape: dict[str, Any] = {}
    if head_dim is not None:
        if family not in HEAD_DIM_FAMILIES:
            raise TinyModelError(
                f"{family}: its tiny model has no head_dim choice; leave it out, or use one of: "
                f"{', '.join(HEAD_DIM_FAMILIES)}."
            )
        shape["head_dim"] = head_dim
    with backend_stand_ins():  # builds the families that need torchaudio or timm where those are missing
        path = factory(folder, seed=seed, tokenizer=tokenizer, **shape)
        if hub_layout:
            save_hub_layout(path, family)
        return path


def weight_names(folder: str | Path) -> set[str]:
    """The weight names of the safetensors files in ``folder``."""
    names: set[str] = set()
    for path in Path(folder).glob("*.safetensors"):
        with safe_open(path, "pt") as weights:
            names.update(weights.keys())
    return names


def save_hub_layout(folder: Path, family: str) -> None:
    """Rewrite the tiny ``family`` model saved in ``folder`` under the weight names of its published checkpoints.

    transformers 5 reverts its key conversion on save (``save_original_format=True``); what it writes is
    checked against `PUBLISHED_LAYOUTS`, so that a release that reverts wrongly (5.19 wrote Qwen2-Audio as
    ``language_model.model.model.*``) fails here instead of writing names no published checkpoint has. An
    Omni thinker is written as the whole Omni model (config ``thinker_config``, weights ``thinker.*``, no
    talker). A family whose two layouts are the same is left as it is.
    """
    config = AutoConfig.from_pretrained(folder)
    layout = PUBLISHED_LAYOUTS.get(family)
    omni_class = getattr(transformers, layout.omni_model) if layout and layout.omni_model else None
    model = _built_afresh(load_pretrained(getattr(transformers, config.architectures[0]), str(folder)), omni_class)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        model.save_pretrained(tmp, save_original_format=True)
        published = weight_names(tmp)
        if published == weight_names(folder):
            return
        _check_published(family, layout, published)
        for old in Path(folder).glob("model*.safetensors*"):
            old.unlink()
        for new in Path(tmp).iterdir():
            new.replace(Path(folder) / new.name)


def _check_published(family: str, layout: PublishedLayout | None, names: set[str]) -> None:
    """Raise unless ``names`` (what transformers writes as the published layout) fit ``family``'s published one."""
    version = f"transformers {transformers.__version__}"
    if layout is None:
        raise TinyModelError(
            f"{family}: no published key layout is recorded for it (scoring.checkpoint.PUBLISHED_LAYOUTS), so the "
            f"names {version} would write ({', '.join(sorted(names)[:2])}, ...) cannot be checked; leave out the "
            "hub layout."
        )
    stray = layout.stray_keys(names)
    if stray:
        raise TinyModelError(
            f"{family}: {version} saves {len(stray)} of {len(names)} weights under names that {layout.checkpoint} "
            f"does not have ({', '.join(stray[:3])}, ...): it reverts its key conversion wrongly for this family."
        )


def _built_afresh(model: PreTrainedModel, omni_class: Any) -> PreTrainedModel:
    """A model built from ``model``'s config and holding its weights, inside the whole Omni model of ``omni_class``
    where given (its thinker; no talker or vocoder).

    Built, not loaded: transformers 5.25 reverts on save only the conversions its load applied (a model loaded
    from its own module names saves them again), and its whole conversion mapping for a model built afresh.
    """
    if omni_class is None:
        fresh = part = type(model)(model.config)
    else:
        fresh = omni_class(omni_class.config_class(thinker_config=model.config.to_dict(), enable_audio_output=False))
        part = fresh.thinker
    part.load_state_dict(model.state_dict())
    return fresh.eval()


# -- plain references and test inputs, shared by the tests and the benchmark -----------------

STORIES = [
    ("Tom went to the market early in the morning. He bought apples", [" and went home happy.", " the moon ate him."]),
    ("It rained", [" all day long, so we stayed inside and read books", " cats"]),
    ("小明每天早上跑步。", ["他身体很好。", "桌子会唱歌。"]),
]
"""Three contexts of very different lengths, continuations of different lengths (a leading space
where the text framing puts one), to batch together in exactness tests."""


def noise_clip(seconds: float, seed: int, rate: int = 16000) -> np.ndarray:
    """A deterministic noise clip at ``rate`` (16 kHz unless a family reads another) standing in for speech."""
    return (0.1 * np.random.default_rng(seed).standard_normal(int(rate * seconds))).astype(np.float32)


def story_requests(setting: str, rate: int = 16000) -> list[Request]:
    """`STORIES` as requests of one setting; audio clips of 1, 2.5 and 4 s at ``rate`` (mixed lengths in one batch)."""
    out = []
    for i, (context, conts) in enumerate(STORIES):
        if setting == "text":
            out.append(Request("sstorycloze", str(i), "text", context, tuple(conts)))
        else:
            seconds = 1.0 + 1.5 * i
            out.append(
                Request(
                    "sstorycloze",
                    str(i),
                    "audio",
                    "Below is speech: ",
                    tuple(c.lstrip() for c in conts),
                    noise_clip(seconds, i, rate),
                    rate,
                    audio_seconds=seconds,
                )
            )
    return out


@torch.inference_mode()
def full_forward_nll(scorer: HFScorer, request: Request, j: int) -> float:
    """The plain reference: one forward pass over prompt + continuation ``j``, no cache, no padding.

    What the reference release does for every continuation; the shared-prefix
    path must agree with it. The pass goes through the family's `model_forward`,
    as every pass of the scorer does (VibeVoice-ASR's asks for no random latent noise).
    """
    prefix = scorer.prefix_inputs([request])
    cont = scorer.continuation_ids(request)[j]
    ids = torch.cat([prefix["input_ids"], torch.tensor([cont])], dim=1)
    extra = {
        k: v.to(scorer.dtype) if v.is_floating_point() else v
        for k, v in prefix.items()
        if k not in ("input_ids", "attention_mask")
    }
    device = scorer.device
    extra = {k: v.to(device) for k, v in extra.items()}
    logits = scorer.model_forward(
        input_ids=ids.to(device), attention_mask=torch.ones_like(ids).to(device), **extra
    ).logits
    logprobs = torch.log_softmax(logits[0, -len(cont) - 1 : -1].float(), dim=-1)
    return -float(logprobs.gather(1, torch.tensor(cont, device=device)[:, None]).sum())


REL_TOL = 1e-6
"""The shared bound of the exactness tests: two fp32 computations of one score agree within this share
of its magnitude (a float32 NLL near 150 has an ulp of 1.5e-5, so absolute bounds do not scale)."""


def relative_deviation(a: Sequence[float], b: Sequence[float]) -> float:
    """Largest ``|a_i - b_i| / max(|b_i|, 1)``: the relative difference of two lists of scores (1: below 1 nat)."""
    if len(a) != len(b):
        return float("inf")
    return max((abs(x - y) / max(abs(y), 1.0) for x, y in zip(a, b, strict=True)), default=0.0)


def deviation_from_full_forward(scorer: HFScorer, requests: Sequence[Request]) -> float:
    """Largest relative difference (`relative_deviation`) between a batched shared-prefix NLL and its references.

    The references are `full_forward_nll` and each request scored alone: neither
    the KV-cache reuse nor the other members of a batch may change a score beyond
    float rounding. A continuation scored over the wrong number of tokens gives ``inf``.
    """
    batched = scorer.score(requests)
    worst = 0.0
    for request, scores in zip(requests, batched, strict=True):
        alone = scorer.score([request])[0]
        for j, score in enumerate(scores):
            if score.n_tokens != len(scorer.continuation_ids(request)[j]):
                return float("inf")
            reference = full_forward_nll(scorer, request, j)
            worst = max(worst, relative_deviation([score.nll_sum, score.nll_sum], [reference, alone[j].nll_sum]))
    return worst
