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
    "device_map": "auto",
    "max_memory": ("0=70GiB", "cpu=8GiB"),
    "model_kwargs": ("use_safetensors=true",),
    "backend": "vllm",
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


# ------------------------------------------------------------------------- loading options (--device-map and co.)

LOADING_FORMS = [
    (
        {"device_map": '{"model": 0, "lm_head": "cpu"}', "max_memory": ("cpu=8GiB", "0=70 GiB")},
        {"device_map": {"lm_head": "cpu", "model": 0}, "max_memory": {0: "70GiB", "cpu": "8GiB"}},
    ),
    (
        {"model_kwargs": ('quantization_config={"load_in_8bit": true, "a": 1}', "variant=fp16", 'revision_x="1"')},
        {"model_kwargs": {"variant": "fp16", "revision_x": "1", "quantization_config": {"a": 1, "load_in_8bit": True}}},
    ),
]
"""The same loading options as flags (strings) and as the `evaluate` metric's natural dicts."""


def _run_argv(values: dict) -> list[str]:
    """``s2sbench run`` arguments for ``values``."""
    return ["run", "--model", "org/m"] + [word for name, value in values.items() for word in _as_argv(name, value)]


@pytest.mark.parametrize(("flags", "dicts"), LOADING_FORMS)
def test_loading_options_record_the_same_from_flags_and_dicts(flags, dicts):
    from_cli = options.from_namespace(build_parser().parse_args(_run_argv(flags)))
    from_compute = RunConfig.from_kwargs(model="org/m", **dicts)
    assert from_cli.record({}) == from_compute.record({})
    assert from_cli.model_spec() == from_compute.model_spec()  # one loaded model for both
    assert from_cli.scorer_kwargs() == from_compute.scorer_kwargs()


def test_loading_options_reach_the_scorer_as_from_pretrained_takes_them():
    config = RunConfig.from_kwargs(model="m", **LOADING_FORMS[0][1], **LOADING_FORMS[1][1])
    kwargs = config.scorer_kwargs()
    assert kwargs["device_map"] == {"lm_head": "cpu", "model": 0}
    assert kwargs["max_memory"] == {0: "70GiB", "cpu": "8GiB"}  # GPU indexes as ints, as accelerate wants them
    assert kwargs["model_kwargs"] == {
        "quantization_config": {"a": 1, "load_in_8bit": True},
        "variant": "fp16",
        "revision_x": "1",
    }
    assert config.record({})["model_kwargs"] == [
        'quantization_config={"a":1,"load_in_8bit":true}',
        'revision_x="1"',
        "variant=fp16",
    ]
    assert "device_map" not in RunConfig(model="m").scorer_kwargs()
    assert RunConfig(model="m", device_map="auto", max_memory=("cpu=1000",)).scorer_kwargs()["max_memory"] == {
        "cpu": 1000
    }


def test_loading_options_do_not_decide_the_numbers_but_model_kwargs_do():
    plain = RunConfig.decisive(RunConfig(model="m").record({}))
    sharded = RunConfig.decisive(RunConfig(model="m", device_map="auto", max_memory=("cpu=1GiB",)).record({}))
    quantized = RunConfig.decisive(RunConfig(model="m", model_kwargs=("load_in_8bit=true",)).record({}))
    assert plain == sharded and plain != quantized


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"device_map": "everywhere"}, "device_map 'everywhere': not a preset nor a non-empty JSON object; write auto"),
        ({"device_map": '{"lm_head": "gpu"}'}, "module 'lm_head' goes to 'gpu', which is no device"),
        ({"max_memory": ("cpu=1GiB",)}, "--max-memory needs a device map to split the model by: add --device-map auto"),
        ({"device_map": "auto", "max_memory": ("cuda0=1GiB",)}, "max_memory device 'cuda0': write a GPU index"),
        ({"device_map": "auto", "max_memory": ("cpu=plenty",)}, "max_memory size 'plenty' of cpu: write bytes"),
        ({"device_map": "auto", "max_memory": ("cpu=-1GB",)}, "max_memory size '-1GB' of cpu"),
        ({"device_map": "auto", "max_memory": ("cpu=1GiB", "cpu=2GiB")}, "max_memory gives device 'cpu' twice"),
        ({"device_map": "auto", "max_memory": ("cpu",)}, "max_memory entry 'cpu': write DEVICE=SIZE"),
        ({"model_kwargs": ("dtype=float16",)}, "model_kwargs 'dtype' is an option of its own: use --dtype"),
        ({"model_kwargs": ("torch_dtype=float16",)}, "model_kwargs 'torch_dtype' is an option of its own: use --dtype"),
        ({"model_kwargs": ("device_map=auto",)}, "model_kwargs 'device_map' is an option of its own: use --device-map"),
        ({"model_kwargs": ("trust_remote_code=true",)}, "use --trust-remote-code"),
        ({"model_kwargs": ("offload_folder=/tmp/x",)}, "model_kwargs 'offload_folder' is not yours to set"),
        ({"model_kwargs": ("2fast=1",)}, "model_kwargs key '2fast' is not a keyword argument name"),
        ({"model_kwargs": ("a=1", "a=2")}, "model_kwargs gives 'a' twice"),
        (
            {"device_map": "auto", "model_kwargs": ("tp_plan=auto",)},
            "model_kwargs 'tp_plan' splits the model over processes: drop --device-map",
        ),
    ],
)
def test_bad_loading_options_exit_2_with_one_line(values, words, capsys):
    from s2sbench_hf.cli import main

    assert main(_run_argv(values)) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and len(err.splitlines()) == 1, err
    with pytest.raises(OptionError, match="invalid run options"):
        RunConfig(model="m", **values)


def test_loading_options_from_compute_refuse_what_is_not_json():
    with pytest.raises(OptionError, match=r"model_kwargs 'quantization_config': its value .* is not JSON"):
        RunConfig.from_kwargs(model="m", model_kwargs={"quantization_config": object()})
    with pytest.raises(OptionError, match="max_memory size True of cpu"):
        RunConfig.from_kwargs(model="m", device_map="auto", max_memory={"cpu": True})


@pytest.mark.parametrize("key", ["token", "use_auth_token"])
def test_a_hub_token_is_never_a_model_option(key, capsys):
    """results.json records every option and a board publishes it: a token given as one is refused from both doors."""
    from s2sbench_hf.cli import main

    assert main(_run_argv({"model_kwargs": (f"{key}=hf_{'x' * 34}",)})) == 2
    err = capsys.readouterr().err.strip()
    assert "HF_TOKEN" in err and "hf_xxx" not in err and len(err.splitlines()) == 1, err
    with pytest.raises(OptionError, match=r"would write your Hub token into results\.json"):
        RunConfig.from_kwargs(model="m", model_kwargs={key: "hf_" + "x" * 34})


def test_rerun_takes_the_loading_options_of_a_run():
    rerun = {f.name: f for f in fields(options.RerunOptions)}
    spec = {f.name: f for f in fields(ModelSpec)}
    for name in ("device_map", "max_memory"):
        assert rerun[name].metadata == spec[name].metadata and rerun[name].default == spec[name].default
    with pytest.raises(OptionError, match="add --device-map auto"):
        options.RerunOptions(max_memory=("cpu=1GiB",))
    assert options.RerunOptions(model_kwargs={"a": 1}).model_kwargs == ("a=1",)


def test_a_recorded_spec_keeps_every_model_option_unless_overridden():
    record = RunConfig.from_kwargs(**NON_DEFAULT).record({})
    spec = ModelSpec.from_record(record, device="cuda:1")
    for f in fields(ModelSpec):
        expected = "cuda:1" if f.name == "device" else NON_DEFAULT.get(f.name, f.default)
        assert getattr(spec, f.name) == expected, f.name


# ------------------------------------------------------------------ no run option restated by a command line module

OTHER_MEANINGS = {
    ("build.py", "--revision"): "the revision of the release or source dataset converted, not of a model",
    ("build.py", "--limit"): "rows of a source file to build from, not items of a run",
    ("build.py", "--device"): "the device of the text-to-speech model that speaks the dataset",
    ("build.py", "--seed"): "the seed of the voices drawn and of a sampling text-to-speech model",
    ("tiny_model.py", "--seed"): "the seed of a tiny model's random weights, not the bootstrap's",
    ("leaderboard.py", "--revision"): "the revision of the results dataset a board is built from",
    ("score.py", "--model"): "the name recorded for imported result files; no model is loaded",
    ("score.py", "--tasks"): "the tasks found in the result files to read",
}
"""Flags of a command line module spelled like an option field's flag but meaning something else, and what."""


def _literal_flags(path) -> list[str]:
    """The ``--flag`` strings of every ``add_argument`` call in the module at ``path``."""
    import ast

    calls = [n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Call)]
    return [
        arg.value
        for call in calls
        if isinstance(call.func, ast.Attribute) and call.func.attr == "add_argument"
        for arg in call.args
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value.startswith("--")
    ]


def test_no_command_line_module_restates_an_option_field():
    """Every run, re-scoring and scoring option is a flag through `options.add_arguments` only: a hand-written
    ``add_argument`` with an option field's flag is a copy that drifts (its help, default and bounds)."""
    from pathlib import Path

    import s2sbench_hf.cli

    owned = {options.flag(f) for cls in (RunConfig, options.RerunOptions, options.SummaryOptions) for f in fields(cls)}
    copies = [
        f"{path.name}: {flag}"
        for path in sorted(Path(s2sbench_hf.cli.__file__).parent.glob("*.py"))
        for flag in _literal_flags(path)
        if flag in owned and (path.name, flag) not in OTHER_MEANINGS
    ]
    assert not copies, f"generate these from the options source (options.add_arguments): {copies}"
    found = {
        (path.name, flag)
        for path in Path(s2sbench_hf.cli.__file__).parent.glob("*.py")
        for flag in _literal_flags(path)
    }
    assert set(OTHER_MEANINGS) <= found, "an exception that no longer exists: remove it"


def test_the_restated_flag_check_sees_a_copy(tmp_path):
    module = tmp_path / "copy.py"
    module.write_text('p.add_argument("--bootstrap", type=int, default=1000)\np.add_argument("--output")\n')
    assert _literal_flags(module) == ["--bootstrap", "--output"]
    assert "--bootstrap" in {options.flag(f) for f in fields(RunConfig)}
