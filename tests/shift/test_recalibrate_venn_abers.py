"""The linear-time Venn–Abers fit against the quadratic max-min formula it replaced."""

import numpy as np
import pytest

from shiftguard.shift import VennAbers


def _max_min_reference(w, u, label):
    """``max_{a <= j} min_{b >= j} (u_b - u_a + label) / (w_b - w_a + 1)`` for every ``j``,
    from the full matrix of slopes (the ``O(m^2)`` implementation the kernel replaced)."""
    idx = np.arange(w.size)
    a, b = idx[:, None], idx[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = (u[b] - u[a] + label) / (w[b] - w[a] + 1.0)
    slope[b < a] = np.inf
    inner = np.minimum.accumulate(slope[:, ::-1], axis=1)[:, ::-1]
    inner[b < a] = -np.inf
    return inner.max(axis=0)


def _reference_pairs(scores, labels):
    """Reference ``(p0, p1)`` per insertion position, from the cumulative sum diagram."""
    _, inverse = np.unique(scores, return_inverse=True)
    w = np.r_[0.0, np.cumsum(np.bincount(inverse))]
    u = np.r_[0.0, np.cumsum(np.bincount(inverse, weights=labels))]
    return _max_min_reference(w, u, 0.0), _max_min_reference(w, u, 1.0)


def _sample(rng, n, distinct):
    """Scores with ``distinct`` possible values (0: continuous) and labels from a random,
    often non-monotone, curve, so that the isotonic fits pool blocks in many ways."""
    truth = rng.random(n)
    curve = rng.choice([lambda t: t, lambda t: 1 - t, lambda t: 0.5 + 0.4 * np.sin(9 * t),
                        lambda t: np.full_like(t, rng.random())])
    labels = (rng.random(n) < curve(truth)).astype(int)
    labels[:2] = [0, 1]
    scores = truth if distinct == 0 else np.floor(truth * distinct) / distinct
    return scores, labels


@pytest.mark.parametrize(("sizes", "distinct", "reps"), [
    ((2, 40), 8, 300),        # few distinct scores, heavy ties
    ((2, 40), 0, 300),        # small, continuous
    ((500, 1500), 100, 4),    # medium, ties
    ((500, 1500), 0, 4),      # medium, continuous
])
def test_venn_abers_equals_quadratic_max_min(sizes, distinct, reps):
    rng = np.random.default_rng(sizes[0] + distinct)
    for _ in range(reps):
        scores, labels = _sample(rng, int(rng.integers(*sizes, endpoint=True)), distinct)
        va = VennAbers().fit(scores, labels)
        p0, p1 = _reference_pairs(scores, labels)
        np.testing.assert_allclose(va.p0_, p0, rtol=0, atol=1e-12)
        np.testing.assert_allclose(va.p1_, p1, rtol=0, atol=1e-12)


def test_venn_abers_equals_isotonic_refits_at_scale():
    """At 10^5 continuous scores, a few test points against a full isotonic refit each."""
    from sklearn.isotonic import IsotonicRegression

    rng = np.random.default_rng(3)
    scores, labels = _sample(rng, 100_000, 0)
    va = VennAbers().fit(scores, labels)
    test = np.r_[-1.0, rng.random(3), scores[:2], 2.0]
    expected = np.array([
        [IsotonicRegression().fit(np.r_[scores, t], np.r_[labels, lab]).predict([t])[0]
         for lab in (0, 1)]
        for t in test
    ])
    np.testing.assert_allclose(va.predict_p0_p1(test), expected, rtol=0, atol=1e-12)
    assert np.all(va.p0_ <= va.p1_)
    assert np.all(np.diff(va.p0_) >= 0) and np.all(np.diff(va.p1_) >= 0)
