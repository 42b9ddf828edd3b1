"""`s2sbench run` end to end on the bundled sample sets with a tiny Qwen2-Audio."""

from __future__ import annotations

import json

import pytest

from s2sbench_hf import results
from s2sbench_hf.cli import main
from s2sbench_hf.data.sources import load_task
from s2sbench_hf.tasks import UnknownTaskError


def test_results_file_records_what_decides_the_numbers(cli_run, qwen2_audio_path):
    res = results.read_results(cli_run)
    assert res["schema_version"] == results.RESULTS_SCHEMA_VERSION
    assert res["model"]["adapter"] == "qwen2-audio"
    assert res["model"]["content_hash"].startswith("sha256:") and len(res["model"]["content_hash"]) == 71
    assert res["config"]["settings"] == ["text", "audio"] and res["config"]["limit"] == 6
    assert res["config"]["framing"]["scmmlu"]["audio_prefix"] == "下面是一段语音和文本交错的内容："
    assert set(res["datasets"]) == {"sstorycloze", "scmmlu"} and res["datasets"]["scmmlu"]["fingerprint"]
    for task_id in ("sstorycloze", "scmmlu"):
        m = res["results"][task_id]
        assert m["n_items"] == 6 and m["n_failed"] == 0
        gap = m["settings"]["text"]["accuracy"] - m["settings"]["audio"]["accuracy"]
        assert m["degradation"]["gap"] == pytest.approx(gap)
        lo, hi = m["degradation"]["gap_ci"]
        assert lo <= hi


def test_samples_have_one_line_per_item_setting_continuation(cli_run):
    lines = (cli_run / "samples_scmmlu.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 6 * 2 * 4
    rows = [json.loads(line) for line in lines]
    assert sum(r["is_answer"] for r in rows) == 6 * 2
    assert (cli_run / "reference" / "scmmlu" / "audio" / "result.jsonl").exists()


def test_the_same_run_gives_the_same_numbers(cli_run, qwen2_audio_path, tmp_path):
    main(
        [
            "run",
            "--model",
            str(qwen2_audio_path),
            "--tasks",
            "sstorycloze",
            "--dataset",
            "samples",
            "--limit",
            "6",
            "--device",
            "cpu",
            "--bootstrap",
            "100",
            "--output",
            str(tmp_path),
            "--no-progress",
        ]
    )
    first = results.read_results(cli_run)["results"]["sstorycloze"]
    again = results.read_results(tmp_path)["results"]["sstorycloze"]
    assert again == first


def test_unknown_task_names_the_known_ones():
    with pytest.raises(UnknownTaskError, match="Known tasks: scmmlu, sstorycloze, zh_sstorycloze"):
        load_task("storycloze")


def test_text_only_model_rejects_audio_with_a_clear_cli_error(causal_lm_path, tmp_path, capsys):
    code = main(
        [
            "run",
            "--model",
            str(causal_lm_path),
            "--tasks",
            "sstorycloze",
            "--dataset",
            "samples",
            "--limit",
            "2",
            "--device",
            "cpu",
            "--output",
            str(tmp_path),
            "--no-progress",
        ]
    )
    assert code == 2
    assert "cannot score the 'audio' setting" in capsys.readouterr().err
