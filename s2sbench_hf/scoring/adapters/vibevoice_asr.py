"""``vibevoice-asr``: `VibeVoiceAsrForConditionalGeneration` (Microsoft VibeVoice-ASR), text and audio.

A speech recognizer built as a speech LLM (VibeVoice's acoustic and semantic
tokenizer encoders on the 24 kHz waveform, Qwen2 LM), so it scores
continuations like the others, though it was trained to transcribe. Speech is
``<|object_ref_start|>`` + the placeholder ``<|box_start|>`` (expanded by
`VibeVoiceAsrProcessor` to one position per 3200 samples, 7.5 a second) +
``<|object_ref_end|>``. The model adds random noise to the acoustic latents
unless told not to (``sample=False``, the σ-VAE sampling of its training):
scores must not depend on a random draw, so every forward pass here asks for
none.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import torch
from transformers import (
    VibeVoiceAcousticTokenizerFeatureExtractor,
    VibeVoiceAsrConfig,
    VibeVoiceAsrForConditionalGeneration,
    VibeVoiceAsrProcessor,
)

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
    name="vibevoice-asr",
    scorer="VibeVoiceAsrScorer",
    model_types=("vibevoice_asr",),
    note="`microsoft/VibeVoice-ASR-HF`; trained to transcribe; scored without its latent noise",
    min_transformers="5.23.0",
)


class VibeVoiceAsrScorer(ProcessorAudioScorer):
    name = FAMILY.name
    audio_window_seconds = None  # its processor and encoder take a clip of any length
    sampling_rate = 24000
    processor_kwargs: ClassVar[dict[str, Any]] = {"sampling_rate": 24000}
    model_class = VibeVoiceAsrForConditionalGeneration
    audio_markers = True
    input_names = ("input_ids", "attention_mask", "input_values", "padding_mask")

    def speech_positions(self, seconds: float) -> int:
        hop = self.processor.feature_extractor.pad_to_multiple_of
        return 2 + -(-round(seconds * self.sampling_rate) // hop)

    def model_forward(self, **inputs: Any) -> Any:
        return self.model(**inputs, sample=False)  # the encoder output as is, no random draw


def tiny_model(
    folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2, tokenizer: str | Path | None = None
) -> Path:
    """A random VibeVoice-ASR (acoustic and semantic tokenizer encoders with the real 3200-sample hop, Qwen2 LM)."""
    tok = build_tokenizer(
        extra_special_tokens=["<|box_start|>", "<|object_ref_start|>", "<|object_ref_end|>"], base=tokenizer
    )
    processor = VibeVoiceAsrProcessor(VibeVoiceAcousticTokenizerFeatureExtractor(), tok, chat_template=CHATML_TEMPLATE)
    encoder = dict(
        model_type="vibevoice_acoustic_tokenizer_encoder",
        hidden_size=16,
        num_filters=4,
        depths=(1,) * 7,
        ffn_expansion=2,
    )
    torch.manual_seed(seed)
    config = VibeVoiceAsrConfig(
        acoustic_tokenizer_encoder_config=encoder,
        semantic_tokenizer_encoder_config=dict(encoder, hidden_size=32),
        text_config=dict(model_type="qwen2", **text_config(len(tok), hidden, layers)),
        audio_token_id=token_id(tok, "<|box_start|>"),
        audio_bos_token_id=token_id(tok, "<|object_ref_start|>"),
        audio_eos_token_id=token_id(tok, "<|object_ref_end|>"),
    )
    return save_model(Path(folder), VibeVoiceAsrForConditionalGeneration(config), processor)
