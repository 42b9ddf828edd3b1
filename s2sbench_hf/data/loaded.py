"""What every reader of the data layer returns or raises: `LoadedTask` and the data errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from s2sbench_hf.tasks import Item, ItemError, S2SBenchError, Task

SAMPLES_SOURCE = "samples"
"""The source name of the bundled sample sets (``--dataset samples``; also ``info["source"]``)."""

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
