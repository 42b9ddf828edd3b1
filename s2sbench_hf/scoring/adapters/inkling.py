"""``inkling``: `InklingForConditionalGeneration` (Thinking Machines' Inkling, omni), text and audio.

Speech is ``<|content_audio_input|>`` (a plain marker token) + the placeholder
``<|unused_200053|>``, which `InklingProcessor` expands to one position per
50 ms frame; each position is the clip's log-mel frame quantized to discrete
bins (dMel) and embedded, there is no audio encoder. The processor is built
without its image processor (`speech_processor`). The LM mixes sliding-window
and full attention with short convolutions, whose states the shared-prefix
cache keeps with the keys and values.
"""

from __future__ import annotations

from transformers import InklingForConditionalGeneration, InklingProcessor

from s2sbench_hf.scoring.adapters.base import ProcessorAudioScorer


class InklingScorer(ProcessorAudioScorer):
    name = "inkling"
    audio_window_seconds = None  # its processor and encoder take a clip of any length
    model_class = InklingForConditionalGeneration
    processor_class = InklingProcessor
    input_names = ("input_ids", "attention_mask", "audio_input_ids", "audio_input_ids_mask")

    def speech_markup(self) -> str:
        return self.processor.audio_bos_token + self.processor.audio_token

    def speech_positions(self, seconds: float) -> int:
        hop = self.processor.feature_extractor.hop_length
        return 1 + -(-round(seconds * self.sampling_rate) // hop)  # the marker + one per started frame
