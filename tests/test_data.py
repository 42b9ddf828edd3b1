"""Data layer: espeak-ng TTS, the dataset folder writer, task loading, audio decoding, samples."""

from __future__ import annotations

import io
import json
import os
import re
import time

import datasets
import numpy as np
import pytest
import soundfile as sf

from s2sbench_hf.audio import AudioDecodeError, audio_duration, load_audio
from s2sbench_hf.data import samples
from s2sbench_hf.data.hub_folder import DATA_FILE, PAPER_TITLE, write_dataset_folder
from s2sbench_hf.data.loaded import DataSourceError
from s2sbench_hf.data.sources import load_task
from s2sbench_hf.data.tts import EspeakTTS, TTSError, voice_for_language
from s2sbench_hf.tasks import Item, ItemError, UnknownTaskError

SHORT = {"en-us": "The cat sat down.", "cmn": "小猫坐下了。"}
LONG = {
    "en-us": "The cat sat down on the warm mat, looked at the garden for a long while, and then fell asleep.",
    "cmn": "小猫在温暖的垫子上坐下，看了很久的花园，然后慢慢地睡着了。",
}


@pytest.fixture(autouse=True)
def private_caches(tmp_path, monkeypatch):
    """Keep the sample cache and the datasets cache out of the home folder."""
    monkeypatch.setenv("S2SBENCH_CACHE", str(tmp_path / "s2sbench-cache"))
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-datasets")


def tone(n: int, freq: float = 220.0) -> np.ndarray:
    return (0.5 * np.sin(2 * np.pi * freq * np.arange(n) / 16000)).astype(np.float32)


def story_rows(n: int = 3, offset: int = 0) -> list[dict]:
    return [
        {
            "id": f"s{i}",
            "context": f"Story number {i}. It went on.",
            "audio": tone(4000 + 100 * i + offset),
            "choices": [f"good end {i}", f"bad end {i}"],
            "label": i % 2,
        }
        for i in range(n)
    ]


MMLU_ROWS = [
    {
        "id": "q0",
        "context": "一加一等于几？",
        "audio": tone(3000, 330),
        "choices": ["一", "二", "三", "四"],
        "label": 1,
        "subject": "数学",
    },
]


# --- text-to-speech -------------------------------------------------------------------------


@pytest.mark.parametrize("voice", ["en-us", "cmn"])
def test_tts_speaks_deterministically(voice):
    tts = EspeakTTS(voice)
    short = tts.synthesize(SHORT[voice])
    long = tts.synthesize(LONG[voice])
    again = tts.synthesize(SHORT[voice])  # after other speech: espeak's internal state must not leak
    assert short.dtype == np.float32 and short.ndim == 1
    assert np.sqrt(np.mean(short**2)) > 0.02
    assert np.abs(short).max() <= 1.0
    assert np.array_equal(short, again)
    assert len(long) > 2 * len(short)
    at_22k = tts.synthesize(SHORT[voice], sampling_rate=22050)
    assert abs(len(short) / len(at_22k) - 16000 / 22050) < 1e-3


def test_tts_errors_and_voices():
    assert voice_for_language("en") == "en-us"
    assert voice_for_language("zh") == "cmn"
    with pytest.raises(TTSError, match="no espeak-ng voice for language 'fr'"):
        voice_for_language("fr")
    with pytest.raises(TTSError, match="no voice 'xx-none'"):
        EspeakTTS("xx-none")
    with pytest.raises(TTSError, match="produced no sound"):
        EspeakTTS("en-us").synthesize("   ")


# --- dataset folder ---------------------------------------------------------------------------


def test_dataset_folder_round_trip(tmp_path):
    rows = {"sstorycloze": story_rows(), "scmmlu": MMLU_ROWS}
    folder = write_dataset_folder(tmp_path / "hub", rows, {"source": "unit test"})

    card = (folder / "README.md").read_text(encoding="utf-8")
    assert "config_name: sstorycloze" in card and "path: scmmlu/test-*.parquet" in card
    assert "num_examples: 3" in card and PAPER_TITLE in card and "unit test" in card
    assert datasets.get_dataset_config_names(str(folder)) == ["scmmlu", "sstorycloze"]

    for task_id, written in rows.items():
        ds = datasets.load_dataset(str(folder), task_id, split="test")
        assert ds.features["audio"] == datasets.Audio(sampling_rate=16000)
        ds = ds.cast_column("audio", datasets.Audio(decode=False))
        assert ds["id"] == [r["id"] for r in written]
        assert ds["context"] == [r["context"] for r in written]
        assert ds["choices"] == [r["choices"] for r in written]
        assert ds["label"] == [r["label"] for r in written]
        assert ds["subject"] == [r.get("subject", "") for r in written]
        for row, original in zip(ds, written, strict=True):
            audio, rate = sf.read(io.BytesIO(row["audio"]["bytes"]), dtype="float32")
            info = sf.info(io.BytesIO(row["audio"]["bytes"]))
            assert (rate, info.channels, info.subtype) == (16000, 1, "PCM_16")
            np.testing.assert_allclose(audio, original["audio"], atol=1.5 / 32768)


def test_dataset_folder_is_deterministic_and_replaced_atomically(tmp_path):
    rows = {"sstorycloze": story_rows(), "scmmlu": MMLU_ROWS}
    first = write_dataset_folder(tmp_path / "a", rows, {"source": "x"})
    second = write_dataset_folder(tmp_path / "b", rows, {"source": "x"})
    for name in ("README.md", f"sstorycloze/{DATA_FILE}", f"scmmlu/{DATA_FILE}"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name

    write_dataset_folder(first, {"sstorycloze": story_rows(1)}, {"source": "y"})
    assert not (first / "scmmlu").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]  # no partial or old siblings left


# --- loading tasks ----------------------------------------------------------------------------


def test_load_task_keeps_good_items_and_reports_bad_ones(tmp_path):
    bad = [
        {"id": "label9", "context": "A story.", "audio": tone(2000), "choices": ["a", "b"], "label": 9},
        {"id": "empty", "context": "A story.", "audio": tone(2000), "choices": ["a", "  "], "label": 0},
        {"id": "single", "context": "A story.", "audio": tone(2000), "choices": ["a"], "label": 0},
        {"id": "noise", "context": "A story.", "audio": b"this is not a wav file", "choices": ["a", "b"], "label": 0},
        {
            "id": "clips",
            "context": "A story.",
            "audio": tone(2000),
            "choices": ["a", "b"],
            "label": 0,
            "choice_context_audio": [tone(2000)],
        },
    ]
    folder = write_dataset_folder(tmp_path / "hub", {"sstorycloze": story_rows(2) + bad}, {"source": "x"})
    loaded = load_task("sstorycloze", str(folder))

    assert [item.id for item in loaded.items] == ["s0", "s1", "noise"]
    assert {err.item_id for err in loaded.errors} == {"label9", "empty", "single", "clips"}
    messages = " | ".join(str(err) for err in loaded.errors)
    assert "out of range" in messages and "empty text in continuation 1" in messages and "1 choice(s)" in messages
    assert "it has 1 per-choice context clips for 2 choices" in messages
    assert all(err.task == "sstorycloze" and f"'{err.item_id}'" in str(err) for err in loaded.errors)

    item = loaded.items[1]
    assert item.sampling_rate is None and isinstance(item.audio, bytes) and item.meta == {"subject": ""}
    np.testing.assert_allclose(item.waveform(16000), tone(4100), atol=1.5 / 32768)
    with pytest.raises(ItemError, match=r"task 'sstorycloze', item 'noise'.*cannot be used"):
        loaded.items[2].waveform(16000)

    info = loaded.info
    assert (info["source"], info["config"], info["split"], info["num_rows"]) == (str(folder), "sstorycloze", "test", 7)
    assert len(load_task("sstorycloze", str(folder), limit=1).items) == 1


@pytest.mark.parametrize(
    "choices, problem",
    [
        (["It ended.", "It ended."], "continuation 1 reads the same as continuation 0"),
        (["It ended.", " It ended.\u200b "], "continuation 1 reads the same as continuation 0"),  # NFC, zero-width
        (["Caf\u00e9.", "Cafe\u0301."], "continuation 1 reads the same as continuation 0"),  # composed or not
        (["\u200b", "It ended."], "empty text in continuation 0"),
        (["It ended.", "\ufeff \u2060\u00ad\t"], "empty text in continuation 1"),
    ],
)
def test_identical_or_invisible_endings_are_item_errors(tmp_path, choices, problem):
    rows = story_rows(2)
    rows[1]["choices"] = choices
    loaded = load_task("sstorycloze", str(write_dataset_folder(tmp_path / "hub", {"sstorycloze": rows}, {})))
    assert [item.id for item in loaded.items] == ["s0"]
    [error] = loaded.errors
    assert (error.task, error.item_id) == ("sstorycloze", "s1") and problem in error.problem
    assert (
        Item("sstorycloze", "ok", "A story.", ["It ended.", "It ended!"], 0).problems() == []
    )  # only what reads alike


def test_a_folder_of_no_known_layout_is_refused_before_anything_walks_it(tmp_path, monkeypatch):
    def walk(*args, **kwargs):
        raise AssertionError("datasets walked the folder")

    monkeypatch.setattr(datasets, "get_dataset_config_names", walk)
    monkeypatch.setattr(datasets, "load_dataset_builder", walk)
    (tmp_path / "stray/deeper").mkdir(parents=True)
    (tmp_path / "stray/deeper/data.parquet").write_bytes(b"PAR1")  # a Parquet file is no dataset without a card
    for folder in ("/", os.path.expanduser("~"), str(tmp_path), os.path.relpath("/")):
        started = time.monotonic()
        with pytest.raises(DataSourceError, match=r" is not a dataset folder: no README.md card with a configs: "):
            load_task("sstorycloze", folder)
        assert time.monotonic() - started < 5, folder
    (tmp_path / "README.md").write_text("---\nconfigs: [unclosed\n---\n", encoding="utf-8")
    with pytest.raises(DataSourceError, match=r"cannot read the card .*README.md: expected .* at line 1 of its YAML"):
        load_task("sstorycloze", str(tmp_path))


def test_fingerprint_follows_the_data(tmp_path):
    first = write_dataset_folder(tmp_path / "a", {"sstorycloze": story_rows()}, {"source": "x"})
    same = write_dataset_folder(tmp_path / "b", {"sstorycloze": story_rows()}, {"source": "x"})
    fingerprint = load_task("sstorycloze", str(first)).info["fingerprint"]
    assert load_task("sstorycloze", str(same)).info["fingerprint"] == fingerprint
    write_dataset_folder(first, {"sstorycloze": story_rows(offset=1)}, {"source": "x"})
    changed = load_task("sstorycloze", str(first))
    assert changed.info["fingerprint"] != fingerprint
    assert len(changed.items[0].waveform(16000)) == 4001


def test_missing_config_and_unknown_task(tmp_path):
    folder = write_dataset_folder(tmp_path / "hub", {"sstorycloze": story_rows(1)}, {"source": "x"})
    with pytest.raises(DataSourceError) as excinfo:
        load_task("scmmlu", str(folder))
    assert "'scmmlu'" in str(excinfo.value) and str(folder) in str(excinfo.value)
    assert "['sstorycloze']" in str(excinfo.value)
    with pytest.raises(DataSourceError, match="has no config for task 'nope'"):
        load_task("nope", str(folder))
    with pytest.raises(UnknownTaskError, match="unknown task 'nope'"):
        load_task("nope", "samples")
    with pytest.raises(DataSourceError, match="cannot read dataset"):
        load_task("scmmlu", str(tmp_path / "missing"))


def test_limit_empty_sources_and_recorded_paths(tmp_path, monkeypatch):
    rows = story_rows(2) + [{"id": "bad", "context": "A story.", "audio": tone(900), "choices": ["a", "b"], "label": 7}]
    rows.append(story_rows(4)[3])
    folder = write_dataset_folder(tmp_path / "hub", {"sstorycloze": rows}, {"source": "x"})
    monkeypatch.chdir(tmp_path)
    loaded = load_task("sstorycloze", "hub", limit=3)  # the first 3 items, usable or not: s0, s1, bad
    assert [i.id for i in loaded.items] == ["s0", "s1"] and [e.item_id for e in loaded.errors] == ["bad"]
    assert loaded.info["source"] == str(folder)  # absolute, whatever the working directory
    for limit in (0, -1, 1.5, True):
        with pytest.raises(DataSourceError, match="limit must be an integer >= 1"):
            load_task("sstorycloze", "hub", limit=limit)
    write_dataset_folder(tmp_path / "empty", {"sstorycloze": []}, {"source": "x"})
    with pytest.raises(DataSourceError, match=r"task 'sstorycloze' in '.*empty' has no rows"):
        load_task("sstorycloze", "empty")
    (tmp_path / "release/sstorycloze/wavs").mkdir(parents=True)
    (tmp_path / "release/sstorycloze/data.jsonl").write_text("\n\n", encoding="utf-8")
    with pytest.raises(DataSourceError, match=r"release/sstorycloze/data.jsonl has no rows"):
        load_task("sstorycloze", "release")


# --- audio decoding ---------------------------------------------------------------------------


def test_load_audio_downmixes_and_resamples():
    left = np.sin(2 * np.pi * 440 * np.arange(44100) / 44100).astype(np.float32) * 0.5
    buffer = io.BytesIO()
    sf.write(buffer, np.stack([left, np.zeros_like(left)], axis=1), 44100, format="WAV", subtype="PCM_16")
    audio = load_audio(buffer.getvalue(), 16000)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(len(audio) - 16000) <= 1
    assert abs(np.abs(audio).max() - 0.25) < 0.01  # the mean of the two channels


@pytest.mark.parametrize(("orig", "target"), [(22050, 16000), (16000, 24000), (44100, 16000)])
def test_resample_is_librosas_soxr_hq_sample_for_sample(orig, target):
    """`resample` calls soxr itself (librosa's import costs seconds per process): the same samples as librosa."""
    import librosa

    from s2sbench_hf.audio import resample

    clip = (0.3 * np.random.default_rng(orig).standard_normal(orig + 37)).astype(np.float32)
    want = librosa.resample(clip, orig_sr=orig, target_sr=target, res_type="soxr_hq")
    got = resample(clip, orig, target)
    assert got.dtype == np.float32 and got.shape == want.shape
    assert np.array_equal(got, want)


def test_undecodable_audio_names_task_and_item():
    item = Item(task="scmmlu", id="q7", context="问题", choices=list("ABCD"), label=0, audio=b"\x00\x01garbage")
    for call in (item.waveform, item.audio_seconds):
        with pytest.raises(ItemError) as excinfo:
            call(16000) if call == item.waveform else call()
        assert excinfo.value.task == "scmmlu" and excinfo.value.item_id == "q7"
        assert "task 'scmmlu', item 'q7'" in str(excinfo.value)
        assert "cannot decode embedded audio: Format not recognised" in str(excinfo.value)
        assert "BytesIO" not in str(excinfo.value)


@pytest.mark.parametrize(
    "bad, problem",
    [(1e30, "outside [-1, 1] (peak 1e+30)"), (np.nan, "NaN or infinite"), (1.0001, "outside [-1, 1] (peak 1)")],
)
def test_non_finite_or_out_of_range_audio_is_refused_not_clipped(tmp_path, bad, problem):
    data = tone(1000)
    data[500] = bad
    sf.write(tmp_path / "bad.wav", data, 16000, subtype="FLOAT")
    buffer = io.BytesIO()
    sf.write(buffer, data, 16000, format="WAV", subtype="FLOAT")
    for source, name in (
        (str(tmp_path / "bad.wav"), str(tmp_path / "bad.wav")),
        (buffer.getvalue(), "embedded audio"),
        (data, "the waveform"),
    ):
        with pytest.raises(AudioDecodeError, match=re.escape(f"{name} has ") + ".*" + re.escape(problem)):
            load_audio(source, 16000, source_rate=16000)
    data[500] = 1.0  # full scale is fine, and integer audio is scaled, not checked
    assert load_audio(data, 16000, source_rate=16000).max() == 1.0
    assert load_audio(np.array([-32768, 0, 32767], dtype=np.int16), 16000, source_rate=16000)[2] == 1.0


def test_a_lossy_codecs_overshoot_of_a_loud_clip_is_kept_as_decoded():
    """Vorbis rings past full scale on a near full-scale square wave: not refused (as float data would be), and the
    samples are soundfile's own decode, unclipped."""
    square = (0.999 * np.sign(np.sin(np.arange(16000) * 2 * np.pi * 220 / 16000))).astype(np.float32)
    buffer = io.BytesIO()
    sf.write(buffer, square, 16000, format="OGG", subtype="VORBIS")
    decoded = load_audio(buffer.getvalue(), 16000)
    assert np.abs(decoded).max() > 1.0  # the codec's overshoot, so the check could have refused it
    np.testing.assert_array_equal(decoded, sf.read(io.BytesIO(buffer.getvalue()), dtype="float32")[0])


def test_a_truncated_wav_is_refused_not_scored_as_a_fragment(tmp_path):
    buffer = io.BytesIO()
    sf.write(buffer, tone(48000), 16000, format="WAV", subtype="PCM_16")
    whole = buffer.getvalue()
    truncated = whole[: len(whole) - 64000]  # the header says 3 s, the data hold 1 s
    assert sf.info(io.BytesIO(truncated)).frames == 16000  # libsndfile alone sees a complete 1 s clip
    (tmp_path / "cut.wav").write_bytes(truncated)
    problem = "is truncated: its header declares 3.00 s of audio, its data hold 1.00 s"
    for source, name in ((str(tmp_path / "cut.wav"), str(tmp_path / "cut.wav")), (truncated, "embedded audio")):
        for decode in (lambda clip: load_audio(clip, 16000), audio_duration):
            with pytest.raises(AudioDecodeError, match=re.escape(f"{name} {problem}")):
                decode(source)
    item = Item("sstorycloze", "s7", "A story.", ["a", "b"], 0, audio=str(tmp_path / "cut.wav"))
    with pytest.raises(ItemError, match=re.escape(f"item 's7': its context audio cannot be used (cut.wav {problem})")):
        item.waveform(16000)  # the file by its name: results.json never records this machine's folders
    streamed = bytearray(whole)  # a WAV written as a stream, its data size a placeholder: complete
    at = streamed.index(b"data") + 4
    streamed[at : at + 4] = b"\xff\xff\xff\xff"
    assert audio_duration(bytes(streamed)) == 3.0 and len(load_audio(bytes(streamed), 16000)) == 48000
    with pytest.raises(AudioDecodeError, match="embedded audio is empty"):
        load_audio(b"", 16000)


# --- bundled samples --------------------------------------------------------------------------


def write_texts(folder, n: int = 2, extra: str = "") -> None:
    folder.mkdir(exist_ok=True)
    english = [
        {
            "id": f"en{i}",
            "context": f"Anna baked bread{extra}. It smelled good.",
            "choices": ["She ate it.", "She flew."],
            "label": 0,
        }
        for i in range(n)
    ]
    chinese = [
        {"id": f"zh{i}", "context": "安娜烤了面包。", "choices": ["她吃了。", "她飞走了。"], "label": 0}
        for i in range(n)
    ]
    mmlu = [
        {"id": f"m{i}", "context": "一加一等于几？", "choices": ["一", "二", "三", "四"], "label": 1, "subject": "数学"}
        for i in range(n)
    ]
    for task_id, rows in {"sstorycloze": english, "zh_sstorycloze": chinese, "scmmlu": mmlu}.items():
        lines = [json.dumps(row, ensure_ascii=False) for row in rows]
        (folder / f"{task_id}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_samples_build_cache_and_load(tmp_path, monkeypatch):
    monkeypatch.setattr(samples, "SAMPLES_DIR", tmp_path / "texts")
    write_texts(tmp_path / "texts")
    folder = samples.samples_folder()
    assert folder.parent == tmp_path / "s2sbench-cache"

    built = samples.build_samples()
    assert built == folder
    stamp = (folder / "README.md").stat().st_mtime_ns
    assert samples.ensure_samples() == folder and (folder / "README.md").stat().st_mtime_ns == stamp

    loaded = load_task("scmmlu")
    assert loaded.info["source"] == "samples" and not loaded.errors
    assert [item.id for item in loaded.items] == ["m0", "m1"] and loaded.items[0].meta == {
        "subject": "数学",
        "voice": "cmn@160",
    }
    assert np.sqrt(np.mean(loaded.items[0].waveform(16000) ** 2)) > 0.02

    write_texts(tmp_path / "texts", extra=" slowly")
    assert samples.samples_folder() != folder  # edited texts get a new build


@pytest.mark.skipif(
    not all((samples.SAMPLES_DIR / f"{t}.jsonl").is_file() for t in samples.SAMPLE_TASKS),
    reason="the bundled sample texts are not written yet",
)
@pytest.mark.slow
def test_bundled_samples_build_and_validate():
    for task_id in samples.SAMPLE_TASKS:
        loaded = load_task(task_id)
        assert not loaded.errors, [str(err) for err in loaded.errors]
        assert len(loaded.items) == len(samples.read_sample_texts(task_id)) > 0
        assert loaded.items[0].waveform(16000).size > 16000  # a spoken context lasts more than a second
