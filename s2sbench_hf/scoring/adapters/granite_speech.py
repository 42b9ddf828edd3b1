"""``granite-speech``: `GraniteSpeechForConditionalGeneration` (IBM Granite Speech), text and audio.

Speech is one ``<|audio|>`` that `GraniteSpeechProcessor` expands to the
projector's output length (windows of 15 encoder frames, downsampled by 5).
Its feature extractor pads a batch to the longest clip and the encoder has no
mask for that padding, which changes the shorter clips' scores: batches are
split by clip length (``pad_leaks_into_encoder``). The model enables its speech
LoRA itself (peft) when audio features are given; without peft, transformers only
warns and scores the speech without the LoRA, so a checkpoint that has one
(``has_lora_adapter``) is refused without peft, in one line, before it loads.

`GraniteSpeechFeatureExtractor` needs torchaudio (the ``granite-speech`` extra);
where no torchaudio build matches the installed torch (this project's CPU test
machine), the tests run with a stand-in for its mel front end
(`s2sbench_hf.testing.backend_stand_ins`).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from transformers import AutoConfig, GraniteSpeechForConditionalGeneration, PreTrainedModel
from transformers.utils import is_peft_available

from s2sbench_hf.scoring.adapters.base import ProcessorAudioScorer
from s2sbench_hf.scoring.interface import AdapterError


class GraniteSpeechScorer(ProcessorAudioScorer):
    name = "granite-speech"
    model_class: type[PreTrainedModel] = GraniteSpeechForConditionalGeneration
    input_names = ("input_ids", "attention_mask", "input_features", "input_features_mask")
    processor_kwargs: ClassVar[dict[str, Any]] = {}  # its feature extractor takes no sampling rate (16 kHz only)
    pad_leaks_into_encoder = True
    audio_window_seconds = None  # its feature extractor and encoder take a clip of any length

    def load(self) -> tuple[torch.nn.Module, Any]:
        if getattr(AutoConfig.from_pretrained(self.model_id, **self.pretrained_kwargs()), "has_lora_adapter", False):
            if not is_peft_available():  # transformers would only warn, and score the speech without the LoRA
                raise AdapterError(
                    f"{self.model_id!r} has a speech LoRA (has_lora_adapter), which needs peft: pip install peft. "
                    "Without it the speech would be scored without the LoRA."
                )
        return super().load()

    def speech_positions(self, seconds: float) -> int:
        fe = self.processor.audio_processor
        return int(fe._get_num_audio_features([round(seconds * self.sampling_rate)])[0])  # the extractor's formula
