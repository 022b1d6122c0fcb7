import numpy as np
import pytest

from shiftguard._validation import as_float_array, check_alpha
from shiftguard.errors import InputError, ParameterError


def test_input_error_names_column():
    with pytest.raises(InputError, match="column 'age': holds 1 NaN"):
        as_float_array([1.0, np.nan], "age")


def test_inf_is_rejected():
    with pytest.raises(InputError, match="infinite"):
        as_float_array([1.0, np.inf], "x")


@pytest.mark.parametrize("alpha", [0, 1, -0.1, 1.5, "a"])
def test_alpha_range(alpha):
    with pytest.raises(ParameterError):
        check_alpha(alpha)
