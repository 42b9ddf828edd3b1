"""``music-flamingo``: `MusicFlamingoForConditionalGeneration` (NVIDIA Music Flamingo), text and audio.

Audio Flamingo 3's recipe (its encoder, projector and Qwen2 LM, so this adapter
is `AudioFlamingo3Scorer` with another model class), trained on music: one
``<sound>`` that `MusicFlamingoProcessor` expands to ``<|sound_bos|>`` + one
placeholder per encoder frame + ``<|sound_eos|>`` (25 a second, up to its
``max_audio_len``, 20 minutes). The model adds rotary time embeddings to the
audio frames, computed from the placeholder runs in ``input_ids``, so its
encoder runs whole (no `WhisperEncoderTrim`: the trimmed path hands the model
embeddings, without the ids those embeddings are computed from).
"""

from __future__ import annotations

from transformers import MusicFlamingoForConditionalGeneration

from s2sbench_hf.scoring.adapters.audio_flamingo3 import AudioFlamingo3Scorer


class MusicFlamingoScorer(AudioFlamingo3Scorer):
    name = "music-flamingo"
    model_class = MusicFlamingoForConditionalGeneration
    trim_encoder = False

    def speech_positions(self, seconds: float) -> int:
        return super().speech_positions(seconds) + 2  # the start and end markers
