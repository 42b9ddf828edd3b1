"""``moshi``: `MoshiForConditionalGeneration` (Kyutai's Moshi and its Mimi codec), in all settings, utterances too.

Moshi reads and writes time-aligned streams at Mimi's 12.5 frames a second. A
frame holds a text token (Moshi's inner monologue: the words of its own speech,
the text padding token between them), Moshi's own speech (K Mimi codebooks) and
the user's speech (K codebooks). The temporal transformer reads every stream of
the frames so far and predicts the next frame's text token; its depth
transformer then predicts Moshi's audio codes of that frame, codebook by
codebook, given the text token. The user's stream is read, never predicted. As
Moshi's ``generate`` does, codebooks 1..K-1 of both speech streams are fed one
frame late (the acoustic delay, `MoshiForConditionalGeneration.build_delay_pattern_mask`)
and the sequence starts with the initial frame (text token ``vocab_size``, audio
token ``audio_vocab_size``).

Streams have no "before" and "after" of their own, so "a context, then a
continuation" is written down frame by frame, the same way in every setting
(`Frames`), and follows what each stream means:

* the initial frame;
* a **text prompt** (the context, or the framing text before speech) on Moshi's
  text stream, one token a frame, both speech streams silent: Moshi thinks it;
* a **spoken context** on the **user's** stream, one Mimi frame a frame, Moshi's
  text stream padding and its speech silent: Moshi listens to it (the only
  stream with speech and no words is the user's; Moshi's own speech always
  comes with its words);
* a **text continuation** on Moshi's text stream, one token a frame, speech
  silent; scored by the text head (NLL per token);
* a **spoken continuation** on Moshi's own speech stream, its text stream
  padding, the user silent: Moshi says it. Scored by the depth transformer: the
  NLL of **Mimi's codebook 0** (the semantic codebook, distilled from WavLM:
  what spoken StoryCloze evaluations score) of each frame, given the frame's
  text token; ``n_tokens`` is the number of frames, so the mean is per 80 ms
  frame (`MoshiScorer.speech_tokens`, recorded in ``model.speech_tokens``).
  The acoustic codebooks 1..K-1 are not scored: they are residuals of voice
  and recording detail rather than content (scoring them would weigh a
  continuation's voice K-1 times as much as its meaning), and with the
  acoustic delay a frame's acoustic codes are predicted one step later, after
  the next frame's semantic token: the last frame's would depend on a frame
  that is neither context nor continuation.
* an **utterance** (a speech-LM set's whole clip) is a spoken continuation
  after an empty context: the initial frame alone is the prompt, and the clip,
  on Moshi's own stream, is scored exactly as above, from its first frame.

"Silent" is the Mimi codes of one frame of zeros, repeated (the blank user
input of ``generate``). The text stream of a spoken continuation is padding
because the data has no word timings to place its words at (Moshi aligns them
to its speech); the score is therefore the likelihood of the speech given no
inner monologue, the same condition for every continuation. The prompt (up to
its last frame) is a function of the context alone, so it runs once and every
continuation continues its KV cache; what a continuation's first frame feeds
from the prompt's last frame (the delayed codebooks) goes with the
continuation. Each clip is encoded by Mimi on its own, so no clip is padded.

Limits: Mimi encodes a clip of any length (causal convolutions and a causal
sliding-window transformer), so there is no audio window
(``audio_window_seconds = None``); the bound is the temporal transformer's
positions (``max_position_embeddings``, 3000 frames = 4 minutes for Kyutai's
checkpoints), checked per item before any work (`token_lengths`) and again on
the real frames; past it an item is an `ItemError`, never cut.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import AutoTokenizer, MoshiConfig, MoshiForConditionalGeneration

from s2sbench_hf.scoring.adapters.base import CACHE, HFScorer, check_continuations
from s2sbench_hf.scoring.checkpoint import load_pretrained
from s2sbench_hf.scoring.family import Family
from s2sbench_hf.scoring.interface import AdapterError, ContinuationScore, Request
from s2sbench_hf.scoring.mimi import frame_samples, mimi_codes, mimi_frames
from s2sbench_hf.scoring.tiny import (
    build_tokenizer,
    refuse_tokenizer,
    save_model,
    spread_codebooks,
    tiny_mimi_config,
)
from s2sbench_hf.tasks import ALL_SETTINGS, SPEECH_CONTEXT, SPEECH_CONTINUATION

FAMILY = Family(
    name="moshi",
    scorer="MoshiScorer",
    model_types=("moshi",),
    note=(
        "`kmhf/hf-moshiko`, `kmhf/hf-moshika`; **all four settings and whole utterances** (the speech-LM sets), "
        "through "
        "`MoshiForConditionalGeneration`: text on Moshi's text stream, the spoken context on the user's "
        "stream, a spoken continuation on Moshi's own stream, scored on Mimi codebook 0 (the semantic one) "
        "per 80 ms frame; see docs/speech-output.md"
    ),
)


TEXT_PADDING_ID = 3
"""Moshi's text padding token (``existing_text_padding_id`` of Kyutai's checkpoints): the text stream between
words, and under speech that has no words on it."""


@dataclass
class Frames:
    """Frames of Moshi's streams, before the acoustic delay: ``text`` (T,), ``moshi`` and ``user`` (K, T)."""

    text: torch.Tensor
    moshi: torch.Tensor
    user: torch.Tensor

    def __len__(self) -> int:
        return self.text.shape[0]

    @staticmethod
    def cat(parts: Sequence[Frames]) -> Frames:
        return Frames(*(torch.cat([getattr(p, name) for p in parts], dim=-1) for name in ("text", "moshi", "user")))


def delayed(codes: torch.Tensor, previous: torch.Tensor) -> torch.Tensor:
    """Codes (K, T) as Moshi reads them: codebook 0 on time, codebooks 1..K-1 one frame late, their first frame
    from ``previous`` (K,), the frame before (the initial frame's codes at the start of a sequence)."""
    return torch.cat([codes[:1], torch.cat([previous[1:, None], codes[1:, :-1]], dim=1)], dim=0)


class MoshiWithExactCodec(MoshiForConditionalGeneration):
    """Moshi with Mimi (``audio_encoder``) loaded and run in float32 whatever ``--dtype``: the codes are the tokens
    scored, and in bf16 Mimi's nearest-centroid choice flips for some frames, which would change what is scored
    (not only how precisely). The temporal and depth transformers take ``--dtype``."""

    _keep_in_fp32_modules_strict = ["audio_encoder"]  # noqa: RUF012 - transformers reads this attribute by this name


class MoshiScorer(HFScorer):
    """Moshi in every setting, ``utterance`` included; the layout of the streams is in the module docstring."""

    name = FAMILY.name
    settings = ALL_SETTINGS
    sampling_rate = 24000
    audio_window_seconds = None  # Mimi encodes any length: the positions are the bound
    max_audio_windows = None

    def __init__(self, model_id: str, **kwargs: Any):
        if kwargs.get("chat_template"):
            raise AdapterError(
                "Moshi has no chat template: its prompts are streams of frames. Run without --chat-template."
            )
        super().__init__(model_id, **kwargs)
        config = self.model.config
        self.sampling_rate = config.sampling_rate
        self.frame_samples = frame_samples(config.audio_encoder_config)
        self.num_codebooks = config.num_codebooks
        self._silence: torch.Tensor | None = None

    def load(self) -> tuple[torch.nn.Module, Any]:
        tokenizer = AutoTokenizer.from_pretrained(self.model_id, **self.pretrained_kwargs())
        return load_pretrained(MoshiWithExactCodec, self.model_id, **self.model_kwargs()), tokenizer

    @property
    def speech_tokens(self) -> str:
        """What a spoken continuation's score sums over (recorded as ``model.speech_tokens``)."""
        frame_ms = 1000 / self.model.config.audio_encoder_config.frame_rate
        return f"Mimi codebook 0 (semantic) of {self.num_codebooks}, one token per {frame_ms:g} ms frame"

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "model_class": MoshiForConditionalGeneration.__name__,
            "speech_tokens": self.speech_tokens,
        }

    # -- frames -------------------------------------------------------------------------
    def frames_of(self, seconds: float) -> int:
        """Mimi frames of a clip of ``seconds`` (one per started frame of samples)."""
        return mimi_frames(seconds, self.model.config.audio_encoder_config)

    def token_lengths(self, request: Request) -> tuple[int, list[int]]:
        """Prompt frames and each continuation's frames (from ``audio_seconds`` / ``continuation_seconds``);
        `ItemError` past the model's positions."""
        prompt = 1 + len(self.prompt_ids(request))
        if request.setting in SPEECH_CONTEXT:
            prompt += self.frames_of(request.audio_seconds or 0.0)
        if request.setting in SPEECH_CONTINUATION:
            conts = [self.frames_of(s) for s in request.continuation_seconds or ()]
        else:
            conts = [len(ids) for ids in self.continuation_ids(request)]
        self.check_positions(request, prompt, conts)
        return prompt, conts

    def prompt_ids(self, request: Request) -> list[int]:
        """The prompt's text tokens: the context, or the framing text before the speech (trailing space dropped;
        no BOS: the initial frame starts Moshi's sequences)."""
        return self.encode(request.context.rstrip()) if request.context.strip() else []

    @torch.inference_mode()
    def encode_speech(self, waveform: Any) -> torch.Tensor:
        """A clip's Mimi codes (K, frames), the clip encoded on its own."""
        return mimi_codes(self.model.audio_encoder, waveform, self.num_codebooks)

    def silence(self, n: int) -> torch.Tensor:
        """``n`` silent frames (K, n): the codes of one frame of zeros, as ``generate`` makes its blank input."""
        if self._silence is None:
            self._silence = self.encode_speech(torch.zeros(self.frame_samples))[:, 0]
        return self._silence[:, None].expand(-1, n)

    def text_frames(self, ids: Sequence[int]) -> Frames:
        return Frames(
            torch.tensor(list(ids), dtype=torch.long, device=self.device),
            self.silence(len(ids)),
            self.silence(len(ids)),
        )

    def speech_frames(self, codes: torch.Tensor, *, own: bool) -> Frames:
        """Speech with no words on Moshi's text stream: Moshi's own (``own``) or the user's."""
        pad = torch.full((codes.shape[1],), TEXT_PADDING_ID, dtype=torch.long, device=self.device)
        silent = self.silence(codes.shape[1])
        return Frames(pad, codes, silent) if own else Frames(pad, silent, codes)

    def prompt_frames(self, request: Request) -> Frames:
        """The initial frame, the text prompt, and the user's speech where the context is spoken."""
        config = self.model.config
        initial = torch.full((self.num_codebooks, 1), config.audio_vocab_size, dtype=torch.long, device=self.device)
        parts = [
            Frames(torch.tensor([config.vocab_size], device=self.device), initial, initial),
            self.text_frames(self.prompt_ids(request)),
        ]
        if request.setting in SPEECH_CONTEXT:
            parts.append(self.speech_frames(self.encode_speech(request.audio), own=False))
        return Frames.cat(parts)

    def continuation_frames(self, request: Request) -> list[tuple[Frames, torch.Tensor]]:
        """Each continuation's frames and the tokens scored: its text tokens, or its speech's codebook 0."""
        out = []
        if request.setting in SPEECH_CONTINUATION:
            for clip in request.continuation_audio or ():
                frames = self.speech_frames(self.encode_speech(clip), own=True)
                out.append((frames, frames.moshi[0]))
        else:
            ids = self.continuation_ids(request)
            check_continuations(request, ids)
            out.extend((frames, frames.text) for frames in map(self.text_frames, ids))
        return out

    @torch.inference_mode()
    def prefix_inputs(self, requests: Sequence[Request]) -> dict[str, torch.Tensor]:
        """The prompts, left-padded, as `MoshiForConditionalGeneration.forward` takes them (codes delayed)."""
        return self._pad([self.prompt_frames(r) for r in requests], None, left=True)

    # -- the scoring algorithm ----------------------------------------------------------------
    def embed(self, input_ids: torch.Tensor, moshi: torch.Tensor, user: torch.Tensor) -> torch.Tensor:
        """The temporal transformer's input: every stream's embedding summed, as the model's forward sums them."""
        codes = torch.cat([moshi, user], dim=1)
        audio = sum(self.model.embed_tokens[c](codes[:, c]) for c in range(codes.shape[1]))
        return audio + self.model.decoder.model.embed_tokens(input_ids)

    def _pad(
        self, frames: Sequence[Frames], previous: Sequence[Frames] | None, *, left: bool
    ) -> dict[str, torch.Tensor]:
        """Frames padded to one width (prompts on the left, continuations on the right), codes delayed.

        ``previous``: per row, the frames its own follow (their last frame feeds the delayed codebooks);
        None for the start of a sequence (the initial frame's own codes).
        """
        width = max(len(f) for f in frames)
        fill = self.model.config.audio_vocab_size
        rows: dict[str, list[torch.Tensor]] = {
            "input_ids": [],
            "moshi_audio_codes": [],
            "user_audio_codes": [],
            "attention_mask": [],
        }
        for i, f in enumerate(frames):
            pad = width - len(f)
            side = (pad, 0) if left else (0, pad)
            for key, codes, stream in (("moshi_audio_codes", f.moshi, "moshi"), ("user_audio_codes", f.user, "user")):
                before = codes[:, 0] if previous is None else getattr(previous[i], stream)[:, -1]
                rows[key].append(torch.nn.functional.pad(delayed(codes, before), side, value=fill))
            rows["input_ids"].append(torch.nn.functional.pad(f.text, side, value=TEXT_PADDING_ID))
            rows["attention_mask"].append(torch.nn.functional.pad(torch.ones_like(f.text), side, value=0))
        return {key: torch.stack(values) for key, values in rows.items()}

    def _temporal(
        self,
        inputs: dict[str, torch.Tensor],
        attention_mask: torch.Tensor,
        position_ids: torch.Tensor,
        cache: Any = None,
    ) -> Any:
        """One pass of the temporal transformer (its text logits and last hidden states)."""
        embeds = self.embed(inputs["input_ids"], inputs["moshi_audio_codes"], inputs["user_audio_codes"])
        return self.model.decoder(
            inputs_embeds=embeds,
            attention_mask=attention_mask,
            position_ids=position_ids,
            **{CACHE: cache},
            use_cache=True,
        )

    def semantic_logprobs(self, hidden: torch.Tensor, text: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        """log p(codebook 0 = ``codes``) of frames whose text token is ``text``, from the temporal transformer's
        ``hidden`` state of the frame before (shapes (..., H), (...), (...)): the depth transformer's first step."""
        out = self.model.depth_decoder(
            input_ids=text.reshape(-1, 1), last_hidden_state=hidden.reshape(-1, 1, hidden.shape[-1])
        )
        logprobs = torch.log_softmax(out.logits[:, 0].float(), dim=-1)
        return logprobs.gather(1, codes.reshape(-1, 1))[:, 0].reshape(codes.shape)

    def _score_group(self, requests: Sequence[Request]) -> list[list[ContinuationScore]]:
        prompts = [self.prompt_frames(r) for r in requests]
        conts = [self.continuation_frames(r) for r in requests]
        for request, prompt, cont in zip(
            requests, prompts, conts, strict=True
        ):  # the real frames, planned from headers
            self.check_positions(request, len(prompt), [len(frames) for frames, _ in cont])
        prefix = self._pad(prompts, None, left=True)
        prefix_mask = prefix["attention_mask"]
        out = self._temporal(prefix, prefix_mask, (prefix_mask.cumsum(-1) - 1).clamp(min=0))

        # One row per (request, continuation), continuing its prompt's KV cache. The hidden state (and text
        # logits) of a frame predict the next one: the prompt's last predicts each continuation's first frame,
        # the continuation's frames but the last predict the rest.
        rows = [i for i, c in enumerate(conts) for _ in c]
        frames = [f for c in conts for f, _ in c]
        targets = [t for c in conts for _, t in c]
        index = torch.tensor(rows, device=self.device)
        width = max(len(f) for f in frames)
        padded = self._pad(frames, [prompts[i] for i in rows], left=False)
        hidden, logits = out.last_hidden_state[index, -1:], out.logits[index, -1:]
        if width > 1:
            cache = getattr(out, CACHE)
            cache.reorder_cache(index)  # rows -> their prompts
            step = self._temporal(
                {key: value[..., :-1] for key, value in padded.items()},
                torch.cat([prefix_mask[index], padded["attention_mask"][:, :-1]], dim=1),
                prefix_mask.sum(-1)[index][:, None] + torch.arange(width - 1, device=self.device)[None],
                cache,
            )
            hidden = torch.cat([hidden, step.last_hidden_state], dim=1)
            logits = torch.cat([logits, step.logits], dim=1)
        target = torch.stack([torch.nn.functional.pad(t, (0, width - len(t))) for t in targets])
        if requests[0].setting in SPEECH_CONTINUATION:
            token_logprobs = self.semantic_logprobs(hidden, padded["input_ids"], target)
        else:
            token_logprobs = torch.log_softmax(logits.float(), dim=-1).gather(2, target[..., None])[..., 0]
        nll = (-(token_logprobs * padded["attention_mask"]).sum(-1)).double().cpu().tolist()

        results: list[list[ContinuationScore]] = [[] for _ in requests]
        for i, value, t in zip(rows, nll, targets, strict=True):
            results[i].append(ContinuationScore(value, len(t)))
        return results


def tiny_model(
    folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2, tokenizer: str | Path | None = None
) -> Path:
    """A random Moshi: small temporal and depth transformers over a tiny Mimi (4 codebooks of 64 codes, its real
    24 kHz rate and 1920-sample frames), with a tokenizer whose id 3 is Moshi's text padding token."""
    refuse_tokenizer("moshi", tokenizer, "its adapter pads the text stream with token id 3 (Kyutai's padding token)")

    tok = build_tokenizer(
        special_tokens=["<unk>", "<s>", "</s>", "<pad>"], eos_token="</s>", pad_token="<pad>", chat_template=None
    )
    codebooks, scale = 4, 0.1  # scale: of the random codebook centroids
    mimi = tiny_mimi_config(codebooks, codebook_size=64)
    torch.manual_seed(seed)
    config = MoshiConfig(
        vocab_size=len(tok),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        ffn_dim=2 * hidden,
        num_codebooks=codebooks,
        max_position_embeddings=4096,
        sliding_window=4096,
        audio_encoder_config=mimi.to_dict(),
        depth_decoder_config=dict(
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=2,
            ffn_dim=64,
            max_position_embeddings=codebooks,
            sliding_window=codebooks,
        ),
    )
    model = MoshiForConditionalGeneration(config)
    with torch.no_grad():
        for module in model.modules():
            if type(module).__name__ == "MoshiFlexibleLinear":  # starts at std 1 (logits in the hundreds): by fan-in
                weight: torch.Tensor = module.weight  # type: ignore[assignment]  # a Parameter, typed as a Module's attr
                weight.normal_(std=weight.shape[-1] ** -0.5)
    spread_codebooks(model, scale)
    return save_model(Path(folder), model, tok)
