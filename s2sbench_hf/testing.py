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
from typing import Sequence

import numpy as np
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
from s2sbench_hf.scoring.adapters.base import HFScorer
from s2sbench_hf.scoring.interface import Request

QWEN_SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|AUDIO|>", "<|audio_bos|>", "<|audio_eos|>"]
_EXTRA_TEXT = [
    "Below is a segment of alternating speech and text content: ",
    "下面是一段语音和文本交错的内容：",
    "The quick brown fox jumps over the lazy dog. 我们今天去公园散步。",
]


CHATML_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}{% if part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
"""A ChatML chat template (Qwen's), given to the tiny tokenizers so that chat framing can be tested."""


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
) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer trained on the bundled sample texts (deterministic).

    ``special_tokens`` take the first ids, in order (a family that hard-codes a
    token id, like Voxtral's ``[AUDIO]`` = 24, lays them out here); then
    ``extra_special_tokens`` and the values of ``named_tokens`` (model-specific
    named tokens such as ``audio_token``, which processors read as attributes).
    """
    named_tokens = dict(named_tokens or {})
    specials = list(dict.fromkeys([*special_tokens, *extra_special_tokens, *named_tokens.values()]))
    for token in (bos_token, eos_token, pad_token):
        if token is not None and token not in specials:
            specials.append(token)
    corpus = list(_EXTRA_TEXT)
    for path in sorted(Path(SAMPLES_DIR).glob("*.jsonl")):
        corpus.extend(path.read_text(encoding="utf-8").splitlines())
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus, trainer=trainer)
    kwargs = {"model_specific_special_tokens": named_tokens} if named_tokens else {}
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=bos_token,
        eos_token=eos_token,
        pad_token=pad_token,
        additional_special_tokens=[t for t in specials if t not in (bos_token, eos_token, pad_token)],
        chat_template=chat_template,
        **kwargs,
    )


def _save(folder: Path, model: torch.nn.Module, *parts) -> Path:
    """Save a model and the parts of its processor (tokenizer, feature extractor, processor) to ``folder``."""
    model.eval().save_pretrained(folder)
    for part in parts:
        part.save_pretrained(folder)
    return folder


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


def make_tiny_causal_lm(
    folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2, vocab_size: int | None = None
) -> Path:
    """Save a random Llama-style causal LM and its tokenizer to ``folder``; return the path.

    ``vocab_size``: the model's vocabulary (default: the tokenizer's); a larger one
    gives the LM head a real model's cost (ids past the tokenizer's never occur).
    """
    folder = Path(folder)
    tokenizer = build_tokenizer()
    torch.manual_seed(seed)
    config = LlamaConfig(
        **_text_config(max(vocab_size or 0, len(tokenizer)), hidden, layers),
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    LlamaForCausalLM(config).eval().save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def make_tiny_qwen2_audio(
    folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2, encoder_dim: int = 32,
    vocab_size: int | None = None,
) -> Path:
    """Save a random Qwen2-Audio model and its processor to ``folder``; return the path.

    The audio encoder keeps the real front end (128 mel bins, 30 s windows, 25 LM
    positions per second) and only shrinks widths and depths. ``vocab_size`` as in
    `make_tiny_causal_lm`.
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
        text_config=dict(model_type="qwen2", **_text_config(max(vocab_size or 0, len(tokenizer)), hidden, layers)),
        audio_token_index=tokenizer.convert_tokens_to_ids("<|AUDIO|>"),
    )
    Qwen2AudioForConditionalGeneration(config).eval().save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def qwen2_audio_7b_config(audio_token_index: int) -> Qwen2AudioConfig:
    """The shape of Qwen/Qwen2-Audio-7B (its published config.json): a Whisper-large-style encoder
    (32 layers, width 1280) and a 32-layer, 4096-wide language model with a 156,032-token vocabulary."""
    return Qwen2AudioConfig(
        audio_config=dict(num_mel_bins=128, encoder_layers=32, encoder_attention_heads=20, encoder_ffn_dim=5120,
                          d_model=1280, max_source_positions=1500),
        text_config=dict(model_type="qwen2", vocab_size=156032, hidden_size=4096, intermediate_size=11008,
                         num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=32,
                         max_position_embeddings=8192, rope_theta=10000.0, rms_norm_eps=1e-5),
        audio_token_index=audio_token_index,
    )


def qwen2_audio_7b(device: str | torch.device, dtype: torch.dtype) -> tuple[torch.nn.Module, Qwen2AudioProcessor]:
    """A random-weight 7B-size Qwen2-Audio built directly on ``device`` in ``dtype`` (no download), with the
    tiny tokenizer's processor: for speed and memory measurements, not for scores."""
    tokenizer = build_tokenizer()
    processor = Qwen2AudioProcessor(feature_extractor=WhisperFeatureExtractor(feature_size=128), tokenizer=tokenizer)
    config = qwen2_audio_7b_config(tokenizer.convert_tokens_to_ids("<|AUDIO|>"))
    with torch.device(device):  # parameters are created (and randomly initialized) there, in ``dtype``
        model = Qwen2AudioForConditionalGeneration._from_config(config, dtype=dtype)
    return model.eval(), processor


def _whisper_encoder(layers: int, dim: int, **extra) -> dict:
    """A Whisper-style audio encoder config, shrunk (128 mel bins kept)."""
    return dict(
        num_mel_bins=128, encoder_layers=layers, encoder_attention_heads=4, encoder_ffn_dim=2 * dim, d_model=dim, **extra
    )


_OMNI_VISION = dict(depth=1, hidden_size=32, intermediate_size=64, num_heads=2)
"""The Omni thinkers always build a vision tower: the smallest one (never run in speech scoring)."""


def make_tiny_qwen2_5_omni(folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2) -> Path:
    """A random Qwen2.5-Omni thinker, with its feature extractor and tokenizer (no image/video processor)."""
    from transformers import Qwen2_5OmniThinkerConfig, Qwen2_5OmniThinkerForConditionalGeneration

    named = {
        "audio_token": "<|AUDIO|>", "audio_bos_token": "<|audio_bos|>", "audio_eos_token": "<|audio_eos|>",
        "image_token": "<|IMAGE|>", "video_token": "<|VIDEO|>",
        "vision_bos_token": "<|vision_bos|>", "vision_eos_token": "<|vision_eos|>",
    }
    tok = build_tokenizer(named_tokens=named)
    ids = {k: tok.convert_tokens_to_ids(v) for k, v in named.items()}
    torch.manual_seed(seed)
    config = Qwen2_5OmniThinkerConfig(
        audio_config=_whisper_encoder(layers, 32, output_dim=hidden),
        vision_config=dict(_OMNI_VISION, out_hidden_size=hidden, fullatt_block_indexes=[0]),
        text_config=dict(
            **_text_config(len(tok), hidden, layers),
            rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]},
        ),
        audio_token_index=ids["audio_token"], image_token_index=ids["image_token"],
        video_token_index=ids["video_token"], audio_start_token_id=ids["audio_bos_token"],
        audio_end_token_id=ids["audio_eos_token"], vision_start_token_id=ids["vision_bos_token"],
        vision_end_token_id=ids["vision_eos_token"],
    )
    model = Qwen2_5OmniThinkerForConditionalGeneration(config)
    return _save(Path(folder), model, tok, WhisperFeatureExtractor(feature_size=128))


def make_tiny_qwen3_omni(folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2) -> Path:
    """A random Qwen3-Omni (MoE) thinker, with its feature extractor and tokenizer (no image/video processor)."""
    from transformers import Qwen3OmniMoeThinkerConfig, Qwen3OmniMoeThinkerForConditionalGeneration

    named = {
        "audio_token": "<|audio_pad|>", "audio_bos_token": "<|audio_start|>", "audio_eos_token": "<|audio_end|>",
        "image_token": "<|image_pad|>", "video_token": "<|video_pad|>",
        "vision_bos_token": "<|vision_start|>", "vision_eos_token": "<|vision_end|>",
    }
    tok = build_tokenizer(named_tokens=named)
    ids = {k: tok.convert_tokens_to_ids(v) for k, v in named.items()}
    torch.manual_seed(seed)
    config = Qwen3OmniMoeThinkerConfig(
        audio_config=_whisper_encoder(layers, 32, output_dim=hidden, downsample_hidden_size=16),
        vision_config=dict(_OMNI_VISION, out_hidden_size=hidden, deepstack_visual_indexes=[0]),
        text_config=dict(
            **_text_config(len(tok), hidden, layers),
            moe_intermediate_size=hidden, num_experts=4, num_experts_per_tok=2,
            rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3],
                             "mrope_interleaved": True},
        ),
        audio_token_id=ids["audio_token"], image_token_id=ids["image_token"], video_token_id=ids["video_token"],
        audio_start_token_id=ids["audio_bos_token"], audio_end_token_id=ids["audio_eos_token"],
        vision_start_token_id=ids["vision_bos_token"], vision_end_token_id=ids["vision_eos_token"],
    )
    model = Qwen3OmniMoeThinkerForConditionalGeneration(config)
    return _save(Path(folder), model, tok, WhisperFeatureExtractor(feature_size=128))


VOXTRAL_SPECIAL_TOKENS = [
    "<unk>", "<s>", "</s>", "[INST]", "[/INST]", "[AVAILABLE_TOOLS]", "[/AVAILABLE_TOOLS]", "[TOOL_RESULTS]",
    "[/TOOL_RESULTS]", "[TOOL_CALLS]", "[IMG]", "<pad>", "[IMG_BREAK]", "[IMG_END]", "[PREFIX]", "[MIDDLE]",
    "[SUFFIX]", "[SYSTEM_PROMPT]", "[/SYSTEM_PROMPT]", "[TOOL_CONTENT]",
    *[f"<SPECIAL_{i}>" for i in range(20, 24)], "[AUDIO]", "[BEGIN_AUDIO]",
]
"""Tekken's first special tokens: ``[AUDIO]`` is id 24, which `VoxtralProcessor` hard-codes."""


def make_tiny_voxtral(folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2) -> Path:
    """A random Voxtral with a fast tokenizer laid out like Tekken's specials (the real one is mistral-common's)."""
    from transformers import VoxtralConfig, VoxtralForConditionalGeneration

    tok = build_tokenizer(
        special_tokens=VOXTRAL_SPECIAL_TOKENS, bos_token="<s>", eos_token="</s>", pad_token="<pad>", chat_template=None
    )
    assert tok.convert_tokens_to_ids("[AUDIO]") == 24
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


def make_tiny_audio_flamingo3(folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2) -> Path:
    """A random Audio Flamingo 3 (Whisper-style encoder + Qwen2 LM) with its processor (``<sound>``)."""
    from transformers import AudioFlamingo3Config, AudioFlamingo3ForConditionalGeneration, AudioFlamingo3Processor

    tok = build_tokenizer(extra_special_tokens=["<sound>"])
    processor = AudioFlamingo3Processor(WhisperFeatureExtractor(feature_size=128), tok, chat_template=CHATML_TEMPLATE)
    torch.manual_seed(seed)
    config = AudioFlamingo3Config(
        audio_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=layers, num_attention_heads=4),
        text_config=dict(model_type="qwen2", **_text_config(len(tok), hidden, layers)),
        audio_token_id=tok.convert_tokens_to_ids("<sound>"),
    )
    return _save(Path(folder), AudioFlamingo3ForConditionalGeneration(config), processor)


def make_tiny_glm_asr(folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2) -> Path:
    """A random GLM-ASR with its processor; the audio placeholder ``<|pad|>`` is not the pad token."""
    from transformers import GlmAsrConfig, GlmAsrForConditionalGeneration, GlmAsrProcessor

    tok = build_tokenizer(extra_special_tokens=["<|pad|>", "<|begin_of_audio|>", "<|end_of_audio|>"])
    processor = GlmAsrProcessor(WhisperFeatureExtractor(feature_size=128), tok, chat_template=CHATML_TEMPLATE)
    torch.manual_seed(seed)
    config = GlmAsrConfig(
        audio_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=layers, num_attention_heads=4),
        text_config=dict(model_type="llama", **_text_config(len(tok), hidden, layers)),
        audio_token_id=tok.convert_tokens_to_ids("<|pad|>"),
    )
    return _save(Path(folder), GlmAsrForConditionalGeneration(config), processor)


def make_tiny_phi4_multimodal(folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2) -> Path:
    """A random Phi-4-multimodal (conformer audio encoder, tiny vision tower) with feature extractor and tokenizer."""
    from transformers import Phi4MultimodalConfig, Phi4MultimodalFeatureExtractor, Phi4MultimodalForCausalLM

    tok = build_tokenizer(named_tokens={"audio_token": "<|endoftext11|>", "image_token": "<|endoftext10|>"})
    torch.manual_seed(seed)
    text = _text_config(len(tok), hidden, layers)
    config = Phi4MultimodalConfig(
        **text,
        original_max_position_embeddings=text["max_position_embeddings"],
        bos_token_id=None, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
        vision_config=dict(
            hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
            image_size=28, crop_size=28, patch_size=14, image_token_id=tok.image_token_id,
        ),
        audio_config=dict(
            hidden_size=32, intermediate_size=64, num_blocks=layers, num_attention_heads=4, ext_pw_out_channel=32,
            depthwise_separable_out_channel=32, nemo_conv_channels=32, audio_token_id=tok.audio_token_id,
        ),
    )
    return _save(Path(folder), Phi4MultimodalForCausalLM(config), tok, Phi4MultimodalFeatureExtractor())


def make_tiny_granite_speech(folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2) -> Path:
    """A random Granite Speech (conformer encoder, Q-Former projector, Granite LM) with its processor.

    Needs torchaudio (`GraniteSpeechFeatureExtractor` computes its mel features with it).
    """
    from transformers import (
        GraniteSpeechConfig, GraniteSpeechFeatureExtractor, GraniteSpeechForConditionalGeneration,
        GraniteSpeechProcessor,
    )

    tok = build_tokenizer(named_tokens={"audio_token": "<|audio|>"})
    processor = GraniteSpeechProcessor(GraniteSpeechFeatureExtractor(), tok, chat_template=CHATML_TEMPLATE)
    torch.manual_seed(seed)
    config = GraniteSpeechConfig(
        text_config=dict(model_type="granite", **_text_config(len(tok), hidden, layers)),
        encoder_config=dict(input_dim=160, num_layers=layers, hidden_dim=32, num_heads=4, output_dim=16),
        projector_config=dict(
            model_type="blip_2_qformer", hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
            intermediate_size=64, encoder_hidden_size=32, cross_attention_frequency=1,
        ),
        audio_token_index=tok.audio_token_id,
        has_lora_adapter=False,
    )
    return _save(Path(folder), GraniteSpeechForConditionalGeneration(config), processor)


def make_tiny_whisper(folder: str | Path, *, seed: int = 0, dim: int = 32, layers: int = 1) -> Path:
    """A random Whisper recognizer (80 mel bins) with its processor, for the cascade.

    Its generation config is hand-made (no language or task tokens: an English-only
    style checkpoint) and short, so that ``generate`` runs offline and fast.
    """
    from transformers import GenerationConfig, WhisperConfig, WhisperForConditionalGeneration, WhisperProcessor

    tok = build_tokenizer()
    special = tok.eos_token_id
    config = WhisperConfig(
        vocab_size=len(tok), d_model=dim, encoder_layers=layers, decoder_layers=layers,
        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=2 * dim, decoder_ffn_dim=2 * dim,
        num_mel_bins=80, max_target_positions=64, decoder_start_token_id=special,
        pad_token_id=tok.pad_token_id, eos_token_id=special, bos_token_id=special,
    )
    torch.manual_seed(seed)
    model = WhisperForConditionalGeneration(config)
    model.generation_config = GenerationConfig(
        decoder_start_token_id=special, eos_token_id=special, pad_token_id=tok.pad_token_id, max_new_tokens=12
    )
    processor = WhisperProcessor(feature_extractor=WhisperFeatureExtractor(feature_size=80), tokenizer=tok)
    return _save(Path(folder), model, processor)


TINY_MODELS = {
    "causal-lm": make_tiny_causal_lm,
    "qwen2-audio": make_tiny_qwen2_audio,
    "qwen2.5-omni": make_tiny_qwen2_5_omni,
    "qwen3-omni": make_tiny_qwen3_omni,
    "voxtral": make_tiny_voxtral,
    "audio-flamingo3": make_tiny_audio_flamingo3,
    "glm-asr": make_tiny_glm_asr,
    "phi4-multimodal": make_tiny_phi4_multimodal,
    "granite-speech": make_tiny_granite_speech,
}
"""Adapter name -> factory of a tiny random model of that family."""


def make_tiny_model(family: str, folder: str | Path, *, seed: int = 0) -> Path:
    """Save a tiny random model of ``family`` to ``folder`` (see `TINY_MODELS`)."""
    try:
        factory = TINY_MODELS[family]
    except KeyError:
        raise ValueError(f"no tiny model for {family!r}; known: {', '.join(TINY_MODELS)}") from None
    return factory(folder, seed=seed)


# -- plain references and test inputs, shared by the tests and the benchmark -----------------

STORIES = [
    ("Tom went to the market early in the morning. He bought apples", [" and went home happy.", " the moon ate him."]),
    ("It rained", [" all day long, so we stayed inside and read books", " cats"]),
    ("小明每天早上跑步。", ["他身体很好。", "桌子会唱歌。"]),
]
"""Three contexts of very different lengths, continuations of different lengths (a leading space
where the text framing puts one), to batch together in exactness tests."""


def noise_clip(seconds: float, seed: int) -> np.ndarray:
    """A deterministic 16 kHz noise clip standing in for speech."""
    return (0.1 * np.random.default_rng(seed).standard_normal(int(16000 * seconds))).astype(np.float32)


def story_requests(setting: str) -> list[Request]:
    """`STORIES` as requests of one setting; audio clips of 1, 2.5 and 4 s (mixed lengths in one batch)."""
    out = []
    for i, (context, conts) in enumerate(STORIES):
        if setting == "text":
            out.append(Request("sstorycloze", str(i), "text", context, tuple(conts)))
        else:
            seconds = 1.0 + 1.5 * i
            out.append(Request("sstorycloze", str(i), "audio", "Below is speech: ", tuple(c.lstrip() for c in conts),
                               noise_clip(seconds, i), 16000, audio_seconds=seconds))
    return out


@torch.inference_mode()
def full_forward_nll(scorer: HFScorer, request: Request, j: int) -> float:
    """The plain reference: one forward pass over prompt + continuation ``j``, no cache, no padding.

    What the reference release does for every continuation; the shared-prefix
    path must agree with it.
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
    logits = scorer.model(input_ids=ids.to(device), attention_mask=torch.ones_like(ids).to(device), **extra).logits
    logprobs = torch.log_softmax(logits[0, -len(cont) - 1 : -1].float(), dim=-1)
    return -float(logprobs.gather(1, torch.tensor(cont, device=device)[:, None]).sum())


REL_TOL = 1e-6
"""The shared bound of the exactness tests: two fp32 computations of one score agree within this share
of its magnitude (a float32 NLL near 150 has an ulp of 1.5e-5, so absolute bounds do not scale)."""


def relative_deviation(a: Sequence[float], b: Sequence[float]) -> float:
    """Largest ``|a_i - b_i| / max(|b_i|, 1)``: the relative difference of two lists of scores (1: below 1 nat)."""
    if len(a) != len(b):
        return float("inf")
    return max((abs(x - y) / max(abs(y), 1.0) for x, y in zip(a, b)), default=0.0)


def deviation_from_full_forward(scorer: HFScorer, requests: Sequence[Request]) -> float:
    """Largest relative difference (`relative_deviation`) between batched shared-prefix NLLs and the reference.

    The reference is `full_forward_nll`, and each request scored alone: neither the
    KV-cache reuse nor the other members of a batch may change a score.
    """
    batched = scorer.score(requests)
    worst = 0.0
    for request, scores in zip(requests, batched):
        alone = scorer.score([request])[0]
        for j, score in enumerate(scores):
            if score.n_tokens != len(scorer.continuation_ids(request)[j]):
                return float("inf")
            reference = full_forward_nll(scorer, request, j)
            worst = max(worst, relative_deviation([score.nll_sum, score.nll_sum], [reference, alone[j].nll_sum]))
    return worst
