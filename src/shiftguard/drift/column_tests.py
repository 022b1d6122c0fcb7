"""The per-column tests of a drift report: which test applies to which kind, rare
categories pooled, and the rate tests (missing values, non-numeric tokens)."""

from __future__ import annotations

from typing import Any

import numpy as np

from shiftguard.errors import InputError
from shiftguard.io import Column
from shiftguard.stats import anderson, categorical, cvm, distances, epps_singleton, ks, ranks
from shiftguard.stats.categorical import MIN_EXPECTED_COUNT

NUMERIC_TESTS = {
    "ks": ks.ks_test,
    "cvm": cvm.cvm_test,
    "anderson": anderson.anderson_test,
    "mannwhitney": ranks.mannwhitney_test,
    "epps_singleton": epps_singleton.epps_singleton_test,
    "wasserstein": distances.wasserstein_test,
    "psi": distances.psi_test,
    "js": distances.js_test,
    "hellinger": distances.hellinger_test,
}
CATEGORICAL_TESTS = ("chi2", "g", "fisher", "psi", "js", "hellinger")
TEXT_TESTS = ("mmd", "depth")


def aligned_counts(ref: Column, cur: Column) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels (reference's, then unseen ones) and both samples' counts over them."""
    index = {label: i for i, label in enumerate(ref.categories)}
    unseen = [label for label in cur.categories if label not in index]
    for label in unseen:
        index[label] = len(index)
    labels = np.asarray([*ref.categories, *unseen], dtype=object)
    cur_map = np.asarray([index[label] for label in cur.categories], dtype=np.intp)
    ref_counts = np.bincount(ref.observed(), minlength=labels.size).astype(np.float64)
    cur_counts = np.bincount(cur_map[cur.observed()], minlength=labels.size).astype(np.float64)
    return labels, ref_counts, cur_counts


def pool_rare(ref_counts: np.ndarray, cur_counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pool categories whose smallest expected cell count is below MIN_EXPECTED_COUNT into
    one cell, when at least two categories are common enough to stay on their own.

    The choice depends only on pooled counts, which are the same under every permutation
    of the rows between samples, so the test stays valid conditionally on it. The pooled
    cell may itself stay sparse: the test's ``"auto"`` p-value is then by permutation.
    When fewer than two categories are common (identifier-like or high-cardinality
    columns) nothing is pooled, so the test never degenerates to a single cell.
    """
    pooled = ref_counts + cur_counts
    expected = min(ref_counts.sum(), cur_counts.sum()) * pooled / pooled.sum()
    rare = (expected < MIN_EXPECTED_COUNT) & (pooled > 0)
    keep = ~rare & (pooled > 0)
    if not rare.any() or np.count_nonzero(keep) < 2:
        return ref_counts, cur_counts
    return (
        np.append(ref_counts[keep], ref_counts[rare].sum()),
        np.append(cur_counts[keep], cur_counts[rare].sum()),
    )


def missing_rate_pvalue(ref: Column, cur: Column) -> float | None:
    """Fisher's exact test of equal missing-value rates, or None when nothing is missing."""
    return _rate_pvalue(ref.n_missing, len(ref), cur.n_missing, len(cur))


def run_numeric(test: str, x: np.ndarray, y: np.ndarray, n_permutations: int,
                rng: np.random.Generator) -> Any:
    """The named numeric test of two observed samples (seeded where it permutes)."""
    func = NUMERIC_TESTS[test]
    if test in ("ks", "mannwhitney"):
        return func(x, y)
    return func(x, y, n_permutations=n_permutations, seed=rng)


def run_categorical(test: str, ref_counts: np.ndarray, cur_counts: np.ndarray,
                    n_permutations: int, rng: np.random.Generator, name: str) -> Any:
    """The named categorical test of two count vectors over the same categories."""
    if test == "chi2":
        return categorical.chi2_test_counts(ref_counts, cur_counts,
                                            n_permutations=n_permutations, seed=rng)
    if test == "g":
        return categorical.g_test_counts(ref_counts, cur_counts, n_permutations=n_permutations,
                                         seed=rng)
    if test == "fisher":
        if ref_counts.size != 2:
            raise InputError(f"Fisher's exact test needs 2 categories, found {ref_counts.size}",
                             name)
        return categorical.fisher_test_counts(ref_counts, cur_counts)
    func = getattr(distances, f"{test}_test_counts")
    return func(ref_counts, cur_counts, n_permutations=n_permutations, seed=rng)


def non_numeric_pvalue(ref: Column, cur: Column) -> float | None:
    """Fisher's exact test of equal rates of non-numeric tokens among non-missing values,
    or None when neither sample has any."""
    return _rate_pvalue(ref.n_non_numeric, len(ref) - ref.n_missing,
                        cur.n_non_numeric, len(cur) - cur.n_missing)


def _rate_pvalue(hits_ref: int, n_ref: int, hits_cur: int, n_cur: int) -> float | None:
    """Fisher's exact test of equal rates ``hits / n`` (exact and conservative at any size;
    ``None`` without a single hit)."""
    if hits_ref + hits_cur == 0:
        return None
    from scipy.stats import fisher_exact

    table = [[hits_ref, n_ref - hits_ref], [hits_cur, n_cur - hits_cur]]
    return float(fisher_exact(table).pvalue)
