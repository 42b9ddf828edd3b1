"""``qwen2.5-omni``: the thinker of Qwen2.5-Omni (`Qwen2_5OmniThinkerForConditionalGeneration`), text and audio.

Loads a thinker-only checkpoint, or the thinker out of a full
`Qwen2_5OmniForConditionalGeneration` checkpoint (``model_type`` ``qwen2_5_omni``,
e.g. Qwen/Qwen2.5-Omni-7B): the talker and the vocoder are not loaded.

Speech is ``<|audio_bos|>`` + one ``<|AUDIO|>`` per encoder frame + ``<|audio_eos|>``
(25 per second; Qwen2.5-Omni pads the features to its 30 s window, and a longer
clip is cut into consecutive 30 s windows, each its own markers in the prompt,
as the processor takes several audio segments per prompt). The thinker drops
the padded feature frames before its encoder, so a batch's features are cut to
its longest clip (``trim_encoder``, the base's `trim_audio`). The Omni processors
insist on image and video processors, which speech scoring never uses (and
which need torchvision), so the processor is assembled from its parts: the
feature extractor and the tokenizer, with the placeholders expanded here by the
processor module's own length formula.

Positions: the thinker uses 3-D rotary positions. For a prompt with audio and
text only, its three rows are equal and sequential (``get_rope_index`` gives
images and videos their own grids, audio a plain range), so the base's 2-D
positions are broadcast to 3-D in `model_forward`; the tests compare with the
model's own position computation.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch
from transformers import (
    AutoConfig,
    AutoFeatureExtractor,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerFast,
    Qwen2_5OmniThinkerConfig,
    Qwen2_5OmniThinkerForConditionalGeneration,
    WhisperFeatureExtractor,
)

from s2sbench_hf.scoring.adapters.base import HFScorer, ProcessorParts
from s2sbench_hf.scoring.checkpoint import load_pretrained
from s2sbench_hf.scoring.family import Family
from s2sbench_hf.scoring.interface import AdapterError, Request
from s2sbench_hf.scoring.tiny import (
    build_tokenizer,
    save_model,
    text_config,
    token_id,
    whisper_encoder,
)

FAMILY = Family(
    name="qwen2.5-omni",
    scorer="Qwen25OmniScorer",
    model_types=("qwen2_5_omni", "qwen2_5_omni_thinker"),
    note=(
        "`Qwen/Qwen2.5-Omni-7B`, `Qwen/Qwen2.5-Omni-3B`; the thinker only: its talker speaks the thinker's "
        "text (its codec tokens follow the text's hidden states), so it cannot score a spoken continuation "
        "without the continuation's words"
    ),
)


class Qwen25OmniScorer(HFScorer):
    name = FAMILY.name
    settings = ("text", "audio")
    sampling_rate = 16000
    thinker_class: type[PreTrainedModel] = Qwen2_5OmniThinkerForConditionalGeneration
    feature_kwargs: ClassVar[dict[str, Any]] = {"padding": "max_length"}
    """How the family's processor calls its feature extractor."""
    audio_markers = ("<|audio_bos|>", "<|AUDIO|>", "<|audio_eos|>")
    """Start, placeholder and end of a clip, when the tokenizer does not name them."""

    @staticmethod
    def audio_token_counts(feature_lengths: torch.Tensor) -> torch.Tensor:
        """LM positions per clip from its number of feature frames: the processor's formula (two stride-2 steps,
        the encoder's convolution then its pooling), written here because transformers before 5.23 has it only as a
        method of the audio encoder, not as the processor's function (test_adapters checks it against the processor's
        real expansion)."""
        after_conv = (feature_lengths - 1) // 2 + 1
        return (after_conv - 2) // 2 + 1

    max_audio_windows = None
    trim_encoder = True  # the thinker drops padded frames before its encoder (`get_audio_features`)

    def speech_positions(self, seconds: float) -> int:
        frames = self.window_frames(seconds)
        return 2 * len(frames) + int(self.audio_token_counts(torch.tensor(frames)).sum())

    def load(self) -> tuple[torch.nn.Module, Any]:
        kwargs = self.pretrained_kwargs()
        config = AutoConfig.from_pretrained(self.model_id, **kwargs)
        config = getattr(config, "thinker_config", config)  # a full Omni checkpoint: its thinker
        model = load_pretrained(self.thinker_class, self.model_id, config=config, **self.model_kwargs())
        parts = ProcessorParts(
            feature_extractor=AutoFeatureExtractor.from_pretrained(self.model_id, **kwargs),
            tokenizer=AutoTokenizer.from_pretrained(self.model_id, **kwargs),
        )
        return model, parts

    def speech_markers(self) -> tuple[str, str, str]:
        tok = self.tokenizer
        start, audio, end = (
            getattr(tok, "audio_bos_token", None) or self.audio_markers[0],
            getattr(tok, "audio_token", None) or self.audio_markers[1],
            getattr(tok, "audio_eos_token", None) or self.audio_markers[2],
        )
        config = self.model.config
        expected = getattr(config, "audio_token_id", None) or getattr(config, "audio_token_index", None)
        if expected is not None and tok.convert_tokens_to_ids(audio) != expected:
            raise AdapterError(
                f"{self.model_id!r}: the tokenizer's audio placeholder {audio!r} is not the model's audio token "
                f"id {expected}; check that the tokenizer belongs to this model."
            )
        return start, audio, end

    def prefix_inputs(self, requests: Sequence[Request]) -> dict[str, torch.Tensor]:
        if requests[0].setting == "text":
            return self.pad_text_prefixes([self.text_prefix_ids(r) for r in requests])
        windows = [self.split_audio(r.audio) for r in requests]
        features = self.processor.feature_extractor(
            [window for clip in windows for window in clip],
            sampling_rate=self.sampling_rate,
            return_attention_mask=True,
            return_tensors="pt",
            **self.feature_kwargs,
        )
        counts = iter(self.audio_token_counts(features["attention_mask"].sum(-1)).tolist())
        start, audio, end = self.speech_markers()
        speech = ["".join(start + audio * int(next(counts)) + end for _ in clip) for clip in windows]
        ids = [self.encode(self.audio_prompt_text(r, markup)) for r, markup in zip(requests, speech, strict=True)]
        inputs = self.pad_text_prefixes(ids)
        inputs["input_features"] = features["input_features"]
        inputs["feature_attention_mask"] = features["attention_mask"]
        return inputs

    def model_forward(self, **inputs: Any) -> Any:
        position_ids = inputs.get("position_ids")
        if position_ids is not None and position_ids.ndim == 2:
            inputs["position_ids"] = position_ids[None].expand(3, -1, -1)
        return self.model(**inputs)


OMNI_VISION = dict(depth=1, hidden_size=32, intermediate_size=64, num_heads=2)
"""The Omni thinkers always build a vision tower: the smallest one (never run in speech scoring)."""


def omni_tokens(
    named: dict[str, str], base: str | Path | None
) -> tuple[PreTrainedTokenizerFast, dict[str, int], dict[str, Any]]:
    """An Omni thinker's tokenizer with its special tokens (``named``: role -> its vocabulary's string), their ids by
    role, and the vision start/end ids under the names its rope index reads: not fields of the thinker's config
    (which keeps unknown keywords), so a tiny config must be given them."""
    tok = build_tokenizer(named_tokens=named, base=base)
    ids = {role: token_id(tok, text) for role, text in named.items()}
    extra = {"vision_start_token_id": ids["vision_bos_token"], "vision_end_token_id": ids["vision_eos_token"]}
    return tok, ids, extra


def tiny_model(
    folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2, tokenizer: str | Path | None = None
) -> Path:
    """A random Qwen2.5-Omni thinker, with its feature extractor and tokenizer (no image/video processor)."""
    named = {
        "audio_token": "<|AUDIO|>",
        "audio_bos_token": "<|audio_bos|>",
        "audio_eos_token": "<|audio_eos|>",
        "image_token": "<|IMAGE|>",
        "video_token": "<|VIDEO|>",
        "vision_bos_token": "<|vision_bos|>",
        "vision_eos_token": "<|vision_eos|>",
    }
    tok, ids, extra = omni_tokens(named, tokenizer)
    torch.manual_seed(seed)
    config = Qwen2_5OmniThinkerConfig(
        audio_config=whisper_encoder(layers, 32, output_dim=hidden),
        vision_config=dict(OMNI_VISION, out_hidden_size=hidden, fullatt_block_indexes=[0]),
        text_config=dict(
            **text_config(len(tok), hidden, layers),
            rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]},
        ),
        audio_token_index=ids["audio_token"],
        image_token_index=ids["image_token"],
        video_token_index=ids["video_token"],
        audio_start_token_id=ids["audio_bos_token"],
        audio_end_token_id=ids["audio_eos_token"],
        **extra,
    )
    model = Qwen2_5OmniThinkerForConditionalGeneration(config)
    return save_model(Path(folder), model, tok, WhisperFeatureExtractor(feature_size=128))
