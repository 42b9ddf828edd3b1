"""Hub dataset repositories as local folders: `huggingface_hub.snapshot_download`, and archives in them.

The S2SBench data is published by its authors as the Hub dataset
`loaded.DEFAULT_DATASET` in the reference release's raw layout (jsonl + wavs, see
`release`), possibly inside one top-level folder or a ``.zip``/``.tar.gz``
archive. `fetch_snapshot` downloads only the files that match the patterns it
is given (the tasks asked for) into the Hugging Face cache and returns the
snapshot folder with its commit, the same call online and offline (offline, a
snapshot already in the cache is used; none is `DataSourceError` "cannot reach").
`extract_archive` unpacks an archive of a snapshot once into
``$S2SBENCH_CACHE/hub-archives/``, refusing any member that would land outside
that folder (absolute paths, ``..``, links, devices), and any archive that
extracts to more than `MAX_ARCHIVE_BYTES`, holds more than
`MAX_ARCHIVE_MEMBERS` members, or expands more than `MAX_ARCHIVE_RATIO` times
its own size (a zip bomb). A refused archive leaves nothing in the cache.

`HubSource` is such a repository as a `loaded.Source` of the one dispatcher (`sources.load_task`): its snapshot
folder holds what has been fetched so far, `HubSource.fetch` downloads more at the same commit, and
`HubSource.archives` extracts the archives as sources of their own.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
import tarfile
import uuid
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from huggingface_hub import snapshot_download
from huggingface_hub.errors import (
    GatedRepoError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from s2sbench_hf.data.hub_folder import card_configs
from s2sbench_hf.data.loaded import DataSourceError, Layout, Source
from s2sbench_hf.failures import offline_unless_hub_answers
from s2sbench_hf.files import cache_root

ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar")
ARCHIVE_PATTERNS = [f"*{suffix}" for suffix in ARCHIVE_SUFFIXES]

MAX_ARCHIVE_BYTES = 20 * 2**30
"""Most bytes one archive may extract to: about five times the whole release (its wavs, 16 kHz 16-bit, are
some 4 GB), with room for the continuations' speech."""
MAX_ARCHIVE_MEMBERS = 100_000
"""Most members (files and folders) of one archive: the release with one wav per continuation has about 40,000."""
MAX_ARCHIVE_RATIO = 100
"""Most bytes extracted per byte of archive: speech compresses about 1.1:1 and text about 5:1, a zip bomb 1000:1."""
RATIO_FLOOR_BYTES = 64 * 2**20
"""Up to this many extracted bytes an archive is never refused for its ratio (a few test clips of silence
compress 1000:1, and that little cannot fill a disk)."""

_HUB_ID = re.compile(r"[\w.-]+/[\w.-]+")


def is_hub_id(source: str) -> bool:
    """True for ``ORG/NAME`` that is not a local path."""
    return bool(_HUB_ID.fullmatch(source)) and not os.path.exists(source)


@dataclass(frozen=True)
class Snapshot:
    """A dataset repository's files at one commit, in the Hugging Face cache."""

    repo_id: str
    commit: str
    folder: Path


def fetch_snapshot(repo_id: str, allow_patterns: Sequence[str], revision: str | None = None) -> Snapshot:
    """Download the files of dataset ``repo_id`` matching ``allow_patterns`` (or reuse the cached snapshot).

    Errors are one-line `DataSourceError`s that say what to do. The Hub is probed first
    (`failures.offline_unless_hub_answers`): without a network the cached snapshot is
    used, or this fails at once, not after huggingface_hub's retries.
    """
    try:
        with offline_unless_hub_answers():
            folder = Path(
                snapshot_download(repo_id, repo_type="dataset", revision=revision, allow_patterns=list(allow_patterns))
            )
    except GatedRepoError:
        raise DataSourceError(
            f"dataset {repo_id} is gated: accept its terms on https://huggingface.co/datasets/"
            f"{repo_id} and log in (`hf auth login`)"
        ) from None
    except RepositoryNotFoundError:
        raise DataSourceError(
            f"dataset {repo_id} is not on the Hub, or it is private (log in with `hf auth login`); "
            "pass --dataset samples or a folder"
        ) from None
    except RevisionNotFoundError:
        raise DataSourceError(f"dataset {repo_id} has no revision {revision!r}") from None
    except LocalEntryNotFoundError:  # offline (HF_HUB_OFFLINE=1, or the Hub did not answer its probe), not cached
        raise DataSourceError(
            f"cannot reach the Hugging Face Hub, and dataset {repo_id} is not in the local cache: connect, or pass "
            "--dataset samples or a folder"
        ) from None
    except (HfHubHTTPError, ConnectionError):  # the network failed during the download
        raise DataSourceError(f"cannot reach {repo_id}; pass --dataset samples or a folder") from None
    except OSError as err:  # the cache cannot be written: a full or read-only disk
        raise DataSourceError(f"cannot download {repo_id} into the Hugging Face cache: {err}") from None
    return Snapshot(repo_id=repo_id, commit=folder.name, folder=folder)


class HubSource(Source):
    """A dataset repository at one commit, fetched file pattern by file pattern into its snapshot folder."""

    def __init__(self, repo_id: str, patterns: Sequence[str], revision: str | None = None) -> None:
        """The snapshot of ``repo_id`` (at ``revision``) with the files that match ``patterns``."""
        self.snapshot = fetch_snapshot(repo_id, patterns, revision)
        super().__init__(label=repo_id, folder=self.snapshot.folder, revision=self.snapshot.commit)

    def fetch(self, patterns: Sequence[str]) -> Path:
        """Download the files that match ``patterns`` too, at the snapshot's commit (into the same folder)."""
        return fetch_snapshot(self.label, patterns, self.snapshot.commit).folder

    def archives(self) -> list[Source]:
        """The repository's archives (downloaded, then extracted once, `extract_archive`), sorted by path."""
        with_archives = fetch_snapshot(self.label, ARCHIVE_PATTERNS, self.snapshot.commit)
        return [
            Source(self.label, extract_archive(with_archives, archive), self.revision)
            for archive in archives(with_archives)
        ]

    def no_data(self, task_id: str, layouts: Sequence[Layout]) -> DataSourceError:
        configs = card_configs(self.folder)
        return DataSourceError(
            f"dataset {self.label} (commit {self.snapshot.commit[:12]}) has no data for task {task_id!r}: no "
            f"reference release files and no config {task_id!r} in its card (configs: {sorted(configs) or 'none'})."
        )


def archives(snapshot: Snapshot) -> list[Path]:
    """The archives in a snapshot, sorted by path."""
    return sorted(
        path for path in snapshot.folder.rglob("*") if path.name.endswith(ARCHIVE_SUFFIXES) and path.is_file()
    )


def extract_archive(snapshot: Snapshot, archive: Path) -> Path:
    """The folder an archive of ``snapshot`` is extracted to (once: later calls reuse it).

    An archive over a limit (`ArchiveBudget`), or with a member that would land outside that folder, is a
    `DataSourceError`, and nothing of it stays in the cache.
    """
    name = archive.relative_to(snapshot.folder).as_posix()
    key = hashlib.sha256(f"{snapshot.repo_id}@{snapshot.commit}/{name}".encode()).hexdigest()[:16]
    target = cache_root() / "hub-archives" / key
    if target.is_dir():  # renamed into place when complete
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.parent / f".{key}.partial-{uuid.uuid4().hex[:8]}"
    budget = ArchiveBudget(f"{name} of {snapshot.repo_id}", archive.stat().st_size)
    try:
        partial.mkdir()
        for member, is_dir, size, opener in _members(archive, partial):
            budget.admit(size)
            path = _safe_path(partial, member, archive)
            if is_dir:
                path.mkdir(parents=True, exist_ok=True)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            with opener() as source, open(path, "wb") as sink:
                shutil.copyfileobj(source, sink, 1 << 20)
        try:
            partial.rename(target)
        except OSError:  # another process finished first
            if not target.is_dir():
                raise
    except (OSError, zipfile.BadZipFile, tarfile.TarError) as err:
        raise DataSourceError(f"cannot extract {name} of {snapshot.repo_id}: {err}") from err
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return target


@dataclass
class ArchiveBudget:
    """What one archive may still extract: counted from each member's declared size, before it is written
    (`zipfile` and `tarfile` read no more of a member than it declares, and a zip checks its CRC)."""

    label: str
    packed: int
    """The archive's own size in bytes."""
    members: int = 0
    size: int = 0

    def admit(self, size: int) -> None:
        """Count one more member of ``size`` bytes; `DataSourceError` when the archive goes over a limit."""
        self.members += 1
        self.size += size
        if self.members > MAX_ARCHIVE_MEMBERS:
            problem = f"has more than {MAX_ARCHIVE_MEMBERS:,} members"
        elif self.size > MAX_ARCHIVE_BYTES:
            problem = f"extracts to more than {MAX_ARCHIVE_BYTES / 2**30:g} GiB"
        elif self.size > max(MAX_ARCHIVE_RATIO * self.packed, RATIO_FLOOR_BYTES):
            problem = f"expands more than {MAX_ARCHIVE_RATIO} times its size of {self.packed:,} bytes (a zip bomb?)"
        else:
            return
        raise DataSourceError(
            f"archive {self.label} {problem}: refused, and nothing of it was kept. If you trust it, extract it "
            "yourself and pass the folder as --dataset."
        )


def _members(archive: Path, root: Path) -> Iterator[tuple[str, bool, int, Callable[[], IO[bytes]]]]:
    """(name, is a folder, declared size, open) per member; links, devices and other specials are refused.

    A tar member must pass tarfile's own ``"data"`` extraction filter for ``root`` (names that climb out,
    special files, unsafe modes: the rule of ``extractall(filter="data")``); zip has no such filter, so
    `_safe_path` checks the names of both kinds, and refuses absolute ones, which that filter would strip.
    """
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as handle:
            for info in handle.infolist():
                mode = info.external_attr >> 16
                if mode and mode & 0o170000 not in (0, 0o100000, 0o040000):
                    raise DataSourceError(f"{archive.name}: member {info.filename!r} is a link or a special file")
                yield info.filename, info.is_dir(), info.file_size, functools.partial(handle.open, info)
        return
    with tarfile.open(archive) as handle:
        for member in handle:
            if not (member.isfile() or member.isdir()):
                raise DataSourceError(f"{archive.name}: member {member.name!r} is a link or a special file")
            try:
                tarfile.data_filter(member, str(root))
            except (tarfile.OutsideDestinationError, tarfile.AbsolutePathError):
                raise DataSourceError(
                    f"{archive.name}: member {member.name!r} points outside the archive's folder"
                ) from None
            except tarfile.FilterError as err:
                raise DataSourceError(f"{archive.name}: member {member.name!r} is refused ({err})") from None
            yield member.name, member.isdir(), member.size, functools.partial(_tar_content, handle, member)


def _tar_content(handle: tarfile.TarFile, member: tarfile.TarInfo) -> IO[bytes]:
    """A regular file member's content (`extractfile` gives None only for other kinds of member)."""
    content = handle.extractfile(member)
    if content is None:
        raise DataSourceError(f"member {member.name!r} is not a regular file")
    return content


def _safe_path(root: Path, member: str, archive: Path) -> Path:
    """Where ``member`` goes below ``root``; `DataSourceError` if it would land anywhere else."""
    parts = member.replace("\\", "/").split("/")
    if member.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", member) or ".." in parts:
        raise DataSourceError(f"{archive.name}: member {member!r} points outside the archive's folder")
    path = root.joinpath(*[part for part in parts if part not in ("", ".")])
    if os.path.commonpath([root.resolve(), path.resolve()]) != str(root.resolve()):
        raise DataSourceError(f"{archive.name}: member {member!r} points outside the archive's folder")
    return path
