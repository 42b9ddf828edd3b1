"""Publishing results on the Hugging Face Hub: submissions, model cards, Hub-native evaluation results.

Two things go to the Hub, both built here from one validated ``results.json``
and both pure until the last step (a `hub_repo.CommitPlan` that prints itself
for ``--dry-run`` and is sent with `hub_repo.push`, one ``HfApi.create_commit``):

* **Submissions** to a results dataset repo (`plan_submission`): one
  folder per model and revision, ``submissions/<org>__<name>/<revision or
  content hash>/`` holding ``results.json`` and the ``samples_<task>.jsonl``
  files, opened as a pull request by default. The leaderboard
  (`s2sbench_hf.leaderboard`) reads that layout.
* **Model cards** (`plan_card`): the model card's ``model-index`` (through
  huggingface_hub's `ModelCard` / `EvalResult`: text and audio accuracy, the gap
  and the relative gap per task) and a ``.eval_results/s2sbench.yaml`` file
  (huggingface_hub's `EvalResultEntry`: text and audio accuracy per task).

The benchmark's own ``eval.yaml`` (whose task ids are the ``task_id`` values of
the ``.eval_results`` entries) is part of the dataset repository and is written
with it (`s2sbench_hf.data.eval_yaml`).

Formats followed (Hub docs, "Evaluation Results", docs/hub/eval-results.md in
huggingface/hub-docs, and huggingface_hub 2.x ``_eval_results.py``):
``eval.yaml`` has ``name``, ``description``, ``evaluation_framework`` and
``tasks: [{id, config, split}]``, one task per sub-leaderboard; each
``.eval_results/*.yaml`` is a list of ``{dataset: {id, task_id, revision?},
value, date?, source?: {url, name?, user?}, notes?}``. A benchmark leaderboard
on the Hub ranks one value per task, higher first, so the Hub-native entries are
the accuracies (``<task>_text``, ``<task>_audio``); the gap, where lower is
better, stays in the ``model-index`` and on our own board. All values are
percentages (the gap in percentage points), rounded to `DECIMALS` decimals, the
same numbers in both places (`hub_metrics`).

The token is taken from ``--token``, ``HF_TOKEN`` or the saved login
(`resolve_token`) and handed to ``huggingface_hub`` only; nothing here prints,
logs or writes it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml
from huggingface_hub import (
    EvalResult,
    EvalResultEntry,
    HfApi,
    ModelCard,
    ModelCardData,
    eval_result_entries_to_yaml,
)
from huggingface_hub.errors import (
    EntryNotFoundError,
    HFValidationError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
)

from s2sbench_hf._version import __version__
from s2sbench_hf.data.eval_yaml import eval_task_id
from s2sbench_hf.failures import explain
from s2sbench_hf.hub_repo import CommitPlan, HubError, PlannedFile, hub_id_problem, revision_problem
from s2sbench_hf.results import read_results
from s2sbench_hf.tables import format_table
from s2sbench_hf.tasks import ALL_TASKS, DEFAULT_GAP, TASKS, UTTERANCE, gap_settings, get_task

SUBMISSIONS_DIR = "submissions"
"""Top folder of submissions in a results dataset repo."""

RESULTS_REPO_TYPE = "dataset"
DECIMALS = 2
"""Decimals of the percentages written to the Hub (model-index and .eval_results alike)."""

EVAL_RESULTS_FILE = ".eval_results/s2sbench.yaml"
"""Where `plan_card` writes the Hub-native entries in a model repo."""

PIPELINE_TAG = "audio-text-to-text"
"""``task.type`` of the model-index entries: a speech LLM reading speech and text."""

SOURCE_NAME = "S2SBench (s2sbench-hf)"
CARD_SECTION_START = "<!-- s2sbench:start -->"
CARD_SECTION_END = "<!-- s2sbench:end -->"

# --------------------------------------------------------------------------- identities


def is_local_path(model_id: str) -> bool:
    return os.path.isabs(model_id) or model_id.startswith((".", "~")) or os.path.isdir(model_id)


CONTENT_HASH = re.compile(r"sha256:[0-9a-f]{64}")
"""What ``folder_content_hash`` writes for a local model folder (``sha256:`` + 64 hex digits)."""


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.") or "unnamed"


def model_slug(model_id: str) -> str:
    """``org/name`` -> ``org__name``; a local folder -> ``local__<folder name>``."""
    model_id = model_id.strip().rstrip("/\\")
    if is_local_path(model_id):
        return "local__" + _slug(Path(model_id).name)
    return "__".join(_slug(part) for part in model_id.split("/")[-2:])


def revision_slug(model: Mapping[str, Any]) -> str:
    """The model's Hub revision, else its content hash (``:`` made path-safe)."""
    return _slug(str(model.get("revision") or model.get("content_hash") or "unknown-revision"))


def submission_folder(results: Mapping[str, Any]) -> str:
    """``submissions/<org>__<name>/<revision or content hash>`` for one results file.

    The model id and revision are checked against the Hub's rules first (a local
    model needs its content hash instead), so no id can name a path outside
    ``submissions/``; `HubError` says what is wrong.
    """
    model = results["model"]
    model_id, revision, content_hash = model.get("model_id"), model.get("revision"), model.get("content_hash")
    if content_hash is not None and not (isinstance(content_hash, str) and CONTENT_HASH.fullmatch(content_hash)):
        raise HubError(f"model.content_hash {str(content_hash)[:80]!r} is not a content hash written by s2sbench-hf.")
    if content_hash is None:
        problem = hub_id_problem(model_id)
        if problem:
            raise HubError(f"model.model_id is not a Hub model id ({problem}); no submission folder is made from it.")
    elif not isinstance(model_id, str) or not model_id.strip():
        raise HubError("model.model_id is empty.")
    if revision is not None and revision_problem(revision):
        raise HubError(f"model.revision: {revision_problem(revision)}; no submission folder is made from it.")
    folder = f"{SUBMISSIONS_DIR}/{model_slug(model_id)}/{revision_slug(model)}"
    return path_inside(SUBMISSIONS_DIR, folder)


def path_inside(root: str, path: str) -> str:
    """``path`` itself, once it is proven to be a plain relative path below ``root`` (else `HubError`)."""
    parts = PurePosixPath(path).parts
    if (
        path.startswith("/")
        or "\\" in path
        or len(parts) < 2
        or parts[0] != root
        or any(p in ("", ".", "..") for p in parts)
        or PurePosixPath(*parts).as_posix() != path
    ):
        raise HubError(f"refusing the repo path {path[:120]!r}: it is not a plain path inside {root}/.")
    return path


def display_name(model: Mapping[str, Any]) -> str:
    """What the board and the card call the model: the Hub id, or a local folder's name.

    Decided from the results alone (a content hash means a local folder, or an
    id that is not a Hub id), never from this machine's files.
    """
    model_id = str(model.get("model_id") or "?")
    if model.get("content_hash") or hub_id_problem(model_id):
        return PurePosixPath(model_id.replace("\\", "/").rstrip("/")).name or model_id
    return model_id


def resolve_token(token: str | None = None) -> tuple[str | None, str]:
    """The token and where it came from (``--token``, ``HF_TOKEN``, the login, or none). Never print the token."""
    if token:
        return token, "--token"
    if os.environ.get("HF_TOKEN"):
        return os.environ["HF_TOKEN"], "HF_TOKEN"
    from huggingface_hub import get_token

    saved = get_token()
    return (saved, "huggingface-cli login") if saved else (None, "none")


# ------------------------------------------------------------------------- submissions


def plan_submission(
    run_dir: str | os.PathLike, repo_id: str, *, create_pr: bool = True, results: Mapping[str, Any] | None = None
) -> CommitPlan:
    """The commit that adds a run folder's ``results.json`` and samples files to a results dataset repo.

    Validate first (`s2sbench_hf.validate.validate_run`); this only lays out files.
    """

    run_dir = Path(run_dir)
    if run_dir.is_file():
        run_dir = run_dir.parent
    results = results if results is not None else read_results(run_dir)
    folder = submission_folder(results)
    unknown = [t for t in results["config"]["tasks"] if t not in ALL_TASKS]
    if unknown:
        raise HubError(
            f"config.tasks names tasks {unknown!r} that are neither S2SBench's nor speech-LM sets; a board ranks only "
            "those. Run `s2sbench validate` on the run folder first."
        )
    names = ["results.json"] + [f"samples_{t}.jsonl" for t in results["config"]["tasks"]]
    files = []
    for name in names:
        local = run_dir / name
        if local.is_symlink() or not local.is_file():
            raise HubError(
                f"{local} is a symbolic link or not a regular file: a submission is made of the run "
                "folder's own files. Copy the file into the run folder."
            )
        files.append(PlannedFile(path_inside(SUBMISSIONS_DIR, f"{folder}/{name}"), local.resolve()))
    model = results["model"]
    revision = model.get("revision") or model.get("content_hash")
    message = f"S2SBench results: {display_name(model)} @ {revision}"
    description = "\n".join(
        [
            (
                f"Submitted with s2sbench-hf {__version__}; validated (schema, completeness, recomputed "
                "metrics, dataset fingerprints) before upload."
            ),
            f"Model: {model['model_id']} (revision {revision}, adapter {model.get('adapter')}).",
            f"Tasks: {', '.join(results['config']['tasks'])}; settings: {', '.join(results['config']['settings'])}.",
            "",
            format_table(results),
        ]
    )
    return CommitPlan(repo_id, RESULTS_REPO_TYPE, files, message, description, create_pr=create_pr)


# ------------------------------------------------------------------ Hub-native results


@dataclass(frozen=True)
class HubMetric:
    """One number published on the Hub, in percent (the gap in points)."""

    task: str
    key: str
    """``<setting>_accuracy`` (``text_accuracy``, ``audio_accuracy``, ...), ``gap`` or ``relative_gap``."""
    name: str
    value: float
    eval_task_id: str | None = None
    """The ``eval.yaml`` task id when this number is also a Hub-native entry (the accuracies)."""
    setting: str | None = None


def _pct(value: float) -> float:
    return round(100.0 * float(value), DECIMALS)


def hub_metrics(results: Mapping[str, Any]) -> list[HubMetric]:
    """The numbers that go to the Hub, per task: each setting's accuracy, the gap, the relative gap.

    The one place both the model-index and the ``.eval_results`` entries take
    their values from, so the two always agree.
    """
    out: list[HubMetric] = []
    first, second = gap_settings(results["config"].get("gap", DEFAULT_GAP))
    for task_id in results["config"]["tasks"]:
        m = results["results"].get(task_id) or {}
        if not m.get("n_items"):
            continue
        for setting in dict.fromkeys([*results["config"]["settings"], UTTERANCE]):  # a speech-LM set's own setting
            entry = m["settings"].get(setting)
            if entry:
                out.append(
                    HubMetric(
                        task_id,
                        f"{setting}_accuracy",
                        f"{setting} accuracy (%)",
                        _pct(entry["accuracy"]),
                        eval_task_id(task_id, setting),
                        setting,
                    )
                )
        deg = m.get("degradation")
        if deg:
            out.append(HubMetric(task_id, "gap", f"degradation: {first} - {second} accuracy (pp)", _pct(deg["gap"])))
            if deg.get("relative_gap") is not None:
                out.append(
                    HubMetric(
                        task_id,
                        "relative_gap",
                        f"relative degradation (% of above-chance {first} accuracy)",
                        _pct(deg["relative_gap"]),
                    )
                )
    return out


def protocol_notes(results: Mapping[str, Any]) -> str | None:
    """What differs from the standard protocol (partial data, other scoring rule...), or None."""
    config = results["config"]
    notes = []
    if config.get("scoring_rule", "mean") != "mean":
        notes.append(f"scoring rule {config['scoring_rule']}")
    if config.get("tie_policy", "reference") != "reference":
        notes.append(f"tie policy {config['tie_policy']}")
    if config.get("limit") is not None:
        notes.append(f"first {config['limit']} items per task only")
    for task_id, framing in (config.get("framing") or {}).items():
        if task_id in TASKS and framing != get_task(task_id).framing.to_dict():
            notes.append(f"custom prompt framing for {task_id}")
    sources = {info.get("source") for info in (results.get("datasets") or {}).values()}
    if "samples" in sources:
        notes.append("bundled sample sets, not the full benchmark")
    return "; ".join(notes) or None


def _dataset_revision(results: Mapping[str, Any], task_id: str, benchmark: str) -> str | None:
    info = (results.get("datasets") or {}).get(task_id) or {}
    return info.get("revision") if info.get("source") == benchmark else None


def eval_result_entries(
    results: Mapping[str, Any], benchmark: str, *, source_url: str | None = None
) -> list[EvalResultEntry]:
    """The ``.eval_results`` entries of a results file: each task's text and audio accuracy (%)."""
    notes = protocol_notes(results)
    return [
        EvalResultEntry(
            dataset_id=benchmark,
            task_id=m.eval_task_id,
            value=m.value,
            dataset_revision=_dataset_revision(results, m.task, benchmark),
            date=results.get("created"),
            source_url=source_url,
            source_name=SOURCE_NAME if source_url else None,
            notes=notes,
        )
        for m in hub_metrics(results)
        if m.eval_task_id
    ]


def eval_results_yaml(results: Mapping[str, Any], benchmark: str, *, source_url: str | None = None) -> str:
    """The text of ``.eval_results/s2sbench.yaml``."""
    entries = eval_result_entries(results, benchmark, source_url=source_url)
    return yaml.safe_dump(eval_result_entries_to_yaml(entries), sort_keys=False, allow_unicode=True)


def model_index_results(
    results: Mapping[str, Any], benchmark: str, *, source_url: str | None = None
) -> list[EvalResult]:
    """huggingface_hub `EvalResult`s (the card's ``model-index``): all of `hub_metrics`."""
    out = []
    for m in hub_metrics(results):
        metric_type = "accuracy" if m.setting else f"s2sbench_{m.key}"
        out.append(
            EvalResult(
                task_type=PIPELINE_TAG,
                task_name=f"S2SBench {m.task}",
                dataset_type=benchmark,
                dataset_name=f"S2SBench {m.task}",
                dataset_config=m.task,
                dataset_split="test",
                dataset_revision=_dataset_revision(results, m.task, benchmark),
                metric_type=metric_type,
                metric_name=f"{m.task} {m.name}",
                metric_value=m.value,
                metric_config=m.setting,
                source_name=SOURCE_NAME if source_url else None,
                source_url=source_url,
            )
        )
    return out


def card_section(results: Mapping[str, Any]) -> str:
    """The markdown table that `update_card` keeps between the S2SBench markers of the card body."""
    by_task: dict[str, dict[str, float]] = {}
    for m in hub_metrics(results):
        by_task.setdefault(m.task, {})[m.key] = m.value
    settings = results["config"]["settings"]
    gap = "-".join(gap_settings(results["config"].get("gap", DEFAULT_GAP)))
    keys = [*(f"{s}_accuracy" for s in settings), "gap", "relative_gap"]
    lines = [
        CARD_SECTION_START,
        "## S2SBench: text vs speech context",
        "",
        "| task | " + " | ".join(f"{s} acc. %" for s in settings) + f" | gap {gap} (pp) | relative gap % |",
        "|---|" + "---|" * len(keys),
    ]
    for task_id, values in by_task.items():
        cells = [values.get(k) for k in keys]
        lines.append(f"| {task_id} | " + " | ".join("-" if v is None else f"{v:.{DECIMALS}f}" for v in cells) + " |")
    notes = protocol_notes(results)
    lines += [
        "",
        f"Evaluated with s2sbench-hf {results.get('s2sbench_hf_version', '?')}"
        + (f" ({notes})" if notes else "")
        + ".",
        CARD_SECTION_END,
    ]
    return "\n".join(lines)


def update_card(
    readme: str | None,
    results: Mapping[str, Any],
    benchmark: str,
    *,
    model_name: str | None = None,
    source_url: str | None = None,
) -> str:
    """The model card with this run's results in its ``model-index`` and its S2SBench section.

    Other evaluation results in the card are kept; earlier results for the same
    benchmark dataset are replaced. The rest of the card is left as it was.
    """
    card = ModelCard(readme if readme and readme.strip() else "---\n{}\n---\n")
    data = card.data
    if not isinstance(data, ModelCardData):  # what ModelCard makes; its base class types it as CardData
        raise TypeError(f"the model card's metadata is a {type(data).__name__}, not a ModelCardData")
    data.model_name = data.model_name or model_name or display_name(results["model"])
    kept = [r for r in (data.eval_results or []) if r.dataset_type != benchmark]
    data.eval_results = kept + model_index_results(results, benchmark, source_url=source_url)
    section = card_section(results)
    text = card.text
    pattern = re.compile(re.escape(CARD_SECTION_START) + ".*?" + re.escape(CARD_SECTION_END), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        if not text.strip():
            text = f"# {data.model_name}\n"
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    card.text = text
    return card.content


def plan_card(
    results: Mapping[str, Any],
    repo_id: str,
    benchmark: str,
    *,
    readme: str | None = None,
    source_url: str | None = None,
    create_pr: bool = True,
    parent_commit: str | None = None,
) -> CommitPlan:
    """What `s2sbench card` writes: the updated README.md and ``.eval_results/s2sbench.yaml``.

    ``readme`` is the current card (None: the repo has none; a new one is made).
    ``parent_commit``: the commit the card was read at (`fetch_readme`); the pull
    request is opened from it (a direct commit is refused if the repo moved on), so
    the card it changes is the card that was read.
    """
    model_name = repo_id.split("/")[-1]
    new_readme = update_card(readme, results, benchmark, model_name=model_name, source_url=source_url)
    files = [
        PlannedFile(
            "README.md",
            new_readme.encode("utf-8"),
            "updates the existing card" if readme is not None else "creates the card",
        ),
        PlannedFile(EVAL_RESULTS_FILE, eval_results_yaml(results, benchmark, source_url=source_url).encode("utf-8")),
    ]
    return CommitPlan(
        repo_id=repo_id,
        repo_type="model",
        files=files,
        commit_message=f"Add S2SBench results ({', '.join(results['config']['tasks'])})",
        commit_description=(
            f"Text and audio accuracy and the text-to-speech degradation on {benchmark}, written by "
            f"s2sbench-hf {__version__} into the model-index and {EVAL_RESULTS_FILE}."
        ),
        create_pr=create_pr,
        parent_commit=parent_commit,
    )


@dataclass(frozen=True)
class CurrentCard:
    """A model repo's card as the Hub answered for it, or as a local file gave it."""

    text: str | None
    """The card (``README.md``); None only when the Hub answered that the repo has none."""
    commit: str | None = None
    """The repo commit the card was read at (None for a local file): the commit `plan_card` builds on."""


def fetch_readme(repo_id: str, *, token: str | None = None, api: HfApi | None = None) -> CurrentCard:
    """The model repo's ``README.md`` now, read at the repo's current commit.

    "No card" only when the Hub itself answered that the file does not exist at
    that commit. Anything else (offline mode, no network, a timeout, a missing or
    private repo) is a `HubError` of one line: a card that could not be read is
    never taken for a missing one, so an existing card is never replaced by a new
    one. (huggingface_hub's ``LocalEntryNotFoundError``, a network failure, is a
    subclass of its ``EntryNotFoundError``.) The download is pinned to the commit,
    so a stale copy in the local cache is never read as the current card.
    """
    api = api or HfApi()
    try:
        commit = api.model_info(repo_id, token=token).sha
        try:
            path = api.hf_hub_download(
                repo_id=repo_id, filename="README.md", repo_type="model", revision=commit, token=token
            )
        except LocalEntryNotFoundError:  # an EntryNotFoundError, but raised when the Hub could not be asked
            raise
        except EntryNotFoundError:  # the Hub's answer: no README.md at this commit
            return CurrentCard(None, commit)
        return CurrentCard(Path(path).read_text(encoding="utf-8"), commit)
    except Exception as err:  # offline, network, access, a card that is not text: one line, nothing is sent
        raise _card_read_error(repo_id, err) from err


def _card_read_error(repo_id: str, err: Exception) -> HubError:
    """The one line for a card that could not be read: why, that nothing was sent, and what to do."""
    if isinstance(err, (RepositoryNotFoundError, HFValidationError)):  # also gated: explain says what to do
        why = (explain(err, f"model repo {repo_id!r}") or str(err)).rstrip(".")
    elif any(isinstance(e, OfflineModeIsEnabled) for e in (err, err.__cause__, err.__context__)):
        why = f"cannot read the current card of {repo_id!r}: offline mode is on (HF_HUB_OFFLINE=1)"
    else:
        detail = (str(err).strip().splitlines() or [""])[0][:200]
        why = f"cannot read the current card of {repo_id!r}: the Hub did not answer ({type(err).__name__}: {detail})"
    return HubError(
        f"{why}; nothing was written or sent (a card is only created when the Hub answers that the repo has none). "
        "Check the network and the repo id (and unset HF_HUB_OFFLINE), or pass --from-card FILE to start from a "
        "local copy of the card."
    )


def read_card_file(path: str | os.PathLike) -> CurrentCard:
    """A local card (``--from-card FILE``) to start from instead of the repo's; a file that cannot be read as
    text is one line."""
    try:
        return CurrentCard(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        raise HubError(f"cannot read the card {str(path)!r} ({err}): give a README.md file in UTF-8.") from err


def default_benchmark(results: Mapping[str, Any]) -> str | None:
    """The Hub dataset id the run's tasks were read from, when they all name the same one."""
    sources = {(info or {}).get("source") for info in (results.get("datasets") or {}).values()}
    if len(sources) != 1:
        return None
    source = sources.pop()
    if not isinstance(source, str) or source == "samples" or is_local_path(source) or os.path.exists(source):
        return None
    return source if re.fullmatch(r"[\w.-]+/[\w.-]+", source) else None
