"""``muse-spark``: `MuseSparkForConditionalGeneration` (Meta's Muse Spark, omni), text and audio.

Speech is the tokenizer's audio token, which `MuseSparkProcessor` expands to
``<|soft_audio_start|>`` + one position per 1920 samples of the 24 kHz waveform
(80 ms; the encoder's patch sizes multiply to it) + ``<|soft_audio_end|>``. The
processor is built without its image and video processors (`speech_processor`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import torch
from transformers import (
    MuseSparkConfig,
    MuseSparkFeatureExtractor,
    MuseSparkForConditionalGeneration,
    MuseSparkProcessor,
)

from s2sbench_hf.scoring.adapters.base import ProcessorAudioScorer
from s2sbench_hf.scoring.family import Family
from s2sbench_hf.scoring.tiny import (
    build_tokenizer,
    save_speech_only,
    text_config,
)

FAMILY = Family(
    name="muse-spark",
    scorer="MuseSparkScorer",
    model_types=("muse_spark",),
    note="`meta-models/Muse-Spark-Open-816B-A42B`",
    min_transformers="5.20.0",
)


class MuseSparkScorer(ProcessorAudioScorer):
    name = FAMILY.name
    audio_window_seconds = None  # its processor and encoder take a clip of any length
    sampling_rate = 24000
    processor_kwargs: ClassVar[dict[str, Any]] = {"sampling_rate": 24000}
    model_class = MuseSparkForConditionalGeneration
    processor_class = MuseSparkProcessor
    input_names = ("input_ids", "attention_mask", "input_values", "input_values_mask")

    def speech_positions(self, seconds: float) -> int:
        per_token = self.processor.feature_extractor.samples_per_token
        return 2 + -(-round(seconds * self.sampling_rate) // per_token)  # the markers + one per started 80 ms


def tiny_model(
    folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2, tokenizer: str | Path | None = None
) -> Path:
    """A random Muse Spark (waveform patch encoder with the real 1920-sample stride, tiny vision tower, MoE LM
    whose sliding window, 8, is shorter than the prompts)."""
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
            **text_config(len(tok), hidden, layers),
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
    return save_speech_only(Path(folder), model, MuseSparkProcessor, MuseSparkFeatureExtractor(), tok)
