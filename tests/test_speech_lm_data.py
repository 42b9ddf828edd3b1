"""The speech-LM sets as tasks, and the readers of their layouts (issue 24), on fake snapshots and folders.

Every source is written here with tiny synthetic clips (noise, 16 kHz, a tenth of a second): a fake ``slprl/SALMon``
with two subsets and a fake ``speed/sStoryCloze`` in the Hub cache (read offline through `sources.load_task` with a
Hub id), a fake ``coml/sWuggy`` (Vorbis shards and a ZeroSpeech gold), a zip of sStoryCloze wav pairs in an order
where sorting the names as text and as numbers differ, with a missing partner, a duplicate and a file without a
number, and a cross-modal folder with a story missing a file.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import re
import tarfile
import zipfile
from pathlib import Path

import huggingface_hub.constants
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import soundfile as sf
import yaml
from cli_helpers import run_cli
from fake_release import COMMIT, fake_snapshot
from huggingface_hub.utils import filter_repo_objects

from s2sbench_hf import metrics
from s2sbench_hf.audio import load_audio
from s2sbench_hf.data import paired, paired_parquet, sources
from s2sbench_hf.data.loaded import DataSourceError
from s2sbench_hf.data.samples import SAMPLE_TASKS
from s2sbench_hf.options import DataOptions
from s2sbench_hf.scoring.interface import Record
from s2sbench_hf.tasks import (
    SETTINGS,
    SPEECH_LM_TASKS,
    TASKS,
    UTTERANCE,
    Item,
    ItemError,
    Task,
    UnknownTaskError,
    get_task,
)
from s2sbench_hf.testing import make_tiny_model
from s2sbench_hf.validate import validate_run

AUDIO = pa.struct([("bytes", pa.binary()), ("path", pa.string())])


def clip(seed: int, seconds: float = 0.1, fmt: str = "WAV") -> bytes:
    """A short clip of noise, different for every seed."""
    noise = np.random.default_rng(seed).uniform(-0.5, 0.5, int(16000 * seconds)).astype(np.float32)
    buffer = io.BytesIO()
    sf.write(buffer, noise, 16000, format=fmt, subtype="PCM_16")
    return buffer.getvalue()


def write_card(folder: Path, configs: dict[str, str]) -> None:
    """A README.md card whose ``configs:`` block gives each config's train files."""
    block = [{"config_name": name, "data_files": [{"split": "train", "path": path}]} for name, path in configs.items()]
    (folder / "README.md").write_text(f"---\n{yaml.safe_dump({'configs': block})}---\n# fake\n", encoding="utf-8")


def write_pairs(path: Path, rows: list[dict], audio: tuple[str, str]) -> None:
    """A Parquet file of pairs: ``rows`` hold the two clips' bytes under ``audio`` (None: no bytes) and plain
    columns; each clip becomes an Audio struct {bytes, path}."""
    path.parent.mkdir(parents=True, exist_ok=True)
    columns: dict[str, pa.Array] = {}
    for name in rows[0]:
        values = [row[name] for row in rows]
        if name in audio:
            structs = [{"bytes": value, "path": f"{name}_{i}.wav"} for i, value in enumerate(values)]
            columns[name] = pa.array(structs, type=AUDIO)
        else:
            columns[name] = pa.array(values)
    pq.write_table(pa.table(columns), path)


@pytest.fixture
def hub_cache(tmp_path, monkeypatch) -> Path:
    cache = tmp_path / "hf-hub"
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    return cache


SALMON_AUDIO = ("positive_audio", "negative_audio")


def fake_salmon(cache: Path) -> dict[str, list[dict]]:
    """``slprl/SALMon`` with two subsets (3 and 2 pairs), the second pair of speaker_consistency without its
    negative clip's bytes; the rows written, by subset."""
    folder = fake_snapshot(cache, "slprl/SALMon")
    subsets = {
        "bg_alignment": [
            {"task": "bg_alignment", "ind": i, "positive_audio": clip(10 + i), "negative_audio": clip(20 + i)}
            for i in range(3)
        ],
        "speaker_consistency": [
            {"task": "speaker_consistency", "ind": 0, "positive_audio": clip(30), "negative_audio": clip(40)},
            {"task": "speaker_consistency", "ind": 1, "positive_audio": clip(31), "negative_audio": None},
        ],
    }
    for subset, rows in subsets.items():
        write_pairs(folder / subset / "train-00000-of-00001.parquet", rows, SALMON_AUDIO)
    write_card(folder, {subset: f"{subset}/train-*" for subset in subsets})
    return subsets


# --- tasks ----------------------------------------------------------------------------------------------------------


def test_the_s2sbench_defaults_are_unchanged_and_the_speech_lm_sets_are_known_by_name():
    assert tuple(TASKS) == ("sstorycloze", "zh_sstorycloze", "scmmlu")
    assert DataOptions().tasks == tuple(TASKS) and SAMPLE_TASKS == tuple(TASKS)  # a run and the samples as before
    assert not set(TASKS) & set(SPEECH_LM_TASKS)
    salmon = get_task("salmon")
    assert (salmon.kind, salmon.settings, salmon.num_choices, salmon.language) == (UTTERANCE, ("utterance",), 2, "en")
    assert salmon.reference_tie_credit == 0.5  # a tie counts half, as in slamkit's and ZeroSpeech's scripts
    assert get_task("salmon_rir_consistency").reference_size == 200
    assert get_task("sstorycloze_slm").reference_size == get_task("tstorycloze_slm").reference_size == 1871
    crossmodal = get_task("tsc_crossmodal")
    assert (crossmodal.kind, crossmodal.settings) == ("continuation", SETTINGS)
    with pytest.raises(UnknownTaskError, match=r"Known tasks: scmmlu, sstorycloze, zh_sstorycloze; speech-LM sets: "):
        get_task("salmon_everything")


def test_a_task_spec_records_the_kind_and_checks_it():
    spec = get_task("salmon").to_spec()
    assert spec["kind"] == "utterance" and Task.from_spec("salmon", spec).kind == UTTERANCE
    assert "kind" not in TASKS["sstorycloze"].to_spec()  # an S2SBench card is written as before
    with pytest.raises(ValueError, match="task 'x': kind 'dialogue' is not one of continuation, utterance"):
        Task.from_spec("x", {**spec, "kind": "dialogue"})


def test_an_utterance_pair_is_checked_where_it_is_made():
    good = Item("swuggy", "p1", "", ["", ""], 0, choices_audio=[clip(1), clip(2)])
    assert good.validate() is good  # empty texts are fine: the clips are the item
    problems = {
        "no negative": (
            Item("swuggy", "p2", "", ["", ""], 0, choices_audio=[clip(1), None]),
            "its negative clip is missing",
        ),
        "garbage": (
            Item("swuggy", "p3", "", ["", ""], 0, choices_audio=[b"not audio", clip(2)]),
            "its positive clip cannot be read",
        ),
        "context": (
            Item("swuggy", "p4", "a story", ["", ""], 0, choices_audio=[clip(1), clip(2)]),
            "an utterance pair has a context",
        ),
        "one clip": (
            Item("swuggy", "p5", "", ["", ""], 0, choices_audio=[clip(1)]),
            "it has 1 clip(s) for 2 utterances",
        ),
    }
    for item, expected in problems.values():
        with pytest.raises(ItemError, match=re.escape(expected)) as err:
            item.validate()
        assert str(err.value).startswith(f"task 'swuggy', item '{item.id}': ") and "\n" not in str(err.value)


# --- Hub Parquet ----------------------------------------------------------------------------------------------------


def test_salmon_subsets_load_from_a_hub_snapshot(hub_cache):
    rows = fake_salmon(hub_cache)
    loaded = sources.load_task("salmon_bg_alignment", "slprl/SALMon")
    assert [item.id for item in loaded.items] == ["bg_alignment/0", "bg_alignment/1", "bg_alignment/2"]
    assert [item.choices_audio for item in loaded.items] == [
        [row["positive_audio"], row["negative_audio"]] for row in rows["bg_alignment"]
    ]  # the positive clip first, label 0
    first = loaded.items[0]
    assert (first.context, first.audio, first.label, first.choices) == ("", None, 0, ["", ""])
    assert first.meta == {
        "task": "bg_alignment",
        "ind": 0,
        "subset": "bg_alignment",
        "files": ["positive_audio_0.wav", "negative_audio_0.wav"],
    }
    info = loaded.info
    assert (info["source"], info["config"], info["split"], info["revision"], info["num_rows"]) == (
        "slprl/SALMon",
        "bg_alignment",
        "train",
        COMMIT,
        3,
    )
    assert len(info["fingerprint"]) == 16 and loaded.errors == []

    broken = sources.load_task("salmon_speaker_consistency", "slprl/SALMon")
    assert [item.id for item in broken.items] == ["speaker_consistency/0"]
    assert [str(err) for err in broken.errors] == [
        (
            "task 'salmon_speaker_consistency', item 'speaker_consistency/1': its negative clip is missing. "
            "Replace the clip with a readable one (wav, flac or ogg), or drop the pair."
        )
    ]
    with pytest.raises(DataSourceError, match="no data for task 'salmon_gender_consistency'"):
        sources.load_task("salmon_gender_consistency", "slprl/SALMon")


def test_salmon_reads_every_subset_with_its_breakdown_and_limit_keeps_the_first(hub_cache):
    fake_salmon(hub_cache)
    loaded = sources.load_task("salmon", "slprl/SALMon")
    assert [item.meta["subset"] for item in loaded.items] == ["bg_alignment"] * 3 + ["speaker_consistency"]
    assert loaded.info["config"] == "bg_alignment+speaker_consistency" and loaded.info["num_rows"] == 5
    assert [err.item_id for err in loaded.errors] == ["speaker_consistency/1"]
    limited = sources.load_task("salmon", "slprl/SALMon", limit=2)
    assert [item.id for item in limited.items] == ["bg_alignment/0", "bg_alignment/1"] and limited.errors == []
    assert limited.info["fingerprint"] == loaded.info["fingerprint"]  # the data, not the items kept


def test_the_audio_columns_are_configurable_and_swapping_them_swaps_the_clips(hub_cache, monkeypatch):
    rows = fake_salmon(hub_cache)
    plain = sources.load_task("salmon_bg_alignment", "slprl/SALMon").items
    swapped_set = paired_parquet.ParquetSet(configs=("bg_alignment",), audio=("negative_audio", "positive_audio"))
    monkeypatch.setitem(paired_parquet.PARQUET_SETS, "salmon_bg_alignment", swapped_set)
    swapped = sources.load_task("salmon_bg_alignment", "slprl/SALMon").items
    assert [item.choices_audio for item in swapped] == [list(reversed(item.choices_audio)) for item in plain]
    assert swapped[1].choices_audio[0] == rows["bg_alignment"][1]["negative_audio"]

    monkeypatch.setitem(
        paired_parquet.PARQUET_SETS, "salmon_bg_alignment", paired_parquet.ParquetSet(configs=("bg_alignment",))
    )
    with pytest.raises(DataSourceError, match=r"lacks the audio columns \['positive', 'negative'\]"):
        sources.load_task("salmon_bg_alignment", "slprl/SALMon")


def test_a_default_config_set_reads_the_hubs_own_layout_with_its_texts(hub_cache):
    folder = fake_snapshot(hub_cache, "speed/sStoryCloze")
    rows = [
        {"positive": clip(1), "negative": clip(2), "positive_text": "He won.", "negative_text": "He flew."},
        {"positive": clip(3), "negative": b"RIFF garbage", "positive_text": "She ate.", "negative_text": "She sang."},
    ]
    write_pairs(folder / "data" / "train-00000-of-00001.parquet", rows, ("positive", "negative"))
    loaded = sources.load_task("sstorycloze_slm", "speed/sStoryCloze")
    assert [(item.id, item.choices) for item in loaded.items] == [("0", ["He won.", "He flew."])]
    assert loaded.items[0].choices_audio == [clip(1), clip(2)]
    assert [err.item_id for err in loaded.errors] == ["1"] and "its negative clip cannot be read" in str(
        loaded.errors[0]
    )
    assert (loaded.info["config"], loaded.info["split"], loaded.info["num_rows"]) == ("default", "train", 2)
    with pytest.raises(DataSourceError, match="has no data for task 'salmon'"):  # no SALMon config in it
        sources.load_task("salmon", "speed/sStoryCloze")


def test_an_empty_parquet_set_is_an_error_that_names_it(tmp_path):
    write_pairs(
        tmp_path / "data" / "train-00000-of-00001.parquet",
        [{"positive": clip(1), "negative": clip(2)}],
        ("positive", "negative"),
    )
    pq.write_table(
        pq.read_table(tmp_path / "data" / "train-00000-of-00001.parquet").slice(0, 0),
        tmp_path / "data" / "train-00000-of-00001.parquet",
    )
    with pytest.raises(DataSourceError, match=f"{tmp_path} holds no rows for config 'default', split 'train'"):
        sources.load_task("sblimp", str(tmp_path))


# --- WebDataset shards ----------------------------------------------------------------------------------------------


def add_member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


@functools.cache
def ogg(seed: int) -> bytes:
    """A short clip of noise as OGG Vorbis, what the published shards hold (once per seed: an Ogg stream's serial
    number is random)."""
    noise = np.random.default_rng(seed).uniform(-0.5, 0.5, 1600).astype(np.float32)
    buffer = io.BytesIO()
    sf.write(buffer, noise, 16000, format="OGG", subtype="VORBIS")
    return buffer.getvalue()


SWUGGY_GOLD = [  # filename, id, voice, frequency, word, phones, correct; (seed, test set) of its clip, or None
    ("aAbc.wav", 1, "Alex", 12, "apple", "a p l", 1, (1, 1)),  # a filename with its extension matches its key
    ("bDef", 1, "Alex", 12, "", "i p l", 0, (2, 2)),  # no spelling: its phones
    ("cGhi", 2, "Alex", 0, "brick", "b r i k", 1, (3, 1)),
    ("dJkl", 2, "Alex", 0, "blick", "b l i k", 0, (4, 2)),
    ("eMno", 2, "Bea", 0, "brick", "b r i k", 1, (5, 1)),
    ("fPqr", 2, "Bea", 0, "blick", "b l i k", 0, None),  # a broken clip: see fake_swuggy
    ("gStu", 3, "Alex", 4, "cat", "k a t", 1, None),  # no clip in any shard
    ("hVwx", 3, "Alex", 4, "cag", "k a g", 0, (6, 2)),
    ("iYza", 10, "Alex", 150, "gorb", "g o r b", 0, (7, 1)),  # a non-word without its word
]


def fake_swuggy(folder: Path) -> Path:
    """``coml/sWuggy``'s layout in ``folder``: ``inftrain/en/gold.csv`` (ZeroSpeech's lexical gold, integer
    frequencies) and ``inftrain/en/audio/testset_{1,2}-000000.tar`` of ``<key>.ogg`` samples (`SWUGGY_GOLD`; fPqr's
    clip is not audio, and a sample jOrphan has no gold row), beside a French folder and the frequencies, never
    read. The English language folder."""
    english = folder / "inftrain" / "en"
    (english / "audio").mkdir(parents=True)
    with open(english / "gold.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "filename", "voice", "frequency", "word", "phones", "length", "correct"])
        for name, identity, voice, frequency, word, phones, correct, _ in SWUGGY_GOLD:
            writer.writerow([identity, name, voice, frequency, word, phones, len(phones.split()), correct])
    for testset in (1, 2):
        with tarfile.open(english / "audio" / f"testset_{testset}-000000.tar", "w") as tar:
            for name, *_, audio in SWUGGY_GOLD:
                if audio is not None and audio[1] == testset:
                    add_member(tar, f"{name.split('.')[0]}.ogg", ogg(audio[0]))
            if testset == 2:
                add_member(tar, "fPqr.ogg", b"not audio")
                add_member(tar, "jOrphan.ogg", ogg(9))
    french = folder / "inftrain" / "fr"
    (french / "audio").mkdir(parents=True)
    (french / "gold.csv").write_text("not read\n", encoding="utf-8")
    with tarfile.open(french / "audio" / "testset_1-000000.tar", "w") as tar:
        add_member(tar, "../escape.ogg", ogg(0))  # would be refused, were it read
    (english / "frequencies").mkdir()
    (english / "frequencies" / "counts.csv").write_text("word,count\n", encoding="utf-8")
    return english


def test_swuggy_reads_the_published_shards_and_gold_and_pairs_by_id_and_voice(hub_cache):
    fake_swuggy(fake_snapshot(hub_cache, "coml/sWuggy"))
    loaded = sources.load_task("swuggy", "coml/sWuggy")
    assert [(item.id, item.choices, item.label) for item in loaded.items] == [
        ("1/Alex", ["apple", "i p l"], 0),  # the word is the positive clip
        ("2/Alex", ["brick", "blick"], 0),
    ]
    one, two = loaded.items
    assert [Path(path).read_bytes() for path in one.choices_audio] == [ogg(1), ogg(2)]
    assert [load_audio(path, 16000).shape for path in one.choices_audio] == [(1600,), (1600,)]  # Vorbis decodes
    assert one.meta == {
        "id": "1",
        "voice": "Alex",
        "frequency": "6-20",
        "in_vocab": True,
        "files": ["aAbc", "bDef"],
    }
    assert (two.meta["frequency"], two.meta["in_vocab"]) == ("oov", False)  # a frequency of 0: out of vocabulary
    problems = sorted(str(err) for err in loaded.errors)
    assert [problem.split(":")[0] for problem in problems] == [
        "task 'swuggy', item '10/Alex'",
        "task 'swuggy', item '2/Bea'",
        "task 'swuggy', item '3/Alex'",
        "task 'swuggy', item 'jOrphan'",
    ]
    assert "it has 0 word(s) and 1 non-word(s) (samples iYza)" in problems[0]
    assert "its negative clip cannot be read (cannot decode fPqr.ogg" in problems[1]  # its pair's error only
    assert "the clip of sample gStu is in no shard read" in problems[2]
    assert "the sample (jOrphan in testset_2-000000.tar) has no row in the gold" in problems[3]
    assert {key: loaded.info[key] for key in ("config", "split", "num_rows", "format", "revision")} == {
        "config": "inftrain/en",
        "split": "audio/testset_*-*.tar",
        "num_rows": len(SWUGGY_GOLD),
        "format": "webdataset",
        "revision": COMMIT,
    }
    assert [item.id for item in sources.load_task("swuggy", "coml/sWuggy", limit=1).items] == ["1/Alex"]


def test_swuggy_gives_the_accuracy_by_vocabulary(hub_cache):
    fake_swuggy(fake_snapshot(hub_cache, "coml/sWuggy"))
    loaded = sources.load_task("swuggy", "coml/sWuggy")
    nll = {("1/Alex", 0): 1.0, ("1/Alex", 1): 2.0, ("2/Alex", 0): 3.0, ("2/Alex", 1): 2.0}  # right, then wrong
    records = [
        Record("swuggy", item_id, UTTERANCE, choice, choice == 0, "", value, 1, 1)
        for (item_id, choice), value in nll.items()
    ]
    result = metrics.breakdown(loaded.task, records, loaded.items, [UTTERANCE])
    assert result == {
        "by": "in_vocab",
        "groups": {
            "false": {"n_items": 1, "settings": {UTTERANCE: {"accuracy": 0.0}}},
            "true": {"n_items": 1, "settings": {UTTERANCE: {"accuracy": 1.0}}},
        },
    }


def test_swuggy_downloads_only_the_gold_and_the_languages_shards():
    published = [
        "README.md",
        "inftrain/en/gold.csv",
        "inftrain/fr/gold.csv",
        *(f"inftrain/{lang}/audio/testset_{n}-{i:06d}.tar" for lang in ("en", "fr") for n in (1, 16) for i in (0, 1)),
        "inftrain/en/frequencies/counts.csv",
    ]
    patterns = sources.LAYOUTS[3].patterns("swuggy")
    assert sources.LAYOUTS[3].name == "webdataset"
    assert list(filter_repo_objects(published, allow_patterns=patterns)) == [
        "inftrain/en/gold.csv",
        *(f"inftrain/en/audio/testset_{n}-{i:06d}.tar" for n in (1, 16) for i in (0, 1)),
    ]


def test_swuggy_reads_a_local_language_folder_and_refuses_a_member_outside_its_shard(tmp_path):
    english = fake_swuggy(tmp_path / "sWuggy")
    assert [item.id for item in sources.load_task("swuggy", str(english)).items] == ["1/Alex", "2/Alex"]
    with tarfile.open(english / "audio" / "testset_4-000000.tar", "w") as tar:
        add_member(tar, "../../escape.ogg", ogg(0))
    with pytest.raises(DataSourceError, match=r"member '\.\./\.\./escape\.ogg' points outside the archive's folder"):
        sources.load_task("swuggy", str(tmp_path / "sWuggy"))
    assert not (english / "escape.ogg").exists() and not (english.parent / "escape.ogg").exists()
    (english / "gold.csv").unlink()
    with pytest.raises(DataSourceError, match=r"has no gold\.csv for task 'swuggy' \(in inftrain/en/ or the folder"):
        sources.load_task("swuggy", str(english))


def test_the_swuggy_frequency_bands_are_zerospeechs():
    """`paired.vocabulary` bands a count exactly as ZeroSpeech's evaluation does, with pandas itself as the
    reference, and keeps a band it is given."""
    pd = pytest.importorskip("pandas")
    counts = [*range(250), 999, 10**6]
    bands = pd.cut(
        pd.Series(counts, dtype="Int64"),
        [0, 1, 5, 20, 100, float("inf")],
        labels=["oov", "1-5", "6-20", "21-100", ">100"],
        right=False,
    )
    for count, band in zip(counts, bands.astype(str), strict=True):
        assert paired.vocabulary(count) == paired.vocabulary(str(count)) == {"frequency": band, "in_vocab": count > 0}
    assert paired.vocabulary("oov") == {"frequency": "oov", "in_vocab": False}
    assert paired.vocabulary("21-100") == {"frequency": "21-100", "in_vocab": True}
    assert paired.vocabulary(None) == paired.vocabulary("") == paired.vocabulary(-1) == {}


# --- the official zips of wav pairs ---------------------------------------------------------------------------------

ZIP_NAMES = ["10_k.wav", "2_c.wav", "1_b.wav", "12_m.wav", "3_d.wav", "0_a.wav", "11_l.wav", "2_dup.wav", "x_noint.wav"]
"""Written in this order: as text they sort 0, 1, 10, 11, 12, 2, ...; 12's partner (13) is missing, 2 is there
twice and x_noint has no number."""


def write_story_zip(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    archive = folder / "sStoryCloze.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for seed, name in enumerate(ZIP_NAMES):
            handle.writestr(f"sStoryCloze/{name}", clip(100 + seed))
    return archive


def test_a_zip_of_wav_pairs_pairs_by_number_not_by_position(tmp_path):
    write_story_zip(tmp_path / "official")
    loaded = sources.load_task("sstorycloze_slm", str(tmp_path / "official"))
    assert [(item.id, item.meta["files"]) for item in loaded.items] == [
        ("0_a", ["0_a.wav", "1_b.wav"]),
        ("10_k", ["10_k.wav", "11_l.wav"]),
    ]  # slamkit's sort and take-two would pair 12 with 2, and every later pair shifts
    first = loaded.items[0]
    assert [Path(path).read_bytes() for path in first.choices_audio] == [clip(105), clip(102)]  # 0_a positive
    errors = {err.item_id: str(err) for err in loaded.errors}
    assert set(errors) == {"2_c", "12_m", "x_noint"}
    assert "2 rows have uttid 2: file 2_c.wav, file 2_dup.wav" in errors["2_c"]
    assert "no row has uttid 13 (its implausible ending)" in errors["12_m"]
    assert errors["x_noint"].startswith("task 'sstorycloze_slm', item 'x_noint': file x_noint.wav: its uttid")
    assert (loaded.info["format"], loaded.info["audio_dir"], loaded.info["num_rows"]) == (
        "wav-pairs",
        "sStoryCloze.zip",
        9,
    )

    limited = sources.load_task("sstorycloze_slm", str(tmp_path / "official"), limit=1)
    assert [item.id for item in limited.items] == ["0_a"] and [err.item_id for err in limited.errors] == ["x_noint"]
    with pytest.raises(DataSourceError, match="is not a dataset folder"):  # the zip is sStoryCloze's, not tStoryCloze's
        sources.load_task("tstorycloze_slm", str(tmp_path / "official"))


def test_the_extracted_folder_reads_as_the_zip(tmp_path):
    archive = write_story_zip(tmp_path / "official")
    with zipfile.ZipFile(archive) as handle:
        handle.extractall(tmp_path / "extracted")
    from_zip = sources.load_task("sstorycloze_slm", str(tmp_path / "official"))
    from_folder = sources.load_task("sstorycloze_slm", str(tmp_path / "extracted"))
    assert [item.meta for item in from_folder.items] == [item.meta for item in from_zip.items]
    assert [err.item_id for err in from_folder.errors] == [err.item_id for err in from_zip.errors]
    assert from_folder.info["audio_dir"] == "sStoryCloze"


# --- the cross-modal folder -----------------------------------------------------------------------------------------


def write_story(folder: Path, identity: str, seed: int, skip: str = "") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    texts = {"mutual": f"Story {identity} begins.", "correct": "It ends well.", "incorrect": "A cat flies."}
    for number, (role, text) in enumerate(texts.items()):
        if f"{role}.txt" != skip:
            (folder / f"{identity}_{role}.txt").write_text(text + "\n", encoding="utf-8")
        if f"{role}.wav" != skip:
            (folder / f"{identity}_{role}.wav").write_bytes(clip(seed + number))


def test_a_crossmodal_folder_is_an_ordinary_two_choice_task(tmp_path):
    folder = tmp_path / "tsc"
    for seed, identity in enumerate(["10", "2", "1"]):
        write_story(folder, identity, 10 * seed)
    write_story(folder, "3", 50, skip="incorrect.txt")
    loaded = sources.load_task("tsc_crossmodal", str(folder))
    assert [item.id for item in loaded.items] == ["1", "2", "10"]
    item = loaded.items[0]
    assert (item.context, item.choices, item.label) == ("Story 1 begins.", ["It ends well.", "A cat flies."], 0)
    assert Path(item.audio).name == "1_mutual.wav"
    assert [Path(path).name for path in item.choices_audio] == ["1_correct.wav", "1_incorrect.wav"]
    assert item.continuation_seconds(1) == pytest.approx(0.1)
    assert [str(err) for err in loaded.errors] == [
        (
            "task 'tsc_crossmodal', item '3': it lacks 3_incorrect.txt. Give each story its six files: <id>_mutual, "
            "<id>_correct and <id>_incorrect, each as .wav and .txt."
        )
    ]
    assert (loaded.info["num_rows"], loaded.info["format"]) == (4, "crossmodal-folder")
    assert [i.id for i in sources.load_task("tsc_crossmodal", str(folder), limit=3).items] == ["1", "2"]


def test_crossmodal_speaker_folders_name_their_items(tmp_path):
    write_story(tmp_path / "multi" / "spk_b", "1", 0)
    write_story(tmp_path / "multi" / "spk_a", "1", 5)
    loaded = sources.load_task("tsc_crossmodal", str(tmp_path / "multi"))
    assert [(item.id, item.meta["speaker"]) for item in loaded.items] == [("spk_a/1", "spk_a"), ("spk_b/1", "spk_b")]


# --- the layouts leave the S2SBench tasks alone ---------------------------------------------------------------------


def test_the_speech_lm_layouts_claim_only_their_own_tasks(tmp_path):
    write_story(tmp_path / "tsc", "1", 0)
    write_story_zip(tmp_path / "tsc")
    for layout in sources.LAYOUTS[2:]:
        assert layout.find(tmp_path / "tsc", "sstorycloze") is None and layout.patterns("sstorycloze") == []
    with pytest.raises(DataSourceError, match="is not a dataset folder"):
        sources.load_task("sstorycloze", str(tmp_path / "tsc"))
    assert [layout.name for layout in sources.LAYOUTS[:2]] == ["release", "dataset"]


# --- runs -----------------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_crossmodal_task_runs_in_all_four_settings_with_the_gap_and_validates(hub_cache, tmp_path):
    """slamkit's cross-modal tStoryCloze is an ordinary two-choice task: a tiny Moshi scores it in every setting from
    a Hub dataset in slamkit's layout, ``--gap`` compares two of them, and ``validate`` (which reloads the data and
    recomputes every number) accepts the run."""
    stories = fake_snapshot(hub_cache, "slprl/tsc-crossmodal")
    for seed, identity in enumerate(["1", "2", "3"]):
        write_story(stories, identity, 10 * seed)
    model = make_tiny_model("moshi", tmp_path / "moshi")
    gap = "text_to_speech:speech_to_speech"
    code = run_cli(
        model,
        tmp_path / "out",
        tasks="tsc_crossmodal",
        dataset="slprl/tsc-crossmodal",
        settings=list(SETTINGS),
        gap=gap,
        device="cpu",
        n_bootstrap=20,
        no_progress=True,
    )
    assert code == 0
    result = json.loads((tmp_path / "out" / "results.json").read_text())["results"]["tsc_crossmodal"]
    assert result["n_items"] == 3 and set(result["settings"]) == set(SETTINGS)
    first, second = (result["settings"][s]["accuracy"] for s in gap.split(":"))
    report = validate_run(tmp_path / "out")
    assert report.valid and "tsc_crossmodal" in report.checked_datasets, report.summary()
    assert result["degradation"]["gap"] == pytest.approx(first - second)


def test_a_source_without_a_speech_lm_set_names_where_the_set_is_published(hub_cache):
    with pytest.raises(DataSourceError, match=r"Task 'salmon' is published as slprl/SALMon: --dataset slprl/SALMon\.$"):
        sources.load_task("salmon", "samples")
    with pytest.raises(DataSourceError, match=r"published as speed/sWUGGY or coml/sWuggy: --dataset speed/sWUGGY\.$"):
        sources.load_task("swuggy", "samples")
    fake_salmon(hub_cache)  # its home, without the gender subset: no hint to go where it already is
    with pytest.raises(DataSourceError) as err:
        sources.load_task("salmon_gender_consistency", "slprl/SALMon")
    assert "published as" not in str(err.value)


def test_a_text_with_a_lone_surrogate_is_an_item_error_not_a_crash():
    """JSON can spell a lone surrogate (``"\\ud800"``), which no encoder takes: the item is refused where it is
    made, in either kind of task, instead of failing the run when its record is written."""
    pair = Item("swuggy", "1/V", "", ["\ud800bad", "ok"], 0, choices_audio=[clip(1), clip(2)])
    (problem, _), *_ = pair.problems(get_task("swuggy"))
    assert problem == "the text of continuation 0 holds a lone surrogate (not a character)"
    story = Item("sstorycloze", "s", "Once\udcff.", ["A.", "B."], 0)
    assert any("the context holds a lone surrogate" in p for p, _ in story.problems(get_task("sstorycloze")))
