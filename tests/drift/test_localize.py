"""Unit tests of shiftguard.drift.localize: each statistic's building blocks against explicit
regressions and scikit-learn, the Westfall-Young step-down against a direct loop, the kNN
graphs against brute force, the automatic choices, real data, and the error paths."""

from __future__ import annotations

import json

import numpy as np
import pytest

from shiftguard.drift import localize
from shiftguard.drift.localize import localize_shift
from shiftguard.errors import InputError, ParameterError
from shiftguard.stats.ks import ks_test
from shiftguard.stats.multiple import adjust_pvalues


def _residuals(target: np.ndarray, others: np.ndarray) -> np.ndarray:
    design = np.column_stack([np.ones(len(target)), others])
    coef, *_ = np.linalg.lstsq(design, target, rcond=None)
    return target - design @ coef


def _centred_sscp(rows: np.ndarray) -> np.ndarray:
    centred = rows - rows.mean(axis=0)
    return (centred.T @ centred)[None]


def test_chow_component_is_the_predictive_f_of_explicit_regressions(rng):
    n, m, d = 60, 45, 4
    ref = rng.normal(size=(n, d)) @ rng.normal(size=(d, d))
    cur = rng.normal(size=(m, d)) @ rng.normal(size=(d, d))
    pooled = np.vstack([ref, cur])
    log_f = localize._log_f(
        localize._conditional_rss(_centred_sscp(ref)),
        localize._conditional_rss(_centred_sscp(pooled)), n, m,
    )[0]
    for j in range(d):
        others = [k for k in range(d) if k != j]
        rss_ref = np.sum(_residuals(ref[:, j], ref[:, others]) ** 2)
        rss_pool = np.sum(_residuals(pooled[:, j], pooled[:, others]) ** 2)
        f = ((rss_pool - rss_ref) / m) / (rss_ref / (n - d))
        assert log_f[j] == pytest.approx(np.log(f), rel=1e-8)


def test_location_component_is_the_t_test_of_a_sample_dummy(rng):
    # Regress x_j on x_-j and a current-sample dummy: the component is the dummy's partial
    # correlation, t / sqrt(t^2 + df) with df = N - d - 1.
    n, m, d = 50, 70, 5
    x = rng.normal(size=(n + m, d)) @ rng.normal(size=(d, d))
    x[n:, 2] += 0.7
    x -= x.mean(axis=0)
    label = (np.arange(n + m) >= n).astype(float)
    partial = localize._label_partial_correlation(x, m, ridge=0.0)(x[n:].sum(axis=0)[None])[0]
    df = n + m - d - 1
    for j in range(d):
        others = [k for k in range(d) if k != j]
        design = np.column_stack([np.ones(n + m), x[:, others], label])
        coef, *_ = np.linalg.lstsq(design, x[:, j], rcond=None)
        resid = x[:, j] - design @ coef
        cov = np.sum(resid**2) / df * np.linalg.inv(design.T @ design)
        t = coef[-1] / np.sqrt(cov[-1, -1])
        assert partial[j] == pytest.approx(t / np.sqrt(t**2 + df), rel=1e-8)


@pytest.mark.parametrize(("rows", "d"), [(60, 8), (20, 50)])
def test_ridge_inverse_gives_sklearn_ridge_errors_with_the_ledoit_wolf_penalty(rng, rows, d):
    # Tall (X'X) and wide (Woodbury through XX') paths.
    from sklearn.covariance import ledoit_wolf_shrinkage
    from sklearn.linear_model import Ridge

    fit = rng.normal(size=(rows, d)) @ rng.normal(size=(d, d)) / 3
    held = rng.normal(size=(9, d))
    centre = fit.mean(axis=0)
    centred = fit - centre
    cross = centred.T @ centred if rows >= d else centred @ centred.T
    shrinkage, target = localize._ledoit_wolf_shrinkage(cross, centred)
    assert shrinkage == pytest.approx(ledoit_wolf_shrinkage(fit), rel=1e-10)
    assert target == pytest.approx(np.trace(centred.T @ centred) / rows / d, rel=1e-12)
    apply_inverse, diagonal = localize._ridge_inverse(centred)
    errors = apply_inverse(held - centre) / diagonal
    penalty = rows * shrinkage * target / (1 - shrinkage)
    for j in (0, d // 2, d - 1):
        others = [k for k in range(d) if k != j]
        model = Ridge(alpha=penalty).fit(fit[:, others], fit[:, j])
        expected = held[:, j] - model.predict(held[:, others])
        np.testing.assert_allclose(errors[:, j], expected, rtol=1e-9, atol=1e-12)


def test_ridge_location_component_matches_the_penalised_augmented_inverse(rng):
    # Wide pooled rows (d > n + m): the Woodbury path equals a direct inverse of
    # [[X'X + r I, X'g], [g'X, g'g]] with the dummy unpenalised.
    size, m, d, ridge = 30, 12, 45, 3.0
    x = rng.normal(size=(size, d))
    x -= x.mean(axis=0)
    g = (np.arange(size) >= size - m) - m / size
    partial = localize._label_partial_correlation(x, m, ridge=ridge)(x[-m:].sum(axis=0)[None])[0]
    z = np.column_stack([x, g])
    penalty = np.diag(np.r_[np.full(d, ridge), 0.0])
    omega = np.linalg.inv(z.T @ z + penalty)
    expected = -omega[:d, d] / np.sqrt(np.diag(omega)[:d] * omega[d, d])
    np.testing.assert_allclose(partial, expected, rtol=1e-8)


def test_westfall_young_equals_the_step_down_loop(rng):
    d, b = 7, 50
    scores = rng.normal(size=d) * 2
    permuted = rng.normal(size=(b, d))
    permuted[:, 3] *= 3  # an unbalanced feature, so successive maxima differ
    adjusted = localize._westfall_young(scores, permuted, np.zeros(d))
    order = np.argsort(-scores)
    expected = np.empty(d)
    running = 0.0
    for k, j in enumerate(order):
        tail = permuted[:, order[k:]].max(axis=1)
        running = max(running, (1 + np.sum(tail >= scores[j])) / (b + 1))
        expected[j] = running
    np.testing.assert_allclose(adjusted, expected)


def test_knn_statistic_equals_brute_force_graphs(rng):
    from sklearn.neighbors import NearestNeighbors

    n, m, d, k, b = 35, 45, 4, 5, 30
    pooled = np.vstack([rng.normal(size=(n, d)), rng.normal(size=(m, d)) + 0.3])
    pooled = (pooled - pooled.mean(axis=0)) / pooled.std(axis=0)
    observed, permuted = localize._knn_statistics(pooled, n, k, b, np.random.default_rng(1))
    # Same random draws as the implementation: the row shuffle, then the relabellings.
    draws = np.random.default_rng(1)
    shuffle = draws.permutation(n + m)
    rows = pooled[shuffle]
    labels = shuffle >= n
    labellings = np.vstack(
        [labels, draws.permuted(np.broadcast_to(labels, (b, n + m)), axis=1)]
    )
    graphs = [
        NearestNeighbors(n_neighbors=k).fit(np.delete(rows, drop, axis=1) if drop >= 0 else rows)
        .kneighbors(return_distance=False)
        for drop in range(-1, d)
    ]
    same = np.stack(
        [(labellings[:, :, None] == labellings[:, g]).mean(axis=(1, 2)) for g in graphs], axis=1
    )
    gain = same[:, :1] - same[:, 1:]
    np.testing.assert_allclose(observed, gain[0], atol=1e-12)
    np.testing.assert_allclose(permuted, gain[1:], atol=1e-12)


def _correlation_flip(rng: np.random.Generator, n: int, d: int = 5):
    """x0, x1 standard normal with correlation +0.8 (reference) or -0.8 (current)."""
    cov = np.eye(d)
    cov[0, 1] = cov[1, 0] = 0.8
    flipped = cov.copy()
    flipped[0, 1] = flipped[1, 0] = -0.8
    return (rng.multivariate_normal(np.zeros(d), cov, size=n),
            rng.multivariate_normal(np.zeros(d), flipped, size=n))


@pytest.mark.parametrize("method", ["gaussian", "ridge", "knn"])
def test_flipped_correlation_is_localised_while_marginal_ks_sees_nothing(method):
    rng = np.random.default_rng(3)
    ref, cur = _correlation_flip(rng, 400)
    res = localize_shift(ref, cur, method=method, names=list("abcde"), seed=4)
    assert set(res.flagged) == {"a", "b"}
    assert sorted(f.rank for f in res.features if f.name in "ab") == [1, 2]
    marginal = [ks_test(ref[:, j], cur[:, j]).pvalue for j in range(5)]
    assert not np.any(adjust_pvalues(marginal, "holm") <= 0.05)


def test_one_shifted_conditional_mean_among_wide_features_is_found():
    # 60 reference rows, 150 features (p > n): the default runs the ridge method and
    # flags feature 7, whose conditional mean given the others moved by 1.5 sd.
    rng = np.random.default_rng(11)
    loadings = rng.normal(size=(3, 150))
    ref = rng.normal(size=(60, 3)) @ loadings + rng.normal(size=(60, 150))
    cur = rng.normal(size=(60, 3)) @ loadings + rng.normal(size=(60, 150))
    cur[:, 7] += 1.5
    res = localize_shift(ref, cur, seed=0)
    assert res.method == "ridge"
    assert "150 features" in res.reason
    assert res.flagged == ("7",)


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
    assert res.method == "gaussian"
    assert "s2" in res.flagged
    assert res.features[s2].rank <= 2
    assert ks_test(ref[:, s2], cur[:, s2]).pvalue > 0.05
    null = localize_shift(x[order[:221]], x[order[221:]], names=data.feature_names, seed=2)
    assert null.flagged == ()


def test_auto_falls_back_to_ridge_for_collinear_or_costly_data(rng):
    ref = rng.normal(size=(200, 3))
    cur = rng.normal(size=(200, 3))
    # A column that is an exact linear function of two others.
    names = ["a", "b", "c", "a-2b"]
    collinear = [np.column_stack([x, x[:, 0] - 2 * x[:, 1]]) for x in (ref, cur)]
    res = localize_shift(*collinear, names=names, seed=0)
    assert res.method == "ridge"
    assert "linearly dependent" in res.reason and "'a-2b'" in res.reason
    with pytest.raises(InputError, match="singular.*'a', 'b', 'a-2b'"):
        localize_shift(*collinear, method="gaussian", names=names)
    # 400 features with 900 + 900 rows: enough rows, but 199 refits would cost ~1e11
    # operations.
    tall = rng.normal(size=(1800, 400))
    costly = localize_shift(tall[:900], tall[900:], seed=0)
    assert costly.method == "ridge" and "floating-point operations" in costly.reason
    assert localize_shift(ref, cur, seed=0).method == "gaussian"


def test_permutation_count_and_smallest_adjusted_pvalue_follow_the_correction(rng):
    ref, cur = rng.normal(size=(80, 12)), rng.normal(size=(80, 12))
    wy = localize_shift(ref, cur, seed=0)
    assert wy.correction == "westfall_young"
    assert wy.n_permutations == 199
    assert wy.min_pvalue_adjusted == pytest.approx(1 / 200)
    holm = localize_shift(ref, cur, correction="holm", seed=0)
    assert holm.n_permutations == 20 * 12 * 20 - 1  # ceil(20 d / alpha) - 1
    assert holm.min_pvalue_adjusted == pytest.approx(12 / 4800)
    assert localize_shift(ref, cur, alpha=0.01, seed=0).n_permutations == 999
    by = localize_shift(ref, cur, correction="by", n_permutations=99, seed=0)
    harmonic = np.sum(1 / np.arange(1, 13))
    assert by.min_pvalue_adjusted == pytest.approx(min(1.0, 12 * harmonic / 100))
    # Holm's cap: with 199 permutations and 12 features nothing can be flagged.
    powerless = localize_shift(ref, cur, correction="holm", n_permutations=199, seed=0)
    assert powerless.min_pvalue_adjusted == pytest.approx(12 / 200)
    assert powerless.min_pvalue_adjusted > powerless.alpha


def test_result_fields_ranks_json_and_determinism(rng):
    ref, cur = _correlation_flip(rng, 200)
    res = localize_shift(ref, cur, seed=1, n_permutations=99)
    assert sorted(f.rank for f in res.features) == [1, 2, 3, 4, 5]
    assert [f.name for f in res.features] == ["0", "1", "2", "3", "4"]
    assert all(f.pvalue_adjusted >= f.pvalue for f in res.features)
    assert all((f.pvalue_adjusted <= 0.05) == f.flagged for f in res.features)
    assert min(f.pvalue for f in res.features) == pytest.approx(1 / 100)
    assert res.n_permutations == 99 and res.method == "gaussian"
    data = json.loads(json.dumps(res.to_dict()))
    assert data["features"][0]["name"] == "0"
    assert data["reason"] == res.reason
    for method in ("gaussian", "ridge", "knn"):
        first = localize_shift(ref, cur, method=method, seed=1, n_permutations=49)
        assert localize_shift(ref, cur, method=method, seed=1, n_permutations=49) == first


@pytest.mark.parametrize("group", [1, 2, 5])
def test_split_sscps_are_the_subsets_products(rng, group):
    # 7 sets of 6 of 12 rows: a last group of fewer sets, empty Venn cells, a repeated set
    rows = np.hstack([rng.normal(size=(12, 3)), np.ones((12, 1))])
    subsets = np.argsort(rng.random((7, 12)), axis=1)[:, :6]
    subsets[4] = subsets[1][::-1]
    sscps = localize._split_sscps(rows, subsets, group)
    expected = np.stack([rows[s].T @ rows[s] for s in subsets])
    np.testing.assert_allclose(sscps, expected, rtol=1e-12, atol=1e-12)
    single = localize._split_sscps(rows.astype(np.float32), subsets, group)
    assert single.dtype == np.float64
    np.testing.assert_allclose(single, expected, rtol=1e-5, atol=1e-5)


def test_gaussian_statistics_do_not_depend_on_how_tasks_meet_threads(rng, monkeypatch):
    # 1,500 + 1,500 rows, 20 features: splits scored five at a time from Venn cells, in
    # tasks shared by threads; the same as one product per split, in any task order.
    from shiftguard import _threads

    ref, cur = rng.normal(size=(1500, 20)), rng.normal(size=(1500, 20))
    cur[:, 3] += 0.2
    threaded = localize_shift(ref, cur, method="gaussian", seed=4)
    assert threaded.flagged[0] == "3"
    monkeypatch.setattr(_threads, "run_in_threads",
                        lambda work, parts: [work(part) for part in reversed(list(parts))])
    assert localize_shift(ref, cur, method="gaussian", seed=4) == threaded
    monkeypatch.setattr(localize, "_SPLIT_GROUP", 1)
    plain = localize_shift(ref, cur, method="gaussian", seed=4)
    assert [f.pvalue for f in plain.features] == [f.pvalue for f in threaded.features]
    np.testing.assert_allclose([f.statistic for f in plain.features],
                               [f.statistic for f in threaded.features], rtol=1e-5, atol=1e-5)


def test_gaussian_statistics_do_not_depend_on_the_batches_of_splits(rng, monkeypatch):
    # Batches of 20 splits (the smallest) draw the same uniforms in the same order.
    ref, cur = rng.normal(size=(120, 4)), rng.normal(size=(100, 4))
    cur[:, 0] += 0.5
    whole = localize_shift(ref, cur, method="gaussian", seed=2, n_permutations=299)
    monkeypatch.setattr(localize, "_BLOCK_DOUBLES", 1)
    assert localize_shift(ref, cur, method="gaussian", seed=2, n_permutations=299) == whole
    assert whole.flagged[0] == "0"


def test_integer_features_with_heavy_ties_run_on_every_method(rng):
    # Few distinct values: some permuted splits make a feature nearly constant in one
    # group, which the ridge on the refitted SSCP must survive.
    ref = rng.integers(0, 3, size=(40, 4)).astype(float)
    cur = rng.integers(0, 3, size=(40, 4)).astype(float)
    for method in ("gaussian", "ridge", "knn"):
        res = localize_shift(ref, cur, method=method, seed=0, n_permutations=99)
        assert all(np.isfinite(f.statistic) and 0 < f.pvalue <= 1 for f in res.features)


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
    with pytest.raises(InputError, match="more reference rows"):
        localize_shift(ref[:4], ref, method="gaussian")
    with pytest.raises(InputError, match="at least 4 reference rows"):
        localize_shift(ref[:3], ref)
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
    with pytest.raises(ParameterError, match="n_permutations"):
        localize_shift(ref, ref, n_permutations=0)
    with pytest.raises(ParameterError, match="n_neighbors"):
        localize_shift(ref, ref, method="knn", n_neighbors=0)
