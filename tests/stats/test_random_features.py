"""Unit tests of the random-Fourier-feature MMD (``mmd_test(..., n_features=D)``): the
statistic against its definition, the bandwidth's invariance to how the pooled rows are
split, exact tie counting against brute force, the subset sampler, and the error paths."""

from __future__ import annotations

import math

import numpy as np
import pytest

from shiftguard.errors import InputError, ParameterError
from shiftguard.stats import _kernels
from shiftguard.stats import _random_features as rf
from shiftguard.stats.multivariate import mmd_test


def _direct_statistic(x: np.ndarray, y: np.ndarray, sigma: float, n_features: int,
                      seed: int) -> float:
    """``||mean phi(x) - mean phi(y)||^2`` from the documented feature map, drawing ``W``
    and ``b`` as the test does when the pooled sample has at most 1,000 rows."""
    rng = np.random.default_rng(seed)
    pooled = np.vstack([x, y])
    centre = pooled.mean(axis=0)
    w = rf._orthogonal_frequencies(x.shape[1], n_features, rng) / sigma
    b = rng.uniform(0.0, 2.0 * math.pi, n_features)

    def phi(a: np.ndarray) -> np.ndarray:
        return math.sqrt(2.0 / n_features) * np.cos((a - centre) @ w + b)

    gap = phi(x).mean(axis=0) - phi(y).mean(axis=0)
    return float(gap @ gap)


def test_statistic_is_the_random_feature_mmd_and_bandwidth_the_exact_paths(rng):
    x, y = rng.normal(size=(70, 3)), rng.normal(0.4, 1.3, size=(90, 3))
    res = mmd_test(x, y, n_features=64, n_permutations=99, seed=5)
    assert res.method == "mmd_rff"
    # At most 1,000 pooled rows: the median heuristic runs on all of them, as exactly.
    assert res.bandwidth == mmd_test(x, y, n_permutations=9, seed=0).bandwidth
    expected = _direct_statistic(x, y, res.bandwidth, 64, seed=5)
    assert res.statistic == pytest.approx(expected, rel=_rounding_bound(expected, 160, 64))
    fixed = mmd_test(x, y, bandwidth=2.0, n_features=64, n_permutations=99, seed=5)
    assert fixed.bandwidth == 2.0
    expected = _direct_statistic(x, y, 2.0, 64, seed=5)
    assert fixed.statistic == pytest.approx(expected, rel=_rounding_bound(expected, 160, 64))


def _rounding_bound(statistic: float, size: int, n_features: int) -> float:
    """Relative bound on the change of the statistic by the feature rounding: cosines
    rounded to 2^-(24 - L) (float32 path; plus 1e-6 for float32 cosines) move each
    coordinate of the mean gap by at most ``delta``."""
    delta = math.sqrt(2.0 / n_features) * (2.0 ** -(24 - size.bit_length()) + 1e-6)
    gap = math.sqrt(statistic)
    return (2 * math.sqrt(n_features) * gap * delta + n_features * delta**2) / statistic


@pytest.mark.parametrize("ties", [False, True])
def test_bandwidth_and_centre_depend_on_the_pooled_multiset_only(rng, ties):
    # 1,500 pooled rows: the bandwidth comes from a seeded subsample of the sorted rows.
    # Any other split of the same rows must give the same subsample, so the same sigma.
    pooled = rng.normal(size=(1500, 4))
    if ties:  # integer rows: the first column ties, so the full lexicographic sort runs
        pooled = np.round(pooled * 2)
    order = rng.permutation(1500)
    first = rf._canonical_sample(pooled, np.random.default_rng(1))
    again = rf._canonical_sample(pooled[order], np.random.default_rng(1))
    assert first.shape == (1000, 4)
    assert np.array_equal(first, again)
    one = mmd_test(pooled[:600], pooled[600:], n_features=32, n_permutations=19, seed=3)
    other = mmd_test(pooled[order[:900]], pooled[order[900:]], n_features=32,
                     n_permutations=19, seed=3)
    assert one.bandwidth == other.bandwidth


@pytest.mark.parametrize("kind", ["distinct", "rounded", "sparse", "identical"])
def test_subsample_bandwidth_takes_the_median_over_every_pair_of_rows(rng, kind):
    # sparse: most pairs coincide, so the median of the positive distances is taken;
    # identical: no positive distance, bandwidth 1.
    from shiftguard.stats.multivariate import _median_bandwidth, _squared_distances

    rows = {"distinct": rng.normal(size=(300, 4)), "rounded": np.round(rng.normal(size=(300, 4))),
            "sparse": (rng.random((300, 4)) < 0.05).astype(float),
            "identical": np.ones((300, 4))}[kind]
    every_pair = _kernels.positive_pair_values(_squared_distances(rows), np.ones(300))
    expected = _median_bandwidth(every_pair, 300 * 299 // 2)
    assert rf._subsample_bandwidth(rows) == expected
    assert (expected == 1.0) == (kind == "identical")


@pytest.mark.parametrize(("d", "n_features"), [(5, 12), (8, 3)])
def test_orthogonal_frequencies_have_gaussian_columns_in_orthogonal_blocks(d, n_features):
    draws = np.stack([rf._orthogonal_frequencies(d, n_features, np.random.default_rng(s))
                      for s in range(4000)])
    assert draws.shape == (4000, d, n_features)
    block = draws[0][:, : min(d, n_features)]
    gram = block.T @ block
    np.testing.assert_allclose(gram - np.diag(np.diag(gram)), 0.0, atol=1e-10)
    # Each column is N(0, I) in law: mean 0, covariance I (4,000 draws: 5 standard errors).
    columns = draws.transpose(0, 2, 1).reshape(-1, d)
    se = 1.0 / math.sqrt(4000)
    assert np.all(np.abs(columns.mean(axis=0)) < 5 * se)
    np.testing.assert_allclose(columns.T @ columns / columns.shape[0], np.eye(d),
                               atol=5 * math.sqrt(2) * se)


def test_random_feature_kernel_is_unbiased():
    # phi(a) . phi(b) averages to exp(-||a - b||^2 / (2 sigma^2)) over W and b.
    a, b, sigma, features = np.array([0.3, -1.0, 0.5]), np.array([1.1, 0.2, -0.4]), 1.3, 8
    estimates = []
    for seed in range(20_000):
        rng = np.random.default_rng(seed)
        w = rf._orthogonal_frequencies(3, features, rng) / sigma
        phase = rng.uniform(0.0, 2.0 * math.pi, features)
        estimates.append(2.0 / features * np.cos(a @ w + phase) @ np.cos(b @ w + phase))
    estimates = np.array(estimates)
    exact = math.exp(-np.sum((a - b) ** 2) / (2 * sigma**2))
    assert abs(estimates.mean() - exact) < 4 * estimates.std() / math.sqrt(estimates.size)


def test_permutation_blocks_do_not_change_the_permutations_drawn(monkeypatch):
    # The first block (32) is smaller than the next ones (64): permutation i must be the
    # same as with blocks of 64 throughout, so the stop, the p-value and all else agree.
    rng = np.random.default_rng(20261123)
    x, y = rng.normal(size=(150, 3)), rng.normal(size=(120, 3))
    samples = [(x, y + [shift, 0.0, 0.0]) for shift in (0.0, 0.375, 0.5)]

    def results():
        return [mmd_test(a, b, n_features=32, n_permutations=999, seed=0) for a, b in samples]

    first = results()
    monkeypatch.setattr(rf, "_FIRST_BLOCK", 64)
    assert results() == first
    # stopped inside the first block, past it, and past several blocks of 64
    drawn = sorted(res.n_permutations for res in first)
    assert drawn[0] < 32 and 64 < drawn[1] < drawn[2] < 999


def test_subset_indicators_mark_uniform_subsets(rng):
    size, k, rows = 12, 5, 20_000
    offsets = rng.integers(0, size - np.arange(k), size=(rows, k))
    marks = np.zeros((rows, size))
    _kernels.subset_indicators(offsets, marks)
    assert marks.shape == (rows, size)
    assert set(np.unique(marks)) == {0.0, 1.0}
    assert np.all(marks.sum(axis=1) == k)
    # each position is in the subset with probability k / size
    se = math.sqrt(k / size * (1 - k / size) / rows)
    assert np.all(np.abs(marks.mean(axis=0) - k / size) < 4 * se)


@pytest.mark.parametrize("path", ["float32", "float64"])
def test_pvalue_counts_every_exact_tie_against_brute_force(path, monkeypatch):
    # Binary rows, 4 distinct: every split giving the smaller sample the same number of
    # each row ties with the observed split exactly, and the p-value must count them all.
    # 21 pooled rows: float32 sums keep 24 - 5 = 19 bits; above that the float64 path runs.
    if path == "float64":
        monkeypatch.setattr(rf, "_MIN_FEATURE_BITS", 20)
    rng = np.random.default_rng(3)
    x = (rng.random((9, 2)) < 0.5).astype(float)
    y = (rng.random((12, 2)) < 0.5).astype(float)
    b, seed, features = 999, 8, 16
    res = mmd_test(x, y, n_features=features, n_permutations=b, seed=seed)
    # Replay the test's draws: W and b, then blocks of 64 subsets of the smaller sample
    # (x here, rows 0-8 of the pooled sample).
    draws = np.random.default_rng(seed)
    rf._orthogonal_frequencies(2, features, draws)
    draws.uniform(size=features)
    pooled = np.vstack([x, y])
    size, small = 21, 9

    def counts(rows: np.ndarray) -> tuple[int, ...]:
        codes = rows @ np.array([2.0, 1.0])
        return tuple(np.bincount(codes.astype(int), minlength=4))

    observed_counts = counts(x)
    observed = _direct_statistic(x, y, res.bandwidth, features, seed)
    reaches, ties = [], 0
    block = 64
    while len(reaches) < res.n_permutations:
        offsets = draws.integers(0, size - np.arange(small), size=(block, small))
        marks = np.zeros((block, size), dtype=np.float32)
        _kernels.subset_indicators(offsets, marks)
        for mark in marks.astype(bool):
            if counts(pooled[mark]) == observed_counts:
                reaches.append(True)
                ties += 1
                continue
            value = _direct_statistic_split(pooled, mark, res.bandwidth, features, seed)
            assert abs(value - observed) > 1e-6 * observed  # no near-tie to misjudge
            reaches.append(value > observed)
    hits = np.flatnonzero(reaches[: res.n_permutations])
    assert ties >= 3  # exact ties occur, and every one was counted
    if hits.size >= 20:
        assert res.n_permutations == hits[19] + 1
        assert res.pvalue == 20 / (hits[19] + 1)
    else:
        assert res.pvalue == (1 + hits.size) / (1 + b)


def _direct_statistic_split(pooled, mark, sigma, features, seed):
    """:func:`_direct_statistic` of a split of ``pooled`` (same centre: the pooled mean)."""
    rng = np.random.default_rng(seed)
    centre = pooled.mean(axis=0)
    w = rf._orthogonal_frequencies(pooled.shape[1], features, rng) / sigma
    b = rng.uniform(0.0, 2.0 * math.pi, features)
    phi = math.sqrt(2.0 / features) * np.cos((pooled - centre) @ w + b)
    gap = phi[mark].mean(axis=0) - phi[~mark].mean(axis=0)
    return float(gap @ gap)


def test_identical_rows_give_zero_and_pvalue_one():
    res = mmd_test(np.ones((10, 2)), np.ones((7, 2)), n_features=8, n_permutations=99, seed=0)
    assert res.statistic == 0.0
    assert res.pvalue == 1.0
    assert res.bandwidth == 1.0


def test_detects_a_mean_shift_and_is_seed_reproducible(rng):
    x, y = rng.normal(size=(300, 5)), rng.normal(size=(200, 5))
    y[:, 0] += 0.5
    res = mmd_test(x, y, n_features=128, n_permutations=199, seed=4)
    assert res.pvalue == pytest.approx(1 / 200)
    assert res.n_permutations == 199
    assert mmd_test(x, y, n_features=128, n_permutations=199, seed=4) == res
    null = mmd_test(x, rng.normal(size=(200, 5)), n_features=128, n_permutations=199, seed=4)
    assert null.pvalue > 0.01
    assert set(res.to_dict()) >= {"statistic", "pvalue", "bandwidth", "method"}


def test_bad_parameters_raise(rng, monkeypatch):
    x = rng.normal(size=(10, 2))
    for bad in (0, -3, 2.5, "many"):
        with pytest.raises(ParameterError, match="n_features"):
            mmd_test(x, x, n_features=bad)
    # Too many pooled rows for exact integer sums (2^22), simulated by the threshold.
    monkeypatch.setattr(rf, "_MIN_FEATURE_BITS", 52 - 2 * 5 + 1)
    with pytest.raises(InputError, match="subsample"):
        mmd_test(x, x, n_features=4)
