"""``apertus1.5``: `Apertus1p5ForConditionalGeneration` (Swiss AI's Apertus 1.5, omni), text and audio.

Speech enters as discrete tokens: the WavTokenizer encoder turns the 24 kHz
waveform into one code per 600 samples (40 a second), which the LM embeds like
words (its vocabulary holds the audio codes after the text and image ones).
`Apertus1p5Processor` expands the tokenizer's audio token to its start-of-audio
token + one placeholder per code + its end-of-audio token. Each clip is
tokenized on its own, so batching never pads it. The processor is built without
its image processor (`speech_processor`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import torch
from transformers import (
    Apertus1p5Config,
    Apertus1p5ForConditionalGeneration,
    Apertus1p5Processor,
    WavTokenizerFeatureExtractor,
)

from s2sbench_hf.scoring.adapters.base import ProcessorAudioScorer
from s2sbench_hf.scoring.family import Family
from s2sbench_hf.scoring.tiny import (
    build_tokenizer,
    save_speech_only,
    text_config,
)

FAMILY = Family(
    name="apertus1.5",
    scorer="Apertus15Scorer",
    model_types=("apertus1p5",),
    note="`swiss-ai/Apertus-v1.5-8B`; speech enters as WavTokenizer codes",
    min_transformers="5.24.0",
)


class Apertus15Scorer(ProcessorAudioScorer):
    name = FAMILY.name
    audio_window_seconds = None  # its processor and encoder take a clip of any length
    sampling_rate = 24000
    processor_kwargs: ClassVar[dict[str, Any]] = {"sampling_rate": 24000}
    model_class = Apertus1p5ForConditionalGeneration
    processor_class = Apertus1p5Processor
    input_names = ("input_ids", "attention_mask", "input_values", "padding_mask")

    def speech_positions(self, seconds: float) -> int:
        codes = self.processor.feature_extractor.get_num_audio_codes(round(seconds * self.sampling_rate))
        return 2 + codes  # the start and end tokens + one per code


def tiny_model(
    folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2, tokenizer: str | Path | None = None
) -> Path:
    """A random Apertus 1.5 (WavTokenizer encoder with the real 600-sample hop, tiny image VQ tokenizer, LM whose
    vocabulary holds the text tokens, then the image codes, then the audio codes)."""
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
                **text_config(len(tok) + image_codes + audio_codes, hidden, layers),
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
    return save_speech_only(Path(folder), model, Apertus1p5Processor, WavTokenizerFeatureExtractor(), tok)
