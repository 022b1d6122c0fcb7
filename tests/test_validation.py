"""Input checks shared by every module: typed errors that say what is wrong and where."""

from __future__ import annotations

import numpy as np
import pytest

from shiftguard._validation import as_float_array
from shiftguard.errors import InputError


def test_non_finite_values_are_counted_and_their_columns_named():
    X = np.ones((6, 8))
    X[1, 3] = X[4, 3] = X[2, 6] = np.nan
    with pytest.raises(InputError, match=r"holds 3 NaN value\(s\) in columns 3, 6; drop"):
        as_float_array(X, "X", ndim=2)
    X[0, 0] = np.inf
    with pytest.raises(InputError, match=r"holds 1 infinite value\(s\) in column 0$"):
        as_float_array(X, "X", ndim=2)


def test_nan_is_accepted_only_when_allowed():
    values = np.array([1.0, np.nan, 2.0])
    assert np.isnan(as_float_array(values, "v", allow_nan=True)[1])
    with pytest.raises(InputError, match="NaN"):
        as_float_array(values, "v")
    with pytest.raises(InputError, match="infinite"):
        as_float_array(np.array([1.0, -np.inf]), "v", allow_nan=True)


def test_shape_size_and_type_errors_name_the_input():
    with pytest.raises(InputError, match="'v'.*expected numbers"):
        as_float_array(["a", "b"], "v")
    with pytest.raises(InputError, match="expected a 1-D array"):
        as_float_array(np.ones((2, 2)), "v")
    with pytest.raises(InputError, match="at least 3 rows, got 2"):
        as_float_array([1.0, 2.0], "v", min_size=3)
    assert as_float_array([1, 2, 3], "v", ndim=2).shape == (3, 1)


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_large_arrays_catch_every_non_finite_value(order, bad):
    """Large contiguous arrays are checked through their sum first; a single bad value
    anywhere (SIMD body or tail) must still be caught."""
    X = np.asfortranarray(np.ones((1001, 7))) if order == "F" else np.ones((1001, 7))
    for i, j in [(0, 0), (500, 3), (1000, 6), (999, 5)]:
        Y = X.copy(order=order)
        Y[i, j] = bad
        with pytest.raises(InputError, match=rf"in column {j}"):
            as_float_array(Y, "X", ndim=2)


@pytest.mark.parametrize("value", [1e200, 1e306])
def test_large_finite_values_whose_sum_overflows_are_accepted(value):
    X = np.full((1000, 5), value)
    X[::3] *= -1.0
    np.testing.assert_array_equal(as_float_array(X, "X", ndim=2), X)


def test_opposite_infinities_are_caught_although_they_cancel_in_no_sum():
    X = np.ones((2000, 4))
    X[10, 1], X[20, 2] = np.inf, -np.inf
    with pytest.raises(InputError, match=r"holds 2 infinite value\(s\) in columns 1, 2"):
        as_float_array(X, "X", ndim=2)
