"""``audio-flamingo3``: `AudioFlamingo3ForConditionalGeneration` (NVIDIA Audio Flamingo 3), text and audio.

Speech is one ``<sound>`` that `AudioFlamingo3Processor` expands to one
placeholder per encoder output frame (Whisper features in consecutive 30 s
windows, 25 positions per second of speech, up to the processor's
``max_audio_len``, 10 minutes; a longer clip is an item error). Its features
are cast to the model's dtype by the base (needed for bf16). The encoder masks
padded positions in attention, so it runs over the batch's longest window only
(`WhisperEncoderTrim`).
"""

from __future__ import annotations

import torch
from transformers import AudioFlamingo3ForConditionalGeneration, PreTrainedModel

from s2sbench_hf.scoring.adapters.base import ProcessorAudioScorer, WhisperEncoderTrim


class AudioFlamingo3Scorer(WhisperEncoderTrim, ProcessorAudioScorer):
    name = "audio-flamingo3"
    model_class: type[PreTrainedModel] = AudioFlamingo3ForConditionalGeneration
    input_names = ("input_ids", "attention_mask", "input_features", "input_features_mask")
    feature_keys = ("input_features", "input_features_mask")
    processor_windows = True

    def speech_positions(self, seconds: float) -> int:
        """The processor's own count (`_get_audio_token_length`) of the mel frames over all windows."""
        frames = sum(self.window_frames(seconds))
        return int(self.processor._get_audio_token_length(torch.tensor(frames)))
