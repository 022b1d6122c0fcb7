"""Shared checks and small fits for the calibration, recalibration and deferral modules.

Inputs follow one convention. ``probs`` is either a 1-D array of probabilities of class 1
(binary) or an ``(n, K)`` array whose rows sum to one (multiclass); ``y`` holds class
indices ``0..K-1``, and a class the probabilities do not cover is an error.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shiftguard._validation import as_float_array
from shiftguard.errors import InputError

_SUM_TOL = 1e-4  # rows of float32 soft-max outputs sum to one only to about 1e-6
_LOGIT_CLIP = 1e-12


def as_probabilities(probs: Any, name: str = "probs") -> np.ndarray:
    """Return probabilities as float64: 1-D values in [0, 1] or ``(n, K)`` rows summing to 1.

    Raises :class:`~shiftguard.errors.InputError` naming ``name`` when a value lies outside
    [0, 1], a row does not sum to one (within 1e-4), there are fewer than two columns, or a
    value is NaN or infinite.
    """
    p = np.asarray(probs)
    p = as_float_array(p, name, ndim=2 if p.ndim == 2 else 1)
    if p.ndim == 2 and p.shape[1] < 2:
        raise InputError(f"expected at least two class columns, got shape {p.shape}", name)
    bad = np.flatnonzero(((p < 0.0) | (p > 1.0)).reshape(p.shape[0], -1).any(axis=1))
    if bad.size:
        raise InputError(f"probabilities must lie in [0, 1]; row {int(bad[0])} does not", name)
    if p.ndim == 2:
        off = np.flatnonzero(np.abs(p.sum(axis=1) - 1.0) > _SUM_TOL)
        if off.size:
            i = int(off[0])
            raise InputError(
                f"probabilities do not sum to one: {off.size} row(s), first row {i} sums to "
                f"{p[i].sum()!r}; pass soft-max outputs, or logits to the estimators that "
                "accept them",
                name,
            )
    return p


def as_class_labels(y: Any, n_classes: int, n: int, name: str = "y") -> np.ndarray:
    """Return ``y`` as class indices ``0..n_classes-1`` (booleans count as 0/1).

    Raises :class:`~shiftguard.errors.InputError` naming ``name`` for a length other than
    ``n``, a non-integer label, or a class index the probabilities do not cover (a class
    the model never saw).
    """
    values = as_float_array(y, name)
    if values.shape[0] != n:
        raise InputError(f"expected {n} labels (one per row of the probabilities), got "
                         f"{values.shape[0]}", name)
    if np.any(values != np.floor(values)):
        raise InputError("labels must be integer class indices", name)
    unseen = np.flatnonzero((values < 0) | (values >= n_classes))
    if unseen.size:
        raise InputError(
            f"class {values[unseen[0]]:g} is outside 0..{n_classes - 1}: the probabilities "
            f"have no column for it (a class the model never saw; {unseen.size} row(s))",
            name,
        )
    return values.astype(np.intp)


def top_label(probs: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(confidence, outcome)``: ``(p, y)`` for 1-D ``probs``, else the top-label pair."""
    if probs.ndim == 1:
        return probs, y.astype(np.float64)
    return probs.max(axis=1), (probs.argmax(axis=1) == y).astype(np.float64)


def checked_pair(probs: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate ``probs`` and ``y`` together and return their :func:`top_label` pair."""
    p = as_probabilities(probs)
    labels = as_class_labels(y, 2 if p.ndim == 1 else p.shape[1], p.shape[0])
    return top_label(p, labels)


def logit(p: np.ndarray) -> np.ndarray:
    """``log(p / (1 - p))`` with ``p`` clipped to ``[1e-12, 1 - 1e-12]`` (finite at 0 and 1)."""
    q = np.clip(p, _LOGIT_CLIP, 1.0 - _LOGIT_CLIP)
    return np.log(q) - np.log1p(-q)


def logistic_fit(X: np.ndarray, y: np.ndarray, max_iter: int = 100
                 ) -> tuple[np.ndarray, float]:
    """Maximum-likelihood logistic regression by damped Newton steps: ``(coef, loglik)``.

    A ridge of 1e-9 keeps the Hessian invertible; under separation the likelihood
    approaches its supremum and the iteration stops at ``max_iter``.
    """
    coef = np.zeros(X.shape[1])

    def loglik(c: np.ndarray) -> float:
        eta = X @ c
        return float(np.sum(y * eta - np.logaddexp(0.0, eta)))

    current = loglik(coef)
    for _ in range(max_iter):
        mu = 0.5 * (1.0 + np.tanh(0.5 * (X @ coef)))  # the logistic function, overflow-free
        grad = X.T @ (y - mu)
        hess = (X * (mu * (1.0 - mu))[:, None]).T @ X + 1e-9 * np.eye(X.shape[1])
        step = np.linalg.solve(hess, grad)
        t, candidate = 1.0, loglik(coef + step)
        while candidate < current - 1e-12 and t > 1e-10:
            t *= 0.5
            candidate = loglik(coef + t * step)
        if candidate < current - 1e-12:  # no ascent left along the Newton direction
            break
        coef, previous, current = coef + t * step, current, candidate
        if abs(current - previous) < 1e-10 * (1.0 + abs(current)):
            break
    return coef, current
