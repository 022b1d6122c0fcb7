"""FWER and FDR control of the multiple-testing procedures, in simulation.

Families of m = 20 one-sided z-tests, 15 true nulls (mean 0) and 5 false ones (mean 3),
independent or equicorrelated (rho = 0.5, positive dependence). Tolerances are three
standard errors of the simulated rate (binomial for FWER, sample SD of the FDP for FDR).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from helpers import binomial_band
from shiftguard.stats.multiple import reject

pytestmark = pytest.mark.validity

ALPHA = 0.1
M, M0 = 20, 15
N_REPS = 4000


def _pvalues(seed: int, rho: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    common = rng.normal(size=(N_REPS, 1))
    z = np.sqrt(rho) * common + np.sqrt(1 - rho) * rng.normal(size=(N_REPS, M))
    false_null = np.arange(M) >= M0
    z[:, false_null] += 3.0
    return norm.sf(z), false_null


def _decisions(pvalues: np.ndarray, method: str) -> np.ndarray:
    return np.array([reject(p, ALPHA, method) for p in pvalues])


@pytest.mark.parametrize(("method", "rho"), [
    ("bonferroni", 0.5), ("holm", 0.0), ("holm", 0.5), ("hochberg", 0.0), ("hochberg", 0.5),
])
def test_fwer_is_controlled(method: str, rho: float) -> None:
    pvalues, false_null = _pvalues(seed=1, rho=rho)
    decisions = _decisions(pvalues, method)
    fwer = np.mean(decisions[:, ~false_null].any(axis=1))
    assert fwer <= binomial_band(ALPHA, N_REPS)[1], f"{method}, rho={rho}: FWER {fwer:.4f}"
    assert decisions[:, false_null].mean() > 0.3  # and it still finds the false nulls


def _fdp(decisions: np.ndarray, false_null: np.ndarray) -> np.ndarray:
    n_rejected = decisions.sum(axis=1)
    n_false_rejections = decisions[:, ~false_null].sum(axis=1)
    return n_false_rejections / np.maximum(n_rejected, 1)


def test_bh_fdr_equals_its_bound_under_independence() -> None:
    # Under independence BH's FDR is exactly (m0 / m) * alpha (Benjamini and Hochberg 1995).
    pvalues, false_null = _pvalues(seed=2, rho=0.0)
    fdp = _fdp(_decisions(pvalues, "bh"), false_null)
    se = fdp.std(ddof=1) / np.sqrt(N_REPS)
    assert abs(fdp.mean() - M0 / M * ALPHA) <= 3 * se


@pytest.mark.parametrize(("method", "rho"), [("bh", 0.5), ("by", 0.0), ("by", 0.5)])
def test_fdr_is_controlled(method: str, rho: float) -> None:
    pvalues, false_null = _pvalues(seed=3, rho=rho)
    fdp = _fdp(_decisions(pvalues, method), false_null)
    se = fdp.std(ddof=1) / np.sqrt(N_REPS)
    assert fdp.mean() <= ALPHA + 3 * se, f"{method}, rho={rho}: FDR {fdp.mean():.4f}"


def test_fdr_procedures_are_more_powerful_than_fwer_ones() -> None:
    pvalues, false_null = _pvalues(seed=4, rho=0.0)
    power = {m: _decisions(pvalues, m)[:, false_null].mean() for m in ("holm", "bh")}
    assert power["bh"] > power["holm"]
