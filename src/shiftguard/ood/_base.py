"""Conventions shared by the outlier / OOD detectors: validated feature matrices and the
fitted-state check. Every detector follows scikit-learn's rules: constructor arguments are
stored untouched, ``fit(X, y=None)`` learns state in attributes ending in ``_`` and returns
``self``, and ``score(X)`` returns one float64 per row, higher meaning more anomalous."""

from __future__ import annotations

from typing import Any

import numpy as np

from shiftguard._validation import as_float_array
from shiftguard.errors import InputError, NotFittedError


def check_features(X: Any, name: str = "X", n_features: int | None = None,
                   min_rows: int = 1) -> np.ndarray:
    """``X`` as a finite (n, d) float64 array; with ``n_features``, ``d`` must match the
    number of features seen in ``fit`` (a typed error says both numbers)."""
    arr = as_float_array(X, name, ndim=2, min_size=min_rows)
    if n_features is not None and arr.shape[1] != n_features:
        raise InputError(f"has {arr.shape[1]} features, but the detector was fitted on "
                         f"{n_features}", name)
    return arr


def check_fitted(detector: Any, attribute: str) -> None:
    """Raise :class:`NotFittedError` unless ``detector`` has the fitted ``attribute``."""
    if not hasattr(detector, attribute):
        raise NotFittedError(f"{type(detector).__name__} is not fitted: call fit(X) first")
