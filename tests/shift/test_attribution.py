import json

import numpy as np
import pytest

from shiftguard.errors import InputError, ParameterError, SchemaError
from shiftguard.shift import (
    ClassifierDensityRatio,
    PerformanceAttribution,
    attribute_performance_change,
)


def _data(seed=0, n=600, shift=(0.8, 0.0, 0.0), concept=0.0):
    rng = np.random.default_rng(seed)
    xr = rng.normal(size=(n, 3))
    xc = rng.normal(size=(n, 3)) + np.asarray(shift)

    def labels(x, c):
        return (rng.random(x.shape[0]) < 1 / (1 + np.exp(-(2 * x[:, 0] - x[:, 1] + c)))).astype(
            float)

    return xr, labels(xr, 0.0), xc, labels(xc, concept)


def _zero_one(x, y):
    return ((np.asarray(x)[:, 0] > 0.5) != y).astype(float)


def test_two_players_match_the_importance_weighting_formulas():
    xr, yr, xc, yc = _data(concept=0.7)
    res = attribute_performance_change(_zero_one, xr, yr, xc, yc, n_bootstrap=0)
    lr, lc = _zero_one(xr, yr), _zero_one(xc, yc)
    ratio = ClassifierDensityRatio().fit(xr, xc)
    w_ref, w_cur = ratio.weights(xr), ratio.weights(xc)
    v_none, v_all = lr.mean(), lc.mean()
    v_x = (w_ref * lr).sum() / w_ref.sum()  # reference rows reweighted to p_cur(x)
    v_y = (lc / w_cur).sum() / (1 / w_cur).sum()  # current rows reweighted to p_ref(x)
    expected = [0.5 * ((v_x - v_none) + (v_all - v_y)), 0.5 * ((v_y - v_none) + (v_all - v_x))]
    np.testing.assert_allclose(res.attributions, expected, rtol=1e-9)
    assert res.players == ("P(X)", "P(Y | X)")
    assert res.method == "exact"
    assert np.isnan(res.lower).all() and np.isnan(res.change_lower)


def test_efficiency_exact_and_sampled_and_sampling_converges():
    xr, yr, xc, yc = _data(seed=1, shift=(0.6, -0.4, 0.5), concept=0.5)
    groups = [[0], [1], [2]]
    exact = attribute_performance_change(_zero_one, xr, yr, xc, yc, groups=groups,
                                         n_bootstrap=0)
    sampled = attribute_performance_change(_zero_one, xr, yr, xc, yc, groups=groups,
                                           n_bootstrap=0, max_exact_players=2,
                                           n_permutations=4000, seed=5)
    again = attribute_performance_change(_zero_one, xr, yr, xc, yc, groups=groups,
                                         n_bootstrap=0, max_exact_players=2,
                                         n_permutations=4000, seed=5)
    assert exact.method == "exact" and sampled.method == "permutation"
    for res in (exact, sampled):
        assert res.attributions.sum() == pytest.approx(res.change, abs=1e-12)
        assert res.change == pytest.approx(_zero_one(xc, yc).mean() - _zero_one(xr, yr).mean())
    np.testing.assert_allclose(sampled.attributions, exact.attributions, atol=2e-3)
    np.testing.assert_array_equal(sampled.attributions, again.attributions)


def test_loss_pair_dataframes_and_named_groups():
    pd = pytest.importorskip("pandas")
    xr, yr, xc, yc = _data(seed=2)
    names = ["age", "income", "tenure"]
    df_r, df_c = pd.DataFrame(xr, columns=names), pd.DataFrame(xc, columns=names)
    from_arrays = attribute_performance_change(
        (_zero_one(xr, yr), _zero_one(xc, yc)), xr, None, xc, None, groups=[[0, 2], [1]],
        n_bootstrap=0)
    def by_name(frame, y):  # the callable gets each frame as given, columns in any order
        return _zero_one(frame[names].to_numpy(), y)

    from_frames = attribute_performance_change(
        by_name, df_r, yr, df_c[["tenure", "age", "income"]], yc,
        groups=[["age", "tenure"], ["income"]], n_bootstrap=0)
    np.testing.assert_allclose(from_frames.attributions, from_arrays.attributions, rtol=1e-9)
    assert from_frames.players == ("P(age, tenure)", "P(income | age, tenure)", "P(Y | X)")
    assert from_frames.groups == (("age", "tenure"), ("income",))


def test_bootstrap_intervals_and_json():
    xr, yr, xc, yc = _data(seed=3)
    res = attribute_performance_change(_zero_one, xr, yr, xc, yc, n_bootstrap=40, alpha=0.1,
                                       seed=0)
    assert isinstance(res, PerformanceAttribution)
    assert (res.lower <= res.upper).all() and res.change_lower <= res.change_upper
    assert res.overlap_ref.n == xr.shape[0] and 0 < res.overlap_ref.ess_fraction <= 1
    assert res.overlap_cur.n == xc.shape[0] and 0 < res.overlap_cur.ess_fraction <= 1
    payload = res.to_dict()
    json.dumps(payload)
    assert payload["players"] == ["P(X)", "P(Y | X)"] and len(payload["lower"]) == 2
    same = attribute_performance_change(_zero_one, xr, yr, xc, yc, n_bootstrap=40, alpha=0.1,
                                        seed=0)
    np.testing.assert_array_equal(same.lower, res.lower)


class _UnitRatio:
    """No covariate shift: every density ratio is 1."""

    def fit(self, X_source, X_target):
        return self

    def weights(self, X):
        return np.ones(len(X))


def test_interval_ends_are_the_b_plus_one_alpha_order_statistics():
    xr, yr, xc, yc = _data(seed=7, n=200)
    lr, lc = _zero_one(xr, yr), _zero_one(xc, yc)
    res = attribute_performance_change((lr, lc), xr, None, xc, None, density_ratio=_UnitRatio(),
                                       n_bootstrap=39, alpha=0.1, seed=11)
    # unit weights: P(X) gets nothing and P(Y | X) the whole change, in every replicate
    rng = np.random.default_rng(11)
    change = np.empty(39)
    for b in range(39):
        ir, ic = rng.integers(0, 200, 200), rng.integers(0, 200, 200)
        change[b] = lc[ic].mean() - lr[ir].mean()
    ordered = np.sort(change)
    # (B + 1) alpha / 2 = 2: the second smallest and second largest replicates, not numpy's
    # default 0.05 quantile (2.9th smallest), which would give a narrower interval
    expected = [ordered[1], ordered[-2]]
    np.testing.assert_allclose([res.change_lower, res.change_upper], expected, atol=1e-12)
    np.testing.assert_allclose([res.lower[1], res.upper[1]], expected, atol=1e-12)
    np.testing.assert_allclose([res.lower[0], res.upper[0]], [0.0, 0.0], atol=1e-12)


def test_real_data_selection_on_features_is_attributed_to_p_x():
    """Breast cancer rows selected into 'current' by a feature: P(Y|X) does not change."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    data = load_breast_cancer()
    cols = [0, 1, 4, 26, 28]  # mean radius, texture, smoothness; worst concavity, symmetry
    x = (data.data[:, cols] - data.data[:, cols].mean(0)) / data.data[:, cols].std(0)
    y = data.target
    rng = np.random.default_rng(0)
    train = rng.random(y.size) < 0.35
    model = LogisticRegression(C=0.05).fit(x[train], y[train])
    rest = np.flatnonzero(~train)
    # selection depends on x only (mean texture), so P(Y | X) is the same in both samples
    to_cur = rng.random(rest.size) < 1 / (1 + np.exp(-1.5 * x[rest, 1]))
    ref, cur = rest[~to_cur], rest[to_cur]

    def log_loss(xx, yy):
        p = model.predict_proba(xx)[:, 1]
        return -(yy * np.log(p) + (1 - yy) * np.log(1 - p))

    res = attribute_performance_change(log_loss, x[ref], y[ref], x[cur], y[cur],
                                       n_bootstrap=100, alpha=0.05, seed=0)
    assert res.attributions.sum() == pytest.approx(res.change, abs=1e-12)
    assert res.lower[1] <= 0.0 <= res.upper[1]
    # contrast: selection on the label changes P(Y | X), and the attribution sees it
    to_cur = rng.random(rest.size) < 1 / (1 + np.exp(-1.5 * (2 * y[rest] - 1)))
    ref, cur = rest[~to_cur], rest[to_cur]
    res = attribute_performance_change(log_loss, x[ref], y[ref], x[cur], y[cur],
                                       n_bootstrap=100, alpha=0.05, seed=0)
    assert res.upper[1] < 0.0 or res.lower[1] > 0.0


def test_bad_input_is_named():
    pd = pytest.importorskip("pandas")
    xr, yr, xc, yc = _data(seed=4, n=100)
    df_r = pd.DataFrame(xr, columns=["a", "b", "c"])
    with pytest.raises(SchemaError, match="missing from X_cur: \\['c'\\]"):
        attribute_performance_change(_zero_one, df_r, yr,
                                     pd.DataFrame(xc, columns=["a", "b", "d"]), yc)
    with pytest.raises(SchemaError, match="3 columns but X_cur has 2"):
        attribute_performance_change((yr, yc), xr, None, xc[:, :2], None)
    with pytest.raises(ParameterError, match="\\['c'\\] in no group"):
        attribute_performance_change(_zero_one, df_r, yr, df_r, yr, groups=[["a"], ["b"]])
    with pytest.raises(ParameterError, match="'b' is in group 0 and again in group 1"):
        attribute_performance_change(_zero_one, df_r, yr, df_r, yr,
                                     groups=[["a", "b"], ["b", "c"]])
    with pytest.raises(ParameterError, match="unknown feature 'z'"):
        attribute_performance_change(_zero_one, df_r, yr, df_r, yr, groups=[["a", "b", "z"]])
    text = df_r.assign(b=np.where(xr[:, 1] > 0, "high", "low"))
    with pytest.raises(InputError, match="column 'b': X_ref holds non-numeric"):
        attribute_performance_change((yr, yr), text, None, df_r, None)
    with pytest.raises(InputError, match="at least 20 rows"):
        attribute_performance_change(_zero_one, xr[:10], yr[:10], xc, yc)
    with pytest.raises(ParameterError, match="n_bootstrap"):
        attribute_performance_change(_zero_one, xr, yr, xc, yc, n_bootstrap=5, alpha=0.1)
    with pytest.raises(InputError, match="loss_cur"):
        attribute_performance_change((yr, yc[:50]), xr, None, xc, None)
    with pytest.raises(ParameterError, match="loss must be"):
        attribute_performance_change(yr, xr, None, xc, None)


class _InfiniteRatio:
    """A ratio estimator whose supports do not overlap: infinite weight on some rows."""

    def fit(self, X_source, X_target):
        return self

    def weights(self, X):
        return np.where(X[:, 0] > 1.0, np.inf, 1.0)


def test_infinite_density_ratio_is_a_typed_error():
    xr, yr, xc, yc = _data(seed=5, n=100)
    with pytest.raises(InputError, match="infinite, zero or NaN"):
        attribute_performance_change(_zero_one, xr, yr, xc, yc, density_ratio=_InfiniteRatio(),
                                     n_bootstrap=0)


def test_barely_overlapping_supports_warn():
    from shiftguard.shift import ShiftWarning

    rng = np.random.default_rng(6)
    xr, xc = rng.normal(size=(300, 1)), rng.normal(3.0, 1.0, size=(300, 1))
    losses = (rng.random(300), rng.random(300))
    with pytest.warns(ShiftWarning, match="barely overlap"):
        res = attribute_performance_change(losses, xr, None, xc, None, n_bootstrap=0)
    assert res.overlap_ref.low_overlap and res.overlap_cur.low_overlap
