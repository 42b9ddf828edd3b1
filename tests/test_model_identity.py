"""The content hash of a local model folder: every byte counts, and a rerun does not read the weights again."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from s2sbench_hf import model_identity
from s2sbench_hf.model_identity import folder_content_hash

OLD = 1_600_000_000  # a modification time long past (outside the racy window)


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "user-cache"
    monkeypatch.setenv("S2SBENCH_CACHE", str(folder))
    return folder


@pytest.fixture
def reads(monkeypatch) -> list[str]:
    """The files `folder_content_hash` reads, in order."""
    seen: list[str] = []
    real = model_identity._hash_file

    def counting(path, *args):
        seen.append(path.name)
        return real(path, *args)

    monkeypatch.setattr(model_identity, "_hash_file", counting)
    return seen


def _model(folder: Path, weights: int = 68 << 20, flip: int | None = None) -> Path:
    """A model folder: a config and a sparse weights file of ``weights`` bytes, one byte set at ``flip``."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"model_type": "llama", "hidden_size": 64}))
    with (folder / "model.safetensors").open("wb") as handle:
        handle.truncate(weights)
        if flip is not None:
            handle.seek(flip)
            handle.write(b"\x01")
    for path in folder.iterdir():
        os.utime(path, (OLD, OLD))
    return folder


def test_one_byte_anywhere_in_a_weight_changes_the_hash(tmp_path, cache):
    # 1 MB + 1000 lies between the blocks that a sampled hash (64 blocks of 1 MB over 68 MB) would read.
    a = _model(tmp_path / "a")
    b = _model(tmp_path / "b", flip=(1 << 20) + 1000)
    c = _model(tmp_path / "c", flip=(68 << 20) - 1)
    hashes = {folder_content_hash(f) for f in (a, b, c)}
    assert len(hashes) == 3
    # An independent computation of what is hashed: path, size and full SHA-256 of each file, in path order.
    digest = hashlib.sha256()
    for path in sorted(b.iterdir()):
        digest.update(f"{path.name}\0{path.stat().st_size}\0{hashlib.sha256(path.read_bytes()).hexdigest()}\0".encode())
    assert folder_content_hash(b) == "sha256:" + digest.hexdigest()


def test_names_count_and_hidden_files_do_not(tmp_path, cache):
    a = _model(tmp_path / "a", weights=1000)
    before = folder_content_hash(a)
    (a / ".cache").mkdir()
    (a / ".cache" / "download.lock").write_text("huggingface_hub bookkeeping")
    (a / ".DS_Store").write_text("x")
    assert folder_content_hash(a) == before
    (a / "config.json").rename(a / "other.json")
    assert folder_content_hash(a) != before


def test_a_rerun_reads_nothing_and_a_changed_file_is_read_again(tmp_path, cache, reads):
    folder = _model(tmp_path / "m", weights=3 << 20)
    first = folder_content_hash(folder)
    assert sorted(reads) == ["config.json", "model.safetensors"]
    assert (cache / model_identity.DIGEST_CACHE_FILE).is_file()

    reads.clear()
    assert folder_content_hash(folder) == first and reads == []  # served from the cache

    os.utime(folder / "model.safetensors", (OLD + 5, OLD + 5))  # touched: read again, same content, same hash
    assert folder_content_hash(folder) == first and reads == ["model.safetensors"]

    reads.clear()  # replaced by a file of the same size and time (a new inode): read again, new hash
    replacement = tmp_path / "new.safetensors"
    replacement.write_bytes(b"\x02" * (3 << 20))
    os.utime(replacement, (OLD + 5, OLD + 5))
    replacement.replace(folder / "model.safetensors")
    second = folder_content_hash(folder)
    assert reads == ["model.safetensors"] and second != first
    reads.clear()
    assert folder_content_hash(folder) == second and reads == []


def test_a_file_written_just_now_is_not_remembered(tmp_path, cache, reads):
    folder = _model(tmp_path / "m", weights=1000)
    (folder / "config.json").write_text("{}")  # modified now: a second write could keep size and time
    folder_content_hash(folder)
    reads.clear()
    folder_content_hash(folder)
    assert reads == ["config.json"]


def test_an_unreadable_cache_only_costs_a_rehash(tmp_path, cache, reads):
    folder = _model(tmp_path / "m", weights=1000)
    first = folder_content_hash(folder)
    (cache / model_identity.DIGEST_CACHE_FILE).write_text("{not json")
    reads.clear()
    assert folder_content_hash(folder) == first and len(reads) == 2


def test_a_bytes_bar_while_many_unread_bytes_are_hashed(tmp_path, cache, reads, monkeypatch, capsys):
    """Over `HASH_PROGRESS_BYTES` not yet remembered: a bar (lowered here to 2 MB); below it, remembered, or with
    ``progress=False`` / ``hash_progress(False)`` (``--no-progress``), none."""
    monkeypatch.setattr(model_identity, "HASH_PROGRESS_BYTES", 2 << 20)
    small = _model(tmp_path / "small", weights=1 << 20)
    folder_content_hash(small)
    assert capsys.readouterr().err == ""  # a tiny model hashes quietly

    quiet = _model(tmp_path / "quiet", weights=3 << 20)
    folder_content_hash(quiet, progress=False)
    with model_identity.hash_progress(False):  # what the runner does around describe under --no-progress
        folder_content_hash(_model(tmp_path / "quiet-too", weights=3 << 20))
    assert capsys.readouterr().err == ""

    shown = _model(tmp_path / "shown", weights=3 << 20)
    first = folder_content_hash(shown)
    err = capsys.readouterr().err
    assert "hashing shown:" in err and "3.00M" in err  # the bytes to read, scaled
    assert first == folder_content_hash(quiet)  # the same bytes, the same hash, bar or not
    reads.clear()
    assert folder_content_hash(shown) == first
    assert reads == [] and capsys.readouterr().err == ""  # remembered: nothing to read, no bar

    with model_identity.hash_progress(False):  # an explicit flag wins over the context
        folder_content_hash(_model(tmp_path / "explicit", weights=3 << 20), progress=True)
    assert "hashing explicit:" in capsys.readouterr().err
