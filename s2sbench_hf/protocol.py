"""The S2SBench measurement: scores, accuracies, degradation and their uncertainty.

Everything here is the arithmetic of docs/protocol.md ("The measurement":
scores, accuracies, the gap and how sure it is) on plain numpy arrays, with no model,
no I/O and no torch, so that it can be checked line by line against the spec
and against loop re-implementations (``tests/test_protocol.py``). The engine
composes these functions.

Conventions: arrays of per-continuation numbers have shape ``(n_items, k)``
with the k continuations in choice order; ``labels`` has shape ``(n_items,)``
and holds the answer's index. Scores are "lower is better" (negative
log-likelihoods). Accuracies are fractions in [0, 1]; the report converts to
percentage points.
"""

from __future__ import annotations

from typing import Any

import numpy as np

SCORING_RULES = ("mean", "sum", "bytes")
"""What is compared: mean NLL per token (the paper's), summed NLL, NLL per UTF-8 byte."""

TIE_POLICIES = ("reference", "half", "wrong")
"""``reference``: the task's own tie credit (as its own scripts: S2SBench's, slamkit's, ZeroSpeech's); ``half``: 0.5;
``wrong``: 0, a tie never counts (S2SBench's rule for its stories, on any task)."""

_BOOTSTRAP_CHUNK_ELEMENTS = 2_000_000
"""Resampled index entries held at once (16 MB of int64), whatever the item count."""


# --------------------------------------------------------------------- checks


def _check_scores_labels(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``scores`` as float (n_items, k>=2) and ``labels`` as int (n_items,), or raise ValueError."""
    scores = np.asarray(scores, dtype=float)
    labels = np.asarray(labels)
    if scores.ndim != 2 or scores.shape[1] < 2:
        raise ValueError(f"scores must have shape (n_items, k) with k >= 2, got {scores.shape}")
    if labels.shape != (scores.shape[0],):
        raise ValueError(f"labels must have shape ({scores.shape[0]},), got {labels.shape}")
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integers (answer indices), got dtype {labels.dtype}")
    labels = labels.astype(np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= scores.shape[1]):
        raise ValueError(f"labels must lie in 0..{scores.shape[1] - 1}")
    if np.isnan(scores).any():
        raise ValueError("scores contain NaN; a comparison with NaN has no winner")
    return scores, labels


def _answer_and_distractors(values: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split (n_items, k) into the answer's value (n_items,) and the distractors' (n_items, k-1), in choice order."""
    n, k = values.shape
    rows = np.arange(n)
    answer = values[rows, labels]
    not_answer = np.arange(k)[None, :] != labels[:, None]
    return answer, values[not_answer].reshape(n, k - 1)


# --------------------------------------------------------------------- scores


def choice_scores(nll_sum: np.ndarray, n_tokens: np.ndarray, n_bytes: np.ndarray, rule: str = "mean") -> np.ndarray:
    """The number compared between continuations under scoring ``rule`` (lower wins).

    ``mean``: nll_sum / n_tokens (the paper's "loss"); ``sum``: nll_sum
    (lm-evaluation-harness ``acc``); ``bytes``: nll_sum / UTF-8 bytes
    (lm-evaluation-harness ``acc_bytes``). All inputs have shape (n_items, k).
    """
    if rule not in SCORING_RULES:
        raise ValueError(f"unknown scoring rule {rule!r}; known rules: {', '.join(SCORING_RULES)}")
    nll_sum = np.asarray(nll_sum, dtype=float)
    n_tokens = np.asarray(n_tokens)
    n_bytes = np.asarray(n_bytes)
    if n_tokens.shape != nll_sum.shape or n_bytes.shape != nll_sum.shape:
        raise ValueError(
            f"nll_sum, n_tokens and n_bytes must have the same shape, "
            f"got {nll_sum.shape}, {n_tokens.shape}, {n_bytes.shape}"
        )
    if rule == "sum":
        return nll_sum.copy()
    denominator, name = (n_tokens, "n_tokens") if rule == "mean" else (n_bytes, "n_bytes")
    if (denominator <= 0).any():
        raise ValueError(f"scoring rule {rule!r} needs every {name} > 0 (an empty continuation cannot be scored)")
    return nll_sum / denominator


def tie_credit(policy: str, reference_tie_credit: float) -> float:
    """Credit of an exact tie between answer and distractor under ``policy``.

    ``reference`` reproduces each task's own scripts (the task's
    ``reference_tie_credit``: 0 for the S2SBench story tasks, 1 for sCMMLU, 0.5
    for the speech-LM sets); ``half`` gives 0.5 and ``wrong`` 0, the same for
    every task.
    """
    if policy == "reference":
        return float(reference_tie_credit)
    if policy == "half":
        return 0.5
    if policy == "wrong":
        return 0.0
    raise ValueError(f"unknown tie policy {policy!r}; known policies: {', '.join(TIE_POLICIES)}")


# ------------------------------------------------------------------ accuracies


def pairwise_outcomes(scores: np.ndarray, labels: np.ndarray, tie: float) -> np.ndarray:
    """Credit of every (answer, distractor) comparison, shape (n_items, k-1).

    Column j is the item's j-th distractor in choice order: 1.0 when the answer
    scores lower, ``tie`` when equal, 0.0 otherwise. These are the units of the
    pairwise accuracy; their row means are the per-item credits that the
    intervals and the sign-flip test resample.
    """
    scores, labels = _check_scores_labels(scores, labels)
    answer, distractors = _answer_and_distractors(scores, labels)
    answer = answer[:, None]
    return np.where(answer < distractors, 1.0, np.where(answer == distractors, float(tie), 0.0))


def pairwise_accuracy(scores: np.ndarray, labels: np.ndarray, tie: float) -> float:
    """The paper's headline number: the mean credit over all comparisons (chance 1/2).

    Every item has the same k, so this is also the mean of the per-item means.
    """
    outcomes = pairwise_outcomes(scores, labels, tie)
    if outcomes.size == 0:
        raise ValueError("no items to score")
    return float(outcomes.mean())


def argmin_outcomes(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per-item credit, shape (n_items,): 1/#tied when the answer has the lowest score, else 0."""
    scores, labels = _check_scores_labels(scores, labels)
    lowest = scores.min(axis=1, keepdims=True)
    at_lowest = scores == lowest
    answer_at_lowest = at_lowest[np.arange(scores.shape[0]), labels]
    return np.where(answer_at_lowest, 1.0 / at_lowest.sum(axis=1), 0.0)


def argmin_accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    """Share of items whose answer has the lowest score, ties sharing credit (chance 1/k)."""
    outcomes = argmin_outcomes(scores, labels)
    if outcomes.size == 0:
        raise ValueError("no items to score")
    return float(outcomes.mean())


# ----------------------------------------------------------------- degradation


def gap(acc_text: float, acc_audio: float) -> float:
    """Degradation from text to speech context: acc_text - acc_audio, in the inputs' units."""
    return float(acc_text) - float(acc_audio)


def relative_gap(acc_text: float, acc_audio: float, chance: float) -> float | None:
    """Share of the above-chance text ability lost with speech context.

    gap / (acc_text - chance); ``None`` when acc_text <= chance, where there is
    no above-chance ability to lose and the ratio means nothing.
    """
    if acc_text <= chance:
        return None
    return gap(acc_text, acc_audio) / (float(acc_text) - float(chance))


# ---------------------------------------------------------------- uncertainty


def _bootstrap_means(columns: list[np.ndarray], n_resamples: int, seed: int) -> list[np.ndarray]:
    """Means of each column over the same ``n_resamples`` resamples of item indices.

    Indices are drawn with replacement from ``default_rng(seed)``, in row
    chunks so that memory stays bounded; the draw depends only on the seed, the
    item count and ``n_resamples``, so a column gets the same resampled means
    whether it is bootstrapped alone or paired with another.
    """
    n_items = columns[0].shape[0]
    if n_items == 0:
        raise ValueError("cannot bootstrap zero items")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    rng = np.random.default_rng(seed)
    means = [np.empty(n_resamples) for _ in columns]
    rows_per_chunk = max(1, _BOOTSTRAP_CHUNK_ELEMENTS // n_items)
    for start in range(0, n_resamples, rows_per_chunk):
        stop = min(n_resamples, start + rows_per_chunk)
        index = rng.integers(0, n_items, size=(stop - start, n_items))
        for column, out in zip(columns, means, strict=True):
            out[start:stop] = column[index].mean(axis=1)
    return means


def _percentile_interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    """Central percentile interval covering ``confidence`` of ``values``."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(values, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def _as_item_scores(item_scores: np.ndarray, name: str) -> np.ndarray:
    item_scores = np.asarray(item_scores, dtype=float)
    if item_scores.ndim != 1:
        raise ValueError(f"{name} must be per-item credits of shape (n_items,), got {item_scores.shape}")
    return item_scores


def bootstrap_interval(
    item_scores: np.ndarray, n_resamples: int = 1000, seed: int = 0, confidence: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of per-item credits (items resampled).

    Uses the same resampling as `paired_bootstrap`, so for the same seed it
    equals ``paired_bootstrap(item_scores, other)["text"]``.
    """
    item_scores = _as_item_scores(item_scores, "item_scores")
    (means,) = _bootstrap_means([item_scores], n_resamples, seed)
    return _percentile_interval(means, confidence)


def paired_bootstrap(
    text_item_scores: np.ndarray,
    audio_item_scores: np.ndarray,
    n_resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, tuple[float, float]]:
    """Percentile intervals of both accuracies and of their gap, from one paired bootstrap.

    Inputs are per-item credits (e.g. row means of `pairwise_outcomes`) of the
    two settings on the same items. Each resample draws item indices once and
    uses them for both settings, so the item-to-item variation the settings
    share cancels in the gap (docs/protocol.md, "Intervals").
    """
    text = _as_item_scores(text_item_scores, "text_item_scores")
    audio = _as_item_scores(audio_item_scores, "audio_item_scores")
    if text.shape != audio.shape:
        raise ValueError(f"paired settings must cover the same items, got {text.shape} and {audio.shape}")
    text_means, audio_means = _bootstrap_means([text, audio], n_resamples, seed)
    return {
        "text": _percentile_interval(text_means, confidence),
        "audio": _percentile_interval(audio_means, confidence),
        "gap": _percentile_interval(text_means - audio_means, confidence),
    }


def _binomial_half_lower_tail(n: int, m: int) -> int:
    """sum_{i=0}^{m} C(n, i), exactly, by the recurrence C(n, i+1) = C(n, i) (n-i) / (i+1)."""
    term, total = 1, 1
    for i in range(m):
        term = term * (n - i) // (i + 1)
        total += term
    return total


PERMUTATION_EXACT_MAX = 20
"""Up to this many discordant items the sign-flip test enumerates all 2^n sign patterns exactly."""

PERMUTATION_RESAMPLES = 10_000
"""Random sign patterns of the Monte Carlo sign-flip test (more discordant items than `PERMUTATION_EXACT_MAX`,
of unequal sizes): the p-value's resolution is 1/10001, its standard error at p = 0.05 about 0.002."""

_PERMUTATION_CHUNK_ELEMENTS = 2_000_000
"""Sign draws held at once by the Monte Carlo test (2 MB of int8), whatever the item count."""


def paired_sign_flip_test(
    item_scores_a: np.ndarray,
    item_scores_b: np.ndarray,
    *,
    n_resamples: int = PERMUTATION_RESAMPLES,
    seed: int = 0,
    exact_max: int = PERMUTATION_EXACT_MAX,
) -> dict[str, Any]:
    """Two-sided paired permutation (sign-flip) test of "the mean item credit is the same in a and b".

    The unit is the item: d_i = a_i - b_i is item i's credit difference (a
    4-way item's 3 comparisons stay together, half credit is just a value).
    Under the null hypothesis each d_i is as likely to have the opposite sign,
    so the p-value is the share of the 2^n sign patterns of the n non-zero d_i
    whose |sum| reaches the observed |sum d_i| (items with d_i = 0 carry no
    information). It is computed, by ``method``:

    * ``mcnemar``: every non-zero |d_i| is the same (a 2-way item under the
      reference tie rule: one comparison, credit 0 or 1). The sum is then
      binomial and p = min(1, 2 P(X <= min(a_better, b_better))), X ~
      Binomial(n, 1/2), exactly (integer arithmetic): the exact McNemar test
      over items, for any n.
    * ``sign_flip_exact``: otherwise, with n <= ``exact_max``: all 2^n patterns.
    * ``sign_flip_monte_carlo``: otherwise: ``n_resamples`` random patterns from
      ``default_rng(seed)``, p = (1 + #{|sum| >= observed}) / (1 + n_resamples)
      (the observed pattern counts as one draw, so p is never 0 and the test
      keeps its level).

    Sums are compared with a relative tolerance of 1e-9 of sum |d_i|, so that
    float rounding never decides whether a pattern ties the observed one.
    Returns ``method``, ``p_value``, ``n_discordant`` (n), ``a_better`` and
    ``b_better`` (items with d_i > 0 and < 0) and ``n_resamples`` (None unless
    Monte Carlo).
    """
    a = _as_item_scores(item_scores_a, "item_scores_a")
    b = _as_item_scores(item_scores_b, "item_scores_b")
    if a.shape != b.shape:
        raise ValueError(f"paired settings must cover the same items, got {a.shape} and {b.shape}")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    d = a - b
    if not np.isfinite(d).all():
        raise ValueError("item scores must be finite")
    d = d[d != 0]
    a_better, b_better = int(np.count_nonzero(d > 0)), int(np.count_nonzero(d < 0))
    out: dict[str, Any] = {
        "method": "mcnemar",
        "p_value": 1.0,
        "n_discordant": int(d.size),
        "a_better": a_better,
        "b_better": b_better,
        "n_resamples": None,
    }
    if d.size == 0:
        return out
    size = np.abs(d)
    if np.all(np.abs(size - size[0]) <= 1e-9 * size[0]):
        out["p_value"] = _binomial_two_sided(a_better, b_better)
        return out
    observed = abs(float(d.sum()))
    threshold = observed - 1e-9 * float(size.sum())
    if d.size <= exact_max:
        sums = np.zeros(1)
        for value in size:  # every sign pattern: the sums double with each item
            sums = np.concatenate([sums + value, sums - value])
        out.update(method="sign_flip_exact", p_value=float(np.count_nonzero(np.abs(sums) >= threshold) / sums.size))
        return out
    rng = np.random.default_rng(seed)
    total = float(size.sum())
    reached = 0
    rows_per_chunk = max(1, _PERMUTATION_CHUNK_ELEMENTS // d.size)
    for start in range(0, n_resamples, rows_per_chunk):
        rows = min(n_resamples, start + rows_per_chunk) - start
        flipped = rng.integers(0, 2, size=(rows, d.size), dtype=np.int8)
        sums = total - 2.0 * (flipped @ size)  # the items whose sign flips count negative
        reached += int(np.count_nonzero(np.abs(sums) >= threshold))
    out.update(method="sign_flip_monte_carlo", p_value=(1 + reached) / (1 + n_resamples), n_resamples=int(n_resamples))
    return out


def _binomial_two_sided(b: int, c: int) -> float:
    """min(1, 2 P(X <= min(b, c))) for X ~ Binomial(b + c, 1/2), exactly (the exact McNemar p-value).

    The tail is summed with exact integers over 2^(b+c), so it neither overflows
    nor loses precision for large counts; a far tail rounds to 0.0.
    """
    n = b + c
    tail = _binomial_half_lower_tail(n, min(b, c))
    # 2 * tail / 2**n as a correctly rounded float (int / int is exact-rounded in Python).
    return float(min(1.0, (2 * tail) / (1 << n)))


# ------------------------------------------------------------------ loss means


def mean_losses(mean_nll: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Mean ``mean_nll`` of answers and of distractors, and distractor - answer.

    The paper plots these against training steps: a positive difference means
    the model finds the answers more likely than the distractors.
    """
    mean_nll, labels = _check_scores_labels(mean_nll, labels)
    if mean_nll.shape[0] == 0:
        raise ValueError("no items to average")
    answer, distractors = _answer_and_distractors(mean_nll, labels)
    answer_mean = float(answer.mean())
    distractor_mean = float(distractors.mean())
    return {"answer": answer_mean, "distractor": distractor_mean, "difference": distractor_mean - answer_mean}
