import numpy as np
import pytest

from shiftguard.conformal import (
    AdaptiveConformalPredictor,
    adaptive_conformal_intervals,
    spci_intervals,
)
from shiftguard.errors import InputError, ParameterError


def test_aci_bound_holds_on_an_adversarial_sequence():
    """Residuals that jump whenever the interval settles: the bound is deterministic."""
    rng = np.random.default_rng(0)
    t_max, alpha, gamma = 5000, 0.1, 0.02
    y = np.where(rng.random(t_max) < 0.3, 1e3, 1.0) * rng.normal(size=t_max)
    result = adaptive_conformal_intervals(np.zeros(t_max), y, alpha=alpha, gamma=gamma)
    assert abs(result.miss.mean() - alpha) <= (1 - alpha + gamma) / (gamma * t_max)


def test_aci_uses_only_the_past_and_adapts_the_level():
    y = np.r_[np.arange(1.0, 21.0), 100.0]
    result = adaptive_conformal_intervals(np.zeros(21), y, alpha=0.5, gamma=0.1)
    # first step has no past: infinite interval, a certain cover
    assert result.intervals.upper[0] == np.inf and result.miss[0] == 0
    np.testing.assert_array_equal(result.miss == 1, ~result.intervals.covers(y))
    assert result.miss[1:].sum() > 0
    np.testing.assert_allclose(np.diff(result.alpha_t), 0.1 * (0.5 - result.miss[:-1]))


def test_online_aci_equals_the_batch_function():
    rng = np.random.default_rng(2)
    pred, y = rng.normal(size=300), rng.normal(size=300) * np.r_[np.ones(150), 4 * np.ones(150)]
    batch = adaptive_conformal_intervals(pred, y, alpha=0.1, gamma=0.05, window=40)
    online = AdaptiveConformalPredictor(alpha=0.1, gamma=0.05, window=40)
    bounds = []
    for p, t in zip(pred, y, strict=True):
        bounds.append(online.predict_interval(p))
        online.update(p, t)
    np.testing.assert_allclose(np.array(bounds)[:, 0], batch.intervals.lower)
    np.testing.assert_allclose(np.array(bounds)[:, 1], batch.intervals.upper)


def test_spci_outputs_one_interval_per_future_step():
    rng = np.random.default_rng(1)
    y = np.cumsum(rng.normal(size=300)) * 0.1
    pred = np.r_[0.0, y[:-1]]  # a random-walk forecast
    out = spci_intervals(pred, y, n_train=200, alpha=0.2, window=3, refit_every=50, seed=0)
    assert out.lower.shape == (100,) and np.all(out.upper >= out.lower)
    assert out.guarantee == "asymptotic"


def test_errors():
    with pytest.raises(ParameterError, match="gamma"):
        adaptive_conformal_intervals([0.0, 1.0], [0.0, 1.0], gamma=0)
    with pytest.raises(InputError, match="lengths differ"):
        adaptive_conformal_intervals([0.0, 1.0], [0.0])
    with pytest.raises(InputError, match="too short"):
        spci_intervals(np.zeros(50), np.zeros(50), n_train=20)
    with pytest.raises(InputError, match="no steps"):
        spci_intervals(np.zeros(200), np.zeros(200), n_train=200)
