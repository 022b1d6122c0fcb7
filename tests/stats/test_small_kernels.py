"""The NumPy twins of the numba kernels (small inputs) agree with them bit for bit, and a
small comparison never loads numba."""

import math
import subprocess
import sys

import numpy as np
import pytest

from shiftguard.stats import _kernels, _small_kernels


def _padded_sorted(rng, n, d, discrete):
    values = rng.integers(0, 5, (n, d)).astype(float) if discrete else rng.normal(size=(n, d))
    n_valid = rng.integers(1, n + 1, d)
    out = np.full((n, d), np.nan, order="F")
    for j in range(d):
        out[: n_valid[j], j] = np.sort(values[: n_valid[j], j])
    return out, n_valid.astype(np.int64)


@pytest.mark.parametrize("discrete", [False, True])
def test_ks_extremes(rng, discrete):
    for _ in range(100):
        (n, m), d = (int(v) for v in rng.integers(1, 250, 2)), int(rng.integers(1, 4))
        ref, ref_n = _padded_sorted(rng, n, d, discrete)
        cur, cur_n = _padded_sorted(rng, m, d, discrete)
        expected = _kernels.ks_extremes(ref, ref_n, cur, cur_n)
        got = _small_kernels.ks_extremes(ref, ref_n, cur, cur_n)
        np.testing.assert_array_equal(got[0], expected[0])
        np.testing.assert_array_equal(got[1], expected[1])


def test_exact_ks_laws(rng):
    for n in range(1, 120):
        for h in range(1, n + 1, 3):
            assert (_small_kernels.ks_exact_two_sided_equal_n(n, h)
                    == _kernels.ks_exact_two_sided_equal_n(n, h))
            assert (_small_kernels.ks_exact_one_sided_equal_n(n, h)
                    == _kernels.ks_exact_one_sided_equal_n(n, h))
    for _ in range(300):
        m, n = (int(v) for v in rng.integers(1, 220, 2))
        g = math.gcd(m, n)
        h = int(rng.integers(1, m // g * n + 1))
        assert (_small_kernels.ks_exact_two_sided(m, n, g, h)
                == _kernels.ks_exact_two_sided(m, n, g, h))


def test_distance_kernels(rng):
    for trial in range(60):
        size, dim = int(rng.integers(2, 150)), int(rng.integers(1, 6))
        rows = rng.normal(size=(size, dim)) * 10.0 ** rng.integers(-3, 4)
        if trial % 4 == 0:
            rows[1] = rows[0] + 1e-12  # cancellation: negative raw distances clipped to 0
        centred = rows - rows.mean(axis=0)
        norms = np.einsum("ij,ij->i", centred, centred)
        expected, got = centred @ centred.T, centred @ centred.T
        _kernels.gram_to_sq_dist(expected, norms)
        _small_kernels.gram_to_sq_dist(got, norms)
        np.testing.assert_array_equal(got, expected)
        counts = rng.integers(1, 4, size).astype(float)
        expected[0, 1] = expected[1, 0] = 0.0
        np.testing.assert_array_equal(_small_kernels.positive_pair_values(expected, counts),
                                      _kernels.positive_pair_values(expected, counts))


def test_subset_indicators(rng):
    for _ in range(50):
        size = int(rng.integers(2, 300))
        small, rows = int(rng.integers(1, size)), int(rng.integers(1, 40))
        offsets = rng.integers(0, size - np.arange(small), size=(rows, small))
        expected = np.zeros((rows, size), np.float32)
        got = np.zeros((rows, size), np.float32)
        _kernels.subset_indicators(offsets, expected)
        _small_kernels.subset_indicators(offsets, got)
        np.testing.assert_array_equal(got, expected)


def test_small_comparison_does_not_load_numba():
    code = ("import numpy as np, sys\nimport shiftguard as sg\n"
            "rng = np.random.default_rng(0)\n"
            "x, y = rng.normal(size=(100, 5)), rng.normal(size=(100, 5)) + [0, 0, 1, 0, 0]\n"
            "assert sg.compare(x, y).drifted\n"
            "print(sorted(m for m in ('numba', 'scipy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
