"""Which speech LLMs of the installed transformers this package scores, and why not the others.

The list of audio language-model types is transformers' own (`audio_lm_types`):
every model type registered with a generative head (causal or multimodal LM,
speech sequence-to-sequence, text-to-speech) whose inputs include audio, by the
registry's own signs (an audio feature extractor, an audio sub-config, a
processor with a feature extractor, a speech seq2seq class). Each such type is

* served by an adapter (its ``model_type`` in its family's ``FAMILY``, `s2sbench_hf.scoring.family`), or
* not applicable, with the reason (`NOT_APPLICABLE`). For every speech
  generator the reason also says whether it could score spoken continuations
  (the settings text_to_speech and speech_to_speech) and why not: the survey
  of speech-output models; ``moshi`` is the one that can.

`table` joins them; ``s2sbench families`` prints it and the families table of
docs/models.md is generated from it. ``tests/test_coverage.py`` fails when transformers
gains an audio LM type that is in none of them, so the table cannot go stale.
The data here needs no torch; `audio_lm_types` imports transformers (and with
it torch) when called.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from s2sbench_hf import render
from s2sbench_hf.scoring.registry import ADAPTERS, adapter_for_model_type
from s2sbench_hf.tasks import S2SBenchError

GENERATIVE_MAPPINGS = (
    "MULTIMODAL_LM",
    "IMAGE_TEXT_TO_TEXT",
    "SEQ_TO_SEQ_CAUSAL_LM",
    "SPEECH_SEQ_2_SEQ",
    "CAUSAL_LM",
    "TEXT_TO_WAVEFORM",
    "TEXT_TO_SPECTROGRAM",
)
"""transformers' auto mappings (``MODEL_FOR_<name>_MAPPING_NAMES``) of models with a generative head; a
type's class in the table is its class in the first mapping that has it."""

_AUDIO_WORDS = ("audio", "speech", "sound")

_ENCODER_DECODER = (
    "encoder-decoder model: the decoder reads the speech only through cross-attention and was trained to "
    "write its transcript or translation; there is no language model over a text context to score"
)
_TTS = (
    "speech generator (text-to-speech): no text head over a text context, its audio input is a voice to imitate, "
    "and the speech it models reads a transcript given before it, so a spoken continuation could only be scored "
    "given its own words: that measures how a voice reads known words, not which continuation is plausible"
)
_NO_LIKELIHOOD = "; its speech is continuous latents drawn by a {head} head, so a clip has no likelihood at all"
_DELAYED_STREAMS = (
    "streaming transcriber on delayed streams: each position adds one text token to the audio frame of "
    "its time, so neither a text context nor a text continuation after the speech has a place; the audio is "
    "read, never predicted, so no spoken continuation either"
)

NOT_APPLICABLE: dict[str, str] = {
    "canary": _ENCODER_DECODER,
    "cohere_asr": _ENCODER_DECODER,
    "cosmos3_omni": (
        "not an audio model in transformers: its port keeps the reasoner for images, video and text and "
        "drops the checkpoint's sound tower"
    ),
    "csm": _TTS + "; its backbone does predict Mimi codebook 0 (a likelihood exists), always after the turn's text",
    "dia": _TTS + "; it predicts DAC codes (9 codebooks, delayed) of a script its encoder reads whole",
    "diffusion_gemma": (
        "block-diffusion language model: it denoises blocks of tokens instead of predicting each token from "
        "the ones before, so there is no left-to-right likelihood of a continuation"
    ),
    "gradium_phonon_tts": _TTS + _NO_LIKELIHOOD.format(head="flow-matching"),
    "granite_speech5_ctc": (
        "CTC recognizer (Granite Speech 5 turbo): a per-frame character head on the encoder, no language "
        "model over text"
    ),
    "higgs_audio_v2": _TTS + "; it predicts discrete codes (8 codebooks, delayed), after their transcript",
    "kyutai_speech_to_text": _DELAYED_STREAMS,
    "moonshine": _ENCODER_DECODER,
    "moonshine_streaming": _ENCODER_DECODER,
    "musicgen": (
        "music generator: its decoder predicts EnCodec codes from a text description, not text; it has a "
        "likelihood of audio codes, but of music: it was trained on no speech"
    ),
    "musicgen_melody": (
        "music generator: its decoder predicts EnCodec codes from a text description and a melody, not text; "
        "it has a likelihood of audio codes, but of music: it was trained on no speech"
    ),
    "pocket_tts": _TTS + _NO_LIKELIHOOD.format(head="flow-matching"),
    "pop2piano": "audio-to-MIDI transcriber (encoder-decoder): it writes piano notes, not text",
    "seamless_m4t": _ENCODER_DECODER
    + "; its speech output is units generated from its own translated text, not a spoken continuation it could score",
    "seamless_m4t_v2": _ENCODER_DECODER
    + "; its speech output is units generated from its own translated text, not a spoken continuation it could score",
    "speech-encoder-decoder": _ENCODER_DECODER,
    "speech_to_text": _ENCODER_DECODER,
    "speecht5": _ENCODER_DECODER + "; its speech output is mel spectrograms (continuous, no likelihood)",
    "vibevoice": _TTS + _NO_LIKELIHOOD.format(head="diffusion"),
    "voxtral_realtime": _DELAYED_STREAMS + "; it also refuses input without audio",
    "whisper": _ENCODER_DECODER + " (the `cascade` adapter uses it as its recognizer)",
}
"""Audio LM types this benchmark cannot score, with the reason (from their transformers code)."""


@dataclass(frozen=True)
class Row:
    """One model type of the table: who scores it (an adapter name, or None) and the note or reason."""

    model_type: str
    model_class: str
    adapter: str | None
    note: str

    @property
    def status(self) -> str:
        return "not applicable" if self.adapter is None else self.adapter


def audio_lm_types() -> dict[str, str]:
    """Every audio LM type of the installed transformers: model type -> its generative class name.

    A type counts when one of `GENERATIVE_MAPPINGS` registers it and its inputs
    include audio: it has an audio feature extractor, a sub-config named for
    audio, speech or sound, a processor with a feature extractor, or it is a
    speech sequence-to-sequence model.
    """
    # transformers (and torch with it) is imported here, not at module level: the data above is torch-free.
    import transformers
    from transformers import CONFIG_MAPPING
    from transformers.models.auto import feature_extraction_auto, modeling_auto, processing_auto

    mappings = [getattr(modeling_auto, f"MODEL_FOR_{name}_MAPPING_NAMES") for name in GENERATIVE_MAPPINGS]
    speech_seq2seq = modeling_auto.MODEL_FOR_SPEECH_SEQ_2_SEQ_MAPPING_NAMES
    found: dict[str, str] = {}
    for mapping in mappings:
        for model_type, class_name in mapping.items():
            if model_type in found:
                continue
            sub_configs = getattr(CONFIG_MAPPING[model_type], "sub_configs", None) or {}
            processor = processing_auto.PROCESSOR_MAPPING_NAMES.get(model_type)
            if (
                model_type in feature_extraction_auto.FEATURE_EXTRACTOR_MAPPING_NAMES
                or any(word in name for name in sub_configs for word in _AUDIO_WORDS)
                or model_type in speech_seq2seq
                or (processor is not None and "feature_extractor" in _processor_parts(transformers, processor))
            ):
                found[model_type] = class_name if isinstance(class_name, str) else class_name[0]
    return dict(sorted(found.items()))


def _processor_parts(transformers_module: object, class_name: str) -> list[str]:
    """The parts (``feature_extractor``, ``tokenizer``, ...) of a processor class; none if it cannot load here."""
    try:
        return list(getattr(transformers_module, class_name).get_attributes())
    except Exception:  # noqa: BLE001 - a processor whose backend (torchvision) is missing has no known parts
        return []


def uncovered(types: Iterable[str]) -> list[str]:
    """The types that no adapter serves and that are neither text-only nor listed as not applicable."""
    return [t for t in types if adapter_for_model_type(t) is None and t not in NOT_APPLICABLE]


def table(types: dict[str, str]) -> list[Row]:
    """A row for each of ``types`` (model type -> class) and each type listed here but not among them.

    Rows are the adapters' types first (in registry order), then the not
    applicable ones, alphabetically. A family's type that the installed
    transformers lacks (it is newer) has a row too, with no class; the note of a
    family that needs a transformers newer than the package's floor names it.
    """
    served = [t for entry in ADAPTERS.values() for t in entry.model_types]
    everything = {**types, **{t: "" for t in [*served, *NOT_APPLICABLE] if t not in types}}
    rows = []
    for model_type, model_class in everything.items():
        adapter = adapter_for_model_type(model_type)
        if adapter is not None:
            rows.append(Row(model_type, model_class, adapter, _note(adapter)))
        else:
            rows.append(Row(model_type, model_class, None, NOT_APPLICABLE.get(model_type, "NOT LISTED: add it")))
    order = list(ADAPTERS)

    def key(row: Row) -> tuple:
        if row.adapter is None:
            return (1, 0, row.model_type)
        return (0, order.index(row.adapter), row.model_type)

    return sorted(rows, key=key)


def _note(adapter: str) -> str:
    """An adapter's note (its ``FAMILY``'s); the transformers release it needs where that is newer than the package's
    floor; the packages it needs beyond the package's dependencies, with the extra that installs them."""
    entry = ADAPTERS[adapter]
    release = f"; needs transformers>={entry.min_transformers}" if entry.min_transformers else ""
    packages = ", ".join(need.describe() for need in entry.needs)
    extra = f'; needs {packages}: `pip install "s2sbench-hf[{entry.extra}]"`' if entry.needs else ""
    return entry.note + release + extra


def adapters_without_types() -> list[str]:
    """Adapters chosen by name or fallback rather than by an audio model type (``causal-lm``, ``cascade``)."""
    return [name for name, entry in ADAPTERS.items() if not entry.model_types]


def markdown(rows: list[Row]) -> str:
    """The families table as markdown (docs/models.md's), with the adapters that serve no audio type below it."""
    header = ["model type", "scored by", "transformers class", "checkpoints and notes"]
    lines = [
        [
            f"`{r.model_type}`",
            r.status if r.adapter is None else f"`{r.adapter}`",
            f"`{r.model_class}`" if r.model_class else "-",
            r.note,
        ]
        for r in rows
    ]
    extra = [f"* `{name}`: {_note(name)}" for name in adapters_without_types()]
    return render.markdown(render.Table(header, lines)) + "\n\nAnd, for any model:\n\n" + "\n".join(extra)


def plain(rows: list[Row]) -> str:
    """The families table as aligned text, one model type a line, its note on the next."""
    width = max(len(r.model_type) for r in rows)
    status_width = max(len(r.status) for r in rows)
    lines = []
    for r in rows:
        lines.append(f"{r.model_type:<{width}}  {r.status:<{status_width}}  {r.model_class}")
        lines.append(f"{'':<{width}}  {r.note}")
    lines += ["", *(f"{name}: {_note(name)}" for name in adapters_without_types())]
    return "\n".join(lines)


README_MARKERS = ("<!-- families:start -->", "<!-- families:end -->")
"""The generated families table (in docs/models.md) lies between these comments."""


def with_table(readme: str, table_markdown: str) -> str:
    """``readme`` with the text between `README_MARKERS` replaced by ``table_markdown``."""
    start, end = README_MARKERS
    if readme.count(start) != 1 or readme.count(end) != 1 or readme.index(start) > readme.index(end):
        raise S2SBenchError(f"the file must hold {start} and then {end}, once each; add them where the table goes.")
    before, rest = readme.split(start)
    _, after = rest.split(end)
    return f"{before}{start}\n{table_markdown}\n{end}{after}"
