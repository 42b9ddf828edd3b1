"""``inkling``: `InklingForConditionalGeneration` (Thinking Machines' Inkling, omni), text and audio.

Speech is ``<|content_audio_input|>`` (a plain marker token) + the placeholder
``<|unused_200053|>``, which `InklingProcessor` expands to one position per
50 ms frame; each position is the clip's log-mel frame quantized to discrete
bins (dMel) and embedded, there is no audio encoder. The processor is built
without its image processor (`speech_processor`). The LM mixes sliding-window
and full attention with short convolutions, whose states the shared-prefix
cache keeps with the keys and values.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import InklingConfig, InklingFeatureExtractor, InklingForConditionalGeneration, InklingProcessor

from s2sbench_hf.scoring.adapters.base import ProcessorAudioScorer
from s2sbench_hf.scoring.family import Family, Requirement
from s2sbench_hf.scoring.tiny import (
    build_tokenizer,
    save_speech_only,
    text_config,
    token_id,
)

FAMILY = Family(
    name="inkling",
    scorer="InklingScorer",
    model_types=("inkling_mm_model",),
    note="`thinkingmachines/Inkling`",
    needs=(Requirement("scipy", "its vision patch setup"),),
)


class InklingScorer(ProcessorAudioScorer):
    name = FAMILY.name
    audio_window_seconds = None  # its processor and encoder take a clip of any length
    model_class = InklingForConditionalGeneration
    processor_class = InklingProcessor
    input_names = ("input_ids", "attention_mask", "audio_input_ids", "audio_input_ids_mask")

    def speech_markup(self) -> str:
        return self.processor.audio_bos_token + self.processor.audio_token

    def speech_positions(self, seconds: float) -> int:
        hop = self.processor.feature_extractor.hop_length
        return 1 + -(-round(seconds * self.sampling_rate) // hop)  # the marker + one per started frame


def tiny_model(
    folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2, tokenizer: str | Path | None = None
) -> Path:
    """A random Inkling (dMel audio embeddings, tiny vision tower, hybrid sliding/full attention + conv MoE LM).

    Its first layer attends through a sliding window (8) shorter than the prompts.
    """
    specials = ["<|unused_200054|>", "<|unused_200053|>", "<|content_image|>", "<|content_audio_input|>"]
    tok = build_tokenizer(extra_special_tokens=specials, bos_token="<|begin|>", base=tokenizer)
    image, audio, image_bos, audio_bos = (token_id(tok, t) for t in specials)
    torch.manual_seed(seed)
    config = InklingConfig(
        text_config=dict(
            **text_config(len(tok), hidden, layers),
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
    return save_speech_only(Path(folder), model, InklingProcessor, InklingFeatureExtractor(), tok)
