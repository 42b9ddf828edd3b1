"""``nemotron-h-omni``: `NemotronH_Omni_Reasoning_V3` (NVIDIA Nemotron 3 Nano Omni), text and audio.

Speech is ``<so_start>`` + the placeholder ``<so_embedding>`` + ``<so_end>``;
`NemotronH_Omni_Reasoning_V3Processor` expands the placeholder to the Parakeet
encoder's output length (10 ms mel frames, subsampled 8 times: 12.5 a second).
Batched with clips of other lengths, a clip's scores move by about 1e-5 of
their size (past the exactness bound): batches are split by clip length
(``pad_leaks_into_encoder``). The LM is Nemotron-H (hybrid Mamba-2/attention
MoE); the base's shared-prefix cache keeps the Mamba states with the keys and
values. The processor is built
without its image and video processors (`speech_processor`).
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import (
    NemotronH_Omni_Reasoning_V3,
    NemotronH_Omni_Reasoning_V3_Config,
    NemotronH_Omni_Reasoning_V3Processor,
    ParakeetFeatureExtractor,
)

from s2sbench_hf.scoring.adapters.base import ProcessorAudioScorer
from s2sbench_hf.scoring.family import Family, Requirement
from s2sbench_hf.scoring.tiny import (
    build_tokenizer,
    save_speech_only,
)

FAMILY = Family(
    name="nemotron-h-omni",
    scorer="NemotronHOmniScorer",
    model_types=("nemotron_h_omni",),
    note="`nvidia/Nemotron-3-Nano-Omni-30B-A3B-Reasoning-BF16`",
    needs=(Requirement("librosa", "its feature extractor", before_transformers="5.23.0"),),
)


class NemotronHOmniScorer(ProcessorAudioScorer):
    name = FAMILY.name
    audio_window_seconds = None  # its processor and encoder take a clip of any length
    model_class = NemotronH_Omni_Reasoning_V3
    processor_class = NemotronH_Omni_Reasoning_V3Processor
    input_names = ("input_ids", "attention_mask", "input_features", "input_features_mask")
    pad_leaks_into_encoder = True

    def speech_positions(self, seconds: float) -> int:
        samples = round(seconds * self.sampling_rate)
        return 2 + max(1, self.processor._estimate_audio_num_embeddings(samples))  # the processor's count


def tiny_nemotron_h(vocab_size: int, hidden: int, layers: int) -> dict:
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


def tiny_model(
    folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 1, tokenizer: str | Path | None = None
) -> Path:
    """A random Nemotron 3 Nano Omni (Parakeet sound encoder, tiny RADIO vision tower, Nemotron-H LM), speech parts."""
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
        text_config=tiny_nemotron_h(len(tok), hidden, layers),
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
    return save_speech_only(
        Path(folder), model, NemotronH_Omni_Reasoning_V3Processor, ParakeetFeatureExtractor(feature_size=128), tok
    )
