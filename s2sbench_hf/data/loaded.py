"""What every reader of the data layer shares: what it returns and raises (`LoadedTask`, the data errors), where it
reads from (`Source`) and the shape of a reader (`Layout`).

A `Source` is a folder of files and the name results give it: a local folder, the bundled samples, a Hub snapshot
that downloads what it is asked for, or an archive of one, extracted. A `Layout` is one way of laying a task out in
such a folder: it finds the task's files there (`Layout.find`) and its reader makes the items (`Layout.read`). The
one dispatcher, `sources.load_task`, names the layout of a task's source from the registered ones
(`sources.LAYOUTS`) and calls its reader.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from s2sbench_hf.tasks import TASKS, Item, ItemError, S2SBenchError, Task

SAMPLES_SOURCE = "samples"
"""The source name of the bundled sample sets (``--dataset samples``; also ``info["source"]``)."""

T = TypeVar("T")

DEFAULT_DATASET = "undobug/S2SBench"
"""The S2SBench release on the Hub (its authors' raw files): the default dataset of runs, sweeps and the metric."""


class DataSourceError(S2SBenchError, ValueError):
    """A dataset cannot be read as a task: not found, no config for the task, columns missing."""


class BadSourceError(DataSourceError):
    """A source to build or convert from has bad rows: ONE error that lists every one (``problems``).

    Raised before anything is written, so a failed build leaves no output.
    """

    def __init__(self, source: str, problems: list[str]):
        self.source, self.problems = source, list(problems)
        listing = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(
            f"{source}: {len(self.problems)} problem(s), nothing was written. Fix them and run again:\n{listing}"
        )

    def __reduce__(self):
        return (type(self), (self.source, self.problems))


@dataclass
class LoadedTask:
    """A task's valid items, the rows that were rejected, and where they came from.

    ``info`` has ``source``, ``config``, ``split``, ``revision``, ``num_rows`` and
    ``fingerprint``: a hash of the data files' content (of their commit-pinned
    URLs for remote files) that changes whenever the data does.
    """

    task: Task
    items: list[Item]
    errors: list[ItemError] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)


def check_limit(limit: int | None) -> None:
    """`DataSourceError` unless ``limit`` is None or an integer >= 1: what every reader checks before it makes items
    (``limit`` keeps the first N items of the source's order, usable or not)."""
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise DataSourceError(f"limit must be an integer >= 1 (or None for every item), got {limit!r}")


NOT_A_DATASET = (
    "is not a dataset folder: no README.md card with a configs: block (what s2sbench build writes), and no release "
    f"files of any task ({', '.join(TASKS)}) in it or one folder down. Give a dataset folder, a release folder "
    "(<task>/data.jsonl + <task>/wavs/), a Hub dataset id, or 'samples' (a speech-LM set: a folder in its own "
    "layout, docs/data.md)."
)


@dataclass
class Source:
    """A folder that holds a task's files, and how ``LoadedTask.info`` names it (``label``: ``source``;
    ``revision``: the Hub commit, None for a local folder).

    This base is a local folder: every file is there already (`fetch` brings nothing), its archives are never
    opened (finding them would walk the folder, which may be ``/``), and a task it lacks is explained by the
    first layout the folder is in (`Layout.lacks`). `hub_snapshot.HubSource` downloads and extracts.
    """

    label: str
    folder: Path
    revision: str | None = None

    def fetch(self, patterns: Sequence[str]) -> Path:
        """Make the files of ``folder`` that match ``patterns`` present (a Hub snapshot downloads them); ``folder``."""
        return self.folder

    def archives(self) -> list[Source]:
        """The source's archives, each extracted as a source of its own (none for a local folder)."""
        return []

    def in_archives(self, task_id: str, find: Callable[[Path], T | None]) -> tuple[T, Source] | None:
        """What ``find`` finds of ``task_id`` in one of the source's archives, with that archive; None if in none.
        Two archives that both hold the task are a `DataSourceError` (which one is meant?)."""
        inside = [(hit, archive) for archive in self.archives() for hit in [find(archive.folder)] if hit is not None]
        if len(inside) > 1:
            raise DataSourceError(
                f"{self.label} holds task {task_id!r} in several archives; convert one of them with --jsonl and "
                "--audio-dir"
            )
        return inside[0] if inside else None

    def no_data(self, task_id: str, layouts: Sequence[Layout]) -> DataSourceError:
        """The error for a task that no layout finds here: that of the first layout the folder is in, else one
        that says the folder is no dataset."""
        for layout in layouts:
            problem = layout.lacks(self.folder, task_id, self.label)
            if problem is not None:
                return DataSourceError(problem)
        return DataSourceError(f"{self.folder} {NOT_A_DATASET}")


def _no_patterns(task_id: str) -> list[str]:
    return []


def _lacks_nothing(folder: Path, task_id: str, label: str) -> str | None:
    return None


@dataclass(frozen=True)
class Layout:
    """One way a task's files are laid out in a source's folder, and its reader.

    * ``find(folder, task_id)``: the task's files in ``folder`` in this layout (whatever the reader needs, e.g. a
      `release.ReleaseFiles`), or None. It looks at ``folder`` and its top-level folders only, never walks it.
    * ``read(task_id, found, source, limit)``: the `LoadedTask` of what ``find`` found; the items are made and
      checked here (`Item.validate`, `check_limit`), their ``info`` names ``source``. A reader that needs more
      files than ``find`` looked at asks ``source.fetch(patterns)`` for them.
    * ``patterns(task_id)``: the files ``find`` looks at, as ``snapshot_download`` patterns: what a Hub source
      downloads before the layout is named.
    * ``lacks(folder, task_id, label)``: why a folder in this layout (holding other tasks) has no data for the
      task, in one line; None for a folder not in this layout.
    * ``in_archives``: also looked for inside a Hub repository's archives.
    """

    name: str
    find: Callable[[Path, str], Any | None]
    read: Callable[[str, Any, Source, int | None], LoadedTask]
    patterns: Callable[[str], list[str]] = _no_patterns
    lacks: Callable[[Path, str, str], str | None] = _lacks_nothing
    in_archives: bool = False
