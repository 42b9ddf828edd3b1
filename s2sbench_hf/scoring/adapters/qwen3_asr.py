"""``qwen3-asr``: `Qwen3ASRForConditionalGeneration` (Qwen3-ASR), text and audio.

A speech recognizer built as a speech LLM (Whisper-style encoder, Qwen3 LM), so
it scores continuations like the others, though it was trained to transcribe.
Speech is ``<|audio_start|>`` + the placeholder ``<|audio_pad|>`` (expanded by
`Qwen3ASRProcessor` to 13 positions per second, the encoder's length formula
over chunks of 100 mel frames) + ``<|audio_end|>``, the tokens the tokenizer
names. Its feature extractor zero-pads clips shorter than half a second and
counts a clip's mel frames differently alone (``samples // 160``) and in a
batch with a longer clip (one more, when the length is not a multiple of 160),
so batches are split by clip length (``pad_leaks_into_encoder``).
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import (
    Qwen3ASRConfig,
    Qwen3ASRFeatureExtractor,
    Qwen3ASRForConditionalGeneration,
    Qwen3ASRProcessor,
)

from s2sbench_hf.real_tokenizers import CHATML_TEMPLATE
from s2sbench_hf.scoring.adapters.base import ProcessorAudioScorer
from s2sbench_hf.scoring.family import Family
from s2sbench_hf.scoring.tiny import (
    build_tokenizer,
    save_model,
    text_config,
)

FAMILY = Family(
    name="qwen3-asr",
    scorer="Qwen3ASRScorer",
    model_types=("qwen3_asr",),
    note="`Qwen/Qwen3-ASR-1.7B-hf`; trained to transcribe",
)


class Qwen3ASRScorer(ProcessorAudioScorer):
    name = FAMILY.name
    audio_window_seconds = None  # its processor and encoder take a clip of any length
    model_class = Qwen3ASRForConditionalGeneration
    audio_markers = True
    input_names = ("input_ids", "attention_mask", "input_features", "input_features_mask")
    pad_leaks_into_encoder = True

    def speech_positions(self, seconds: float) -> int:
        fe = self.processor.feature_extractor
        frames = max(round(seconds * self.sampling_rate), fe.min_length) // fe.hop_length
        return 2 + int(self.processor._get_audio_token_length(torch.tensor(frames), fe.n_window))


def tiny_model(
    folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2, tokenizer: str | Path | None = None
) -> Path:
    """A random Qwen3-ASR (chunked Whisper-style encoder, Qwen3 LM) with its processor and feature extractor."""
    named = {"audio_token": "<|audio_pad|>", "audio_bos_token": "<|audio_start|>", "audio_eos_token": "<|audio_end|>"}
    tok = build_tokenizer(named_tokens=named, base=tokenizer)
    processor = Qwen3ASRProcessor(Qwen3ASRFeatureExtractor(), tok, chat_template=CHATML_TEMPLATE)
    torch.manual_seed(seed)
    config = Qwen3ASRConfig(
        audio_config=dict(
            model_type="qwen3_asr_encoder",
            d_model=32,
            encoder_layers=layers,
            encoder_attention_heads=4,
            encoder_ffn_dim=64,
            output_dim=hidden,
            downsample_hidden_size=16,
        ),
        text_config=dict(model_type="qwen3", **text_config(len(tok), hidden, layers), head_dim=hidden // 4),
        audio_token_id=tok.audio_token_id,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
    )
    return save_model(Path(folder), Qwen3ASRForConditionalGeneration(config), processor)
