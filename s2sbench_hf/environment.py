"""What a run ran on, for results.json's ``environment``: versions, this package's commit, the hardware, the command.

Everything is read from what the process already has, so recording changes
nothing of the run: versions come from ``importlib.metadata`` for the packages
this package declares (dependencies and extras) whose modules are already
imported, and torch is asked about GPUs only when the run has imported it. git
runs with a time bound. A fact that cannot be read is None (or left out): the
record never fails a run.
"""

from __future__ import annotations

import functools
import os
import platform
import re
import shlex
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from s2sbench_hf.files import plain

DISTRIBUTION = "s2sbench-hf"
"""This package's distribution: its declared requirements name the stack whose versions are recorded."""
TOP_LEVEL = ("torch", "transformers")
"""Versions at the top of the block (recorded since schema 2.0, so older files have them); the rest are ``packages``."""
PROG = "s2sbench"
"""The command a CLI run's arguments are recorded after (not the script's path, which names the user's folders)."""
GIT_TIMEOUT_S = 5.0
MAX_COMMAND = 8192
"""Characters of a recorded command or call; a longer one is cut, ending in ``...``."""
COMMIT_PATTERN = r"^[0-9a-f]{40}([0-9a-f]{24})?$"
"""A git commit id: SHA-1, or SHA-256 in a repository that uses it."""
HUB_TOKEN = re.compile(r"\bhf_[A-Za-z0-9]{20,}")
"""A Hugging Face access token (``hf_`` and 34 letters and digits): written as ``hf_***`` in a recorded command, which
a board publishes (a token passed as an option is refused before, `model_loading.SECRET_KEYWORDS`; this catches one
in any other argument)."""
_REQUIREMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def environment(command: str | None = None) -> dict[str, Any]:
    """The ``environment`` block of a run started by ``command`` (by default this process's command line)."""
    packages = imported_versions()
    return {
        "python": platform.python_version(),
        **{name: metadata.version(name) for name in TOP_LEVEL},
        "packages": {name: v for name, v in packages.items() if name not in TOP_LEVEL},
        **git_checkout(Path(__file__).parent),
        "hardware": hardware(),
        "command": _bounded(shlex.join(sys.argv) if command is None else command),
    }


def command_line(argv: Sequence[str]) -> str:
    """The ``s2sbench`` command line of the arguments the CLI parsed, quoted so that a shell repeats it."""
    return shlex.join([PROG, *argv])


def call_line(name: str, kwargs: Mapping[str, Any]) -> str:
    """``name(key=value, ...)``: each value as its ``repr`` when it is plain data, else ``<ClassName>`` (a loaded
    model or processor, whose ``repr`` is pages long and says nothing that repeats the call)."""
    arguments = ", ".join(
        f"{key}={repr(value) if _plain_data(value) else f'<{type(value).__name__}>'}" for key, value in kwargs.items()
    )
    return f"{name}({arguments})"


def _plain_data(value: Any) -> bool:
    """Whether ``value`` is a JSON-like scalar, or a list, tuple or dict of such."""
    if isinstance(value, (list, tuple)):
        return all(_plain_data(v) for v in value)
    if isinstance(value, dict):
        return all(_plain_data(k) and _plain_data(v) for k, v in value.items())
    return value is None or isinstance(value, (str, int, float, bool))


def _bounded(text: str) -> str:
    """``text`` as one `plain` line of at most `MAX_COMMAND` characters, any Hub token masked (`HUB_TOKEN`)."""
    line = HUB_TOKEN.sub("hf_***", plain(text))
    return line if len(line) <= MAX_COMMAND else line[: MAX_COMMAND - 3] + "..."


def imported_versions() -> dict[str, str]:
    """The version of each distribution this package declares whose module this process has imported."""
    imported = {name.partition(".")[0] for name in list(sys.modules)}
    modules = _modules_by_distribution()
    return {name: metadata.version(name) for name in declared() if imported & modules.get(_normal(name), set())}


def recorded_versions(block: Mapping[str, Any]) -> dict[str, Any]:
    """Every version an ``environment`` block records, by name: python, `TOP_LEVEL`, then its ``packages``."""
    return {**{name: block[name] for name in ("python", *TOP_LEVEL) if name in block}, **(block.get("packages") or {})}


def installed_versions(names: Iterable[str]) -> dict[str, str | None]:
    """This process's version of each named package (``python``: the interpreter); None for one not installed."""
    return {name: platform.python_version() if name == "python" else _installed(name) for name in names}


def _installed(name: str) -> str | None:
    """The installed version of distribution ``name``, or None."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


@functools.cache
def declared() -> tuple[str, ...]:
    """The distributions this package requires, extras included, as its metadata names them; none when it is not
    installed (run from a source folder on ``PYTHONPATH``)."""
    try:
        requires = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        return ()
    names = dict.fromkeys(found[0] for found in map(_REQUIREMENT_NAME.match, requires) if found)
    return tuple(name for name in names if _normal(name) != _normal(DISTRIBUTION))


@functools.cache
def _modules_by_distribution() -> dict[str, set[str]]:
    """The top-level modules of every installed distribution (its normalized name), read once: it scans every
    installed package's file list (about half a second)."""
    out: dict[str, set[str]] = {}
    for module, distributions in metadata.packages_distributions().items():
        for distribution in distributions:
            out.setdefault(_normal(distribution), set()).add(module)
    return out


def _normal(name: str) -> str:
    """A distribution name in its normalized form (PEP 503): ``huggingface_hub`` and ``huggingface-hub`` are one."""
    return re.sub(r"[-_.]+", "-", name).lower()


def git_checkout(folder: Path) -> dict[str, Any]:
    """``git_commit`` and ``git_dirty`` of the git work tree whose tracked files include ``folder``'s package, else
    both None (an installed copy, even one inside another repository's ignored virtual environment, or no git).

    ``git_dirty`` is True when tracked files differ from the commit (untracked files do not count).
    """
    tracked = _git(folder, "ls-files", "--error-unmatch", "__init__.py")
    commit = _git(folder, "rev-parse", "--verify", "HEAD") if tracked is not None else None
    if commit is None or not re.match(COMMIT_PATTERN, commit):
        return {"git_commit": None, "git_dirty": None}
    status = _git(folder, "status", "--porcelain", "--untracked-files=no")
    return {"git_commit": commit, "git_dirty": None if status is None else bool(status)}


def _git(folder: Path, *args: str) -> str | None:
    """The output of ``git -C folder args``, stripped; None when git is missing, fails or takes `GIT_TIMEOUT_S`."""
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), *args],
            capture_output=True,
            encoding="utf-8",
            errors="replace",
            timeout=GIT_TIMEOUT_S,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},  # `status` must not write the index of a checkout in use
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def hardware() -> dict[str, Any]:
    """The platform, CPU model and count, memory, and the GPUs and CUDA version torch sees (when the run uses torch)."""
    torch = sys.modules.get("torch")  # only when the run imported it: recording imports nothing
    return {
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "gpus": _gpus(torch),
        "cuda": None if torch is None else torch.version.cuda,
    }


def _cpu_model() -> str | None:
    """The CPU's model name from ``/proc/cpuinfo`` (Linux), else ``platform.processor()``; None when neither says."""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        cpuinfo = ""
    found = re.search(r"^(?:model name|Hardware|cpu model)\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    return plain(found[1].strip() if found else platform.processor()) or None


def _memory_gib() -> float | None:
    """Physical memory in GiB (one decimal), where the system reports it (POSIX ``sysconf``)."""
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (AttributeError, ValueError, OSError):
        return None


def _gpus(torch: Any) -> list[str]:
    """The name of each CUDA device torch sees; none without torch, CUDA, or a driver that answers."""
    if torch is None:
        return []
    try:
        return [plain(torch.cuda.get_device_name(i)) for i in range(torch.cuda.device_count())]
    except (RuntimeError, AssertionError):  # a CPU build or a broken driver: no GPU to record
        return []
