"""``moss-transcribe-diarize``: `MossTranscribeDiarizeForConditionalGeneration` (MOSS-Transcribe-Diarize), text
and audio.

A speaker-attributed speech recognizer built as a speech LLM (Whisper encoder,
Qwen3 LM), so it scores continuations like the others, though it was trained
to transcribe. Speech is ``<|audio_start|>`` + the placeholder ``<|audio_pad|>``
+ ``<|audio_end|>``; `MossTranscribeDiarizeProcessor` expands the placeholder to
12.5 positions a second (each 30 s window on its own: Whisper frames halved,
then merged 4 at a time, rounded up) with the number of elapsed seconds
written in as text every 2 s (``...2...4...``), as the model was trained.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from transformers import (
    MossTranscribeDiarizeConfig,
    MossTranscribeDiarizeFeatureExtractor,
    MossTranscribeDiarizeForConditionalGeneration,
    MossTranscribeDiarizeProcessor,
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
    name="moss-transcribe-diarize",
    scorer="MossTranscribeDiarizeScorer",
    model_types=("moss_transcribe_diarize",),
    note="`hf-audio/MOSS-Transcribe-Diarize-HF`; trained to transcribe, with speaker labels",
    min_transformers="5.20.0",
)


class MossTranscribeDiarizeScorer(ProcessorAudioScorer):
    name = FAMILY.name
    audio_window_seconds = None  # its processor and encoder take a clip of any length
    model_class = MossTranscribeDiarizeForConditionalGeneration
    audio_markers = True
    input_names = ("input_ids", "attention_mask", "input_features", "input_features_mask", "padding_mask")

    def speech_positions(self, seconds: float) -> int:
        p, fe = self.processor, self.processor.feature_extractor
        samples = round(seconds * self.sampling_rate)
        windows = range(0, max(samples, 1), fe.n_samples)
        frames = torch.tensor([math.ceil(min(fe.n_samples, samples - start) / fe.hop_length) for start in windows])
        placeholders = int(p._get_audio_token_length(frames, torch.zeros(len(frames), dtype=torch.long))[0])
        expanded = p.replace_audio_token({"num_audio_tokens": [placeholders]}, 0)  # with its time markers
        return 2 + len(self.encode(expanded))


def tiny_model(
    folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2, tokenizer: str | Path | None = None
) -> Path:
    """A random MOSS-Transcribe-Diarize (Whisper encoder, Qwen3 LM) with its processor (time markers every 2 s)."""
    tok = build_tokenizer(extra_special_tokens=["<|audio_pad|>", "<|audio_start|>", "<|audio_end|>"], base=tokenizer)
    processor = MossTranscribeDiarizeProcessor(
        MossTranscribeDiarizeFeatureExtractor(), tok, chat_template=CHATML_TEMPLATE
    )
    torch.manual_seed(seed)
    config = MossTranscribeDiarizeConfig(
        audio_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=layers, num_attention_heads=4),
        text_config=dict(model_type="qwen3", **text_config(len(tok), hidden, layers), head_dim=hidden // 4),
        audio_token_id=token_id(tok, "<|audio_pad|>"),
    )
    return save_model(Path(folder), MossTranscribeDiarizeForConditionalGeneration(config), processor)
