"""``gemma4``: `Gemma4ForConditionalGeneration` (Google Gemma 4 with its audio encoder), text and audio.

Speech is the tokenizer's audio token, which `Gemma4Processor` expands to its
start-of-audio token + one soft token per 40 ms (its conformer halves the 10 ms
mel frames twice), at most ``audio_seq_length`` (750, the 30 s its feature
extractor keeps) + its end-of-audio token. The processor is the family's own,
built without its image and video processors (`speech_processor`).
"""

from __future__ import annotations

import numpy as np
from transformers import Gemma4ForConditionalGeneration, Gemma4Processor, PreTrainedModel, ProcessorMixin

from s2sbench_hf.scoring.adapters.base import ProcessorAudioScorer


class Gemma4Scorer(ProcessorAudioScorer):
    name = "gemma4"
    model_class: type[PreTrainedModel] = Gemma4ForConditionalGeneration
    processor_class: type[ProcessorMixin] | None = Gemma4Processor
    input_names = ("input_ids", "attention_mask", "input_features", "input_features_mask")

    def speech_positions(self, seconds: float) -> int:
        samples = np.broadcast_to(np.float32(0), (round(seconds * self.sampling_rate),))  # only its length is read
        return 2 + int(self.processor._compute_audio_num_tokens(samples, self.sampling_rate))  # the processor's count
