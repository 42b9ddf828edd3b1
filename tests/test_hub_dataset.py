"""The real benchmark, one flag away: the S2SBench release as a Hub dataset (`--dataset undobug/S2SBench`, the default).

Every test builds a fake Hub snapshot by hand in a private Hugging Face cache
(``datasets--ORG--NAME/refs/main`` + ``snapshots/<commit>/...``): with
HF_HUB_OFFLINE=1 `huggingface_hub.snapshot_download` returns it, the same call
and the same code path as a real download. The wavs come from the package's
text-to-speech (espeak-ng).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
import zipfile
from pathlib import Path

import datasets
import huggingface_hub.constants
import numpy as np
import pytest
import soundfile as sf
from cli_helpers import run_cli
from fake_release import COMMIT, STORIES, fake_snapshot, fake_snapshot_folder, write_release

from s2sbench_hf import leaderboard, results
from s2sbench_hf.cli import main
from s2sbench_hf.data import hub_snapshot
from s2sbench_hf.data.hub_folder import write_dataset_folder
from s2sbench_hf.data.loaded import DEFAULT_DATASET, DataSourceError
from s2sbench_hf.data.sources import load_task
from s2sbench_hf.testing import noise_clip
from s2sbench_hf.validate import validate_run

TASKS = ("sstorycloze", "zh_sstorycloze", "scmmlu")


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    """The release in its original layout (S2S/...), speech from espeak-ng; built once for the module."""
    return write_release(tmp_path_factory.mktemp("release"))


@pytest.fixture
def hub_cache(tmp_path, monkeypatch) -> Path:
    """A private, empty Hugging Face cache (what snapshot_download reads), and a private s2sbench cache."""
    cache = tmp_path / "hf-hub"
    cache.mkdir()
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("S2SBENCH_CACHE", str(tmp_path / "s2sbench-cache"))
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-datasets")
    return cache


def as_blobs(snapshot: Path) -> None:
    """Store the snapshot's files as the Hub cache does: content in ``blobs/<sha256>``, the snapshot symlinks to it."""
    blobs = snapshot.parent.parent / "blobs"
    blobs.mkdir(exist_ok=True)
    for path in sorted(p for p in snapshot.rglob("*") if p.is_file()):
        blob = blobs / hashlib.sha256(path.read_bytes()).hexdigest()
        path.replace(blob)
        path.symlink_to(os.path.relpath(blob, path.parent))


def items_of(loaded):
    return [(i.id, i.context, i.choices, i.label, i.meta.get("uttid")) for i in loaded.items]


def test_hub_release_is_read_exactly_as_the_local_folder(release, hub_cache):
    shutil.copytree(release, fake_snapshot(hub_cache) / "S2SBench")  # inside one top-level folder
    as_blobs(fake_snapshot_folder(hub_cache))
    for task_id in TASKS:
        hub, local = load_task(task_id, DEFAULT_DATASET), load_task(task_id, str(release))
        assert items_of(hub) == items_of(local) and len(hub.items) == 2 and not hub.errors
        assert hub.info["source"] == DEFAULT_DATASET and hub.info["revision"] == COMMIT
        assert hub.info["fingerprint"] == local.info["fingerprint"] and local.info["revision"] is None
        assert hub.info["jsonl"].startswith("S2SBench/S2S/")  # the path in the repository, not in this cache
        for a, b in zip(hub.items, local.items, strict=True):
            assert a.choice_context_audio is None  # both rows' wavs are the same bytes: one context
            np.testing.assert_array_equal(a.waveform(16000), b.waveform(16000))
    assert (
        load_task("scmmlu", DEFAULT_DATASET, revision=COMMIT).info["fingerprint"]
        == load_task("scmmlu", str(release)).info["fingerprint"]
    )


@pytest.mark.slow
def test_run_defaults_to_the_hub_release_and_says_what_it_scored(
    release, hub_cache, qwen2_audio_path, tmp_path, capsys
):
    shutil.copytree(release, fake_snapshot(hub_cache), dirs_exist_ok=True)
    common = {"tasks": TASKS, "device": "cpu", "n_bootstrap": 20, "no_progress": True}
    assert run_cli(qwen2_audio_path, tmp_path / "hub", **common) == 0  # no --dataset: the benchmark
    printed = capsys.readouterr().out
    header, _table = printed.split("| task", 1)
    assert f"data: {DEFAULT_DATASET} (Hub revision {COMMIT})" in header and "not the S2SBench" not in header
    assert "sstorycloze: 2 items scored" in header and "scmmlu: 2 items scored" in header
    hub = results.read_results(tmp_path / "hub")
    assert hub["config"]["dataset"] == DEFAULT_DATASET
    assert {t: (d["source"], d["revision"]) for t, d in hub["datasets"].items()} == {
        t: (DEFAULT_DATASET, COMMIT) for t in TASKS
    }
    report = validate_run(tmp_path / "hub")  # loads the pinned snapshot again: same fingerprints
    assert report.valid, report.summary()

    assert run_cli(qwen2_audio_path, tmp_path / "local", **common, dataset=release) == 0
    assert f"data: {release}\n" in capsys.readouterr().out  # a local folder: its absolute path
    local = results.read_results(tmp_path / "local")
    assert hub["results"] == local["results"]
    for task_id in TASKS:
        a = (tmp_path / "hub" / f"samples_{task_id}.jsonl").read_text()
        assert a == (tmp_path / "local" / f"samples_{task_id}.jsonl").read_text()

    assert run_cli(qwen2_audio_path, tmp_path / "samples", **common, dataset="samples", limit=1, settings="text") == 0
    header = capsys.readouterr().out.split("| task", 1)[0]
    assert "NOT the S2SBench benchmark" in header and "sstorycloze: 1 items scored" in header


def write_spoken_release(folder: Path) -> dict[str, np.ndarray]:
    """`STORIES` (English) in the canonical layout with the continuations' speech: ``sstorycloze/data.jsonl``,
    ``wavs/<uttid>.wav`` (both rows of a story: one clip), ``choice_wavs/<uttid>.wav``; returns the endings' clips."""
    task = folder / "sstorycloze"
    (task / "wavs").mkdir(parents=True)
    (task / "choice_wavs").mkdir()
    rows, endings = [], {}
    for k, (first, good, bad) in enumerate(STORIES["en"] * 2):
        for offset, last in enumerate((good, bad)):
            uttid = str(2 * k + offset)
            rows.append({"uttid": uttid, "first": first, "last": last})
            sf.write(task / f"wavs/{uttid}.wav", noise_clip(0.6 + 0.2 * k, seed=k), 16000, subtype="PCM_16")
            endings[uttid] = noise_clip(0.3 + 0.1 * offset, seed=10 + int(uttid))
            sf.write(task / f"choice_wavs/{uttid}.wav", endings[uttid], 16000, subtype="FLOAT")
    (task / "data.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return endings


def test_the_choice_wavs_layout_runs_validates_and_reaches_the_board(hub_cache, qwen2_audio_path, tmp_path):
    endings = write_spoken_release(fake_snapshot(hub_cache) / "S2SBench")
    (fake_snapshot_folder(hub_cache) / "S2SBench/sstorycloze/wavs/4.wav").unlink()  # story 2: no context speech
    as_blobs(fake_snapshot_folder(hub_cache))
    loaded = load_task("sstorycloze", DEFAULT_DATASET)
    for item in loaded.items:  # the continuations' speech is there for the spoken settings
        for choice, uttid in enumerate(item.meta["uttid"]):
            np.testing.assert_array_equal(item.continuation_waveform(choice, 16000), endings[uttid])

    out = tmp_path / "submissions/org/tiny"
    assert run_cli(qwen2_audio_path, out, tasks="sstorycloze", device="cpu", n_bootstrap=20, no_progress=True) == 0
    written = (out / "results.json").read_text(encoding="utf-8")
    recorded = json.loads(written)
    assert {key: recorded["datasets"]["sstorycloze"][key] for key in ("jsonl", "audio_dir", "choice_audio_dir")} == {
        "jsonl": "S2SBench/sstorycloze/data.jsonl",  # paths in the repository
        "audio_dir": "S2SBench/sstorycloze/wavs",
        "choice_audio_dir": "S2SBench/sstorycloze/choice_wavs",
    }
    assert [(e["item_id"], e["problem"]) for e in recorded["errors"]] == [
        ("4", "choice 0's context audio cannot be used (file not found: 4.wav)")  # its rows' wavs differ now
    ]
    # No path of this machine's caches in what the data gave; the command the user typed is recorded as typed.
    assert recorded["environment"]["command"].endswith(f"--output {out}")
    data_part = json.dumps({k: v for k, v in recorded.items() if k != "environment"})
    assert str(hub_cache) not in data_part and str(tmp_path) not in data_part
    assert str(hub_cache) not in written
    assert recorded["results"]["sstorycloze"]["n_items"] == 3

    assert main(["validate", str(out)]) == 0
    assert main(["leaderboard", str(tmp_path), "--output", str(tmp_path / "board")]) == 0
    board = json.loads((tmp_path / "board/leaderboard.json").read_text(encoding="utf-8"))
    listed = [row["path"] for group in leaderboard.GROUPS for row in board[group]]  # ranked, or one task: partial
    assert not board["invalid"] and len(listed) == 1 and listed[0].endswith("org/tiny")


def test_a_run_whose_data_cannot_be_recorded_stops_before_any_scoring(release, hub_cache, tmp_path, capsys):
    folder = tmp_path / "release\x1bfolder"  # a terminal escape in a folder name: no results.json may hold it
    shutil.copytree(release, folder)
    run = {"tasks": "scmmlu", "settings": "text", "dataset": folder, "no_progress": True}
    assert run_cli(tmp_path / "no-model", tmp_path / "out", **run) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no-model" not in err  # the data is checked before the model is loaded
    assert err.startswith("error: task 'scmmlu': results.json could not record where its data came from")
    assert "datasets.scmmlu.source is" in err and "control character U+001B" in err and "nothing was scored" in err


def test_without_the_hub_and_without_a_cached_copy_the_run_fails_in_one_line(
    hub_cache, causal_lm_path, tmp_path, capsys
):
    code = run_cli(causal_lm_path, tmp_path, settings="text", device="cpu", no_progress=True)
    assert code == 2
    assert capsys.readouterr().err == (
        "error: cannot reach the Hugging Face Hub, and dataset undobug/S2SBench is not in the local cache: connect, "
        "or pass --dataset samples or a folder\n"
    )
    assert main(["build", "convert", "--release", DEFAULT_DATASET, "--output", str(tmp_path / "x")]) == 2
    assert "dataset undobug/S2SBench is not in the local cache" in capsys.readouterr().err


def _zip(source: Path, archive: Path, extra: dict[str, bytes] | None = None) -> None:
    with zipfile.ZipFile(archive, "w") as handle:
        for path in sorted(source.rglob("*")):
            if path.is_file():
                handle.write(path, "S2SBench/" + path.relative_to(source).as_posix())
        for name, data in (extra or {}).items():
            handle.writestr(name, data)


def _tar(source: Path, archive: Path, extra: dict[str, bytes] | None = None) -> None:
    with tarfile.open(archive, "w:gz") as handle:
        handle.add(source, arcname="S2SBench")
        for name, data in (extra or {}).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            handle.addfile(info, io.BytesIO(data))


@pytest.mark.parametrize("pack, name", [(_zip, "S2SBench.zip"), (_tar, "data/S2SBench.tar.gz")])
def test_hub_release_inside_an_archive_is_extracted_once(release, hub_cache, tmp_path, pack, name):
    archive = fake_snapshot(hub_cache) / name
    archive.parent.mkdir(parents=True, exist_ok=True)
    pack(release, archive)
    hub = load_task("zh_sstorycloze", DEFAULT_DATASET, limit=1)
    assert items_of(hub) == items_of(load_task("zh_sstorycloze", str(release), limit=1))
    assert (
        hub.info["revision"] == COMMIT
        and hub.info["fingerprint"] == load_task("zh_sstorycloze", str(release)).info["fingerprint"]
    )
    assert hub.info["jsonl"] == "S2SBench/S2S/StoryCloze/zh_story.jsonl"  # in the archive, not in this cache
    extracted = list((tmp_path / "s2sbench-cache" / "hub-archives").iterdir())
    assert len(extracted) == 1
    marker = extracted[0] / "S2SBench" / "marker"
    marker.write_text("extracted once")
    assert len(load_task("scmmlu", DEFAULT_DATASET).items) == 2  # the other task, from the same extraction
    assert marker.read_text() == "extracted once"


@pytest.mark.parametrize("pack", [_zip, _tar])
@pytest.mark.parametrize("member", ["../escaped.txt", "/tmp/escaped-absolute.txt", "S2SBench/../../escaped.txt"])
def test_an_archive_member_outside_its_folder_is_refused(release, hub_cache, tmp_path, pack, member):
    archive = fake_snapshot(hub_cache) / ("evil.zip" if pack is _zip else "evil.tar.gz")
    pack(release, archive, {member: b"pwned"})
    with pytest.raises(DataSourceError, match="points outside the archive's folder"):
        load_task("sstorycloze", DEFAULT_DATASET)
    assert not list(tmp_path.rglob("escaped*")) and not Path("/tmp/escaped-absolute.txt").exists()
    assert not (tmp_path / "s2sbench-cache" / "hub-archives").exists() or not any(
        p for p in (tmp_path / "s2sbench-cache" / "hub-archives").iterdir() if not p.name.startswith(".")
    )


@pytest.mark.parametrize("kind", ["tar", "zip"])
def test_an_archive_with_a_link_is_refused(hub_cache, kind):
    if kind == "tar":
        with tarfile.open(fake_snapshot(hub_cache) / "links.tar.gz", "w:gz") as handle:
            link = tarfile.TarInfo("S2SBench/S2S")
            link.type, link.linkname = tarfile.SYMTYPE, "/etc"
            handle.addfile(link)
    else:
        with zipfile.ZipFile(fake_snapshot(hub_cache) / "links.zip", "w") as handle:
            link = zipfile.ZipInfo("S2SBench/S2S")
            link.external_attr = 0o120777 << 16  # a symbolic link, as zip stores it
            handle.writestr(link, "/etc")
    with pytest.raises(DataSourceError, match="member 'S2SBench/S2S' is a link or a special file"):
        load_task("sstorycloze", DEFAULT_DATASET)


def _zip_with(archive: Path, members: dict[str, int], release: Path | None = None) -> None:
    """A zip of ``release`` (as `_zip` packs it) and then members of that many zero bytes, written in 1 MiB pieces."""
    if release is not None:
        _zip(release, archive)
    with zipfile.ZipFile(archive, "a", zipfile.ZIP_DEFLATED) as handle:
        for name, size in members.items():
            with handle.open(name, "w", force_zip64=True) as member:
                for start in range(0, size, 1 << 20):
                    member.write(bytes(min(1 << 20, size - start)))


def _tar_with(archive: Path, members: dict[str, int], release: Path) -> None:
    """A tar.gz of ``release`` (as `_tar` packs it), then members of that many zero bytes."""
    with tarfile.open(archive, "w:gz") as handle:
        handle.add(release, arcname="S2SBench")
        for name, size in members.items():
            info = tarfile.TarInfo(name)
            info.size = size
            handle.addfile(info, _Zeros(size))


class _Zeros(io.RawIOBase):
    """``size`` zero bytes, read in pieces (a large member without holding it in memory)."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = min(len(buffer), self.left)
        buffer[:n] = bytes(n)
        self.left -= n
        return n


def _nothing_extracted(tmp_path: Path) -> bool:
    extracted = tmp_path / "s2sbench-cache" / "hub-archives"
    return not extracted.exists() or not any(extracted.iterdir())


@pytest.mark.parametrize("pack", [_zip_with, _tar_with], ids=["zip", "tar.gz"])
def test_a_zip_bomb_is_refused_and_nothing_of_it_is_kept(release, hub_cache, tmp_path, pack):
    archive = fake_snapshot(hub_cache) / ("S2SBench.zip" if pack is _zip_with else "S2SBench.tar.gz")
    pack(archive, {"S2SBench/zeros.bin": 100 << 20}, release)  # the release first: extracted, then removed
    assert archive.stat().st_size < 1 << 20  # 100 MiB of zeros in under 1 MiB: the default limits refuse it
    with pytest.raises(DataSourceError) as excinfo:
        load_task("sstorycloze", DEFAULT_DATASET)
    assert str(excinfo.value).startswith(f"archive {archive.name} of {DEFAULT_DATASET} expands more than 100 times")
    assert "refused, and nothing of it was kept" in str(excinfo.value) and "\n" not in str(excinfo.value)
    assert _nothing_extracted(tmp_path)


@pytest.mark.parametrize(
    "limit, value, problem",
    [
        ("MAX_ARCHIVE_BYTES", 100_000, f"extracts to more than {100_000 / 2**30:g} GiB"),
        ("MAX_ARCHIVE_MEMBERS", 5, "has more than 5 members"),
        ("RATIO_FLOOR_BYTES", 0, "expands more than 100 times its size"),
    ],
)
def test_an_archive_over_a_limit_is_refused_in_one_line(hub_cache, tmp_path, monkeypatch, limit, value, problem):
    archive = fake_snapshot(hub_cache) / "data.zip"
    _zip_with(archive, {f"S2SBench/part{i}.bin": 30_000 for i in range(8)})  # 240 kB in about 1.3 kB
    with monkeypatch.context() as patch:
        patch.setattr(hub_snapshot, limit, value)
        with pytest.raises(DataSourceError, match=f"^archive data.zip of {DEFAULT_DATASET} {problem}"):
            load_task("sstorycloze", DEFAULT_DATASET)
    assert _nothing_extracted(tmp_path)
    with pytest.raises(DataSourceError, match="has no data for task 'sstorycloze'"):  # within the default limits
        load_task("sstorycloze", DEFAULT_DATASET)
    [extracted] = (tmp_path / "s2sbench-cache/hub-archives").iterdir()
    assert (extracted / "S2SBench/part7.bin").stat().st_size == 30_000


def test_the_documented_archive_limits_are_the_ones_applied():
    documented = " ".join((Path(__file__).parents[1] / "docs/data.md").read_text(encoding="utf-8").split())
    for said in (
        f"extracts to more than {hub_snapshot.MAX_ARCHIVE_BYTES // 2**30} GiB",
        f"holds more than {hub_snapshot.MAX_ARCHIVE_MEMBERS:,} members",
        f"expands more than {hub_snapshot.MAX_ARCHIVE_RATIO} times its own size",
        f"(beyond the first {hub_snapshot.RATIO_FLOOR_BYTES // 2**20} MiB",
    ):
        assert said in documented, said


def test_build_convert_from_the_hub(release, hub_cache, tmp_path, capsys):
    shutil.copytree(release, fake_snapshot(hub_cache), dirs_exist_ok=True)
    out = tmp_path / "converted"
    assert main(["build", "convert", "--release", DEFAULT_DATASET, "--output", str(out), "--no-progress"]) == 0
    assert datasets.get_dataset_config_names(str(out)) == sorted(TASKS)
    assert f"{DEFAULT_DATASET}@{COMMIT}" in (out / "README.md").read_text(encoding="utf-8")
    for task_id in TASKS:
        assert items_of(load_task(task_id, str(out))) == items_of(load_task(task_id, str(release)))


def test_a_parquet_hub_dataset_is_read_from_its_snapshot(hub_cache, tmp_path):
    rows = [
        {
            "id": f"q{i}",
            "context": f"Question {i}?",
            "audio": (0.1 * np.ones(800 + i)).astype(np.float32),
            "choices": ["a", "b", "c", "d"],
            "label": i % 4,
        }
        for i in range(3)
    ]
    local = write_dataset_folder(tmp_path / "folder", {"scmmlu": rows, "sstorycloze": []}, {"source": "test"})
    shutil.copytree(local, fake_snapshot(hub_cache, "org/s2sbench-parquet"), dirs_exist_ok=True)
    as_blobs(fake_snapshot_folder(hub_cache, "org/s2sbench-parquet"))
    hub = load_task("scmmlu", "org/s2sbench-parquet", limit=2)
    assert items_of(hub) == items_of(load_task("scmmlu", str(local), limit=2))
    assert hub.info["source"] == "org/s2sbench-parquet" and hub.info["revision"] == COMMIT
    assert hub.info["fingerprint"] == load_task("scmmlu", str(local)).info["fingerprint"]
    with pytest.raises(DataSourceError, match="has no rows"):  # an empty config is an error, not an empty result
        load_task("sstorycloze", "org/s2sbench-parquet")
    with pytest.raises(DataSourceError, match="no data for task 'zh_sstorycloze'"):
        load_task("zh_sstorycloze", "org/s2sbench-parquet")
