"""The `evaluate` module (``metric/s2sbench/``): find its files, register it with evaluate, push it as a Space.

**Loading by name.** ``evaluate.load("s2sbench")`` tries, in this order
(``evaluate.loading.evaluation_module_factory``): a local ``s2sbench/s2sbench.py``
under the current directory; the Hub Space ``evaluate-metric/s2sbench`` (there is
none: only Hugging Face publishes there); then its modules cache, the newest
``$HF_MODULES_CACHE/evaluate_modules/metrics/evaluate-metric--s2sbench/<hash>/s2sbench.py``
(``HF_MODULES_CACHE`` defaults to ``~/.cache/huggingface/modules``). `install`
(``s2sbench metric install``) writes the installed package's module file there
in the layout evaluate stores a module in after a Hub download, so the name
resolves offline and from any directory. Running it again changes nothing;
after an upgrade it registers the new file (the newest one wins). A version is
written whole or not at all (a temporary folder, then a rename), and broken
versions that an earlier interrupted install left are removed.

**Publishing.** Community modules are Space repos: ``evaluate.load("ORG/s2sbench")``
downloads ``s2sbench.py`` from the Space ``ORG/s2sbench``, whose ``app.py`` and card
(``README.md``) make its page. `plan_push` and `push` (``s2sbench metric push``)
create that Space (Gradio SDK, as ``evaluate-cli create`` does) and upload the four files.

**One source.** The files live in ``metric/s2sbench/`` in the repository; the wheel
installs that folder as ``s2sbench_hf/metric_space/`` (a setuptools package-dir
mapping, see pyproject.toml). An editable install reads the repository folder.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import s2sbench_hf
from s2sbench_hf import hub_repo
from s2sbench_hf.hub_repo import CommitPlan, PlannedFile
from s2sbench_hf.tasks import S2SBenchError

MODULE_NAME = "s2sbench"
SPACE_FILES = ("s2sbench.py", "README.md", "app.py", "requirements.txt")
"""The Space's files: the module, its card, the Gradio app, the Space's pip requirements."""

CANONICAL_NAME = f"evaluate-metric/{MODULE_NAME}"
"""The name evaluate gives a module loaded as plain ``"s2sbench"``."""

CACHE_FOLDER = CANONICAL_NAME.replace("/", "--")
"""Its folder in evaluate's modules cache (``evaluate-metric--s2sbench``), one subfolder per version (the hash)."""

STAGING_PREFIX = ".s2sbench-install-"
"""Prefix of the folder `install` assembles a version in before renaming it into place (evaluate never reads it:
not a 64-character hash)."""

OWNER_PLACEHOLDER = "<owner>"
"""Stands in the Spaces' requirements (and the module's install hint) for the GitHub owner of the s2sbench-hf
repository, until the maintainer who publishes the Spaces writes the real one (see docs/metric.md, "Publishing it")."""


def space_folder() -> Path:
    """The folder with `SPACE_FILES`: inside the installed package (a wheel), or the repository (an editable
    install)."""
    package = Path(s2sbench_hf.__file__).resolve().parent
    for folder in (package / "metric_space", package.parent / "metric" / MODULE_NAME):
        if (folder / f"{MODULE_NAME}.py").is_file():
            return folder
    raise S2SBenchError(
        f"the evaluate module {MODULE_NAME}.py is not installed with s2sbench_hf "
        f"(looked in {package / 'metric_space'}). "
        "Reinstall the package: pip install --force-reinstall s2sbench-hf (or pip install -e . in the repository)."
    )


@dataclass(frozen=True)
class Installation:
    """What `install` did."""

    module: Path
    """The registered file: the one ``evaluate.load("s2sbench")`` loads."""
    removed: list[Path]
    """Broken versions found in the cache and removed (an empty or truncated module, a folder without one, the
    leftover of an interrupted install)."""


def install() -> Installation:
    """Register the module so that ``evaluate.load("s2sbench")`` finds it offline, repairing what an earlier
    install left broken.

    Idempotent and atomic: the module's version folder is stored exactly as evaluate
    stores a module it downloaded as ``evaluate-metric/s2sbench``, but assembled
    under a temporary name and renamed into place, so an interrupted install (a full
    disk) leaves the versions already there as they were and nothing half-written.
    Broken versions are removed first: evaluate loads the newest version folder, and
    an empty module or a folder without one breaks ``evaluate.load`` for every
    version. The result is then found again the way ``evaluate.load`` finds it
    offline; a mismatch (a future evaluate with another cache layout) is an error,
    not a silent no-op.
    """
    # evaluate's own hash and lookup (private names: the layout is theirs, and is checked below)
    try:
        from evaluate.loading import CachedEvaluationModuleFactory, files_to_hash, init_dynamic_modules
    except ImportError as err:
        raise S2SBenchError(
            f"this evaluate ({err}) stores its modules differently; load the module by path instead: "
            f"evaluate.load({str(space_folder())!r})."
        ) from err

    source = space_folder() / f"{MODULE_NAME}.py"
    try:
        folder = Path(init_dynamic_modules()) / "metrics" / CACHE_FOLDER
        digest = files_to_hash([str(source)])
        removed = _remove_broken(folder, source, digest, files_to_hash)
        module = _store(folder, digest, source)
        os.utime(module)  # the newest file is the one evaluate loads: this one, also after a downgrade
    except OSError as err:
        raise S2SBenchError(
            f"cannot write evaluate's modules cache ({err}); the versions already there are unchanged and nothing "
            "half-written was left. Free some space or make it writable, or point HF_MODULES_CACHE at a writable "
            "folder (for this command and for the programs that call evaluate.load), then install again."
        ) from err
    lookup = logging.getLogger("evaluate.loading")  # its "using the latest cached version" warning is the point here
    level = lookup.level
    lookup.setLevel(logging.ERROR)
    try:
        found = CachedEvaluationModuleFactory(CACHE_FOLDER).get_module()
    finally:
        lookup.setLevel(level)
    if found.hash != digest or module.read_bytes() != source.read_bytes():
        raise S2SBenchError(
            f"registered {source} as {module}, but evaluate finds {found.module_path} instead. "
            f"Load the module by path meanwhile: evaluate.load({str(source.parent)!r})."
        )
    return Installation(module, removed)


def _intact(version: Path, expected: Path | None, files_to_hash: Callable[[list[str]], str]) -> bool:
    """Whether a version folder holds a whole module: byte for byte ``expected`` (the version being installed),
    else a module whose evaluate hash is the folder's name (an older version, left as it is)."""
    module = version / f"{MODULE_NAME}.py"
    try:
        if expected is not None:
            return module.read_bytes() == expected.read_bytes()
        return module.stat().st_size > 0 and files_to_hash([str(module)]) == version.name
    except (OSError, UnicodeDecodeError):
        return False


def _remove_broken(folder: Path, source: Path, digest: str, files_to_hash: Callable[[list[str]], str]) -> list[Path]:
    """Remove the versions under ``folder`` that are not whole, and leftovers of interrupted installs.

    evaluate takes every 64-character folder name for a version (the hash), so these are the ones it reads.
    """
    broken = []
    for entry in sorted(folder.iterdir()) if folder.is_dir() else []:
        if entry.name.startswith(STAGING_PREFIX) or (
            len(entry.name) == len(digest)
            and entry.is_dir()
            and not _intact(entry, source if entry.name == digest else None, files_to_hash)
        ):
            shutil.rmtree(entry)
            broken.append(entry)
    return broken


def _store(folder: Path, digest: str, source: Path) -> Path:
    """``folder/<digest>/s2sbench.py``, written whole or not at all; returns the module file.

    The layout is evaluate's (``__init__.py`` files, the module and its ``.json`` note of
    where it came from); the version folder is assembled under a `STAGING_PREFIX` name,
    which evaluate never reads, and renamed into place once complete.
    """
    version = folder / digest
    module = version / f"{MODULE_NAME}.py"
    if version.is_dir():  # whole: `_remove_broken` ran first
        return module
    folder.mkdir(parents=True, exist_ok=True)
    for package in (folder.parent, folder):
        (package / "__init__.py").touch()
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=folder))
    try:
        (staging / "__init__.py").touch()
        shutil.copyfile(source, staging / module.name)
        note = {"original file path": str(source), "local file path": str(module)}
        (staging / f"{MODULE_NAME}.json").write_text(json.dumps(note), encoding="utf-8")
        mask = os.umask(0)
        os.umask(mask)
        staging.chmod(0o777 & ~mask)  # mkdtemp's folder is private; evaluate's are not
        staging.rename(version)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone after the rename; after a failure, nothing is left
    return module


def placeholder_files(folder: Path | None = None) -> list[str]:
    """The Space files that still name `OWNER_PLACEHOLDER` instead of the package's real repository."""
    folder = folder or space_folder()
    return [name for name in SPACE_FILES if OWNER_PLACEHOLDER in (folder / name).read_text(encoding="utf-8")]


def plan_push(repo_id: str) -> CommitPlan:
    """The commit that uploads the Space's files to the Space ``repo_id`` (``ORG/s2sbench``), to main."""
    owner, _, name = repo_id.partition("/")
    if not owner or name != MODULE_NAME:
        raise S2SBenchError(
            f"the Space must be ORG/{MODULE_NAME} (evaluate.load('ORG/NAME') downloads NAME.py, and the module is "
            f"{MODULE_NAME}.py); got {repo_id!r}."
        )
    folder = space_folder()
    files = [PlannedFile(name, folder / name) for name in SPACE_FILES]
    return CommitPlan(
        repo_id,
        "space",
        files,
        f"S2SBench evaluate module (s2sbench-hf {s2sbench_hf.__version__})",
        f"Loads with evaluate.load({repo_id!r}); the metric's code is the s2sbench_hf package it installs.",
        create_pr=False,
        create_repo={"space_sdk": "gradio"},
    )


def push(plan: CommitPlan, *, token: str | None = None, api=None) -> str:
    """Create the Space if needed (Gradio SDK) and send the plan; returns the commit's URL.

    Refuses while the requirements still name `OWNER_PLACEHOLDER`: such a Space could not install its package.
    """
    source = plan.files[0].source
    if not isinstance(source, Path):
        raise S2SBenchError("the Space's commit plan should upload its local files (as `plan_push` makes it).")
    unfinished = placeholder_files(source.parent)
    if unfinished:
        raise S2SBenchError(
            f"{', '.join(unfinished)} still name the placeholder {OWNER_PLACEHOLDER!r}: write the GitHub owner of "
            "the s2sbench-hf repository there (the Space installs the package from its release tag), then push again."
        )
    return hub_repo.push(plan, token=token, api=api)
