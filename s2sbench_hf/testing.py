"""Tiny random-weight models, built offline, for the tests and the demo; plain references to test against.

Each family's module holds its own recipe (``tiny_model``, `scoring.family`), built
from the shared pieces of `scoring.tiny`; `make_tiny_model` dispatches to it, with
stand-ins for the packages that have no build here (`backend_stand_ins`). The model
is saved to a folder that is then loaded by path, exactly as a Hub id would be: in
transformers 5's own weight names, or in those of the family's published
checkpoints (``hub_layout``, `save_hub_layout`). Random weights give chance-level
accuracies: these models test the plumbing, not the benchmark.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
import transformers
from safetensors import safe_open
from safetensors.torch import save_file
from transformers import (
    AutoConfig,
    PreTrainedModel,
    Qwen2AudioConfig,
    Qwen2AudioForConditionalGeneration,
    Qwen2AudioProcessor,
    WhisperFeatureExtractor,
)

from s2sbench_hf.scoring.adapters.base import HFScorer
from s2sbench_hf.scoring.checkpoint import PUBLISHED_LAYOUTS, PublishedLayout, load_pretrained
from s2sbench_hf.scoring.interface import Request
from s2sbench_hf.scoring.registry import ADAPTERS
from s2sbench_hf.scoring.tiny import TinyModelError, build_tokenizer, save_model, token_id


def qwen2_audio_7b_config(audio_token_index: int) -> Qwen2AudioConfig:
    """The shape of Qwen/Qwen2-Audio-7B (its published config.json): a Whisper-large-style encoder
    (32 layers, width 1280) and a 32-layer, 4096-wide language model with a 156,032-token vocabulary."""
    return Qwen2AudioConfig(
        audio_config=dict(
            num_mel_bins=128,
            encoder_layers=32,
            encoder_attention_heads=20,
            encoder_ffn_dim=5120,
            d_model=1280,
            max_source_positions=1500,
        ),
        text_config=dict(
            model_type="qwen2",
            vocab_size=156032,
            hidden_size=4096,
            intermediate_size=11008,
            num_hidden_layers=32,
            num_attention_heads=32,
            num_key_value_heads=32,
            max_position_embeddings=8192,
            rope_theta=10000.0,
            rms_norm_eps=1e-5,
        ),
        audio_token_index=audio_token_index,
    )


def qwen2_audio_7b(device: str | torch.device, dtype: torch.dtype) -> tuple[torch.nn.Module, Qwen2AudioProcessor]:
    """A random-weight 7B-size Qwen2-Audio built directly on ``device`` in ``dtype`` (no download), with the
    tiny tokenizer's processor: for speed and memory measurements, not for scores."""
    tokenizer = build_tokenizer()
    processor = Qwen2AudioProcessor(feature_extractor=WhisperFeatureExtractor(feature_size=128), tokenizer=tokenizer)
    config = qwen2_audio_7b_config(token_id(tokenizer, "<|AUDIO|>"))
    with torch.device(device):  # parameters are created (and randomly initialized) there, in ``dtype``
        model = Qwen2AudioForConditionalGeneration._from_config(config, dtype=dtype)
    return model.eval(), processor


SPEECH_UNIT_LM_CODE = '''"""A stand-in for a speech LM whose remote code puts speech units in its vocabulary.

For docs/speech-output.md.

Built by `s2sbench_hf.testing.make_tiny_speech_unit_lm`; loaded only with ``trust_remote_code=True``.
"""

import numpy as np
from transformers import LlamaForCausalLM

UNITS = 16
"""Speech units: the last UNITS ids of the vocabulary; the id before them marks the start of speech."""
FRAME = 640
"""Samples per unit at 16 kHz (40 ms)."""


class SpeechUnitLM(LlamaForCausalLM):
    @property
    def speech_start_id(self) -> int:
        return self.config.vocab_size - UNITS - 1

    def speech_ids(self, waveform) -> list:
        """One unit per started 40 ms frame: its loudness and zero-crossing rate, quantized."""
        wave = np.asarray(waveform, dtype=np.float32)
        n = max(1, -(-len(wave) // FRAME))
        frames = np.pad(wave, (0, n * FRAME - len(wave))).reshape(n, FRAME)
        loud = np.clip((np.log(np.sqrt((frames ** 2).mean(1)) + 1e-4) + 9.3) / 2.4, 0, 3.99).astype(int)
        cross = np.clip((np.abs(np.diff(np.sign(frames), axis=1)) > 0).mean(1) * 8, 0, 3.99).astype(int)
        return [self.config.vocab_size - UNITS + int(4 * a + b) for a, b in zip(loud, cross)]
'''
"""The remote code of `make_tiny_speech_unit_lm`'s model (``modeling_speech_unit_lm.py``)."""


def make_tiny_speech_unit_lm(folder: str | Path, *, seed: int = 0, hidden: int = 64, layers: int = 2) -> Path:
    """A random Llama whose remote code (`SPEECH_UNIT_LM_CODE`, through ``auto_map``) turns 16 kHz speech into 16
    units of its vocabulary: the stand-in of a ``--trust-remote-code`` speech-to-speech model such as Baichuan-Audio."""
    folder = make_tiny_model(
        "causal-lm", folder, seed=seed, hidden=hidden, layers=layers, vocab_size=len(build_tokenizer()) + 17
    )
    (folder / "modeling_speech_unit_lm.py").write_text(SPEECH_UNIT_LM_CODE, encoding="utf-8")
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    config["auto_map"] = {"AutoModelForCausalLM": "modeling_speech_unit_lm.SpeechUnitLM"}
    (folder / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    return folder


def make_tiny_whisper(folder: str | Path, *, seed: int = 0, dim: int = 32, layers: int = 1) -> Path:
    """A random Whisper recognizer (80 mel bins) with its processor, for the cascade.

    Its generation config is hand-made (no language or task tokens: an English-only
    style checkpoint) and short, so that ``generate`` runs offline and fast.
    """
    from transformers import GenerationConfig, WhisperConfig, WhisperForConditionalGeneration, WhisperProcessor

    tok = build_tokenizer()
    special = tok.eos_token_id
    config = WhisperConfig(
        vocab_size=len(tok),
        d_model=dim,
        encoder_layers=layers,
        decoder_layers=layers,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=2 * dim,
        decoder_ffn_dim=2 * dim,
        num_mel_bins=80,
        max_target_positions=64,
        decoder_start_token_id=special,
        pad_token_id=tok.pad_token_id,
        eos_token_id=special,
        bos_token_id=special,
    )
    torch.manual_seed(seed)
    model = WhisperForConditionalGeneration(config)
    model.generation_config = GenerationConfig(
        decoder_start_token_id=special, eos_token_id=special, pad_token_id=tok.pad_token_id, max_new_tokens=12
    )
    processor = WhisperProcessor(feature_extractor=WhisperFeatureExtractor(feature_size=80), tokenizer=tok)
    return save_model(Path(folder), model, processor)


class _MelSpectrogram(torch.nn.Module):
    """Stand-in for ``torchaudio.transforms.MelSpectrogram`` (power spectrogram, HTK mel filters, no norm)."""

    window: torch.Tensor
    filters: torch.Tensor

    def __init__(self, sample_rate: int, n_fft: int, win_length: int, hop_length: int, n_mels: int):
        super().__init__()
        from transformers.audio_utils import mel_filter_bank

        self.n_fft, self.win_length, self.hop_length = n_fft, win_length, hop_length
        self.register_buffer("window", torch.hann_window(win_length))
        filters = mel_filter_bank(n_fft // 2 + 1, n_mels, 0.0, sample_rate / 2, sample_rate, norm=None, mel_scale="htk")
        self.register_buffer("filters", torch.tensor(filters, dtype=torch.float32))

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(audio, self.n_fft, self.hop_length, self.win_length, self.window, return_complex=True)
        return (self.filters.T @ spec.abs() ** 2).float()  # (..., n_mels, frames)


def _kaldi_fbank(
    waveform: torch.Tensor,
    *,
    num_mel_bins: int,
    frame_length: float,
    frame_shift: float,
    sample_frequency: float,
    window_type: str = "hamming",
) -> torch.Tensor:
    """Stand-in for ``torchaudio.compliance.kaldi.fbank``: log mel energies of frames cut as Kaldi cuts them
    (``snip_edges``: ``1 + (samples - window) // shift`` frames, none for a clip shorter than a window)."""
    from transformers.audio_utils import mel_filter_bank

    window = int(sample_frequency * frame_length / 1000)
    shift = int(sample_frequency * frame_shift / 1000)
    wave = waveform.reshape(-1)
    if wave.numel() < window:
        return torch.zeros(0, num_mel_bins)
    frames = wave.unfold(0, window, shift) * torch.hamming_window(window, periodic=False)
    n_fft = 1 << (window - 1).bit_length()
    power = torch.fft.rfft(frames, n=n_fft).abs() ** 2
    filters = mel_filter_bank(n_fft // 2 + 1, num_mel_bins, 20.0, sample_frequency / 2, int(sample_frequency))
    return torch.log(power @ torch.tensor(filters, dtype=torch.float32) + 1e-6)


class _TimmStandIn(torch.nn.Module):
    """Stand-in for the timm vision backbone of a speech LLM (Gemma 3n's MobileNetV5): weights to save and load,
    and a loud error if asked to see an image, which speech scoring never does."""

    def __init__(self, architecture: str, pretrained: bool = False, **kwargs):
        super().__init__()
        self.architecture = architecture
        self.stem = torch.nn.Conv2d(3, 4, 3)

    def forward_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"stand-in for timm's {self.architecture}: it sees no images")


MISSING_BACKENDS = {
    "torchaudio": {
        "granite_speech.feature_extraction_granite_speech": "GraniteSpeechFeatureExtractor",
        "fun_asr_nano.feature_extraction_fun_asr_nano": "FunAsrNanoFeatureExtractor",
    },
    "timm": {"timm_wrapper.modeling_timm_wrapper": "TimmWrapperModel"},
}
"""Packages with no build for the torch this project pins -> the transformers modules (under
``transformers.models``) that need them and the class each provides."""

_STAND_INS = {
    "torchaudio": SimpleNamespace(
        transforms=SimpleNamespace(MelSpectrogram=_MelSpectrogram),
        compliance=SimpleNamespace(kaldi=SimpleNamespace(fbank=_kaldi_fbank)),
    ),
    "timm": SimpleNamespace(create_model=_TimmStandIn, __version__="stand-in"),
}


@contextmanager
def backend_stand_ins() -> Iterator[None]:
    """Let the classes of `MISSING_BACKENDS` run where their package (torchaudio, timm) is missing.

    Neither has a build for the torch release this project pins. Each module gets a
    stand-in for the package (`_MelSpectrogram` and `_kaldi_fbank`: the same shapes and
    frame counts as torchaudio's, not the same values; `_TimmStandIn`: a vision tower
    that speech never runs) and its backend check is switched off, and transformers'
    placeholders for the classes are replaced by the real classes, so that models and
    processors load by path like any other. Everything else (the processor's placeholder
    expansion, the audio encoder, the LM, the scorer) is the real code. Packages that
    are installed are left alone.
    """
    import transformers

    patches: list[tuple[object, str, object]] = []
    for package, modules in MISSING_BACKENDS.items():
        if importlib.util.find_spec(package) is not None:
            continue
        for module_name, class_name in modules.items():
            module = importlib.import_module(f"transformers.models.{module_name}")
            model_package = importlib.import_module(f"transformers.models.{module_name.split('.')[0]}")
            cls = getattr(module, class_name)
            patches += [
                (module, package, _STAND_INS[package]),
                (module, "requires_backends", lambda *a, **k: None),
                (model_package, class_name, cls),
                (transformers, class_name, cls),
            ]
    saved = [(target, name, target.__dict__.get(name, _MISSING)) for target, name, _ in patches]
    try:
        for target, name, value in patches:
            setattr(target, name, value)
        yield
    finally:
        for target, name, value in reversed(saved):
            if value is _MISSING:
                delattr(target, name)
            else:
                setattr(target, name, value)


_MISSING = object()


def tiny_families() -> list[str]:
    """The families whose module has a tiny-model recipe (`family.TINY_RECIPE`), in the registry's order: the
    test matrix (tests/test_adapters.py)."""
    return [name for name, family in ADAPTERS.items() if family.tiny]


def make_tiny_model(
    family: str,
    folder: str | Path,
    *,
    seed: int = 0,
    tokenizer: str | Path | None = None,
    hub_layout: bool = False,
    **shape: Any,
) -> Path:
    """Save a tiny random model of ``family`` to ``folder`` with its module's recipe (`tiny_families`); return
    the path.

    ``tokenizer``: build it on this tokenizer instead of the stand-in BPE (a folder, or a name of
    `REAL_TOKENIZERS`; see `build_tokenizer`'s ``base``); a family whose token ids are pinned raises
    a `TinyModelError`. ``hub_layout``: weights under the names of the family's published checkpoints
    (`save_hub_layout`) instead of transformers 5's own. ``shape``: the recipe's own sizes, e.g. ``head_dim=64``
    (the language model's attention heads of this width, for vLLM's CPU attention, which refuses the default
    models' 16) or ``hidden``, ``layers``, ``vocab_size`` where the recipe takes them; another is a
    `TinyModelError` that lists the ones it takes.
    """
    if family not in tiny_families():
        raise TinyModelError(f"no tiny model for {family!r}; known: {', '.join(tiny_families())}")
    missing = ADAPTERS[family].missing_transformers()  # a family newer than the installed transformers
    if missing is not None:
        raise TinyModelError(missing)
    recipe = ADAPTERS[family].load_recipe()
    takes = [name for name in inspect.signature(recipe).parameters if name not in ("folder", "seed", "tokenizer")]
    unknown = sorted(set(shape) - set(takes))
    if unknown:
        raise TinyModelError(
            f"{family}: its tiny model has no {', '.join(unknown)} choice; leave it out (it takes: "
            f"{', '.join(takes) or 'no sizes'})."
        )
    with backend_stand_ins():  # builds the families that need torchaudio or timm where those are missing
        path = recipe(folder, seed=seed, tokenizer=tokenizer, **shape)
        if hub_layout:
            save_hub_layout(path, family)
        return path


def weight_names(folder: str | Path) -> set[str]:
    """The weight names of the safetensors files in ``folder``."""
    names: set[str] = set()
    for path in Path(folder).glob("*.safetensors"):
        with safe_open(path, "pt") as weights:
            names.update(weights.keys())
    return names


def save_hub_layout(folder: Path, family: str) -> None:
    """Rewrite the tiny ``family`` model saved in ``folder`` under the weight names of its published checkpoints.

    transformers 5 reverts its key conversion on save (``save_original_format=True``); what it writes is
    checked against `PUBLISHED_LAYOUTS`, so that a release that reverts wrongly (5.19 to 5.22 write Qwen2-Audio
    as ``language_model.model.model.*``) never writes names no published checkpoint has: where the layout
    records prefix renames (`PublishedLayout.renames`), the model's own saved weights are renamed by them
    instead (`_write_renamed`) and checked the same way; otherwise it fails here. An Omni thinker is written
    as the whole Omni model (config ``thinker_config``, weights ``thinker.*``, no talker). A family whose two
    layouts are the same is left as it is.
    """
    config = AutoConfig.from_pretrained(folder)
    layout = PUBLISHED_LAYOUTS.get(family)
    omni_class = getattr(transformers, layout.omni_model) if layout and layout.omni_model else None
    model = _built_afresh(load_pretrained(getattr(transformers, config.architectures[0]), str(folder)), omni_class)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        model.save_pretrained(tmp, save_original_format=True)
        published = weight_names(tmp)
        if published == weight_names(folder):
            return
        renamed = False
        if layout is not None and layout.renames and layout.stray_keys(published):
            for wrong in Path(tmp).glob("model*.safetensors*"):
                wrong.unlink()
            _write_renamed(folder, Path(tmp), layout)
            published, renamed = weight_names(tmp), True
        _check_published(family, layout, published, renamed)
        for old in Path(folder).glob("model*.safetensors*"):
            old.unlink()
        for new in Path(tmp).iterdir():
            new.replace(Path(folder) / new.name)


def _write_renamed(source: Path, target: Path, layout: PublishedLayout) -> None:
    """Write the weights saved in ``source`` (transformers 5's own names) to ``target`` under `layout`'s published
    names (`PublishedLayout.published_name`): the same files (shards and their index), dtypes and metadata."""
    for path in source.glob("model*.safetensors"):
        with safe_open(path, "pt") as weights:
            tensors = {layout.published_name(key): weights.get_tensor(key) for key in weights.keys()}
            metadata = weights.metadata() or {"format": "pt"}
        save_file(tensors, target / path.name, metadata=metadata)
    index = source / "model.safetensors.index.json"
    if index.exists():
        shards = json.loads(index.read_text(encoding="utf-8"))
        shards["weight_map"] = {layout.published_name(key): file for key, file in shards["weight_map"].items()}
        (target / index.name).write_text(json.dumps(shards, indent=2), encoding="utf-8")


def _check_published(family: str, layout: PublishedLayout | None, names: set[str], renamed: bool = False) -> None:
    """Raise unless ``names`` (what transformers writes as the published layout, or ``renamed`` by the layout's
    `PublishedLayout.renames` after it reverted wrongly) fit ``family``'s published one."""
    version = f"transformers {transformers.__version__}"
    if layout is None:
        raise TinyModelError(
            f"{family}: no published key layout is recorded for it (scoring.checkpoint.PUBLISHED_LAYOUTS), so the "
            f"names {version} would write ({', '.join(sorted(names)[:2])}, ...) cannot be checked; leave out the "
            "hub layout."
        )
    stray = layout.stray_keys(names)
    if stray:
        how = "renaming its own names by the layout's renames gives" if renamed else "saves"
        raise TinyModelError(
            f"{family}: {version} reverts its key conversion wrongly for this family, and {how} {len(stray)} of "
            f"{len(names)} weights under names that {layout.checkpoint} does not have ({', '.join(stray[:3])}, ...)."
        )


def _built_afresh(model: PreTrainedModel, omni_class: Any) -> PreTrainedModel:
    """A model built from ``model``'s config and holding its weights, inside the whole Omni model of ``omni_class``
    where given (its thinker; no talker or vocoder).

    Built, not loaded: transformers 5.25 reverts on save only the conversions its load applied (a model loaded
    from its own module names saves them again), and its whole conversion mapping for a model built afresh.
    """
    if omni_class is None:
        fresh = part = type(model)(model.config)
    else:
        fresh = omni_class(omni_class.config_class(thinker_config=model.config.to_dict(), enable_audio_output=False))
        part = fresh.thinker
    part.load_state_dict(model.state_dict())
    return fresh.eval()


# -- plain references and test inputs, shared by the tests and the benchmark -----------------

STORIES = [
    ("Tom went to the market early in the morning. He bought apples", [" and went home happy.", " the moon ate him."]),
    ("It rained", [" all day long, so we stayed inside and read books", " cats"]),
    ("小明每天早上跑步。", ["他身体很好。", "桌子会唱歌。"]),
]
"""Three contexts of very different lengths, continuations of different lengths (a leading space
where the text framing puts one), to batch together in exactness tests."""


def noise_clip(seconds: float, seed: int, rate: int = 16000) -> np.ndarray:
    """A deterministic noise clip at ``rate`` (16 kHz unless a family reads another) standing in for speech."""
    return (0.1 * np.random.default_rng(seed).standard_normal(int(rate * seconds))).astype(np.float32)


def story_requests(setting: str, rate: int = 16000) -> list[Request]:
    """`STORIES` as requests of one setting; audio clips of 1, 2.5 and 4 s at ``rate`` (mixed lengths in one batch)."""
    out = []
    for i, (context, conts) in enumerate(STORIES):
        if setting == "text":
            out.append(Request("sstorycloze", str(i), "text", context, tuple(conts)))
        else:
            seconds = 1.0 + 1.5 * i
            out.append(
                Request(
                    "sstorycloze",
                    str(i),
                    "audio",
                    "Below is speech: ",
                    tuple(c.lstrip() for c in conts),
                    noise_clip(seconds, i, rate),
                    rate,
                    audio_seconds=seconds,
                )
            )
    return out


@torch.inference_mode()
def full_forward_nll(scorer: HFScorer, request: Request, j: int) -> float:
    """The plain reference: one forward pass over prompt + continuation ``j``, no cache, no padding.

    What the reference release does for every continuation; the shared-prefix
    path must agree with it. The pass goes through the family's `model_forward`,
    as every pass of the scorer does (VibeVoice-ASR's asks for no random latent noise).
    """
    prefix = scorer.prefix_inputs([request])
    cont = scorer.continuation_ids(request)[j]
    ids = torch.cat([prefix["input_ids"], torch.tensor([cont])], dim=1)
    extra = {
        k: v.to(scorer.dtype) if v.is_floating_point() else v
        for k, v in prefix.items()
        if k not in ("input_ids", "attention_mask")
    }
    device = scorer.device
    extra = {k: v.to(device) for k, v in extra.items()}
    logits = scorer.model_forward(
        input_ids=ids.to(device), attention_mask=torch.ones_like(ids).to(device), **extra
    ).logits
    logprobs = torch.log_softmax(logits[0, -len(cont) - 1 : -1].float(), dim=-1)
    return -float(logprobs.gather(1, torch.tensor(cont, device=device)[:, None]).sum())


REL_TOL = 1e-6
"""The shared bound of the exactness tests: two fp32 computations of one score agree within this share
of its magnitude (a float32 NLL near 150 has an ulp of 1.5e-5, so absolute bounds do not scale)."""


def relative_deviation(a: Sequence[float], b: Sequence[float]) -> float:
    """Largest ``|a_i - b_i| / max(|b_i|, 1)``: the relative difference of two lists of scores (1: below 1 nat)."""
    if len(a) != len(b):
        return float("inf")
    return max((abs(x - y) / max(abs(y), 1.0) for x, y in zip(a, b, strict=True)), default=0.0)


def deviation_from_full_forward(scorer: HFScorer, requests: Sequence[Request]) -> float:
    """Largest relative difference (`relative_deviation`) between a batched shared-prefix NLL and its references.

    The references are `full_forward_nll` and each request scored alone: neither
    the KV-cache reuse nor the other members of a batch may change a score beyond
    float rounding. A continuation scored over the wrong number of tokens gives ``inf``.
    """
    batched = scorer.score(requests)
    worst = 0.0
    for request, scores in zip(requests, batched, strict=True):
        alone = scorer.score([request])[0]
        for j, score in enumerate(scores):
            if score.n_tokens != len(scorer.continuation_ids(request)[j]):
                return float("inf")
            reference = full_forward_nll(scorer, request, j)
            worst = max(worst, relative_deviation([score.nll_sum, score.nll_sum], [reference, alone[j].nll_sum]))
    return worst
