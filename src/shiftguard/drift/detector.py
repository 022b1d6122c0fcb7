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
  ``max_rows_multivariate`` rows per sample (exact level; less power than the full data);
  by default (``multivariate="auto"``) the MMD with 256 random Fourier features, exact
  at every size like the exact-kernel MMD (:func:`~shiftguard.stats.multivariate.mmd_test`).

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

import contextlib
import dataclasses
import math
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from shiftguard._validation import (
    as_rng,
    check_alpha,
    check_choice,
    check_positive_int,
    check_positive_number,
)
from shiftguard.drift import column_tests, profiles
from shiftguard.drift.design import DesignSpec
from shiftguard.drift.results import (
    ColumnDrift,
    ColumnProfile,
    ColumnSummary,
    DriftReport,
    ExcludedColumn,
    MultivariateDrift,
)
from shiftguard.errors import NotFittedError, ParameterError, ShiftguardError
from shiftguard.io import Column, Table, check_schema, read_table
from shiftguard.stats import (
    ks,
    relevance,
)
from shiftguard.stats.multiple import adjust_pvalues
from shiftguard.stats.relevance import RelevanceResult

MULTIVARIATE_METHODS = ("auto", "mmd", "energy", "classifier", "none")
CORRECTIONS = ("bonferroni", "holm", "hochberg", "bh", "by")

_N_EFFECT_LEVELS = 1000
# Random Fourier features of the default joint test (``multivariate="auto"``): at the
# default 2,000 + 2,000 rows its power is that of the exact-kernel MMD within the
# binomial error of ``bench/drift/bench_mmd_power.py``, at a sixth of its cost or less.
_AUTO_MMD_FEATURES = 256


@dataclasses.dataclass(frozen=True)
class _RawTest:
    """One column's distribution test before the multiplicity correction (``pvalue`` is
    ``None`` when the column could not be tested; ``notes`` say why)."""

    test: str
    statistic: float
    pvalue: float | None
    effect_size: float | None
    effect_size_name: str
    unseen: tuple[str, ...]
    profile: ColumnProfile
    relevance: RelevanceResult | None = None
    notes: tuple[str, ...] = ()


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
        Joint test: ``auto`` (the MMD with 256 random Fourier features, ``mmd_test(...,
        n_features=256)``: as powerful as the exact kernel at the default sample size and
        several times faster), ``mmd`` (the exact Gaussian kernel), ``energy``,
        ``classifier`` or ``none``. The report's ``multivariate.method`` says which ran
        (``mmd_rff`` for ``auto``).
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
        for the median heuristic on the pooled standardised rows (``"auto"``: on 1,000 of
        them, drawn from the pooled rows in sorted order; falling back to the non-zero
        distances when most rows coincide), or a positive number.
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
        self.reference_ = table
        self.excluded_names_ = tuple(c.name for c in table.columns if c.kind == "identifier")
        # A column with no observed reference value has only a guessed kind: its current
        # values are read as they come, and only its missing-value rate is tested.
        self.empty_names_ = tuple(c.name for c in table.columns if len(c) == c.n_missing)
        ordered = [c for c in table.columns
                   if c.kind in ("numeric", "datetime") and c.name not in self.empty_names_]
        self.numeric_names_ = tuple(c.name for c in ordered)
        if ordered:
            self.numeric_sorted_ = ks.presort(_numeric_input(table, self.numeric_names_))
            sorted_cols = self.numeric_sorted_
            # Columns of the Fortran-ordered sorted copy are contiguous: no table-size temporary.
            observed = [sorted_cols.values[:k, j] for j, k in enumerate(sorted_cols.n_valid)]
            # What every compare reports of the reference, computed once.
            self.numeric_summaries_ = tuple(profiles.numeric_summary(v, table.n_rows)
                                            for v in observed)
            self.numeric_integral_ = tuple(profiles._all_integral(v) for v in observed)
            self.numeric_mean_ = np.array([s.mean for s in self.numeric_summaries_])
            self.numeric_std_ = np.array([s.std for s in self.numeric_summaries_])
        self.design_ = DesignSpec.from_reference(table, self)
        if self.multivariate != "none" and self.design_.n_features:
            self.reference_design_ = self.design_.sample(table, self._rng(0))
        if self.localize and len(self.design_.numeric) >= 2:
            self.reference_complete_ = self.design_.complete_numeric(table, self._rng(3))
        if ordered:
            self.reference_ = _sorted_reference(table, self.numeric_names_, self.numeric_sorted_)
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
        kinds = {n: k for n, k in ref.kinds.items() if n not in self.empty_names_}
        cur = read_table(raw, kinds=kinds, columns=ref.names, label="current")
        names = [n for n in ref.names if n not in self.excluded_names_]
        # The joint test needs nothing from the column tests: it runs on a second thread from
        # the start (its NumPy and BLAS work release the GIL; it uses no parallel numba
        # kernel, so only this thread launches those). When the column tests alone decide the
        # verdict, the localisation runs here beside it. Every step draws from its own
        # seeded stream, so the report is the one of running them one after the other
        # (tests/drift/test_detector.py checks it). BLAS stays on one thread until both have
        # finished: each step limits it too, and a limit restores what it found at its start.
        with contextlib.ExitStack() as stack:
            joint = None
            if self.multivariate != "none" and self.design_.n_features:
                from shiftguard._threads import single_threaded_blas

                stack.enter_context(single_threaded_blas())
                pool = stack.enter_context(ThreadPoolExecutor(1, "shiftguard-joint"))
                joint = pool.submit(self._multivariate, cur)
            raw_tests = self._column_tests(cur, names)
            family = _Family()
            for name, t in zip(names, raw_tests, strict=True):
                family.add((name, "distribution"), t.pvalue)
                family.add((name, "missing"),
                           column_tests.missing_rate_pvalue(ref[name], cur[name]))
                family.add((name, "non_numeric"),
                           column_tests.non_numeric_pvalue(ref[name], cur[name]))
            relevant = self._relevance_verdicts(ref, cur, names, raw_tests)
            early_localization = self._localize(cur) if self._decided(family, relevant) else None
            multi = None if joint is None else joint.result()
        if multi is not None:
            family.add(("", "multivariate"), multi.pvalue)
        adjusted = family.adjusted(self.correction)
        results = []
        for name, t, rel in zip(names, raw_tests, relevant, strict=True):
            p_adj = adjusted.get((name, "distribution"), math.nan)
            p_miss = family.pvalues.get((name, "missing"))
            p_miss_adj = adjusted.get((name, "missing"))
            p_tok = family.pvalues.get((name, "non_numeric"))
            p_tok_adj = adjusted.get((name, "non_numeric"))
            detected = any(p is not None and p <= self.alpha
                           for p in (adjusted.get((name, "distribution")), p_miss_adj, p_tok_adj))
            notes = t.notes
            if t.relevance is None and self.min_effect is not None:
                notes += ("no relevance test for this column: min_effect does not apply",)
            r, c = ref[name], cur[name]
            results.append(ColumnDrift(
                name=name, kind=r.kind, test=t.test, statistic=t.statistic,
                pvalue=t.pvalue if t.pvalue is not None else math.nan,
                pvalue_adjusted=p_adj, effect_size=t.effect_size,
                effect_size_name=t.effect_size_name,
                drifted=detected if self.min_effect is None else bool(rel["relevant"]),
                n_reference=len(r) - r.n_missing - r.n_non_numeric,
                n_current=len(c) - c.n_missing - c.n_non_numeric,
                missing_reference=r.n_missing, missing_current=c.n_missing,
                missing_pvalue=p_miss, missing_pvalue_adjusted=p_miss_adj,
                unseen_categories=t.unseen, profile=t.profile, detected=detected,
                distance=None if t.relevance is None else t.relevance.statistic,
                distance_name="" if t.relevance is None else (
                    "ks_distance" if t.relevance.method == "ks_relevance" else "total_variation"),
                distance_ci=None if t.relevance is None else (t.relevance.ci_low,
                                                              t.relevance.ci_high),
                notes=notes, **{k: v for k, v in rel.items() if k != "relevant"},
                relevant=rel["relevant"], inferred=r.inferred,
                non_numeric_reference=r.n_non_numeric, non_numeric_current=c.n_non_numeric,
                non_numeric_pvalue=p_tok, non_numeric_pvalue_adjusted=p_tok_adj,
            ))
        if multi is not None:
            p_multi = adjusted[("", "multivariate")]
            multi = dataclasses.replace(multi, pvalue_adjusted=p_multi,
                                        drifted=bool(p_multi <= self.alpha))
        multi_counts = self.min_effect is None and bool(multi and multi.drifted)
        drifted = any(c.drifted for c in results) or multi_counts
        notes = list(self.design_.notes)
        if not names:
            notes.append("no column could be tested: every column is identifier-like")
        # Serial gatekeeping: features are localised only once the report found drift, so
        # the localisation's flags share the report's familywise error bound and never
        # appear under a "no drift" verdict.
        localization = None
        if drifted:
            localization, note = early_localization or self._localize(cur)
            notes.extend(note)
        return DriftReport(
            drifted=drifted,
            columns=tuple(results), multivariate=multi, localization=localization,
            alpha=float(self.alpha), correction=self.correction,
            n_reference=ref.n_rows, n_current=cur.n_rows, min_effect=self.min_effect,
            excluded=tuple(_excluded(ref[n], cur[n]) for n in self.excluded_names_),
            notes=tuple(notes),
        )

    def _relevance_verdicts(self, ref: Table, cur: Table, names: Sequence[str],
                            raw_tests: Sequence[_RawTest]) -> list[dict[str, Any]]:
        """Per column: relevance p-values (raw, adjusted over all relevance tests of the
        report) and the verdict; all ``None`` without ``min_effect``."""
        empty = {"relevance_pvalue": None, "relevance_pvalue_adjusted": None,
                 "missing_relevance_pvalue_adjusted": None, "relevant": None}
        if self.min_effect is None:
            return [dict(empty) for _ in raw_tests]
        delta = float(self.min_effect)
        family = _Family()
        for name, t in zip(names, raw_tests, strict=True):
            r, c = ref[name], cur[name]
            family.add((name, "distribution"), None if t.relevance is None else t.relevance.pvalue)
            if r.n_missing + c.n_missing:
                counts = [[r.n_missing, len(r) - r.n_missing],
                          [c.n_missing, len(c) - c.n_missing]]
                family.add((name, "missing"), relevance.tv_relevance_test_counts(
                    *counts, delta, self.alpha).pvalue)
        adjusted = family.adjusted(self.correction)
        out = []
        for name in names:
            p_dist = adjusted.get((name, "distribution"))
            p_miss = adjusted.get((name, "missing"))
            out.append({
                "relevance_pvalue": family.pvalues.get((name, "distribution")),
                "relevance_pvalue_adjusted": p_dist,
                "missing_relevance_pvalue_adjusted": p_miss,
                "relevant": any(p <= self.alpha for p in (p_dist, p_miss) if p is not None),
            })
        return out

    # -- internals ---------------------------------------------------------------------

    def _check_params(self) -> None:
        check_alpha(self.alpha)
        if self.min_effect is not None:
            relevance.check_delta(self.min_effect)
        check_choice(self.correction, "correction", CORRECTIONS)
        check_choice(self.multivariate, "multivariate", MULTIVARIATE_METHODS)
        check_choice(self.numeric_test, "numeric_test", tuple(column_tests.NUMERIC_TESTS))
        check_choice(self.categorical_test, "categorical_test", column_tests.CATEGORICAL_TESTS)
        check_choice(self.text_test, "text_test", column_tests.TEXT_TESTS)
        check_positive_int(self.n_permutations, "n_permutations", minimum=19)
        if self.bandwidth is not None:
            check_positive_number(self.bandwidth, "bandwidth")
        check_positive_int(self.max_rows_multivariate, "max_rows_multivariate", minimum=10)

    def _assign_tests(self, table: Table) -> dict[str, str]:
        overrides = dict(self.tests or {})
        unknown = [n for n in overrides if n not in table.names]
        if unknown:
            raise ParameterError(f"tests= names unknown column(s) {', '.join(map(repr, unknown))}")
        numeric = tuple(column_tests.NUMERIC_TESTS)
        allowed = {"numeric": numeric, "datetime": numeric, "identifier": (),
                   "categorical": column_tests.CATEGORICAL_TESTS, "text": column_tests.TEXT_TESTS}
        default = {"numeric": self.numeric_test, "datetime": self.numeric_test,
                   "categorical": self.categorical_test, "text": self.text_test,
                   "identifier": ""}
        chosen = {}
        for col in table.columns:
            test = overrides.get(col.name, default[col.kind])
            if col.kind != "identifier" and test not in allowed[col.kind]:
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

    def _column_tests(self, cur: Table, names: Sequence[str]) -> list[_RawTest]:
        ref = self.reference_
        numeric = {}
        if self.numeric_names_:
            numeric = self._numeric_tests(_numeric_input(cur, self.numeric_names_), cur.n_rows)
        out = []
        for name in names:
            kind = ref[name].kind
            if name in numeric:
                out.append(numeric[name])
            elif name in self.empty_names_:
                out.append(self._guarded(None, ref[name], cur[name]))
            elif kind == "categorical":
                out.append(self._guarded(self._categorical_test, ref[name], cur[name]))
            else:
                out.append(self._guarded(self._text_test, ref[name], cur[name]))
        return out

    def _guarded(self, test: Any, ref: Column, cur: Column) -> _RawTest:
        """One column's test; a column that cannot be tested is reported, never fatal."""
        empty = [label for label, col in (("reference", ref), ("current", cur))
                 if len(col) - col.n_missing == 0]
        if empty:
            return _untested(_no_values_note(empty))
        try:
            return test(ref, cur)
        except ShiftguardError as exc:
            return _untested(f"not tested: {_reason(exc)}")

    def _numeric_tests(self, cur_columns: Any, n_rows: int) -> dict[str, _RawTest]:
        ref_sorted = self.numeric_sorted_
        cur_sorted = ks.presort(cur_columns)
        n_ref, n_cur = ref_sorted.n_valid, cur_sorted.n_valid
        testable = np.flatnonzero((n_ref > 0) & (n_cur > 0))
        ks_stat = np.full(n_ref.size, np.nan)
        ks_p = np.full(n_ref.size, np.nan)
        if testable.size:
            pair = (ref_sorted, cur_sorted) if testable.size == n_ref.size else (
                ks.SortedColumns(ref_sorted.values[:, testable], n_ref[testable]),
                ks.SortedColumns(cur_sorted.values[:, testable], n_cur[testable]))
            ks_stat[testable], ks_p[testable] = ks.ks_test_many(*pair)
        levels = np.linspace(0.0, 1.0, profiles.N_QUANTILES)
        ref_q = profiles.quantiles(ref_sorted, levels)
        cur_q = profiles.quantiles(cur_sorted, levels)
        mid = (np.arange(_N_EFFECT_LEVELS) + 0.5) / _N_EFFECT_LEVELS
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            w1 = np.abs(profiles.quantiles(ref_sorted, mid)
                        - profiles.quantiles(cur_sorted, mid)).mean(axis=0)
            effect = np.where(self.numeric_std_ > 0, w1 / self.numeric_std_,
                              np.where(w1 > 0, np.inf, 0.0))
        out = {}
        for j, name in enumerate(self.numeric_names_):
            x = ref_sorted.values[: n_ref[j], j]
            y = cur_sorted.values[: n_cur[j], j]
            if x.size == 0 or y.size == 0:
                empty = [s for s, v in (("reference", x), ("current", y)) if v.size == 0]
                out[name] = _untested(_no_values_note(empty))
                continue
            summaries = (self.numeric_summaries_[j], profiles.numeric_summary(y, n_rows))
            test = self._test_of_[name]
            notes: tuple[str, ...] = ()
            if summaries[0].distinct == 1:
                notes = (f"constant in the reference (every value {_plain(x[0])})",)
            if test == "ks":
                statistic, pvalue = float(ks_stat[j]), float(ks_p[j])
            else:
                try:
                    res = column_tests.run_numeric(test, x, y, self.n_permutations,
                                                   self._rng(10 + j))
                except ShiftguardError as exc:
                    out[name] = _untested(f"not tested: {_reason(exc)}")
                    continue
                statistic, pvalue = float(res.statistic), float(res.pvalue)
            out[name] = _RawTest(
                test=test, statistic=statistic, pvalue=pvalue, effect_size=float(effect[j]),
                effect_size_name="wasserstein_sd", unseen=(), notes=notes,
                profile=profiles.numeric_profile(
                    x, y, ref_q[:, j], cur_q[:, j], summaries,
                    datetime=self.reference_[name].kind == "datetime",
                    reference_integral=self.numeric_integral_[j]),
                relevance=relevance.ks_relevance_from_distance(
                    ks_stat[j], x.size, y.size, self.min_effect or 0.0, self.alpha),
            )
        return out

    def _categorical_test(self, ref: Column, cur: Column) -> _RawTest:
        labels, ref_counts, cur_counts = column_tests.aligned_counts(ref, cur)
        unseen = tuple(labels[len(ref.categories):][cur_counts[len(ref.categories):] > 0])
        test = self._test_of_[ref.name]
        # Pooling rare categories keeps the chi-squared and G tests powerful against changes
        # in the common ones; their p-value is by permutation whenever a cell stays sparse.
        r, c = (column_tests.pool_rare(ref_counts, cur_counts) if test in ("chi2", "g")
                else (ref_counts, cur_counts))
        rng = self._rng(1000 + self.reference_.position(ref.name))
        res = column_tests.run_categorical(test, r, c, self._family_permutations(), rng, ref.name)
        ref_share = ref_counts / ref_counts.sum()
        cur_share = cur_counts / cur_counts.sum()
        summaries = (profiles.count_summary(ref_counts, len(ref)),
                     profiles.count_summary(cur_counts, len(cur)))
        notes = ()
        if summaries[0].distinct == 1:
            notes = (f"constant in the reference (every value {labels[0]!r})",)
        return _RawTest(
            test=test, statistic=float(res.statistic), pvalue=float(res.pvalue),
            effect_size=float(0.5 * np.abs(ref_share - cur_share).sum()),
            effect_size_name="total_variation", unseen=unseen, notes=notes,
            profile=profiles.categorical_profile(labels, ref_share, cur_share, summaries),
            relevance=relevance.tv_relevance_test_counts(ref_counts, cur_counts,
                                                         self.min_effect or 0.0, self.alpha),
        )

    def _text_test(self, ref: Column, cur: Column) -> _RawTest:
        from shiftguard.drift.text import text_drift_test, text_profile

        test = self._test_of_[ref.name]
        index = self.reference_.position(ref.name)
        ref_texts, cur_texts = list(ref.observed()), list(cur.observed())
        res = text_drift_test(ref_texts, cur_texts, method=test,
                              n_permutations=self.n_permutations, seed=self._rng(2000 + index))
        notes = ()
        if res.n_reference_tested < len(ref_texts) or res.n_current_tested < len(cur_texts):
            notes = (f"text test on a seeded subsample of {res.n_reference_tested:,} reference "
                     f"and {res.n_current_tested:,} current texts (of {len(ref_texts):,} and "
                     f"{len(cur_texts):,}): exact, with the power of that many texts",)
        # its own seed stream, so that the profile never changes the test's draws
        profile = text_profile(ref_texts, cur_texts, seed=self._rng(3000 + index))
        return _RawTest(
            test=f"text_{test}", statistic=float(res.statistic), pvalue=float(res.pvalue),
            effect_size=None, effect_size_name="", unseen=(), notes=notes,
            profile=ColumnProfile(reference_summary=_text_summary(ref),
                                  current_summary=_text_summary(cur), text=profile),
        )

    def _decided(self, family: _Family, relevant: Sequence[dict[str, Any]]) -> bool:
        """Whether the report's verdict is drift whatever the joint test's p-value.

        So when some column is relevant (``min_effect`` set: the joint test does not count)
        or, without ``min_effect``, when some column is detected with the joint test's
        p-value set to 1: every correction's adjusted p-values only grow when another
        p-value grows or a p-value is added.
        """
        if self.min_effect is not None:
            return any(rel["relevant"] for rel in relevant)
        worst = _Family()
        worst.pvalues = {**family.pvalues, ("", "multivariate"): 1.0}
        return any(p <= self.alpha for p in worst.adjusted(self.correction).values())

    def _multivariate(self, cur: Table) -> MultivariateDrift | None:
        """The joint test's raw result; its adjusted p-value is filled in by ``compare``."""
        method = self.multivariate
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
            res = multivariate.mmd_test(
                x, y, bandwidth=self.bandwidth, n_permutations=self.n_permutations, seed=rng,
                n_features=_AUTO_MMD_FEATURES if method == "auto" else None)
        return MultivariateDrift(
            method=res.method if method == "auto" else method, statistic=float(res.statistic),
            pvalue=float(res.pvalue),
            pvalue_adjusted=float("nan"), drifted=False, n_reference=x.shape[0],
            n_current=y.shape[0], n_features=x.shape[1],
        )

    def _localize(self, cur: Table) -> tuple[Any, tuple[str, ...]]:
        """The localisation and a note, or ``None`` and why it was skipped."""
        if not self.localize or len(self.design_.numeric) < 2:
            return None, ()
        from shiftguard.drift.localize import localize_shift

        x = self.reference_complete_
        y = self.design_.complete_numeric(cur, self._rng(4))
        try:
            # "auto" picks the Gaussian conditional model or, for wide, collinear or costly
            # tables, the ridge one, from the pooled rows only (see localize_shift).
            return localize_shift(x, y, method="auto", names=self.design_.numeric,
                                  alpha=self.alpha, seed=self._rng(5)), ()
        except ShiftguardError as exc:
            return None, (f"conditional-shift localisation skipped: {_reason(exc)}",)


def compare(reference: Any, current: Any, **options: Any) -> DriftReport:
    """Compare ``current`` with ``reference`` column by column and jointly.

    Shorthand for ``DriftDetector(**options).fit(reference).compare(current)``; see
    :class:`DriftDetector` for the options and the module docstring for the guarantee.
    When either side is a :class:`~shiftguard.profile.Profile` (or a ``.sgprofile``
    file), a Parquet directory or glob, or a Dask DataFrame, the comparison runs on
    profiles instead: :func:`shiftguard.profile.compare.compare_profiles`.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> report = compare(rng.normal(size=(300, 2)), rng.normal(size=(300, 2)))
    >>> report.drifted
    False
    """
    from shiftguard.profile.compare import compare_profiles, uses_profiles

    if uses_profiles(reference) or uses_profiles(current):
        return compare_profiles(reference, current, **options)
    return DriftDetector(**options).fit(reference).compare(current)


# -- helpers ---------------------------------------------------------------------------


class _Family:
    """The p-values of one multiple-testing family, by key; ``None`` p-values are skipped."""

    def __init__(self) -> None:
        self.pvalues: dict[tuple[str, str], float] = {}

    def add(self, key: tuple[str, str], pvalue: float | None) -> None:
        if pvalue is not None and not math.isnan(pvalue):
            self.pvalues[key] = float(pvalue)

    def adjusted(self, correction: str) -> dict[tuple[str, str], float]:
        if not self.pvalues:
            return {}
        values = adjust_pvalues(np.fromiter(self.pvalues.values(), float), method=correction)
        return dict(zip(self.pvalues, values.tolist(), strict=True))


def _untested(note: str) -> _RawTest:
    return _RawTest(test="none", statistic=math.nan, pvalue=None, effect_size=None,
                    effect_size_name="", unseen=(), profile=ColumnProfile(), notes=(note,))


def _reason(exc: ShiftguardError) -> str:
    """An error's message without the internal argument it names (the column is known)."""
    column = getattr(exc, "column", None)
    text = str(exc)
    return text.removeprefix(f"column {column!r}: ") if column is not None else text


def _no_values_note(empty: Sequence[str]) -> str:
    return (f"no observed value in {' and '.join(empty)}: the distribution is not tested; "
            "the missing-value rate test decides")


def _plain(value: float) -> str:
    """A number as people write it: 7 not 7.0, never ``np.float64(7.0)``."""
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else f"{value:g}"


def _text_summary(col: Column) -> ColumnSummary:
    observed = col.observed()
    return ColumnSummary(count=int(observed.size), missing_share=col.n_missing / len(col),
                         distinct=int(np.unique(observed.astype(str)).size))


def _excluded(ref: Column, cur: Column) -> ExcludedColumn:
    """An identifier-like column: not tested; the share of current values that are new."""
    seen = ref.observed().astype(str)
    now = cur.observed().astype(str)
    new_share = float(np.mean(~np.isin(now, seen))) if now.size else None
    return ExcludedColumn(
        name=ref.name, kind=ref.kind, new_share=new_share,
        reason=f"identifier-like ({ref.inferred or 'near-unique values'}): a distribution "
               "test would only say that new values appear",
    )


def _numeric_input(table: Table, names: Sequence[str]) -> np.ndarray | list[np.ndarray]:
    """The named numeric columns for :func:`~shiftguard.stats.ks.presort`: the input array
    itself when it was one, else the list of columns (never a stacked copy)."""
    if table.numeric_block is not None and tuple(names) == table.names:
        return table.numeric_block
    return [table[n].values for n in names]


def _sorted_reference(table: Table, names: Sequence[str], sorted_cols: Any) -> Table:
    """``table`` with its named numeric columns replaced by views of their sorted copy.

    The fitted reference keeps one copy of its numeric data, not two: every use after
    ``fit`` is of the distribution (counts, observed values), never of rows, which are all
    drawn in ``fit`` (the joint test's and the localisation's samples).
    """
    position = {n: j for j, n in enumerate(names)}
    columns = tuple(
        dataclasses.replace(c, values=sorted_cols.values[:, position[c.name]], raw=None)
        if c.name in position else c
        for c in table.columns
    )
    return Table(columns=columns, n_rows=table.n_rows)
