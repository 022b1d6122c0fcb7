"""Result dataclasses that serialise to plain JSON-ready dictionaries."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np


def to_jsonable(value: Any) -> Any:
    """Convert ``value`` to JSON-ready Python objects.

    NumPy scalars and arrays become Python numbers and lists; NaN and infinities, which
    JSON cannot carry, become ``None``; nested dataclasses, mappings and sequences are
    converted recursively.
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [to_jsonable(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class ResultMixin:
    """Adds ``to_dict`` to a frozen dataclass."""

    def to_dict(self) -> dict[str, Any]:
        """Return the result as a JSON-ready dictionary (NaN and inf become ``None``)."""
        return to_jsonable(self)


@dataclasses.dataclass(frozen=True)
class TestResult(ResultMixin):
    """Outcome of one hypothesis test.

    Attributes
    ----------
    method
        Name of the test, e.g. ``"ks"``.
    statistic
        The test statistic.
    pvalue
        The p-value; its guarantee is stated in the docstring of the function that made it.
    effect_size
        A scale-free size of the difference when the test defines one, else ``None``.
    n_permutations
        Number of permutations when the p-value is by permutation, else ``None``.
    """

    __test__ = False  # not a pytest test class

    method: str
    statistic: float
    pvalue: float
    effect_size: float | None = None
    n_permutations: int | None = None
