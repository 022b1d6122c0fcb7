import numpy as np
import pytest

from shiftguard.errors import InputError, ParameterError
from shiftguard.shift import bbse_weights, em_label_shift, rlls_weights
from shiftguard.shift.label_shift import _interval_solve, as_probabilities, em_priors


def _predictions(rng, y, accuracy):
    wrong = rng.random(y.size) > accuracy
    return np.where(wrong, (y + rng.integers(1, 3, size=y.size)) % 3, y)


def test_bbse_recovers_known_weights_and_bounds_cover_them():
    rng = np.random.default_rng(0)
    source_prior, target_prior = np.full(3, 1 / 3), np.array([0.6, 0.3, 0.1])
    ys = rng.choice(3, size=20_000, p=source_prior)
    yt = rng.choice(3, size=20_000, p=target_prior)
    est = bbse_weights(ys, _predictions(rng, ys, 0.8), _predictions(rng, yt, 0.8), 3)
    truth = target_prior / source_prior
    np.testing.assert_allclose(est.weights, truth, atol=0.1)
    assert np.all(est.lower <= truth) and np.all(truth <= est.upper)
    assert set(est.to_dict()) >= {"weights", "lower", "upper", "confusion"}


def test_interval_solve_encloses_every_point_solution():
    rng = np.random.default_rng(1)
    a = np.array([[0.3, 0.05], [0.04, 0.4]])
    b = np.array([0.2, 0.3])
    lo, hi = _interval_solve(a - 0.01, a + 0.01, b - 0.01, b + 0.01)
    for _ in range(200):
        x = np.linalg.solve(a + rng.uniform(-0.01, 0.01, (2, 2)), b + rng.uniform(-0.01, 0.01, 2))
        assert np.all(lo - 1e-12 <= x) and np.all(x <= hi + 1e-12)


def test_errors():
    y = np.array([0, 1, 2, 0, 1, 2])
    with pytest.raises(InputError, match="singular"):
        bbse_weights(y, np.zeros(6, dtype=int), np.zeros(4, dtype=int), 3)
    with pytest.raises(InputError, match="class indices"):
        bbse_weights(y, y + 5, y, 3)
    with pytest.raises(InputError, match="lengths differ"):
        bbse_weights(y, y[:5], y, 3)
    with pytest.raises(ParameterError):
        bbse_weights(y, y, y, 3, delta=2.0)


def _gaussian_posteriors(rng, prior_source, prior_target, n):
    """Labels from ``prior_target``, x | y ~ N(mu_y, 1), and exact source posteriors."""
    from scipy.stats import norm

    mus = np.array([-1.0, 0.0, 1.5])
    y = rng.choice(3, size=n, p=prior_target)
    x = rng.normal(mus[y])
    lik = norm.pdf(x[:, None], mus[None, :]) * prior_source
    return y, lik / lik.sum(axis=1, keepdims=True)


def test_em_recovers_target_priors_and_keeps_them_without_shift():
    rng = np.random.default_rng(2)
    source, target = np.full(3, 1 / 3), np.array([0.6, 0.3, 0.1])
    _, proba = _gaussian_posteriors(rng, source, target, 20_000)
    est = em_label_shift(proba, source, n_source=5000)
    np.testing.assert_allclose(est.target_prior, target, atol=0.02)
    assert np.all(est.prior_lower <= target) and np.all(target <= est.prior_upper)
    np.testing.assert_allclose(est.weights, est.target_prior / source)
    assert est.method == "em" and "label shift" in est.assumption
    _, same = _gaussian_posteriors(rng, source, source, 20_000)
    np.testing.assert_allclose(em_label_shift(same, source).target_prior, source, atol=0.02)
    # the batched EM of bootstrap weightings matches one EM per weighting
    counts = rng.multinomial(200, np.full(200, 1 / 200), size=3).astype(float)
    batched = em_priors(proba[:200], source, counts)
    for row, c in zip(batched, counts, strict=True):
        np.testing.assert_allclose(row, em_priors(np.repeat(proba[:200], c.astype(int), 0),
                                                  source), atol=1e-6)


def test_rlls_matches_bbse_unregularised_and_shrinks_towards_one():
    rng = np.random.default_rng(3)
    source_prior, target_prior = np.full(3, 1 / 3), np.array([0.6, 0.3, 0.1])
    ys = rng.choice(3, size=5000, p=source_prior)
    yt = rng.choice(3, size=5000, p=target_prior)
    ps, pt = _predictions(rng, ys, 0.8), _predictions(rng, yt, 0.8)
    plain = rlls_weights(ys, ps, pt, 3, regularization=0.0)
    np.testing.assert_allclose(plain.weights, bbse_weights(ys, ps, pt, 3).weights, atol=1e-4)
    truth = target_prior / source_prior
    assert np.all(plain.weights_lower <= truth) and np.all(truth <= plain.weights_upper)
    strong = rlls_weights(ys, ps, pt, 3, regularization=5.0)
    assert np.abs(strong.weights - 1).sum() < np.abs(plain.weights - 1).sum()
    assert strong.to_dict()["method"] == "rlls"


def test_label_shift_bad_input():
    good = np.array([[0.2, 0.8], [0.5, 0.5]])
    with pytest.raises(InputError, match="sum to one"):
        as_probabilities(np.array([[0.2, 0.7], [0.5, 0.5]]), "proba")
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        as_probabilities(np.array([1.2, 0.5]), "proba")
    with pytest.raises(InputError, match="source priors"):
        em_label_shift(good, [0.0, 1.0])
    with pytest.raises(InputError, match="expected 2 source priors"):
        em_label_shift(good, [0.2, 0.3, 0.5])
    with pytest.raises(InputError, match="not identified"):
        em_label_shift(np.full((10, 2), 0.5), [0.5, 0.5])
    y = np.array([0, 1, 0, 1, 0, 1])
    with pytest.raises(InputError, match="never occurs"):
        rlls_weights(y, y, y, 3)
    with pytest.raises(ParameterError):
        rlls_weights(y, y, y, 2, regularization=-1.0)
