"""The default CBPE and DLE intervals, which are closed-form (CBPE: the sandwich
covariance of the sigmoid calibrator; DLE: the additive loss model, its fold models
downdates of one fit), are unbiased within Monte Carlo error and cover near nominal under
covariate shift -- the assumption of both -- with a control that must fail (the
reference value misses the shift), so that the simulations have power."""

import numpy as np
import pytest

from helpers import binomial_band
from shiftguard.shift import estimate_performance

pytestmark = pytest.mark.validity

MEANS = np.array([[0.0, 0.0], [1.5, 0.0], [0.0, 1.5]])


def _assert_unbiased_and_covering(errors, covered, alpha, name):
    """Mean error within 3 Monte Carlo standard errors of 0; coverage in the 3-SE
    binomial band around ``1 - alpha``."""
    errors, covered = np.asarray(errors), np.asarray(covered)
    mc_se = errors.std(ddof=1) / np.sqrt(errors.size)
    assert abs(errors.mean()) <= 3 * mc_se, (name, errors.mean(), mc_se)
    lo, hi = binomial_band(1 - alpha, errors.size)
    assert lo <= covered.mean() <= hi, (name, covered.mean(), (lo, hi))


def _check_default_dle_mae(draw, reps, name, alpha=0.1):
    """The default DLE's MAE estimate of the model ``x_0`` on ``reps`` pairs
    ``((X_ref, y_ref), (X_cur, y_cur)) = draw()``: unbiased for the chunk's realised MAE,
    its interval covering, and the reference MAE (what a monitor without DLE reports)
    measurably off."""
    errors, covered, naive = [], [], []
    for r in range(reps):
        (X_ref, y_ref), (X_cur, y_cur) = draw()
        realised = np.mean(np.abs(y_cur - X_cur[:, 0]))
        est = estimate_performance(X_ref[:, 0], y_ref, X_cur[:, 0], "mae", "dle", X_ref=X_ref,
                                   X_cur=X_cur, alpha=alpha, seed=r)
        errors.append(est.estimate - realised)
        covered.append(est.lower <= realised <= est.upper)
        naive.append(est.reference_value - realised)
    _assert_unbiased_and_covering(errors, covered, alpha, name)
    naive = np.array(naive)
    assert abs(naive.mean()) > 5 * naive.std(ddof=1) / np.sqrt(reps)


def test_default_dle_is_unbiased_and_covers_under_covariate_shift():
    """y = x_0 + (0.2 + 0.5 |x_1|) e, the model predicts x_0, the current x_1 moves by 1:
    the raw features go in, and the additive loss model has to find the V in x_1 itself
    (the loss model test in test_shift_estimation.py is handed |x_1| and x_1^2)."""
    rng = np.random.default_rng(27)

    def sample(n, shift):
        X = rng.normal(size=(n, 2))
        X[:, 1] += shift
        return X, X[:, 0] + (0.2 + 0.5 * np.abs(X[:, 1])) * rng.normal(size=n)

    _check_default_dle_mae(lambda: (sample(800, 0.0), sample(800, 1.0)), 300, "dle additive")


def test_default_cbpe_multiclass_is_unbiased_and_covers_under_covariate_shift():
    """Three Gaussian classes; the current rows are selected with probability
    ``exp(-|x - c|^2 / 2)`` around the classes' centre ``c``, where they overlap (a
    selection on x only: p(y | x) unchanged, accuracy lower), and the model outputs the
    exact posteriors. Sigmoid
    calibration of all three one-vs-rest columns, its error by the sandwich covariance
    (six parameters and their cross-class covariances): accuracy and macro F1 cover;
    the reference accuracy does not."""
    rng = np.random.default_rng(28)

    def sample(n, selection):
        y = rng.choice(3, 4 * n)
        x = rng.normal(MEANS[y])
        distance = np.square(x - MEANS.mean(0)).sum(1)
        keep = rng.random(4 * n) < np.exp(-0.5 * selection * distance)
        y, x = y[keep][:n], x[keep][:n]
        logits = x @ MEANS.T - 0.5 * np.square(MEANS).sum(1)
        proba = np.exp(logits - logits.max(1, keepdims=True))
        return y, proba / proba.sum(1, keepdims=True)

    reps, alpha = 200, 0.1
    results, naive = {}, []
    for r in range(reps):
        y_ref, p_ref = sample(1500, 0.0)
        y_cur, p_cur = sample(1000, 1.0)
        pred = p_cur.argmax(1)
        for metric in ("accuracy", "f1"):
            est = estimate_performance(p_ref, y_ref, p_cur, metric, alpha=alpha, seed=r)
            realised = (np.mean(pred == y_cur) if metric == "accuracy" else
                        np.mean([2 * np.sum((pred == c) & (y_cur == c))
                                 / (np.sum(pred == c) + np.sum(y_cur == c)) for c in range(3)]))
            results.setdefault(metric, []).append(
                (est.estimate - realised, est.lower <= realised <= est.upper))
            if metric == "accuracy":
                naive.append(est.reference_value - realised)
    for name, pairs in results.items():
        errors, covered = zip(*pairs, strict=True)
        _assert_unbiased_and_covering(errors, covered, alpha, f"cbpe sandwich {name}")
    naive = np.array(naive)
    assert abs(naive.mean()) > 5 * naive.std(ddof=1) / np.sqrt(reps)


def test_default_dle_on_a_messy_design():
    """Messy data: features rounded to 0.5 and a small count (heavy ties), a rare binary
    column (5 %), Student-t(3) noise, a 200-row chunk against 20,000 reference rows; the
    loss grows with the count and the binary flag, and the chunk's counts move up
    (covariate shift). The default DLE stays unbiased and its interval covers."""
    rng = np.random.default_rng(2807)

    def sample(n, rate):
        X = np.column_stack([np.round(rng.normal(size=n) * 2) / 2, rng.poisson(rate, n),
                             rng.random(n) < 0.05]).astype(float)
        noise = (0.3 + 0.3 * X[:, 1] + 1.0 * X[:, 2]) * rng.standard_t(3, n)
        return X, X[:, 0] + noise

    _check_default_dle_mae(lambda: (sample(20_000, 1.0), sample(200, 2.0)), 200, "dle messy")
