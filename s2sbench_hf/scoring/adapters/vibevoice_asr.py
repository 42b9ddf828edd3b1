"""``vibevoice-asr``: `VibeVoiceAsrForConditionalGeneration` (Microsoft VibeVoice-ASR), text and audio.

A speech recognizer built as a speech LLM (VibeVoice's acoustic and semantic
tokenizer encoders on the 24 kHz waveform, Qwen2 LM), so it scores
continuations like the others, though it was trained to transcribe. Speech is
``<|object_ref_start|>`` + the placeholder ``<|box_start|>`` (expanded by
`VibeVoiceAsrProcessor` to one position per 3200 samples, 7.5 a second) +
``<|object_ref_end|>``. The model adds random noise to the acoustic latents
unless told not to (``sample=False``, the σ-VAE sampling of its training):
scores must not depend on a random draw, so every forward pass here asks for
none.
"""

from __future__ import annotations

from typing import Any, ClassVar

from transformers import VibeVoiceAsrForConditionalGeneration

from s2sbench_hf.scoring.adapters.base import ProcessorAudioScorer


class VibeVoiceAsrScorer(ProcessorAudioScorer):
    name = "vibevoice-asr"
    audio_window_seconds = None  # its processor and encoder take a clip of any length
    sampling_rate = 24000
    processor_kwargs: ClassVar[dict[str, Any]] = {"sampling_rate": 24000}
    model_class = VibeVoiceAsrForConditionalGeneration
    audio_markers = True
    input_names = ("input_ids", "attention_mask", "input_values", "padding_mask")

    def speech_positions(self, seconds: float) -> int:
        hop = self.processor.feature_extractor.pad_to_multiple_of
        return 2 + -(-round(seconds * self.sampling_rate) // hop)

    def model_forward(self, **inputs: Any) -> Any:
        return self.model(**inputs, sample=False)  # the encoder output as is, no random draw
