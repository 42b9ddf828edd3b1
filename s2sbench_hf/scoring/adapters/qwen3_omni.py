"""``qwen3-omni``: the thinker of Qwen3-Omni (`Qwen3OmniMoeThinkerForConditionalGeneration`), text and audio.

The same recipe as `qwen2.5-omni` (thinker out of a full checkpoint, processor
assembled from the feature extractor and the tokenizer, 3-D positions that are
sequential for audio-and-text prompts); what differs is declared here: the
model classes, the markers ``<|audio_start|><|audio_pad|>...<|audio_end|>``,
features padded to the longest clip (not to 30 s), and the encoder's length
formula (windows of 100 frames, 13 positions each). Padded to the longest clip,
the Whisper feature extractor counts a clip's frames differently alone
(``samples // 160``) and beside a longer clip (one more when the length is no
multiple of 160), so batches are split by clip length (``pad_leaks_into_encoder``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from transformers import Qwen3OmniMoeThinkerForConditionalGeneration
from transformers.models.qwen3_omni_moe.processing_qwen3_omni_moe import _get_feat_extract_output_lengths

from s2sbench_hf.scoring.adapters.qwen2_5_omni import Qwen25OmniScorer


class Qwen3OmniScorer(Qwen25OmniScorer):
    name = "qwen3-omni"
    thinker_class = Qwen3OmniMoeThinkerForConditionalGeneration
    feature_kwargs: ClassVar[dict[str, Any]] = {"padding": True, "truncation": False}
    audio_window_seconds = None  # its encoder takes a clip of any length (in chunks of 100 frames)
    audio_markers = ("<|audio_start|>", "<|audio_pad|>", "<|audio_end|>")
    pad_leaks_into_encoder = True

    @staticmethod
    def audio_token_counts(feature_lengths: torch.Tensor) -> torch.Tensor:
        return _get_feat_extract_output_lengths(feature_lengths)

    def speech_positions(self, seconds: float) -> int:
        frames = round(seconds * self.sampling_rate) // 160  # a clip alone keeps samples // 160 frames
        return 2 + int(self.audio_token_counts(torch.tensor([frames]))[0])
