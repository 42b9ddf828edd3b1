"""``muse-spark``: `MuseSparkForConditionalGeneration` (Meta's Muse Spark, omni), text and audio.

Speech is the tokenizer's audio token, which `MuseSparkProcessor` expands to
``<|soft_audio_start|>`` + one position per 1920 samples of the 24 kHz waveform
(80 ms; the encoder's patch sizes multiply to it) + ``<|soft_audio_end|>``. The
processor is built without its image and video processors (`speech_processor`).
"""

from __future__ import annotations

from typing import Any, ClassVar

from transformers import MuseSparkForConditionalGeneration, MuseSparkProcessor

from s2sbench_hf.scoring.adapters.base import ProcessorAudioScorer


class MuseSparkScorer(ProcessorAudioScorer):
    name = "muse-spark"
    audio_window_seconds = None  # its processor and encoder take a clip of any length
    sampling_rate = 24000
    processor_kwargs: ClassVar[dict[str, Any]] = {"sampling_rate": 24000}
    model_class = MuseSparkForConditionalGeneration
    processor_class = MuseSparkProcessor
    input_names = ("input_ids", "attention_mask", "input_values", "input_values_mask")

    def speech_positions(self, seconds: float) -> int:
        per_token = self.processor.feature_extractor.samples_per_token
        return 2 + -(-round(seconds * self.sampling_rate) // per_token)  # the markers + one per started 80 ms
