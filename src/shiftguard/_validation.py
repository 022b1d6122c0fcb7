"""The one validation path: every public function sends its inputs through here."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from shiftguard.errors import InputError, ParameterError, StateError


def as_float_array(
    x: Any,
    name: str,
    *,
    ndim: int = 1,
    min_size: int = 1,
    allow_nan: bool = False,
) -> np.ndarray:
    """Return ``x`` as a C-contiguous float64 array of ``ndim`` dimensions.

    A 1-D input is accepted where 2-D is wanted (one column). Raises
    :class:`~shiftguard.errors.InputError` naming ``name`` when ``x`` is not numeric,
    has the wrong shape, has fewer than ``min_size`` rows, or holds NaN (unless
    ``allow_nan``) or infinities.
    """
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"expected numbers, got {type(x).__name__} ({exc})", name) from None
    if ndim == 2 and arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != ndim:
        raise InputError(f"expected a {ndim}-D array, got shape {arr.shape}", name)
    if arr.shape[0] < min_size:
        raise InputError(f"needs at least {min_size} rows, got {arr.shape[0]}", name)
    if not all_finite(arr):
        _raise_non_finite(arr, name, allow_nan)
    return np.ascontiguousarray(arr)


# From this many values on, finiteness is checked through one sum.
_SUM_CHECK_MIN_SIZE = 4096


def all_finite(arr: np.ndarray) -> bool:
    """Whether every value of the float64 array ``arr`` is finite.

    For large contiguous arrays the sum is computed first (one vectorised pass, no
    temporary, one thread): it is finite exactly when every value is, unless it overflows
    (values near 1e308), and only then are the values checked one by one. This avoids
    ``np.isfinite``'s boolean temporary; a BLAS dot product, tried before, was three times
    faster on an idle machine but 10 ms instead of 1 ms on 10^6 values when the other core
    was busy (its worker threads wait for a time slice).
    """
    if arr.size >= _SUM_CHECK_MIN_SIZE and (arr.flags.c_contiguous or arr.flags.f_contiguous):
        with np.errstate(over="ignore", invalid="ignore"):
            if math.isfinite(np.add.reduce(arr.ravel(order="K"))):
                return True
    return bool(np.isfinite(arr).all())


def _raise_non_finite(arr: np.ndarray, name: str, allow_nan: bool) -> None:
    """Raise :class:`InputError` for the NaN or infinite values of ``arr``, naming columns."""
    nan = np.isnan(arr)
    inf = np.isinf(arr)
    for mask, what, advice in ((inf, "infinite", ""), (nan, "NaN", "; drop or impute them first")):
        if not mask.any() or (mask is nan and allow_nan):
            continue
        where = ""
        if arr.ndim == 2:
            cols = np.flatnonzero(mask.any(axis=0))
            listed = ", ".join(map(str, cols[:5].tolist())) + (", ..." if cols.size > 5 else "")
            where = f" in column{'s' if cols.size > 1 else ''} {listed}"
        raise InputError(f"holds {int(mask.sum())} {what} value(s){where}{advice}", name)


def check_alpha(alpha: float, name: str = "alpha") -> float:
    """Return ``alpha`` as float after checking ``0 < alpha < 1``."""
    try:
        a = float(alpha)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a number in (0, 1), got {alpha!r}") from None
    if not 0.0 < a < 1.0:
        raise ParameterError(f"{name} must lie in (0, 1), got {alpha!r}")
    return a


def check_positive_int(value: int, name: str, minimum: int = 1) -> int:
    """Return ``value`` as int after checking it is an integer ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ParameterError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_choice(value: str, name: str, choices: Sequence[str]) -> str:
    """Return ``value`` after checking it is one of ``choices``."""
    if value not in choices:
        options = ", ".join(map(repr, choices))
        raise ParameterError(f"{name} must be one of {options}; got {value!r}")
    return value


def check_same_length(**arrays: Any) -> int:
    """Return the common length of the named arrays, or raise naming the mismatch."""
    lengths = {k: len(v) for k, v in arrays.items()}
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{k}={n}" for k, n in lengths.items())
        raise InputError(f"lengths differ: {detail}")
    return next(iter(lengths.values()))


def as_rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    """Return a NumPy Generator from an int seed, a Generator, or ``None`` (fresh entropy)."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


STREAM_SUPPORTS = ("real", "unit", "binary")


def as_stream_values(xs: Any, name: str = "xs", support: str = "real") -> np.ndarray:
    """Return a 1-D float64 array of stream values, checked against their ``support``.

    ``support`` is ``"real"`` (any finite number), ``"unit"`` (numbers in [0, 1]) or
    ``"binary"`` (exactly 0 or 1). Raises :class:`~shiftguard.errors.InputError` naming
    ``name``, the first offending position and the problem; an empty batch is allowed.
    """
    arr = as_float_array(xs, name, ndim=1, min_size=0)
    if support == "unit":
        outside = np.flatnonzero((arr < 0.0) | (arr > 1.0))
        if outside.size:
            i = int(outside[0])
            raise InputError(f"values must lie in [0, 1]; position {i} holds {arr[i]!r}", name)
    elif support == "binary":
        outside = np.flatnonzero((arr != 0.0) & (arr != 1.0))
        if outside.size:
            i = int(outside[0])
            raise InputError(f"values must be 0 or 1; position {i} holds {arr[i]!r}", name)
    return arr


def as_stream_value(x: Any, name: str = "x", support: str = "real") -> float:
    """Return one stream value as float, checked like :func:`as_stream_values`.

    Only a scalar (a number or a 0-d array) is accepted; a sequence raises
    :class:`~shiftguard.errors.InputError` pointing to ``update_many``.
    """
    if type(x) in (float, int) or isinstance(x, (np.floating, np.integer)):
        value = float(x)  # fast path for plain numbers, the per-value streaming case
        in_support = math.isfinite(value) and (
            support == "real"
            or (support == "unit" and 0.0 <= value <= 1.0)
            or (support == "binary" and value in (0.0, 1.0))
        )
        if in_support:
            return value
    if np.ndim(x) != 0:
        raise InputError(
            f"expected one number, got shape {np.shape(x)}; feed batches to update_many", name
        )
    return float(as_stream_values(np.reshape(np.asarray(x, dtype=object), 1), name, support)[0])


def check_positive_number(value: float, name: str, *, allow_zero: bool = False) -> float:
    """Return ``value`` as float after checking it is finite and ``> 0`` (``>= 0`` if allowed)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a number, got {value!r}") from None
    if not np.isfinite(v) or v < 0.0 or (v == 0.0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ParameterError(f"{name} must be a finite number {bound}, got {value!r}")
    return v


def as_label_array(x: Any, name: str, *, min_size: int = 1) -> np.ndarray:
    """Return categorical labels (str, int, bool or object) as a 1-D NumPy array.

    Raises :class:`~shiftguard.errors.InputError` naming ``name`` when ``x`` is not 1-D,
    has fewer than ``min_size`` labels, or holds missing labels (``None`` or NaN), which the
    caller must drop or encode as a category of their own first.
    """
    arr = np.asarray(x)
    if arr.ndim != 1:
        raise InputError(f"expected a 1-D array of labels, got shape {arr.shape}", name)
    if arr.size < min_size:
        raise InputError(f"needs at least {min_size} labels, got {arr.size}", name)
    if arr.dtype.kind in "fc" or arr.dtype == object:
        missing = np.equal(arr, None) | (arr != arr)  # NaN is the only value unequal to itself
        if missing.any():
            raise InputError(
                f"holds {int(missing.sum())} missing label(s) (None/NaN); drop them or give "
                "them a category of their own first",
                name,
            )
    return arr


def as_count_array(x: Any, name: str) -> np.ndarray:
    """Return per-category counts as a 1-D float64 array of non-negative whole numbers.

    Raises :class:`~shiftguard.errors.InputError` naming ``name`` when ``x`` is empty, not
    1-D, or holds a negative, fractional or non-finite count.
    """
    arr = as_float_array(x, name, ndim=1, min_size=1)
    bad = np.flatnonzero((arr < 0.0) | (arr != np.floor(arr)))
    if bad.size:
        i = int(bad[0])
        raise InputError(f"counts must be whole numbers >= 0; position {i} holds {arr[i]!r}", name)
    return arr


def as_indicator_array(x: Any, name: str) -> np.ndarray:
    """Return a 1-D boolean array from booleans or 0/1 numbers.

    Raises :class:`~shiftguard.errors.InputError` naming ``name`` for any other value.
    """
    arr = np.asarray(x)
    if arr.dtype == bool and arr.ndim == 1:
        return arr
    values = as_float_array(arr, name)
    bad = np.flatnonzero((values != 0.0) & (values != 1.0))
    if bad.size:
        i = int(bad[0])
        raise InputError(f"must hold only 0/1 or booleans; position {i} holds {values[i]!r}", name)
    return values == 1.0


def as_sampling_probabilities(x: Any, name: str) -> np.ndarray:
    """Return inclusion probabilities as a 1-D float64 array, each in ``(0, 1]``.

    Raises :class:`~shiftguard.errors.InputError` naming ``name`` (and the first offending
    position) when a probability is NaN, ``<= 0`` or ``> 1``.
    """
    arr = as_float_array(x, name)
    bad = np.flatnonzero((arr <= 0.0) | (arr > 1.0))
    if bad.size:
        i = int(bad[0])
        raise InputError(
            f"probabilities must lie in (0, 1]; position {i} holds {arr[i]!r}", name
        )
    return arr


def as_texts(texts: Any, name: str, min_count: int) -> list[str]:
    """``texts`` as a list of ``str``, else an :class:`InputError` naming the first bad item."""
    if isinstance(texts, str):
        raise InputError("expected a sequence of texts, got one string", name)
    try:
        items = list(texts)
    except TypeError:
        raise InputError(f"expected a sequence of texts, got {type(texts).__name__}",
                         name) from None
    is_text = np.fromiter(map(isinstance, items, itertools.repeat(str)), dtype=bool,
                          count=len(items))
    if not is_text.all():
        first = int(np.argmin(is_text))
        item = items[first]
        raise InputError(
            f"item {first} is {type(item).__name__} ({item!r:.40}), not str "
            f"({int(is_text.size - is_text.sum())} of {is_text.size} items are not); drop "
            "or fill missing texts first", name
        )
    if len(items) < min_count:
        raise InputError(f"needs at least {min_count} text{'s' * (min_count > 1)}, got "
                         f"{len(items)}", name)
    return items


def check_state_header(state: Any, kind: str, version: int) -> None:
    """Raise ``StateError`` unless ``state`` is a ``to_dict()`` dictionary of a ``kind``
    object in format ``version``."""
    if not isinstance(state, dict) or state.get("detector") != kind:
        found = state.get("detector") if isinstance(state, dict) else type(state).__name__
        raise StateError(f"expected a {kind} state, got {found!r}")
    if state.get("version") != version:
        raise StateError(f"unsupported state version {state.get('version')!r}")
