"""What every drift peer module shares; NumPy and the standard library only.

Each peer module (``peer_<name>.py``) runs inside a long-lived ``worker.py`` process in its
own virtualenv, so this module must import nothing else. A peer module defines ``SIDES``,
a mapping from a side's name to a :class:`Side`, and ``versions()``.
"""

from __future__ import annotations

import json
import resource
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

ALPHA = 0.05
MMD_PERMUTATIONS = 1_000


class Side(NamedTuple):
    """One way of running a library's batch comparison.

    ``prepare(array, names)`` turns a saved table into the input the library takes (a
    DataFrame, say); it runs once per table, outside the clock, since a user already holds
    the data in that form. ``fit(reference)`` builds the fitted state once (timed once).
    ``compare(state, current)`` is what every round times. ``summary(result)`` reads the
    verdict outside the clock: a dict with ``flags`` (one bool per column), ``drifted``
    (the dataset verdict) and whatever else the report compares (``pvalues``, ...).
    """

    fit: Callable[[Any], Any]
    compare: Callable[[Any, Any], Any]
    summary: Callable[[Any], dict[str, Any]]
    prepare: Callable[[np.ndarray, list[str]], Any] = lambda array, names: array


def column_names(n_columns: int) -> list[str]:
    return [f"x{j}" for j in range(n_columns)]


def as_frame(array: np.ndarray, names: list[str]) -> Any:
    """The table as a pandas DataFrame (imported here: not every peer venv has pandas)."""
    import pandas as pd

    return pd.DataFrame(array, columns=names)


def load_table(data_dir: Path, name: str) -> np.ndarray:
    return np.load(data_dir / f"{name}.npy")


def load_mmd_data(data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    return np.load(data_dir / "mmd_x.npy"), np.load(data_dir / "mmd_y.npy")


def peak_rss_bytes() -> int:
    """High-water resident set size of this process (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def pvalue_flags(pvalues: Any, alpha: float = ALPHA) -> list[bool]:
    """Per-column ``p < alpha``, no multiplicity correction (what a user of a bare loop writes)."""
    return [bool(p < alpha) for p in np.asarray(pvalues, dtype=float)]


def to_json(value: Any) -> str:
    return json.dumps(value, default=_jsonable)


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (tuple, set)):
        return list(value)
    raise TypeError(type(value))
