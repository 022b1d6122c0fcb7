"""Performance over time from tables that already hold a model's outputs.

:func:`timeline_from_tables` is what ``shiftguard performance`` runs: it reads the label,
prediction and probability columns of a reference and a current table (files, DataFrames,
:class:`~shiftguard.io.Table`), splits the current rows into chunks by a column, checks
that the columns agree with each other, and calls
:func:`~shiftguard.shift.timeline.performance_over_time`. No model is needed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from shiftguard.errors import InputError, ParameterError
from shiftguard.io import Table, read_table
from shiftguard.shift.timeline import ACCURACY_ONLY, PerformanceTimeline, performance_over_time

#: Methods that need only the model's outputs (no features).
OUTPUT_METHODS = ("cbpe", "atc", "doc", "label_shift")


def _canonical(labels: Sequence[str]) -> list[str]:
    """Labels that are numbers in one spelling (``1``, ``1.0`` -> ``1``), so a float target
    column and an integer prediction column name the same classes."""
    out = []
    for label in labels:
        try:
            out.append(format(float(label), "g"))
        except ValueError:
            out.append(label)
    return out


def _natural_order(labels: set[str]) -> list[str]:
    try:
        return sorted(labels, key=float)
    except ValueError:
        return sorted(labels)


def _labels(table: Table, name: str, label: str) -> np.ndarray:
    """A categorical column as an object array of canonical labels (``None`` if missing)."""
    column = table[name]
    names = np.array(_canonical(column.categories) + [None], dtype=object)
    return names[np.where(column.values < 0, len(names) - 1, column.values)]


def _read(source: Any, label: str, needed: dict[str, str], optional: dict[str, str],
          options: dict[str, Any]) -> Table:
    table = source if isinstance(source, Table) else read_table(source, label=label,
                                                                **options)
    missing = [c for c in needed if c not in table.names]
    if missing:
        raise InputError(f"{label} has no column(s) {missing}; it has {list(table.names)}",
                         missing[0])
    kinds = {**needed, **{c: k for c, k in optional.items() if c in table.names}}
    kinds = {c: k for c, k in kinds.items() if k}
    columns = [c for c in (*needed, *optional) if c in table.names]
    return read_table(table, kinds=kinds, columns=list(dict.fromkeys(columns)), label=label)


def _probabilities(table: Table, label: str, proba: Sequence[str], pred: np.ndarray,
                   classes: list[str], prediction: str) -> np.ndarray:
    """``(n, K)`` class probabilities: the ``proba`` columns, or one-hot predictions."""
    k = len(classes)
    index = {c: i for i, c in enumerate(classes)}
    pred_idx = np.array([index[p] for p in pred], dtype=np.intp)
    if not proba:
        return np.eye(k)[pred_idx]
    cols = []
    for name in proba:
        values = table[name].values
        if table[name].kind != "numeric" or np.isnan(values).any():
            raise InputError(f"{label}: probability column has missing or non-numeric "
                             "values", name)
        cols.append(values)
    if len(proba) == 1:
        if k != 2:
            raise ParameterError(f"one --proba column is the probability of the positive "
                                 f"class of a binary model, but there are {k} classes "
                                 f"{classes}; give one column per class")
        p = np.column_stack([1.0 - cols[0], cols[0]])
    elif len(proba) != k:
        raise ParameterError(f"{len(proba)} --proba columns for {k} classes {classes}; give "
                             "one per class, in the order of --classes")
    else:
        p = np.column_stack(cols)
    top = p.max(axis=1)
    disagree = (p[np.arange(p.shape[0]), pred_idx] < top - 1e-12)
    if disagree.any():
        row = int(np.argmax(disagree))
        raise InputError(
            f"{label}: the prediction is not the most probable class of the probability "
            f"columns in {int(disagree.sum())} of {p.shape[0]} rows (first: row {row}, "
            f"prediction {pred[row]!r}); the estimates assume it is. Check the order of "
            "--classes and --proba", prediction)
    return p


def _chunks(table: Table, chunk_by: str | None) -> list[tuple[str, np.ndarray]]:
    """(name, row indices) of each chunk, in the order of the column's values."""
    n = table.n_rows
    if chunk_by is None:
        return [("all", np.arange(n))]
    column = table[chunk_by]
    if column.kind == "categorical":
        codes = column.values
        if (codes < 0).any():
            raise InputError(f"current: {int((codes < 0).sum())} rows have no chunk value; "
                             "fill or drop them", chunk_by)
        labels = list(column.categories)
        order = _natural_order(set(labels[c] for c in np.unique(codes)))
        position = {lab: i for i, lab in enumerate(labels)}
        return [(lab, np.flatnonzero(codes == position[lab])) for lab in order]
    if column.kind in ("text", "identifier"):
        values = column.values
        if np.equal(values, None).any():
            raise InputError(f"current: {int(np.equal(values, None).sum())} rows have no "
                             "chunk value; fill or drop them", chunk_by)
        unique, inverse = np.unique(values.astype(str), return_inverse=True)
        order = _natural_order(set(unique.tolist()))
        position = {lab: i for i, lab in enumerate(unique.tolist())}
        return [(lab, np.flatnonzero(inverse == position[lab])) for lab in order]
    values = column.values
    if np.isnan(values).any():
        raise InputError(f"current: {int(np.isnan(values).sum())} rows have no chunk value; "
                         "fill or drop them", chunk_by)
    if column.kind == "datetime":
        from shiftguard.report._format import fmt_date

        def name(v: float) -> str:
            return fmt_date(v)
    else:
        def name(v: float) -> str:
            return format(v, "g")
    unique, inverse = np.unique(values, return_inverse=True)
    return [(name(float(v)), np.flatnonzero(inverse == i)) for i, v in enumerate(unique)]


def timeline_from_tables(
    reference: Any,
    current: Any,
    *,
    target: str,
    prediction: str,
    proba: Sequence[str] = (),
    chunk_by: str | None = None,
    classes: Sequence[str] | None = None,
    metrics: Sequence[str] = ("accuracy", "roc_auc"),
    methods: Sequence[str] = ("cbpe",),
    alpha: float = 0.05,
    read_options: dict[str, Any] | None = None,
    **options: Any,
) -> PerformanceTimeline:
    """Estimated (and, where ``current`` has the labels, realised) performance per chunk.

    Parameters
    ----------
    reference
        Labelled rows held out from the model's training, with the ``target``, the
        model's ``prediction`` and (optionally) its ``proba`` columns.
    current
        Rows to estimate on: the same output columns; the ``target`` column optional (a
        chunk whose labels are all present gets its realised value).
    target, prediction
        Columns of the true and the predicted class.
    proba
        Probability columns: one per class in the order of ``classes``, or for a binary
        model one column, the probability of the second class. None: the estimates use
        the hard predictions (CBPE then assumes the per-predicted-class accuracy of the
        reference holds).
    chunk_by
        Column of ``current`` whose values name the chunks (a month, a date, a batch id),
        in their natural order; ``None``: one chunk.
    classes
        The class labels in order; default the labels seen in the reference's target and
        prediction, numbers in numeric order, else alphabetical.
    metrics, methods
        As :func:`~shiftguard.shift.timeline.performance_over_time`; methods are those
        needing no features: ``cbpe`` (default), ``label_shift``, and the empirical ``atc``
        and ``doc``, which carry no guarantee, so a drop they show may be a false alarm.
    alpha
        Chance that some interval lies wholly below the reference value although the
        model did not get worse, under each method's assumption: the intervals are
        Bonferroni-corrected over every chunk, metric and method
        (``interval_alpha = alpha / (chunks x metric-method pairs)``).
    read_options
        Passed to :func:`~shiftguard.io.read_table` when reading files.
    **options
        Passed to :class:`~shiftguard.shift.performance.PerformanceEstimator`
        (``calibration``, ``n_bootstrap``, ``seed``), fitted once per method on the
        reference and used for every chunk.

    Guarantee
    ---------
    Under each method's assumption, the probability that any row of the timeline is a
    ``drop`` while the performance on every chunk equals the reference's is at most about
    ``alpha`` (union bound over the intervals of ``PerformanceEstimator``, which hold
    asymptotically; the reference value's own sampling error is not accounted for).

    Raises
    ------
    InputError
        A missing column, a missing label or prediction in the reference, a class in the
        current target or prediction that the reference does not have, probabilities
        that disagree with the prediction, or missing chunk values.
    ParameterError
        A method that needs features, or ``proba`` columns that do not match the classes.
    """
    methods, metrics = tuple(methods), tuple(metrics)
    for method in methods:
        if method not in OUTPUT_METHODS:
            raise ParameterError(f"method {method!r} cannot run on tables of model outputs; "
                                 f"choose from {OUTPUT_METHODS}")
    read_options = read_options or {}
    proba = tuple(proba)
    named = [target, prediction, *proba, *([chunk_by] if chunk_by else [])]
    twice = sorted({c for c in named if named.count(c) > 1})
    if twice:
        raise ParameterError(f"column(s) {twice} named for more than one role (target, "
                             "prediction, probabilities, chunks)")
    needed = {prediction: "categorical", **dict.fromkeys(proba, "numeric")}
    ref = _read(reference, "reference", {target: "categorical", **needed}, {}, read_options)
    cur = _read(current, "current", needed,
                {target: "categorical", **({chunk_by: ""} if chunk_by else {})}, read_options)
    if chunk_by and chunk_by not in cur.names:
        raise InputError(f"current has no column {chunk_by!r} to chunk by", chunk_by)
    y_ref = _labels(ref, target, "reference")
    pred_ref = _labels(ref, prediction, "reference")
    for name, values in ((target, y_ref), (prediction, pred_ref)):
        if np.equal(values, None).any():
            raise InputError(f"reference: {int(np.equal(values, None).sum())} rows have no "
                             "value; the reference must be fully labelled and predicted", name)
    seen = set(y_ref) | set(pred_ref)
    if classes is None:
        classes = _natural_order(seen)
    else:
        classes = _canonical([str(c) for c in classes])
        unknown = sorted(seen - set(classes))
        if unknown or len(set(classes)) != len(classes):
            raise ParameterError(f"--classes {classes} must list each class once, including "
                                 f"{unknown or 'every class'} seen in the reference")
    if len(classes) < 2:
        raise InputError(f"the reference holds one class only ({classes}); performance needs "
                         "at least two", target)
    index = {c: i for i, c in enumerate(classes)}
    pred_cur = _labels(cur, prediction, "current")
    if np.equal(pred_cur, None).any():
        raise InputError(f"current: {int(np.equal(pred_cur, None).sum())} rows have no "
                         "prediction", prediction)
    new = sorted(set(pred_cur) - set(classes))
    if new:
        raise InputError(f"current predicts class(es) {new} that the reference never has",
                         prediction)
    p_ref = _probabilities(ref, "reference", proba, pred_ref, classes, prediction)
    p_cur = _probabilities(cur, "current", proba, pred_cur, classes, prediction)
    y_cur = _labels(cur, target, "current") if target in cur.names else None
    if y_cur is not None:
        new = sorted(set(y_cur[~np.equal(y_cur, None)]) - set(classes))
        if new:
            raise InputError(f"current holds class(es) {new} that the model never saw",
                             target)
    chunks = _chunks(cur, chunk_by)
    outputs, labels = {}, {}
    for name, rows in chunks:
        outputs[name] = p_cur[rows]
        part = None if y_cur is None else y_cur[rows]
        labels[name] = (None if part is None or np.equal(part, None).any()
                        else np.array([index[v] for v in part], dtype=np.intp))
    pairs = sum(1 for m in metrics for k in methods if not (k in ACCURACY_ONLY
                                                             and m != "accuracy"))
    family = max(pairs, 1)
    y_idx = np.array([index[v] for v in y_ref], dtype=np.intp)
    timeline = performance_over_time(p_ref, y_idx, outputs, labels, metrics=metrics,
                                     methods=methods, alpha=alpha / family, simultaneous=True,
                                     **options)
    # Report the family-wise level the user asked for, not the per-pair one.
    return dataclasses.replace(timeline, alpha=alpha)

