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
    check_choice,
)
from shiftguard.errors import InputError
from shiftguard.stats.ks import ALTERNATIVES


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


def _pearson_and_g(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float, int]:
    """Pearson's chi-squared, the G statistic and the degrees of freedom of the 2 x k table.

    Categories empty in both samples carry no information and are left out.
    """
    from scipy.special import xlogy

    keep = (ref + cur) > 0
    table = np.vstack([ref[keep], cur[keep]])
    if table.shape[1] < 2:
        return 0.0, 0.0, 0
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0) / table.sum()
    pearson = float(np.sum((table - expected) ** 2 / expected))
    g = float(2.0 * np.sum(xlogy(table, table / expected)))
    return pearson, g, table.shape[1] - 1


def _cramers_v(pearson: float, ref: np.ndarray, cur: np.ndarray) -> float:
    return math.sqrt(pearson / (ref.sum() + cur.sum()))


def _contingency_result(
    name: str, ref: np.ndarray, cur: np.ndarray, unseen: tuple[Any, ...]
) -> CategoricalTestResult:
    from scipy.stats import chi2

    pearson, g, dof = _pearson_and_g(ref, cur)
    statistic = pearson if name == "chi2" else g
    pvalue = 1.0 if dof == 0 else float(chi2.sf(statistic, dof))
    return CategoricalTestResult(
        name, statistic, pvalue, _cramers_v(pearson, ref, cur), unseen_categories=unseen
    )


def chi2_test(x: Any, y: Any) -> CategoricalTestResult:
    """Pearson's chi-squared test of homogeneity of two categorical samples.

    Statistic and p-value equal ``scipy.stats.chi2_contingency(table, correction=False)``.
    See :func:`chi2_test_counts` for the null hypothesis and guarantee.

    Parameters
    ----------
    x, y
        Reference and current labels (str, int, bool or object), 1-D, no missing labels.

    Examples
    --------
    >>> res = chi2_test(["a", "a", "b", "b"] * 10, ["a", "b", "c", "c"] * 10)
    >>> res.unseen_categories
    ('c',)
    """
    categories, ref, cur, unseen = label_counts(x, y)
    return _contingency_result("chi2", ref, cur, unseen)


def chi2_test_counts(
    ref_counts: Any, cur_counts: Any, categories: Sequence[Any] | None = None
) -> CategoricalTestResult:
    """Pearson's chi-squared test of homogeneity from per-category counts.

    Null hypothesis: the category probabilities are the same in the reference and current
    populations. The 2 x k table has one row per sample and one column per category seen
    in either (categories with zero counts in both are left out); a category seen only in
    the current sample (unseen in the reference) stays a category of its own, since its
    pooled expected counts are positive, and is listed in ``unseen_categories``.
    Statistic and p-value equal ``scipy.stats.chi2_contingency(table, correction=False)``.

    Guarantee: asymptotic; under the null the statistic tends to chi-squared with ``k - 1``
    degrees of freedom as the counts grow (rule of thumb: expected counts of at least 5;
    for sparse tables pool rare categories or use a permutation distance). Effect size:
    Cramer's V. With a single category the table holds no evidence: statistic 0, p = 1.
    Parameters
    ----------
    ref_counts, cur_counts
        Counts per category (same order, whole numbers >= 0), each sample non-empty.
    categories
        Optional labels of the categories, used in ``unseen_categories`` (else positions).

    References
    ----------
    Pearson, K. (1900). On the criterion that a given system of deviations from the
    probable... Philosophical Magazine 50, 157-175.
    """
    ref, cur, unseen = checked_counts(ref_counts, cur_counts, categories)
    return _contingency_result("chi2", ref, cur, unseen)


def g_test(x: Any, y: Any) -> CategoricalTestResult:
    """Likelihood-ratio (G) test of homogeneity of two categorical samples.

    Statistic and p-value equal ``scipy.stats.chi2_contingency(table, correction=False,
    lambda_="log-likelihood")``. See :func:`g_test_counts` for the guarantee.
    """
    categories, ref, cur, unseen = label_counts(x, y)
    return _contingency_result("g", ref, cur, unseen)


def g_test_counts(
    ref_counts: Any, cur_counts: Any, categories: Sequence[Any] | None = None
) -> CategoricalTestResult:
    """Likelihood-ratio (G) test of homogeneity from per-category counts.

    Same null hypothesis, table (including categories unseen in the reference, listed in
    ``unseen_categories``) and asymptotic chi-squared guarantee as
    :func:`chi2_test_counts`; the statistic is ``G = 2 sum O log(O / E)``. Statistic and
    p-value equal ``scipy.stats.chi2_contingency(table, correction=False,
    lambda_="log-likelihood")``. Effect size: Cramer's V (from Pearson's statistic).
    Parameters
    ----------
    ref_counts, cur_counts, categories
        As in :func:`chi2_test_counts`.

    References
    ----------
    Sokal, R. R. and Rohlf, F. J. (1995). Biometry, 3rd ed., section 17.2 (G-test).
    """
    ref, cur, unseen = checked_counts(ref_counts, cur_counts, categories)
    return _contingency_result("g", ref, cur, unseen)


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
    pearson = _pearson_and_g(ref, cur)[0] if (table.sum(axis=0) > 0).all() else 0.0
    return CategoricalTestResult(
        "fisher",
        float(res.statistic),
        float(res.pvalue),
        _cramers_v(pearson, ref, cur),
        unseen_categories=unseen,
    )
