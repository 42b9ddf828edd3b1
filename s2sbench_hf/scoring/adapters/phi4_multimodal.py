"""``phi4-multimodal``: `Phi4MultimodalForCausalLM` (Microsoft Phi-4-multimodal), text and audio.

Speech is the audio placeholder (``<|endoftext11|>``, the config's
``audio_config.audio_token_id``) repeated once per encoder output frame (the
feature extractor's ``audio_embed_sizes``). `Phi4MultimodalProcessor` cannot be
built without its image processor (which needs torchvision) and speech never
uses it, so the processor is assembled from the feature extractor and the
tokenizer. Features are padded to the longest clip and that padding changes
the other clips' encoder outputs: batches are split by clip length
(``pad_leaks_into_encoder``).

Phi-4-multimodal routes each modality through its own LoRA: when the checkpoint
has a ``speech-lora`` folder, it is loaded with peft (``pip install peft``) and
active for the audio setting only; the text setting runs the base weights, as
the model does for text input. ``describe()`` records whether it was loaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoFeatureExtractor,
    AutoTokenizer,
    Phi4MultimodalConfig,
    Phi4MultimodalFeatureExtractor,
    Phi4MultimodalForCausalLM,
    PreTrainedModel,
)
from transformers.utils import cached_file

from s2sbench_hf.scoring.adapters.base import HFScorer, ProcessorParts
from s2sbench_hf.scoring.checkpoint import load_pretrained
from s2sbench_hf.scoring.family import Family
from s2sbench_hf.scoring.interface import AdapterError, Request
from s2sbench_hf.scoring.tiny import (
    build_tokenizer,
    save_model,
    text_config,
)

FAMILY = Family(
    name="phi4-multimodal",
    scorer="Phi4MultimodalScorer",
    model_types=("phi4_multimodal",),
    note=(
        "`microsoft/Phi-4-multimodal-instruct`; its `speech-lora` is loaded with peft and active in the audio"
        " setting only"
    ),
)


SPEECH_LORA = "speech-lora"


class Phi4MultimodalScorer(HFScorer):
    name = FAMILY.name
    settings = ("text", "audio")
    sampling_rate = 16000
    pad_leaks_into_encoder = True
    audio_window_seconds = None  # its feature extractor and encoder take a clip of any length

    def load(self) -> tuple[torch.nn.Module, Any]:
        kwargs = self.pretrained_kwargs()
        parts = ProcessorParts(
            AutoFeatureExtractor.from_pretrained(self.model_id, **kwargs),
            AutoTokenizer.from_pretrained(self.model_id, **kwargs),
        )
        model = load_pretrained(Phi4MultimodalForCausalLM, self.model_id, **self.model_kwargs())
        self.speech_lora = self._load_speech_lora(model, kwargs)
        return model, parts

    def _load_speech_lora(self, model: PreTrainedModel, kwargs: dict[str, Any]) -> bool:
        found = cached_file(
            self.model_id, f"{SPEECH_LORA}/adapter_config.json", _raise_exceptions_for_missing_entries=False, **kwargs
        )
        if found is None:
            return False
        try:
            model.load_adapter(
                self.model_id, adapter_name="speech", adapter_kwargs={"subfolder": SPEECH_LORA, **kwargs}
            )
        except ImportError as err:
            raise AdapterError(
                f"{self.model_id!r} has a speech LoRA, which needs peft: pip install peft ({err})."
            ) from err
        return True

    def _route(self, setting: str) -> None:
        """The speech LoRA for speech input, the base weights for text."""
        if not getattr(self, "speech_lora", False):
            return
        if setting == "audio":
            self.model.enable_adapters()
            self.model.set_adapter("speech")
        else:
            self.model.disable_adapters()

    def speech_positions(self, seconds: float) -> int:
        fe = self.processor.feature_extractor
        samples = round(seconds * self.sampling_rate)
        frames = max((samples - fe.win_length) // fe.hop_length + 1, 1) * fe.audio_feat_stride
        return int(fe._compute_audio_embed_size(torch.tensor([frames]))[0])  # the extractor's own formula

    def prefix_inputs(self, requests: Sequence[Request]) -> dict[str, torch.Tensor]:
        self._route(requests[0].setting)
        if requests[0].setting == "text":
            return self.pad_text_prefixes([self.text_prefix_ids(r) for r in requests])
        features = self.processor.feature_extractor(
            [r.audio for r in requests], sampling_rate=self.sampling_rate, return_tensors="pt"
        )
        placeholder = self.tokenizer.convert_ids_to_tokens(self.model.config.audio_config.audio_token_id)
        sizes = features["audio_embed_sizes"].tolist()
        ids = [
            self.encode(self.audio_prompt_text(r, placeholder * int(n))) for r, n in zip(requests, sizes, strict=True)
        ]
        inputs = self.pad_text_prefixes(ids)
        for name in ("audio_input_features", "audio_embed_sizes", "audio_attention_mask"):
            if name in features:  # the mask comes only with a batch of several clips
                inputs[name] = features[name]
        return inputs

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "speech_lora": bool(getattr(self, "speech_lora", False))}


def tiny_model(
    folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2, tokenizer: str | Path | None = None
) -> Path:
    """A random Phi-4-multimodal (conformer audio encoder, tiny vision tower) with feature extractor and tokenizer."""
    tok = build_tokenizer(
        named_tokens={"audio_token": "<|endoftext11|>", "image_token": "<|endoftext10|>"}, base=tokenizer
    )
    torch.manual_seed(seed)
    text = text_config(len(tok), hidden, layers)
    config = Phi4MultimodalConfig(
        **text,
        original_max_position_embeddings=text["max_position_embeddings"],
        bos_token_id=None,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        vision_config=dict(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=1,
            num_attention_heads=2,
            image_size=28,
            crop_size=28,
            patch_size=14,
            image_token_id=tok.image_token_id,
        ),
        audio_config=dict(
            hidden_size=32,
            intermediate_size=64,
            num_blocks=layers,
            num_attention_heads=4,
            ext_pw_out_channel=32,
            depthwise_separable_out_channel=32,
            nemo_conv_channels=32,
            audio_token_id=tok.audio_token_id,
        ),
    )
    return save_model(Path(folder), Phi4MultimodalForCausalLM(config), tok, Phi4MultimodalFeatureExtractor())
