"""``omniasr``: `OmniASRForConditionalGeneration` (Meta's Omnilingual ASR, LLM decoder), text and audio.

A speech recognizer built as a speech LLM (wav2vec 2.0 encoder on the raw
waveform, LLaMA decoder), so it scores continuations like the others, though
it was trained to transcribe. Speech is the placeholder ``<extra_id_1>``, which
`OmniASRProcessor` expands to one position per encoder frame (the encoder's
convolutions: 50 a second).
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import OmniASRConfig, OmniASRFeatureExtractor, OmniASRForConditionalGeneration, OmniASRProcessor

from s2sbench_hf.real_tokenizers import CHATML_TEMPLATE
from s2sbench_hf.scoring.adapters.base import ProcessorAudioScorer
from s2sbench_hf.scoring.family import Family
from s2sbench_hf.scoring.tiny import (
    build_tokenizer,
    save_model,
    text_config,
    token_id,
)

FAMILY = Family(
    name="omniasr",
    scorer="OmniASRScorer",
    model_types=("omniasr",),
    note="`hf-audio/omniasr-llm-300m-v2`; trained to transcribe",
    min_transformers="5.24.0",
)


class OmniASRScorer(ProcessorAudioScorer):
    name = FAMILY.name
    audio_window_seconds = None  # its processor and encoder take a clip of any length
    model_class = OmniASRForConditionalGeneration
    input_names = ("input_ids", "attention_mask", "input_values", "padding_mask")

    def speech_positions(self, seconds: float) -> int:
        samples = torch.tensor(round(seconds * self.sampling_rate))
        return int(self.processor._get_num_audio_tokens(samples))  # the processor's formula


def tiny_model(
    folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2, tokenizer: str | Path | None = None
) -> Path:
    """A random Omnilingual ASR LLM (wav2vec 2.0 encoder with the real 320-sample stride, LLaMA) with its processor."""
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
        text_config=dict(model_type="llama", **text_config(len(tok), hidden, layers)),
        audio_token_id=token_id(tok, "<extra_id_1>"),
    )
    return save_model(Path(folder), OmniASRForConditionalGeneration(config), processor)
