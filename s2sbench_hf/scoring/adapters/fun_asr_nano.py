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

from pathlib import Path

import torch
from transformers import (
    FunAsrNanoConfig,
    FunAsrNanoForConditionalGeneration,
    FunAsrNanoProcessor,
)

from s2sbench_hf.real_tokenizers import CHATML_TEMPLATE
from s2sbench_hf.scoring.adapters.base import ProcessorAudioScorer
from s2sbench_hf.scoring.family import Family, Requirement
from s2sbench_hf.scoring.tiny import (
    build_tokenizer,
    save_model,
    text_config,
    token_id,
)

FAMILY = Family(
    name="fun-asr-nano",
    scorer="FunAsrNanoScorer",
    model_types=("fun_asr_nano",),
    note="`FunAudioLLM/Fun-ASR-Nano-2512-hf`; trained to transcribe",
    needs=(Requirement("torchaudio", "its feature extractor"),),
)


class FunAsrNanoScorer(ProcessorAudioScorer):
    name = FAMILY.name
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


def tiny_model(
    folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2, tokenizer: str | Path | None = None
) -> Path:
    """A random Fun-ASR-Nano (SAN-M encoder, adaptor, Qwen3 LM) with its processor (needs torchaudio or its
    stand-in)."""
    # imported here, not at the top: where torchaudio is missing, transformers' name is a placeholder until
    # testing.backend_stand_ins puts the real class in its place
    from transformers import FunAsrNanoFeatureExtractor

    tok = build_tokenizer(extra_special_tokens=["<|object_ref_start|>"], base=tokenizer)
    processor = FunAsrNanoProcessor(FunAsrNanoFeatureExtractor(), tok, chat_template=CHATML_TEMPLATE)
    torch.manual_seed(seed)
    config = FunAsrNanoConfig(
        audio_config=dict(
            model_type="fun_asr_nano_encoder",
            hidden_size=32,
            num_attention_heads=4,
            intermediate_size=64,
            num_hidden_layers=layers,
            num_timestamp_prediction_layers=1,
        ),
        adaptor_config=dict(
            hidden_size=hidden,
            num_attention_heads=4,
            intermediate_size=hidden // 4,
            num_hidden_layers=1,
            projector_hidden_size=64,
        ),
        text_config=dict(model_type="qwen3", **text_config(len(tok), hidden, layers), head_dim=hidden // 4),
        audio_token_id=token_id(tok, "<|object_ref_start|>"),
    )
    return save_model(Path(folder), FunAsrNanoForConditionalGeneration(config), processor)
