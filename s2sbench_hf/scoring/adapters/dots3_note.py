"""``dots3-note``: `Dots3NoteForConditionalGeneration` (rednote's dots3 Note, omni), text and audio.

Speech is the placeholder ``<|audio_comp_pad|>``, which `Dots3NoteProcessor`
expands to one position per 1280 samples (its encoder's three stride-2
convolutions over 10 ms mel frames, 12.5 a second), counted for each 60 s chunk
of the clip on its own. The processor is built without its image and video
processors (`speech_processor`).

The LM uses DeepSeek sparse attention: an indexer keeps the ``index_topk``
(2048) best keys of each query, whose indexer keys the shared-prefix cache keeps
with the others. While a prompt and its continuation fit in ``index_topk``
positions every key is kept and the scores are exact; beyond, the keys
transformers' indexer keeps for a position change with the tokens that follow
it (a plain forward pass shows it, no cache needed), so scores would depend on
the batch. Such items are refused (an error for that item alone).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from transformers import (
    Dots3NoteConfig,
    Dots3NoteFeatureExtractor,
    Dots3NoteForConditionalGeneration,
    Dots3NoteProcessor,
)

from s2sbench_hf.scoring.adapters.base import ProcessorAudioScorer
from s2sbench_hf.scoring.family import Family
from s2sbench_hf.scoring.tiny import (
    build_tokenizer,
    save_speech_only,
    text_config,
    token_id,
)

FAMILY = Family(
    name="dots3-note",
    scorer="Dots3NoteScorer",
    model_types=("dots3_note",),
    note="`dots-studio/dots3-note-prev`; items longer than its sparse attention's 2048 keys are refused",
    min_transformers="5.23.0",
)


class Dots3NoteScorer(ProcessorAudioScorer):
    name = FAMILY.name
    audio_window_seconds = None  # its processor cuts a clip into 60 s chunks itself
    position_limit_source = "keys its sparse attention keeps, index_topk; beyond, scores depend on the batch"
    model_class = Dots3NoteForConditionalGeneration
    processor_class = Dots3NoteProcessor
    input_names = ("input_ids", "attention_mask", "input_features", "chunk_sample_lengths")

    def speech_positions(self, seconds: float) -> int:
        fe = self.processor.feature_extractor
        samples = round(seconds * self.sampling_rate)
        chunks = [min(fe.n_samples, samples - start) for start in range(0, samples, fe.n_samples)]
        return sum(math.ceil(n / (fe.hop_length * 8)) for n in chunks)  # as its feature extractor counts

    def position_limit(self) -> int | None:
        text = self.model.config.get_text_config()
        return min(text.index_topk, getattr(text, "max_position_embeddings", text.index_topk))


def tiny_model(
    folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2, tokenizer: str | Path | None = None
) -> Path:
    """A random dots3 Note (Whisper-style encoder, tiny vision tower, MLA + sparse-attention MoE LM), speech parts.

    Its sparse-attention indexer keeps the released checkpoint's 2048 keys per query: every key
    of the test prompts (see `Dots3NoteScorer` for longer ones).
    """
    tok = build_tokenizer(extra_special_tokens=["<|imgpad|>", "<|video_pad|>", "<|audio_comp_pad|>"], base=tokenizer)
    torch.manual_seed(seed)
    config = Dots3NoteConfig(
        text_config=dict(
            **{**text_config(len(tok), hidden, layers), "num_key_value_heads": 4},
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
        image_token_id=token_id(tok, "<|imgpad|>"),
        video_token_id=token_id(tok, "<|video_pad|>"),
        audio_token_id=token_id(tok, "<|audio_comp_pad|>"),
    )
    model = Dots3NoteForConditionalGeneration(config)
    return save_speech_only(Path(folder), model, Dots3NoteProcessor, Dots3NoteFeatureExtractor(), tok)
