"""The buffer bridges between Arrow and NumPy give what PyArrow's own conversions give."""

import numpy as np
import pyarrow as pa
import pytest

from shiftguard.io import buffers

NUMERIC_TYPES = [pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint8(), pa.uint32(),
                 pa.uint64(), pa.float16(), pa.float32(), pa.float64()]


def _sample(arrow_type, rng, n=37, nulls=True):
    if pa.types.is_floating(arrow_type):
        values = rng.normal(scale=50, size=n).astype(arrow_type.to_pandas_dtype())
    else:
        info = np.iinfo(arrow_type.to_pandas_dtype())
        values = rng.integers(info.min, info.max, size=n, dtype=info.dtype, endpoint=True)
    mask = rng.random(n) < 0.3 if nulls else None
    return pa.array(values, type=arrow_type, mask=mask)


@pytest.mark.parametrize("arrow_type", NUMERIC_TYPES, ids=str)
@pytest.mark.parametrize("nulls", [False, True])
def test_to_numpy_matches_pyarrow_on_sliced_chunks(arrow_type, nulls, rng):
    full = _sample(arrow_type, rng, nulls=nulls)
    chunked = pa.chunked_array([full.slice(3, 20), full.slice(11), full.slice(0, 0)])
    fill = np.nan if nulls else None
    expected = chunked.to_numpy()  # nulls: float NaN, as for any Arrow-to-NumPy conversion
    got = buffers.to_numpy(chunked, fill=fill)
    np.testing.assert_array_equal(got, expected)
    if not nulls:
        assert got.dtype == expected.dtype
        one = buffers.to_numpy(full.slice(5, 9))
        assert not one.flags.owndata  # a view of Arrow's buffer
        np.testing.assert_array_equal(one, full.slice(5, 9).to_numpy())


def test_integers_keep_their_type_with_an_integer_fill(rng):
    array = pa.array([5, None, -7, None], type=pa.int32())
    got = buffers.to_numpy(array.slice(1), fill=-1)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, [-1, -7, -1])
    with pytest.raises(ValueError, match="2 null"):
        buffers.to_numpy(array)


def test_booleans_and_validity_across_offsets(rng):
    values = rng.random(70) < 0.5
    mask = rng.random(70) < 0.2
    array = pa.array(values, mask=mask)
    for start in (0, 1, 7, 9, 33):
        part = array.slice(start, 29)
        expected_valid = part.is_valid().to_numpy(zero_copy_only=False)
        np.testing.assert_array_equal(buffers.validity(part), expected_valid)
        got = buffers.to_numpy(part, fill=False)
        np.testing.assert_array_equal(got, values[start:start + 29] & ~mask[start:start + 29])
    assert buffers.validity(pa.array(values)) is None
    assert buffers.to_numpy(pa.chunked_array([], type=pa.float64())).shape == (0,)


@pytest.mark.parametrize("dtype", [np.float64, np.int64, np.int32, np.bool_])
def test_from_numpy_matches_pa_array(dtype, rng):
    values = (rng.normal(size=50) * 10).astype(dtype)
    valid = rng.random(50) < 0.7
    assert buffers.from_numpy(values).equals(pa.array(values))
    assert buffers.from_numpy(values, valid=valid).equals(pa.array(values, mask=~valid))
    nan = np.array([1.0, np.nan])
    assert buffers.from_numpy(nan).null_count == 0  # NaN is a value, as with pa.array


def test_unsupported_type_is_refused():
    with pytest.raises(TypeError, match="numeric or boolean"):
        buffers.to_numpy(pa.array(["a"]))


@pytest.mark.parametrize("arrow_type", [pa.string(), pa.large_string()], ids=str)
def test_strings_and_scalars_match_pyarrow(arrow_type):
    items = ["", "NA", "héllo", "n/a", "<NA>"]
    assert buffers.strings(items, arrow_type).equals(pa.array(items, type=arrow_type))
    assert buffers.strings([], arrow_type).equals(pa.array([], type=arrow_type))
    assert buffers.null_scalar(arrow_type).equals(pa.scalar(None, arrow_type))
