"""One bad item costs one item; a model that cannot run costs one message; bad options cost nothing.

The scorer here is scripted by its model id (``--model``), so that the whole
path runs as a user runs it (``s2sbench run --adapter python:test_failures:ScriptedScorer``):

* ``clean``: deterministic scores per (task, item, setting, choice);
* ``nan:<task>/<item>:<setting>``: the same, but NaN for that item in that setting;
* ``nan-all``: NaN for everything; ``raise:<Exception class>``: every request raises it;
* ``raise-long:<n>``: requests whose context is longer than n characters raise (item-specific);
* ``item-error:<setting>``: the scorer refuses every request of that setting as an `ItemError`;
* ``ties``: every continuation gets the same score.
"""

from __future__ import annotations

import builtins
import json
import math
import sys
import zlib
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from cli_helpers import run_cli

from s2sbench_hf import metrics
from s2sbench_hf.options import RunConfig
from s2sbench_hf.runner import evaluate_model
from s2sbench_hf.scoring import family as family_module
from s2sbench_hf.scoring.cache import RecordCache
from s2sbench_hf.scoring.engine import score_items
from s2sbench_hf.scoring.interface import AdapterError, ContinuationScore, Record, Scorer
from s2sbench_hf.scoring.registry import ADAPTERS, TRANSFORMERS_FLOOR, load_scorer
from s2sbench_hf.tasks import TASKS, Item, ItemError

ADAPTER = "python:test_failures:ScriptedScorer"


class ScriptedScorer(Scorer):
    name = "scripted"
    settings = ("text", "audio")
    sampling_rate = 16000
    calls: ClassVar[list[int]] = []
    """Requests per `score` call, over every instance (to count work)."""

    def __init__(self, model_id: str, **_: object):
        self.model_id = model_id
        self.mode, _, self.arg = model_id.partition(":")

    def describe(self):
        """One identity for every script: a rerun in the same folder reuses the cache, as after fixing a model."""
        return {"adapter": self.name, "model_id": "scripted-model", "revision": "scripted"}

    def score(self, requests):
        ScriptedScorer.calls.append(len(requests))
        if self.mode == "raise":
            raise getattr(builtins, self.arg)("the scripted failure")
        out = []
        for r in requests:
            if self.mode == "raise-long" and len(r.context_text or r.context) > int(self.arg):
                raise RuntimeError("CUDA out of memory (scripted)")
            if self.mode == "item-error" and r.setting == self.arg:
                raise ItemError(r.task, r.item_id, "its audio is longer than the model's window", "Split it.")
            scores = []
            for j, c in enumerate(r.continuations):
                seed = zlib.crc32(f"{r.task}|{r.item_id}|{r.setting}|{j}".encode())
                nll = 10.0 if self.mode == "ties" else float(np.random.default_rng(seed).uniform(5, 60))
                if self.mode == "nan-all" or self.arg == f"{r.task}/{r.item_id}:{r.setting}":
                    nll = math.nan
                scores.append(ContinuationScore(nll, 1 if self.mode == "ties" else len(c) // 3 + 1))
            out.append(scores)
        return out


TASK_IDS = ("sstorycloze", "scmmlu")


def _run(model: str, output: Path | None = None, **options):
    config = RunConfig(
        model=model,
        adapter=ADAPTER,
        tasks=TASK_IDS,
        dataset="samples",
        limit=8,
        n_bootstrap=200,
        device="cpu",
        batch_size=3,
        **options,
    )
    return evaluate_model(config, scorer=ScriptedScorer(model), progress=False, output=output)


def _cli(model: str, output: Path, **changes) -> int:
    """A run of the scripted scorer ``model`` into ``output`` (its options changed by ``changes``)."""
    run = {
        "adapter": ADAPTER,
        "tasks": TASK_IDS,
        "dataset": "samples",
        "limit": 8,
        "device": "cpu",
        "n_bootstrap": 200,
        "batch_size": 3,
        "no_progress": True,
    }
    return run_cli(model, output, **{**run, **changes})


def _first_item(task_id: str) -> str:
    return _run("clean").records[task_id][0].item_id


# ----------------------------------------------------------------- a NaN costs its item


def test_a_nan_costs_exactly_its_item_and_is_retried_on_the_next_run(tmp_path, capsys):
    bad = _first_item("scmmlu")
    clean = _run("clean")
    out = tmp_path / "run"
    code = _cli(f"nan:scmmlu/{bad}:audio", out)
    assert code == 0  # as for any other item error
    err = capsys.readouterr().err
    assert f"item '{bad}'" in err and "non-finite" in err
    res = json.loads((out / "results.json").read_text())
    assert [(e["task"], e["item_id"]) for e in res["errors"]] == [("scmmlu", bad)]
    assert res["results"]["scmmlu"]["n_failed"] == 1

    # Every other number is what a run without the item gives.
    without = [r for r in clean.records["scmmlu"] if r.item_id != bad]
    expected = metrics.summarize_records(TASKS["scmmlu"], without, ["text", "audio"], n_bootstrap=200)
    expected.pop("item_ids")
    got = dict(res["results"]["scmmlu"])
    assert got.pop("n_failed") == 1
    assert [entry.pop("n_windowed_clips") for entry in got["settings"].values()] == [0, 0]  # short clips
    assert got == json.loads(json.dumps(expected))
    assert res["results"]["sstorycloze"] == clean.results["results"]["sstorycloze"]
    samples = [json.loads(line) for line in (out / "samples_scmmlu.jsonl").read_text().splitlines()]
    assert {(r["item_id"], r["setting"]) for r in samples} == {
        (r.item_id, r.setting) for r in clean.records["scmmlu"]
    } - {(bad, "audio")}
    assert all(math.isfinite(r["nll_sum"]) for r in samples)
    for path in (out / "cache").rglob("records-rank*.jsonl"):  # never cached as a score
        assert "NaN" not in path.read_text()

    # The rerun (same output folder) neither crashes nor trusts anything about the item: it scores it again.
    ScriptedScorer.calls.clear()
    assert _cli(f"nan:scmmlu/{bad}:audio", out) == 0
    assert ScriptedScorer.calls  # the item's batch was tried again
    res = json.loads((out / "results.json").read_text())
    assert [(e["task"], e["item_id"]) for e in res["errors"]] == [("scmmlu", bad)]
    # Once the model is fixed (here: the same cache, a scorer that no longer returns NaN), the item comes back.
    healed = _run("clean", out)
    assert healed.results["compute"]["records_scored"] > 0 and not healed.errors
    assert healed.results["results"] == clean.results["results"]


def test_nan_records_of_an_older_version_in_the_cache_are_scored_again(tmp_path):
    identity = {"model": "m", "task": "sstorycloze"}
    cache = RecordCache(tmp_path, identity)
    good = Record("sstorycloze", "a", "text", 0, True, "x", 12.5, 3, 4)
    nan = Record("sstorycloze", "a", "text", 1, False, "y", math.nan, 3, 4)
    inf = Record("sstorycloze", "b", "text", 0, True, "y", math.inf, 3, 4)
    with cache.path.open("w") as handle:  # written as json.dumps writes non-finite floats
        handle.write("".join(json.dumps(r.to_dict() | {"ppl": 1.0}) + "\n" for r in (good, nan, inf)))
    assert "NaN" in cache.path.read_text() and "Infinity" in cache.path.read_text()
    assert cache.load() == [good]


# ------------------------------------------------------------- a model that cannot run


def _items(n: int = 12) -> list[Item]:
    return [Item("sstorycloze", f"i{i}", "A story. " * (1 + i), ["Good end.", "Bad end."], 0) for i in range(n)]


@pytest.mark.parametrize(
    "model,kind", [("raise:RuntimeError", "RuntimeError"), ("nan-all", "NonFiniteScore"), ("raise:OSError", "OSError")]
)
def test_a_model_that_fails_everything_stops_at_the_first_batch(model, kind):
    ScriptedScorer.calls.clear()
    with pytest.raises(AdapterError, match=f"every request of the first batch failed with {kind}"):
        score_items(ScriptedScorer(model), TASKS["sstorycloze"], _items(), ["text"], batch_size=4, progress=False)
    # the batch, its 4 requests alone (not for a NaN, which is found per request), the shortest request: not 12 items
    assert sum(ScriptedScorer.calls) <= 4 + 4 + 1 and len(ScriptedScorer.calls) <= 6


def test_a_missing_package_stops_at_once():
    ScriptedScorer.calls.clear()
    with pytest.raises(AdapterError, match=r"package that is not installed .*ModuleNotFoundError"):
        score_items(
            ScriptedScorer("raise:ModuleNotFoundError"),
            TASKS["sstorycloze"],
            _items(),
            ["text"],
            batch_size=4,
            progress=False,
        )
    assert ScriptedScorer.calls == [4]


def test_failures_of_the_longest_items_stay_item_errors():
    """The first batch holds the longest prompts: when only they fail, the shortest one shows the model works."""
    items = _items()
    long_ones = {item.id for item in items if len(item.context.rstrip()) > 79}  # the prompt drops the final space
    records, errors = score_items(
        ScriptedScorer("raise-long:79"), TASKS["sstorycloze"], items, ["text"], batch_size=4, progress=False
    )
    assert len(long_ones) == 4 and {e.item_id for e in errors} == long_ones
    assert all("CUDA out of memory" in str(e) for e in errors)
    assert {r.item_id for r in records} == {item.id for item in items} - long_ones


def test_item_errors_the_scorer_raises_never_stop_the_run():
    records, errors = score_items(
        ScriptedScorer("item-error:text"), TASKS["sstorycloze"], _items(4), ["text"], batch_size=4, progress=False
    )
    assert not records and len(errors) == 4 and all("longer than the model's window" in str(e) for e in errors)


def test_the_cli_says_once_that_the_model_cannot_run(tmp_path, capsys):
    assert _cli("raise:RuntimeError", tmp_path / "o") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: the model cannot score task 'sstorycloze' in the text setting")
    assert not (tmp_path / "o" / "results.json").exists()


# ------------------------------------------------------- a family without its package

NEEDY = [name for name, entry in ADAPTERS.items() if entry.needs]
"""The families whose transformers classes import a package the core does not install (`Family.needs`)."""


@pytest.fixture
def hide(monkeypatch):
    """``hide(*packages)``: those packages as if not installed, even where they are (``sys.modules[name] = None``:
    `importlib.util.find_spec` finds nothing and an import fails). The registry sees the package's floor of
    transformers, where every need applies, and can import no adapter module: the refusal must come first."""

    def no_import(name: str) -> None:
        raise AssertionError(f"{name} was imported for a family whose package is missing")

    monkeypatch.setattr(family_module, "installed_transformers", lambda: TRANSFORMERS_FLOOR)
    monkeypatch.setattr(family_module, "import_module", no_import)
    return lambda *packages: [monkeypatch.setitem(sys.modules, package, None) for package in packages]


def _model_options(folder: Path, family: str) -> dict[str, Path | str]:
    """``model``: a folder with only a config.json, of ``family``'s model type (all that detection reads); a family
    chosen by name only (cascade) is named (``adapter``)."""
    folder.mkdir()
    types = ADAPTERS[family].model_types
    (folder / "config.json").write_text(json.dumps({"model_type": types[0] if types else "llama"}), encoding="utf-8")
    return {"model": folder, **({} if types else {"adapter": family, "asr_model": folder})}


@pytest.mark.parametrize("family", NEEDY)
def test_a_family_without_its_package_stops_in_one_line_naming_its_extra(family, hide, tmp_path, capsys):
    entry = ADAPTERS[family]
    hide(*(need.package for need in entry.needs))
    code = run_cli(
        **_model_options(tmp_path / "m", family),
        output=tmp_path / "o",
        tasks="sstorycloze",
        dataset="samples",
        limit=1,
        device="cpu",
        no_progress=True,
    )
    assert code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"error: family {family!r} needs {entry.needs[0].package} (")
    assert line.endswith(f'not installed: pip install "s2sbench-hf[{family}]"')
    assert all(need.package in line for need in entry.needs)
    assert not (tmp_path / "o" / "results.json").exists()


def test_the_issues_two_families_say_exactly_this(hide):
    """By name (``--adapter``) as detected: the same line, before any file of the model is read."""
    hide("torchaudio", "timm", "torchvision")
    for family, line in {
        "granite-speech": (
            'needs torchaudio (its feature extractor), not installed: pip install "s2sbench-hf[granite-speech]"'
        ),
        "gemma3n": (
            "needs timm (its vision tower, built even for speech) and torchvision (timm imports it), not installed: "
            'pip install "s2sbench-hf[gemma3n]"'
        ),
    }.items():
        with pytest.raises(AdapterError) as err:
            load_scorer("no/such-model", adapter=family)
        assert str(err.value) == f"family {family!r} {line}"


def test_a_need_counts_only_while_its_package_is_missing_on_a_release_that_needs_it(hide, monkeypatch):
    hide("librosa")
    nemotron = ADAPTERS["nemotron-h-omni"]
    assert nemotron.missing_packages() == (
        "family 'nemotron-h-omni' needs librosa (its feature extractor; on transformers<5.23.0), not installed: "
        'pip install "s2sbench-hf[nemotron-h-omni]"'
    )
    # its feature extractor needs none since 5.23
    monkeypatch.setattr(family_module, "installed_transformers", lambda: "5.23.0")
    assert nemotron.missing_packages() is None
    hide("scipy")
    assert ADAPTERS["inkling"].missing_packages() is not None
    monkeypatch.delitem(sys.modules, "scipy")  # installed (the dev extra): found again
    assert ADAPTERS["inkling"].missing_packages() is None
    assert ADAPTERS["qwen2-audio"].missing_packages() is None and not ADAPTERS["qwen2-audio"].needs


def test_a_granite_speech_checkpoint_with_a_lora_is_refused_without_peft(tmp_path, monkeypatch):
    """transformers only warns when peft is missing and scores the speech without the LoRA: refused instead."""
    from transformers import GraniteSpeechConfig

    from s2sbench_hf.scoring.adapters import granite_speech

    scorer = object.__new__(granite_speech.GraniteSpeechScorer)  # its load alone, before any weight is read
    scorer.model_id, scorer.revision, scorer.trust_remote_code = str(tmp_path), None, False
    GraniteSpeechConfig(has_lora_adapter=True).save_pretrained(tmp_path)
    monkeypatch.setattr(granite_speech, "is_peft_available", lambda: False)
    with pytest.raises(AdapterError, match=r"has a speech LoRA \(has_lora_adapter\), which needs peft: pip install"):
        scorer.load()
    GraniteSpeechConfig(has_lora_adapter=False).save_pretrained(tmp_path)  # no LoRA: on to the loading
    with pytest.raises(OSError):  # (the folder has no weights)
        scorer.load()


# ------------------------------------------------------- nothing scored: a failed run


def test_a_setting_with_no_item_scored_fails_the_run_but_keeps_the_files(tmp_path, capsys):
    out = tmp_path / "o"
    assert _cli("item-error:audio", out) == 1
    err = capsys.readouterr().err
    assert "error: task 'sstorycloze': no item was scored in the audio setting (8 item error(s)" in err
    assert "error: task 'scmmlu': no item was scored in the audio setting" in err
    res = json.loads((out / "results.json").read_text())
    assert res["results"]["sstorycloze"]["n_items"] == 0 and len(res["errors"]) == 16
    assert res["results"]["sstorycloze"]["n_failed"] == 8


def test_an_export_the_reference_format_cannot_express_is_left_out_with_a_warning(tmp_path, capsys):
    out = tmp_path / "o"
    assert _cli("ties", out, tie_policy="half") == 0
    err = capsys.readouterr().err
    assert "warning: task 'sstorycloze': no reference export" in err and "16 comparison(s) are exact ties" in err
    assert "warning: task 'scmmlu': no reference export" in err and "48 comparison(s)" in err
    res = json.loads((out / "results.json").read_text())
    assert res["results"]["scmmlu"]["settings"]["text"]["accuracy"] == 0.5
    assert not (out / "reference" / "scmmlu").exists() and (out / "samples_scmmlu.jsonl").exists()


# ------------------------------------------------------- options refused before any work


@pytest.mark.parametrize(
    "flags,problem",
    [
        ({"n_bootstrap": 0}, "n_bootstrap must be an integer from 1 to 10000, got 0"),
        ({"limit": -1}, "limit must be an integer from 1 to 10000000, got -1"),
        ({"limit": 0}, "limit must be an integer from 1 to 10000000, got 0"),
        ({"batch_size": 0}, "batch_size must be an integer from 1 to 10000000, got 0"),
        (
            {"framing_preset": "reference-as-shipped", "audio_prefix": "x"},
            "--framing reference-as-shipped fixes the framing",
        ),
    ],
)
def test_bad_options_are_refused_before_any_work(tmp_path, capsys, flags, problem):
    ScriptedScorer.calls.clear()
    assert _cli("clean", tmp_path / "o", **flags) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: invalid run options:") and problem in err[0]
    assert not ScriptedScorer.calls and not (tmp_path / "o").exists()
