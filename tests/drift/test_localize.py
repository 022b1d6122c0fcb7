"""Unit tests of shiftguard.drift.localize: the Gaussian statistic against explicit regressions,
conditional shifts that marginal tests miss, real data, and the error paths."""

from __future__ import annotations

import json

import numpy as np
import pytest

from shiftguard.drift.localize import localize_shift
from shiftguard.errors import InputError, ParameterError
from shiftguard.stats.ks import ks_test
from shiftguard.stats.multiple import adjust_pvalues


def _rss(target: np.ndarray, others: np.ndarray) -> float:
    design = np.column_stack([np.ones(len(target)), others])
    coef, *_ = np.linalg.lstsq(design, target, rcond=None)
    return float(np.sum((target - design @ coef) ** 2))


def test_gaussian_statistic_is_chows_predictive_f_from_explicit_regressions(rng):
    n, m, d = 60, 45, 4
    ref = rng.normal(size=(n, d)) @ rng.normal(size=(d, d))
    cur = rng.normal(size=(m, d)) @ rng.normal(size=(d, d))
    res = localize_shift(ref, cur, n_bootstrap=9, seed=0)
    pooled = np.vstack([ref, cur])
    for j, feature in enumerate(res.features):
        others = [k for k in range(d) if k != j]
        rss_ref = _rss(ref[:, j], ref[:, others])
        rss_pool = _rss(pooled[:, j], pooled[:, others])
        f = ((rss_pool - rss_ref) / m) / (rss_ref / (n - d))
        assert feature.statistic == pytest.approx(abs(np.log(f)), rel=1e-8)


def _correlation_flip(rng: np.random.Generator, n: int, d: int = 5):
    """x0, x1 standard normal with correlation +0.8 (reference) or -0.8 (current)."""
    cov = np.eye(d)
    cov[0, 1] = cov[1, 0] = 0.8
    flipped = cov.copy()
    flipped[0, 1] = flipped[1, 0] = -0.8
    return (rng.multivariate_normal(np.zeros(d), cov, size=n),
            rng.multivariate_normal(np.zeros(d), flipped, size=n))


@pytest.mark.parametrize("method", ["gaussian", "knn"])
def test_flipped_correlation_is_localised_while_marginal_ks_sees_nothing(method):
    rng = np.random.default_rng(3)
    ref, cur = _correlation_flip(rng, 400)
    res = localize_shift(ref, cur, method=method, names=list("abcde"), seed=4)
    assert set(res.flagged) == {"a", "b"}
    assert sorted(f.rank for f in res.features if f.name in "ab") == [1, 2]
    marginal = [ks_test(ref[:, j], cur[:, j]).pvalue for j in range(5)]
    assert not np.any(adjust_pvalues(marginal, "holm") <= 0.05)


def test_real_data_permuted_column_is_found_and_marginals_are_unchanged():
    # Diabetes data: in the current half, s2 (LDL) is shuffled across rows. Its marginal is
    # untouched, but its link to s1 (total cholesterol, r = 0.9) is broken.
    from sklearn.datasets import load_diabetes

    data = load_diabetes()
    x = data.data
    order = np.random.default_rng(0).permutation(len(x))
    ref, cur = x[order[:221]], x[order[221:]].copy()
    s2 = data.feature_names.index("s2")
    cur[:, s2] = np.random.default_rng(1).permutation(cur[:, s2])
    res = localize_shift(ref, cur, names=data.feature_names, seed=2)
    assert "s2" in res.flagged
    assert res.features[s2].rank <= 2
    assert ks_test(ref[:, s2], cur[:, s2]).pvalue > 0.05
    null = localize_shift(x[order[:221]], x[order[221:]], names=data.feature_names, seed=2)
    assert null.flagged == ()


def test_result_fields_ranks_and_json(rng):
    ref, cur = _correlation_flip(rng, 200)
    res = localize_shift(ref, cur, seed=1, n_bootstrap=99)
    assert sorted(f.rank for f in res.features) == [1, 2, 3, 4, 5]
    assert [f.name for f in res.features] == ["0", "1", "2", "3", "4"]
    assert all(f.pvalue_adjusted >= f.pvalue for f in res.features)
    assert all((f.pvalue_adjusted <= 0.05) == f.flagged for f in res.features)
    assert min(f.pvalue for f in res.features) == pytest.approx(1 / 100)
    json.dumps(res.to_dict())
    assert res.to_dict()["features"][0]["name"] == "0"
    assert localize_shift(ref, cur, seed=1, n_bootstrap=99) == res


def test_bad_input_raises_typed_errors_naming_the_problem(rng):
    ref = rng.normal(size=(40, 3))
    with pytest.raises(InputError, match="columns"):
        localize_shift(ref, rng.normal(size=(40, 2)))
    bad = ref.copy()
    bad[0, 2] = np.nan
    with pytest.raises(InputError, match="NaN"):
        localize_shift(ref, bad)
    constant = ref.copy()
    constant[:, 1] = 5.0
    with pytest.raises(InputError, match="'b'.*constant"):
        localize_shift(constant, ref, names=["a", "b", "c"])
    collinear = ref.copy()
    collinear[:, 2] = ref[:, 0] - 2 * ref[:, 1]
    with pytest.raises(InputError, match="singular.*'a', 'b', 'c'"):
        localize_shift(collinear, ref, names=["a", "b", "c"])
    with pytest.raises(InputError, match="more reference rows"):
        localize_shift(ref[:4], ref)
    with pytest.raises(InputError, match="names"):
        localize_shift(ref, ref, names=["a"])
    with pytest.raises(InputError, match="at least 2 features"):
        localize_shift(ref[:, :1], ref[:, :1], method="knn")
    with pytest.raises(ParameterError, match="method"):
        localize_shift(ref, ref, method="flow")
    with pytest.raises(ParameterError, match="correction"):
        localize_shift(ref, ref, correction="sidak")
    with pytest.raises(ParameterError, match="alpha"):
        localize_shift(ref, ref, alpha=1.5)
