"""``voxtral``: `VoxtralForConditionalGeneration` (Mistral's Voxtral), text and audio.

Speech is ``[BEGIN_AUDIO]`` + 375 ``[AUDIO]`` placeholders per started 30 s
chunk: each clip is padded on its own to a multiple of 30 s and its mel
features are cut into 3000-frame chunks, as `VoxtralProcessor` does (its
``__call__`` refuses audio; only its mistral-common chat path takes it). The
real checkpoints' tokenizer is mistral-common's (`MistralCommonBackend`, which
never parses special tokens out of text), so prompts are assembled as token
ids: ``<s>`` + framing + ``[BEGIN_AUDIO]`` + placeholders, and in chat framing
``<s>[INST]`` + user turn + ``[/INST]``, Mistral's instruct format.
The placeholders of a chunk take the encoder's outputs over the whole chunk,
padding included, so the window is never trimmed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoFeatureExtractor,
    AutoTokenizer,
    VoxtralConfig,
    VoxtralForConditionalGeneration,
    WhisperFeatureExtractor,
)

from s2sbench_hf.real_tokenizers import tekken_special_tokens
from s2sbench_hf.scoring.adapters.base import HFScorer, ProcessorParts
from s2sbench_hf.scoring.checkpoint import load_pretrained
from s2sbench_hf.scoring.family import Family
from s2sbench_hf.scoring.interface import AdapterError, Request
from s2sbench_hf.scoring.tiny import (
    TinyModelError,
    build_tokenizer,
    save_model,
    text_config,
    token_id,
)

FAMILY = Family(
    name="voxtral",
    scorer="VoxtralScorer",
    model_types=("voxtral",),
    note=(
        "`mistralai/Voxtral-Mini-3B-2507`, `mistralai/Voxtral-Small-24B-2507`; real checkpoints need `pip "
        "install mistral-common` (their tokenizer)"
    ),
)


CHUNK_SECONDS = 30
POSITIONS_PER_CHUNK = 375


class VoxtralScorer(HFScorer):
    name = FAMILY.name
    settings = ("text", "audio")
    sampling_rate = 16000
    audio_window_seconds = CHUNK_SECONDS
    max_audio_windows = None  # any number of chunks, each its own 375 placeholders

    def load(self) -> tuple[torch.nn.Module, Any]:
        kwargs = self.pretrained_kwargs()
        try:
            tokenizer = AutoTokenizer.from_pretrained(self.model_id, **kwargs)
        except (ImportError, ValueError, OSError) as err:
            raise AdapterError(
                f"cannot load the tokenizer of {self.model_id!r} ({err}). Voxtral checkpoints use mistral-common's "
                "tokenizer: pip install mistral-common."
            ) from err
        parts = ProcessorParts(AutoFeatureExtractor.from_pretrained(self.model_id, **kwargs), tokenizer)
        model = load_pretrained(VoxtralForConditionalGeneration, self.model_id, **self.model_kwargs())
        return model, parts

    def _special_id(self, token: str) -> int:
        token_id = self.tokenizer.convert_tokens_to_ids(token)
        if token_id is None or token_id == self.tokenizer.unk_token_id:
            raise AdapterError(f"the tokenizer of {self.model_id!r} has no {token} token; is it a Voxtral tokenizer?")
        return token_id

    def prompt_ids(self, body: list[int]) -> list[int]:
        """``<s>`` + body, or ``<s>[INST]`` + body + ``[/INST]`` in chat framing."""
        if self.chat_template:
            return self._bos + [self._special_id("[INST]")] + body + [self._special_id("[/INST]")]
        return self._bos + body

    def text_prefix_ids(self, request: Request) -> list[int]:
        return self.prompt_ids(self.encode(request.context))

    def chat_parts(self) -> tuple[str, str]:  # prompts are built as ids (prompt_ids), never as chat text
        raise NotImplementedError

    def speech_ids(self, seconds: float) -> list[int]:
        chunks = self.audio_windows(seconds)
        return [self._special_id("[BEGIN_AUDIO]")] + [self.model.config.audio_token_id] * (POSITIONS_PER_CHUNK * chunks)

    def speech_positions(self, seconds: float) -> int:
        return len(self.speech_ids(seconds))

    def prompt_length(self, request: Request) -> int:
        if request.setting == "text":
            return len(self.text_prefix_ids(request))
        return len(self.prompt_ids(self.encode(request.context))) + self.speech_positions(request.audio_seconds or 0.0)

    def prefix_inputs(self, requests: Sequence[Request]) -> dict[str, torch.Tensor]:
        if requests[0].setting == "text":
            return self.pad_text_prefixes([self.text_prefix_ids(r) for r in requests])
        chunks, ids = [], []
        for r in requests:
            features = self.processor.feature_extractor(
                r.audio,
                sampling_rate=self.sampling_rate,
                padding=True,
                truncation=False,
                pad_to_multiple_of=CHUNK_SECONDS * self.sampling_rate,
                return_tensors="pt",
            )["input_features"]  # (1, mel, frames), frames a multiple of 3000
            mel = features.shape[1]
            per_chunk = features.reshape(mel, -1, 3000).transpose(0, 1)  # (chunks, mel, 3000)
            chunks.append(per_chunk)
            seconds = per_chunk.shape[0] * CHUNK_SECONDS
            ids.append(self.prompt_ids(self.encode(r.context) + self.speech_ids(seconds)))
        inputs = self.pad_text_prefixes(ids)
        inputs["input_features"] = torch.cat(chunks)
        return inputs


VOXTRAL_SPECIAL_TOKENS = tekken_special_tokens()[:26]
"""Tekken's first special tokens, through ``[BEGIN_AUDIO]`` (id 25), as the real Tekken lays them out
(`real_tokenizers.tekken_special_tokens`): ``[AUDIO]`` is id 24, which `VoxtralProcessor` hard-codes."""


def tiny_model(
    folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2, tokenizer: str | Path | None = None
) -> Path:
    """A random Voxtral with a fast tokenizer laid out like Tekken's specials (the real one is mistral-common's).

    On a given ``tokenizer``, ``[AUDIO]`` must already be id 24 (`VoxtralProcessor` hard-codes it).
    """
    tok = build_tokenizer(
        special_tokens=VOXTRAL_SPECIAL_TOKENS,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        chat_template=None,
        base=tokenizer,
    )
    if token_id(tok, "[AUDIO]") != 24:
        raise TinyModelError(
            f"voxtral: VoxtralProcessor hard-codes [AUDIO] as token id 24, and tokenizer {str(tokenizer)!r} has it "
            f"at id {token_id(tok, '[AUDIO]')}: build Voxtral on a Tekken vocabulary."
        )
    torch.manual_seed(seed)
    config = VoxtralConfig(
        audio_config=dict(
            hidden_size=32, intermediate_size=128, num_hidden_layers=layers, num_attention_heads=4, num_mel_bins=128
        ),
        text_config=dict(model_type="llama", **text_config(len(tok), hidden, layers), head_dim=hidden // 4),
        audio_token_id=24,
    )
    model = VoxtralForConditionalGeneration(config)
    return save_model(Path(folder), model, tok, WhisperFeatureExtractor(feature_size=128))
