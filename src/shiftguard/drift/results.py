"""What :func:`~shiftguard.drift.compare` returns: frozen dataclasses that serialise to JSON
(``to_dict()`` gives the CLI's JSON schema)."""

from __future__ import annotations

import dataclasses
from typing import Any

from shiftguard._result import ResultMixin


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
        Column name and kind (``numeric``, ``datetime``, ``categorical``, ``text``).
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
        Numeric and datetime columns read from strings: how many values in each sample were
        neither a number (or date) nor missing (tokens such as "unknown"), and Fisher's exact
        test of equal rates of such values (``None`` when neither sample has any).
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
