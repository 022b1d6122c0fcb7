"""Outlier decisions on tables: which rows of a new table are unlike a reference table.

:func:`outliers` reads both tables through :func:`shiftguard.io.read_table`, turns the
columns it can score into one numeric matrix, and runs an :class:`OutlierDetector`: a
detector fitted on part of the reference, conformal p-values from the rest, then a per-row
level ``alpha`` or Benjamini-Hochberg at false discovery rate ``fdr`` across the new rows.
The result names, for each flagged row, the features that contribute most to its score.

Encoding (learned on the training part of the reference only, see "Guarantee"):

- numeric columns are scored; missing values become the training median (counted in the
  notes);
- categorical columns are one-hot encoded with the training part's categories (missing is
  a category of its own), plus one ``"(other)"`` indicator for a category the training part
  never saw; columns with more than :data:`MAX_CATEGORIES` categories are left out;
- datetime columns are left out (new data are later by construction: every new row would
  be unusual in time), and so are text and identifier columns, with a note each;
- every feature is then standardised by the training part's mean and standard deviation,
  so that no detector depends on the units (ECOD and isolation forests do not anyway).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from shiftguard._result import ResultMixin, to_jsonable
from shiftguard._validation import check_positive_int
from shiftguard.errors import InputError, ParameterError
from shiftguard.ood.calibrate import OutlierDetector, conditional_bounds

__all__ = [
    "DETECTORS",
    "MAX_CATEGORIES",
    "ExcludedColumn",
    "FeatureContribution",
    "FlaggedRow",
    "OutlierReport",
    "make_detector",
    "outliers",
]

#: Names accepted by ``outliers(detector=...)`` and ``shiftguard outliers --detector``.
DETECTORS = ("ecod", "copod", "mahalanobis", "knn", "eif", "iforest")
#: Categorical columns with more categories than this (in the training part) are left out:
#: one indicator per category would swamp the other features.
MAX_CATEGORIES = 50
#: Default false discovery rate when neither ``alpha`` nor ``fdr`` is given.
DEFAULT_FDR = 0.1

_OTHER = "(other)"
_MISSING = "(missing)"
_ARRAY_FIELDS = ("scores", "pvalues", "calibration_scores")


@dataclasses.dataclass(frozen=True)
class FeatureContribution(ResultMixin):
    """One feature's part of a row's score: its name (``column`` or ``column=category``),
    the row's value there (the imputed one when missing; 0/1 for an indicator) and its
    contribution (ECOD/COPOD: ``-log`` tail probability; Mahalanobis: squared whitened
    coordinate; both sum to the score over all features)."""

    name: str
    value: float
    contribution: float


@dataclasses.dataclass(frozen=True)
class FlaggedRow(ResultMixin):
    """A flagged row of the new table: its 0-based position, score, p-value and the
    features contributing most to the score (empty for detectors without contributions)."""

    row: int
    score: float
    pvalue: float
    top_features: tuple[FeatureContribution, ...]


@dataclasses.dataclass(frozen=True)
class ExcludedColumn(ResultMixin):
    """A column that was not scored, its kind and why."""

    name: str
    kind: str
    reason: str


@dataclasses.dataclass(frozen=True)
class OutlierReport(ResultMixin):
    """Which rows of the new table are outliers with respect to the reference.

    Attributes
    ----------
    detector
        The detector's name (one of :data:`DETECTORS`, or the class name).
    method, alpha, fdr, conditional, delta
        The decision rule: ``"threshold"`` at per-row level ``alpha``, or ``"bh"`` at false
        discovery rate ``fdr``; whether p-values are calibration-conditional (failing with
        probability ``delta``).
    n_reference, n_train, n_calibration, n_new
        Rows of the reference, of its training and calibration parts, of the new table.
    threshold_pvalue
        Rows with p-value ``<=`` this are flagged.
    score_cutoff
        The same rule in scores: rows scoring strictly above it are flagged (``inf`` when
        no row can be).
    features
        Names of the scored features, in matrix order.
    flagged
        The flagged rows, smallest p-value (then highest score) first.
    excluded, notes
        Columns not scored and why; what else a reader should know (imputation...).
    scores, pvalues
        ``(n_new,)`` score and p-value of every new row.
    calibration_scores
        Sorted scores of the calibration rows.
    """

    detector: str
    method: str
    alpha: float | None
    fdr: float | None
    conditional: bool
    delta: float
    n_reference: int
    n_train: int
    n_calibration: int
    n_new: int
    threshold_pvalue: float
    score_cutoff: float
    features: tuple[str, ...]
    flagged: tuple[FlaggedRow, ...]
    excluded: tuple[ExcludedColumn, ...]
    notes: tuple[str, ...]
    scores: np.ndarray = dataclasses.field(repr=False)
    pvalues: np.ndarray = dataclasses.field(repr=False)
    calibration_scores: np.ndarray = dataclasses.field(repr=False)

    @property
    def n_flagged(self) -> int:
        return len(self.flagged)

    @property
    def outliers_found(self) -> bool:
        return bool(self.flagged)

    def to_dict(self, *, arrays: bool = False) -> dict[str, Any]:
        """JSON-ready dictionary; the per-row ``scores``, ``pvalues`` and
        ``calibration_scores`` only with ``arrays=True`` (they grow with the data)."""
        out = {f.name: to_jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)
               if arrays or f.name not in _ARRAY_FIELDS}
        out["n_flagged"] = self.n_flagged
        return out

    def guarantee(self) -> str:
        """The decision rule and its guarantee in one sentence."""
        given = (f" given the calibration set, except with probability {self.delta:g} over "
                 "its draw" if self.conditional else "")
        if self.method == "threshold":
            return (f"Each row whose conformal p-value is <= {self.alpha:g} is flagged: an "
                    f"inlier (a row drawn like the reference rows) is flagged with "
                    f"probability at most {self.alpha:g}{given}.")
        return (f"Rows are flagged by the Benjamini-Hochberg procedure on their conformal "
                f"p-values: on average at most {self.fdr:.0%} of the flagged rows are "
                f"inliers (rows drawn like the reference rows){given}.")


def make_detector(name: str, seed: int | None = 0) -> Any:
    """An unfitted detector by name (:data:`DETECTORS`), with defaults suited to tables.

    ``knn`` is :class:`~shiftguard.ood.KNNDistance` without row normalisation (the
    features are standardised instead); ``eif`` and ``iforest`` take ``seed``.
    """
    from shiftguard.ood.ecod import COPOD, ECOD
    from shiftguard.ood.forest import ExtendedIsolationForest, isolation_forest
    from shiftguard.ood.knn import KNNDistance
    from shiftguard.ood.mahalanobis import Mahalanobis

    makers = {
        "ecod": ECOD, "copod": COPOD, "mahalanobis": Mahalanobis,
        "knn": lambda: KNNDistance(normalize=False),
        "eif": lambda: ExtendedIsolationForest(seed=seed),
        "iforest": lambda: isolation_forest(seed=seed),
    }
    if name not in makers:
        raise ParameterError(f"unknown detector {name!r}; use one of {', '.join(DETECTORS)}")
    return makers[name]()


def outliers(
    reference: Any,
    new: Any,
    *,
    detector: Any = "ecod",
    alpha: float | None = None,
    fdr: float | None = None,
    calibration_size: float = 0.3,
    conditional: bool = False,
    delta: float = 0.1,
    seed: int = 0,
    top_features: int = 3,
) -> OutlierReport:
    """Flag the rows of ``new`` that are unlike the rows of ``reference``, with a guarantee.

    Parameters
    ----------
    reference, new
        Tables in any form :func:`shiftguard.io.read_table` accepts (file path, data frame,
        array, :class:`~shiftguard.io.Table`), with the same columns.
    detector
        A name in :data:`DETECTORS` (default ``"ecod"``: nothing to tune, fitted once, and
        it explains each score by feature) or an unfitted detector object. ECOD's
        per-feature term saturates at ``log(n_train + 1)`` beyond the training range, so a
        row far out in a single feature can score like a row just past the range in it;
        ``"mahalanobis"`` grows with the distance.
    alpha, fdr
        Per-row false-positive rate, or false discovery rate over the new rows (BH); at
        most one. Neither: ``fdr=0.1``.
    calibration_size
        Share (float) or number (int) of reference rows held out for calibration.
    conditional, delta
        Calibration-conditional p-values (Bates et al. 2023), failing with probability
        ``delta``.
    seed
        Seed of the training/calibration split (and of randomised detectors named here).
    top_features
        How many features to list per flagged row (0: none).

    Guarantee
    ---------
    The detector, the imputation medians, the categories and the standardisation are all
    learned from the training part of the reference alone, so the calibration rows and new
    rows are scored by one fixed function. If the reference rows and the new inlier rows
    are exchangeable (drawn alike), the guarantee of :class:`OutlierDetector` holds: with
    ``alpha``, each inlier row is flagged with probability ``<= alpha``; with ``fdr``, the
    expected share of inliers among flagged rows is ``<= fdr``.

    Raises
    ------
    InputError
        The tables' columns differ, no column can be scored, or the calibration part is too
        small for the level (the message says how many rows are needed).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> ref = {"a": rng.normal(size=400), "b": rng.normal(size=400)}
    >>> new = {"a": [0.1, -0.3, 8.0], "b": [0.2, 0.5, -9.0]}
    >>> report = outliers(ref, new, alpha=0.01)
    >>> [r.row for r in report.flagged], report.n_calibration
    ([2], 120)
    >>> sorted(f.name for f in report.flagged[0].top_features)
    ['a', 'b']
    """
    from shiftguard.io import check_schema, read_table

    top_features = check_positive_int(top_features, "top_features", minimum=0)
    if alpha is None and fdr is None:
        fdr = DEFAULT_FDR
    name = detector if isinstance(detector, str) else type(detector).__name__
    base = make_detector(detector, seed) if isinstance(detector, str) else detector
    model = OutlierDetector(base, alpha=alpha, fdr=fdr, calibration_size=calibration_size,
                            conditional=conditional, delta=delta, seed=seed)
    ref = read_table(reference, label="reference")
    cur = read_table(new, label="new")
    check_schema(ref, cur, check_kinds=False)
    retype = {c.name: ref[c.name].kind for c in cur.columns if c.kind != ref[c.name].kind}
    if retype:
        cur = read_table(cur, kinds=retype, label="new")
    train, calibration = model.split_indices(ref.n_rows)
    encoder = _Encoder.learn(ref, train)
    X_train, X_cal, X_new = (encoder.transform(t, rows) for t, rows in (
        (ref, train), (ref, calibration), (cur, None)))
    model.fit(X_train, X_calibration=X_cal)
    result = model.predict(X_new)
    cutoff = _score_cutoff(model.calibration_scores_, result.threshold_pvalue,
                           conditional, delta)
    rows = np.flatnonzero(result.flagged)
    rows = rows[np.lexsort((-result.scores[rows], result.pvalues[rows]))]
    tops = _top_features(model.detector_, X_new[rows], encoder, cur, rows, top_features)
    notes = [*encoder.notes, *encoder.imputed_notes({"reference": ref, "new": cur})]
    if result.method != "threshold":
        floor = math.ceil(cur.n_rows / (result.fdr * (result.n_calibration + 1)) - 1e-9)
        notes.append(f"with {result.n_calibration} calibration rows the smallest p-value is "
                     f"1/{result.n_calibration + 1}: Benjamini-Hochberg across {cur.n_rows} "
                     f"new rows flags rows only when at least {floor} of them reach it (fewer "
                     "outliers need more calibration rows, or a per-row alpha)")
    if top_features and rows.size and not hasattr(model.detector_, "contributions"):
        notes.append(f"the {name} detector does not split its score by feature: use ecod, "
                     "copod or mahalanobis for per-feature contributions")
    return OutlierReport(
        detector=name, method=result.method, alpha=result.alpha, fdr=result.fdr,
        conditional=result.conditional, delta=float(delta), n_reference=ref.n_rows,
        n_train=int(train.size), n_calibration=result.n_calibration, n_new=cur.n_rows,
        threshold_pvalue=result.threshold_pvalue, score_cutoff=cutoff,
        features=encoder.features,
        flagged=tuple(FlaggedRow(int(r), float(result.scores[r]), float(result.pvalues[r]), t)
                      for r, t in zip(rows.tolist(), tops, strict=True)),
        excluded=encoder.excluded, notes=tuple(notes),
        scores=result.scores, pvalues=result.pvalues,
        calibration_scores=model.calibration_scores_,
    )


def _score_cutoff(sorted_cal: np.ndarray, threshold: float, conditional: bool,
                  delta: float) -> float:
    """The score above which a row's p-value is ``<= threshold``.

    A row with ``c`` calibration scores at or above its own has p-value ``P(c)``,
    non-decreasing in ``c``; it is flagged iff ``c <= c*``, the largest ``c`` with
    ``P(c) <= threshold``, i.e. iff it scores strictly above the ``(c* + 1)``-th largest
    calibration score.
    """
    n = sorted_cal.shape[0]
    by_count = (conditional_bounds(n, delta) if conditional
                else (1.0 + np.arange(n + 1)) / (n + 1.0))
    c_star = int(np.searchsorted(by_count, threshold, side="right")) - 1
    if c_star < 0:
        return float("inf")
    return float(sorted_cal[n - 1 - c_star]) if c_star < n else float("-inf")


def _top_features(detector: Any, X: np.ndarray, encoder: _Encoder, table: Any,
                  rows: np.ndarray, k: int) -> list[tuple[FeatureContribution, ...]]:
    if not k or not rows.size or not hasattr(detector, "contributions"):
        return [()] * rows.size
    parts = np.asarray(detector.contributions(X), dtype=np.float64)
    k = min(k, parts.shape[1])
    order = np.argsort(-parts, axis=1, kind="stable")[:, :k]
    values = encoder.raw_values(table, rows)
    return [tuple(FeatureContribution(encoder.features[j], float(values[i, j]),
                                      float(parts[i, j])) for j in order[i])
            for i in range(rows.size)]


@dataclasses.dataclass(frozen=True)
class _Encoder:
    """Table -> standardised matrix, learned on the training rows of the reference."""

    numeric: tuple[tuple[str, float], ...]  # column, training median
    categorical: tuple[tuple[str, tuple[str, ...]], ...]  # column, training categories
    mean: np.ndarray
    scale: np.ndarray
    features: tuple[str, ...]
    excluded: tuple[ExcludedColumn, ...]
    notes: tuple[str, ...]

    @classmethod
    def learn(cls, table: Any, rows: np.ndarray) -> _Encoder:
        numeric, categorical, excluded = [], [], []
        for col in table.columns:
            if col.kind == "numeric":
                values = col.values[rows]
                observed = values[~np.isnan(values)]
                if observed.size:
                    numeric.append((col.name, float(np.median(observed))))
                else:
                    excluded.append(ExcludedColumn(col.name, col.kind, "no observed value in "
                                                   "the training part of the reference"))
            elif col.kind == "categorical":
                labels = np.unique(_labels(col, rows))
                if labels.size > MAX_CATEGORIES:
                    excluded.append(ExcludedColumn(
                        col.name, col.kind, f"{labels.size} categories (more than "
                        f"{MAX_CATEGORIES}) in the training part of the reference"))
                else:
                    categorical.append((col.name, tuple(labels.tolist())))
            else:
                reason = ("new rows are later in time by construction" if col.kind == "datetime"
                          else "only numeric and categorical columns are scored")
                excluded.append(ExcludedColumn(col.name, col.kind, reason))
        if not numeric and not categorical:
            raise InputError("no column can be scored: it needs a numeric column with observed "
                             "values or a categorical one (excluded: "
                             + ", ".join(f"{e.name!r} ({e.reason})" for e in excluded) + ")",
                             None)
        features = [name for name, _ in numeric] + [
            f"{name}={label}" for name, labels in categorical for label in (*labels, _OTHER)]
        partial = cls(tuple(numeric), tuple(categorical), np.zeros(len(features)),
                      np.ones(len(features)), tuple(features), tuple(excluded), ())
        raw = partial.raw_values(table, rows)
        mean, sd = raw.mean(axis=0), raw.std(axis=0)
        notes = tuple(f"categorical column {name!r} is one-hot encoded ({len(labels)} "
                      f"categories of the reference's training part, plus {_OTHER!r})"
                      for name, labels in categorical)
        # A constant column's sd is rounding noise (1e-17): leave such columns unscaled.
        constant = sd <= 1e-9 * np.maximum(np.abs(mean), 1.0)
        return dataclasses.replace(partial, mean=mean, scale=np.where(constant, 1.0, sd),
                                   notes=notes)

    def raw_values(self, table: Any, rows: np.ndarray | None) -> np.ndarray:
        """Encoded, imputed, not standardised features of ``rows`` (all when ``None``)."""
        n = table.n_rows if rows is None else rows.size
        out = np.empty((n, len(self.features)))
        for j, (name, median) in enumerate(self.numeric):
            values = table[name].values
            values = values if rows is None else values[rows]
            out[:, j] = np.where(np.isnan(values), median, values)
        j = len(self.numeric)
        for name, labels in self.categorical:
            found = _labels(table[name], rows)
            sorted_labels = np.asarray(labels, dtype=object)
            position = np.searchsorted(sorted_labels, found)
            known = position < len(labels)
            known[known] = sorted_labels[position[known]] == found[known]
            block = np.zeros((n, len(labels) + 1))
            block[np.arange(n), np.where(known, position, len(labels))] = 1.0
            out[:, j:j + len(labels) + 1] = block
            j += len(labels) + 1
        return out

    def transform(self, table: Any, rows: np.ndarray | None) -> np.ndarray:
        return (self.raw_values(table, rows) - self.mean) / self.scale

    def imputed_notes(self, tables: dict[str, Any]) -> list[str]:
        """How many missing numeric values were imputed, per table and column."""
        out = []
        for name, median in self.numeric:
            for label, table in tables.items():
                count = int(np.count_nonzero(np.isnan(table[name].values)))
                if count:
                    out.append(f"{count} missing value(s) of {name!r} in the {label} table "
                               f"were set to the training part's median {median:.4g}")
        return out


def _labels(col: Any, rows: np.ndarray | None) -> np.ndarray:
    """Category labels of a categorical column as an object array, missing as its own."""
    codes = col.values if rows is None else col.values[rows]
    names = np.asarray((*col.categories, _MISSING), dtype=object)
    return names[np.where(codes < 0, len(col.categories), codes)]
