"""Helpers shared by tests (importable as ``helpers``: ``tests/`` is on pytest's pythonpath)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest


def binomial_band(p: float, n: int, k: float = 3.0) -> tuple[float, float]:
    """Interval ``p +/- k`` binomial standard errors for a rate ``p`` seen in ``n`` trials."""
    se = math.sqrt(p * (1.0 - p) / n)
    return p - k * se, p + k * se


# -- real data shared by the ood tests -------------------------------------------------

#: ADBench tables live in ../shared beside the checkout (never copied into the project).
ADBENCH = Path(__file__).resolve().parents[2] / "shared" / "data" / "adbench"


def load_adbench(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Features (float64) and labels (1 = anomaly) of one ADBench table; skips the test
    with the reason when the shared data folder is absent (a user's clone)."""
    path = ADBENCH / f"{name}.npz"
    if not path.exists():
        pytest.skip(f"ADBench table {path} is absent (it lives in ../shared beside the "
                    "checkout, not in the repository)")
    with np.load(path) as data:
        return data["X"].astype(np.float64), data["y"]


def novelty_split(X: np.ndarray, y: np.ndarray, seed: int = 0):
    """Fit on a random half of the normal rows; score the other half and every anomaly."""
    normal = np.random.default_rng(seed).permutation(np.flatnonzero(y == 0))
    half = normal.size // 2
    test = np.concatenate([normal[half:], np.flatnonzero(y == 1)])
    return X[normal[:half]], X[test], y[test]


def adbench_split(name: str, seed: int = 0):
    """:func:`novelty_split` of one ADBench table."""
    return novelty_split(*load_adbench(name), seed=seed)


def digits_split(seed: int = 0):
    """Digits 0-4: half to fit (with labels), half held out; digits 5-9 are unseen classes."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    seen = y < 5
    order = np.random.default_rng(seed).permutation(np.flatnonzero(seen))
    fit_rows, held_out = order[: order.size // 2], order[order.size // 2 :]
    test = np.concatenate([held_out, np.flatnonzero(~seen)])
    return X[fit_rows], y[fit_rows], X[test], ~seen[test]


def labelled_gaussians(rng: np.random.Generator, n: int = 300, d: int = 5, k: int = 3,
                       separation: float = 3.0):
    """``k`` Gaussian classes with a shared random covariance and well-separated means."""
    y = rng.integers(0, k, size=n)
    X = rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) + separation * rng.normal(size=(k, d))[y]
    return X, y


def one_error_line(err: str, prefix: str = "shiftguard: error: ") -> str:
    """Check that the CLI's stderr is one line starting with ``prefix``, without a
    traceback; return it."""
    assert err.startswith(prefix) and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err
