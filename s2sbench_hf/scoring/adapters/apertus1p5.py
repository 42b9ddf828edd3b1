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

from typing import Any, ClassVar

from transformers import Apertus1p5ForConditionalGeneration, Apertus1p5Processor

from s2sbench_hf.scoring.adapters.base import ProcessorAudioScorer


class Apertus15Scorer(ProcessorAudioScorer):
    name = "apertus1.5"
    audio_window_seconds = None  # its processor and encoder take a clip of any length
    sampling_rate = 24000
    processor_kwargs: ClassVar[dict[str, Any]] = {"sampling_rate": 24000}
    model_class = Apertus1p5ForConditionalGeneration
    processor_class = Apertus1p5Processor
    input_names = ("input_ids", "attention_mask", "input_values", "padding_mask")

    def speech_positions(self, seconds: float) -> int:
        codes = self.processor.feature_extractor.get_num_audio_codes(round(seconds * self.sampling_rate))
        return 2 + codes  # the start and end tokens + one per code
