"""A model's estimated performance chunk by chunk (month by month, batch by batch).

:func:`performance_over_time` fits one
:class:`~shiftguard.shift.performance.PerformanceEstimator` per method on one labelled
reference, estimates every metric on every chunk of current rows with it, and sets each
estimate beside the metric realised on the chunk when its labels are known. It adds no
statistics of its own: the estimates, their intervals and their assumptions are those of
``PerformanceEstimator`` (and so of ``estimate_performance``); what it adds is the
bookkeeping and an optional Bonferroni correction over the chunks.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from shiftguard._result import ResultMixin
from shiftguard._validation import as_float_array, as_rng, check_alpha
from shiftguard.errors import InputError, ParameterError
from shiftguard.shift._performance_methods import realised_metric as _realised
from shiftguard.shift.label_shift import as_probabilities
from shiftguard.shift.performance import (
    ASSUMPTIONS,
    CLASSIFICATION_METRICS,
    METHODS,
    REGRESSION_METRICS,
    PerformanceEstimator,
)

#: Methods that estimate accuracy only; other metrics skip them (listed in ``skipped``).
ACCURACY_ONLY = ("atc", "doc")
#: Methods that need the features of the reference and of every chunk.
FEATURE_METHODS = ("importance_weighted", "dle")


@dataclasses.dataclass(frozen=True)
class ChunkPerformance(ResultMixin):
    """One metric of one chunk by one method.

    Attributes
    ----------
    chunk, metric, method
        Which chunk, what and how.
    estimate, lower, upper, standard_error
        :class:`~shiftguard.shift.performance.PerformanceEstimate`'s estimate and interval
        (at the timeline's ``interval_alpha``).
    realised
        The metric measured on the chunk's labels; NaN when they are not given (or the
        metric is undefined on them, e.g. ROC AUC of a chunk holding one class).
    n_rows
        Rows in the chunk.
    reference_value
        The metric realised on the labelled reference rows.
    """

    chunk: str
    metric: str
    method: str
    estimate: float
    lower: float
    upper: float
    standard_error: float
    realised: float
    n_rows: int
    reference_value: float

    @property
    def covered(self) -> bool | None:
        """Whether the interval holds the realised value (``None`` without labels)."""
        if math.isnan(self.realised):
            return None
        return self.lower <= self.realised <= self.upper

    @property
    def dropped(self) -> bool:
        """Whether the whole interval lies below the reference value (a significant drop
        of a higher-is-better metric; for ``mae``/``mse``, lower is better and a rise
        counts)."""
        if self.metric in REGRESSION_METRICS:
            return self.lower > self.reference_value
        return self.upper < self.reference_value


@dataclasses.dataclass(frozen=True)
class PerformanceTimeline(ResultMixin):
    """Estimated (and, with labels, realised) performance per chunk, metric and method.

    Attributes
    ----------
    chunks, metrics, methods
        The chunk names in order, the metrics and the methods.
    rows
        One :class:`ChunkPerformance` per chunk x metric x method that applies, chunks
        outermost.
    reference_values
        Each metric realised on the reference rows.
    assumptions
        The assumption under which each method's estimate is right.
    alpha
        Requested miscoverage.
    simultaneous
        Whether the intervals were widened (Bonferroni over the chunks) so that, for each
        metric and method, all chunks' intervals cover at once with probability about
        ``1 - alpha``.
    interval_alpha
        Miscoverage of each single interval: ``alpha``, or ``alpha / len(chunks)`` when
        simultaneous.
    skipped
        Method and metric pairs left out, and why.
    """

    chunks: tuple[str, ...]
    metrics: tuple[str, ...]
    methods: tuple[str, ...]
    rows: tuple[ChunkPerformance, ...]
    reference_values: dict[str, float]
    assumptions: dict[str, str]
    alpha: float
    simultaneous: bool
    interval_alpha: float
    skipped: tuple[str, ...] = ()

    def series(self, metric: str, method: str) -> tuple[ChunkPerformance, ...]:
        """The rows of one metric and method, in chunk order."""
        return tuple(r for r in self.rows if r.metric == metric and r.method == method)

    @property
    def drops(self) -> tuple[ChunkPerformance, ...]:
        """Rows whose interval lies wholly on the worse side of the reference value."""
        return tuple(r for r in self.rows if r.dropped)

    def summary(self) -> tuple[dict[str, Any], ...]:
        """Per metric and method, over the chunks with labels: mean absolute error of the
        estimate against the realised value, and the share of intervals holding it."""
        out = []
        for metric in self.metrics:
            for method in self.methods:
                rows = [r for r in self.series(metric, method) if r.covered is not None]
                if not rows:
                    continue
                err = np.array([r.estimate - r.realised for r in rows])
                out.append({"metric": metric, "method": method, "n_chunks": len(rows),
                            "mean_absolute_error": float(np.abs(err).mean()),
                            "coverage": float(np.mean([bool(r.covered) for r in rows]))})
        return tuple(out)


def _named(values: Any, name: str) -> dict[str, Any]:
    """Chunks as an ordered mapping of name to value (a sequence is named 0, 1, ...)."""
    if isinstance(values, Mapping):
        return {str(k): v for k, v in values.items()}
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise ParameterError(f"{name} must be a list of chunks or a mapping of chunk name to "
                             f"chunk; got {type(values).__name__}")
    return {str(i): v for i, v in enumerate(values)}


def _matching(values: Any, names: list[str], name: str) -> dict[str, Any]:
    """``values`` (``None``, a list or a mapping) aligned to the chunk names."""
    if values is None:
        return dict.fromkeys(names)
    chunks = _named(values, name)
    if list(chunks) != names:
        raise InputError(f"must name the same chunks in the same order as chunks_outputs "
                         f"({names[:5]}...); got {list(chunks)[:5]}", name)
    return chunks


def realised_metric(metric: str, outputs: Any, y: Any, name: str = "chunks_y") -> float:
    """The metric measured on labelled rows, defined as ``estimate_performance`` defines it
    (prediction = most probable class; binary precision, recall, F1 and AUC of class 1,
    multiclass macro averages). NaN when undefined on these rows (a zero denominator, or
    ROC AUC with one class)."""
    if metric in REGRESSION_METRICS:
        pred = as_float_array(outputs, "outputs")
        err = as_float_array(y, name) - pred
        return float(np.mean(np.abs(err) if metric == "mae" else np.square(err)))
    p = as_probabilities(outputs, "outputs")
    k = p.shape[1]
    labels = np.asarray(y)
    if labels.ndim != 1 or labels.shape[0] != p.shape[0]:
        raise InputError(f"expected {p.shape[0]} class labels, got shape {labels.shape}", name)
    if labels.dtype.kind == "b":
        labels = labels.astype(np.intp)
    if labels.dtype.kind == "f" and np.all(labels == np.round(labels)):
        labels = labels.astype(np.intp)
    if labels.dtype.kind not in "iu" or labels.min() < 0 or labels.max() >= k:
        raise InputError(f"expected class indices 0..{k - 1}, as the model's outputs have "
                         f"{k} classes", name)
    return _realised(metric, labels.astype(np.intp), p.argmax(1), p)


def performance_over_time(
    outputs_ref: Any,
    y_ref: Any,
    chunks_outputs: Sequence[Any] | Mapping[str, Any],
    chunks_y: Sequence[Any] | Mapping[str, Any] | None = None,
    *,
    X_ref: Any = None,
    chunks_X: Sequence[Any] | Mapping[str, Any] | None = None,
    metrics: Sequence[str] = ("accuracy", "roc_auc"),
    methods: Sequence[str] | None = None,
    alpha: float = 0.05,
    simultaneous: bool = False,
    seed: int | np.random.Generator | None = 0,
    **options: Any,
) -> PerformanceTimeline:
    """Estimate a model's performance on each chunk of current rows, without their labels.

    Parameters
    ----------
    outputs_ref, y_ref
        The model's outputs on labelled reference rows (held out from its training) and
        their labels, as :func:`~shiftguard.shift.performance.estimate_performance` takes
        them.
    chunks_outputs
        The model's outputs on each chunk: a list, or a mapping of chunk name (a month,
        say) to outputs, in time order.
    chunks_y
        Labels of each chunk, for the realised values (``None``, or ``None`` for a chunk
        whose labels have not arrived).
    X_ref, chunks_X
        Features of the reference and of each chunk, for ``importance_weighted`` and
        ``dle``.
    metrics
        Metrics to estimate (``estimate_performance``'s ``metric``).
    methods
        Methods to run; default ``cbpe`` and ``atc``, plus ``importance_weighted`` when
        features are given. ``atc`` and ``doc`` estimate accuracy only and are skipped
        for other metrics (listed in ``skipped``).
    alpha
        Miscoverage of the intervals.
    simultaneous
        Bonferroni over the chunks: each interval at ``alpha / n_chunks``.
    seed
        Randomness of the bootstraps (one generator that each method's estimator is
        fitted from in turn, so the same input and seed give the same timeline).
    **options
        Passed on to :class:`~shiftguard.shift.performance.PerformanceEstimator`
        (``calibration``, ``n_bootstrap``, ``density_ratio``, ``prior_method``, ...), which
        is fitted once per method and estimates all metrics of a chunk in one pass.

    Guarantee
    ---------
    That of ``PerformanceEstimator`` for each row: under the method's assumption
    (``assumptions[method]``) each interval covers the metric realised on its chunk with
    probability tending to ``1 - interval_alpha``. Without ``simultaneous``, out of many
    chunks about ``alpha`` of the intervals miss even when every assumption holds; with
    it, by the union bound, all chunks' intervals of one metric and method cover at once
    with probability at least about ``1 - alpha`` (checked by simulation under covariate
    shift in ``tests/shift/test_timeline.py``). A realised value outside its interval is
    evidence that the method's assumption fails on that chunk (e.g. the relation between
    features and label changed), not only of a performance change.

    References
    ----------
    See :func:`~shiftguard.shift.performance.estimate_performance`.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> p_ref = rng.uniform(size=400); y_ref = (rng.uniform(size=400) < p_ref).astype(int)
    >>> chunks = {"jan": rng.uniform(size=300), "feb": rng.uniform(0.3, 1.0, size=300)}
    >>> tl = performance_over_time(p_ref, y_ref, chunks, metrics=("accuracy",),
    ...                            methods=("cbpe",), calibration="none", n_bootstrap=50)
    >>> tl.chunks, len(tl.rows)
    (('jan', 'feb'), 2)
    """
    alpha = check_alpha(alpha)
    outputs = _named(chunks_outputs, "chunks_outputs")
    if not outputs:
        raise InputError("no chunks given", "chunks_outputs")
    names = list(outputs)
    labels = _matching(chunks_y, names, "chunks_y")
    features = _matching(chunks_X, names, "chunks_X")
    has_features = X_ref is not None and chunks_X is not None
    if methods is None:
        methods = ("cbpe", "atc", "importance_weighted") if has_features else ("cbpe", "atc")
    methods, metrics = tuple(methods), tuple(metrics)
    if not methods or not metrics:
        raise ParameterError("needs at least one metric and one method")
    for method in methods:
        if method not in METHODS:
            raise ParameterError(f"methods: unknown method {method!r}; choose from {METHODS}")
        if method in FEATURE_METHODS and not has_features:
            raise ParameterError(f"method {method!r} needs the features X_ref and chunks_X")
    for metric in metrics:
        if metric not in (*CLASSIFICATION_METRICS, *REGRESSION_METRICS):
            raise ParameterError(f"metrics: unknown metric {metric!r}")
    interval_alpha = alpha / len(names) if simultaneous else alpha
    rng = as_rng(seed)
    skipped, reference_values = [], {}
    pairs = [(metric, method) for metric in metrics for method in methods]
    for metric, method in pairs:
        if method in ACCURACY_ONLY and metric != "accuracy":
            skipped.append(f"{method} / {metric}: {method} estimates accuracy only")
    pairs = [(m, k) for m, k in pairs if not (k in ACCURACY_ONLY and m != "accuracy")]
    estimators = {}
    for method in dict.fromkeys(k for _, k in pairs):
        estimators[method] = PerformanceEstimator(
            method, tuple(m for m, k in pairs if k == method), alpha=interval_alpha,
            seed=rng, **options).fit(outputs_ref, y_ref, X_ref)
        reference_values.update(estimators[method].reference_values_)
    rows = []
    for name in names:
        by_pair = {}
        for method, estimator in estimators.items():
            for est in estimator.estimate(outputs[name], features[name]):
                by_pair[(est.metric, method)] = est
        for metric, method in pairs:
            est = by_pair[(metric, method)]
            realised = (math.nan if labels[name] is None else
                        realised_metric(metric, outputs[name], labels[name],
                                        f"chunks_y[{name!r}]"))
            rows.append(ChunkPerformance(
                chunk=name, metric=metric, method=method, estimate=est.estimate,
                lower=est.lower, upper=est.upper, standard_error=est.standard_error,
                realised=realised, n_rows=est.n_cur, reference_value=est.reference_value))
    used = tuple(k for k in methods if any(r.method == k for r in rows))
    return PerformanceTimeline(
        chunks=tuple(names), metrics=metrics, methods=used, rows=tuple(rows),
        reference_values=reference_values, assumptions={k: ASSUMPTIONS[k] for k in used},
        alpha=alpha, simultaneous=bool(simultaneous), interval_alpha=interval_alpha,
        skipped=tuple(skipped))
