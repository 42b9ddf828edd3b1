"""``omniasr``: `OmniASRForConditionalGeneration` (Meta's Omnilingual ASR, LLM decoder), text and audio.

A speech recognizer built as a speech LLM (wav2vec 2.0 encoder on the raw
waveform, LLaMA decoder), so it scores continuations like the others, though
it was trained to transcribe. Speech is the placeholder ``<extra_id_1>``, which
`OmniASRProcessor` expands to one position per encoder frame (the encoder's
convolutions: 50 a second).
"""

from __future__ import annotations

import torch
from transformers import OmniASRForConditionalGeneration

from s2sbench_hf.scoring.adapters.base import ProcessorAudioScorer


class OmniASRScorer(ProcessorAudioScorer):
    name = "omniasr"
    audio_window_seconds = None  # its processor and encoder take a clip of any length
    model_class = OmniASRForConditionalGeneration
    input_names = ("input_ids", "attention_mask", "input_values", "padding_mask")

    def speech_positions(self, seconds: float) -> int:
        samples = torch.tensor(round(seconds * self.sampling_rate))
        return int(self.processor._get_num_audio_tokens(samples))  # the processor's formula
