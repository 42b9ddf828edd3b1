"""``qwen3-omni``: the thinker of Qwen3-Omni (`Qwen3OmniMoeThinkerForConditionalGeneration`), text and audio.

The same recipe as `qwen2.5-omni` (thinker out of a full checkpoint, processor
assembled from the feature extractor and the tokenizer, 3-D positions that are
sequential for audio-and-text prompts); what differs is declared here: the
model classes, the markers ``<|audio_start|><|audio_pad|>...<|audio_end|>``,
features padded to the longest clip (not to 30 s), and the encoder's length
formula (windows of 100 frames, 13 positions each). Padded to the longest clip,
the Whisper feature extractor counts a clip's frames differently alone
(``samples // 160``) and beside a longer clip (one more when the length is no
multiple of 160), so batches are split by clip length (``pad_leaks_into_encoder``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import torch
from transformers import Qwen3OmniMoeThinkerConfig, Qwen3OmniMoeThinkerForConditionalGeneration, WhisperFeatureExtractor
from transformers.models.qwen3_omni_moe.processing_qwen3_omni_moe import _get_feat_extract_output_lengths

from s2sbench_hf.scoring.adapters.qwen2_5_omni import OMNI_VISION, Qwen25OmniScorer, omni_tokens
from s2sbench_hf.scoring.family import Family
from s2sbench_hf.scoring.tiny import save_model, text_config, whisper_encoder

FAMILY = Family(
    name="qwen3-omni",
    scorer="Qwen3OmniScorer",
    model_types=("qwen3_omni_moe", "qwen3_omni_moe_thinker"),
    note=(
        "`Qwen/Qwen3-Omni-30B-A3B-Instruct`; the MoE thinker only (its talker, like Qwen2.5-Omni's, speaks "
        "the thinker's text)"
    ),
)


class Qwen3OmniScorer(Qwen25OmniScorer):
    name = FAMILY.name
    thinker_class = Qwen3OmniMoeThinkerForConditionalGeneration
    feature_kwargs: ClassVar[dict[str, Any]] = {"padding": True, "truncation": False}
    audio_window_seconds = None  # its encoder takes a clip of any length (in chunks of 100 frames)
    audio_markers = ("<|audio_start|>", "<|audio_pad|>", "<|audio_end|>")
    pad_leaks_into_encoder = True

    @staticmethod
    def audio_token_counts(feature_lengths: torch.Tensor) -> torch.Tensor:
        return _get_feat_extract_output_lengths(feature_lengths)

    def speech_positions(self, seconds: float) -> int:
        frames = round(seconds * self.sampling_rate) // 160  # a clip alone keeps samples // 160 frames
        return 2 + int(self.audio_token_counts(torch.tensor([frames]))[0])


def tiny_model(
    folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2, tokenizer: str | Path | None = None
) -> Path:
    """A random Qwen3-Omni (MoE) thinker, with its feature extractor and tokenizer (no image/video processor)."""
    named = {
        "audio_token": "<|audio_pad|>",
        "audio_bos_token": "<|audio_start|>",
        "audio_eos_token": "<|audio_end|>",
        "image_token": "<|image_pad|>",
        "video_token": "<|video_pad|>",
        "vision_bos_token": "<|vision_start|>",
        "vision_eos_token": "<|vision_end|>",
    }
    tok, ids, extra = omni_tokens(named, tokenizer)
    extra["audio_end_token_id"] = ids["audio_eos_token"]  # read by its model, as the vision ids are
    torch.manual_seed(seed)
    config = Qwen3OmniMoeThinkerConfig(
        audio_config=whisper_encoder(layers, 32, output_dim=hidden, downsample_hidden_size=16),
        vision_config=dict(OMNI_VISION, out_hidden_size=hidden, deepstack_visual_indexes=[0]),
        text_config=dict(
            **text_config(len(tok), hidden, layers),
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
    return save_model(Path(folder), model, tok, WhisperFeatureExtractor(feature_size=128))
