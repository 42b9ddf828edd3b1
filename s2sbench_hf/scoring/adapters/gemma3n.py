"""``gemma3n``: `Gemma3nForConditionalGeneration` (Google Gemma 3n), text and audio.

Speech is one audio token that `Gemma3nProcessor` expands to
``\\n\\n<start_of_audio>`` + a fixed number of audio soft tokens (188) +
``<end_of_audio>\\n\\n``. Clips of different lengths in one batch change the
shorter clip's scores (padding reaches the encoder): batches are split by clip
length (``pad_leaks_into_encoder``). The processor is built without its image
processor (`speech_processor`). Its feature extractor keeps 30 s of a clip: a
longer clip is an item error (the base's one-window default).

`Gemma3nForConditionalGeneration` always builds its MobileNetV5 vision tower
through timm, which needs torchvision, which has no build for the torch release
this project installs: there, the tests run with a stand-in for timm's vision
tower (`s2sbench_hf.testing.backend_stand_ins`), which speech never runs.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import (
    Gemma3nAudioFeatureExtractor,
    Gemma3nConfig,
    Gemma3nForConditionalGeneration,
    Gemma3nProcessor,
    PreTrainedTokenizerFast,
)

from s2sbench_hf.real_tokenizers import CHATML_TEMPLATE
from s2sbench_hf.scoring.adapters.base import ProcessorAudioScorer
from s2sbench_hf.scoring.family import Family, Requirement
from s2sbench_hf.scoring.tiny import (
    GEMMA_TOKENS,
    build_tokenizer,
    refuse_tokenizer,
    save_speech_only,
    text_config,
    token_id,
)

FAMILY = Family(
    name="gemma3n",
    scorer="Gemma3nScorer",
    model_types=("gemma3n",),
    note="`google/gemma-3n-E2B-it`, `google/gemma-3n-E4B-it`",
    needs=(
        Requirement("timm", "its vision tower, built even for speech"),
        Requirement("torchvision", "timm imports it"),
    ),
)


class Gemma3nScorer(ProcessorAudioScorer):
    name = FAMILY.name
    model_class = Gemma3nForConditionalGeneration
    processor_class = Gemma3nProcessor
    input_names = ("input_ids", "attention_mask", "input_features", "input_features_mask")
    pad_leaks_into_encoder = True

    def speech_positions(self, seconds: float) -> int:
        return len(self.encode(self.processor.full_audio_sequence))


def tiny_model(
    folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2, tokenizer: str | Path | None = None
) -> Path:
    """A random Gemma 3n (conformer audio encoder, timm vision tower, AltUp LM) with its processor's speech parts.

    Gemma 3n embeds its multimodal tokens after the text vocabulary: 128 vision then 128 audio
    ids, laid out here as in the real tokenizer (end-of-image, image soft token; end-of-audio,
    audio soft token). Its vision tower needs timm: build and load it in `backend_stand_ins`.
    """
    refuse_tokenizer(
        "gemma3n", tokenizer, "it lays its 256 multimodal tokens at fixed offsets after the text vocabulary"
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
    ids = {name: token_id(tok, token) for name, token in GEMMA_TOKENS.items()}
    torch.manual_seed(seed)
    config = Gemma3nConfig(
        text_config=dict(
            **text_config(text_vocab + 256, hidden, 2 * layers),
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
    return save_speech_only(Path(folder), model, Gemma3nProcessor, Gemma3nAudioFeatureExtractor(), tok)
