"""``granite-speech``: `GraniteSpeechForConditionalGeneration` (IBM Granite Speech), text and audio.

Speech is one ``<|audio|>`` that `GraniteSpeechProcessor` expands to the
projector's output length (windows of 15 encoder frames, downsampled by 5).
Its feature extractor pads a batch to the longest clip and the encoder has no
mask for that padding, which changes the shorter clips' scores: batches are
split by clip length (``pad_leaks_into_encoder``). The model enables its speech
LoRA itself (peft) when audio features are given.

`GraniteSpeechFeatureExtractor` needs torchaudio, which has no build for the
torch release this project pins: there, the tests run with a stand-in for its
mel front end (`s2sbench_hf.testing.backend_stand_ins`).
"""

from __future__ import annotations

from typing import Any, ClassVar

from transformers import GraniteSpeechForConditionalGeneration, PreTrainedModel

from s2sbench_hf.scoring.adapters.base import ProcessorAudioScorer


class GraniteSpeechScorer(ProcessorAudioScorer):
    name = "granite-speech"
    model_class: type[PreTrainedModel] = GraniteSpeechForConditionalGeneration
    input_names = ("input_ids", "attention_mask", "input_features", "input_features_mask")
    processor_kwargs: ClassVar[dict[str, Any]] = {}  # its feature extractor takes no sampling rate (16 kHz only)
    pad_leaks_into_encoder = True
    audio_window_seconds = None  # its feature extractor and encoder take a clip of any length

    def speech_positions(self, seconds: float) -> int:
        fe = self.processor.audio_processor
        return int(fe._get_num_audio_features([round(seconds * self.sampling_rate)])[0])  # the extractor's formula
