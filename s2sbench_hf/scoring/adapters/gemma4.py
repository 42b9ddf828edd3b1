"""``gemma4``: `Gemma4ForConditionalGeneration` (Google Gemma 4 with its audio encoder), text and audio.

Speech is the tokenizer's audio token, which `Gemma4Processor` expands to its
start-of-audio token + one soft token per 40 ms (its conformer halves the 10 ms
mel frames twice), at most ``audio_seq_length`` (750, the 30 s its feature
extractor keeps) + its end-of-audio token. The processor is the family's own,
built without its image and video processors (`speech_processor`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from transformers import (
    Gemma4AudioFeatureExtractor,
    Gemma4Config,
    Gemma4ForConditionalGeneration,
    Gemma4Processor,
    PreTrainedModel,
    ProcessorMixin,
)

from s2sbench_hf.scoring.adapters.base import ProcessorAudioScorer
from s2sbench_hf.scoring.family import Family
from s2sbench_hf.scoring.tiny import (
    GEMMA_TOKENS,
    build_tokenizer,
    save_speech_only,
    text_config,
    token_id,
)

FAMILY = Family(
    name="gemma4",
    scorer="Gemma4Scorer",
    model_types=("gemma4",),
    note="`google/gemma-4-E2B-it`",
    min_transformers="5.21.0",
)


class Gemma4Scorer(ProcessorAudioScorer):
    name = FAMILY.name
    model_class: type[PreTrainedModel] = Gemma4ForConditionalGeneration
    processor_class: type[ProcessorMixin] | None = Gemma4Processor
    input_names = ("input_ids", "attention_mask", "input_features", "input_features_mask")

    def speech_positions(self, seconds: float) -> int:
        samples = np.broadcast_to(np.float32(0), (round(seconds * self.sampling_rate),))  # only its length is read
        return 2 + int(self.processor._compute_audio_num_tokens(samples, self.sampling_rate))  # the processor's count


def tiny_gemma4(
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
    ids = {name: token_id(tok, token) for name, token in GEMMA_TOKENS.items()}
    torch.manual_seed(seed)
    config = config_class(
        text_config=dict(
            **text_config(len(tok), hidden, 2 * layers),
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
    return save_speech_only(Path(folder), model_class(config), processor_class, feature_extractor, tok)


def tiny_model(
    folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2, tokenizer: str | Path | None = None
) -> Path:
    """A random Gemma 4 (conformer audio encoder, no vision tower) with its processor's speech parts."""
    audio = dict(
        hidden_size=32,
        num_hidden_layers=layers,
        num_attention_heads=4,
        subsampling_conv_channels=(128, 4),
        output_proj_dims=32,
    )  # 128: the mel bins
    return tiny_gemma4(
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
