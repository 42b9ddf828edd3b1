"""``nemotron3.5-transcribe``: `Nemotron3_5TranscribeForConditionalGeneration` (NVIDIA Nemotron 3.5 Transcribe),
text and audio.

A speaker-attributed speech recognizer built as a speech LLM (a FastConformer-
style encoder whose frames carry the speaker activities of a diarization
model, and a Nemotron-H hybrid Mamba/attention MoE LM; config type
``nemo_speechlm``), so it scores continuations like the others, though it was
trained to transcribe. Speech is the placeholder ``<|audio|>``, which
`Nemotron3_5TranscribeProcessor` expands to one position per 8 spectrogram
frames (12.5 a second). The Mamba layers keep a recurrent state instead of keys
and values; the base's shared-prefix cache handles both.
"""

from __future__ import annotations

from transformers import Nemotron3_5TranscribeForConditionalGeneration

from s2sbench_hf.scoring.adapters.base import ProcessorAudioScorer


class Nemotron35TranscribeScorer(ProcessorAudioScorer):
    name = "nemotron3.5-transcribe"
    audio_window_seconds = None  # its processor and encoder take a clip of any length
    model_class = Nemotron3_5TranscribeForConditionalGeneration
    input_names = ("input_ids", "attention_mask", "input_features", "input_features_mask")

    def speech_positions(self, seconds: float) -> int:
        fe = self.processor.feature_extractor
        frames = round(seconds * self.sampling_rate) // fe.hop_length  # centred STFT: samples // hop frames
        return -(-frames // self.processor.subsampling_factor)
