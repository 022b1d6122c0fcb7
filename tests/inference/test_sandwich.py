"""The shared M-estimation pieces behind the PPI and DSL solvers, against direct formulas."""

from __future__ import annotations

import numpy as np
import pytest

from shiftguard.inference._sandwich import design_products, expit, expit_and_slope
from shiftguard.inference.ppi import _SolutionPath


def _design(rng: np.random.Generator, n: int, d: int, ones_at: int | None) -> np.ndarray:
    X = rng.normal(size=(n, d))
    if ones_at is not None:
        X[:, ones_at] = 1.0
    return X


@pytest.mark.parametrize(
    ("d", "ones_at"), [(5, 0), (5, 4), (5, None), (1, 0), (12, 0), (12, None)]
)
def test_design_products_give_weighted_sums_and_gram_matrices(d, ones_at):
    """With or without an intercept (whose products are not stored again), and beyond the
    column count where products are kept at all; for two stacked blocks and a slice."""
    rng = np.random.default_rng(d)
    first, second = _design(rng, 40, d, ones_at), _design(rng, 25, d, ones_at)
    design = design_products(first, second)
    X = np.vstack([first, second])
    weights = rng.random((3, len(X)))
    sums, grams = design.sums_and_grams(weights)
    np.testing.assert_allclose(sums, weights @ X, rtol=1e-12)
    np.testing.assert_allclose(grams, np.einsum("ki,ij,il->kjl", weights, X, X), rtol=1e-12)
    one_sum, one_gram = design.sums_and_grams(weights[1])
    np.testing.assert_allclose(one_sum, sums[1], rtol=1e-12)
    np.testing.assert_allclose(one_gram, grams[1], rtol=1e-12)
    np.testing.assert_allclose(design.sums(weights[2]), sums[2], rtol=1e-12)
    part = design.columns(slice(40, None))
    np.testing.assert_allclose(part.gram(weights[0, 40:]), (second.T * weights[0, 40:]) @ second,
                               rtol=1e-12)
    beta = rng.normal(size=d)
    assert np.abs(X @ beta).max() <= design.eta_bound(beta)


def test_products_are_skipped_past_the_memory_cap(monkeypatch):
    """Past the cap on stored products the same sums and Gram matrices come from the
    design alone, and PPI intervals do not change."""
    from shiftguard.inference import _sandwich, ppi_logistic_ci, ppi_ols_ci

    rng = np.random.default_rng(7)
    X, Xu = _design(rng, 60, 4, 0), _design(rng, 400, 4, 0)
    y = X @ [0.5, 1.0, -1.0, 0.3] + rng.normal(size=60)
    yhat, yhat_u = y + rng.normal(size=60), Xu @ [0.4, 1.0, -1.0, 0.3]
    yb, ybhat = (y > 0).astype(float), (yhat > 0).astype(float)
    ybhat_u = (yhat_u + rng.normal(size=400) > 0).astype(float)
    weights = rng.random((2, 460))
    with_products = design_products(X, Xu)
    before = [ppi_ols_ci(X, y, yhat, Xu, yhat_u), ppi_logistic_ci(X, yb, ybhat, Xu, ybhat_u)]
    monkeypatch.setattr(_sandwich, "_PAIR_PRODUCTS_MAX_VALUES", 100)
    without = design_products(X, Xu)
    assert with_products.gram_index is not None and without.gram_index is None
    pairs = zip(with_products.sums_and_grams(weights), without.sums_and_grams(weights), strict=True)
    for a, b in pairs:
        np.testing.assert_allclose(a, b, rtol=1e-12)
    after = [ppi_ols_ci(X, y, yhat, Xu, yhat_u), ppi_logistic_ci(X, yb, ybhat, Xu, ybhat_u)]
    for a, b in zip(before, after, strict=True):
        np.testing.assert_allclose(a.estimate, b.estimate, rtol=1e-9)
        np.testing.assert_allclose(a.stderr, b.stderr, rtol=1e-9)


@pytest.mark.parametrize("eta_bound", [np.inf, 699.0])
def test_expit_and_slope_are_weighted_probability_and_curvature(eta_bound):
    eta = np.linspace(-40.0, 40.0, 201)
    prob, slope = np.empty_like(eta), np.empty_like(eta)
    expit_and_slope(eta, prob, slope, 0.5, eta_bound=eta_bound)
    p = expit(eta)
    np.testing.assert_allclose(prob, 0.5 * p, rtol=1e-14)
    # p (1 - p) with 1 - p = expit(-eta): relative precision also where p is near 1.
    np.testing.assert_allclose(slope, 0.5 * p * expit(-eta), rtol=1e-14)


def test_expit_and_slope_do_not_overflow_far_out():
    eta = np.array([-1e4, -750.0, 0.0, 750.0, 1e4])
    prob, slope = np.empty_like(eta), np.empty_like(eta)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        expit_and_slope(eta, prob, slope)
    np.testing.assert_allclose(prob, [0.0, 0.0, 0.5, 1.0, 1.0], atol=1e-300)
    np.testing.assert_allclose(slope, [0.0, 0.0, 0.25, 0.0, 0.0], atol=1e-300)


def test_solution_path_interpolates_values_and_slopes():
    """Hermite interpolation through three values and two slopes is exact for a quartic."""

    def f(t):
        return np.array([1.0 - 2.0 * t + 3.0 * t**4, 0.5 * t**2 - t**3])

    def df(t):
        return np.array([-2.0 + 12.0 * t**3, t - 3.0 * t**2])

    path = _SolutionPath()
    path.add(0.0, f(0.0))
    np.testing.assert_allclose(path.predict(0.7), f(0.0))
    path.add(1.0, f(1.0), df(1.0))
    path.add(0.4, f(0.4), df(0.4))
    path.add(1.0, f(1.0) + 5.0, df(1.0))
    for t in (0.0, 0.37, 0.4, 0.9, 1.0):
        np.testing.assert_allclose(path.predict(t), f(t), rtol=1e-12, atol=1e-12)


def test_solution_path_starts_with_the_slope_of_the_classical_fit():
    """The slope at ``lam = 0`` (labelled Hessian, unlabelled probabilities) is the
    derivative of the logistic PPI estimate in ``lam``: a second-order one-sided
    difference quotient with step 1e-4 agrees to its error, about 1e-8."""
    from shiftguard.inference.ppi import _RegressionData

    rng = np.random.default_rng(3)

    def draw(m: int):
        X = np.column_stack([np.ones(m), rng.normal(size=(m, 2)), rng.poisson(2.0, m)])
        y = (rng.random(m) < expit(X @ np.array([-0.5, 1.0, -0.7, 0.2]))).astype(float)
        return X, y, np.where(rng.random(m) < 0.75, y, rng.random(m))

    X, y, yhat = draw(200)
    Xu, _, yhat_u = draw(3000)
    data = _RegressionData("logistic", X, y, yhat, Xu, yhat_u)
    slope = data.logistic_path.predict(1.0) - data.classical_fit
    step = 1e-4
    at_0, at_h, at_2h = (data.estimate(lam) for lam in (0.0, step, 2.0 * step))
    quotient = (-3.0 * at_0 + 4.0 * at_h - at_2h) / (2.0 * step)
    np.testing.assert_allclose(slope, quotient, rtol=1e-5, atol=1e-7)
    assert np.abs(slope).max() > 1e-2


@pytest.mark.parametrize("df", [0.7, 1.0, 1.3, 2.0, 3.5, 9.0, 41.7, 199.0, 200.0, 5e3, 1e8])
def test_t_quantile_equals_scipy(df):
    """Newton on the incomplete beta below 200 degrees of freedom, the Cornish-Fisher
    expansion from 200 on; no scipy at run time."""
    from scipy import stats

    from shiftguard.inference._sandwich import t_quantile

    for alpha in (0.8, 0.5, 0.1, 0.05, 0.01, 0.001):
        two_sided = t_quantile(alpha, "two-sided", df)
        one_sided = t_quantile(alpha, "greater", df)
        assert two_sided == pytest.approx(stats.t.isf(alpha / 2, df), rel=1e-9)
        assert one_sided == pytest.approx(stats.t.isf(alpha, df), rel=1e-9, abs=1e-15)
    assert t_quantile(0.05, "two-sided", np.inf) == pytest.approx(stats.norm.isf(0.025))


def test_t_quantile_rejects_non_positive_degrees_of_freedom():
    from shiftguard.errors import ParameterError
    from shiftguard.inference._sandwich import t_quantile

    with pytest.raises(ParameterError, match="degrees of freedom"):
        t_quantile(0.05, "two-sided", 0.0)
