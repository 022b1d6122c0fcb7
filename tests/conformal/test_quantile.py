import math

import numpy as np
import pytest

from shiftguard.conformal._quantile import (
    conformal_quantile,
    conformal_rank,
    min_calibration_size,
    weighted_conformal_quantiles,
)
from shiftguard.errors import InputError, ParameterError


@pytest.mark.parametrize(("n", "alpha"), [(9, 0.1), (99, 0.1), (19, 0.05), (50, 0.2), (7, 0.3)])
def test_rank_is_ceil_n_plus_one_times_one_minus_alpha(n, alpha):
    assert conformal_rank(n, alpha) == math.ceil(round((n + 1) * (1 - alpha), 9))


def test_quantile_is_the_kth_smallest_row_wise():
    scores = np.arange(10.0)[::-1]
    assert conformal_quantile(scores, 0.1) == 9.0  # k = ceil(11 * 0.9) = 10
    assert conformal_quantile(scores, 0.5) == 5.0  # k = ceil(5.5) = 6
    rows = np.vstack([scores, scores + 100])
    np.testing.assert_array_equal(conformal_quantile(rows, 0.5), [5.0, 105.0])


def test_too_few_points_raise_and_say_how_many():
    assert min_calibration_size(0.1) == 9
    assert min_calibration_size(0.05) == 19
    conformal_quantile(np.ones(9), 0.1)
    with pytest.raises(InputError, match="at least 9"):
        conformal_quantile(np.ones(8), 0.1)


@pytest.mark.parametrize("alpha", [0, 1, -0.1, 1.5, "x"])
def test_alpha_outside_unit_interval(alpha):
    with pytest.raises(ParameterError):
        conformal_rank(10, alpha)


def test_equal_weights_reduce_to_the_unweighted_quantile():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=99)
    w = np.full(99, 2.5)
    q = weighted_conformal_quantiles(scores, w, np.array([2.5, 2.5]), 0.1)
    np.testing.assert_array_equal(q, conformal_quantile(scores, 0.1))


def test_heavy_test_weight_gives_infinite_threshold():
    scores = np.arange(20.0)
    q = weighted_conformal_quantiles(scores, np.ones(20), np.array([1.0, 100.0]), 0.1)
    assert np.isfinite(q[0]) and q[1] == np.inf
