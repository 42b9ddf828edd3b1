"""``granite-speech``: `GraniteSpeechForConditionalGeneration` (IBM Granite Speech), text and audio.

Speech is one ``<|audio|>`` that `GraniteSpeechProcessor` expands to the
projector's output length (windows of 15 encoder frames, downsampled by 5).
Its feature extractor pads a batch to the longest clip and the encoder has no
mask for that padding, which changes the shorter clips' scores: batches are
split by clip length (``pad_leaks_into_encoder``). The model enables its speech
LoRA itself (peft) when audio features are given; without peft, transformers only
warns and scores the speech without the LoRA, so a checkpoint that has one
(``has_lora_adapter``) is refused without peft, in one line, before it loads.

`GraniteSpeechFeatureExtractor` needs torchaudio (the ``granite-speech`` extra);
where no torchaudio build matches the installed torch (this project's CPU test
machine), the tests run with a stand-in for its mel front end
(`s2sbench_hf.testing.backend_stand_ins`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import torch
from transformers import (
    AutoConfig,
    GraniteSpeechConfig,
    GraniteSpeechForConditionalGeneration,
    GraniteSpeechProcessor,
    PreTrainedModel,
)
from transformers.utils import is_peft_available

from s2sbench_hf.real_tokenizers import CHATML_TEMPLATE
from s2sbench_hf.scoring.adapters.base import ProcessorAudioScorer
from s2sbench_hf.scoring.family import Family, Requirement
from s2sbench_hf.scoring.interface import AdapterError
from s2sbench_hf.scoring.tiny import (
    build_tokenizer,
    save_model,
    text_config,
)

FAMILY = Family(
    name="granite-speech",
    scorer="GraniteSpeechScorer",
    model_types=("granite_speech",),
    note="`ibm-granite/granite-speech-3.3-2b`, `ibm-granite/granite-speech-3.3-8b`; needs peft for its LoRA",
    needs=(Requirement("torchaudio", "its feature extractor"),),
)


class GraniteSpeechScorer(ProcessorAudioScorer):
    name = FAMILY.name
    model_class: type[PreTrainedModel] = GraniteSpeechForConditionalGeneration
    input_names = ("input_ids", "attention_mask", "input_features", "input_features_mask")
    processor_kwargs: ClassVar[dict[str, Any]] = {}  # its feature extractor takes no sampling rate (16 kHz only)
    pad_leaks_into_encoder = True
    audio_window_seconds = None  # its feature extractor and encoder take a clip of any length

    def load(self) -> tuple[torch.nn.Module, Any]:
        if getattr(AutoConfig.from_pretrained(self.model_id, **self.pretrained_kwargs()), "has_lora_adapter", False):
            if not is_peft_available():  # transformers would only warn, and score the speech without the LoRA
                raise AdapterError(
                    f"{self.model_id!r} has a speech LoRA (has_lora_adapter), which needs peft: pip install peft. "
                    "Without it the speech would be scored without the LoRA."
                )
        return super().load()

    def speech_positions(self, seconds: float) -> int:
        fe = self.processor.audio_processor
        return int(fe._get_num_audio_features([round(seconds * self.sampling_rate)])[0])  # the extractor's formula


def tiny_granite(
    folder: str | Path,
    config_class: Any,
    model_class: Any,
    seed: int,
    hidden: int,
    layers: int,
    tokenizer: str | Path | None,
    cat_hidden_layers: list[int] | None = None,
) -> Path:
    """Granite Speech and Granite Speech Plus: one recipe; Plus concatenates ``cat_hidden_layers`` of the
    encoder to its output (32 wide each), so its projector reads a wider encoder state."""
    tok = build_tokenizer(named_tokens={"audio_token": "<|audio|>"}, base=tokenizer)
    # imported here, not at the top: where torchaudio is missing, transformers' name is a placeholder until
    # testing.backend_stand_ins puts the real class in its place
    from transformers import GraniteSpeechFeatureExtractor

    processor = GraniteSpeechProcessor(GraniteSpeechFeatureExtractor(), tok, chat_template=CHATML_TEMPLATE)
    torch.manual_seed(seed)
    encoder: dict[str, Any] = dict(input_dim=160, num_layers=layers, hidden_dim=32, num_heads=4, output_dim=16)
    if cat_hidden_layers:
        encoder["cat_hidden_layers"] = cat_hidden_layers
    config = config_class(
        text_config=dict(model_type="granite", **text_config(len(tok), hidden, layers)),
        encoder_config=encoder,
        projector_config=dict(
            model_type="blip_2_qformer",
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=4,
            intermediate_size=64,
            encoder_hidden_size=32 * (1 + len(cat_hidden_layers or [])),
            cross_attention_frequency=1,
        ),
        audio_token_index=tok.audio_token_id,
        has_lora_adapter=False,
    )
    return save_model(Path(folder), model_class(config), processor)


def tiny_model(
    folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2, tokenizer: str | Path | None = None
) -> Path:
    """A random Granite Speech (conformer encoder, Q-Former projector, Granite LM) with its processor.

    Needs torchaudio (`GraniteSpeechFeatureExtractor` computes its mel features with it).
    """
    return tiny_granite(
        folder, GraniteSpeechConfig, GraniteSpeechForConditionalGeneration, seed, hidden, layers, tokenizer
    )
