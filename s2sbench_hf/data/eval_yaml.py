"""The benchmark's ``eval.yaml``: how the S2SBench dataset repository registers its tasks on the Hub.

Written by the dataset writer (`hub_folder.write_dataset_folder`) at the root of
the dataset repository; its task ids (``<task>_<setting>``) are the ``task_id``
values that `s2sbench card` writes into models' ``.eval_results`` entries.
Format (Hub docs, "Evaluation Results"): ``name``, ``description``,
``evaluation_framework`` and ``tasks: [{id, config, split}]``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from s2sbench_hf.tasks import DEFAULT_SETTINGS, SETTINGS, TASKS, UTTERANCE_SETTINGS

EVALUATION_FRAMEWORK = "s2sbench-hf"
"""``evaluation_framework`` of `eval_yaml`. The Hub validates it against the list in
huggingface.js (packages/tasks/src/eval.ts, ``EVALUATION_FRAMEWORKS``); it must be
added there (a PR to huggingface.js) before the Hub accepts the benchmark."""

DEFAULT_DESCRIPTION = (
    "S2SBench measures how much a speech LLM loses when it hears the context instead of reading it. "
    "The model scores k text continuations (a plausible and an implausible story ending, or a question's "
    "answer and distractors) once after the context as text and once after the same context as speech; "
    "pairwise accuracy is how often the answer has the lower perplexity (chance 50%). "
    "Tasks: <task>_text and <task>_audio give the accuracy (%) of each task with text and with spoken context; "
    "the degradation is text minus audio. A dataset with the continuations' speech adds <task>_text_to_speech "
    "and <task>_speech_to_speech (spoken continuations, for models of speech tokens)."
)


def eval_yaml(
    tasks: Sequence[str] | None = None,
    *,
    settings: Sequence[str] = DEFAULT_SETTINGS,
    name: str = "S2SBench",
    description: str = DEFAULT_DESCRIPTION,
    evaluation_framework: str = EVALUATION_FRAMEWORK,
    split: str = "test",
    utterance_tasks: Sequence[str] = (),
) -> str:
    """The ``eval.yaml`` of the S2SBench dataset repo (Hub "Benchmark" registration).

    One Hub task (sub-leaderboard) per S2SBench task and setting of ``settings``:
    ``<task>_text`` and ``<task>_audio`` (and ``<task>_text_to_speech``,
    ``<task>_speech_to_speech`` for a dataset with the continuations' speech),
    each on the dataset config ``<task>`` and ``split``; a task of ``utterance_tasks`` (a speech-LM set
    of utterance pairs, scored in one setting) has ``<task>_utterance`` alone.
    These ids are the ``task_id`` values `s2sbench card` writes into models'
    ``.eval_results``. The dataset builder writes this file beside the card.
    Task ids need not be registered ones (a set built from a user's own source
    gets the same document for its configs).
    """
    tasks = list(tasks or TASKS)
    unknown = [s for s in settings if s not in SETTINGS]
    if unknown:
        raise ValueError(f"eval_yaml: unknown settings {unknown}; known: {', '.join(SETTINGS)}")
    for task_id in tasks:
        if not isinstance(task_id, str) or not task_id.strip():
            raise ValueError(f"eval_yaml: a task id must be a non-empty string, got {task_id!r}")
    body = {
        "name": name,
        "description": description,
        "evaluation_framework": evaluation_framework,
        "tasks": [
            {"id": eval_task_id(task_id, setting), "config": task_id, "split": split}
            for task_id in tasks
            for setting in (UTTERANCE_SETTINGS if task_id in utterance_tasks else settings)
        ],
    }
    header = (
        "# S2SBench benchmark registration (https://huggingface.co/docs/hub/eval-results).\n"
        "# Each task id <task>_<setting> is one leaderboard of pairwise accuracy (%), higher is better;\n"
        "# models publish their numbers with `s2sbench card` (.eval_results/s2sbench.yaml).\n"
    )
    return header + yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=100)


def write_eval_yaml(folder: str | os.PathLike, tasks: Sequence[str] | None = None, **kwargs: Any) -> Path:
    """Write `eval_yaml` as ``<folder>/eval.yaml``."""
    path = Path(folder) / "eval.yaml"
    path.write_text(eval_yaml(tasks, **kwargs), encoding="utf-8")
    return path


def eval_task_id(task_id: str, setting: str) -> str:
    """``eval.yaml`` / ``.eval_results`` task id of a task's accuracy in one setting: ``sstorycloze_audio``."""
    return f"{task_id}_{setting}"
