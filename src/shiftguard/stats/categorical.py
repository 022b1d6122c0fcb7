"""Categorical two-sample tests: chi-squared, G and Fisher's exact test, on labels or counts.

Effect size (every test): Cramer's V of the 2 x k table, ``sqrt(chi2 / N)``, from Pearson's
chi-squared statistic whatever the test.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from shiftguard._result import TestResult
from shiftguard._validation import (
    as_count_array,
    as_label_array,
    as_rng,
    check_choice,
    check_positive_int,
)
from shiftguard.errors import InputError
from shiftguard.stats.ks import ALTERNATIVES
from shiftguard.stats.montecarlo import count_permutation_test, smaller_sample


@dataclasses.dataclass(frozen=True)
class CategoricalTestResult(TestResult):
    """Categorical test result that names the categories absent from the reference.

    ``unseen_categories`` lists the labels (or, for the ``*_counts`` functions without
    ``categories``, the positions) observed in the current sample but never in the reference.
    They take part in the test as categories of their own.
    """

    unseen_categories: tuple[Any, ...] = ()


def label_counts(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[Any, ...]]:
    """Categories (sorted), per-category counts of ``x`` and ``y``, and the unseen ones."""
    xs = as_label_array(x, "x")
    ys = as_label_array(y, "y")
    # Labels of different kinds (str vs int, say) are compared as Python objects, so that
    # 1 and "1" stay distinct instead of being coerced to one string.
    same_kind = (xs.dtype.kind in "USa") == (ys.dtype.kind in "USa") and object not in (
        xs.dtype,
        ys.dtype,
    )
    pooled = np.concatenate([xs, ys]) if same_kind else np.concatenate(
        [xs.astype(object), ys.astype(object)]
    )
    try:
        categories, codes = np.unique(pooled, return_inverse=True)
    except TypeError as exc:
        raise InputError(f"labels of x and y cannot be compared with each other ({exc})") from None
    k = categories.size
    ref_counts = np.bincount(codes[: xs.size], minlength=k).astype(np.float64)
    cur_counts = np.bincount(codes[xs.size :], minlength=k).astype(np.float64)
    unseen = tuple(categories[(ref_counts == 0) & (cur_counts > 0)].tolist())
    return categories, ref_counts, cur_counts, unseen


def checked_counts(
    ref_counts: Any, cur_counts: Any, categories: Sequence[Any] | None
) -> tuple[np.ndarray, np.ndarray, tuple[Any, ...]]:
    """Validated count vectors and the unseen categories (labels, or positions)."""
    ref = as_count_array(ref_counts, "ref_counts")
    cur = as_count_array(cur_counts, "cur_counts")
    if ref.size != cur.size:
        raise InputError(
            f"has {cur.size} categories but ref_counts has {ref.size}", "cur_counts"
        )
    for name, counts in (("ref_counts", ref), ("cur_counts", cur)):
        if counts.sum() == 0:
            raise InputError("all counts are zero: the sample is empty", name)
    if categories is not None and len(categories) != ref.size:
        raise InputError(
            f"has {len(categories)} labels but there are {ref.size} counts", "categories"
        )
    unseen_at = np.flatnonzero((ref == 0) & (cur > 0))
    labels = unseen_at.tolist() if categories is None else [categories[i] for i in unseen_at]
    return ref, cur, tuple(v.item() if isinstance(v, np.generic) else v for v in labels)


#: Every cell of the 2 x k table needs this expected count before ``method="auto"`` trusts
#: the chi-squared limit; below it the p-value is by permutation.
MIN_EXPECTED_COUNT = 5.0
_METHODS = ("auto", "asymptotic", "permutation")
#: Upper bound on permutations x categories for one Monte Carlo p-value (~0.5 s).
_MAX_PERMUTATION_WORK = 20_000_000


def _table(ref: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """The 2 x k table without the categories empty in both samples (they carry nothing)."""
    keep = (ref + cur) > 0
    return np.vstack([ref[keep], cur[keep]])


def _statistic(name: str, cur: np.ndarray, pooled: np.ndarray, n_ref: float,
               n_cur: float) -> np.ndarray:
    """Pearson's chi-squared (``name="chi2"``) or G (``"g"``) of 2 x k tables given by the
    current row(s) ``cur`` (shape (k,) or (B, k)) and the pooled counts; the reference row
    is ``pooled - cur``."""
    total = n_ref + n_cur
    e_cur = pooled * (n_cur / total)
    e_ref = pooled * (n_ref / total)
    if name == "chi2":
        return (cur - e_cur) ** 2 @ (1.0 / e_cur + 1.0 / e_ref)
    from scipy.special import xlogy

    ref = pooled - cur
    return 2.0 * (xlogy(cur, cur / e_cur) + xlogy(ref, ref / e_ref)).sum(axis=-1)


def _contingency_result(
    name: str, ref: np.ndarray, cur: np.ndarray, unseen: tuple[Any, ...], method: str,
    n_permutations: int, seed: int | np.random.Generator | None,
) -> CategoricalTestResult:
    # scipy.special, not scipy.stats: same values, a fraction of the import time (CLI start)
    from scipy.special import chdtrc

    check_choice(method, "method", _METHODS)
    n_permutations = check_positive_int(n_permutations, "n_permutations")
    table = _table(ref, cur)
    n_ref, n_cur = float(table[0].sum()), float(table[1].sum())
    pooled = table.sum(axis=0)
    if pooled.size < 2:
        # A single category observed: the table holds no evidence.
        return CategoricalTestResult(name, 0.0, 1.0, 0.0, unseen_categories=unseen)
    statistic = float(_statistic(name, table[1], pooled, n_ref, n_cur))
    effect = _cramers_v(ref, cur)
    smallest_expected = pooled.min() * min(n_ref, n_cur) / (n_ref + n_cur)
    if method == "asymptotic" or (method == "auto" and smallest_expected >= MIN_EXPECTED_COUNT):
        pvalue = float(chdtrc(pooled.size - 1, statistic))
        return CategoricalTestResult(name, statistic, pvalue, effect, unseen_categories=unseen)
    n_permutations = min(n_permutations, max(999, _MAX_PERMUTATION_WORK // pooled.size))
    # Relabel the smaller sample: the statistic of its counts ``a`` is that of the table
    # whose current row is ``a`` (current is smaller) or ``pooled - a`` (reference is).
    counts, _ = smaller_sample(table[1].astype(np.int64), pooled.astype(np.int64))
    flip = n_cur > n_ref

    def of_counts(block: np.ndarray) -> np.ndarray:
        return _statistic(name, pooled - block if flip else block, pooled, n_ref, n_cur)

    def of_values(received: np.ndarray) -> np.ndarray:
        rows, k = received.shape[0], pooled.size
        flat = (received + k * np.arange(rows)[:, None]).ravel()
        return of_counts(np.bincount(flat, minlength=rows * k).reshape(rows, k))

    _, pvalue, drawn = count_permutation_test(counts, pooled.astype(np.int64), of_counts,
                                              of_values, n_permutations, as_rng(seed))
    return CategoricalTestResult(name, statistic, pvalue, effect, drawn,
                                 unseen_categories=unseen)


def chi2_test(
    x: Any, y: Any, *, method: str = "auto", n_permutations: int = 9999,
    seed: int | np.random.Generator | None = None,
) -> CategoricalTestResult:
    """Pearson's chi-squared test of homogeneity of two categorical samples.

    With ``method="asymptotic"`` (and with ``"auto"`` when every expected count is at
    least 5) statistic and p-value equal ``scipy.stats.chi2_contingency(table,
    correction=False)``. See :func:`chi2_test_counts` for the null hypothesis and guarantee.

    Parameters
    ----------
    x, y
        Reference and current labels (str, int, bool or object), 1-D, no missing labels.
    method, n_permutations, seed
        As in :func:`chi2_test_counts`.

    Examples
    --------
    >>> res = chi2_test(["a", "a", "b", "b"] * 10, ["a", "b", "c", "c"] * 10)
    >>> res.unseen_categories
    ('c',)
    """
    categories, ref, cur, unseen = label_counts(x, y)
    return _contingency_result("chi2", ref, cur, unseen, method, n_permutations, seed)


def chi2_test_counts(
    ref_counts: Any, cur_counts: Any, categories: Sequence[Any] | None = None, *,
    method: str = "auto", n_permutations: int = 9999,
    seed: int | np.random.Generator | None = None,
) -> CategoricalTestResult:
    """Pearson's chi-squared test of homogeneity from per-category counts.

    Null hypothesis: the category probabilities are the same in the reference and current
    populations. The 2 x k table has one row per sample and one column per category seen
    in either (categories with zero counts in both are left out); a category seen only in
    the current sample (unseen in the reference) stays a category of its own, since its
    pooled expected counts are positive, and is listed in ``unseen_categories``.

    Guarantee: with ``method="permutation"`` the p-value is a Monte Carlo p-value over at
    most ``B = n_permutations`` random relabellings of the rows between the two samples
    (drawn as multivariate hypergeometric counts), stopped early by Besag and Clifford's
    sequential rule (:mod:`shiftguard.stats.montecarlo`) once 20 relabellings reach the
    observed statistic; so ``P(p <= alpha) <= alpha`` exactly, at every sample size and for
    any counts, when the rows are exchangeable under the null. The smallest attainable
    p-value is ``1 / (1 + B)``; ``n_permutations`` in the result is the number drawn.
    With ``"asymptotic"`` the p-value is the chi-squared limit with ``k - 1`` degrees of
    freedom, only approximately valid and badly wrong for sparse tables (rare categories,
    a small sample against a large one: the audit's design, 4 common and 6 categories of
    probability 1e-4, 20,000 against 200 rows, gave a size of about 0.1 at 0.05 with rare
    categories pooled). ``"auto"`` (default) uses the limit only when every cell of the
    table has an expected count of at least ``MIN_EXPECTED_COUNT`` (5) and the permutation
    p-value otherwise; ``tests/validity`` checks its size on rare-category designs with 200
    against 20,000 rows. ``B`` is capped so that ``B * k`` stays below 2e7 (at least 999).

    Effect size: Cramer's V. With a single category the table holds no evidence:
    statistic 0, p = 1.

    Parameters
    ----------
    ref_counts, cur_counts
        Counts per category (same order, whole numbers >= 0), each sample non-empty.
    categories
        Optional labels of the categories, used in ``unseen_categories`` (else positions).
    method
        ``"auto"``, ``"asymptotic"`` or ``"permutation"``.
    n_permutations, seed
        Number of random relabellings and their seed, for the permutation p-value.

    References
    ----------
    Pearson, K. (1900). On the criterion that a given system of deviations from the
    probable... Philosophical Magazine 50, 157-175.
    Agresti, A. (2013). Categorical Data Analysis, 3rd ed., section 3.5 (exact and Monte
    Carlo inference for sparse tables).
    """
    ref, cur, unseen = checked_counts(ref_counts, cur_counts, categories)
    return _contingency_result("chi2", ref, cur, unseen, method, n_permutations, seed)


def g_test(
    x: Any, y: Any, *, method: str = "auto", n_permutations: int = 9999,
    seed: int | np.random.Generator | None = None,
) -> CategoricalTestResult:
    """Likelihood-ratio (G) test of homogeneity of two categorical samples.

    With ``method="asymptotic"`` (and with ``"auto"`` when every expected count is at
    least 5) statistic and p-value equal ``scipy.stats.chi2_contingency(table,
    correction=False, lambda_="log-likelihood")``. See :func:`g_test_counts` for the
    guarantee.
    """
    categories, ref, cur, unseen = label_counts(x, y)
    return _contingency_result("g", ref, cur, unseen, method, n_permutations, seed)


def g_test_counts(
    ref_counts: Any, cur_counts: Any, categories: Sequence[Any] | None = None, *,
    method: str = "auto", n_permutations: int = 9999,
    seed: int | np.random.Generator | None = None,
) -> CategoricalTestResult:
    """Likelihood-ratio (G) test of homogeneity from per-category counts.

    Same null hypothesis and table (including categories unseen in the reference, listed
    in ``unseen_categories``) as :func:`chi2_test_counts`; the statistic is
    ``G = 2 sum O log(O / E)``. Effect size: Cramer's V (from Pearson's statistic).

    Guarantee: as for :func:`chi2_test_counts` (the same permutation scheme and the same
    rule for ``"auto"``).

    Parameters
    ----------
    ref_counts, cur_counts, categories, method, n_permutations, seed
        As in :func:`chi2_test_counts`.

    References
    ----------
    Sokal, R. R. and Rohlf, F. J. (1995). Biometry, 3rd ed., section 17.2 (G-test).
    """
    ref, cur, unseen = checked_counts(ref_counts, cur_counts, categories)
    return _contingency_result("g", ref, cur, unseen, method, n_permutations, seed)


def fisher_test(x: Any, y: Any, alternative: str = "two-sided") -> CategoricalTestResult:
    """Fisher's exact test for binary labels (a 2 x 2 table).

    The table is ``[[ref_a, ref_b], [cur_a, cur_b]]`` with ``a < b`` the two labels in
    sorted order; statistic (the sample odds ratio) and p-value equal
    :func:`scipy.stats.fisher_exact`. See :func:`fisher_test_counts` for the guarantee.

    Raises
    ------
    InputError
        When ``x`` and ``y`` hold more than two distinct labels together.
    """
    categories, ref, cur, unseen = label_counts(x, y)
    if categories.size > 2:
        raise InputError(
            f"Fisher's exact test needs binary labels; x and y hold {categories.size} "
            f"distinct labels ({', '.join(map(repr, categories[:5].tolist()))}...)"
        )
    return _fisher(ref, cur, alternative, unseen)


def fisher_test_counts(
    ref_counts: Any,
    cur_counts: Any,
    alternative: str = "two-sided",
    categories: Sequence[Any] | None = None,
) -> CategoricalTestResult:
    """Fisher's exact test from the counts of two categories.

    Null hypothesis: the share of the first category is the same in the reference and
    current populations. Guarantee: conditional on the margins the p-value is exact, so
    ``P(p <= alpha) <= alpha`` at every sample size; the test is conservative (discrete).
    ``alternative="less"`` means the odds of the first category are lower in the reference
    than in the current sample. Effect size: Cramer's V (here ``|phi|``), 0 when a margin
    is empty.

    Parameters
    ----------
    ref_counts, cur_counts
        Counts of the two categories in each sample (whole numbers >= 0).
    alternative
        ``"two-sided"``, ``"less"`` or ``"greater"`` (SciPy's meaning on the table).
    categories
        Optional labels, used in ``unseen_categories``.

    References
    ----------
    Fisher, R. A. (1935). The logic of inductive inference. Journal of the Royal
    Statistical Society 98, 39-82.
    """
    ref, cur, unseen = checked_counts(ref_counts, cur_counts, categories)
    if ref.size != 2:
        raise InputError(f"Fisher's exact test needs exactly 2 categories, got {ref.size}",
                         "ref_counts")
    return _fisher(ref, cur, alternative, unseen)


def _fisher(
    ref: np.ndarray, cur: np.ndarray, alternative: str, unseen: tuple[Any, ...]
) -> CategoricalTestResult:
    from scipy.stats import fisher_exact

    check_choice(alternative, "alternative", ALTERNATIVES)
    ref = np.pad(ref, (0, 2 - ref.size))
    cur = np.pad(cur, (0, 2 - cur.size))
    table = np.vstack([ref, cur]).astype(np.int64)
    res = fisher_exact(table, alternative=alternative)
    return CategoricalTestResult(
        "fisher", float(res.statistic), float(res.pvalue), _cramers_v(ref, cur),
        unseen_categories=unseen,
    )


def _cramers_v(ref: np.ndarray, cur: np.ndarray) -> float:
    """Cramer's V of the 2 x k table, ``sqrt(chi2 / N)`` (0 with a single category)."""
    table = _table(ref, cur)
    if table.shape[1] < 2:
        return 0.0
    n_ref, n_cur = table.sum(axis=1)
    pearson = float(_statistic("chi2", table[1], table.sum(axis=0), n_ref, n_cur))
    return math.sqrt(pearson / (n_ref + n_cur))
