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

import torch
from transformers import MossTranscribeDiarizeForConditionalGeneration

from s2sbench_hf.scoring.adapters.base import ProcessorAudioScorer


class MossTranscribeDiarizeScorer(ProcessorAudioScorer):
    name = "moss-transcribe-diarize"
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
