"""Tests of `s2sbench_hf.protocol` (docs/protocol.md, "The measurement").

Each function is compared with a plain-Python loop written from the spec
(no numpy vectorization in the references), on random inputs with frequent
ties, and on small hand-made cases whose expected numbers are written by hand.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction
from statistics import NormalDist

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


# ------------------------------------------------------- the test of the gap


def ref_item_credits(scores, labels, tie):
    """Per-item pairwise credit as an exact Fraction: the mean over the item's (answer, distractor) comparisons."""
    out = []
    for row in ref_pairwise_outcomes(scores, labels, Fraction(tie)):
        out.append(sum((Fraction(x) for x in row), Fraction(0)) / len(row))
    return out


def ref_sign_flip(xs, ys):
    """Brute force: every one of the 2^n sign patterns of the item differences, counted exactly."""
    d = [x - y for x, y in zip(xs, ys, strict=True)]
    observed = abs(sum(d))
    reached = 0
    for signs in itertools.product((1, -1), repeat=len(d)):
        reached += abs(sum(s * v for s, v in zip(signs, d, strict=True))) >= observed
    return Fraction(reached, 2 ** len(d))


def credits_with(b, c, concordant=(1.0, 0.0, 0.5)):
    """Per-item credits with exactly b items better in a, c better in b (all by 1), plus concordant items."""
    a = [1.0] * b + [0.0] * c + list(concordant)
    bb = [0.0] * b + [1.0] * c + list(concordant)
    return np.array(a), np.array(bb)


EIGHT_ITEM_CASES = [
    # (k, tie credit, integer scores: many ties)
    (2, 0.0, True),
    (2, 0.5, True),
    (2, 1.0, False),
    (4, 1.0, True),
    (4, 0.5, True),
    (4, 0.0, False),
    (4, 0.5, False),
]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("k,tie,integer", EIGHT_ITEM_CASES)
def test_sign_flip_equals_brute_force_on_eight_items(seed, k, tie, integer):
    scores_text, labels = random_case(seed, k, n_items=8, integer=integer)
    scores_audio, _ = random_case(seed + 100, k, n_items=8, integer=integer)
    text = P.pairwise_outcomes(scores_text, labels, tie).mean(axis=1)
    audio = P.pairwise_outcomes(scores_audio, labels, tie).mean(axis=1)
    got = P.paired_sign_flip_test(text, audio)
    ref_text = ref_item_credits(scores_text.tolist(), labels.tolist(), tie)
    ref_audio = ref_item_credits(scores_audio.tolist(), labels.tolist(), tie)
    want = ref_sign_flip(ref_text, ref_audio)
    assert got["p_value"] == pytest.approx(float(want), rel=1e-12)
    d = [x - y for x, y in zip(ref_text, ref_audio, strict=True)]
    assert (got["a_better"], got["b_better"]) == (sum(v > 0 for v in d), sum(v < 0 for v in d))
    assert got["n_discordant"] == sum(v != 0 for v in d) and got["n_resamples"] is None
    assert got["method"] in ("mcnemar", "sign_flip_exact")


def test_sign_flip_hand_made():
    # Unequal differences: d = (1, 1/2, -1/2): sums over the 8 patterns: |+-2| twice, |+-1| four times, 0 twice;
    # the observed |1| is reached by 6 of 8.
    got = P.paired_sign_flip_test(np.array([1.0, 1.0, 0.5, 0.3]), np.array([0.0, 0.5, 1.0, 0.3]))
    assert got == {
        "method": "sign_flip_exact",
        "p_value": 0.75,
        "n_discordant": 3,
        "a_better": 2,
        "b_better": 1,
        "n_resamples": None,
    }
    # Half credit against full credit is half a disagreement, not a whole one: d = (1, 1, 1, 1/2).
    got = P.paired_sign_flip_test(np.array([1.0, 1.0, 1.0, 1.0]), np.array([0.0, 0.0, 0.0, 0.5]))
    assert got["method"] == "sign_flip_exact" and got["p_value"] == 2 / 16  # only all-plus and all-minus reach 3.5
    # A 4-way item's thirds: d = (1/3, 2/3, -1/3) computed in floats; exact patterns reaching |2/3|: 6 of 8.
    text = P.pairwise_outcomes(np.array([[0, 1, 2, 3], [0, 1, 2, 3], [3, 0, 1, 2]]), np.array([0, 0, 0]), 0.0).mean(1)
    audio = P.pairwise_outcomes(np.array([[2, 1, 0, 3], [3, 1, 2, 0], [3, 2, 1, 0]]), np.array([0, 0, 0]), 0.0).mean(1)
    got = P.paired_sign_flip_test(text, audio)
    assert got["p_value"] == float(
        ref_sign_flip(
            *[
                ref_item_credits(m, [0, 0, 0], 0)
                for m in ([[0, 1, 2, 3], [0, 1, 2, 3], [3, 0, 1, 2]], [[2, 1, 0, 3], [3, 1, 2, 0], [3, 2, 1, 0]])
            ]
        )
    )
    # No discordant item: nothing to test.
    assert P.paired_sign_flip_test(np.array([1.0, 0.0, 0.5]), np.array([1.0, 0.0, 0.5]))["p_value"] == 1.0


def test_one_comparison_per_item_is_exact_mcnemar():
    r = P.paired_sign_flip_test(*credits_with(5, 0))
    assert (r["method"], r["a_better"], r["b_better"]) == ("mcnemar", 5, 0)
    assert r["p_value"] == pytest.approx(0.0625)  # 2 * (1/2)^5
    assert P.paired_sign_flip_test(*credits_with(0, 5))["p_value"] == pytest.approx(0.0625)
    assert P.paired_sign_flip_test(*credits_with(4, 4))["p_value"] == 1.0
    assert P.paired_sign_flip_test(*credits_with(3, 1))["p_value"] == pytest.approx(2 * (1 + 4) / 16)  # 0.625
    # Any number of items: no enumeration, no sampling.
    for b, c in ((30, 12), (7, 25)):
        r = P.paired_sign_flip_test(*credits_with(b, c))
        assert r["method"] == "mcnemar" and r["p_value"] == pytest.approx(ref_mcnemar(b, c), rel=1e-12)


def ref_mcnemar(b, c):
    n = b + c
    tail = sum((Fraction(math.comb(n, i), 2**n) for i in range(min(b, c) + 1)), Fraction(0))
    return float(min(Fraction(1), 2 * tail))


def test_mcnemar_large_counts_finite():
    r = P.paired_sign_flip_test(*credits_with(7000, 7400))
    assert (r["a_better"], r["b_better"]) == (7000, 7400)
    assert math.isfinite(r["p_value"]) and 0.0 < r["p_value"] < 1.0
    # Normal approximation: z = 400 / sqrt(14400) = 3.33, two-sided p about 8.6e-4.
    assert r["p_value"] == pytest.approx(math.erfc(abs(7000 - 7200 + 0.5) / 60 / math.sqrt(2)), rel=0.05)
    assert P.paired_sign_flip_test(*credits_with(7200, 7200))["p_value"] == 1.0
    assert P.paired_sign_flip_test(*credits_with(0, 15000))["p_value"] == 0.0  # the far tail underflows, no error


def test_monte_carlo_agrees_with_enumeration_and_is_seeded():
    rng = np.random.default_rng(3)  # a case with p near 0.05
    thirds = rng.integers(0, 4, size=22)
    a = np.r_[thirds, [1, 2, 3]] / 3  # 4-way credits in thirds: differences of several sizes
    b = np.r_[(thirds + rng.integers(1, 4, size=22)) % 4, [1, 2, 3]] / 3
    n = int(np.count_nonzero(a != b))
    assert n == 22 > P.PERMUTATION_EXACT_MAX  # enumeration is still affordable here, to check the sampler against it
    exact = P.paired_sign_flip_test(a, b, exact_max=n)
    sampled = P.paired_sign_flip_test(a, b, seed=3)
    assert exact["method"] == "sign_flip_exact"
    assert sampled["method"] == "sign_flip_monte_carlo" and sampled["n_resamples"] == P.PERMUTATION_RESAMPLES
    p = exact["p_value"]
    assert 0.04 < p < 0.05
    standard_error = math.sqrt(p * (1 - p) / P.PERMUTATION_RESAMPLES)
    assert abs(sampled["p_value"] - p) < 4 * standard_error + 1 / P.PERMUTATION_RESAMPLES
    assert P.paired_sign_flip_test(a, b, seed=3) == sampled
    assert P.paired_sign_flip_test(a, b, seed=4)["p_value"] != sampled["p_value"]
    # The observed pattern counts: never p = 0, even when nothing else reaches it.
    far = P.paired_sign_flip_test(np.ones(60), np.r_[np.zeros(30), np.full(30, 0.5)], n_resamples=200)
    assert far["p_value"] == 1 / 201


def test_sign_flip_input_errors():
    with pytest.raises(ValueError):
        P.paired_sign_flip_test(np.ones(3), np.ones(4))
    with pytest.raises(ValueError):
        P.paired_sign_flip_test(np.ones((3, 2)), np.ones((3, 2)))
    with pytest.raises(ValueError):
        P.paired_sign_flip_test(np.array([np.nan, 1.0]), np.ones(2))
    with pytest.raises(ValueError):
        P.paired_sign_flip_test(np.ones(3), np.zeros(3), n_resamples=0)


# ------------------------------------------------ cross-checks against scipy

# scipy.stats computes the same two numbers with its own code: the percentile bootstrap and the permutation test
# (one sample of paired differences, permutation_type="samples": each difference's sign flipped). Where both
# sample, they draw different random numbers, so the bounds below are Monte Carlo error, derived per test.

SCIPY_RESAMPLES = 20_000
MC_SIGMAS = 4
"""Differences beyond 4 standard errors of Monte Carlo error fail (probability about 6e-5 for a sound
implementation); the seeds are fixed, so the tests are deterministic anyway."""


def credits_in_thirds(seed, n_items, same=0.6):
    """Paired 4-way item credits (0, 1/3, 2/3, 1), text better on average: differences of several sizes.

    Audio keeps the text credit on a share ``same`` of the items and is drawn afresh on the others.
    """
    rng = np.random.default_rng(seed)
    text = rng.choice(4, size=n_items, p=[0.1, 0.2, 0.3, 0.4]) / 3
    audio = np.where(rng.random(n_items) < same, text, rng.integers(0, 4, size=n_items) / 3)
    return text, audio


def percentile_mc_error(values, n_items, confidence, n_resamples):
    """Standard error of an estimated bootstrap percentile endpoint of the mean of ``values``.

    A quantile q_p estimated from B draws has standard error sqrt(p (1 - p) / B) / f(q_p), f the density there.
    The bootstrap distribution of a mean of n items is close to normal with sd s = std(values) / sqrt(n), so
    f(q_p) = phi(z_p) / s at the endpoint p = (1 - confidence) / 2.
    """
    p = (1 - confidence) / 2
    standard = NormalDist()
    density = standard.pdf(standard.inv_cdf(p)) / (np.std(values) / math.sqrt(n_items))
    return math.sqrt(p * (1 - p) / n_resamples) / density


@pytest.mark.parametrize("seed,n_items", [(0, 150), (1, 400)])
def test_paired_bootstrap_matches_scipy(seed, n_items):
    stats = pytest.importorskip("scipy.stats")
    text, audio = credits_in_thirds(seed, n_items)
    ours = P.paired_bootstrap(text, audio, n_resamples=SCIPY_RESAMPLES, seed=seed, confidence=0.95)
    theirs = {
        "gap": stats.bootstrap(
            (text, audio),
            lambda t, a, axis: np.mean(t - a, axis=axis),
            paired=True,
            vectorized=True,
            n_resamples=SCIPY_RESAMPLES,
            method="percentile",
            confidence_level=0.95,
            rng=np.random.default_rng(1000 + seed),
        ).confidence_interval,
        "text": stats.bootstrap(
            (text,),
            np.mean,
            vectorized=True,
            n_resamples=SCIPY_RESAMPLES,
            method="percentile",
            confidence_level=0.95,
            rng=np.random.default_rng(2000 + seed),
        ).confidence_interval,
    }
    for key, values in (("gap", text - audio), ("text", text)):
        # Two independent estimates: the difference has sqrt(2) times one's error. Credits lie on a grid of
        # 1/3, so the resampled means lie on a lattice of step 1/(3n): allow one step for where each lands.
        bound = MC_SIGMAS * math.sqrt(2) * percentile_mc_error(values, n_items, 0.95, SCIPY_RESAMPLES)
        bound += 1 / (3 * n_items)
        assert abs(ours[key][0] - theirs[key].low) < bound, (key, ours[key], theirs[key], bound)
        assert abs(ours[key][1] - theirs[key].high) < bound, (key, ours[key], theirs[key], bound)


def scipy_sign_flip(stats, d, n_resamples, seed=0):
    """scipy's two-sided sign-flip test of mean(d) = 0: ``n_resamples=inf`` enumerates every sign pattern.

    The differences, in thirds, are given to scipy as whole numbers of thirds (the test is scale-free): scipy's
    tie tolerance is relative to the observed statistic, so a sum that is 0 up to float rounding would let the
    rounding decide, where the package's tolerance (relative to sum |d|) counts it as 0.
    """
    thirds = np.rint(3 * d[d != 0])
    return stats.permutation_test(
        (thirds,),
        lambda x, axis: np.mean(x, axis=axis),
        permutation_type="samples",
        vectorized=True,
        n_resamples=n_resamples,
        alternative="two-sided",
        rng=np.random.default_rng(seed),
    ).pvalue


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("n_items", [10, 16])
def test_sign_flip_exact_matches_scipy(seed, n_items):
    # Both enumerate all 2^n patterns: the p-values are the same number. (For a symmetric null, scipy's
    # 2 min(P(T <= t), P(T >= t)) is P(|T| >= |t|), the package's definition.)
    stats = pytest.importorskip("scipy.stats")
    text, audio = credits_in_thirds(10 + seed, n_items, same=0.0)
    d = text - audio
    assert 2 <= np.count_nonzero(d) <= 16  # scipy needs two; 2^16 patterns are enumerated in a blink
    ours = P.paired_sign_flip_test(text, audio)
    assert ours["method"] in ("sign_flip_exact", "mcnemar")
    assert ours["p_value"] == pytest.approx(scipy_sign_flip(stats, d, np.inf), rel=1e-9)


def test_mcnemar_matches_scipy_enumeration():
    # Equal differences: the package's exact binomial (McNemar) is the sign-flip test scipy enumerates.
    stats = pytest.importorskip("scipy.stats")
    for b, c in ((11, 3), (4, 12), (8, 8)):
        a_credits, b_credits = credits_with(b, c)
        ours = P.paired_sign_flip_test(a_credits, b_credits)
        d = a_credits - b_credits
        assert ours["method"] == "mcnemar"
        assert ours["p_value"] == pytest.approx(scipy_sign_flip(stats, d, np.inf), rel=1e-9)


@pytest.mark.parametrize("seed", [0, 1])
def test_sign_flip_monte_carlo_matches_scipy(seed):
    stats = pytest.importorskip("scipy.stats")
    text, audio = credits_in_thirds(20 + seed, 90)
    d = text - audio
    n = SCIPY_RESAMPLES * 5
    ours = P.paired_sign_flip_test(text, audio, n_resamples=n, seed=seed)
    assert ours["method"] == "sign_flip_monte_carlo"
    theirs = scipy_sign_flip(stats, d, n, seed=100 + seed)
    p = ours["p_value"]
    assert 0.001 < p < 0.5  # a p-value that both can estimate to a few percent
    # Ours counts |sum| >= observed: a binomial share, error sqrt(p (1 - p) / N). scipy doubles the smaller
    # one-sided share, error 2 sqrt(p/2 (1 - p/2) / N). Each adds its one observed pattern (scipy twice: 2/(N+1)).
    error = math.sqrt(p * (1 - p) / n + 4 * (p / 2) * (1 - p / 2) / n)
    assert abs(p - theirs) < MC_SIGMAS * error + 2 / (n + 1), (p, theirs, error)


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
