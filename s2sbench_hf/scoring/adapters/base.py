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

Hooks the families share (set or override in the family's file, never copied):

* ``pad_leaks_into_encoder``: the audio encoder lets one clip's padding change
  another clip's features (Granite Speech, Phi-4-multimodal, Gemma 3n); such
  batches are split into one forward pass per clip length.
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
import math
import os
from abc import abstractmethod
from dataclasses import dataclass
from typing import Any, Sequence

import torch
from transformers import AutoProcessor

from s2sbench_hf.model_identity import folder_content_hash
from s2sbench_hf.scoring.interface import AdapterError, ContinuationScore, Request, Scorer

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
_SENTINEL = "\ue000s2sbench-context\ue001"


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
    return torch.device(device)


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

    pad_leaks_into_encoder: bool = False
    """True when clips of different lengths in one batch change each other's scores."""
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
        model: torch.nn.Module | None = None,
        processor: Any = None,
    ):
        self.model_id = str(model_id)
        self.revision = revision
        self.trust_remote_code = trust_remote_code
        self.chat_template = bool(chat_template)
        self.attn_implementation = attn_implementation
        self._chat_parts: tuple[str, str] | None = None
        self.device = resolve_device(device) if model is None else next(model.parameters()).device
        self.dtype = resolve_dtype(dtype, self.device) if model is None else next(model.parameters()).dtype
        if model is None:
            model, processor = self.load()
            model = model.to(self.device).eval()
        self.model, self.processor = model, processor
        self.tokenizer = getattr(processor, "tokenizer", processor)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self._bos = self._leading_special_tokens()

    # -- what a family adapter provides -------------------------------------------------
    @abstractmethod
    def load(self) -> tuple[torch.nn.Module, Any]:
        """Load the model (in ``self.dtype``) and its processor or tokenizer."""

    @abstractmethod
    def prefix_inputs(self, requests: Sequence[Request]) -> dict[str, torch.Tensor]:
        """Model inputs for the left-padded prefixes (``input_ids``, ``attention_mask``, ...)."""

    # -- shared helpers -------------------------------------------------------------------
    def pretrained_kwargs(self) -> dict[str, Any]:
        """Keyword arguments every ``from_pretrained`` call of this scorer gets."""
        kwargs: dict[str, Any] = {"revision": self.revision, "trust_remote_code": self.trust_remote_code}
        return {k: v for k, v in kwargs.items() if v is not None}

    def model_kwargs(self) -> dict[str, Any]:
        """`pretrained_kwargs` plus what only the model's ``from_pretrained`` takes (dtype, attention kernel)."""
        kwargs = {**self.pretrained_kwargs(), "dtype": self.dtype}
        if self.attn_implementation:
            kwargs["attn_implementation"] = self.attn_implementation
        return kwargs

    def _leading_special_tokens(self) -> list[int]:
        """Special tokens the tokenizer puts before any text (a BOS for Llama-like models)."""
        plain = self.tokenizer("a", add_special_tokens=False)["input_ids"]
        full = self.tokenizer("a", add_special_tokens=True)["input_ids"]
        return full[: len(full) - len(plain)] if full[-len(plain) :] == plain else []

    def encode(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def text_prefix_ids(self, request: Request) -> list[int]:
        """Token ids of a text context: leading special tokens + the context (or its chat turn)."""
        context = _split_trailing_space(request.context)[0]
        if self.chat_template:
            return self.encode(self.prompt_text(context))
        return self._bos + self.encode(context)

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
        """Tokens of each continuation, split from the context as lm-evaluation-harness does.

        Text setting: ``encode(context + continuation)[len(encode(context)):]`` so that
        merges across the boundary are scored like lm-evaluation-harness. Trailing
        whitespace of the context is layout, not text: it is dropped (as from the
        prompt, `text_prefix_ids`), so the framing's separator is the only boundary
        and no whitespace token is scored that the data did not mean. After speech,
        the continuation is encoded alone: the audio markers are a token boundary. In
        chat framing the continuation is the assistant's reply: encoded alone after
        the generation prompt, its leading whitespace (the text separator) dropped.
        """
        if self.chat_template:
            return [self.encode(c.lstrip()) for c in request.continuations]
        if request.setting != "text":
            return [self.encode(c) for c in request.continuations]
        context = _split_trailing_space(request.context)[0]
        n_context = len(self.encode(context))
        return [self.encode(context + c)[n_context:] for c in request.continuations]

    def speech_positions(self, seconds: float) -> int:
        """Prompt positions that ``seconds`` of speech take, markers included (a family overrides)."""
        return 2 + math.ceil(25 * seconds)

    def token_lengths(self, request: Request) -> tuple[int, list[int]]:
        """Exact prompt and continuation token counts (speech from ``request.audio_seconds``)."""
        conts = [len(c) for c in self.continuation_ids(request)]
        if request.setting == "text":
            return len(self.text_prefix_ids(request)), conts
        speech = self.speech_positions(request.audio_seconds or 0.0)
        return len(self.encode(self.audio_prompt_text(request, ""))) + speech, conts

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
            "model_class": type(self.model).__name__,
            "num_parameters": sum(p.numel() for p in self.model.parameters()),
            "chat_template": self.chat_template,
        }
        if os.path.isdir(self.model_id):
            info["revision"] = None
            info["content_hash"] = folder_content_hash(self.model_id)
        else:
            info["revision"] = getattr(self.model.config, "_commit_hash", None) or self.revision
        return info

    # -- the scoring algorithm --------------------------------------------------------------
    def model_forward(self, **inputs: Any) -> Any:
        """One forward pass; families with unusual position ids override this."""
        return self.model(**inputs)

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
            if request.setting not in self.settings:
                raise AdapterError(
                    f"adapter {self.name!r} cannot score the {request.setting!r} setting "
                    f"(it supports: {', '.join(self.settings)}). Choose an adapter for a speech model, "
                    "or run with --settings text."
                )
        results: list[list[ContinuationScore]] = [[] for _ in requests]
        for group in self.batch_groups(requests):
            for i, scores in zip(group, self._score_group([requests[i] for i in group])):
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
                cache=cache,
                use_cache=True,
            )
            rest = torch.log_softmax(out.logits.float(), dim=-1)
            token_logprobs = torch.cat([token_logprobs, torch.gather(rest, 2, cont_ids[:, 1:, None])[..., 0]], dim=1)
        return (-(token_logprobs * cont_mask).sum(-1)).double().cpu().tolist()

    def _score_group(self, requests: Sequence[Request]) -> list[list[ContinuationScore]]:
        conts = [self.continuation_ids(r) for r in requests]
        for request, ids in zip(requests, conts):
            for j, c in enumerate(ids):
                if not c:
                    raise ValueError(
                        f"task {request.task!r}, item {request.item_id!r}: continuation {j} has no tokens. "
                        "Fix or drop the empty continuation."
                    )
        inputs = {
            k: v.to(self.device, self.dtype) if v.is_floating_point() else v.to(self.device)
            for k, v in self.prefix_inputs(requests).items()
        }
        prefix_mask = inputs["attention_mask"]
        inputs["position_ids"] = (prefix_mask.cumsum(-1) - 1).clamp(min=0)
        out = self.model_forward(**inputs, use_cache=True)
        first_logprobs = torch.log_softmax(out.logits[:, -1].float(), dim=-1)

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
            cache = out.cache if n == len(chunks) - 1 else copy.deepcopy(out.cache)  # the last pass may consume it
            values = self._continuation_pass(
                cache, first_logprobs, prefix_mask, [rows[r] for r in members], [flat[r] for r in members]
            )
            for r, value in zip(members, values):
                nll[r] = value

        results: list[list[ContinuationScore]] = []
        position = 0
        for ids in conts:
            results.append([ContinuationScore(nll[position + j], len(c)) for j, c in enumerate(ids)])
            position += len(ids)
        return results


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


def _split_trailing_space(context: str) -> tuple[str, str]:
    stripped = context.rstrip()
    return stripped, context[len(stripped) :]


_VISION_PARTS = ("image_processor", "video_processor")


def speech_only(processor_class: type) -> type:
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

    return type(processor_class.__name__, (processor_class,), {
        "check_argument_for_proper_class": check_argument_for_proper_class,
        "__doc__": f"{processor_class.__name__} without image and video processors (speech scoring).",
    })


class ProcessorAudioScorer(HFScorer):
    """A family whose own processor takes ``text`` + ``audio`` and expands one audio placeholder.

    The family file sets ``model_class``, ``input_names`` (the
    processor outputs the model takes) and the speech markup (`speech_markup`);
    prompts are rendered by the base (`audio_prompt_text`) and tokenized by the
    processor without added special tokens (the BOS, if any, is in the prompt).
    """

    settings = ("text", "audio")
    sampling_rate = 16000
    model_class: type
    input_names: tuple[str, ...] = ("input_ids", "attention_mask", "input_features")
    processor_kwargs: dict[str, Any] = {"sampling_rate": 16000}
    """Extra keyword arguments of the processor call (the audio rate, where it takes one)."""

    processor_class: type | None = None
    """Set where the family's processor also takes images or videos: it is then built by
    `speech_processor`, without loading its image and video processors."""

    def load(self) -> tuple[torch.nn.Module, Any]:
        kwargs = self.pretrained_kwargs()
        if self.processor_class is None:
            processor = AutoProcessor.from_pretrained(self.model_id, **kwargs)
        else:
            processor = self.speech_processor(self.processor_class)
        model = self.model_class.from_pretrained(self.model_id, **self.model_kwargs())
        return model, processor

    def speech_processor(self, processor_class: type) -> Any:
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
