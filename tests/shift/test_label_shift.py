import numpy as np
import pytest

from shiftguard.errors import InputError, ParameterError
from shiftguard.shift import bbse_weights
from shiftguard.shift.label_shift import _interval_solve


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
