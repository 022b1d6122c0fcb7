import numpy as np
import pytest

from shiftguard.errors import InputError, NotFittedError, ParameterError
from shiftguard.shift import ReTaSAWeights


def _target_shift_sample(rng, n, mean):
    """y ~ N(mean, 1); x | y the same in both domains (one informative, one noise column)."""
    y = rng.normal(mean, 1.0, n)
    return np.column_stack([y + rng.normal(0, 0.5, n), rng.normal(size=n)]), y


def test_weights_move_the_source_label_mean_to_the_target_one():
    rng = np.random.default_rng(0)
    x_s, y_s = _target_shift_sample(rng, 800, 0.0)
    x_t, _ = _target_shift_sample(rng, 800, 0.5)
    est = ReTaSAWeights().fit(x_s, y_s, x_t)
    w = est.weights(y_s)
    assert np.all(w >= 0) and w.mean() == pytest.approx(1.0)
    assert abs(w @ y_s / w.sum() - 0.5) < 0.15
    # increasing where the true ratio exp(0.5 y - 0.125) increases, on the bulk of the data
    grid = np.array([-1.0, 0.0, 1.0])
    assert np.all(np.diff(est.weights(grid)) > 0)
    assert est.cv_scores_.shape == (11,) and est.penalty_ > 0


def test_no_shift_gives_weights_near_one():
    rng = np.random.default_rng(1)
    x_s, y_s = _target_shift_sample(rng, 800, 0.0)
    x_t, _ = _target_shift_sample(rng, 800, 0.0)
    w = ReTaSAWeights().fit(x_s, y_s, x_t).weights(y_s)
    assert np.median(np.abs(w - 1.0)) < 0.2


def test_errors():
    rng = np.random.default_rng(2)
    x, y = _target_shift_sample(rng, 50, 0.0)
    with pytest.raises(NotFittedError):
        ReTaSAWeights().weights(y)
    with pytest.raises(InputError, match="constant"):
        ReTaSAWeights().fit(x, np.ones(50), x)
    with pytest.raises(InputError, match="labels for"):
        ReTaSAWeights().fit(x, y[:40], x)
    with pytest.raises(ParameterError, match="columns"):
        ReTaSAWeights().fit(x, y, x[:, :1])
    with pytest.raises(ParameterError, match="penalties"):
        ReTaSAWeights(penalties=[0.0]).fit(x, y, x)
