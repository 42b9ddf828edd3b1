"""``nemotron-h-omni``: `NemotronH_Omni_Reasoning_V3` (NVIDIA Nemotron 3 Nano Omni), text and audio.

Speech is ``<so_start>`` + the placeholder ``<so_embedding>`` + ``<so_end>``;
`NemotronH_Omni_Reasoning_V3Processor` expands the placeholder to the Parakeet
encoder's output length (10 ms mel frames, subsampled 8 times: 12.5 a second).
Batched with clips of other lengths, a clip's scores move by about 1e-5 of
their size (past the exactness bound): batches are split by clip length
(``pad_leaks_into_encoder``). The LM is Nemotron-H (hybrid Mamba-2/attention
MoE); the base's shared-prefix cache keeps the Mamba states with the keys and
values. The processor is built
without its image and video processors (`speech_processor`).
"""

from __future__ import annotations

from transformers import NemotronH_Omni_Reasoning_V3, NemotronH_Omni_Reasoning_V3Processor

from s2sbench_hf.scoring.adapters.base import ProcessorAudioScorer


class NemotronHOmniScorer(ProcessorAudioScorer):
    name = "nemotron-h-omni"
    audio_window_seconds = None  # its processor and encoder take a clip of any length
    model_class = NemotronH_Omni_Reasoning_V3
    processor_class = NemotronH_Omni_Reasoning_V3Processor
    input_names = ("input_ids", "attention_mask", "input_features", "input_features_mask")
    pad_leaks_into_encoder = True

    def speech_positions(self, seconds: float) -> int:
        samples = round(seconds * self.sampling_rate)
        return 2 + max(1, self.processor._estimate_audio_num_embeddings(samples))  # the processor's count
