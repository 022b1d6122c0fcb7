"""DSL: reductions to textbook estimators, interfaces and typed errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats
from sklearn.linear_model import LinearRegression, LogisticRegression

from shiftguard.errors import EstimatorError, InputError, ParameterError
from shiftguard.inference import cross_fit_predictions, dsl, dsl_formula, parse_formula
from shiftguard.inference._sandwich import expit


def _documents(seed: int, n: int = 600, pi: float = 0.3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    y = (rng.random(n) < expit(-0.2 + X @ np.array([1.0, -0.5]))).astype(float)
    surrogate = np.where(rng.random(n) < 0.85, y, 1.0 - y)
    sample_prob = np.full(n, pi)
    labeled = rng.random(n) < sample_prob
    return X, np.where(labeled, y, np.nan), surrogate, sample_prob, labeled


def test_fully_labelled_ols_is_ols_with_hc0_errors():
    """With every row labelled and pi = 1 the pseudo-outcome is y itself."""
    X, y, surrogate, _, _ = _documents(1)
    y = np.where(np.isnan(y), surrogate, y)
    res = dsl(y, X, surrogate, np.ones(len(y)), np.ones(len(y), bool), seed=0)
    ref = sm.OLS(y, sm.add_constant(X)).fit(cov_type="HC0")
    np.testing.assert_allclose(res.estimate, ref.params, rtol=1e-10)
    np.testing.assert_allclose(res.stderr, ref.bse, rtol=1e-8)
    assert res.names == ("intercept", "x0", "x1")


def test_fully_labelled_logistic_is_logit_with_hc0_errors():
    X, y, surrogate, _, _ = _documents(2)
    y = np.where(np.isnan(y), surrogate, y)
    res = dsl(y, X, surrogate, np.ones(len(y)), model="logistic", seed=0)
    ref = sm.Logit(y, sm.add_constant(X)).fit(disp=0, cov_type="HC0", tol=1e-12)
    np.testing.assert_allclose(res.estimate, ref.params, rtol=1e-7)
    np.testing.assert_allclose(res.stderr, ref.bse, rtol=1e-6)


def test_cluster_robust_errors_match_statsmodels_without_small_sample_factor():
    X, y, surrogate, _, _ = _documents(3)
    y = np.where(np.isnan(y), surrogate, y)
    clusters = np.arange(len(y)) % 37
    res = dsl(y, X, surrogate, np.ones(len(y)), cluster=clusters, seed=0)
    ref = sm.OLS(y, sm.add_constant(X)).fit(
        cov_type="cluster", cov_kwds={"groups": clusters, "use_correction": False}
    )
    np.testing.assert_allclose(res.stderr, ref.bse, rtol=1e-8)


def test_fixed_effects_equal_dummy_regression_coefficients():
    X, y, surrogate, pi, labeled = _documents(4)
    groups = np.arange(len(X)) % 6
    res = dsl(y, X, surrogate, pi, labeled, fixed_effects=groups, seed=3, small_sample=False)
    # The same pseudo-outcomes regressed on X plus group dummies give the same slopes.
    g = cross_fit_predictions(
        np.column_stack([surrogate, X]), np.nan_to_num(y), labeled, seed=3
    )
    pseudo = g + labeled / pi * (np.nan_to_num(y) - g)
    dummies = (groups[:, None] == np.arange(6)).astype(float)
    ref = sm.OLS(pseudo, np.column_stack([X, dummies])).fit(cov_type="HC0")
    np.testing.assert_allclose(res.estimate, ref.params[:2], rtol=1e-9)
    np.testing.assert_allclose(res.stderr, ref.bse[:2], rtol=1e-8)
    assert res.method == "dsl_ols_fixed_effects"


@pytest.mark.parametrize("as_table", [False, True])
def test_two_way_fixed_effects_equal_dummy_regression_coefficients(as_table):
    """Unit and period effects (an unbalanced panel: the groupings are not orthogonal, so
    the demeaning must alternate until it converges)."""
    X, y, surrogate, pi, labeled = _documents(4)
    rng = np.random.default_rng(11)
    unit = rng.integers(0, 15, len(X))
    period = rng.integers(0, 7, len(X))
    groupings = np.column_stack([unit, period]) if as_table else [unit, period]
    res = dsl(y, X, surrogate, pi, labeled, fixed_effects=groupings, seed=3, small_sample=False)
    g = cross_fit_predictions(
        np.column_stack([surrogate, X]), np.nan_to_num(y), labeled, seed=3
    )
    pseudo = g + labeled / pi * (np.nan_to_num(y) - g)
    dummies = np.column_stack([
        (unit[:, None] == np.arange(15)).astype(float),
        (period[:, None] == np.arange(1, 7)).astype(float),  # one period dropped
    ])
    ref = sm.OLS(pseudo, np.column_stack([X, dummies])).fit(cov_type="HC0")
    np.testing.assert_allclose(res.estimate, ref.params[:2], rtol=1e-8)
    np.testing.assert_allclose(res.stderr, ref.bse[:2], rtol=1e-8)
    with pytest.raises(InputError, match="absorbed by the fixed effects"):
        dsl(y, np.column_stack([X, unit % 3 + period]), surrogate, pi, labeled,
            fixed_effects=groupings, seed=3)


def test_mean_of_pseudo_outcomes_and_its_standard_error():
    X, y, surrogate, pi, labeled = _documents(5)
    res = dsl(y, None, surrogate, pi, labeled, model="mean", seed=1, small_sample=False)
    g = cross_fit_predictions(surrogate[:, None], np.nan_to_num(y), labeled, seed=1)
    pseudo = g + labeled / pi * (np.nan_to_num(y) - g)
    assert res.estimate == pytest.approx(pseudo.mean(), rel=1e-12)
    assert res.stderr == pytest.approx(pseudo.std() / np.sqrt(len(pseudo)), rel=1e-10)


def test_unequal_sampling_probabilities_are_used():
    X, y_full, surrogate, _, _ = _documents(6)
    y_full = np.where(np.isnan(y_full), surrogate, y_full)
    rng = np.random.default_rng(0)
    pi = np.where(surrogate == 1.0, 0.6, 0.2)
    labeled = rng.random(len(pi)) < pi
    y = np.where(labeled, y_full, np.nan)
    equal = dsl(y, X, surrogate, np.full(len(pi), 0.4), labeled, seed=0)
    design = dsl(y, X, surrogate, pi, labeled, seed=0)
    assert not np.allclose(equal.estimate, design.estimate)


def test_sklearn_learner_is_cloned_and_used():
    X, y, surrogate, pi, labeled = _documents(7)
    learner = LogisticRegression()
    res = dsl(y, X, surrogate, pi, labeled, model="logistic", learner=learner, seed=0)
    assert not hasattr(learner, "coef_")
    assert np.all(np.isfinite(res.stderr))
    reg = dsl(y, X, surrogate, pi, labeled, learner=LinearRegression(), seed=0)
    default = dsl(y, X, surrogate, pi, labeled, seed=0)
    # LinearRegression is the default least-squares learner.
    np.testing.assert_allclose(reg.estimate, default.estimate, rtol=1e-9)


def test_learner_without_predict_is_rejected():
    X, y, surrogate, pi, labeled = _documents(8)
    with pytest.raises(EstimatorError, match=r"no fit\(\) method"):
        dsl(y, X, surrogate, pi, labeled, learner=object(), seed=0)


def test_same_seed_same_result_different_seed_different_folds():
    X, y, surrogate, pi, labeled = _documents(9)
    a = dsl(y, X, surrogate, pi, labeled, seed=11)
    b = dsl(y, X, surrogate, pi, labeled, seed=11)
    c = dsl(y, X, surrogate, pi, labeled, seed=12)
    np.testing.assert_array_equal(a.estimate, b.estimate)
    assert not np.array_equal(a.estimate, c.estimate)


def test_formula_interface_matches_arrays():
    X, y, surrogate, pi, labeled = _documents(10)
    groups = np.array(["a", "b", "c"])[np.arange(len(y)) % 3]
    table = pd.DataFrame(
        {"y": y, "x0": X[:, 0], "x1": X[:, 1], "g": groups, "llm": surrogate, "pi": pi,
         "lab": labeled}
    )
    res = dsl_formula(
        "y ~ x0 + x1 + C(g)", table, surrogates=["llm"], sample_prob="pi", labeled="lab",
        model="logistic", seed=4,
    )
    dummies = np.column_stack([groups == "b", groups == "c"]).astype(float)
    ref = dsl(
        y, np.column_stack([X, dummies]), surrogate, pi, labeled, model="logistic", seed=4
    )
    np.testing.assert_allclose(res.estimate, ref.estimate, rtol=1e-12)
    assert res.names == ("intercept", "x0", "x1", "g[b]", "g[c]")
    as_dict = dsl_formula(
        "y ~ x0 + x1 + C(g)", {c: table[c].to_numpy() for c in table},
        surrogates=["llm"], sample_prob="pi", labeled="lab", model="logistic", seed=4,
    )
    np.testing.assert_array_equal(as_dict.estimate, res.estimate)


def test_formula_takes_one_or_several_fixed_effect_columns():
    X, y, surrogate, pi, labeled = _documents(12)
    unit, year = np.arange(len(y)) % 9, np.arange(len(y)) % 4
    table = {"y": y, "x0": X[:, 0], "x1": X[:, 1], "llm": surrogate, "pi": pi, "lab": labeled,
             "unit": unit, "year": year}
    for names, groupings in ((["unit", "year"], [unit, year]), ("unit", unit)):
        res = dsl_formula("y ~ x0 + x1", table, surrogates=["llm"], sample_prob="pi",
                          labeled="lab", fixed_effects=names, seed=2)
        ref = dsl(y, X, surrogate, pi, labeled, fixed_effects=groupings, seed=2,
                  add_intercept=False, names=["x0", "x1"])
        np.testing.assert_array_equal(res.estimate, ref.estimate)
        assert res.names == ("x0", "x1")


def test_formula_without_intercept_and_for_the_mean():
    data = {"y": np.array([1.0, 2.0, 3.0]), "x": np.array([0.5, 1.0, 2.0])}
    _, X, names, intercept = parse_formula("y ~ x - 1", data)
    assert names == ["x"] and not intercept and X.shape == (3, 1)
    assert parse_formula("y ~ 0 + x", data)[3] is False
    X_, y, surrogate, pi, labeled = _documents(11)
    table = {"y": y, "s": surrogate, "pi": pi}
    res = dsl_formula("y ~ 1", table, surrogates=["s"], sample_prob="pi", model="mean", seed=0)
    ref = dsl(y, None, surrogate, pi, model="mean", seed=0)
    assert res.estimate == ref.estimate


@pytest.mark.parametrize(
    ("formula", "match"),
    [("y = x", "formula"), ("y ~ x + z", "'z'"), ("y ~ x - x", "removed")],
)
def test_bad_formula_raises(formula, match):
    data = {"y": np.zeros(3), "x": np.ones(3)}
    with pytest.raises((ParameterError, InputError), match=match):
        parse_formula(formula, data)


def test_sampling_probability_outside_unit_interval_is_rejected():
    X, y, surrogate, pi, labeled = _documents(12)
    for bad in (0.0, 1.2, np.nan):
        pi_bad = pi.copy()
        pi_bad[5] = bad
        with pytest.raises(InputError, match="sample_prob"):
            dsl(y, X, surrogate, pi_bad, labeled)


def test_labelled_row_without_gold_label_is_rejected():
    X, y, surrogate, pi, labeled = _documents(13)
    labeled = labeled.copy()
    first_unlabelled = int(np.flatnonzero(~labeled)[0])
    labeled[first_unlabelled] = True
    with pytest.raises(InputError, match=f"'y'.*first at position {first_unlabelled}"):
        dsl(y, X, surrogate, pi, labeled)


@pytest.mark.parametrize("argument", ["X", "surrogates", "sample_prob", "labeled"])
def test_mismatched_lengths_are_rejected(argument):
    X, y, surrogate, pi, labeled = _documents(14)
    args = {"X": X, "surrogates": surrogate, "sample_prob": pi, "labeled": labeled}
    args[argument] = args[argument][:-3]
    with pytest.raises(InputError, match=f"'{argument}'.*rows but y has"):
        dsl(y, **args)


def test_too_few_labelled_rows_for_cross_fitting():
    X, y, surrogate, pi, _ = _documents(15, n=200)
    labeled = np.zeros(200, bool)
    labeled[:8] = True
    y = np.where(labeled, 1.0, np.nan)
    with pytest.raises(InputError, match="too few labelled rows"):
        dsl(y, X, surrogate, pi, labeled, seed=0)


def test_other_bad_arguments():
    X, y, surrogate, pi, labeled = _documents(16)
    with pytest.raises(ParameterError, match="model"):
        dsl(y, X, surrogate, pi, labeled, model="probit")
    with pytest.raises(ParameterError, match="fixed_effects"):
        dsl(y, X, surrogate, pi, labeled, model="logistic", fixed_effects=np.zeros(len(y)))
    with pytest.raises(InputError, match="'labeled'"):
        dsl(y, X, surrogate, pi, np.full(len(y), 2))
    with pytest.raises(InputError, match="'X'"):
        dsl(y, None, surrogate, pi, labeled)
    y_bad = y.copy()
    y_bad[np.flatnonzero(labeled)[0]] = 3.0
    with pytest.raises(InputError, match="\\[0, 1\\]"):
        dsl(y_bad, X, surrogate, pi, labeled, model="logistic")
    with pytest.raises(InputError, match="constant within"):
        dsl(y, np.column_stack([X, np.arange(len(y)) % 4]), surrogate, pi, labeled,
            fixed_effects=np.arange(len(y)) % 4)


def test_learner_slopes_are_the_derivative_of_the_estimate_in_each_gold_label():
    """With the least-squares learner DSL-OLS is linear in the gold labels: a unit change
    of ``y_i`` moves the estimate by ``(X'X)^-1 (x_i / pi_i + learner slope_i)``."""
    from shiftguard.inference.dsl import _cross_fit, _learner_slopes

    X, y, surrogate, pi, labeled = _documents(17, n=400)
    pi = np.where(surrogate == 1.0, 0.15, 0.05)
    labeled = np.random.default_rng(1).random(len(pi)) < pi
    y = np.where(labeled, np.nan_to_num(y, nan=0.0), np.nan)
    base = dsl(y, X, surrogate, pi, labeled, seed=5).estimate
    predictors = np.column_stack([surrogate, X])
    _, folds, fits = _cross_fit(predictors, np.nan_to_num(y), labeled, None, 5, 5)
    design = np.column_stack([np.ones(len(y)), X])
    slopes = _learner_slopes(design, predictors, labeled, pi, folds, fits)
    for i in np.flatnonzero(labeled)[:5]:
        moved = y.copy()
        moved[i] += 1.0
        change = dsl(moved, X, surrogate, pi, labeled, seed=5).estimate - base
        expected = np.linalg.solve(design.T @ design, design[i] / pi[i] + slopes[i])
        np.testing.assert_allclose(change, expected, rtol=1e-7, atol=1e-12)
        # The learner's share is not negligible with some 40 gold labels.
        assert np.abs(slopes[i]).max() > 0.05 * np.abs(design[i] / pi[i]).max()
    assert np.all(slopes[~labeled] == 0.0)


def test_small_sample_interval_uses_the_effective_degrees_of_freedom():
    """Fully labelled (the learner term vanishes): the mean's variance is sum e_i^2 / n^2
    and its degrees of freedom (sum e_i^2)^2 / sum e_i^4."""
    rng = np.random.default_rng(3)
    y = rng.exponential(size=80)
    ones = np.ones(80)
    res = dsl(y, None, rng.normal(size=80), ones, ones.astype(bool), model="mean", seed=0)
    resid = y - y.mean()
    assert res.df == pytest.approx((resid @ resid) ** 2 / np.sum(resid**4), rel=1e-10)
    half = stats.t.isf(0.025, res.df) * np.sqrt(resid @ resid) / 80
    assert (res.ci_low, res.ci_high) == pytest.approx((y.mean() - half, y.mean() + half))
    asymptotic = dsl(y, None, rng.normal(size=80), ones, ones.astype(bool), model="mean",
                     seed=0, small_sample=False)
    assert asymptotic.df is None
    assert asymptotic.ci_high - asymptotic.estimate == pytest.approx(
        stats.norm.isf(0.025) * asymptotic.stderr
    )


def test_one_heavily_weighted_gold_label_leaves_about_one_degree_of_freedom():
    X, y, surrogate, _, _ = _documents(18, n=2000)
    y = np.where(np.isnan(y), surrogate, y)
    pi = np.full(len(y), 0.5)
    pi[0] = 0.002  # one row labelled against the odds: weight 500
    labeled = np.arange(len(y)) % 2 == 0
    y_obs = np.where(labeled, y, np.nan)
    y_obs[0] = 1.0 - surrogate[0]  # and its gold label disagrees with the surrogate
    res = dsl(y_obs, X, surrogate, pi, labeled, seed=0)
    assert res.df.min() < 2.0
    assert np.all(res.df >= 1.0 - 1e-12)


def test_logistic_without_finite_solution_raises_a_clear_error():
    """Gold labels 0 drawn with probability 0.01 push the mean pseudo-outcome below 0: no
    logistic fit reaches it."""
    rng = np.random.default_rng(4)
    n = 300
    X = rng.normal(size=(n, 1))
    surrogate = (rng.random(n) < 0.7).astype(float)
    y = surrogate.copy()
    labeled = np.zeros(n, bool)
    labeled[:60] = True
    y[:30] = 0.0
    pi = np.where(y == 0.0, 0.01, 0.5)
    with pytest.raises(InputError, match="no finite solution"):
        dsl(np.where(labeled, y, np.nan), X, surrogate, pi, labeled, model="logistic", seed=0)
