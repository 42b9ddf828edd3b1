"""``fun-asr-nano``: `FunAsrNanoForConditionalGeneration` (Fun-ASR-Nano), text and audio.

A speech recognizer built as a speech LLM (SAN-M encoder, adaptor, Qwen3 LM), so
it scores continuations like the others, though it was trained to transcribe.
Speech is the placeholder ``<|object_ref_start|>``, which `FunAsrNanoProcessor`
expands to one position per low-frame-rate frame: Kaldi filterbank frames
(25 ms windows every 10 ms) stacked 7 at a time every 6, about 16.7 a second.
The padding of a shorter clip reaches the encoder's outputs for it, so batches
are split by clip length (``pad_leaks_into_encoder``). Its feature extractor
needs torchaudio (Kaldi filterbanks).
"""

from __future__ import annotations

from transformers import FunAsrNanoForConditionalGeneration

from s2sbench_hf.scoring.adapters.base import ProcessorAudioScorer


class FunAsrNanoScorer(ProcessorAudioScorer):
    name = "fun-asr-nano"
    audio_window_seconds = None  # its processor and encoder take a clip of any length
    model_class = FunAsrNanoForConditionalGeneration
    input_names = ("input_ids", "attention_mask", "input_features", "input_features_mask")
    pad_leaks_into_encoder = True

    def speech_positions(self, seconds: float) -> int:
        fe = self.processor.feature_extractor
        window = fe.sampling_rate * fe.frame_length // 1000
        shift = fe.sampling_rate * fe.frame_shift // 1000
        samples = round(seconds * self.sampling_rate)
        frames = 1 + (samples - window) // shift if samples >= window else 0  # Kaldi's frames (snip_edges)
        return -(-frames // fe.stride_lfr)  # one per low-frame-rate frame
