"""One source for run options: every `RunConfig` field is a CLI flag and a `compute()` keyword, checked early."""

from __future__ import annotations

import argparse
import contextlib
import typing
from dataclasses import fields

import pytest

from s2sbench_hf import evaluate_metric, options
from s2sbench_hf.cli import build_parser
from s2sbench_hf.options import ModelSpec, OptionError, RunConfig

NON_DEFAULT = {
    "model": "org/model",
    "adapter": "qwen2-audio",
    "revision": "abc123",
    "dtype": "bfloat16",
    "device": "cpu",
    "attn_implementation": "eager",
    "chat_template": True,
    "trust_remote_code": True,
    "asr_model": "openai/whisper-tiny",
    "tasks": ("scmmlu",),
    "settings": ("audio", "speech_to_speech"),
    "gap": "speech_to_speech:audio",
    "dataset": "some/dataset",
    "dataset_revision": "v1",
    "limit": 7,
    "batch_size": 3,
    "max_batch_tokens": 999,
    "scoring_rule": "sum",
    "tie_policy": "half",
    "n_bootstrap": 55,
    "seed": 9,
    "framing_preset": "reference-as-shipped",
}
"""A value other than the default for every field (the test below fails when a field is missing here)."""


def _as_argv(name: str, value) -> list[str]:
    field = next(f for f in fields(RunConfig) if f.name == name)
    flag = options.flag(field)
    if value is True:
        return [flag]
    if isinstance(value, tuple):
        return [flag, *value]
    return [flag, str(value)]


FRAMING_OVERRIDES = {"audio_prefix": "Hear: ", "text_separator": " | "}
"""The framing overrides, tried apart: the shipped framing preset refuses them."""

EXAMPLES = [
    NON_DEFAULT,
    {**{k: v for k, v in NON_DEFAULT.items() if k != "framing_preset"}, **FRAMING_OVERRIDES},
]
"""Two configurations that together give every field a value other than its default."""


def test_every_field_has_a_non_default_example():
    assert set(NON_DEFAULT) | set(FRAMING_OVERRIDES) == {f.name for f in fields(RunConfig)}
    examples = {**NON_DEFAULT, **FRAMING_OVERRIDES}
    for f in fields(RunConfig):
        assert examples[f.name] != f.default, f.name


@pytest.mark.parametrize("example", EXAMPLES)
@pytest.mark.parametrize("command", ["run", "sweep"])
def test_every_field_is_reachable_from_the_cli(command, example):
    argv = [command] + (["--checkpoints", "ckpt"] if command == "sweep" else [])
    for name, value in example.items():
        if command == "sweep" and name == "model":
            continue  # a sweep's models are its checkpoints
        argv += _as_argv(name, value)
    args = build_parser().parse_args(argv)
    config = options.from_namespace(args, **({"model": "org/model"} if command == "sweep" else {}))
    for name, value in example.items():
        assert getattr(config, name) == value, name


@pytest.mark.parametrize("example", EXAMPLES)
def test_every_field_is_reachable_from_compute(example):
    config = RunConfig.from_kwargs(**example)
    for name, value in example.items():
        assert getattr(config, name) == value, name
    with pytest.raises(OptionError, match="unknown option"):
        RunConfig.from_kwargs(model="m", batchsize=2)


def test_every_field_has_help_and_a_type_the_cli_understands():
    hints = typing.get_type_hints(RunConfig)
    for f in fields(RunConfig):
        assert f.metadata.get("help"), f.name
        assert hints[f.name] in (str, int, bool, str | None, int | None, tuple[str, ...]), (f.name, hints[f.name])


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--bootstrap", "0"], "n_bootstrap must be an integer from 1 to 10000"),
        (["--bootstrap", "10001"], "n_bootstrap must be an integer from 1 to 10000"),
        (["--limit", "-1"], "limit must be an integer from 1"),
        (["--batch-size", "0"], "batch_size must be an integer from 1"),
        (["--settings", "video"], "invalid choice"),
        (
            ["--gap", "text:speech_to_speech"],
            "--gap text:speech_to_speech compares settings that --settings does not run (it runs text audio)",
        ),
        (["--gap", "text:text"], "invalid choice"),
    ],
)
def test_bad_values_are_refused_before_any_work(argv, words, capsys):
    from s2sbench_hf.cli import main

    with pytest.raises(SystemExit) if "invalid choice" in words else contextlib.nullcontext():
        code = main(["run", "--model", "org/m", *argv])
        assert code == 2
    assert words in capsys.readouterr().err


def test_the_model_spec_is_the_key_of_a_loaded_model():
    a = RunConfig(model="m", limit=3, tasks=("scmmlu",)).model_spec()
    b = RunConfig(model="m", limit=5).model_spec()
    assert a == b == ModelSpec("m")
    assert RunConfig(model="m", dtype="bfloat16").model_spec() != a


def test_decisive_leaves_out_batching_and_the_model_path():
    record = RunConfig(model="m", batch_size=2).record({})
    decisive = RunConfig.decisive(record)
    assert "batch_size" not in decisive and "max_batch_tokens" not in decisive and "model" not in decisive
    assert decisive["dtype"] == "auto" and decisive["limit"] is None


def test_compute_runs_a_chat_model_with_a_token_budget(qwen2_audio_path):
    out = evaluate_metric.compute_model(
        str(qwen2_audio_path),
        tasks=["sstorycloze"],
        dataset="samples",
        limit=2,
        device="cpu",
        dtype="float32",
        chat_template=True,
        max_batch_tokens=400,
        n_bootstrap=10,
        progress=False,
    )
    assert out["model"]["chat_template"] is True
    assert out["tasks"]["sstorycloze"]["n_items"] == 2
    plain = evaluate_metric.compute_model(
        str(qwen2_audio_path),
        tasks=["sstorycloze"],
        dataset="samples",
        limit=2,
        device="cpu",
        dtype="float32",
        n_bootstrap=10,
        progress=False,
    )
    assert plain["model"]["chat_template"] is False
    # the chat framing changes the scores
    assert plain["tasks"]["sstorycloze"]["text_answer_loss"] != out["tasks"]["sstorycloze"]["text_answer_loss"]


def test_argparse_namespace_without_a_field_keeps_its_default():
    config = options.from_namespace(argparse.Namespace(model="m", limit=4))
    assert config.limit == 4 and config.batch_size == RunConfig.__dataclass_fields__["batch_size"].default
