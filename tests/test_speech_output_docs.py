"""The bring-your-own speech-to-speech scorer of docs/speech-output.md, run as written.

The test takes the ``speech_scorer.py`` block out of the document and runs it
through ``s2sbench run --adapter python:speech_scorer:SpeechTokenScorer`` in the
two speech-output settings, on a stand-in ``--trust-remote-code`` model
(`testing.make_tiny_speech_unit_lm`). Each spoken continuation is scored over
its clip's speech tokens (one per 40 ms of the clip, counted here from the
clip), and its NLL equals the model's own cross-entropy loss over those tokens
(an independent formulation: ``labels`` with the prompt masked). Without
``--trust-remote-code`` the run stops with a message that says to give it.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from s2sbench_hf.cli import main
from s2sbench_hf.data.sources import load_task
from s2sbench_hf.scoring.engine import make_request
from s2sbench_hf.testing import REL_TOL, make_tiny_speech_unit_lm, relative_deviation

DOC = Path(__file__).resolve().parents[1] / "docs" / "speech-output.md"
SETTINGS = ("text_to_speech", "speech_to_speech")


def documented_scorer() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    [code] = [block for block in blocks if block.startswith("# speech_scorer.py\n")]
    return code


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory) -> str:
    return str(make_tiny_speech_unit_lm(tmp_path_factory.mktemp("speech-unit-lm")))


def run(model: str, out: Path, *extra: str) -> int:
    return main(
        [
            "run",
            "--adapter",
            "python:speech_scorer:SpeechTokenScorer",
            "--model",
            model,
            *extra,
            "--tasks",
            "sstorycloze",
            "--dataset",
            "samples",
            "--limit",
            "3",
            "--settings",
            *SETTINGS,
            "--gap",
            "text_to_speech:speech_to_speech",
            "--device",
            "cpu",
            "--bootstrap",
            "20",
            "--no-progress",
            "--output",
            str(out),
        ]
    )


@torch.inference_mode()
def test_the_documented_scorer_runs_the_speech_output_settings(stand_in, tmp_path, monkeypatch):
    (tmp_path / "speech_scorer.py").write_text(documented_scorer(), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tmp_path / "out"
    assert run(stand_in, out, "--trust-remote-code") == 0
    results = json.loads((out / "results.json").read_text())
    assert results["model"]["speech_tokens"] == "the model's speech units"
    task = results["results"]["sstorycloze"]
    assert task["n_items"] == 3 and set(task["settings"]) == set(SETTINGS)
    assert task["degradation"]["gap"] == pytest.approx(
        task["settings"]["text_to_speech"]["accuracy"] - task["settings"]["speech_to_speech"]["accuracy"]
    )

    model = AutoModelForCausalLM.from_pretrained(stand_in, trust_remote_code=True).eval()
    tokenizer = AutoTokenizer.from_pretrained(stand_in)
    loaded = load_task("sstorycloze", "samples", limit=3)
    items = {item.id: item for item in loaded.items}
    rows = [json.loads(line) for line in (out / "samples_sstorycloze.jsonl").read_text().splitlines()]
    assert len(rows) == 3 * 2 * 2  # items x settings x continuations
    for row in rows:
        item = items[row["item_id"]]
        clip = item.continuation_waveform(row["choice"], 16000)
        assert row["n_tokens"] == math.ceil(len(clip) / 640)  # one speech token per started 40 ms
        if row["setting"] == "text_to_speech":  # the reference: the model's own loss over the tokens after the prompt
            context = make_request(loaded.task, item, "text_to_speech", loaded.task.framing, 16000).context
            prompt = tokenizer(context, add_special_tokens=False)["input_ids"]
            cont = model.speech_ids(clip)
            ids = torch.tensor([prompt + [model.speech_start_id] + cont])
            labels = ids.clone()
            labels[0, : len(prompt) + 1] = -100
            loss = model(ids, labels=labels).loss.item() * len(cont)
            assert relative_deviation([row["nll_sum"]], [loss]) < REL_TOL
    assert main(["validate", str(out)]) == 0


def test_without_trust_remote_code_the_documented_scorer_says_so(stand_in, tmp_path, monkeypatch, capsys):
    (tmp_path / "speech_scorer.py").write_text(documented_scorer(), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert run(stand_in, tmp_path / "out") != 0
    assert "--trust-remote-code" in capsys.readouterr().err
