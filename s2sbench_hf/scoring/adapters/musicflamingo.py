"""``music-flamingo``: `MusicFlamingoForConditionalGeneration` (NVIDIA Music Flamingo), text and audio.

Audio Flamingo 3's recipe (its encoder, projector and Qwen2 LM, so this adapter
is `AudioFlamingo3Scorer` with another model class), trained on music: one
``<sound>`` that `MusicFlamingoProcessor` expands to ``<|sound_bos|>`` + one
placeholder per encoder frame + ``<|sound_eos|>`` (25 a second, up to its
``max_audio_len``, 20 minutes). The model adds rotary time embeddings to the
audio frames, computed from the placeholder runs in ``input_ids``, so its
encoder runs whole (no `WhisperEncoderTrim`: the trimmed path hands the model
embeddings, without the ids those embeddings are computed from).
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import (
    MusicFlamingoConfig,
    MusicFlamingoForConditionalGeneration,
    MusicFlamingoProcessor,
    WhisperFeatureExtractor,
)

from s2sbench_hf.real_tokenizers import CHATML_TEMPLATE
from s2sbench_hf.scoring.adapters.audio_flamingo3 import AudioFlamingo3Scorer
from s2sbench_hf.scoring.family import Family
from s2sbench_hf.scoring.tiny import (
    build_tokenizer,
    save_model,
    text_config,
    token_id,
)

FAMILY = Family(
    name="music-flamingo",
    scorer="MusicFlamingoScorer",
    model_types=("musicflamingo",),
    note="`nvidia/music-flamingo-2601-hf`; trained on music",
)


class MusicFlamingoScorer(AudioFlamingo3Scorer):
    name = FAMILY.name
    model_class = MusicFlamingoForConditionalGeneration
    trim_encoder = False

    def speech_positions(self, seconds: float) -> int:
        return super().speech_positions(seconds) + 2  # the start and end markers


def tiny_model(
    folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2, tokenizer: str | Path | None = None
) -> Path:
    """A random Music Flamingo (Audio Flamingo 3's encoder with rotary time embeddings, Qwen2 LM) and its processor."""
    tok = build_tokenizer(extra_special_tokens=["<sound>", "<|sound_bos|>", "<|sound_eos|>"], base=tokenizer)
    processor = MusicFlamingoProcessor(WhisperFeatureExtractor(feature_size=128), tok, chat_template=CHATML_TEMPLATE)
    torch.manual_seed(seed)
    config = MusicFlamingoConfig(
        audio_config=dict(
            model_type="audioflamingo3_encoder",
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=layers,
            num_attention_heads=4,
        ),
        text_config=dict(model_type="qwen2", **text_config(len(tok), hidden, layers)),
        audio_token_id=token_id(tok, "<sound>"),
        audio_bos_token_id=token_id(tok, "<|sound_bos|>"),
        audio_eos_token_id=token_id(tok, "<|sound_eos|>"),
    )
    return save_model(Path(folder), MusicFlamingoForConditionalGeneration(config), processor)
