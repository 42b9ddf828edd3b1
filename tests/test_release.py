"""The reference release (jsonl + wavs): conversion to the Hub layout, direct reading, one error for bad rows."""

from __future__ import annotations

import io
import json
from pathlib import Path

import datasets
import numpy as np
import pytest
import soundfile as sf
import yaml

from s2sbench_hf.cli import main
from s2sbench_hf.data import hub_folder
from s2sbench_hf.data.loaded import BadSourceError, DataSourceError
from s2sbench_hf.data.release import RELEASE_FORMAT, convert_release, is_release_folder, release_files
from s2sbench_hf.data.sources import load_task
from s2sbench_hf.tasks import ItemError


@pytest.fixture(autouse=True)
def private_caches(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-datasets")


def tone(n: int, freq: float) -> np.ndarray:
    return (0.4 * np.sin(2 * np.pi * freq * np.arange(n) / 16000)).astype(np.float32)


STORIES = [  # (uttid, first, last): file order shuffled; rows 2k/2k+1 pair after sorting by the integer in uttid
    (3, "Ann lost her key.", "She flew to the moon."),
    (0, "Tom baked bread.", "It smelled good."),
    (2, "Ann lost her key.", "She found it under the mat."),
    (1, "Tom baked bread.", "It turned into a cat."),
    ("4_x", "Joe ran a race.", "He won a medal."),
    ("5_x", "Joe ran a race.", "He became a tree."),
]
QUESTIONS = [
    {"uttid": 10, "first": "一加一等于几？", "A": "一", "B": "二", "C": "三", "D": "四", "answer": "B"},
    {
        "uttid": 11,
        "first": "水的化学式是什么？",
        "A": "CO2",
        "B": "O2",
        "C": "H2O",
        "D": "NaCl",
        "answer": "C",
        "subject": "化学",
    },
]


def write_jsonl(path: Path, rows: list[dict] | list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [row if isinstance(row, str) else json.dumps(row, ensure_ascii=False) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_release(root: Path, original: bool = False) -> dict[str, np.ndarray]:
    """A small release in the reference layout; returns the waveform written for each uttid."""
    if original:
        story_jsonl, story_wavs = root / "S2S/StoryCloze/sStory_s2t.jsonl", root / "S2S/StoryCloze/s-story-firstspeech"
        mmlu_jsonl, mmlu_wavs = root / "S2S/cmmlu/cmmlu_rewrite_4.jsonl", root / "S2S/cmmlu/cmmlu_rewrite"
    else:
        story_jsonl, story_wavs = root / "sstorycloze/data.jsonl", root / "sstorycloze/wavs"
        mmlu_jsonl, mmlu_wavs = root / "scmmlu/data.jsonl", root / "scmmlu/wavs"
    write_jsonl(story_jsonl, [{"uttid": u, "first": f, "last": last} for u, f, last in STORIES])
    write_jsonl(mmlu_jsonl, QUESTIONS)
    story_wavs.mkdir(parents=True)
    mmlu_wavs.mkdir(parents=True)
    written = {}
    for n, uttid in enumerate(["0", "1", "2", "3", "4_x", "5_x"]):
        written[uttid] = tone(3000 + 500 * n, 200 + 40 * n)
        subtype = "PCM_16" if n % 2 == 0 else "FLOAT"  # 16-bit wavs pass unchanged, float ones are re-encoded
        sf.write(story_wavs / f"{uttid}.wav", written[uttid], 16000, subtype=subtype)
    for n, uttid in enumerate(["10", "11"]):
        written[uttid] = tone(4000 + 700 * n, 300 + 50 * n)
        sf.write(mmlu_wavs / f"{uttid}.wav", written[uttid], 16000, subtype="PCM_16")
    return written


def read_audio(blob: bytes) -> np.ndarray:
    info = sf.info(io.BytesIO(blob))
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    return sf.read(io.BytesIO(blob), dtype="float32")[0]


def test_convert_round_trip_through_load_dataset(tmp_path):
    written = write_release(tmp_path / "release")
    out = convert_release(tmp_path / "hub", ["sstorycloze", "scmmlu"], tmp_path / "release", progress=False)

    ds = datasets.load_dataset(str(out), "sstorycloze", split="test").cast_column("audio", datasets.Audio(decode=False))
    ds = ds.cast_column("choice_context_audio", datasets.List(datasets.Audio(decode=False)))
    assert ds["id"] == ["0", "2", "4_x"]
    assert ds["context"] == ["Tom baked bread.", "Ann lost her key.", "Joe ran a race."]
    assert ds["choices"] == [
        ["It smelled good.", "It turned into a cat."],
        ["She found it under the mat.", "She flew to the moon."],
        ["He won a medal.", "He became a tree."],
    ]
    assert ds["label"] == [0, 0, 0] and ds["uttid"] == [["0", "1"], ["2", "3"], ["4_x", "5_x"]]
    for row in ds:
        np.testing.assert_allclose(read_audio(row["audio"]["bytes"]), written[row["id"]], atol=1.0 / 32768)
        for clip, uttid in zip(
            row["choice_context_audio"], row["uttid"], strict=True
        ):  # each row's own wav: they differ here
            np.testing.assert_allclose(read_audio(clip["bytes"]), written[uttid], atol=1.0 / 32768)

    ds = datasets.load_dataset(str(out), "scmmlu", split="test").cast_column("audio", datasets.Audio(decode=False))
    assert ds["id"] == ["10", "11"] and ds["label"] == [1, 2] and ds["subject"] == ["", "化学"]
    assert ds["choices"] == [["一", "二", "三", "四"], ["CO2", "O2", "H2O", "NaCl"]]
    assert ds["context"] == [q["first"] for q in QUESTIONS] and ds["uttid"] == [["10"], ["11"]]
    for row in ds:
        assert row["audio"]["bytes"] == (tmp_path / f"release/scmmlu/wavs/{row['id']}.wav").read_bytes()

    card = (out / "README.md").read_text(encoding="utf-8")
    assert "config_name: sstorycloze" in card and "uttid" in card and "StoryCloze" in card
    assert "Fang, Yuanbo" in card and "content hash" in card
    declared = yaml.safe_load((out / "eval.yaml").read_text(encoding="utf-8"))
    assert {task["config"] for task in declared["tasks"]} == {"sstorycloze", "scmmlu"}
    assert declared["name"] and declared["evaluation_framework"]

    # the converted folder and the release read directly give the same items, with the same speech per choice
    for task_id in ("scmmlu", "sstorycloze"):
        converted, direct = load_task(task_id, str(out)), load_task(task_id, str(tmp_path / "release"))
        assert [(i.id, i.context, i.choices, i.label, i.meta["uttid"]) for i in converted.items] == [
            (i.id, i.context, i.choices, i.label, i.meta["uttid"]) for i in direct.items
        ]
        expected_groups = [(0, 1, 2, 3)] if task_id == "scmmlu" else [(0,), (1,)]
        for a, b in zip(converted.items, direct.items, strict=True):
            assert a.audio_groups() == b.audio_groups() == expected_groups
            for j in range(len(a.choices)):
                np.testing.assert_allclose(a.waveform(16000, j), b.waveform(16000, j), atol=1.0 / 32768)


def test_release_read_directly_in_the_original_layout(tmp_path):
    written = write_release(tmp_path / "release", original=True)
    assert is_release_folder(tmp_path / "release") and release_files(tmp_path / "release", "zh_sstorycloze") is None

    loaded = load_task("sstorycloze", str(tmp_path / "release"))
    assert not loaded.errors and loaded.info["format"] == RELEASE_FORMAT and loaded.info["num_rows"] == 6
    assert [item.id for item in loaded.items] == ["0", "2", "4_x"]
    assert loaded.items[1].choices == ["She found it under the mat.", "She flew to the moon."]
    np.testing.assert_allclose(loaded.items[2].waveform(16000), written["4_x"], atol=1.0 / 32768)
    assert len(load_task("sstorycloze", str(tmp_path / "release"), limit=2).items) == 2
    with pytest.raises(DataSourceError, match="no release files for task 'zh_sstorycloze'"):
        load_task("zh_sstorycloze", str(tmp_path / "release"))

    fingerprint = loaded.info["fingerprint"]
    sf.write(tmp_path / "release/S2S/StoryCloze/s-story-firstspeech/2.wav", tone(100, 99), 16000)
    assert load_task("sstorycloze", str(tmp_path / "release")).info["fingerprint"] != fingerprint

    # a missing wav costs only that item's audio setting when reading directly
    (tmp_path / "release/S2S/StoryCloze/s-story-firstspeech/0.wav").unlink()
    loaded = load_task("sstorycloze", str(tmp_path / "release"))
    assert len(loaded.items) == 3 and not loaded.errors
    with pytest.raises(ItemError, match=r"task 'sstorycloze', item '0'.*cannot be used"):
        loaded.items[0].waveform(16000)


def test_bad_release_gives_one_error_listing_every_row_and_writes_nothing(tmp_path):
    write_release(tmp_path / "release")
    write_jsonl(
        tmp_path / "release/sstorycloze/data.jsonl",
        [
            {"uttid": 0, "first": "Tom baked bread.", "last": "It smelled good."},
            {"uttid": 1, "first": "Tom baked bread.", "last": "It turned into a cat."},
            {"uttid": 2, "first": "Ann lost her key.", "last": "She found it."},
            {"uttid": 3, "first": "Somebody else.", "last": "She flew."},  # pair with another context
            {"uttid": 4, "first": "Joe ran.", "last": "  "},  # empty text
            {"uttid": 5, "first": "Joe ran.", "last": "He slept."},
            {"uttid": 6, "first": "No wav for me.", "last": "Fine."},  # missing 6.wav and 7.wav
            {"uttid": 7, "first": "No wav for me.", "last": "Odd."},
            {"uttid": 8, "first": "Twice.", "last": "A."},
            {"uttid": 9, "first": "Twice.", "last": "B."},
            {"uttid": 9, "first": "Twice.", "last": "C."},  # duplicate uttid: story 4 lost
            '{"uttid": 10, "first": broken json',  # bad line
            {"uttid": 11, "first": "Alone."},  # missing field "last"
        ],
    )
    write_jsonl(
        tmp_path / "release/scmmlu/data.jsonl",
        [
            {**QUESTIONS[0], "answer": "E"},  # answer not among A-D
            QUESTIONS[1],
        ],
    )
    with pytest.raises(BadSourceError) as excinfo:
        convert_release(tmp_path / "hub", ["sstorycloze", "scmmlu"], tmp_path / "release", progress=False)
    message = str(excinfo.value)
    assert "7 problem(s), nothing was written" in message
    for expected in (
        "different contexts",
        "2 rows have uttid 9: line 10 (uttid 9), line 11 (uttid 9)",
        "empty text in last",
        "6.wav, ",
        "7.wav is missing",
        "line 12",
        "not valid JSON",
        "lacks the fields ['last']",
        "'E' is not among the choices A-D",
    ):
        assert expected in message, expected
    assert len(excinfo.value.problems) == 7
    assert not [p.name for p in tmp_path.iterdir() if "hub" in p.name]  # no output, no partial folder

    # read directly, the same rows are reported and the good items are used
    loaded = load_task("sstorycloze", str(tmp_path / "release"))
    assert [item.id for item in loaded.items] == ["0", "6"] and len(loaded.errors) == 5


def test_pairs_by_uttid_a_bad_row_costs_only_its_story(tmp_path):
    """Missing, duplicate and unreadable rows cost exactly their own stories, named; the others pair as in full."""
    rows = [
        ("0_9", "S0", "good"),
        ("1_3", "S0", "bad"),
        ("2_5", "S1", "good"),
        ("3_1", "S1", "bad"),
        ("4_7", "S2", "good"),
        ("5_2", "S2", "bad"),
        ("6_1", "S3", "good"),  # its partner 7 is missing
        ("8_0", "S4", "good"),
        ("8_1", "S4", "good again"),
        ("9_4", "S4", "bad"),  # uttid 8 twice
        ("x_5", "S5", "bad"),  # no integer: its story cannot be found
        ("10_0", "S5", "good"),
        ("11_0", "S5", "bad"),
        ("12", "S6", "good"),
        (13, "S6", "bad"),  # a string and an int uttid pair too
        ("14_/../../../secret", "S7", "good"),
        ("15", "S7", "bad"),
    ]  # not a file name: refused, not read
    release = tmp_path / "release"
    write_jsonl(release / "sstorycloze/data.jsonl", [{"uttid": u, "first": f, "last": x} for u, f, x in rows[::-1]])
    (release / "sstorycloze/wavs").mkdir()
    for uttid, *_ in rows[:-2]:
        sf.write(release / f"sstorycloze/wavs/{uttid}.wav", tone(1600, 300), 16000, subtype="PCM_16")
    loaded = load_task("sstorycloze", str(release))
    assert [(i.id, i.context, i.choices, i.meta["uttid"]) for i in loaded.items] == [
        ("0_9", "S0", ["good", "bad"], ["0_9", "1_3"]),
        ("2_5", "S1", ["good", "bad"], ["2_5", "3_1"]),
        ("4_7", "S2", ["good", "bad"], ["4_7", "5_2"]),
        ("10_0", "S5", ["good", "bad"], ["10_0", "11_0"]),
        ("12", "S6", ["good", "bad"], ["12", "13"]),
    ]
    errors = {err.item_id: err.problem for err in loaded.errors}
    assert set(errors) == {"6_1", "8_1", "x_5", "15", "line 2 (uttid '14_/../../../secret')"}  # a story is named
    assert "not a file name" in errors["line 2 (uttid '14_/../../../secret')"]  # by its first row in the file
    assert "story 3 (uttids 6, 7) is incomplete: no row has uttid 7" in errors["6_1"]
    assert "2 rows have uttid 8" in errors["8_1"] and "uttid '8_0'" in errors["8_1"]
    assert "its uttid 'x_5' has no integer" in errors["x_5"]
    # --limit counts the source's items, usable or not: stories 0-2, then story 3 (lost), in uttid order
    limited = load_task("sstorycloze", str(release), limit=4)
    assert [i.id for i in limited.items] == ["0_9", "2_5", "4_7"]
    assert {e.item_id for e in limited.errors} == {"6_1", "x_5", "line 2 (uttid '14_/../../../secret')"}
    # (x_5 and the bad file name belong to no story: always reported)


def reference_story_accuracy(rows: list[dict]) -> float:
    """The reference accuracy script, re-implemented: sort by the integer before the first '_', pair by position."""
    ordered = sorted(rows, key=lambda r: int(str(r["uttid"]).split("_")[0]))
    pairs = [(ordered[k], ordered[k + 1]) for k in range(0, len(ordered), 2)]
    return sum(good["loss"][0] < bad["loss"][0] for good, bad in pairs) / len(pairs)


def test_score_reference_pairs_string_uttids_as_the_reference_does(tmp_path, capsys):
    losses = {"0_9": 1.0, "1_3": 2.0, "2_5": 3.0, "3_1": 1.0, "4_7": 1.0, "5_2": 5.0}  # right, wrong, right
    rows = [{"uttid": u, "key": None, "loss": [x], "ppl": [float(np.exp(x))]} for u, x in losses.items()]
    write_jsonl(tmp_path / "text.jsonl", rows)
    write_jsonl(tmp_path / "audio.jsonl", rows)
    score = ["score", "--task", "sstorycloze", "--bootstrap", "10", "--output", str(tmp_path / "out")]
    score += ["--text", str(tmp_path / "text.jsonl"), "--audio", str(tmp_path / "audio.jsonl")]
    assert main(score) == 0
    scored = json.loads((tmp_path / "out/results.json").read_text())["results"]["sstorycloze"]
    assert scored["n_items"] == 3
    assert scored["settings"]["text"]["accuracy"] == pytest.approx(reference_story_accuracy(rows)) == 2 / 3

    # a missing and a duplicated row lose exactly their stories; the rest equals the reference on those stories
    broken = [row for row in rows if row["uttid"] != "3_1"] + [{"uttid": "4_x", "key": None, "loss": [9.0]}]
    write_jsonl(tmp_path / "text.jsonl", broken)
    write_jsonl(tmp_path / "audio.jsonl", broken)
    capsys.readouterr()
    assert main(score) == 0
    res = json.loads((tmp_path / "out/results.json").read_text())
    assert res["results"]["sstorycloze"]["n_items"] == 1
    assert res["results"]["sstorycloze"]["settings"]["text"]["accuracy"] == reference_story_accuracy(rows[:2])
    assert sorted(e["item_id"] for e in res["errors"]) == ["2_5", "4_7"]
    assert "no row has uttid 3" in capsys.readouterr().err


def test_cli_convert_with_explicit_files(tmp_path, capsys):
    write_release(tmp_path / "release")
    out = tmp_path / "hub"
    code = main(
        [
            "build",
            "convert",
            "--jsonl",
            str(tmp_path / "release/scmmlu/data.jsonl"),
            "--audio-dir",
            str(tmp_path / "release/scmmlu/wavs"),
            "--task",
            "scmmlu",
            "--output",
            str(out),
            "--no-progress",
        ]
    )
    assert code == 0 and "wrote" in capsys.readouterr().out
    assert datasets.get_dataset_config_names(str(out)) == ["scmmlu"]
    assert main(["build", "convert", "--release", str(tmp_path / "nowhere"), "--output", str(out)]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_large_tasks_are_written_as_several_parquet_shards(tmp_path):
    rows = [
        {
            "id": f"r{i}",
            "context": f"Story {i}.",
            "audio": tone(2000 + i, 220),
            "choices": ["a", "b"],
            "label": 0,
            "uttid": [str(2 * i), str(2 * i + 1)],
        }
        for i in range(5)
    ]
    out = hub_folder.write_dataset_folder(
        tmp_path / "hub", {"sstorycloze": rows}, {"source": "x"}, max_shard_bytes=9000
    )
    shards = sorted(p.name for p in (out / "sstorycloze").iterdir())
    assert shards == [f"test-0000{i}-of-00003.parquet" for i in range(3)]  # ~4 kB of audio per row, 2 rows a shard
    ds = datasets.load_dataset(str(out), "sstorycloze", split="test")
    assert ds["id"] == [f"r{i}" for i in range(5)] and ds["uttid"][4] == ["8", "9"]
    assert "num_examples: 5" in (out / "README.md").read_text(encoding="utf-8")


def test_out_of_range_float_wav_is_an_error_not_clipped(tmp_path):
    write_release(tmp_path / "release")
    loud = tone(3000, 200)
    loud[10] = 1e30
    sf.write(tmp_path / "release/scmmlu/wavs/11.wav", loud, 16000, subtype="FLOAT")
    with pytest.raises(BadSourceError) as excinfo:
        convert_release(tmp_path / "hub", ["scmmlu"], tmp_path / "release", progress=False)
    wav = tmp_path / "release/scmmlu/wavs/11.wav"
    assert excinfo.value.problems == [
        (
            f"task 'scmmlu', item '11': its context speech cannot be used ({wav} has samples outside [-1, 1] "
            "(peak 1e+30); float audio must be scaled to [-1, 1]). Replace the wav with a readable 16 kHz wav whose "
            "samples are within [-1, 1]."
        )
    ]
    item = load_task("scmmlu", str(tmp_path / "release")).items[1]  # read directly: an item error when it is scored
    with pytest.raises(ItemError, match=r"item '11'.*11.wav has samples outside \[-1, 1\]"):
        item.waveform(16000)


def test_identical_or_invisible_endings_and_truncated_wavs_are_refused_by_convert_and_run(tmp_path):
    write_release(tmp_path / "release")
    rows = [{"uttid": u, "first": f, "last": last} for u, f, last in STORIES]
    rows[3]["last"] = "It smelled good.\u200b"  # uttid 1: reads the same as its plausible partner, uttid 0
    rows[0]["last"] = "\u200b\u2060 "  # uttid 3: nothing a reader sees
    write_jsonl(tmp_path / "release/sstorycloze/data.jsonl", rows)
    wav = tmp_path / "release/scmmlu/wavs/11.wav"
    wav.write_bytes(wav.read_bytes()[:-2000])  # the header still declares the whole clip
    with pytest.raises(BadSourceError) as excinfo:
        convert_release(tmp_path / "hub", ["sstorycloze", "scmmlu"], tmp_path / "release", progress=False)
    assert sorted(excinfo.value.problems) == [
        (
            "task 'scmmlu', item '11': its context speech cannot be used "
            f"({wav} is truncated: its header declares 0.29 s of audio, its data hold 0.23 s). Replace the wav with "
            "a readable 16 kHz wav whose samples are within [-1, 1]."
        ),
        (
            "task 'sstorycloze', item '0 (line 2)': last of the odd row reads the same as last. Make every "
            "continuation a different text, or drop the item."
        ),
        "task 'sstorycloze', item '2 (line 3)': empty text in last of the odd row. Fill in the text, or drop the item.",
    ]
    assert not (tmp_path / "hub").exists()
    loaded = load_task("sstorycloze", str(tmp_path / "release"))  # read directly for a run: the same two items
    assert [item.id for item in loaded.items] == ["4_x"] and len(loaded.errors) == 2
    [question] = [item for item in load_task("scmmlu", str(tmp_path / "release")).items if item.id == "11"]
    with pytest.raises(ItemError, match=r"item '11': its context audio cannot be used \(11.wav is truncated"):
        question.audio_seconds()
