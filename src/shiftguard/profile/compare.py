"""Drift reports from profiles, with the in-memory path's guarantee.

:func:`compare_profiles` (reached through :func:`shiftguard.compare` whenever a side is a
:class:`~shiftguard.profile.Profile`, a Parquet directory or glob, or a Dask DataFrame)
returns the same :class:`~shiftguard.drift.DriftReport` as the in-memory path. Each column's
``notes`` start with ``exact``, ``bounded`` or ``refined`` and give the KS interval.

Guarantee
---------
Exact columns: when both samples of a column are summarised exactly (sorted values,
category counts), the column's test *is* the in-memory test on the same numbers: the KS
test of :func:`~shiftguard.stats.ks.ks_test`, the chi-squared test of
:func:`~shiftguard.stats.categorical.chi2_test_counts` after the same rare-category pooling
and with the same seeded Monte Carlo draws. Missing-value and non-numeric-token rates are
Fisher's exact tests on exact counts, and the multiple-testing correction is the same, so
with every column exact the report equals ``shiftguard.compare(reference, current,
multivariate="none")`` test by test (a profile keeps no rows: there is no joint test).

Numeric columns above the exact threshold: the bins of the reference's edges hold exact
counts of both samples, so both ECDFs are known at every edge and, being non-decreasing,
bounded inside every bin. Hence the KS statistic ``D`` lies in ``[D_lo, D_hi]``:
``D_lo`` the largest gap at the edges, ``D_hi`` the largest within-bin bound
(:func:`~shiftguard.profile._bins.ks_bounds`). The reported p-value is
``p(D_lo)``, the in-memory KS p-value of the *lower* end (or, where it lies provably below
every corrected threshold, Massart's upper bound of it, which spares the exact Smirnov
sum: :mod:`shiftguard.profile._pvalues`). It is valid: the KS p-value
``p(.)`` is non-increasing in the statistic and ``D_lo <= D`` on every sample, so
``p(D_lo) >= p(D)`` pointwise and ``P(p(D_lo) <= a) <= P(p(D) <= a) <= a`` whenever the
in-memory p-value is valid -- whatever the edges, even edges read from a randomised KLL
sketch of the reference, because the argument is pointwise. (``p(D_hi)`` would be
anti-conservative.) The corrections used (Bonferroni, Holm, Hochberg, BH, BY) have
adjusted p-values non-decreasing in every raw p-value, so when the report's decisions are
the same with every bounded p-value at either end of its interval, they are the decisions
of the exact test. When they are not, the values of the *undecided* bins only (bins
whose bound exceeds ``D_lo``) are fetched in a second pass over the raw data (a table, a
Parquet dataset, a Dask DataFrame, or exact values kept in a profile), which makes ``D``
exact (``refined``); with profiles alone the column stays ``bounded``, conservative.

Categorical columns above the cardinality cap are summarised by frequent-items sketches,
whose counts are bounded deterministically (``lower <= true <= upper``). Pearson's
statistic ``n m sum_k (p_k - q_k)^2 / (n p_k + m q_k)`` is a sum of terms each convex and
monotone away from ``p_k = q_k``, so its minimum over the box of possible shares, term by
term, is a lower bound; the p-value of that bound with ``k - 1`` degrees of freedom
(tracked categories plus one "other" cell) is at least the chi-squared p-value of the
true counts on the same cells (the survival function grows with the degrees of freedom
and falls with the statistic): the asymptotic test, made conservative for the sketch's
error.

References
----------
Massey, F. J. (1951). The Kolmogorov-Smirnov test for goodness of fit. JASA 46, 68-78
(bounds of the statistic from grouped data).
Karnin, Z., Lang, K. and Liberty, E. (2016). Optimal quantile approximation in streams.
FOCS (KLL sketch).
"""

from __future__ import annotations

import dataclasses
import math
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from shiftguard._validation import as_rng, check_alpha, check_choice, check_positive_int
from shiftguard.drift import column_tests, profiles
from shiftguard.drift.results import (
    ColumnDrift,
    ColumnProfile,
    ColumnSummary,
    DriftReport,
    ExcludedColumn,
)
from shiftguard.errors import ParameterError, ShiftguardError
from shiftguard.profile import _bins
from shiftguard.profile._sides import (  # noqa: F401 -- uses_profiles: the dispatch's test
    Side,
    bin_missing,
    current_side,
    reference_side,
    uses_profiles,
)
from shiftguard.profile._sources import values_in_bins as fetch_values
from shiftguard.profile.profile import (
    CategoricalProfile,
    NumericProfile,
    Profile,
    ProfileSettings,
    column_bins,
    quantile_edges,
)

CORRECTIONS = ("bonferroni", "holm", "hochberg", "bh", "by")
#: Values a refinement pass may fetch per column (both samples together).
DEFAULT_MAX_REFINE_VALUES = 10_000_000
#: DriftDetector options that have no meaning without rows, accepted at their defaults.
_ROW_DEFAULTS = {"numeric_test": "ks", "categorical_test": "chi2", "tests": None,
                 "min_effect": None, "text_test": "mmd", "bandwidth": None,
                 "max_rows_multivariate": 2000}


@dataclasses.dataclass
class _Column:
    """One column's test while the report is assembled: ``p_value`` is the reported
    (valid) p-value, of the KS interval's lower end; ``p_upper_end`` that of its upper end,
    a lower bound on the exact p-value (equal to ``p_value`` when the test is exact; ``0``,
    with ``upper_known`` false, until a decision needs it); ``p_is_bound``: ``p_value`` is
    an upper bound of the lower end's p-value (its digits decide nothing)."""

    name: str
    kind: str
    test: str = "none"
    statistic: float = math.nan
    p_value: float | None = None
    p_upper_end: float | None = None
    effect: float | None = None
    effect_name: str = ""
    profile: ColumnProfile = dataclasses.field(default_factory=ColumnProfile)
    unseen: tuple[str, ...] = ()
    notes: list[str] = dataclasses.field(default_factory=list)
    status: str = "untested"
    interval: tuple[float, float] | None = None
    sizes: tuple[int, int] = (0, 0)
    upper_known: bool = True
    p_is_bound: bool = False
    bins: tuple[Any, Any, Any, Any] | None = None  # edges, ref bins, cur bins, bounds


def compare_profiles(
    reference: Any, current: Any, *, alpha: float = 0.05, correction: str = "holm",
    n_permutations: int = 1000, seed: int | None = 0, columns: Sequence[str] | None = None,
    exclude: Sequence[str] = (), kinds: Mapping[str, str] | None = None,
    settings: ProfileSettings | None = None, batch_size: int | None = None,
    progress: bool | None = None, max_refine_values: int = DEFAULT_MAX_REFINE_VALUES,
    multivariate: str = "auto", localize: bool = True, check_divisions: bool = True,
    **row_options: Any,
) -> DriftReport:
    """Compare two samples given as profiles or as data to profile; see the module
    docstring for the guarantee.

    Parameters
    ----------
    reference, current
        A :class:`~shiftguard.profile.Profile`, a Parquet directory or glob (streamed),
        a Dask DataFrame, or anything :func:`~shiftguard.io.read_table` reads. A current
        sample given as data is profiled against the reference's bin edges.
    alpha, correction, n_permutations, seed, columns, exclude, kinds
        As in :class:`~shiftguard.drift.DriftDetector` (``columns``/``exclude``/``kinds``
        apply to a reference given as data).
    settings
        Sketch settings for sides given as data (default :class:`ProfileSettings`).
    batch_size, progress
        Parquet streaming: rows per batch and the progress bar (see
        :mod:`shiftguard.profile.stream`).
    max_refine_values
        Most values a second pass fetches per column to finish an undecided test.
    check_divisions
        Refuse a Dask DataFrame with unknown divisions (default); ``False`` accepts one
        whose partitions are known to be disjoint (see
        :class:`~shiftguard.profile.dask.DaskSource`). No effect on other sides.
    multivariate, localize
        Accepted for the signature of :func:`shiftguard.compare`; a profile keeps no rows,
        so there is no joint test (``"auto"`` notes it, other methods are refused).

    Raises
    ------
    SchemaError
        The two sides have different columns or kinds.
    ParameterError
        An option that needs rows (a joint test, ``min_effect``, another test) is set.
    InputError
        A Dask DataFrame with unknown divisions (unless ``check_divisions=False``), or
        unreadable data.
    """
    check_alpha(alpha)
    check_choice(correction, "correction", CORRECTIONS)
    check_positive_int(n_permutations, "n_permutations", minimum=19)
    check_positive_int(max_refine_values, "max_refine_values")
    _check_row_options(multivariate, row_options)
    ref = reference_side(reference, settings or ProfileSettings(), kinds, columns, exclude,
                         batch_size, progress, check_divisions=check_divisions)
    cur = current_side(current, ref, columns, exclude, batch_size, progress,
                       check_divisions=check_divisions)
    names = [n for n, k in ref.profile.kinds.items() if k != "identifier"]
    n_tests = 2 * len(ref.profile.names) + 1
    n_perm = max(n_permutations, math.ceil(20 * n_tests / alpha) - 1)
    bin_missing(ref, cur, names)
    tests = [_column_test(ref.profile, cur.profile, name, n_perm, seed) for name in names]
    _interval_pvalues(tests, alpha, n_tests)
    rates = {name: _rates(ref.profile[name], cur.profile[name]) for name in names}
    _decide(tests, rates, ref, cur, alpha, correction, max_refine_values)
    return _report(ref.profile, cur.profile, tests, rates, alpha, correction, multivariate)


# -- options ----------------------------------------------------------------------------


def _check_row_options(multivariate: str, options: Mapping[str, Any]) -> None:
    unknown = [k for k in options if k not in _ROW_DEFAULTS]
    if unknown:
        raise ParameterError(f"unknown option(s) {', '.join(map(repr, unknown))} for a "
                             "comparison of profiles")
    changed = [k for k, v in options.items() if v != _ROW_DEFAULTS[k]]
    if multivariate not in ("auto", "none"):
        changed.append("multivariate")
    if changed:
        raise ParameterError(f"{', '.join(changed)} cannot be used with profiles: a profile "
                             "keeps no rows (KS and chi-squared only, no joint test)")


# -- per-column tests ---------------------------------------------------------------------


def _column_test(ref_p: Profile, cur_p: Profile, name: str, n_perm: int,
                 seed: int | None) -> _Column:
    from shiftguard.drift.detector import _no_values_note

    r, c = ref_p[name], cur_p[name]
    out = _Column(name=name, kind=r.kind)
    if r.kind == "text":
        out.notes.append("not tested: a profile keeps no texts; the missing-value rate test "
                         "decides")
        return out
    empty = [label for label, col in (("reference", r), ("current", c)) if col.count == 0]
    if empty:
        out.notes.append(_no_values_note(empty))
        return out
    try:
        if isinstance(r, NumericProfile):
            _numeric_test(out, r, c, ref_p.settings.n_bins)
        else:
            rng = as_rng(None if seed is None else
                         np.random.default_rng([seed, 1000 + ref_p.position(name)]))
            _categorical_test(out, r, c, n_perm, rng)
    except ShiftguardError as exc:
        out.notes.append(f"not tested: {exc}")
        out.p_value = out.p_upper_end = None
    return out


def ks_pvalue(d: float, n: int, m: int) -> float:
    """The in-memory two-sided KS p-value (:func:`~shiftguard.stats.ks.ks_test`'s
    ``"auto"`` branches) of statistic ``d`` at sizes ``n`` and ``m``."""
    from shiftguard.stats import ks

    _, p = ks._ks_pvalues(np.array([d]), np.array([0.0]), np.array([n]), np.array([m]),
                          "two-sided", "auto")
    return float(p[0])


@dataclasses.dataclass(frozen=True, eq=False)
class _Reference:
    """What a comparison needs of a reference column that depends on it alone: its bin
    edges and bins, its standard deviation (of the effect size), its quantiles and, when
    its values are exact, its summary and whether every value is an integer."""

    edges: np.ndarray
    bins: Any
    ends: np.ndarray | None
    std: float
    quantiles: np.ndarray  # at _BOTH
    summary: ColumnSummary | None = None
    integral: bool | None = None


# A fitted reference is compared with many current samples: what depends only on one of its
# columns (a frozen profile) is computed once, and dropped with the profile.
_REFERENCES: weakref.WeakKeyDictionary[NumericProfile, dict[Any, _Reference]] = (
    weakref.WeakKeyDictionary())
_LEVELS = np.linspace(0.0, 1.0, profiles.N_QUANTILES)
_MID = (np.arange(1000) + 0.5) / 1000
_BOTH = np.concatenate([_LEVELS, _MID])  # one call: a KLL sketch sorts itself per call


def _reference(r: NumericProfile, n_bins: int | None) -> _Reference:
    cached = _REFERENCES.setdefault(r, {})
    if n_bins not in cached:
        edges = quantile_edges(r, n_bins)
        if r.exact:
            x = r.values
            ends = _bins.bin_ends(x, edges)
            cached[n_bins] = _Reference(
                edges=edges, bins=_bins.bin_sorted(x, edges, ends), ends=ends,
                std=profiles.mean_std(x)[1], quantiles=_quantiles(r, _BOTH),
                summary=_exact_summary(r),
                integral=profiles._all_integral(x))
        else:
            cached[n_bins] = _Reference(
                edges=edges, bins=column_bins(r, edges), ends=None, std=r.std,
                quantiles=_quantiles(r, _BOTH))
    return cached[n_bins]


def _exact_summary(col: NumericProfile) -> ColumnSummary:
    """The summary of exact values, with the profile's mergeable moments for mean and
    standard deviation."""
    v = col.values
    return ColumnSummary(count=col.count, missing_share=col.n_missing / col.n_rows,
                         distinct=1 + int(np.count_nonzero(v[1:] != v[:-1])), mean=col.mean,
                         std=col.std, min=col.minimum, max=col.maximum)


def _numeric_test(out: _Column, r: NumericProfile, c: NumericProfile, n_bins: int) -> None:
    from shiftguard.drift.detector import _plain

    out.test, out.effect_name = "ks", "wasserstein_sd"
    datetime = r.kind == "datetime"
    ref = _reference(r, n_bins)
    edges, rb = ref.edges, ref.bins
    k = _LEVELS.size
    cur_both = _quantiles(c, _BOTH)
    ref_q, ref_mid = ref.quantiles[:k], ref.quantiles[k:]
    cur_q, cur_mid = cur_both[:k], cur_both[k:]
    if r.exact and c.exact:
        # The in-memory statistic from the bins of the reference's edges plus the values of
        # the few bins that can hold a larger gap (the same i/n - j/m at the same points);
        # its p-value, with every column's, comes later in one vectorised call.
        y = c.values
        cb = column_bins(c, edges)  # counted while profiling when given edges_from
        ends = np.cumsum(cb.counts)
        bounds = _bins.ks_bounds(rb, cb)
        statistic = _bins.exact_statistic(
            rb, cb, edges, bounds, bounds.needed,
            _bins.sorted_in_bins(r.values, ref.ends, bounds.needed),
            _bins.sorted_in_bins(y, ends, bounds.needed))[0]
        out.interval, out.statistic = (statistic, statistic), statistic
        out.sizes, out.status = (r.count, c.count), "exact"
        summaries = (ref.summary, _exact_summary(c))
        out.profile = profiles.numeric_profile(r.values, y, ref_q, cur_q, summaries, datetime,
                                               reference_integral=ref.integral)
        if ref.summary.distinct == 1:
            out.notes.append(f"constant in the reference (every value {_plain(r.values[0])})")
        out.notes.insert(0, "exact: both samples summarised exactly; the in-memory KS test")
    else:
        cb = column_bins(c, edges)
        if rb is None or cb is None:
            which = "reference" if rb is None else "current"
            out.notes.append(f"not tested: the {which} profile has no bins against the "
                             "reference's edges (profile the current data with "
                             "edges_from=the reference profile)")
            return
        bounds = _bins.ks_bounds(rb, cb)
        out.bins = (edges, rb, cb, bounds)
        # p-values of every column's interval come later, in one vectorised call
        out.interval, out.statistic = (bounds.lower, bounds.upper), bounds.lower
        out.sizes = (rb.total, cb.total)
        out.status = "bounded"
        if bounds.lower == bounds.upper:
            out.status = "exact"
            out.notes.insert(0, f"exact: the {rb.counts.size} bins determine the KS statistic "
                                "(a bin holding several values never widens it); the "
                                "in-memory KS p-value")
        out.profile = _sketched_profile(r, c, edges, rb, cb, datetime, ref_q, cur_q)
    w1 = float(np.abs(ref_mid - cur_mid).mean())
    std = ref.std
    out.effect = w1 / std if std > 0 else (math.inf if w1 > 0 else 0.0)


def _set_interval(out: _Column, low: float, high: float, n: int, m: int) -> None:
    out.interval = (low, high)
    out.statistic = low
    out.p_value = ks_pvalue(low, n, m)
    out.p_upper_end, out.upper_known = ks_pvalue(high, n, m), True
    out.p_is_bound = False


def _interval_pvalues(tests: Sequence[_Column], alpha: float, n_tests: int) -> None:
    """KS p-values of both ends of every binned column's interval, in few calls.

    Decisions need no digits of a lower end whose p-value is provably below every
    threshold any correction can use (``alpha / (K H_K)``, BY's smallest, for ``K`` tests):
    such a column is rejected by each of them whatever the value in ``[0, bound]``, and
    the other columns' decisions do not move (step-down and step-up procedures only count
    the p-values below thresholds of at least that size). Its reported p-value is then
    Massart's bound (:func:`~shiftguard.profile._pvalues.ks_pvalue_bound`, at least the
    in-memory p-value of the lower end, so valid) and the slow exact Smirnov sum is
    skipped. The upper end's p-value waits (``upper_known`` false, standing at 0) where
    the lower end's is at most ``alpha / K``: it can then rarely change a decision
    (:func:`_decide` computes it when a decision is open), and the p-values of very
    significant statistics are the slow ones. Where the upper end lies below a statistic
    whose p-value ``p_c`` exceeds ``alpha``
    (:func:`~shiftguard.profile._pvalues.ks_not_significant_below`), ``p_c`` stands in for
    it: a lower bound of the exact p-value above ``alpha``, so the column is kept by every
    correction (adjusted p-values are at least the raw ones) and, never below a
    threshold, moves no other decision."""
    from shiftguard.profile._pvalues import ks_not_significant_below, ks_pvalue_bound

    todo = [t for t in tests if t.interval is not None and t.p_value is None]
    if not todo:
        return
    smallest = alpha / (n_tests * float(np.sum(1.0 / np.arange(1, n_tests + 1))))
    wide = [t for t in todo if t.interval[0] != t.interval[1]]
    if wide:
        bound = ks_pvalue_bound([t.interval[0] for t in wide], *zip(*(t.sizes for t in wide),
                                                                     strict=True))
        for t, b in zip(wide, bound, strict=True):
            if b <= smallest:
                t.p_value, t.p_is_bound = float(b), True
    rest = [t for t in todo if t.p_value is None]
    if rest:
        d, p = _ks_ends([t.interval[0] for t in rest], rest)
        for t, stat, low in zip(rest, d, p, strict=True):
            t.p_value = t.p_upper_end = float(low)
            if t.status == "exact":  # ks_test's statistic (on its lattice for exact p-values)
                t.statistic = float(stat)
    for t in wide:
        t.p_upper_end, t.upper_known = 0.0, False
    needed = []
    for t in (t for t in wide if t.p_value > alpha / n_tests):
        critical = ks_not_significant_below(*t.sizes, alpha)
        if critical is not None and t.interval[1] <= critical[0]:
            t.p_upper_end, t.upper_known = critical[1], True
        else:
            needed.append(t)
    _upper_pvalues(needed)


def _upper_pvalues(tests: Sequence[_Column]) -> None:
    """KS p-values of the upper ends of the columns' intervals."""
    if tests:
        for t, high in zip(tests, _ks_ends([t.interval[1] for t in tests], tests)[1],
                           strict=True):
            t.p_upper_end, t.upper_known = float(high), True


def _ks_ends(d: Sequence[float], tests: Sequence[_Column]) -> tuple[np.ndarray, np.ndarray]:
    from shiftguard.stats import ks

    n, m = (np.array(v) for v in zip(*(t.sizes for t in tests), strict=True))
    d = np.array(d, dtype=np.float64)
    return ks._ks_pvalues(d, np.zeros_like(d), n, m, "two-sided", "auto")


def _quantiles(col: NumericProfile, levels: np.ndarray) -> np.ndarray:
    """Lower inverse ECDF of the exact values (as the in-memory report), or KLL's."""
    if col.values is not None:
        idx = np.clip(np.ceil(levels * col.count) - 1, 0, col.count - 1).astype(np.intp)
        return col.values[idx]
    return np.asarray(col.sketch.get_quantiles(np.clip(levels, 0.0, 1.0)), dtype=np.float64)


def _sketched_profile(r: NumericProfile, c: NumericProfile, edges: np.ndarray, rb: Any,
                      cb: Any, datetime: bool, ref_quantiles: np.ndarray,
                      cur_quantiles: np.ndarray) -> ColumnProfile:
    """Plot summaries from bins: about 30 groups of consecutive bins (exact shares), and
    both samples' quantiles."""
    cuts = np.unique(np.linspace(0, edges.size + 1, 31).round().astype(int))
    lo, hi = float(np.fmin(r.minimum, c.minimum)), float(np.fmax(r.maximum, c.maximum))
    inner = np.clip(edges[cuts[1:-1] - 1], lo, hi)

    def shares(b: Any) -> tuple[float, ...]:
        return tuple((np.add.reduceat(b.counts, cuts[:-1]) / b.total).tolist())

    def summary(p: NumericProfile, b: Any) -> ColumnSummary:
        distinct = int(np.count_nonzero(b.counts) + np.count_nonzero(b.low < b.high))
        return ColumnSummary(count=p.count, missing_share=p.n_missing / p.n_rows,
                             distinct=distinct, mean=p.mean, std=p.std, min=p.minimum,
                             max=p.maximum)

    return ColumnProfile(
        reference_summary=summary(r, rb), current_summary=summary(c, cb), datetime=datetime,
        bin_edges=(lo, *inner.tolist(), hi), reference_hist=shares(rb),
        current_hist=shares(cb), reference_quantiles=tuple(ref_quantiles.tolist()),
        current_quantiles=tuple(cur_quantiles.tolist()),
    )


def _categorical_test(out: _Column, r: CategoricalProfile, c: CategoricalProfile,
                      n_perm: int, rng: np.random.Generator) -> None:
    out.test, out.effect_name = "chi2", "total_variation"
    if r.exact and c.exact:
        labels = [*r.counts, *(label for label in c.counts if label not in r.counts)]
        ref_counts = np.array([r.counts.get(x, 0) for x in labels], dtype=np.float64)
        cur_counts = np.array([c.counts.get(x, 0) for x in labels], dtype=np.float64)
        rp, cp = column_tests.pool_rare(ref_counts, cur_counts)
        res = column_tests.run_categorical("chi2", rp, cp, n_perm, rng, out.name)
        out.statistic, out.p_value = float(res.statistic), float(res.pvalue)
        out.p_upper_end, out.status = out.p_value, "exact"
        out.unseen = tuple(labels[len(r.counts):])
        out.notes.insert(0, "exact: both samples' category counts; the in-memory chi-squared "
                            "test")
        distinct = (len(r.counts), len(c.counts))
    else:
        labels, ref_counts, cur_counts = _bounded_chi2(out, r, c)
        distinct = tuple(len(p.counts) if p.exact else round(p.hll.get_estimate())
                         for p in (r, c))
    ref_share, cur_share = ref_counts / ref_counts.sum(), cur_counts / cur_counts.sum()
    out.effect = float(0.5 * np.abs(ref_share - cur_share).sum())
    summaries = tuple(ColumnSummary(count=p.count, missing_share=p.n_missing / p.n_rows,
                                    distinct=d) for p, d in zip((r, c), distinct, strict=True))
    if r.exact and len(r.counts) == 1:
        out.notes.append(f"constant in the reference (every value {labels[0]!r})")
    out.profile = profiles.categorical_profile(np.asarray(labels, dtype=object), ref_share,
                                               cur_share, summaries)


def _count_bounds(p: CategoricalProfile, labels: Sequence[str]) -> tuple[np.ndarray, ...]:
    if p.exact:
        exact = np.array([p.counts.get(x, 0) for x in labels], dtype=np.float64)
        return exact, exact, exact
    f = p.frequent
    return (np.array([f.get_lower_bound(x) for x in labels], dtype=np.float64),
            np.array([f.get_upper_bound(x) for x in labels], dtype=np.float64),
            np.array([f.get_estimate(x) for x in labels], dtype=np.float64))


def _bounded_chi2(out: _Column, r: CategoricalProfile,
                  c: CategoricalProfile) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Conservative chi-squared from count bounds (module docstring); returns the tracked
    labels plus "(other)" and both samples' estimated counts."""
    from datasketches import frequent_items_error_type
    from scipy.special import chdtrc

    tracked: dict[str, None] = {}
    for p in (r, c):
        items = (p.counts if p.exact else
                 [i[0] for i in p.frequent.get_frequent_items(
                     frequent_items_error_type.NO_FALSE_NEGATIVES)])
        tracked.update(dict.fromkeys(items))
    labels = list(tracked)
    n, m = float(r.count), float(c.count)
    lows, highs, estimates = [], [], []
    for p, size in ((r, n), (c, m)):
        lo, hi, est = _count_bounds(p, labels)
        lows.append(np.append(lo, max(0.0, size - hi.sum())) / size)
        highs.append(np.append(hi, size - lo.sum()) / size)
        estimates.append(np.append(est, max(0.0, size - est.sum())))
    (p_lo, q_lo), (p_hi, q_hi) = lows, highs
    p_at = np.where(p_lo > q_hi, p_lo, np.where(p_hi < q_lo, p_hi, 0.0))
    q_at = np.where(p_lo > q_hi, q_hi, np.where(p_hi < q_lo, q_lo, 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        terms = np.where(p_at == q_at, 0.0, (p_at - q_at) ** 2 / (n * p_at + m * q_at))
    statistic = float(n * m * terms.sum())
    cells = int(np.count_nonzero((p_hi > 0) | (q_hi > 0)))
    out.statistic = statistic
    out.p_value = out.p_upper_end = float(chdtrc(max(cells - 1, 1), statistic))
    out.status = "bounded"
    out.unseen = tuple(x for x, hi_r, lo_c in zip(labels, highs[0][:-1], lows[1][:-1],
                                                 strict=True) if hi_r == 0 and lo_c > 0)
    out.notes.insert(0, f"bounded: frequent-items sketch; chi-squared lower bound over the "
                        f"sketch's count bounds on {len(labels)} tracked categories and one "
                        f"other cell (asymptotic, conservative)")
    return [*labels, "(other)"], estimates[0], estimates[1]


def _rates(r: Any, c: Any) -> tuple[float | None, float | None]:
    """Fisher's exact tests of the missing and non-numeric-token rates (or ``None``)."""
    rate = column_tests._rate_pvalue
    missing = rate(r.n_missing, r.n_rows, c.n_missing, c.n_rows)
    tokens = rate(getattr(r, "n_non_numeric", 0), r.n_rows - r.n_missing,
                  getattr(c, "n_non_numeric", 0), c.n_rows - c.n_missing)
    return missing, tokens


# -- decisions ----------------------------------------------------------------------------


def _adjusted(tests: Sequence[_Column], distribution: Sequence[float | None],
              rates: Mapping[str, Any], correction: str
              ) -> tuple[dict[Any, float], dict[Any, float]]:
    """Raw and adjusted p-values of the family: ``distribution`` holds the columns' own."""
    from shiftguard.drift.detector import _Family

    family = _Family()
    for t, p in zip(tests, distribution, strict=True):
        family.add((t.name, "distribution"), p)
        family.add((t.name, "missing"), rates[t.name][0])
        family.add((t.name, "non_numeric"), rates[t.name][1])
    return family.pvalues, family.adjusted(correction)


def _undecided(tests: Sequence[_Column], rates: Mapping[str, Any], alpha: float,
               correction: str, unknown_at_lower_end: bool = False) -> set[Any]:
    """Keys whose decision differs between every bounded p-value at either end of its
    interval (adjusted p-values are monotone in each raw one: the exact decision lies
    between). An upper end's p-value not computed yet stands at 0, or at its lower end's
    (``unknown_at_lower_end``): the true set of keys lies between the two."""
    if all(t.p_upper_end == t.p_value for t in tests):
        return set()
    smallest = [t.p_upper_end if t.upper_known or not unknown_at_lower_end else t.p_value
                for t in tests]
    _, low = _adjusted(tests, smallest, rates, correction)
    _, high = _adjusted(tests, [t.p_value for t in tests], rates, correction)
    return {k for k in high if (low[k] <= alpha) != (high[k] <= alpha)}


def _decide(tests: list[_Column], rates: Mapping[str, Any], ref: Side, cur: Side,
            alpha: float, correction: str, max_values: int) -> None:
    """Refine bounded KS columns while some decision is open (at most two passes: the
    columns open themselves, then every bounded one)."""
    open_keys = _undecided(tests, rates, alpha, correction)
    unknown = [t for t in tests if not t.upper_known]
    if unknown and open_keys != _undecided(tests, rates, alpha, correction, True):
        _upper_pvalues(unknown)
        open_keys = _undecided(tests, rates, alpha, correction)
    for round_ in range(2):
        if not open_keys:
            break
        bounded = [t for t in tests if t.status == "bounded" and t.bins is not None
                   and t.interval[0] < t.interval[1]]
        bounded = [t for t in bounded if all(
            side.source is not None or side.profile[t.name].values is not None
            for side in (ref, cur))]
        own = [t for t in bounded if (t.name, "distribution") in open_keys]
        targets = own if own and round_ == 0 else bounded
        if not targets:
            break
        _refine(targets, ref, cur, max_values)
        open_keys = _undecided(tests, rates, alpha, correction)
    for t in tests:
        if t.status == "bounded" and t.bins is not None:
            lo, hi = t.interval
            verdict = ("the interval decides the verdict at the corrected level (the exact "
                       "test's verdict)" if (t.name, "distribution") not in open_keys else
                       "undecided: no raw data for a second pass; the p-value of the lower "
                       "end is conservative")
            p_range = (f"in [{t.p_upper_end:.3g}, {t.p_value:.3g}]" if t.upper_known else
                       f"at most {t.p_value:.3g}")
            if t.p_is_bound:
                p_range += (" (Massart's bound at the lower end, below every corrected "
                            "threshold)")
            t.notes.insert(0, f"bounded: KS statistic in [{lo:.6g}, {hi:.6g}] from exact "
                              f"counts in {t.bins[1].counts.size} bins; p-value {p_range}; "
                              f"{verdict}")


def _refine(targets: Sequence[_Column], ref: Side, cur: Side, max_values: int) -> None:
    selections = {}
    for t in targets:
        edges, rb, cb, bounds = t.bins
        need = bounds.needed
        sizes = (rb.counts + cb.counts)[need]
        if sizes.sum() > max_values:  # the bins with the largest bounds, within budget
            order = np.argsort(-bounds.upper_per_bin[need], kind="stable")
            keep = np.cumsum(sizes[order]) <= max_values
            chosen = np.flatnonzero(need)[order[keep]]
            need = np.zeros_like(need)
            need[chosen] = True
        selections[t.name] = (edges, need)
    values = [_values(side, selections) for side in (ref, cur)]
    for t in targets:
        if any(v is None or t.name not in v for v in values):
            continue
        edges, rb, cb, bounds = t.bins
        lo, hi = _bins.exact_statistic(rb, cb, edges, bounds, selections[t.name][1],
                                       values[0][t.name], values[1][t.name])
        _set_interval(t, lo, hi, rb.total, cb.total)
        fetched = int((rb.counts + cb.counts)[selections[t.name][1]].sum())
        if lo == hi:
            t.status = "refined"
            t.notes.insert(0, f"refined: exact KS statistic {lo:.6g} after a second pass over "
                              f"{fetched:,} values in the undecided bins; the in-memory KS "
                              "p-value")
        else:
            t.notes.append(f"second pass over {fetched:,} values (budget max_refine_values) "
                           f"narrowed the KS statistic to [{lo:.6g}, {hi:.6g}]")


def _values(side: Side, selections: Mapping[str, Any]) -> dict[str, np.ndarray] | None:
    """Values in the selected bins: from exact values in the profile, else one pass over
    the side's raw data, else ``None``."""
    out, rest = {}, {}
    for name, (edges, selected) in selections.items():
        col = side.profile[name]
        if col.values is not None:
            out[name] = _bins.sorted_in_bins(col.values, _bins.bin_ends(col.values, edges),
                                             selected)
        else:
            rest[name] = (edges, selected)
    if rest:
        if side.source is None:
            return out
        out.update(fetch_values(side.source, rest))
    return out


# -- the report ---------------------------------------------------------------------------


def _report(ref: Profile, cur: Profile, tests: Sequence[_Column], rates: Mapping[str, Any],
            alpha: float, correction: str, multivariate: str) -> DriftReport:
    raw, adjusted = _adjusted(tests, [t.p_value for t in tests], rates, correction)
    results = []
    for t in tests:
        r, c = ref[t.name], cur[t.name]
        p_adj = adjusted.get((t.name, "missing"))
        p_tok = adjusted.get((t.name, "non_numeric"))
        p_dist = adjusted.get((t.name, "distribution"))
        detected = any(p is not None and p <= alpha for p in (p_dist, p_adj, p_tok))
        observed = (getattr(r, "count", r.n_rows - r.n_missing),
                    getattr(c, "count", c.n_rows - c.n_missing))
        results.append(ColumnDrift(
            name=t.name, kind=t.kind, test=t.test, statistic=t.statistic,
            pvalue=t.p_value if t.p_value is not None else math.nan,
            pvalue_adjusted=p_dist if p_dist is not None else math.nan,
            effect_size=t.effect, effect_size_name=t.effect_name, drifted=detected,
            n_reference=observed[0], n_current=observed[1],
            missing_reference=r.n_missing, missing_current=c.n_missing,
            missing_pvalue=raw.get((t.name, "missing")), missing_pvalue_adjusted=p_adj,
            unseen_categories=t.unseen, profile=t.profile, detected=detected,
            notes=tuple(t.notes),
            non_numeric_reference=getattr(r, "n_non_numeric", 0),
            non_numeric_current=getattr(c, "n_non_numeric", 0),
            non_numeric_pvalue=raw.get((t.name, "non_numeric")),
            non_numeric_pvalue_adjusted=p_tok,
        ))
    notes = []
    if multivariate == "auto":
        notes.append("compared from profiles: no joint (multivariate) test and no "
                     "localisation, which need rows")
    counts = {s: sum(t.status == s for t in tests) for s in ("exact", "refined", "bounded")}
    notes.append("column tests: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    excluded = tuple(
        ExcludedColumn(name=c.name, kind=c.kind, new_share=None,
                       reason="identifier-like: a distribution test would only say that new "
                              "values appear")
        for c in ref.columns if c.kind == "identifier")
    return DriftReport(
        drifted=any(col.drifted for col in results), columns=tuple(results),
        multivariate=None, localization=None, alpha=float(alpha), correction=correction,
        n_reference=ref.n_rows, n_current=cur.n_rows, excluded=excluded, notes=tuple(notes),
    )
