"""``llama-mimi``: Llama-Mimi (`llm-jp/Llama-Mimi-1.3B`, ``-8B``), a plain Llama over Mimi codes, on whole clips.

What the model is, from its authors' repository (GitHub ``llm-jp/llama-mimi``):

* **Which codec.** Mimi, ``kyutai/mimi`` (24 kHz, 12.5 frames a second), loaded by that
  name in ``torchtitan/train.py``, ``inference.py`` and every ``eval/*.py``; the
  checkpoint's config does not name it.
* **How a clip becomes text** (``audio_array_to_text`` in
  ``torchtitan/datasets/hf_datasets.py``, the same in ``inference.py``): Mimi encodes
  the clip with its first ``num_quantizers`` quantizers; the codes are written frame by
  frame, each frame's codebooks in order 0..Q-1, as the strings ``<{code}_{codebook}>``,
  and the whole clip is wrapped in ``<audio>`` ... ``</audio>``. Q is the config's
  ``num_quantizers``, an attribute that ``scripts/convert_dcp_to_hf.py`` adds to the
  Llama config: 4 for both published sizes (``config/llama3_2_1b*.toml``,
  ``config/llama3_1_8b.toml``). Mimi's feature extractor, which the reference calls
  first, hands a mono clip on unchanged with a padding mask of ones (checked on
  transformers' `EncodecFeatureExtractor` without chunking, Mimi's setting), so the
  clip goes to Mimi directly here.
* **The vocabulary** (``expand_tokenizer_with_unit_tokens`` in ``torchtitan/train.py``):
  the base Llama 3 tokenizer plus ``<c_q>`` for every code c < Mimi's ``codebook_size``
  (2048) and codebook q < Q (c major, q minor), then ``<audio>`` and ``</audio>``, as
  ordinary added tokens; the embeddings are resized to it. The text is tokenized with
  the tokenizer's own special tokens: Llama 3's ``<|begin_of_text|>`` comes first.
* **How its evaluation scores a clip** (``compute_loss`` in ``eval/sStoryCloze.py``):
  one forward over ``<|begin_of_text|><audio>`` and the codes, the loss being the mean
  cross-entropy of the tokens at positions 2, 2+Q, 2+2Q, ...: codebook 0 of every frame
  (Mimi's semantic codebook), and also the closing ``</audio>``, which falls on the
  same stride; the clip of lower loss wins. Clips are cut at 20 s there
  (``max_seconds``), the language model runs in float16 and Mimi in float32.

This adapter builds the same token sequence (``</audio>`` left out) in the
``utterance`` setting: a clip on its own, no context. A clip's score is the NLL of its codebook-0
tokens summed (``nll_sum``) and its number of frames (``n_tokens``), so the mean is
per 80 ms frame. Where it differs from the reference, on purpose: ``</audio>`` is not
scored (it is how the model ends speech, not the clip's content, and the mean stays
per frame); a clip is never cut (a long one is scored whole, past the 1024-token,
about 20 s, windows it was trained on, up to the model's positions); Mimi runs in
float32 whatever ``--dtype`` (its nearest-centroid choice is the token scored).
The audio tokens' ids are looked up by their strings in the checkpoint's tokenizer,
so no id is assumed (the offsets above are not needed).

That the published configs carry ``num_quantizers`` is read from the authors' own
evaluation, not from a checkpoint (none can be read here): ``eval/sLM21.py`` and
``eval/sStoryCloze.py`` take Q from ``model.config.num_quantizers`` of the
checkpoint they load (``llm-jp/Llama-Mimi-1.3B`` by default). Taken as the most
plausible: that no checkpoint names its Mimi: ``kyutai/mimi`` is loaded, unless the
``mimi_model`` option names another or a local model folder holds one in ``mimi/``
(the tiny model's).

The family is detected from its config (`FAMILY.config_marks`): a plain ``llama``
model type, which would go to ``causal-lm``, with the ``num_quantizers`` key that
only a Llama-Mimi config has; this adapter refuses a config without it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM, MimiModel

from s2sbench_hf.scoring.adapters.base import HFScorer
from s2sbench_hf.scoring.checkpoint import load_pretrained
from s2sbench_hf.scoring.family import Family
from s2sbench_hf.scoring.interface import AdapterError, ContinuationScore, Request
from s2sbench_hf.scoring.mimi import mimi_codes, mimi_frames
from s2sbench_hf.scoring.tiny import build_tokenizer, save_model, spread_codebooks, text_config, tiny_mimi_config

FAMILY = Family(
    name="llama-mimi",
    scorer="LlamaMimiScorer",
    config_marks=(("llama", "num_quantizers"),),
    note=(
        "`llm-jp/Llama-Mimi-1.3B`, `llm-jp/Llama-Mimi-8B`; detected from a `llama` config with `num_quantizers` "
        "(which its conversion adds and its own evaluation reads; `--adapter causal-lm` scores it as text); the "
        "`utterance` setting only: a "
        "Llama over 4 Mimi codebooks interleaved per frame, scored on codebook 0 per 80 ms frame as its own "
        "evaluation does; see docs/speech-output.md"
    ),
)

AUDIO_START, AUDIO_END = "<audio>", "</audio>"
"""The tokens that open and close a clip."""

DEFAULT_MIMI = "kyutai/mimi"
"""The Mimi the authors' code loads by name (the checkpoint names none)."""

MIMI_FOLDER = "mimi"
"""A local model folder's own Mimi, if it has one (the tiny model's)."""


def code_token(code: int, codebook: int) -> str:
    """The token of one Mimi code: ``<{code}_{codebook}>``."""
    return f"<{code}_{codebook}>"


class LlamaMimiScorer(HFScorer):
    """Llama-Mimi on whole clips: each clip's codebook-0 tokens after ``<audio>`` (module docstring)."""

    name = FAMILY.name
    settings = ("utterance",)
    sampling_rate = 24000
    audio_window_seconds = None  # Mimi encodes a clip of any length: the positions are the bound
    max_audio_windows = None

    def __init__(self, model_id: str, *, mimi_model: str | None = None, **kwargs: Any):
        """``mimi_model``: the Mimi that encodes the clips (a folder or a Hub id; default: the model folder's
        ``mimi/``, else `DEFAULT_MIMI`)."""
        if kwargs.get("chat_template"):
            raise AdapterError("Llama-Mimi has no chat template: it models speech tokens. Run without --chat-template.")
        super().__init__(model_id, **kwargs)
        num_quantizers = getattr(self.config, "num_quantizers", None)
        if not isinstance(num_quantizers, int):
            raise AdapterError(
                f"{model_id!r} is no Llama-Mimi checkpoint: its config has no num_quantizers (the Mimi codebooks of "
                "a frame). Choose another adapter (a text LM: --adapter causal-lm)."
            )
        self.num_quantizers = num_quantizers
        self.mimi_model = mimi_model or self.default_mimi()
        self.mimi = load_pretrained(MimiModel, self.mimi_model, dtype=torch.float32, device_map=self.device).eval()
        self.sampling_rate = self.mimi.config.sampling_rate
        self.code_ids = self.audio_token_ids()
        self.prompt = [*self._bos, self.vocab_id(AUDIO_START)]
        """What precedes every clip: the tokenizer's leading special tokens (Llama 3's BOS), then ``<audio>``."""

    def load(self) -> tuple[torch.nn.Module, Any]:
        tokenizer = AutoTokenizer.from_pretrained(self.model_id, **self.pretrained_kwargs())
        return load_pretrained(AutoModelForCausalLM, self.model_id, **self.model_kwargs()), tokenizer

    def default_mimi(self) -> str:
        """The model folder's own Mimi (`MIMI_FOLDER`) where it is a local folder that has one; else `DEFAULT_MIMI`."""
        local = Path(os.path.expanduser(self.model_id)) / MIMI_FOLDER
        return str(local) if local.is_dir() else DEFAULT_MIMI

    def vocab_id(self, token: str) -> int:
        """The id of one audio token in the checkpoint's tokenizer; an `AdapterError` where it has none."""
        found = self.tokenizer.get_vocab().get(token)
        if found is None:
            raise AdapterError(f"{self.model_id!r}: its tokenizer has no {token!r}, so it is no Llama-Mimi tokenizer.")
        return int(found)

    def audio_token_ids(self) -> torch.Tensor:
        """The ids of every ``<code_codebook>`` token, as a table (num_quantizers, codebook_size)."""
        vocab = self.tokenizer.get_vocab()
        size = self.mimi.config.codebook_size
        names = [code_token(code, q) for q in range(self.num_quantizers) for code in range(size)]
        missing = [name for name in names if name not in vocab]
        if missing:
            raise AdapterError(
                f"{self.model_id!r}: its tokenizer lacks {len(missing)} of the {len(names)} audio tokens of "
                f"{self.num_quantizers} codebooks of {size} codes (e.g. {missing[0]!r}): check --adapter and "
                "mimi_model."
            )
        return torch.tensor([vocab[name] for name in names], device=self.device).view(self.num_quantizers, size)

    def describe(self) -> dict[str, Any]:
        """The base's record, with what a clip's score sums over and which Mimi made the codes."""
        frame_ms = 1000 / self.mimi.config.frame_rate
        return {
            **super().describe(),
            "speech_tokens": (
                f"Mimi ({self.mimi_model}) codebook 0 (semantic) of {self.num_quantizers} interleaved per frame, one "
                f"token per {frame_ms:g} ms frame"
            ),
        }

    def token_lengths(self, request: Request) -> tuple[int, list[int]]:
        """The prompt's tokens and each clip's positions (its frames times the codebooks), from
        ``continuation_seconds``; an `ItemError` past the model's positions."""
        conts = [self.num_quantizers * mimi_frames(s, self.mimi.config) for s in request.continuation_seconds or ()]
        self.check_positions(request, len(self.prompt), conts)
        return len(self.prompt), conts

    def prefix_inputs(self, requests: Sequence[Request]) -> dict[str, torch.Tensor]:
        """The prompt of each request: `prompt` (a clip has no context)."""
        return self.pad_text_prefixes([self.prompt for _ in requests])

    def clip_ids(self, codes: torch.Tensor) -> torch.Tensor:
        """The token ids of one clip's codes (Q, frames) after the prompt: frame by frame, codebooks 0..Q-1."""
        audio = self.code_ids.gather(1, codes).T.reshape(-1)
        return torch.cat([torch.tensor(self.prompt, device=self.device), audio])

    def codebook0_nll(self, codes: Sequence[torch.Tensor]) -> list[float]:
        """Summed NLL of each clip's codebook-0 tokens, the clips right-padded into one forward pass.

        Codebook 0 of frame t sits at position ``len(prompt) + Q t`` in every row, so one set of positions
        (``logits_to_keep``) serves the whole batch, and the LM head runs only where a token is scored.
        """
        rows = [self.clip_ids(c) for c in codes]
        width = max(len(row) for row in rows)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.stack([torch.nn.functional.pad(row, (0, width - len(row)), value=pad) for row in rows])
        attention_mask = torch.stack(
            [torch.nn.functional.pad(torch.ones_like(row), (0, width - len(row))) for row in rows]
        )
        frames = torch.tensor([c.shape[1] for c in codes], device=self.device)
        targets = len(self.prompt) + self.num_quantizers * torch.arange(int(frames.max()), device=self.device)
        logits = self.model(input_ids=input_ids, attention_mask=attention_mask, logits_to_keep=targets - 1).logits
        logprobs = torch.log_softmax(logits.float(), dim=-1).gather(2, input_ids[:, targets, None])[..., 0]
        scored = torch.arange(len(targets), device=self.device)[None] < frames[:, None]
        return (-(logprobs * scored).sum(-1)).double().cpu().tolist()

    def _score_group(self, requests: Sequence[Request]) -> list[list[ContinuationScore]]:
        clips = []
        for request in requests:
            if request.continuation_audio is None:
                raise AdapterError(f"task {request.task!r}, item {request.item_id!r}: an utterance without its clips.")
            codes = [mimi_codes(self.mimi, clip, self.num_quantizers) for clip in request.continuation_audio]
            self.check_positions(request, len(self.prompt), [c.numel() for c in codes])  # the real frames
            clips.append(codes)
        nll = iter(self.codebook0_nll([c for codes in clips for c in codes]))
        return [[ContinuationScore(next(nll), c.shape[1]) for c in codes] for codes in clips]


def tiny_model(
    folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2, tokenizer: str | Path | None = None
) -> Path:
    """A random Llama-Mimi: a tiny Mimi (4 codebooks of 32 codes, its real 24 kHz rate and 80 ms frames) saved in
    `MIMI_FOLDER`, and a small Llama whose tokenizer adds the audio tokens as the real one does (every
    ``<code_codebook>``, then ``<audio>``, ``</audio>``) and starts every text with a BOS, as Llama 3's does.

    ``tokenizer``: build on this one instead (`build_tokenizer`'s ``base``): the adapter looks the audio tokens up
    by their strings, so no id is pinned.
    """
    codebooks, codebook_size = 4, 32
    bos, eos = "<|begin_of_text|>", "<|end_of_text|>"
    tok = build_tokenizer(
        special_tokens=[bos, eos], bos_token=bos, eos_token=eos, pad_token=eos, chat_template=None, base=tokenizer
    )
    if tokenizer is None:
        tok.add_bos_token = True  # type: ignore[misc]  # a property with a setter, typed as read-only
    tok.add_tokens(
        [code_token(c, q) for c in range(codebook_size) for q in range(codebooks)] + [AUDIO_START, AUDIO_END]
    )
    torch.manual_seed(seed)
    mimi = MimiModel(tiny_mimi_config(codebooks, codebook_size))
    spread_codebooks(mimi)
    save_model(Path(folder) / MIMI_FOLDER, mimi)
    config = LlamaConfig(
        **text_config(len(tok), hidden, layers),
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    config.num_quantizers = codebooks  # as the authors' conversion script adds it to the Llama config
    return save_model(Path(folder), LlamaForCausalLM(config), tok)
