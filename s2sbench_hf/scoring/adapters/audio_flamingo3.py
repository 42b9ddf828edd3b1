"""``audio-flamingo3``: `AudioFlamingo3ForConditionalGeneration` (NVIDIA Audio Flamingo 3), text and audio.

Speech is one ``<sound>`` that `AudioFlamingo3Processor` expands to one
placeholder per encoder output frame (Whisper features in consecutive 30 s
windows, 25 positions per second of speech, up to the processor's
``max_audio_len``, 10 minutes; a longer clip is an item error). Its features
are cast to the model's dtype by the base (needed for bf16). The encoder masks
padded positions in attention, so it runs over the batch's longest window only
(`WhisperEncoderTrim`).
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import (
    AudioFlamingo3Config,
    AudioFlamingo3ForConditionalGeneration,
    AudioFlamingo3Processor,
    PreTrainedModel,
    WhisperFeatureExtractor,
)

from s2sbench_hf.real_tokenizers import CHATML_TEMPLATE
from s2sbench_hf.scoring.adapters.base import ProcessorAudioScorer, WhisperEncoderTrim
from s2sbench_hf.scoring.family import Family
from s2sbench_hf.scoring.tiny import (
    build_tokenizer,
    save_model,
    text_config,
    token_id,
)

FAMILY = Family(
    name="audio-flamingo3",
    scorer="AudioFlamingo3Scorer",
    model_types=("audioflamingo3",),
    note="`nvidia/audio-flamingo-3-hf`",
)


class AudioFlamingo3Scorer(WhisperEncoderTrim, ProcessorAudioScorer):
    name = FAMILY.name
    model_class: type[PreTrainedModel] = AudioFlamingo3ForConditionalGeneration
    input_names = ("input_ids", "attention_mask", "input_features", "input_features_mask")
    feature_keys = ("input_features", "input_features_mask")
    processor_windows = True

    def speech_positions(self, seconds: float) -> int:
        """The processor's own count (`_get_audio_token_length`) of the mel frames over all windows."""
        frames = sum(self.window_frames(seconds))
        return int(self.processor._get_audio_token_length(torch.tensor(frames)))


def tiny_model(
    folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2, tokenizer: str | Path | None = None
) -> Path:
    """A random Audio Flamingo 3 (Whisper-style encoder + Qwen2 LM) with its processor (``<sound>``)."""
    tok = build_tokenizer(extra_special_tokens=["<sound>"], base=tokenizer)
    processor = AudioFlamingo3Processor(WhisperFeatureExtractor(feature_size=128), tok, chat_template=CHATML_TEMPLATE)
    torch.manual_seed(seed)
    config = AudioFlamingo3Config(
        audio_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=layers, num_attention_heads=4),
        text_config=dict(model_type="qwen2", **text_config(len(tok), hidden, layers)),
        audio_token_id=token_id(tok, "<sound>"),
    )
    return save_model(Path(folder), AudioFlamingo3ForConditionalGeneration(config), processor)
