"""FDR of conformal selection (plain and optimized) and risk of conformal risk control."""

import numpy as np
import pytest

from helpers import binomial_band
from shiftguard.conformal import (
    conformal_risk_control,
    conformal_selection,
    optimized_conformal_selection,
)

pytestmark = pytest.mark.validity

THRESHOLD = 1.0


def _units(rng, n):
    """Regression units; three fixed 'pre-trained' predictors of varying quality."""
    x = rng.normal(size=(n, 2))
    y = x[:, 0] + 0.5 * x[:, 1] + rng.normal(size=n)
    predictions = np.column_stack([x[:, 0] + 0.5 * x[:, 1], x[:, 0], rng.normal(size=n)])
    return predictions, y


def _false_discovery_proportion(selected, y):
    return np.sum(y[selected] <= THRESHOLD) / max(1, selected.size)


def _fdr_bound(q, reps):
    # an FDP is a [0, 1] variable; with mean <= q <= 1/2 its variance is <= q (1 - q)
    return binomial_band(q, reps)[1]


@pytest.mark.parametrize("randomized", [False, True])
def test_conformal_selection_fdr(randomized):
    rng = np.random.default_rng(21)
    reps, n, m, q = 2000, 200, 100, 0.2
    fdp, power = np.empty(reps), np.empty(reps)
    for r in range(reps):
        cal_pred, y_cal = _units(rng, n)
        test_pred, y_test = _units(rng, m)
        result = conformal_selection(
            cal_pred[:, 0], y_cal, test_pred[:, 0], THRESHOLD, q=q, randomized=randomized, seed=r
        )
        fdp[r] = _false_discovery_proportion(result.selected, y_test)
        power[r] = np.sum(y_test[result.selected] > THRESHOLD) / max(1, np.sum(y_test > THRESHOLD))
    assert fdp.mean() <= _fdr_bound(q, reps)
    assert power.mean() > 0.2  # a useful predictor selects something


@pytest.mark.parametrize("pruning", ["deterministic", "heterogeneous", "homogeneous"])
def test_optimized_conformal_selection_fdr(pruning):
    rng = np.random.default_rng(22)
    reps, n, m, q = 600, 150, 60, 0.2
    fdp = np.empty(reps)
    chosen_best = 0.0
    for r in range(reps):
        cal_pred, y_cal = _units(rng, n)
        test_pred, y_test = _units(rng, m)
        result = optimized_conformal_selection(
            cal_pred, y_cal, test_pred, THRESHOLD, q=q, pruning=pruning, seed=r
        )
        fdp[r] = _false_discovery_proportion(result.selected, y_test)
        chosen_best += np.mean(result.chosen_model == 0) / reps
    assert fdp.mean() <= _fdr_bound(q, reps)
    assert chosen_best > 0.5  # the informative model is picked most of the time


def test_conformal_risk_control_expected_loss():
    """Loss min(1, (|y - mu| - lambda)+): bounded by 1, non-increasing in lambda."""
    rng = np.random.default_rng(23)
    reps, n, alpha = 5000, 100, 0.1
    lambdas = np.linspace(0.0, 4.0, 81)
    loss_new = np.empty(reps)
    for r in range(reps):
        residual = np.abs(rng.standard_t(df=4, size=n + 1))
        losses = np.clip(residual[:, None] - lambdas[None, :], 0.0, 1.0)
        result = conformal_risk_control(losses[:n], lambdas, alpha)
        loss_new[r] = losses[n, result.index]
    # loss in [0, 1] with mean <= alpha <= 1/2 has variance <= alpha (1 - alpha)
    assert loss_new.mean() <= binomial_band(alpha, reps)[1]
    # tightness: for i.i.d. continuous losses E[L] >= alpha - 2 B / (n + 1) (Angelopoulos
    # et al., 2024, Theorem 2); the grid step of 0.05 in lambda moves the loss by at most
    # 0.05 per point, which widens that floor by the same amount
    slack = binomial_band(alpha, reps)[1] - alpha
    assert loss_new.mean() >= alpha - 2 / (n + 1) - 0.05 - slack
