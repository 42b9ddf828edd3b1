"""The real tokenizers of the model families, built offline from the vocabularies that packages ship.

The tiny test models are random, but their tokenizers need not be: a stand-in
BPE trained on the sample sets never merges across the boundary between a
context and its continuation, and the real vocabularies do (Qwen's merges
``".She"``). Where a package on the package index carries a family's real
vocabulary, it is turned into a transformers fast tokenizer here and saved to
a folder, which ``s2sbench tiny-model --tokenizer DIR`` builds a tiny model on
(the family adds its own special tokens after the vocabulary).

* ``qwen``: the Qwen BPE (151,643 ranks), the vocabulary of Qwen2-Audio,
  Qwen2.5-Omni, Qwen3-Omni and Baichuan-Audio, from the ``dashscope`` wheel's
  ``dashscope/resources/qwen.tiktoken``; converted with transformers'
  `TikTokenConverter` (which needs ``tiktoken``). Both are dev dependencies.
* ``tekken``: Mistral's Tekken BPE, the vocabulary of Voxtral (Voxtral-Mini-3B-2507,
  Voxtral-Small-24B-2507), from the ``mistral-common`` wheel's
  ``mistral_common/data/tekken_240718.json`` (Mistral NeMo's and Ministral's
  tokenizer). Voxtral's own ``tekken.json`` is on no package index; this file
  has its sizes (130,072 BPE ranks after a 1,000-id special block, 131,072 ids
  in all: Voxtral's ``vocab_size``) and its ranks (Voxtral's published
  transcription-prompt ids, ``lang:en`` = 9909 1058 1262, come out of it), but
  calls itself ``v3`` and names no audio specials (mistral-common gives audio
  to ``v7`` and later). So the specials are laid out here at Voxtral's ids:
  ``<s>`` 1, ``</s>`` 2, ``<pad>`` 11, ``[AUDIO]`` 24, ``[BEGIN_AUDIO]`` 25,
  ``[TRANSCRIBE]`` 34, ``<SPECIAL_i>`` fillers at the other ids (where Voxtral's
  file may name a few more, unused by this project). Built with ``tokenizers``
  alone (no ``mistral_common`` or ``tiktoken``).

The vocabulary files are read from the installed packages' folders; the
packages themselves are never imported (dashscope is an API client with a
network stack of its own; mistral-common is a dev dependency only).
"""

from __future__ import annotations

import base64
import importlib.util
import json
from collections.abc import Callable, Mapping
from pathlib import Path

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

QWEN_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
"""Qwen's pre-tokenizer pattern (the one of its ``tokenization_qwen``): a word takes at most one leading
non-letter, so ``"."`` joins the word after it when no space is between them."""

QWEN_BASE_SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
"""The specials every Qwen tokenizer puts right after the 151,643 ranks (ids 151643-151645)."""


CHATML_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}{% if part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
"""A ChatML chat template, the one Qwen's chat models use; also given to the tiny stand-in tokenizers, so that
chat framing is tested on them."""


class MissingVocabulary(RuntimeError):
    """The package that ships a real vocabulary is not installed."""


def package_file(package: str, relative: str, install: str) -> Path:
    """A data file inside an installed package's folder, found without importing the package."""
    spec = importlib.util.find_spec(package)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in locations:
        path = Path(folder) / relative
        if path.is_file():
            return path
    raise MissingVocabulary(f"{package}/{relative} is not installed: pip install '{install}' (a dev dependency).")


def qwen_tokenizer() -> PreTrainedTokenizerFast:
    """The real Qwen BPE as a fast tokenizer, with Qwen's first special tokens and its ChatML template."""
    from transformers.convert_slow_tokenizer import TikTokenConverter

    vocab = package_file("dashscope", "resources/qwen.tiktoken", "dashscope==1.23.0")
    backend = TikTokenConverter(vocab_file=str(vocab), pattern=QWEN_PATTERN).converted()
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=list(QWEN_BASE_SPECIAL_TOKENS[1:]),
        chat_template=CHATML_TEMPLATE,
    )


TEKKEN_FILE = "data/tekken_240718.json"
"""The Tekken vocabulary inside the ``mistral_common`` package (``tekken_240911.json`` holds the same ranks)."""

TEKKEN_NUM_SPECIAL_TOKENS = 1000
"""Tekken reserves ids 0-999 for special tokens; BPE rank ``r`` is id ``1000 + r``."""

TEKKEN_VOCAB_SIZE = 131_072
"""Tekken's ``default_vocab_size`` and Voxtral's ``vocab_size``: the 1,000 specials and the first 130,072 ranks."""

TEKKEN_SPECIAL_TOKENS = (
    "<unk>",
    "<s>",
    "</s>",
    "[INST]",
    "[/INST]",
    "[AVAILABLE_TOOLS]",
    "[/AVAILABLE_TOOLS]",
    "[TOOL_RESULTS]",
    "[/TOOL_RESULTS]",
    "[TOOL_CALLS]",
    "[IMG]",
    "<pad>",
    "[IMG_BREAK]",
    "[IMG_END]",
    "[PREFIX]",
    "[MIDDLE]",
    "[SUFFIX]",
    "[SYSTEM_PROMPT]",
    "[/SYSTEM_PROMPT]",
    "[TOOL_CONTENT]",
)
"""Tekken's first 20 specials (ids 0-19), mistral-common's ``Tekkenizer.DEPRECATED_SPECIAL_TOKENS``: the ids every
Tekken tokenizer, Voxtral's included, keeps for them."""

VOXTRAL_AUDIO_SPECIAL_TOKENS: Mapping[int, str] = {24: "[AUDIO]", 25: "[BEGIN_AUDIO]", 34: "[TRANSCRIBE]"}
"""Voxtral's audio specials by id: ``[AUDIO]`` is the placeholder `VoxtralProcessor` hard-codes (24),
``[BEGIN_AUDIO]`` opens each clip and ``[TRANSCRIBE]`` ends the transcription prompt (mistral-common's layout)."""


def tekken_special_tokens() -> list[str]:
    """Voxtral's 1,000 special tokens by id: Tekken's first 20, the audio ones, ``<SPECIAL_i>`` for the rest
    (the filler names mistral-common's `Tekkenizer` gives)."""
    specials = [f"<SPECIAL_{i}>" for i in range(TEKKEN_NUM_SPECIAL_TOKENS)]
    specials[: len(TEKKEN_SPECIAL_TOKENS)] = TEKKEN_SPECIAL_TOKENS
    for token_id, token in VOXTRAL_AUDIO_SPECIAL_TOKENS.items():
        specials[token_id] = token
    return specials


def tekken_ranks(path: Path) -> tuple[dict[bytes, int], str]:
    """The BPE ranks (token bytes -> id, after the special block) and the pre-tokenizer pattern of a ``tekken.json``.

    Only the first ``default_vocab_size - default_num_special_tokens`` ranks are kept, as mistral-common's
    `Tekkenizer` keeps them; a file whose sizes are not Tekken's is refused rather than laid out differently.
    """
    data = json.loads(path.read_text(encoding="utf-8"))
    config = data["config"]
    sizes = (config["default_vocab_size"], config["default_num_special_tokens"])
    if sizes != (TEKKEN_VOCAB_SIZE, TEKKEN_NUM_SPECIAL_TOKENS):
        raise ValueError(f"{path}: vocabulary size and special-token count {sizes} are not Tekken's")
    inner = TEKKEN_VOCAB_SIZE - TEKKEN_NUM_SPECIAL_TOKENS
    ranks = {base64.b64decode(entry["token_bytes"]): entry["rank"] for entry in data["vocab"][:inner]}
    if sorted(ranks.values()) != list(range(inner)):
        raise ValueError(f"{path}: the first {inner} ranks are not 0..{inner - 1}")
    return {token: rank + TEKKEN_NUM_SPECIAL_TOKENS for token, rank in ranks.items()}, config["pattern"]


def byte_level_vocab_and_merges(ranks: Mapping[bytes, int]) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """A byte-level BPE vocabulary and merge list equivalent to tiktoken-style ranks.

    The same derivation as transformers' `TikTokenConverter` (which only reads ``.tiktoken`` files): a token of
    rank ``r`` is the merge of each split of it into two known tokens, tried at rank ``r``, the split with the
    best-ranked halves first; tokens are spelled in GPT-2's byte-to-unicode alphabet.
    """
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    alphabet = bytes_to_unicode()

    def spell(token: bytes) -> str:
        return "".join(alphabet[byte] for byte in token)

    found: list[tuple[int, int, int, bytes, bytes]] = []
    for token, rank in ranks.items():
        for cut in range(1, len(token)):
            left, right = token[:cut], token[cut:]
            if left in ranks and right in ranks:
                found.append((rank, ranks[left], ranks[right], left, right))
    found.sort(key=lambda merge: merge[:3])
    return {spell(token): rank for token, rank in ranks.items()}, [(spell(a), spell(b)) for *_, a, b in found]


def tekken_tokenizer() -> PreTrainedTokenizerFast:
    """The real Tekken BPE as a fast tokenizer with Voxtral's special tokens at their ids (see the module docstring).

    Like mistral-common's `Tekkenizer`: the file's split pattern, then byte-level BPE where a piece that is one
    token stays whole (tiktoken's rule, ``ignore_merges``). With special tokens, ``encode`` puts ``<s>`` first, as
    Voxtral's own tokenizer (transformers' `MistralCommonBackend`, ``bos=add_special_tokens``) does.
    """
    ranks, pattern = tekken_ranks(package_file("mistral_common", TEKKEN_FILE, "mistral-common==1.13.1"))
    vocab, merges = byte_level_vocab_and_merges(ranks)
    specials = tekken_special_tokens()
    vocab.update({token: token_id for token_id, token in enumerate(specials)})
    backend = Tokenizer(models.BPE(vocab, merges, fuse_unk=False, ignore_merges=True))
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    backend.decoder = decoders.ByteLevel()
    backend.post_processor = processors.Sequence(
        [
            processors.ByteLevel(trim_offsets=False),
            processors.TemplateProcessing(single="<s> $A", pair="<s> $A $B", special_tokens=[("<s>", 1)]),
        ]
    )
    backend.add_special_tokens([AddedToken(token, special=True, normalized=False) for token in specials])
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        additional_special_tokens=list(VOXTRAL_AUDIO_SPECIAL_TOKENS.values()),
    )


REAL_TOKENIZERS: dict[str, Callable[[], PreTrainedTokenizerFast]] = {"qwen": qwen_tokenizer, "tekken": tekken_tokenizer}
"""Name -> builder of a real tokenizer (``s2sbench tiny-model --tokenizer NAME``)."""


def save_real_tokenizer(name: str, folder: str | Path) -> Path:
    """Build the real tokenizer ``name`` (`REAL_TOKENIZERS`) and save it to ``folder``; return the folder."""
    try:
        builder = REAL_TOKENIZERS[name]
    except KeyError:
        raise ValueError(f"no real tokenizer {name!r}; known: {', '.join(REAL_TOKENIZERS)}") from None
    folder = Path(folder)
    builder().save_pretrained(folder)
    return folder
