"""Batch drift detection: has the current data changed from the reference, and where?

:func:`compare` (or :class:`DriftDetector`, which fits the reference once for repeated
comparisons) runs one two-sample test per column, a test of each column's missing-value
rate, and a multivariate test on all columns jointly; it corrects the whole family for
multiple testing and, for numeric columns, localises which features' conditional
distributions shifted.

Guarantee
---------
Under the null hypothesis that reference and current rows are independent draws from one
distribution, the probability that the report flags *anything* (``DriftReport.drifted``)
is at most ``alpha`` when ``correction`` is ``"holm"`` or ``"bonferroni"`` (familywise
error control under arbitrary dependence between the tests); with ``"bh"``/``"by"`` the
expected share of false flags among flagged tests is at most ``alpha`` (FDR; BH assumes
independence or positive dependence, BY does not). The correction is exact; whether the
whole bound is exact or asymptotic depends on the p-values it combines. With the defaults:

- numeric columns, KS: exact law when both samples have at most 10,000 observed values
  (exact for continuous data, conservative with ties); above that the Kolmogorov limit,
  which is asymptotic (``tests/validity`` finds its size within 3 binomial standard errors
  of nominal at 200 vs 20,000 rows, continuous and tied);
- categorical columns, chi-squared: rare categories (expected count below 5) pooled by a
  rule that depends only on pooled counts; then the chi-squared limit when every expected
  count of the table is at least 5 (asymptotic), and a Monte Carlo permutation p-value
  otherwise (exact level at every size);
- missing-value rates: Fisher's exact test (exact, conservative);
- the multivariate test: a permutation test on a seeded subsample of at most
  ``max_rows_multivariate`` rows per sample (exact level; less power than the full data).

So the familywise bound is exact when no KS column exceeds 10,000 values and no
chi-squared table is on its limit law, and holds asymptotically otherwise.
``tests/validity/test_drift_messy.py`` checks it on messy null designs (heavy ties, rare
categories, 30% missing values, 200 vs 20,000 rows, sparse binary columns, 12 correlated
features).

With ``min_effect`` the verdict comes from relevance tests instead (H0: the column moved
by at most ``min_effect``), whose p-values are finite-sample bounds for any sizes
(:mod:`shiftguard.stats.relevance`), corrected the same way.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from shiftguard._result import ResultMixin
from shiftguard._validation import (
    as_rng,
    check_alpha,
    check_choice,
    check_positive_int,
    check_positive_number,
)
from shiftguard.errors import InputError, NotFittedError, ParameterError
from shiftguard.io import Column, Table, check_schema, read_table
from shiftguard.stats import (
    anderson,
    categorical,
    cvm,
    distances,
    epps_singleton,
    ks,
    ranks,
    relevance,
)
from shiftguard.stats.categorical import MIN_EXPECTED_COUNT
from shiftguard.stats.multiple import adjust_pvalues
from shiftguard.stats.relevance import RelevanceResult

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
MULTIVARIATE_METHODS = ("auto", "mmd", "energy", "classifier", "none")
CORRECTIONS = ("bonferroni", "holm", "hochberg", "bh", "by")

_N_QUANTILES = 101
_N_EFFECT_LEVELS = 1000
_N_BINS = 30
_MAX_PLOTTED_CATEGORIES = 20


@dataclasses.dataclass(frozen=True)
class ColumnSummary(ResultMixin):
    """Plain summary statistics of one column in one sample (``None`` where they do not
    apply: no mean for categories, say).

    ``count`` observed values, ``missing_share`` of all rows, ``distinct`` observed values;
    ``mean``, ``std`` (ddof=0), ``min`` and ``max`` of numeric and datetime columns
    (datetimes in seconds since the epoch).
    """

    count: int
    missing_share: float
    distinct: int
    mean: float | None = None
    std: float | None = None
    min: float | None = None
    max: float | None = None


@dataclasses.dataclass(frozen=True)
class ColumnProfile(ResultMixin):
    """What the report plots for one column: small summaries, not the data.

    Every column carries both samples' :class:`ColumnSummary`. Numeric and datetime
    columns (``datetime`` true: values are seconds since the epoch, to be shown as dates)
    carry histogram bin edges with each sample's share of observed values per bin, and both
    samples' quantiles at levels 0, 0.01, ..., 1 (for ECDF plots). Categorical columns carry
    the most frequent categories with each sample's share. Text columns carry a
    :class:`~shiftguard.drift.text.TextProfile` in ``text``.
    """

    reference_summary: ColumnSummary | None = None
    current_summary: ColumnSummary | None = None
    datetime: bool = False
    text: Any = None
    bin_edges: tuple[float, ...] = ()
    reference_hist: tuple[float, ...] = ()
    current_hist: tuple[float, ...] = ()
    reference_quantiles: tuple[float, ...] = ()
    current_quantiles: tuple[float, ...] = ()
    categories: tuple[str, ...] = ()
    reference_share: tuple[float, ...] = ()
    current_share: tuple[float, ...] = ()


@dataclasses.dataclass(frozen=True)
class ColumnDrift(ResultMixin):
    """Drift verdict for one column.

    Attributes
    ----------
    name, kind
        Column name and kind (``numeric``, ``categorical``, ``text``).
    test
        The two-sample test that ran.
    statistic, pvalue
        Its statistic and raw p-value.
    pvalue_adjusted
        The p-value adjusted for multiple testing across the whole report.
    effect_size, effect_size_name
        Size of the change: for numeric columns the Wasserstein-1 distance between the
        quantile functions (1,000 levels) in reference standard deviations; for categorical
        columns the total-variation distance between category shares; ``None`` for text.
    drifted
        The column's verdict. Without ``min_effect``: the change is *detected* (the
        distribution test or the missing-rate test is significant after adjustment). With
        ``min_effect``: the change is *relevant* (a relevance test is significant after
        adjustment: the column moved by more than ``min_effect``).
    n_reference, n_current
        Observed (non-missing) values in each sample.
    missing_reference, missing_current
        Missing values in each sample.
    missing_pvalue, missing_pvalue_adjusted
        Fisher's exact test of equal missing rates (``None`` when neither sample has any).
    unseen_categories
        Categories present in current but never seen in the reference.
    profile
        Summaries for plotting.
    detected
        Whether the distribution or missing-rate test is significant after adjustment.
    distance, distance_name, distance_ci
        The distance the relevance test is about, on one 0-1 scale for every kind: the
        Kolmogorov-Smirnov distance (``ks_distance``) for numeric columns, the total
        variation distance (``total_variation``) for categorical ones; and a ``1 - alpha``
        confidence interval for it (finite-sample, see :mod:`shiftguard.stats.relevance`).
        ``None`` for text columns.
    relevance_pvalue, relevance_pvalue_adjusted
        With ``min_effect``: p-value of H0 "distance <= min_effect", raw and adjusted
        over the report's relevance tests.
    missing_relevance_pvalue_adjusted
        With ``min_effect``: adjusted p-value of H0 "the missing-value rates differ by at
        most min_effect" (``None`` when nothing is missing).
    relevant
        With ``min_effect``: whether either relevance test is significant; else ``None``.
    notes
        Why a column was not (fully) tested, in plain words.
    inferred
        How the column's kind was decided (e.g. "ISO-8601 strings"), for the report.
    non_numeric_reference, non_numeric_current, non_numeric_pvalue, non_numeric_pvalue_adjusted
        Numeric columns read from strings: how many values in each sample were neither a
        number nor missing (tokens such as "unknown"), and Fisher's exact test of equal
        rates of such values (``None`` when neither sample has any).
    """

    name: str
    kind: str
    test: str
    statistic: float
    pvalue: float
    pvalue_adjusted: float
    effect_size: float | None
    effect_size_name: str
    drifted: bool
    n_reference: int
    n_current: int
    missing_reference: int
    missing_current: int
    missing_pvalue: float | None
    missing_pvalue_adjusted: float | None
    unseen_categories: tuple[str, ...]
    profile: ColumnProfile
    detected: bool = False
    distance: float | None = None
    distance_name: str = ""
    distance_ci: tuple[float, float] | None = None
    relevance_pvalue: float | None = None
    relevance_pvalue_adjusted: float | None = None
    missing_relevance_pvalue_adjusted: float | None = None
    relevant: bool | None = None
    notes: tuple[str, ...] = ()
    inferred: str = ""
    non_numeric_reference: int = 0
    non_numeric_current: int = 0
    non_numeric_pvalue: float | None = None
    non_numeric_pvalue_adjusted: float | None = None


@dataclasses.dataclass(frozen=True)
class ExcludedColumn(ResultMixin):
    """A column left out of the tests, and why.

    ``kind`` is its inferred kind, ``reason`` a plain sentence; for identifier-like columns
    ``new_share`` is the share of current values never seen in the reference.
    """

    name: str
    kind: str
    reason: str
    new_share: float | None = None


@dataclasses.dataclass(frozen=True)
class MultivariateDrift(ResultMixin):
    """Joint test on all numeric and categorical columns (standardised, one-hot)."""

    method: str
    statistic: float
    pvalue: float
    pvalue_adjusted: float
    drifted: bool
    n_reference: int
    n_current: int
    n_features: int


@dataclasses.dataclass(frozen=True)
class DriftReport(ResultMixin):
    """Everything :func:`compare` found; ``to_dict()`` gives the JSON schema of the CLI.

    Attributes
    ----------
    drifted
        Without ``min_effect``: true when any column or the multivariate test is
        significant after correction. With ``min_effect``: true when some column changed
        by more than ``min_effect`` (relevance tests only; the multivariate test is
        reported but has no distance to compare with ``min_effect``).
    columns
        One :class:`ColumnDrift` per compared column, in input order.
    multivariate
        The joint test, or ``None`` when disabled or no column qualifies.
    localization
        Which numeric features' conditional distributions shifted (ranked); ``None`` when
        disabled, with fewer than two numeric columns, or when nothing drifted.
    alpha, correction
        Level and multiple-testing correction of the whole family of tests.
    n_reference, n_current
        Rows in each table.
    min_effect
        The relevance tolerance, or ``None`` (significance only).
    excluded
        Columns left out of the tests (identifier-like ones, say), with the reason.
    notes
        Report-level remarks in plain words (a step skipped, and why).
    """

    drifted: bool
    columns: tuple[ColumnDrift, ...]
    multivariate: MultivariateDrift | None
    localization: Any
    alpha: float
    correction: str
    n_reference: int
    n_current: int
    min_effect: float | None = None
    excluded: tuple[ExcludedColumn, ...] = ()
    notes: tuple[str, ...] = ()
    schema_version: str = "2"

    @property
    def drifted_columns(self) -> tuple[str, ...]:
        """Names of the columns flagged as drifted."""
        return tuple(c.name for c in self.columns if c.drifted)

    def column(self, name: str) -> ColumnDrift:
        """The result for column ``name``."""
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


@dataclasses.dataclass(frozen=True)
class _RawTest:
    test: str
    statistic: float
    pvalue: float
    effect_size: float | None
    effect_size_name: str
    unseen: tuple[str, ...]
    profile: ColumnProfile
    relevance: RelevanceResult | None = None


class DriftDetector:
    """Fit a reference once, then compare any number of current tables with it.

    Parameters
    ----------
    columns, exclude
        Columns to compare (default all) and columns to leave out.
    kinds
        Override inferred column kinds, e.g. ``{"zip": "categorical"}``.
    numeric_test, categorical_test, text_test
        Default test per kind: numeric one of ``ks`` (default), ``cvm``, ``anderson``,
        ``mannwhitney``, ``epps_singleton``, ``wasserstein``, ``psi``, ``js``,
        ``hellinger``; categorical one of ``chi2`` (default), ``g``, ``fisher``, ``psi``,
        ``js``, ``hellinger``; text ``mmd`` (default) or ``depth``.
    tests
        Per-column overrides of the test, e.g. ``{"age": "cvm"}``.
    correction
        Multiple-testing correction over all tests of a report: ``holm`` (default),
        ``bonferroni``, ``hochberg``, ``bh``, ``by``.
    alpha
        Familywise error rate (or FDR for ``bh``/``by``) of the report.
    min_effect
        Relevance tolerance ``delta`` in [0, 1), or ``None``. When set, a column is flagged
        only when it has changed by *more than* ``delta`` -- KS distance for numeric
        columns, total variation for categorical ones and for missing-value rates -- with
        the report's error control over these relevance tests (finite-sample; see
        :mod:`shiftguard.stats.relevance`). Use it on large samples, where every column
        differs significantly by a negligible amount.
    multivariate
        Joint test: ``auto`` (MMD), ``mmd``, ``energy``, ``classifier`` or ``none``.
    localize
        Rank numeric features by a conditional-distribution shift test, when the report
        found drift (serial gatekeeping: the localisation is tested at ``alpha`` only
        after the report's own family rejected, so the familywise error of verdict and
        localisation together stays at most ``alpha``; Dmitrienko and Tamhane 2007).
    n_permutations
        Most permutations of a permutation test (the Monte Carlo p-values stop early by
        Besag and Clifford's rule; cheap per-column tests draw more when the report's
        multiplicity correction needs smaller p-values).
    bandwidth
        The MMD kernel's ``sigma`` for ``multivariate="mmd"``/``"auto"``: ``None`` (default)
        for the median heuristic on the pooled standardised rows (falling back to the
        non-zero distances when most rows coincide), or a positive number.
    max_rows_multivariate
        Rows drawn (seeded, without replacement) from each sample for the multivariate test
        and the localisation.
    seed
        Seed of every random choice; equal data and seed give equal reports.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> detector = DriftDetector(seed=0).fit(rng.normal(size=(500, 3)))
    >>> shifted = rng.normal(size=(500, 3)) + [0.0, 0.0, 0.5]
    >>> detector.compare(shifted).drifted_columns
    ('x2',)
    """

    def __init__(
        self,
        *,
        columns: Sequence[str] | None = None,
        exclude: Sequence[str] = (),
        kinds: Mapping[str, str] | None = None,
        numeric_test: str = "ks",
        categorical_test: str = "chi2",
        text_test: str = "mmd",
        tests: Mapping[str, str] | None = None,
        correction: str = "holm",
        alpha: float = 0.05,
        min_effect: float | None = None,
        multivariate: str = "auto",
        localize: bool = True,
        n_permutations: int = 1000,
        bandwidth: float | None = None,
        max_rows_multivariate: int = 2000,
        seed: int | None = 0,
    ) -> None:
        self.columns = columns
        self.exclude = exclude
        self.kinds = kinds
        self.numeric_test = numeric_test
        self.categorical_test = categorical_test
        self.text_test = text_test
        self.tests = tests
        self.correction = correction
        self.alpha = alpha
        self.min_effect = min_effect
        self.multivariate = multivariate
        self.localize = localize
        self.n_permutations = n_permutations
        self.bandwidth = bandwidth
        self.max_rows_multivariate = max_rows_multivariate
        self.seed = seed

    def fit(self, reference: Any) -> DriftDetector:
        """Read, validate and summarise the reference (sorted numeric columns, counts)."""
        self._check_params()
        table = read_table(
            reference, kinds=self.kinds, columns=self.columns, exclude=self.exclude,
            label="reference",
        )
        self._test_of_ = self._assign_tests(table)
        for col in table.columns:
            if col.kind == "categorical":
                _check_not_constant(col.name, col.observed(), col.categories)
        self.reference_ = table
        numeric = [c for c in table.columns if c.kind == "numeric"]
        self.numeric_names_ = tuple(c.name for c in numeric)
        if numeric:
            self.numeric_sorted_ = ks.presort(_matrix(table, self.numeric_names_))
            sorted_cols = self.numeric_sorted_
            for j, name in enumerate(self.numeric_names_):
                k = sorted_cols.n_valid[j]
                _check_not_constant(name, sorted_cols.values[[0, k - 1], j], ())
            # Columns of the Fortran-ordered sorted copy are contiguous: no table-size temporary.
            observed = [sorted_cols.values[:k, j] for j, k in enumerate(sorted_cols.n_valid)]
            self.numeric_mean_ = np.array([v.mean() for v in observed])
            self.numeric_std_ = np.array([v.std() for v in observed])
        self.design_ = _DesignSpec.from_reference(table, self)
        if self.multivariate != "none":
            self.reference_design_ = self.design_.sample(table, self._rng(0))
        return self

    def compare(self, current: Any) -> DriftReport:
        """Compare ``current`` with the fitted reference; see the module docstring."""
        if not hasattr(self, "reference_"):
            raise NotFittedError("call fit(reference) before compare(current)")
        ref = self.reference_
        raw = read_table(current, label="current")
        if self.columns is None:
            keep = [n for n in raw.names if n not in set(self.exclude)]
        else:
            keep = [n for n in self.columns if n in raw.names]
        raw = read_table(raw, columns=keep, label="current")
        check_schema(ref, raw, check_kinds=False)
        cur = read_table(raw, kinds=ref.kinds, columns=ref.names, label="current")
        raw_tests = self._column_tests(cur)
        missing_p = [_missing_rate_pvalue(ref[n], cur[n]) for n in ref.names]
        multi = self._multivariate(cur)

        family = [t.pvalue for t in raw_tests] + [p for p in missing_p if p is not None]
        if multi is not None:
            family.append(multi.pvalue)
        adjusted = adjust_pvalues(np.asarray(family), method=self.correction)
        n_cols = len(raw_tests)
        adj_col = adjusted[:n_cols]
        adj_missing = iter(adjusted[n_cols:n_cols + sum(p is not None for p in missing_p)])

        relevant = self._relevance_verdicts(ref, cur, raw_tests)
        results = []
        for name, t, p_adj, p_miss, rel in zip(ref.names, raw_tests, adj_col, missing_p, relevant,
                                               strict=True):
            p_miss_adj = float(next(adj_missing)) if p_miss is not None else None
            detected = bool(p_adj <= self.alpha) or (
                p_miss_adj is not None and p_miss_adj <= self.alpha
            )
            notes = () if t.relevance is not None or self.min_effect is None else (
                "no relevance test for text columns: min_effect does not apply",)
            results.append(ColumnDrift(
                name=name, kind=ref[name].kind, test=t.test, statistic=t.statistic,
                pvalue=t.pvalue, pvalue_adjusted=float(p_adj), effect_size=t.effect_size,
                effect_size_name=t.effect_size_name,
                drifted=detected if self.min_effect is None else bool(rel["relevant"]),
                n_reference=len(ref[name]) - ref[name].n_missing,
                n_current=len(cur[name]) - cur[name].n_missing,
                missing_reference=ref[name].n_missing, missing_current=cur[name].n_missing,
                missing_pvalue=p_miss, missing_pvalue_adjusted=p_miss_adj,
                unseen_categories=t.unseen, profile=t.profile, detected=detected,
                distance=None if t.relevance is None else t.relevance.statistic,
                distance_name="" if t.relevance is None else (
                    "ks_distance" if t.relevance.method == "ks_relevance" else "total_variation"),
                distance_ci=None if t.relevance is None else (t.relevance.ci_low,
                                                              t.relevance.ci_high),
                notes=notes, **{k: v for k, v in rel.items() if k != "relevant"},
                relevant=rel["relevant"],
            ))
        if multi is not None:
            multi = dataclasses.replace(
                multi, pvalue_adjusted=float(adjusted[-1]), drifted=bool(adjusted[-1] <= self.alpha)
            )
        multi_counts = self.min_effect is None and bool(multi and multi.drifted)
        drifted = any(c.drifted for c in results) or multi_counts
        # Serial gatekeeping: features are localised only once the report found drift, so
        # the localisation's flags share the report's familywise error bound and never
        # appear under a "no drift" verdict.
        localization = self._localize(cur) if drifted else None
        return DriftReport(
            drifted=drifted,
            columns=tuple(results), multivariate=multi, localization=localization,
            alpha=float(self.alpha), correction=self.correction,
            n_reference=ref.n_rows, n_current=cur.n_rows, min_effect=self.min_effect,
        )

    def _relevance_verdicts(self, ref: Table, cur: Table,
                            raw_tests: Sequence[_RawTest]) -> list[dict[str, Any]]:
        """Per column: relevance p-values (raw, adjusted over all relevance tests of the
        report) and the verdict; all ``None`` without ``min_effect``."""
        empty = {"relevance_pvalue": None, "relevance_pvalue_adjusted": None,
                 "missing_relevance_pvalue_adjusted": None, "relevant": None}
        if self.min_effect is None:
            return [dict(empty) for _ in raw_tests]
        delta = float(self.min_effect)
        missing = []
        for name in ref.names:
            r, c = ref[name], cur[name]
            if r.n_missing + c.n_missing == 0:
                missing.append(None)
                continue
            counts = [[r.n_missing, len(r) - r.n_missing], [c.n_missing, len(c) - c.n_missing]]
            missing.append(relevance.tv_relevance_test_counts(*counts, delta, self.alpha))
        raw = [t.relevance.pvalue for t in raw_tests if t.relevance is not None]
        raw += [m.pvalue for m in missing if m is not None]
        adjusted = iter(adjust_pvalues(np.asarray(raw), method=self.correction).tolist()
                        if raw else [])
        dist_adj = [None if t.relevance is None else next(adjusted) for t in raw_tests]
        miss_adj = [None if m is None else next(adjusted) for m in missing]
        out = []
        for t, p_dist, p_miss in zip(raw_tests, dist_adj, miss_adj, strict=True):
            flags = [p <= self.alpha for p in (p_dist, p_miss) if p is not None]
            out.append({
                "relevance_pvalue": None if t.relevance is None else t.relevance.pvalue,
                "relevance_pvalue_adjusted": p_dist,
                "missing_relevance_pvalue_adjusted": p_miss,
                "relevant": any(flags),
            })
        return out

    # -- internals ---------------------------------------------------------------------

    def _check_params(self) -> None:
        check_alpha(self.alpha)
        if self.min_effect is not None:
            relevance.check_delta(self.min_effect)
        check_choice(self.correction, "correction", CORRECTIONS)
        check_choice(self.multivariate, "multivariate", MULTIVARIATE_METHODS)
        check_choice(self.numeric_test, "numeric_test", tuple(NUMERIC_TESTS))
        check_choice(self.categorical_test, "categorical_test", CATEGORICAL_TESTS)
        check_choice(self.text_test, "text_test", TEXT_TESTS)
        check_positive_int(self.n_permutations, "n_permutations", minimum=19)
        if self.bandwidth is not None:
            check_positive_number(self.bandwidth, "bandwidth")
        check_positive_int(self.max_rows_multivariate, "max_rows_multivariate", minimum=10)

    def _assign_tests(self, table: Table) -> dict[str, str]:
        overrides = dict(self.tests or {})
        unknown = [n for n in overrides if n not in table.names]
        if unknown:
            raise ParameterError(f"tests= names unknown column(s) {', '.join(map(repr, unknown))}")
        allowed = {"numeric": tuple(NUMERIC_TESTS), "categorical": CATEGORICAL_TESTS,
                   "text": TEXT_TESTS}
        default = {"numeric": self.numeric_test, "categorical": self.categorical_test,
                   "text": self.text_test}
        chosen = {}
        for col in table.columns:
            test = overrides.get(col.name, default[col.kind])
            if test not in allowed[col.kind]:
                raise ParameterError(
                    f"test {test!r} does not apply to {col.kind} column {col.name!r}; "
                    f"use one of {', '.join(allowed[col.kind])}"
                )
            chosen[col.name] = test
        return chosen

    def _family_permutations(self) -> int:
        """Permutations of a cheap per-column permutation test: at least ``n_permutations``,
        and enough that its smallest p-value, ``1 / (1 + B)``, is ``alpha / (20 m)`` for the
        report's ``m`` tests, so that a multiplicity correction can still reject it."""
        n_tests = 2 * len(self.reference_.names) + 1
        return max(self.n_permutations, math.ceil(20 * n_tests / self.alpha) - 1)

    def _rng(self, stream: int) -> np.random.Generator:
        return as_rng(None if self.seed is None else np.random.default_rng([self.seed, stream]))

    def _column_tests(self, cur: Table) -> list[_RawTest]:
        ref = self.reference_
        numeric = {}
        if self.numeric_names_:
            numeric = self._numeric_tests(_matrix(cur, self.numeric_names_))
        out = []
        for col in ref.columns:
            if col.kind == "numeric":
                out.append(numeric[col.name])
            elif col.kind == "categorical":
                out.append(self._categorical_test(col, cur[col.name]))
            else:
                out.append(self._text_test(col, cur[col.name]))
        return out

    def _numeric_tests(self, cur_matrix: np.ndarray) -> dict[str, _RawTest]:
        ref_sorted = self.numeric_sorted_
        cur_sorted = ks.presort(cur_matrix)
        ks_stat, ks_p = ks.ks_test_many(ref_sorted, cur_sorted)
        ref_q = _quantiles(ref_sorted, np.linspace(0.0, 1.0, _N_QUANTILES))
        cur_q = _quantiles(cur_sorted, np.linspace(0.0, 1.0, _N_QUANTILES))
        levels = (np.arange(_N_EFFECT_LEVELS) + 0.5) / _N_EFFECT_LEVELS
        w1 = np.abs(_quantiles(ref_sorted, levels) - _quantiles(cur_sorted, levels)).mean(axis=0)
        effect = w1 / self.numeric_std_
        out = {}
        for j, name in enumerate(self.numeric_names_):
            test = self._test_of_[name]
            if test == "ks":
                statistic, pvalue = float(ks_stat[j]), float(ks_p[j])
            else:
                x = ref_sorted.values[: ref_sorted.n_valid[j], j]
                y = cur_sorted.values[: cur_sorted.n_valid[j], j]
                res = _run_numeric(test, x, y, self.n_permutations, self._rng(10 + j))
                statistic, pvalue = float(res.statistic), float(res.pvalue)
            out[name] = _RawTest(
                test=test, statistic=statistic, pvalue=pvalue, effect_size=float(effect[j]),
                effect_size_name="wasserstein_sd", unseen=(),
                profile=_numeric_profile(ref_sorted, cur_sorted, j, ref_q[:, j], cur_q[:, j]),
                relevance=relevance.ks_relevance_from_distance(
                    ks_stat[j], ref_sorted.n_valid[j], cur_sorted.n_valid[j],
                    self.min_effect or 0.0, self.alpha),
            )
        return out

    def _categorical_test(self, ref: Column, cur: Column) -> _RawTest:
        labels, ref_counts, cur_counts = _aligned_counts(ref, cur)
        unseen = tuple(labels[len(ref.categories):][cur_counts[len(ref.categories):] > 0])
        test = self._test_of_[ref.name]
        # Pooling rare categories keeps the chi-squared and G tests powerful against changes
        # in the common ones; their p-value is by permutation whenever a cell stays sparse.
        r, c = _pool_rare(ref_counts, cur_counts) if test in ("chi2", "g") else (ref_counts,
                                                                                  cur_counts)
        rng = self._rng(1000 + _col_index(self.reference_, ref.name))
        res = _run_categorical(test, r, c, self._family_permutations(), rng, ref.name)
        statistic, pvalue = float(res.statistic), float(res.pvalue)
        ref_share = ref_counts / ref_counts.sum()
        cur_share = cur_counts / cur_counts.sum()
        return _RawTest(
            test=test, statistic=statistic, pvalue=pvalue,
            effect_size=float(0.5 * np.abs(ref_share - cur_share).sum()),
            effect_size_name="total_variation", unseen=unseen,
            profile=_categorical_profile(labels, ref_share, cur_share),
            relevance=relevance.tv_relevance_test_counts(ref_counts, cur_counts,
                                                         self.min_effect or 0.0, self.alpha),
        )

    def _text_test(self, ref: Column, cur: Column) -> _RawTest:
        from shiftguard.drift.text import text_drift_test

        test = self._test_of_[ref.name]
        res = text_drift_test(
            list(ref.observed()), list(cur.observed()), method=test,
            n_permutations=self.n_permutations,
            seed=self._rng(2000 + _col_index(self.reference_, ref.name)),
        )
        return _RawTest(
            test=f"text_{test}", statistic=float(res.statistic), pvalue=float(res.pvalue),
            effect_size=None, effect_size_name="", unseen=(), profile=ColumnProfile(),
        )

    def _multivariate(self, cur: Table) -> MultivariateDrift | None:
        """The joint test's raw result; its adjusted p-value is filled in by ``compare``."""
        method = "mmd" if self.multivariate == "auto" else self.multivariate
        if method == "none" or self.design_.n_features == 0:
            return None
        from shiftguard.stats import multivariate

        x = self.reference_design_
        y = self.design_.sample(cur, self._rng(1))
        rng = self._rng(2)
        if method == "classifier":
            res = multivariate.classifier_test(x, y, seed=rng)
        elif method == "energy":
            res = multivariate.energy_test(x, y, n_permutations=self.n_permutations, seed=rng)
        else:
            res = multivariate.mmd_test(x, y, bandwidth=self.bandwidth,
                                        n_permutations=self.n_permutations, seed=rng)
        return MultivariateDrift(
            method=method, statistic=float(res.statistic), pvalue=float(res.pvalue),
            pvalue_adjusted=float("nan"), drifted=False, n_reference=x.shape[0],
            n_current=y.shape[0], n_features=x.shape[1],
        )

    def _localize(self, cur: Table) -> Any:
        if not self.localize or len(self.numeric_names_) < 2:
            return None
        from shiftguard.drift.localize import localize_shift

        x = self.design_.complete_numeric(self.reference_, self._rng(3))
        y = self.design_.complete_numeric(cur, self._rng(4))
        # "auto" picks the Gaussian conditional model or, for wide, collinear or costly
        # tables, the ridge one, from the pooled rows only (see localize_shift).
        return localize_shift(x, y, method="auto", names=self.numeric_names_,
                              alpha=self.alpha, seed=self._rng(5))


def compare(reference: Any, current: Any, **options: Any) -> DriftReport:
    """Compare ``current`` with ``reference`` column by column and jointly.

    Shorthand for ``DriftDetector(**options).fit(reference).compare(current)``; see
    :class:`DriftDetector` for the options and the module docstring for the guarantee.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> report = compare(rng.normal(size=(300, 2)), rng.normal(size=(300, 2)))
    >>> report.drifted
    False
    """
    return DriftDetector(**options).fit(reference).compare(current)


# -- helpers ---------------------------------------------------------------------------


def _stack(columns: Sequence[Column], rows: np.ndarray | None = None) -> np.ndarray:
    """Numeric columns (optionally only ``rows``) as one C-ordered matrix."""
    n = len(columns[0]) if rows is None else rows.size
    out = np.empty((n, len(columns)), dtype=np.float64)
    for j, col in enumerate(columns):
        out[:, j] = col.values if rows is None else col.values[rows]
    return out


def _matrix(table: Table, names: Sequence[str]) -> np.ndarray:
    """The named numeric columns as a matrix: the input array itself when it was one."""
    if table.numeric_block is not None and tuple(names) == table.names:
        return table.numeric_block
    return _stack([table[n] for n in names])


def _col_index(table: Table, name: str) -> int:
    return table.names.index(name)


def _check_not_constant(name: str, observed: np.ndarray, categories: Sequence[str]) -> None:
    """Raise unless ``observed`` (numbers, or codes into ``categories``) holds two values."""
    if observed.size and np.all(observed == observed[0]):
        value = categories[observed[0]] if categories else observed[0]
        raise InputError(
            f"is constant in the reference (every observed value is {value!r}); "
            "a drift test needs variation: exclude the column", name
        )


def _quantiles(sorted_cols: Any, levels: np.ndarray) -> np.ndarray:
    """Empirical quantiles (lower inverse CDF) of every column at ``levels`` -> (L, d)."""
    n = sorted_cols.n_valid.astype(np.float64)
    idx = np.clip(np.ceil(levels[:, None] * n[None, :]) - 1, 0, n[None, :] - 1).astype(np.intp)
    return np.take_along_axis(sorted_cols.values, idx, axis=0)


def _numeric_profile(ref_sorted: Any, cur_sorted: Any, j: int, ref_q: np.ndarray,
                     cur_q: np.ndarray) -> ColumnProfile:
    x = ref_sorted.values[: ref_sorted.n_valid[j], j]
    y = cur_sorted.values[: cur_sorted.n_valid[j], j]
    lo = min(x[int(0.005 * (x.size - 1))], y[int(0.005 * (y.size - 1))])
    hi = max(x[int(0.995 * (x.size - 1))], y[int(0.995 * (y.size - 1))])
    if hi <= lo:
        lo, hi = min(x[0], y[0]), max(x[-1], y[-1])
    edges = _bin_edges(lo, hi, integral=_all_integral(x) and _all_integral(y))
    return ColumnProfile(
        bin_edges=tuple(edges.tolist()),
        reference_hist=tuple((np.diff(np.searchsorted(x, edges, side="right")) / x.size).tolist()),
        current_hist=tuple((np.diff(np.searchsorted(y, edges, side="right")) / y.size).tolist()),
        reference_quantiles=tuple(ref_q.tolist()),
        current_quantiles=tuple(cur_q.tolist()),
    )


def _bin_edges(lo: float, hi: float, integral: bool) -> np.ndarray:
    """About ``_N_BINS`` equal bins over ``[lo, hi]``. For integer data every bin holds the
    same number of integers, its edges half-way between them: equal-width bins would
    hold one or two integers by turns and draw a comb instead of the distribution."""
    if not integral:
        return np.linspace(lo, hi, _N_BINS + 1)
    width = math.ceil((hi - lo + 1) / _N_BINS)
    n_bins = math.ceil((hi - lo + 1) / width)
    return lo - 0.5 + width * np.arange(n_bins + 1)


def _all_integral(values: np.ndarray) -> bool:
    return bool(np.all(values == np.round(values)))


def _aligned_counts(ref: Column, cur: Column) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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


def _pool_rare(ref_counts: np.ndarray, cur_counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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


def _categorical_profile(labels: np.ndarray, ref_share: np.ndarray,
                         cur_share: np.ndarray) -> ColumnProfile:
    order = np.argsort(-(ref_share + cur_share), kind="stable")[:_MAX_PLOTTED_CATEGORIES]
    return ColumnProfile(
        categories=tuple(str(v) for v in labels[order]),
        reference_share=tuple(ref_share[order].tolist()),
        current_share=tuple(cur_share[order].tolist()),
    )


def _missing_rate_pvalue(ref: Column, cur: Column) -> float | None:
    """Fisher's exact test of equal missing rates, or None when nothing is missing."""
    if ref.n_missing + cur.n_missing == 0:
        return None
    from scipy.stats import fisher_exact

    table = [[ref.n_missing, len(ref) - ref.n_missing], [cur.n_missing, len(cur) - cur.n_missing]]
    return float(fisher_exact(table).pvalue)


@dataclasses.dataclass(frozen=True)
class _DesignSpec:
    """How rows become a numeric design matrix for the joint test (fixed by the reference)."""

    numeric: tuple[str, ...]
    mean: np.ndarray
    std: np.ndarray
    categorical: tuple[tuple[str, tuple[str, ...]], ...]
    max_rows: int

    @classmethod
    def from_reference(cls, table: Table, detector: DriftDetector) -> _DesignSpec:
        numeric = detector.numeric_names_
        cats = []
        for col in table.columns:
            if col.kind != "categorical":
                continue
            counts = np.bincount(col.observed(), minlength=len(col.categories))
            share = counts / counts.sum()
            top = np.argsort(-share, kind="stable")[:_MAX_PLOTTED_CATEGORIES]
            cats.append((col.name, tuple(col.categories[i] for i in top if share[i] >= 0.01)))
        return cls(
            numeric=numeric,
            mean=detector.numeric_mean_ if numeric else np.empty(0),
            std=detector.numeric_std_ if numeric else np.empty(0),
            categorical=tuple(cats),
            max_rows=detector.max_rows_multivariate,
        )

    @property
    def n_features(self) -> int:
        return len(self.numeric) + sum(len(c) for _, c in self.categorical)

    def _rows(self, table: Table, rng: np.random.Generator) -> np.ndarray:
        n = table.n_rows
        return np.sort(rng.choice(n, size=self.max_rows, replace=False)) if n > self.max_rows \
            else np.arange(n)

    def sample(self, table: Table, rng: np.random.Generator) -> np.ndarray:
        """Standardised numeric columns (missing -> reference mean) and one-hot categories."""
        rows = self._rows(table, rng)
        parts = []
        if self.numeric:
            z = (_stack([table[n] for n in self.numeric], rows) - self.mean) / self.std
            parts.append(np.nan_to_num(z, nan=0.0))
        for name, keep in self.categorical:
            col = table[name]
            codes = col.values[rows]
            labels = np.asarray(col.categories, dtype=object)
            for label in keep:
                hits = np.flatnonzero(labels == label)
                parts.append(np.isin(codes, hits).astype(np.float64)[:, None] * np.sqrt(0.5))
        return np.hstack(parts)

    def complete_numeric(self, table: Table, rng: np.random.Generator) -> np.ndarray:
        """Standardised numeric columns of a seeded subsample of rows without missing values."""
        z = (_stack([table[n] for n in self.numeric]) - self.mean) / self.std
        z = z[~np.isnan(z).any(axis=1)]
        if z.shape[0] > self.max_rows:
            z = z[np.sort(rng.choice(z.shape[0], size=self.max_rows, replace=False))]
        return z


def _run_numeric(test: str, x: np.ndarray, y: np.ndarray, n_permutations: int,
                 rng: np.random.Generator) -> Any:
    func = NUMERIC_TESTS[test]
    if test in ("ks", "mannwhitney"):
        return func(x, y)
    return func(x, y, n_permutations=n_permutations, seed=rng)


def _run_categorical(test: str, ref_counts: np.ndarray, cur_counts: np.ndarray,
                     n_permutations: int, rng: np.random.Generator, name: str) -> Any:
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
