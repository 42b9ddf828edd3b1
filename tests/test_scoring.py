"""The adapters' shared-prefix scoring against plain references, and the engine's error handling."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from cli_helpers import run_cli

from s2sbench_hf.data.sources import load_task
from s2sbench_hf.options import RunConfig
from s2sbench_hf.render import escape_markdown
from s2sbench_hf.runner import evaluate_model
from s2sbench_hf.scoring.engine import make_request, score_items
from s2sbench_hf.scoring.interface import AdapterError, Request
from s2sbench_hf.scoring.registry import load_scorer
from s2sbench_hf.tasks import AS_SHIPPED_FRAMING, AS_SHIPPED_NOTE, TASKS, Item, ItemError, Task
from s2sbench_hf.testing import REL_TOL, deviation_from_full_forward, noise_clip, story_requests

CASES = [("causal_lm_path", "text"), ("qwen2_audio_path", "text"), ("qwen2_audio_path", "audio")]


@pytest.mark.parametrize("model_fixture,setting", CASES)
def test_shared_prefix_equals_full_forward(request, model_fixture, setting):
    scorer = load_scorer(str(request.getfixturevalue(model_fixture)), device="cpu", dtype="float32")
    assert deviation_from_full_forward(scorer, story_requests(setting)) < REL_TOL


def test_text_scores_match_lm_evaluation_harness(causal_lm_path):
    lm_eval_hf = pytest.importorskip("lm_eval.models.huggingface")
    from lm_eval.api.instance import Instance

    scorer = load_scorer(str(causal_lm_path), device="cpu", dtype="float32")
    requests = story_requests("text")
    ours = [s.nll_sum for scores in scorer.score(requests) for s in scores]
    pairs = [(r.context, c) for r in requests for c in r.continuations]
    lm = lm_eval_hf.HFLM(pretrained=str(causal_lm_path), device="cpu", batch_size=2)
    instances = [Instance("loglikelihood", {}, pair, i) for i, pair in enumerate(pairs)]
    theirs = [-ll for ll, _ in lm.loglikelihood(instances, disable_tqdm=True)]
    assert ours == pytest.approx(theirs, rel=1e-6)


def test_audio_conditions_the_score(qwen2_audio_path):
    scorer = load_scorer(str(qwen2_audio_path), device="cpu", dtype="float32")
    base = story_requests("audio")[0]
    other = Request(base.task, base.item_id, "audio", base.context, base.continuations, noise_clip(2.5, seed=99), 16000)
    a = [s.nll_sum for s in scorer.score([base])[0]]
    b = [s.nll_sum for s in scorer.score([other])[0]]
    assert max(abs(x - y) for x, y in zip(a, b, strict=True)) > 1e-3


def test_causal_lm_refuses_audio_setting_clearly(causal_lm_path):
    scorer = load_scorer(str(causal_lm_path), device="cpu")
    with pytest.raises(AdapterError, match="cannot score the 'audio' setting"):
        score_items(scorer, TASKS["sstorycloze"], [], ["text", "audio"])


def test_unknown_adapter_lists_the_supported(causal_lm_path):
    with pytest.raises(AdapterError, match="qwen2-audio"):
        load_scorer(str(causal_lm_path), adapter="nope")


def test_adapter_is_detected_from_config(causal_lm_path, qwen2_audio_path):
    assert load_scorer(str(causal_lm_path), device="cpu").name == "causal-lm"
    assert load_scorer(str(qwen2_audio_path), device="cpu").name == "qwen2-audio"


def test_framing_follows_the_reference():
    en, zh = TASKS["sstorycloze"], TASKS["zh_sstorycloze"]
    item = Item(
        "sstorycloze", "1", "A story.", ["Good end.", "Bad end."], 0, audio=noise_clip(1, 0), sampling_rate=16000
    )
    text = make_request(en, item, "text", en.framing, 16000)
    assert text.context == "A story." and text.continuations == (" Good end.", " Bad end.")
    audio = make_request(en, item, "audio", en.framing, 16000)
    assert audio.context == "Below is a segment of alternating speech and text content: "
    assert audio.continuations == ("Good end.", "Bad end.")
    zh_item = Item("zh_sstorycloze", "1", "故事。", ["好。", "坏。"], 0)
    assert make_request(zh, zh_item, "text", zh.framing, None).continuations == ("好。", "坏。")
    assert zh.framing.audio_prefix == "下面是一段语音和文本交错的内容："


def test_bad_items_are_reported_and_good_ones_kept(qwen2_audio_path, tmp_path):
    import soundfile as sf

    task = TASKS["sstorycloze"]
    stereo_44k = tmp_path / "stereo.wav"
    sf.write(stereo_44k, np.stack([noise_clip(1.5, 1), noise_clip(1.5, 2)], axis=1)[: int(44100 * 1.5)], 44100)
    good = Item("sstorycloze", "good", "A story.", ["Good end.", "Bad end."], 0, audio=str(stereo_44k))
    missing = Item("sstorycloze", "missing", "A story.", ["Good end.", "Bad end."], 1, audio=str(tmp_path / "x.wav"))
    broken = Item("sstorycloze", "broken", "A story.", ["Good end.", "Bad end."], 1, audio=b"not a wav file")
    scorer = load_scorer(str(qwen2_audio_path), device="cpu")
    records, errors = score_items(scorer, task, [good, missing, broken], ["text", "audio"], progress=False)
    assert sorted(e.item_id for e in errors) == ["broken", "missing"]
    assert all("sstorycloze" in str(e) and "audio" in str(e) for e in errors)
    assert {(r.item_id, r.setting) for r in records} == {
        ("good", "text"),
        ("good", "audio"),
        ("missing", "text"),
        ("broken", "text"),
    }


def test_a_failing_request_costs_only_its_item(causal_lm_path):
    """A model error on one request is retried alone and reported; the batch's other items are kept."""
    scorer = load_scorer(str(causal_lm_path), device="cpu")
    real_score = scorer.score

    def flaky(requests):
        if any(r.item_id == "bad" for r in requests):
            raise RuntimeError("CUDA error: device-side assert")
        return real_score(requests)

    scorer.score = flaky
    items = [Item("sstorycloze", i, "A story.", ["Good end.", "Bad end."], 0) for i in ("a", "bad", "b")]
    records, errors = score_items(scorer, TASKS["sstorycloze"], items, ["text"], batch_size=3, progress=False)
    assert [e.item_id for e in errors] == ["bad"] and "device-side assert" in str(errors[0])
    assert sorted({r.item_id for r in records}) == ["a", "b"]


@pytest.mark.parametrize("context", ["A story. ", "A story.\n", "A story. \t "])
def test_trailing_whitespace_of_a_context_is_dropped_by_the_intended_framing_and_kept_as_shipped(context):
    """The intended framing drops a context's trailing whitespace (the separator is the only boundary);
    the shipped reference scripts put the context in the prompt as it is, and so does their preset."""
    task, item = TASKS["sstorycloze"], Item("sstorycloze", "1", context, ["Good end.", "Bad end."], 0)
    intended = make_request(task, item, "text", task.framing, None)
    shipped = make_request(task, item, "text", AS_SHIPPED_FRAMING, None)
    assert intended.context == "A story." and intended.continuations == (" Good end.", " Bad end.")
    assert shipped.context == context and shipped.continuations == ("Good end.", "Bad end.")
    assert AS_SHIPPED_FRAMING.to_dict()["keep_trailing_space"] is True


def test_a_task_spec_carries_keep_trailing_space_and_refuses_a_non_boolean():
    spec = {**TASKS["sstorycloze"].to_spec(), "framing": AS_SHIPPED_FRAMING.to_dict()}
    assert Task.from_spec("t", spec).framing == AS_SHIPPED_FRAMING
    older = {**spec, "framing": {"audio_prefix": "Speech: ", "text_separator": " "}}  # written before the field
    assert Task.from_spec("t", older).framing.keep_trailing_space is False
    with pytest.raises(ValueError, match="keep_trailing_space"):
        Task.from_spec("t", {**spec, "framing": {**spec["framing"], "keep_trailing_space": "yes"}})


SHIPPED_AUDIO_PREFIX = "下面是一段语音和文本交错的内容："


@torch.inference_mode()
def shipped_script_nll(scorer, item: Item, setting: str, j: int) -> tuple[float, int]:
    """The prompt of the shipped reference scripts as they run (their loop leaves ``lang`` Chinese), one full forward.

    Text: ``context + ending``, no space, English too. Audio: the Chinese framing sentence, the speech, the
    ending. Only the ending's tokens are scored.
    """
    model, processor = scorer.model, scorer.processor
    tokenizer = processor.tokenizer
    ending = item.choices[j]
    if setting == "text":  # their processor encodes the question and the trainable ending each on its own
        ending_ids = tokenizer(ending, add_special_tokens=False)["input_ids"]
        ids = tokenizer(item.context, add_special_tokens=False)["input_ids"] + ending_ids
        n = len(ending_ids)
        inputs = {"input_ids": torch.tensor([ids])}
    else:
        speech = f"{processor.audio_bos_token}{processor.audio_token}{processor.audio_eos_token}"
        inputs = processor(
            text=[SHIPPED_AUDIO_PREFIX + speech + ending],
            audio=[item.waveform(16000)],
            sampling_rate=16000,
            return_tensors="pt",
        )
        n = len(tokenizer(ending, add_special_tokens=False)["input_ids"])
    logits = model(**inputs).logits[0, -n - 1 : -1]
    targets = inputs["input_ids"][0, -n:]
    return -float(torch.log_softmax(logits.float(), -1).gather(1, targets[:, None]).sum()), n


def test_reference_as_shipped_framing_equals_the_shipped_scripts_prompt(qwen2_audio_path):
    scorer = load_scorer(str(qwen2_audio_path), device="cpu", dtype="float32")
    tasks = ("sstorycloze", "scmmlu")
    shipped = evaluate_model(
        RunConfig(
            model=str(qwen2_audio_path),
            tasks=tasks,
            dataset="samples",
            limit=3,
            n_bootstrap=20,
            device="cpu",
            framing_preset="reference-as-shipped",
        ),
        scorer,
        progress=False,
    )
    intended = evaluate_model(
        RunConfig(model=str(qwen2_audio_path), tasks=tasks, dataset="samples", limit=3, n_bootstrap=20, device="cpu"),
        scorer,
        progress=False,
    )
    assert shipped.results["config"]["framing_preset"] == "reference-as-shipped"
    assert shipped.results["notes"] == [AS_SHIPPED_NOTE] and intended.results["notes"] == []
    assert shipped.results["config"]["framing"]["sstorycloze"]["audio_prefix"] == SHIPPED_AUDIO_PREFIX
    for task_id in tasks:
        items = {item.id: item for item in load_task(task_id, None, limit=3).items}
        assert len(shipped.records[task_id]) == 3 * 2 * TASKS[task_id].num_choices
        for record in shipped.records[task_id]:
            nll, n = shipped_script_nll(scorer, items[record.item_id], record.setting, record.choice)
            assert record.n_tokens == n
            assert record.nll_sum == pytest.approx(nll, rel=1e-6)
    # The English stories are where the shipped framing differs from the intended one, in both settings
    # (by little on a random tiny model: its predictions barely depend on the prompt).
    for setting in ("text", "audio"):
        a = [r.nll_sum for r in shipped.records["sstorycloze"] if r.setting == setting]
        b = [r.nll_sum for r in intended.records["sstorycloze"] if r.setting == setting]
        assert len(a) == 6 and all(x != y for x, y in zip(a, b, strict=True))
    assert [r.nll_sum for r in shipped.records["scmmlu"]] == [r.nll_sum for r in intended.records["scmmlu"]]


def test_a_prompt_past_the_position_limit_is_an_item_error(causal_lm_path):
    """A context longer than the model's positions is an item error naming the counts and the limit, at
    planning time and when the scorer is called directly; the other items are scored."""
    scorer = load_scorer(str(causal_lm_path), device="cpu")
    limit = scorer.position_limit()
    assert limit == 4096
    long = Item("sstorycloze", "long", "word " * limit, ["Good end.", "Bad end."], 0)
    short = Item("sstorycloze", "short", "A story.", ["Good end.", "Bad end."], 0)
    records, errors = score_items(scorer, TASKS["sstorycloze"], [long, short], ["text"], progress=False)
    assert [e.item_id for e in errors] == ["long"]
    assert "4096" in str(errors[0]) and "max_position_embeddings" in str(errors[0]) and "text setting" in str(errors[0])
    assert {r.item_id for r in records} == {"short"}
    request = make_request(TASKS["sstorycloze"], long, "text", TASKS["sstorycloze"].framing, None)
    with pytest.raises(ItemError, match="positions"):
        scorer.score([request])


def test_a_45_s_clip_is_scored_in_two_windows_and_counted(qwen2_audio_path, tmp_path, capsys):
    """Qwen2-Audio scores 45 s of speech over two 30 s windows (differently from its first 30 s), and
    results.json counts the clip per task and setting, as do the printed notes and the report; the
    automatic batch sizes are recorded."""
    from s2sbench_hf.cli import main
    from s2sbench_hf.data.hub_folder import write_dataset_folder

    long_clip = np.concatenate([noise_clip(30.0, 3), 8 * noise_clip(15.0, 7)])
    rows = [
        {
            "id": "long",
            "context": "A long story.",
            "audio": long_clip,
            "choices": ["Good end.", "Bad end."],
            "label": 0,
        },
        {
            "id": "short",
            "context": "A story.",
            "audio": noise_clip(3.0, 4),
            "choices": ["Good end.", "Bad end."],
            "label": 1,
        },
    ]
    folder = write_dataset_folder(tmp_path / "data", {"sstorycloze": rows}, {"source": "unit test"})
    out = tmp_path / "out"
    code = run_cli(
        qwen2_audio_path, out, dataset=folder, tasks="sstorycloze", device="cpu", n_bootstrap=10, no_progress=True
    )
    assert code == 0
    run = json.loads((out / "results.json").read_text())
    settings = run["results"]["sstorycloze"]["settings"]
    assert settings["audio"]["n_windowed_clips"] == 1 and settings["text"]["n_windowed_clips"] == 0
    note = "sstorycloze, audio setting: 1 of 2 clips are longer than one 30 s audio window"
    printed = capsys.readouterr().out
    assert f"note: {note}" in printed and "text setting: 0" not in printed
    assert main(["report", str(out)]) == 0 and escape_markdown(note) in (out / "report.md").read_text()
    assert run["compute"]["batch_size"] == {"text": 16, "audio": 8} and run["config"]["batch_size"] is None

    scorer = load_scorer(str(qwen2_audio_path), device="cpu")
    assert scorer.audio_windows(45.0) == 2 and scorer.audio_windows(30.0) == 1
    whole = [
        r["nll_sum"]
        for r in map(json.loads, (out / "samples_sstorycloze.jsonl").read_text().splitlines())
        if r["item_id"] == "long" and r["setting"] == "audio"
    ]
    first_30 = Item(
        "sstorycloze",
        "long",
        "A long story.",
        ["Good end.", "Bad end."],
        0,
        audio=long_clip[: 30 * 16000],
        sampling_rate=16000,
    )
    records, _ = score_items(scorer, TASKS["sstorycloze"], [first_30], ["audio"], progress=False)
    assert max(abs(a - r.nll_sum) for a, r in zip(whole, records, strict=True)) > 1e-3


def test_automatic_batch_size_follows_device_and_setting(causal_lm_path):
    from types import SimpleNamespace

    from s2sbench_hf.scoring.engine import auto_batch_size, plan_batches, resolve_batch_size

    scorer = load_scorer(str(causal_lm_path), device="cpu")
    assert auto_batch_size(scorer, "text") == 16 and auto_batch_size(scorer, "audio") == 8
    gpu = SimpleNamespace(device=SimpleNamespace(type="cuda"))
    assert auto_batch_size(gpu, "audio") == auto_batch_size(gpu, "text") == 16
    assert resolve_batch_size(3, scorer, "text") == 3 and resolve_batch_size(None, scorer, "text") == 16
    items = [Item("sstorycloze", str(i), "A story " * (i + 1), ["Good end.", "Bad end."], 0) for i in range(20)]
    batches, _ = plan_batches(scorer, TASKS["sstorycloze"], items, "text")
    assert [len(b) for b in batches] == [16, 4]


@pytest.mark.slow
def test_a_run_imports_only_the_family_it_uses(causal_lm_path, tmp_path):
    """The registry imports an adapter module when its family is loaded: a causal-LM run imports no speech family."""
    code = (
        "import json, sys\n"
        "from s2sbench_hf.cli import main\n"
        f"assert main(['run', '--model', {str(causal_lm_path)!r}, '--dataset', 'samples', '--tasks', 'sstorycloze',"
        " '--settings', 'text', '--limit', '2', '--device', 'cpu', '--bootstrap', '10', '--no-progress',"
        f" '--output', {str(tmp_path)!r}]) == 0\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('s2sbench_hf.scoring.adapters.'))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert loaded == ["s2sbench_hf.scoring.adapters.base", "s2sbench_hf.scoring.adapters.causal_lm"]
