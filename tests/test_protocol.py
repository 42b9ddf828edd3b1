"""Tests of `s2sbench_hf.protocol` (PROTOCOL.md, "Score", "Accuracy", "Degradation").

Each function is compared with a plain-Python loop written from the spec
(no numpy vectorization in the references), on random inputs with frequent
ties, and on small hand-made cases whose expected numbers are written by hand.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from s2sbench_hf import protocol as P
from s2sbench_hf.tasks import TASKS

SEEDS = [0, 1, 2, 3]
KS = [2, 4]


# ----------------------------------------------------------- loop references


def ref_choice_scores(nll_sum, n_tokens, n_bytes, rule):
    out = []
    for i in range(len(nll_sum)):
        row = []
        for j in range(len(nll_sum[i])):
            if rule == "mean":
                row.append(nll_sum[i][j] / n_tokens[i][j])
            elif rule == "sum":
                row.append(nll_sum[i][j])
            else:
                row.append(nll_sum[i][j] / n_bytes[i][j])
        out.append(row)
    return out


def ref_pairwise_outcomes(scores, labels, tie):
    out = []
    for i in range(len(scores)):
        a = scores[i][labels[i]]
        row = []
        for j in range(len(scores[i])):
            if j == labels[i]:
                continue
            d = scores[i][j]
            row.append(1.0 if a < d else (tie if a == d else 0.0))
        out.append(row)
    return out


def ref_pairwise_accuracy(scores, labels, tie):
    total, count = 0.0, 0
    for row in ref_pairwise_outcomes(scores, labels, tie):
        for x in row:
            total += x
            count += 1
    return total / count


def ref_argmin_outcomes(scores, labels):
    out = []
    for i in range(len(scores)):
        lowest = min(scores[i])
        tied = [j for j in range(len(scores[i])) if scores[i][j] == lowest]
        out.append(1.0 / len(tied) if labels[i] in tied else 0.0)
    return out


def ref_mean_losses(mean_nll, labels):
    answers, distractors = [], []
    for i in range(len(mean_nll)):
        for j in range(len(mean_nll[i])):
            (answers if j == labels[i] else distractors).append(mean_nll[i][j])
    a = sum(answers) / len(answers)
    d = sum(distractors) / len(distractors)
    return {"answer": a, "distractor": d, "difference": d - a}


def ref_mcnemar(xs, ys):
    b = sum(1 for x, y in zip(xs, ys) if x > y)
    c = sum(1 for x, y in zip(xs, ys) if y > x)
    n = b + c
    if n == 0:
        return b, c, 1.0
    tail = Fraction(0)
    for i in range(min(b, c) + 1):
        tail += Fraction(math.comb(n, i), 2**n)
    return b, c, float(min(Fraction(1), 2 * tail))


def random_case(seed, k, n_items=60, integer=False):
    rng = np.random.default_rng(seed)
    if integer:
        scores = rng.integers(0, 3, size=(n_items, k)).astype(float)  # many ties
    else:
        scores = rng.normal(size=(n_items, k))
    labels = rng.integers(0, k, size=n_items)
    return scores, labels


CASES = [(seed, k, integer) for seed in SEEDS for k in KS for integer in (False, True)]


# ------------------------------------------------------------ choice_scores


@pytest.mark.parametrize("rule", P.SCORING_RULES)
@pytest.mark.parametrize("seed", SEEDS)
def test_choice_scores_matches_loop(rule, seed):
    rng = np.random.default_rng(seed)
    nll_sum = rng.uniform(0, 50, size=(20, 4))
    n_tokens = rng.integers(1, 20, size=(20, 4))
    n_bytes = rng.integers(1, 80, size=(20, 4))
    got = P.choice_scores(nll_sum, n_tokens, n_bytes, rule)
    want = ref_choice_scores(nll_sum.tolist(), n_tokens.tolist(), n_bytes.tolist(), rule)
    assert got.shape == (20, 4)
    np.testing.assert_allclose(got, want, rtol=1e-15)


def test_choice_scores_default_is_mean_and_hand_case():
    nll_sum = np.array([[6.0, 4.0]])
    n_tokens = np.array([[3, 1]])
    n_bytes = np.array([[12, 2]])
    np.testing.assert_array_equal(P.choice_scores(nll_sum, n_tokens, n_bytes), [[2.0, 4.0]])
    np.testing.assert_array_equal(P.choice_scores(nll_sum, n_tokens, n_bytes, "sum"), [[6.0, 4.0]])
    np.testing.assert_array_equal(P.choice_scores(nll_sum, n_tokens, n_bytes, "bytes"), [[0.5, 2.0]])


def test_choice_scores_errors():
    ones = np.ones((2, 2))
    with pytest.raises(ValueError, match="mean, sum, bytes"):
        P.choice_scores(ones, ones, ones, "median")
    with pytest.raises(ValueError, match="n_tokens"):
        P.choice_scores(ones, np.zeros((2, 2)), ones, "mean")
    with pytest.raises(ValueError, match="n_bytes"):
        P.choice_scores(ones, ones, np.zeros((2, 2)), "bytes")
    with pytest.raises(ValueError, match="same shape"):
        P.choice_scores(ones, np.ones((2, 3)), ones)


# ---------------------------------------------------------------- tie_credit


def test_tie_credit():
    assert P.tie_credit("reference", TASKS["sstorycloze"].reference_tie_credit) == 0.0
    assert P.tie_credit("reference", TASKS["zh_sstorycloze"].reference_tie_credit) == 0.0
    assert P.tie_credit("reference", TASKS["scmmlu"].reference_tie_credit) == 1.0
    assert P.tie_credit("half", 0.0) == 0.5
    assert P.tie_credit("half", 1.0) == 0.5
    with pytest.raises(ValueError, match="reference, half"):
        P.tie_credit("strict", 0.0)


# --------------------------------------------------------- pairwise accuracy


@pytest.mark.parametrize("seed,k,integer", CASES)
@pytest.mark.parametrize("tie", [0.0, 0.5, 1.0])
def test_pairwise_matches_loop(seed, k, integer, tie):
    scores, labels = random_case(seed, k, integer=integer)
    got = P.pairwise_outcomes(scores, labels, tie)
    want = ref_pairwise_outcomes(scores.tolist(), labels.tolist(), tie)
    assert got.shape == (len(labels), k - 1)
    np.testing.assert_array_equal(got, want)
    acc = P.pairwise_accuracy(scores, labels, tie)
    assert acc == pytest.approx(ref_pairwise_accuracy(scores.tolist(), labels.tolist(), tie), abs=1e-12)
    assert acc == pytest.approx(float(np.mean([np.mean(r) for r in want])), abs=1e-12)


def test_pairwise_ties_hand_made():
    # Story task (k=2): item 0 answer wins, item 1 ties, item 2 loses.
    scores = np.array([[1.0, 2.0], [3.0, 3.0], [5.0, 4.0]])
    labels = np.array([0, 1, 0])
    story_tie = P.tie_credit("reference", TASKS["sstorycloze"].reference_tie_credit)
    assert P.pairwise_outcomes(scores, labels, story_tie).tolist() == [[1.0], [0.0], [0.0]]
    assert P.pairwise_accuracy(scores, labels, story_tie) == pytest.approx(1 / 3)
    assert P.pairwise_accuracy(scores, labels, P.tie_credit("half", 0.0)) == pytest.approx(1.5 / 3)

    # sCMMLU (k=4), answer C (index 2); distractors A, B, D in choice order.
    scores = np.array([[2.0, 1.0, 1.0, 0.5]])
    labels = np.array([2])
    scmmlu_tie = P.tie_credit("reference", TASKS["scmmlu"].reference_tie_credit)
    assert P.pairwise_outcomes(scores, labels, scmmlu_tie).tolist() == [[1.0, 1.0, 0.0]]
    assert P.pairwise_outcomes(scores, labels, 0.5).tolist() == [[1.0, 0.5, 0.0]]
    assert P.pairwise_accuracy(scores, labels, scmmlu_tie) == pytest.approx(2 / 3)
    assert P.pairwise_accuracy(scores, labels, 0.5) == pytest.approx(1.5 / 3)


def test_pairwise_input_errors():
    with pytest.raises(ValueError):
        P.pairwise_outcomes(np.zeros((2, 2)), np.array([0, 2]), 0.0)  # label out of range
    with pytest.raises(ValueError):
        P.pairwise_outcomes(np.zeros((2, 2)), np.array([0]), 0.0)  # wrong label shape
    with pytest.raises(ValueError):
        P.pairwise_outcomes(np.zeros((2, 1)), np.array([0, 0]), 0.0)  # k < 2
    with pytest.raises(ValueError, match="NaN"):
        P.pairwise_outcomes(np.array([[np.nan, 1.0]]), np.array([0]), 0.0)


# ----------------------------------------------------------- argmin accuracy


@pytest.mark.parametrize("seed,k,integer", CASES)
def test_argmin_matches_loop(seed, k, integer):
    scores, labels = random_case(seed, k, integer=integer)
    got = P.argmin_outcomes(scores, labels)
    want = ref_argmin_outcomes(scores.tolist(), labels.tolist())
    assert got.shape == (len(labels),)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-15)
    assert P.argmin_accuracy(scores, labels) == pytest.approx(sum(want) / len(want), abs=1e-12)


def test_argmin_ties_hand_made():
    scores = np.array(
        [
            [1.0, 1.0, 1.0, 2.0],  # answer in a three-way tie at the minimum: 1/3
            [1.0, 1.0, 3.0, 2.0],  # answer tied with one other at the minimum: 1/2
            [0.0, 1.0, 1.0, 2.0],  # answer not at the minimum: 0
            [5.0, 4.0, 3.0, 2.0],  # answer alone at the minimum: 1
        ]
    )
    labels = np.array([2, 0, 1, 3])
    np.testing.assert_allclose(P.argmin_outcomes(scores, labels), [1 / 3, 1 / 2, 0.0, 1.0])
    assert P.argmin_accuracy(scores, labels) == pytest.approx((1 / 3 + 1 / 2 + 1) / 4)


# --------------------------------------------------------------- degradation


def test_gap_and_relative_gap():
    assert P.gap(0.8, 0.6) == pytest.approx(0.2)
    assert P.gap(80.0, 60.0) == pytest.approx(20.0)
    assert P.gap(0.6, 0.7) == pytest.approx(-0.1)
    assert P.relative_gap(0.8, 0.6, 0.5) == pytest.approx(0.2 / 0.3)
    assert P.relative_gap(0.8, 0.5, 0.5) == pytest.approx(1.0)
    assert P.relative_gap(0.5, 0.4, 0.5) is None
    assert P.relative_gap(0.45, 0.4, 0.5) is None


# ---------------------------------------------------------------- bootstrap


def per_item_credits(seed, n_items, p=0.7):
    rng = np.random.default_rng(seed)
    return (rng.random(n_items) < p).astype(float)


def test_bootstrap_deterministic_and_contains_estimate():
    x = per_item_credits(0, 500)
    a = P.bootstrap_interval(x, n_resamples=500, seed=3)
    b = P.bootstrap_interval(x, n_resamples=500, seed=3)
    assert a == b
    lo, hi = a
    assert lo <= x.mean() <= hi
    assert 0.0 < hi - lo < 0.2
    assert P.bootstrap_interval(x, n_resamples=500, seed=4) != a


def test_paired_bootstrap_deterministic_and_consistent():
    text = per_item_credits(1, 400, 0.8)
    audio = per_item_credits(2, 400, 0.6)
    r1 = P.paired_bootstrap(text, audio, n_resamples=400, seed=7)
    r2 = P.paired_bootstrap(text, audio, n_resamples=400, seed=7)
    assert r1 == r2
    assert set(r1) == {"text", "audio", "gap"}
    assert r1["text"] == P.bootstrap_interval(text, n_resamples=400, seed=7)
    assert r1["audio"] == P.bootstrap_interval(audio, n_resamples=400, seed=7)
    for key, estimate in (("text", text.mean()), ("audio", audio.mean()), ("gap", text.mean() - audio.mean())):
        lo, hi = r1[key]
        assert lo <= estimate <= hi


def test_bootstrap_matches_loop_percentiles():
    # Same index draws as the implementation, then a plain loop over resamples.
    x = per_item_credits(5, 30)
    y = per_item_credits(6, 30)
    n_resamples, seed = 200, 11
    index = np.random.default_rng(seed).integers(0, 30, size=(n_resamples, 30))
    xs, ys = x.tolist(), y.tolist()
    tm, am, gm = [], [], []
    for row in index.tolist():
        t = sum(xs[i] for i in row) / len(row)
        a = sum(ys[i] for i in row) / len(row)
        tm.append(t)
        am.append(a)
        gm.append(t - a)
    got = P.paired_bootstrap(x, y, n_resamples=n_resamples, seed=seed, confidence=0.9)
    for key, values in (("text", tm), ("audio", am), ("gap", gm)):
        np.testing.assert_allclose(got[key], np.quantile(values, [0.05, 0.95]), atol=1e-12)


def test_bootstrap_chunking_does_not_change_result(monkeypatch):
    x = per_item_credits(8, 50)
    y = per_item_credits(9, 50)
    whole = P.paired_bootstrap(x, y, n_resamples=300, seed=2)
    monkeypatch.setattr(P, "_BOOTSTRAP_CHUNK_ELEMENTS", 50 * 7)  # 7 resamples per chunk
    chunked = P.paired_bootstrap(x, y, n_resamples=300, seed=2)
    for key in whole:
        np.testing.assert_allclose(chunked[key], whole[key], atol=1e-12)


def test_paired_bootstrap_pairing_narrows_gap_interval():
    n = 600
    text = per_item_credits(10, n, 0.75)
    rng = np.random.default_rng(12)
    # Correlated: audio equals text except on a few flipped items.
    flips = rng.random(n) < 0.1
    audio_correlated = np.where(flips, 1.0 - text, text)
    # Independent: same marginal rate, unrelated to text.
    audio_independent = rng.permutation(audio_correlated)
    width = lambda r: r["gap"][1] - r["gap"][0]  # noqa: E731
    corr = P.paired_bootstrap(text, audio_correlated, n_resamples=500, seed=0)
    indep = P.paired_bootstrap(text, audio_independent, n_resamples=500, seed=0)
    assert width(corr) < 0.6 * width(indep)


def test_bootstrap_large_is_fast_enough():
    x = per_item_credits(13, 5000)
    y = per_item_credits(14, 5000)
    r = P.paired_bootstrap(x, y, n_resamples=1000, seed=0)
    assert r["text"][0] < x.mean() < r["text"][1]


def test_bootstrap_errors():
    with pytest.raises(ValueError):
        P.bootstrap_interval(np.array([]))
    with pytest.raises(ValueError):
        P.paired_bootstrap(np.ones(3), np.ones(4))
    with pytest.raises(ValueError):
        P.bootstrap_interval(np.ones(3), confidence=1.5)
    with pytest.raises(ValueError):
        P.bootstrap_interval(np.ones((3, 2)))


# ------------------------------------------------------------------ McNemar


def outcomes_with(b, c):
    """Paired outcomes with exactly b (a > b) and c (b > a) discordant comparisons, plus concordant ones."""
    concordant = [1.0, 0.0, 0.5]
    a = [1.0] * b + [0.0] * c + concordant
    bb = [0.0] * b + [1.0] * c + concordant
    return np.array(a), np.array(bb)


def test_mcnemar_hand_made():
    r = P.mcnemar_exact(*outcomes_with(5, 0))
    assert (r["b"], r["c"]) == (5, 0)
    assert r["p_value"] == pytest.approx(0.0625)  # 2 * (1/2)^5
    r = P.mcnemar_exact(*outcomes_with(0, 5))
    assert (r["b"], r["c"], r["p_value"]) == (0, 5, pytest.approx(0.0625))
    r = P.mcnemar_exact(*outcomes_with(4, 4))
    assert r["p_value"] == 1.0
    r = P.mcnemar_exact(*outcomes_with(3, 1))
    assert r["p_value"] == pytest.approx(2 * (1 + 4) / 16)  # 0.625
    r = P.mcnemar_exact(np.array([1.0, 0.0, 0.5]), np.array([1.0, 0.0, 0.5]))
    assert r == {"b": 0, "c": 0, "p_value": 1.0}
    # Fractional credits: half vs full counts as a discordant comparison.
    r = P.mcnemar_exact(np.array([[0.5, 1.0]]), np.array([[1.0, 1.0]]))
    assert (r["b"], r["c"]) == (0, 1)
    assert isinstance(r["b"], int) and isinstance(r["c"], int) and isinstance(r["p_value"], float)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("tie", [0.0, 0.5])
def test_mcnemar_matches_loop(seed, tie):
    scores_text, labels = random_case(seed, 4, n_items=50, integer=True)
    scores_audio, _ = random_case(seed + 100, 4, n_items=50, integer=True)
    a = P.pairwise_outcomes(scores_text, labels, tie)
    b = P.pairwise_outcomes(scores_audio, labels, tie)
    r = P.mcnemar_exact(a, b)
    rb, rc, rp = ref_mcnemar(a.ravel().tolist(), b.ravel().tolist())
    assert (r["b"], r["c"]) == (rb, rc)
    assert r["p_value"] == pytest.approx(rp, rel=1e-12)


def test_mcnemar_large_counts_finite():
    r = P.mcnemar_exact(*outcomes_with(7000, 7400))
    assert (r["b"], r["c"]) == (7000, 7400)
    assert math.isfinite(r["p_value"]) and 0.0 < r["p_value"] < 1.0
    # Normal approximation: z = 400 / sqrt(14400) = 3.33, two-sided p about 8.6e-4.
    assert r["p_value"] == pytest.approx(math.erfc(abs(7000 - 7200 + 0.5) / 60 / math.sqrt(2)), rel=0.05)
    r = P.mcnemar_exact(*outcomes_with(7200, 7200))
    assert r["p_value"] == 1.0
    r = P.mcnemar_exact(*outcomes_with(0, 15000))  # far tail underflows to 0, not an error
    assert r["p_value"] == 0.0


def test_mcnemar_shape_error():
    with pytest.raises(ValueError):
        P.mcnemar_exact(np.ones(3), np.ones(4))


# --------------------------------------------------------------- mean_losses


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("k", KS)
def test_mean_losses_matches_loop(seed, k):
    rng = np.random.default_rng(seed)
    mean_nll = rng.uniform(0.5, 6.0, size=(40, k))
    labels = rng.integers(0, k, size=40)
    got = P.mean_losses(mean_nll, labels)
    want = ref_mean_losses(mean_nll.tolist(), labels.tolist())
    assert set(got) == {"answer", "distractor", "difference"}
    for key in want:
        assert got[key] == pytest.approx(want[key], abs=1e-12)


def test_mean_losses_hand_made():
    mean_nll = np.array([[1.0, 2.0, 3.0, 4.0], [8.0, 2.0, 2.0, 2.0]])
    labels = np.array([0, 0])
    got = P.mean_losses(mean_nll, labels)
    assert got["answer"] == pytest.approx(4.5)
    assert got["distractor"] == pytest.approx(15.0 / 6)
    assert got["difference"] == pytest.approx(15.0 / 6 - 4.5)
