"""Permutation distances: statistics against SciPy / direct formulas, p-value mechanics."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats as st
from scipy.spatial.distance import jensenshannon

from shiftguard.errors import InputError, ParameterError
from shiftguard.stats import distances as ds

BINNED = [ds.psi_test, ds.js_test, ds.hellinger_test]
COUNTS = {"psi": ds.psi_test_counts, "js": ds.js_test_counts,
          "hellinger": ds.hellinger_test_counts}


def _shares_on_reference_quantiles(x: np.ndarray, y: np.ndarray, bins: int):
    """Reference-quantile bins written the plain way: np.quantile + searchsorted."""
    edges = np.quantile(x, np.arange(1, bins) / bins)
    p = np.bincount(np.searchsorted(edges, x, side="left"), minlength=bins) / x.size
    q = np.bincount(np.searchsorted(edges, y, side="left"), minlength=bins) / y.size
    return p, q


def _psi(p, q):
    p, q = np.maximum(p, ds.PSI_EPSILON), np.maximum(q, ds.PSI_EPSILON)
    return float(np.sum((q - p) * np.log(q / p)))


def _hellinger(p, q):
    return float(np.sqrt(max(0.0, 1.0 - np.sum(np.sqrt(p * q)))))


@pytest.mark.parametrize("seed", range(6))
def test_statistics_equal_direct_formulas(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, m = rng.integers(5, 300, size=2)
    x = rng.normal(size=n)
    y = rng.standard_t(4, size=m) + rng.normal(0, 0.5)
    if seed % 2:
        x, y = np.round(x * 2), np.round(y * 2)  # ties, incl. duplicated quantile edges
    w = ds.wasserstein_test(x, y, n_permutations=9, seed=0)
    assert w.statistic == pytest.approx(st.wasserstein_distance(x, y), rel=1e-9)
    assert w.effect_size == pytest.approx(st.wasserstein_distance(x, y) / np.std(x), rel=1e-9)
    for bins in (2, 5, 10):
        p, q = _shares_on_reference_quantiles(x, y, bins)
        psi = ds.psi_test(x, y, bins=bins, n_permutations=9, seed=0)
        js = ds.js_test(x, y, bins=bins, n_permutations=9, seed=0)
        hel = ds.hellinger_test(x, y, bins=bins, n_permutations=9, seed=0)
        assert psi.statistic == pytest.approx(_psi(p, q), rel=1e-9, abs=1e-12)
        assert js.statistic == pytest.approx(jensenshannon(p, q), rel=1e-9, abs=1e-12)
        assert hel.statistic == pytest.approx(_hellinger(p, q), rel=1e-6, abs=1e-7)
        assert psi.effect_size == psi.statistic


def test_categorical_statistics_and_unseen_categories() -> None:
    x = np.array(["a"] * 30 + ["b"] * 20)
    y = np.array(["a"] * 10 + ["b"] * 20 + ["c"] * 10)
    p = np.array([30, 20, 0]) / 50
    q = np.array([10, 20, 10]) / 40
    psi = ds.psi_test(x, y, categorical=True, n_permutations=99, seed=1)
    assert psi.statistic == pytest.approx(_psi(p, q), rel=1e-12)
    assert psi.unseen_categories == ("c",)
    js = ds.js_test(x, y, categorical=True, n_permutations=99, seed=1)
    assert js.statistic == pytest.approx(jensenshannon(p, q), rel=1e-12)
    hel = ds.hellinger_test(x, y, categorical=True, n_permutations=99, seed=1)
    assert hel.statistic == pytest.approx(_hellinger(p, q), rel=1e-9)
    for name, func in COUNTS.items():
        by_labels = getattr(ds, f"{name}_test")(x, y, categorical=True, n_permutations=99,
                                                seed=1)
        by_counts = func([30, 20, 0], [10, 20, 10], n_permutations=99, seed=1,
                         categories=["a", "b", "c"])
        assert by_counts.statistic == pytest.approx(by_labels.statistic, rel=1e-12)
        assert by_counts.unseen_categories == ("c",)
        assert by_counts.to_dict()["unseen_categories"] == ["c"]


def test_pvalue_is_permutation_formula_and_reproducible() -> None:
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=40), rng.normal(size=30)
    for func in (ds.wasserstein_test, *BINNED):
        a = func(x, y, n_permutations=199, seed=7)
        assert a == func(x, y, n_permutations=199, seed=7)
        assert a == func(x, y, n_permutations=199, seed=np.random.default_rng(7))
        assert a.n_permutations == 199
        # (1 + count) / (1 + B) takes only these values
        assert (a.pvalue * 200) == pytest.approx(round(a.pvalue * 200))
        assert 1 / 200 <= a.pvalue <= 1.0
    shifted = ds.wasserstein_test(x, y + 5.0, n_permutations=199, seed=1)
    assert shifted.pvalue == pytest.approx(1 / 200)  # the floor: never zero
    same = ds.psi_test(x, x.copy(), n_permutations=99, seed=1)
    assert same.statistic == 0.0 and same.pvalue == 1.0  # ties with the observed count


def test_pvalue_matches_a_direct_loop_over_permutations() -> None:
    # A slow reference: permute with the same generator draws, one permutation at a time.
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=12), rng.normal(0.5, size=9)
    pooled = np.sort(np.concatenate([x, y]))
    gen = np.random.default_rng(11)
    base = np.zeros(pooled.size, dtype=bool)
    base[: x.size] = True
    masks = gen.permuted(np.tile(base, (299, 1)), axis=1)
    perm_stats = [st.wasserstein_distance(pooled[m], pooled[~m]) for m in masks]
    observed = st.wasserstein_distance(x, y)
    expected = (1 + sum(s >= observed * (1 - 1e-12) for s in perm_stats)) / 300
    assert ds.wasserstein_test(x, y, n_permutations=299, seed=11).pvalue == expected


def test_large_permutation_counts_run_in_blocks() -> None:
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=3000), rng.normal(size=2500)
    res = ds.js_test(x, y, n_permutations=500, seed=0)  # 500 * 5500 cells > one block
    assert 0.0 < res.pvalue <= 1.0 and res.n_permutations == 500


def test_bad_input() -> None:
    good = np.arange(10.0)
    for func in (ds.wasserstein_test, *BINNED):
        with pytest.raises(InputError, match="'x'.*NaN"):
            func(np.r_[good, np.nan], good)
        with pytest.raises(InputError, match="'y'.*at least 1"):
            func(good, [])
        with pytest.raises(ParameterError, match="n_permutations"):
            func(good, good, n_permutations=0)
    for func in BINNED:
        with pytest.raises(ParameterError, match="bins"):
            func(good, good, bins=1)
        with pytest.raises(InputError, match="'x'.*missing label"):
            func(["a", None], ["a"], categorical=True)
    for func in COUNTS.values():
        with pytest.raises(InputError, match="cur_counts.*whole numbers"):
            func([1, 2], [0.5, 2])
        with pytest.raises(InputError, match="cur_counts.*empty"):
            func([1, 2], [0, 0])
