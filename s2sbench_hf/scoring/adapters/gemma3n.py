"""``gemma3n``: `Gemma3nForConditionalGeneration` (Google Gemma 3n), text and audio.

Speech is one audio token that `Gemma3nProcessor` expands to
``\\n\\n<start_of_audio>`` + a fixed number of audio soft tokens (188) +
``<end_of_audio>\\n\\n``. Clips of different lengths in one batch change the
shorter clip's scores (padding reaches the encoder): batches are split by clip
length (``pad_leaks_into_encoder``). The processor is built without its image
processor (`speech_processor`). Its feature extractor keeps 30 s of a clip: a
longer clip is an item error (the base's one-window default).

`Gemma3nForConditionalGeneration` always builds its MobileNetV5 vision tower
through timm, which needs torchvision, which has no build for the torch release
this project installs: there, the tests run with a stand-in for timm's vision
tower (`s2sbench_hf.testing.backend_stand_ins`), which speech never runs.
"""

from __future__ import annotations

from transformers import Gemma3nForConditionalGeneration, Gemma3nProcessor

from s2sbench_hf.scoring.adapters.base import ProcessorAudioScorer


class Gemma3nScorer(ProcessorAudioScorer):
    name = "gemma3n"
    model_class = Gemma3nForConditionalGeneration
    processor_class = Gemma3nProcessor
    input_names = ("input_ids", "attention_mask", "input_features", "input_features_mask")
    pad_leaks_into_encoder = True

    def speech_positions(self, seconds: float) -> int:
        return len(self.encode(self.processor.full_audio_sequence))
