"""``qwen2-audio``: `Qwen2AudioForConditionalGeneration`, text and audio settings.

Speech is rendered as ``<|audio_bos|><|AUDIO|><|audio_eos|>``; the processor
expands ``<|AUDIO|>`` to one placeholder per encoder frame (25 per second) and
pads the features to its 30 s window. A longer clip is cut into consecutive
30 s windows, each its own ``<|audio_bos|><|AUDIO|><|audio_eos|>`` in the
prompt (the processor takes several audio segments per prompt), so nothing is
cut. The encoder masks padded positions in attention, so it runs over the
batch's longest clip only (`WhisperEncoderTrim`), not over the whole window.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoProcessor,
    Qwen2AudioConfig,
    Qwen2AudioForConditionalGeneration,
    Qwen2AudioProcessor,
    WhisperFeatureExtractor,
)

from s2sbench_hf.scoring.adapters.base import WhisperEncoderTrim
from s2sbench_hf.scoring.checkpoint import load_pretrained
from s2sbench_hf.scoring.family import Family
from s2sbench_hf.scoring.interface import Request
from s2sbench_hf.scoring.tiny import build_tokenizer, save_model, text_config, token_id

FAMILY = Family(
    name="qwen2-audio",
    scorer="Qwen2AudioScorer",
    model_types=("qwen2_audio",),
    note="`Qwen/Qwen2-Audio-7B`, `Qwen/Qwen2-Audio-7B-Instruct`",
)


class Qwen2AudioScorer(WhisperEncoderTrim):
    name = FAMILY.name
    settings = ("text", "audio")
    sampling_rate = 16000
    max_audio_windows = None

    def load(self) -> tuple[torch.nn.Module, Any]:
        model = load_pretrained(Qwen2AudioForConditionalGeneration, self.model_id, **self.model_kwargs())
        return model, self.load_processor()

    def load_processor(self) -> Any:
        return AutoProcessor.from_pretrained(self.model_id, **self.pretrained_kwargs())

    def speech_positions(self, seconds: float) -> int:
        """The processor's count per window (100 mel frames a second, halved twice) plus 2 markers each."""
        return sum(2 + (((frames - 1) // 2 + 1) - 2) // 2 + 1 for frames in self.window_frames(seconds))

    def speech_markup(self) -> str:
        p = self.processor
        return f"{p.audio_bos_token}{p.audio_token}{p.audio_eos_token}"

    def prefix_inputs(self, requests: Sequence[Request]) -> dict[str, torch.Tensor]:
        if requests[0].setting == "text":
            return self.pad_text_prefixes([self.text_prefix_ids(r) for r in requests])
        windows = [self.split_audio(r.audio) for r in requests]
        inputs = self.processor(
            text=[
                self.audio_prompt_text(r, self.speech_markup() * len(w)) for r, w in zip(requests, windows, strict=True)
            ],
            audio=[window for clip in windows for window in clip],
            sampling_rate=self.sampling_rate,
            padding=True,
            return_tensors="pt",
        )
        return {
            k: v
            for k, v in inputs.items()
            if k in ("input_ids", "attention_mask", "input_features", "feature_attention_mask")
        }


def tiny_model(
    folder: str | Path,
    *,
    seed: int = 0,
    hidden: int = 64,
    layers: int = 2,
    encoder_dim: int = 32,
    vocab_size: int | None = None,
    tokenizer: str | Path | None = None,
    head_dim: int | None = None,
) -> Path:
    """Save a random Qwen2-Audio model and its processor to ``folder``; return the path.

    The audio encoder keeps the real front end (128 mel bins, 30 s windows, 25 LM
    positions per second) and only shrinks widths and depths. ``vocab_size``,
    ``tokenizer`` and ``head_dim`` (of the language model) as in `make_tiny_causal_lm`.
    """
    tok = build_tokenizer(base=tokenizer)
    processor = Qwen2AudioProcessor(feature_extractor=WhisperFeatureExtractor(feature_size=128), tokenizer=tok)
    torch.manual_seed(seed)
    config = Qwen2AudioConfig(
        audio_config=dict(
            num_mel_bins=128,
            encoder_layers=layers,
            encoder_attention_heads=4,
            encoder_ffn_dim=2 * encoder_dim,
            d_model=encoder_dim,
        ),
        text_config=dict(model_type="qwen2", **text_config(max(vocab_size or 0, len(tok)), hidden, layers, head_dim)),
        audio_token_index=token_id(tok, "<|AUDIO|>"),
    )
    return save_model(Path(folder), Qwen2AudioForConditionalGeneration(config), processor)
