"""``s2sbench prompts`` (`s2sbench_hf.prompts`): what it shows is what the model is given and what is scored.

The shown output is read back (each piece is a Python literal) and compared with the framed request
(`make_request`) and the token rule: a continuation is scored on ``encode(separator + ending)``.
"""

from __future__ import annotations

import ast
import re
import textwrap

import pytest

from s2sbench_hf.cli import main
from s2sbench_hf.data.sources import load_task
from s2sbench_hf.scoring.engine import make_request
from s2sbench_hf.scoring.registry import load_scorer
from s2sbench_hf.tasks import AS_SHIPPED_FRAMING

PIECE = re.compile(r"""('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")( x (\d+))?""")


def shown(capsys, model, *flags):
    """The blocks `s2sbench prompts` prints on the bundled samples, by (task, setting, item id)."""
    assert main(["prompts", "--model", str(model), "--dataset", "samples", "--device", "cpu", *flags]) == 0
    blocks = {}
    for block in capsys.readouterr().out.strip().split("\n\n"):
        task, setting, item = re.match(r"--- (\S+) · (\S+) · item (\S+)", block).groups()
        blocks[task, setting, item] = block
    return blocks


def read_back(part):
    """The text of a printed part (its pieces joined, runs left out) and its runs as (token, count)."""
    text, runs = "", []
    for literal, _, count in PIECE.findall(part):
        if count:
            runs.append((ast.literal_eval(literal), int(count)))
        else:
            text += ast.literal_eval(literal)
    return text, runs


def parts(block):
    """The prompt part of a block and, per continuation, (scored token count, scored part)."""
    prompt, *choices = re.split(r"\nchoice \d+(?: \(answer\))?: ", block)
    scored = [(int(c.split(" scored tokens", 1)[0]), c.split("\n", 1)[1]) for c in choices]
    return prompt.split("\n", 2)[2], scored


@pytest.mark.parametrize("model_fixture", ["qwen2_audio_path", "real_qwen2_audio_path"])
def test_shown_tokens_are_the_framed_text_and_the_scored_tokens_follow_the_token_rule(request, capsys, model_fixture):
    model = request.getfixturevalue(model_fixture)
    blocks = shown(capsys, model, "--tasks", "sstorycloze", "zh_sstorycloze")
    scorer = load_scorer(str(model), device="cpu")
    seen = set()
    for task_id in ("sstorycloze", "zh_sstorycloze"):
        loaded = load_task(task_id, "samples", limit=2)
        for item in loaded.items:
            for setting in ("text", "audio"):
                framed = make_request(loaded.task, item, setting, loaded.task.framing, 16000, decode=False)
                prompt, scored = parts(blocks[task_id, setting, item.id])
                text, runs = read_back(prompt)
                if setting == "text":
                    assert text == framed.context and not runs
                else:
                    assert text == framed.context + "<|audio_bos|><|audio_eos|>"
                    (token, count), seconds = runs[0], framed.audio_seconds
                    assert token == "<|AUDIO|>" and len(runs) == 1
                    assert count == scorer.speech_positions(seconds) - 2  # the clip's frames, between its markers
                    assert f"({count} of them for {seconds:.2f} s of speech)" in blocks[task_id, setting, item.id]
                assert len(scored) == len(item.choices)
                for (count, part), continuation, ending in zip(scored, framed.continuations, item.choices, strict=True):
                    separator = loaded.task.framing.text_separator if setting == "text" else ""
                    assert continuation == separator + ending
                    assert part.lstrip().startswith("[[") and part.rstrip().endswith("]]")
                    assert read_back(part) == (continuation, [])
                    assert count == len(scorer.tokenizer(separator + ending, add_special_tokens=False)["input_ids"])
                seen.add(setting)
    assert seen == {"text", "audio"}


def test_reference_as_shipped_framing_shows_the_chinese_prefix(capsys, qwen2_audio_path):
    blocks = shown(
        capsys,
        qwen2_audio_path,
        "--tasks",
        "sstorycloze",
        "--settings",
        "audio",
        "--framing",
        "reference-as-shipped",
        "--items",
        "1",
    )
    ((key, block),) = blocks.items()
    assert key[:2] == ("sstorycloze", "audio")
    text, _ = read_back(parts(block)[0])
    assert text.startswith(AS_SHIPPED_FRAMING.audio_prefix) and AS_SHIPPED_FRAMING.audio_prefix.strip()


OWN_SCORER = """
from s2sbench_hf.scoring.interface import ContinuationScore, Scorer


class CountingScorer(Scorer):
    name = "counting"
    settings = ("text", "audio")

    def __init__(self, model_id, **kwargs):
        pass

    def score(self, requests):
        return [[ContinuationScore(float(len(c)), max(len(c), 1)) for c in r.continuations] for r in requests]
"""


def test_a_users_own_scorer_shows_the_framed_strings(tmp_path, monkeypatch, capsys):
    (tmp_path / "counting_scorer.py").write_text(textwrap.dedent(OWN_SCORER))
    monkeypatch.syspath_prepend(str(tmp_path))
    argv = ["prompts", "--model", "any", "--adapter", "python:counting_scorer:CountingScorer", "--dataset", "samples"]
    assert main([*argv, "--tasks", "sstorycloze", "--settings", "text", "--items", "1"]) == 0
    out = capsys.readouterr().out
    loaded = load_task("sstorycloze", "samples", limit=1)
    item = loaded.items[0]
    assert "not a transformers adapter" in out and "scored tokens" not in out
    assert f"prompt (framed): {loaded.task.framing.text_context(item.context)!r}" in out
    assert f"choice {item.label} (answer) (framed): {' ' + item.choices[item.label]!r}" in out


@pytest.mark.parametrize(
    "flags", [["--items", "0"], ["--tasks", "nope"], ["--framing", "reference-as-shipped", "--audio-prefix", "x"]]
)
def test_a_bad_option_is_one_line_and_exit_2(capsys, qwen2_audio_path, flags):
    try:
        code = main(["prompts", "--model", str(qwen2_audio_path), "--dataset", "samples", *flags])
    except SystemExit as stop:  # refused by the parser (--items is checked there)
        code = stop.code
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error: ") and "\n" not in err, err


def test_no_progress_leaves_no_bar_while_the_data_and_model_load(capsys, qwen2_audio_path):
    """As for a run: --no-progress silences transformers' "Loading weights" too; without it that bar shows."""
    argv = ["prompts", "--model", str(qwen2_audio_path), "--dataset", "samples", "--tasks", "scmmlu", "--items", "1"]
    assert main([*argv, "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "Loading weights" not in err and "%|" not in err
    assert main(argv) == 0
    assert "Loading weights" in capsys.readouterr().err
