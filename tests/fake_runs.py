"""Real run folders in a second, for the validation, submission and leaderboard tests.

`make_run` goes through the real runner (`evaluate_model` + `save_run`) on the
bundled sample sets, with `SkilledScorer` in place of a model: a scorer that
prefers the answer with a set probability per setting, so different "models"
get different, known-ish accuracies and the files are exactly what
``s2sbench run`` writes.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from s2sbench_hf.data.sources import load_task
from s2sbench_hf.options import RunConfig
from s2sbench_hf.runner import evaluate_model, save_run
from s2sbench_hf.scoring.interface import ContinuationScore, Scorer

TASKS = ("sstorycloze", "scmmlu")


class SkilledScorer(Scorer):
    """Scores the answer best with probability ``skill[setting]`` (deterministic per item)."""

    name = "skilled-fake"
    settings = ("text", "audio")
    sampling_rate = 16000

    def __init__(
        self,
        model_id: str,
        revision: str,
        skill: dict[str, float],
        labels: dict,
        seed: int = 0,
        num_parameters: int | None = None,
    ):
        self.model_id, self.revision, self.skill, self.labels, self.seed = model_id, revision, skill, labels, seed
        self.num_parameters = num_parameters

    def score(self, requests):
        out = []
        for r in requests:
            rng = np.random.default_rng(zlib.crc32(f"{self.seed}|{r.task}|{r.item_id}|{r.setting}".encode()))
            k = len(r.continuations)
            n_tokens = [len(c) // 3 + 1 for c in r.continuations]
            mean = rng.uniform(5.0, 6.0, size=k)
            label = self.labels[(r.task, r.item_id)]
            others = [mean[j] for j in range(k) if j != label]
            mean[label] = min(others) - 0.1 if rng.random() < self.skill[r.setting] else max(others) + 0.1
            out.append([ContinuationScore(float(mean[j] * n_tokens[j]), n_tokens[j]) for j in range(k)])
        return out

    def describe(self):
        info = {"adapter": self.name, "model_id": self.model_id, "revision": self.revision, "dtype": "float32"}
        if self.num_parameters:
            info["num_parameters"] = self.num_parameters
        return info


def make_run(
    output: Path,
    model_id: str,
    *,
    text: float,
    audio: float,
    revision: str = "0123456789abcdef",
    seed: int = 0,
    tasks: Sequence[str] = TASKS,
    limit: int = 8,
    num_parameters: int | None = None,
    settings: Sequence[str] = ("text", "audio"),
) -> Path:
    """Write a run folder of a fake model with answer-preference ``text`` / ``audio``; returns the folder."""
    labels = {}
    for task in tasks:
        for item in load_task(task, None, limit=limit).items:
            labels[(task, item.id)] = item.label
    scorer = SkilledScorer(model_id, revision, {"text": text, "audio": audio}, labels, seed, num_parameters)
    config = RunConfig(
        model=model_id,
        tasks=list(tasks),
        settings=list(settings),
        dataset="samples",
        limit=limit,
        n_bootstrap=200,
        device="cpu",
    )
    run = evaluate_model(config, scorer=scorer, progress=False)
    save_run(run, output)
    return Path(output)
