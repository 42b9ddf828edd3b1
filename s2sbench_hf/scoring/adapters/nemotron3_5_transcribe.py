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

from pathlib import Path

import torch
from transformers import (
    Nemotron3_5TranscribeConfig,
    Nemotron3_5TranscribeForConditionalGeneration,
    Nemotron3_5TranscribeProcessor,
    NemotronAsrStreamingFeatureExtractor,
)

from s2sbench_hf.real_tokenizers import CHATML_TEMPLATE
from s2sbench_hf.scoring.adapters.base import ProcessorAudioScorer
from s2sbench_hf.scoring.adapters.nemotron_h_omni import tiny_nemotron_h
from s2sbench_hf.scoring.family import Family
from s2sbench_hf.scoring.tiny import (
    build_tokenizer,
    save_model,
    token_id,
)

FAMILY = Family(
    name="nemotron3.5-transcribe",
    scorer="Nemotron35TranscribeScorer",
    model_types=("nemo_speechlm",),
    note="`nvidia/NVIDIA-Nemotron-3.5-Transcribe-30B-A4B`; trained to transcribe, with speaker labels",
    min_transformers="5.22.0",
)


class Nemotron35TranscribeScorer(ProcessorAudioScorer):
    name = FAMILY.name
    audio_window_seconds = None  # its processor and encoder take a clip of any length
    model_class = Nemotron3_5TranscribeForConditionalGeneration
    input_names = ("input_ids", "attention_mask", "input_features", "input_features_mask")

    def speech_positions(self, seconds: float) -> int:
        fe = self.processor.feature_extractor
        frames = round(seconds * self.sampling_rate) // fe.hop_length  # centred STFT: samples // hop frames
        return -(-frames // self.processor.subsampling_factor)


def tiny_model(
    folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 1, tokenizer: str | Path | None = None
) -> Path:
    """A random Nemotron 3.5 Transcribe (encoder, diarization model, word timestamp head, Nemotron-H LM), processor."""
    tok = build_tokenizer(extra_special_tokens=["<|audio|>"], base=tokenizer)
    processor = Nemotron3_5TranscribeProcessor(
        NemotronAsrStreamingFeatureExtractor(feature_size=128),
        tok,
        build_tokenizer(chat_template=None, base=tokenizer),
        chat_template=CHATML_TEMPLATE,
    )
    encoder = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=layers, num_attention_heads=4)
    torch.manual_seed(seed)
    config = Nemotron3_5TranscribeConfig(
        audio_config=dict(
            asr_config=encoder,
            diarization_config=dict(
                audio_config=encoder,
                head_config=dict(hidden_size=16, num_speakers=4, audio_hidden_size=32),
                streaming_config=dict(
                    num_speakers=4, speaker_cache_length=16, fifo_length=8, speaker_cache_update_period=8
                ),
                chunk_length=20,
                chunk_right_context=4,
                chunk_left_context=2,
                fifo_length=8,
                speaker_cache_update_period=8,
            ),
        ),
        text_config=tiny_nemotron_h(len(tok), hidden, layers),
        word_timestamp_config=dict(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=1,
            num_attention_heads=4,
            vocab_size=len(tok) + 1,
            blank_token_id=len(tok),
        ),
        audio_token_id=token_id(tok, "<|audio|>"),
    )
    return save_model(Path(folder), Nemotron3_5TranscribeForConditionalGeneration(config), processor)
