import numpy as np
import pytest
from scipy.stats import false_discovery_control

from shiftguard.conformal import (
    conformal_risk_control,
    conformal_selection,
    optimized_conformal_selection,
)
from shiftguard.conformal.selection import _bh_select, _ebh_select
from shiftguard.errors import InputError, ParameterError


def test_bh_matches_scipy_adjusted_pvalues():
    rng = np.random.default_rng(0)
    for _ in range(50):
        p = np.r_[rng.uniform(size=30), rng.uniform(0, 0.01, size=rng.integers(0, 10))]
        expected = np.flatnonzero(false_discovery_control(p, method="bh") <= 0.1)
        np.testing.assert_array_equal(_bh_select(p, 0.1), expected)


def test_ebh_by_hand():
    e = np.array([50.0, 1.0, 12.0, 0.0])  # m = 4, q = 0.2: need e_(k) >= 20 / k
    np.testing.assert_array_equal(_ebh_select(e, 0.2), [0, 2])


def test_pvalues_by_hand():
    mu_cal = np.array([0.0, 1.0, 2.0, 3.0])
    y_cal = np.array([0.0, 5.0, 0.5, 0.9])  # the unit with y = 5 > c never counts
    result = conformal_selection(mu_cal, y_cal, np.array([2.5, -1.0]), threshold=1.0, q=0.5)
    # test 0: V = -2.5; calibration nulls V = 0, -2, -3 -> one is <= -2.5
    np.testing.assert_allclose(result.pvalues, [2 / 5, 4 / 5])
    assert result.selected.tolist() == []  # BH at 0.5: 0.4 > 0.25 and 0.8 > 0.5
    wider = conformal_selection(mu_cal, y_cal, np.array([2.5, -1.0]), threshold=1.0, q=0.85)
    assert wider.selected.tolist() == [0, 1]


def test_optimized_selection_prefers_the_informative_model():
    rng = np.random.default_rng(1)
    x_cal, x_test = rng.normal(size=300), rng.normal(size=100)
    y_cal, y_test = x_cal + 0.3 * rng.normal(size=300), x_test + 0.3 * rng.normal(size=100)
    cal = np.column_stack([rng.normal(size=300), x_cal])
    test = np.column_stack([rng.normal(size=100), x_test])
    result = optimized_conformal_selection(cal, y_cal, test, 1.0, q=0.2)
    assert np.mean(result.chosen_model == 1) > 0.9
    assert result.selected.size > 0
    assert np.mean(y_test[result.selected] > 1.0) > 0.7


def test_risk_control_picks_the_first_admissible_lambda():
    losses = np.tile([1.0, 0.5, 0.1, 0.0], (19, 1))
    # n = 19: need 19/20 * risk + 1/20 <= alpha = 0.2 -> risk <= 0.158 -> index 2
    result = conformal_risk_control(losses, [0.0, 1.0, 2.0, 3.0], 0.2)
    assert (result.index, result.lambda_hat) == (2, 2.0)


def test_errors():
    with pytest.raises(ParameterError, match="q"):
        conformal_selection([0.0] * 5, [0.0] * 5, [1.0], 0.0, q=1.5)
    with pytest.raises(InputError, match="lengths differ"):
        conformal_selection([0.0] * 5, [0.0] * 4, [1.0], 0.0)
    with pytest.raises(InputError, match="candidate models"):
        optimized_conformal_selection(np.zeros((5, 2)), np.zeros(5), np.zeros((3, 3)), 0.0)
    with pytest.raises(ParameterError, match="pruning"):
        optimized_conformal_selection(
            np.zeros((5, 2)), np.zeros(5), np.zeros((3, 2)), 0.0, pruning="x"
        )
    with pytest.raises(InputError, match="non-increasing"):
        conformal_risk_control([[0.0, 1.0]] * 10, [0.0, 1.0], 0.5)
    with pytest.raises(InputError, match="no lambda"):
        conformal_risk_control([[1.0, 1.0]] * 10, [0.0, 1.0], 0.5)
    with pytest.raises(InputError, match="increasing"):
        conformal_risk_control([[1.0, 0.0]] * 10, [1.0, 0.0], 0.5)
