"""Hugging Face repositories: the rules of their ids and revisions, and one commit, planned first.

Ids and revisions are checked against the Hub's own rules (`hub_id_problem`,
`revision_problem`) before any path or request is made of them.

Every push of this package is one `CommitPlan`: it lists the files (from disk
or from memory), the message and whether it is a pull request; `describe` is
what ``--dry-run`` prints, and `push` sends it as one ``HfApi.create_commit`` (creating the repository first
when the plan says so). Submissions of results, model cards, the dataset
repository and the metric's Space all go through here, so they share the same
dry run, the same error message and the same care with the token: it is handed
to huggingface_hub and never printed, logged or written.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huggingface_hub import CommitOperationAdd, HfApi
from huggingface_hub.errors import HFValidationError
from huggingface_hub.utils import validate_repo_id

from s2sbench_hf.tasks import S2SBenchError

RULE = "-" * 60

HUB_ID_RULES = (
    "a Hub id is 'name' or 'namespace/name': letters, digits, '-', '_' and '.', at most 96 characters, "
    "not starting or ending with '-' or '.', without '--' or '..', not ending in '.git'"
)


def hub_id_problem(repo_id: Any) -> str | None:
    """Why ``repo_id`` is not a valid Hub repo id (huggingface_hub's `validate_repo_id` rules), or None."""
    try:
        validate_repo_id(repo_id)
    except HFValidationError:
        return HUB_ID_RULES
    return None if isinstance(repo_id, str) and repo_id else HUB_ID_RULES


_REF_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")


def revision_problem(revision: Any) -> str | None:
    """Why ``revision`` is not a Hub revision (a commit, branch or tag name under git's ref rules), or None.

    huggingface_hub has no validator for revisions; the Hub stores them as git
    refs, so git's ``check-ref-format`` rules apply: no ``..``, ``@{``, spaces,
    control characters or ``~^:?*[\\``, no component starting with ``.`` or
    ending with ``.lock``, no empty component, at most 256 characters.
    """
    if not isinstance(revision, str) or not revision:
        return "a revision must be a non-empty string"
    if (
        len(revision) > 256
        or _REF_FORBIDDEN.search(revision)
        or ".." in revision
        or "@{" in revision
        or revision == "@"
    ):
        return f"{revision[:60]!r} is not a valid git revision (no '..', '@{{', spaces or ~^:?*[\\)"
    parts = revision.split("/")
    if any(not part or part.startswith(".") or part.endswith(".lock") for part in parts) or revision.endswith("."):
        return f"{revision[:60]!r} is not a valid git revision (an empty component, or one starting with '.')"
    return None


def is_hub_id(source: str) -> bool:
    """True for ``ORG/NAME`` under the Hub's rules that is not also a local path."""
    return source.count("/") == 1 and hub_id_problem(source) is None and not os.path.exists(source)


class HubError(S2SBenchError, RuntimeError):
    """A Hub operation failed or was refused; the message says what to check (and never holds the token)."""


@dataclass(frozen=True)
class PlannedFile:
    """One file of a commit: a local file, or bytes made in memory (a card, a results file)."""

    path_in_repo: str
    source: Path | bytes
    note: str = ""
    """Shown in the dry run next to a file made in memory (whose text is printed in full)."""

    @property
    def size(self) -> int:
        return len(self.source) if isinstance(self.source, bytes) else self.source.stat().st_size

    def operation(self) -> CommitOperationAdd:
        content = self.source if isinstance(self.source, bytes) else str(self.source)
        return CommitOperationAdd(path_in_repo=self.path_in_repo, path_or_fileobj=content)


@dataclass
class CommitPlan:
    """One commit to a Hub repository; `describe` is what ``--dry-run`` prints."""

    repo_id: str
    repo_type: str
    files: list[PlannedFile]
    commit_message: str
    commit_description: str = ""
    create_pr: bool = True
    create_repo: dict[str, Any] | None = None
    """Create the repository first (if missing) with these `HfApi.create_repo` arguments; None: it must exist."""
    parent_commit: str | None = None
    """The commit the plan was made from (a model card read at it): a pull request is opened from it, a direct
    commit is refused by the Hub if the branch moved on. None: the branch's head."""

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    def operations(self) -> list[CommitOperationAdd]:
        return [f.operation() for f in self.files]

    def to_dict(self) -> dict[str, Any]:
        return {
            "repo_id": self.repo_id,
            "repo_type": self.repo_type,
            "create_pr": self.create_pr,
            "create_repo": self.create_repo,
            "parent_commit": self.parent_commit,
            "commit_message": self.commit_message,
            "commit_description": self.commit_description,
            "files": [
                {
                    "path_in_repo": f.path_in_repo,
                    "size": f.size,
                    "local_path": None if isinstance(f.source, bytes) else str(f.source),
                }
                for f in self.files
            ],
        }

    def describe(self) -> str:
        """The plan in words: repository, pull request or not, message, every file with its size."""
        width = max((len(f.path_in_repo) for f in self.files), default=0)
        lines = [
            f"repo:     {self.repo_id} ({self.repo_type})"
            + (
                f"; created if missing ({', '.join(f'{k}={v}' for k, v in self.create_repo.items())})"
                if self.create_repo is not None
                else ""
            ),
            (
                f"PR:       {'yes, a pull request' if self.create_pr else 'no, a direct commit to main'} "
                f"(create_pr={self.create_pr})"
            ),
            f"message:  {self.commit_message}",
            *([f"based on: commit {self.parent_commit} (what was read)"] if self.parent_commit else []),
            "files:",
        ]
        for f in self.files:
            where = "(made here)" if isinstance(f.source, bytes) else f"<- {f.source}"
            lines.append(f"  {f.path_in_repo:<{width}}  {f.size:>12,d} bytes  {where}")
        lines.append(f"total:    {len(self.files)} files, {self.total_bytes:,} bytes")
        if self.commit_description:
            lines += ["description:", *("  " + line for line in self.commit_description.splitlines())]
        for f in self.files:
            if isinstance(f.source, bytes):
                label = f"{f.path_in_repo} ({f.note})" if f.note else f.path_in_repo
                lines += [f"{label}:", RULE, f.source.decode("utf-8").rstrip("\n"), RULE]
        return "\n".join(lines)


def push(plan: CommitPlan, *, token: str | None = None, api: HfApi | None = None) -> str:
    """Send the plan as one commit (a pull request when ``plan.create_pr``); returns the commit's or PR's URL."""
    api = api or HfApi()
    try:
        if plan.create_repo is not None:
            api.create_repo(plan.repo_id, repo_type=plan.repo_type, exist_ok=True, token=token, **plan.create_repo)
        info = api.create_commit(
            repo_id=plan.repo_id,
            repo_type=plan.repo_type,
            operations=plan.operations(),
            commit_message=plan.commit_message,
            commit_description=plan.commit_description,
            create_pr=plan.create_pr,
            parent_commit=plan.parent_commit,
            token=token,
        )
    except Exception as err:  # network, auth, missing repo: one clear message
        raise HubError(
            f"the commit to {plan.repo_type} repo {plan.repo_id!r} failed ({type(err).__name__}: {err}). Check "
            "the repo id, that you are logged in (`hf auth login` or HF_TOKEN) with write access (or the right to "
            "open pull requests), and the network; --dry-run shows the plan without sending anything."
        ) from err
    return str(getattr(info, "pr_url", None) or getattr(info, "commit_url", None) or info)
