"""The report's familywise guarantee on messy null designs: P(report.drifted) <= alpha.

Both tables are independent draws from one distribution; each design is one kind of data
users really have -- heavy ties, rare categories, 30% missing values, a small batch against
a large reference, sparse binary columns, many correlated features. ``compare`` runs with
all its defaults: KS, chi-squared with rare categories pooled and a permutation p-value
where a cell is sparse, Fisher's test of missing rates, the MMD on a subsample, Holm over
everything (and localisation, which only runs behind a drift verdict).
"""

from __future__ import annotations

import numpy as np
import pytest

from helpers import binomial_band
from shiftguard.drift import compare
from shiftguard.stream import Monitor

pytestmark = pytest.mark.validity

ALPHA = 0.05
REPS = 500
RARE_LABELS = np.array(list("abcd") + [f"rare{i}" for i in range(6)])
RARE_P = np.array([0.4, 0.3, 0.2, 0.1 - 6e-4] + [1e-4] * 6)


def _ties(rng, n):
    return {"small_ints": rng.choice(4, size=n, p=[0.4, 0.3, 0.2, 0.1]),
            "poisson": rng.poisson(2.0, size=n), "binary": rng.integers(0, 2, size=n),
            "rounded": np.round(rng.normal(size=n), 1)}


def _rare_categories(rng, n):
    table = {f"cat{j}": rng.choice(RARE_LABELS, size=n, p=RARE_P) for j in range(4)}
    table["x"] = rng.normal(size=n)
    return table


def _missing(rng, n):
    x = rng.normal(size=n)
    x[rng.random(n) < 0.3] = np.nan
    k = rng.choice(np.array(["u", "v", "w"], dtype=object), size=n, p=[0.6, 0.3, 0.1])
    k[rng.random(n) < 0.3] = None
    ints = rng.poisson(1.0, size=n).astype(float)
    ints[rng.random(n) < 0.3] = np.nan
    return {"x": x, "k": k, "ints": ints}


def _unequal(rng, n):
    return {"normal": rng.normal(size=n), "exp": rng.exponential(size=n),
            "k": rng.choice(["p", "q", "r"], size=n, p=[0.5, 0.3, 0.2])}


def _sparse_binary(rng, n):
    return {f"b{j}": (rng.random(n) < 0.02).astype(np.int64) for j in range(10)}


def _correlated(rng, n, d=12):
    # AR(1) correlation 0.7 between neighbours; every third feature rounded (ties)
    z = rng.normal(size=(n, d))
    for j in range(1, d):
        z[:, j] = 0.7 * z[:, j - 1] + np.sqrt(1 - 0.49) * z[:, j]
    z[:, ::3] = np.round(z[:, ::3])
    return {f"f{j}": z[:, j] for j in range(d)}


DESIGNS = {
    "ties_200_vs_2000": (_ties, 2000, 200),
    "rare_categories_20000_vs_200": (_rare_categories, 20_000, 200),
    "missing_30pct_500_vs_500": (_missing, 500, 500),
    "missing_30pct_200_vs_2000": (_missing, 2000, 200),
    "unequal_20000_vs_200": (_unequal, 20_000, 200),
    "sparse_binary_2000_vs_200": (_sparse_binary, 2000, 200),
    "correlated_12_features_3000_vs_300": (_correlated, 3000, 300),
}


@pytest.mark.parametrize("design", DESIGNS)
def test_default_report_holds_alpha_on_messy_null_data(design):
    make, n_ref, n_cur = DESIGNS[design]
    rng = np.random.default_rng(list(design.encode()))
    alarms = sum(
        compare(make(rng, n_ref), make(rng, n_cur), seed=int(rng.integers(2**31))).drifted
        for _ in range(REPS)
    )
    assert alarms / REPS <= binomial_band(ALPHA, REPS)[1]


def test_monitor_with_rare_categories_holds_its_run_level_alpha():
    # 20 batches of 200 rows against one reference with rare categories: the audit's design
    # (reference shrunk to 5,000 rows to keep the test fast; the rare cells stay sparse).
    rng = np.random.default_rng(2026)
    runs, batches = 300, 20
    alarmed = 0
    for _ in range(runs):
        monitor = Monitor(_rare_categories(rng, 5000), alpha=ALPHA,
                          seed=int(rng.integers(2**31)))
        for _ in range(batches):
            monitor.update(_rare_categories(rng, 200))
        alarmed += bool(monitor.alarms)
    assert alarmed / runs <= binomial_band(ALPHA, runs)[1]
