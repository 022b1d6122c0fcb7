"""Recalibration maps fitted on labelled held-out data, with scikit-learn conventions.

Every estimator learns in ``fit(X, y)`` (returns ``self``; learned state ends in ``_``)
and maps new model outputs to probabilities with ``predict_proba(X)``, an ``(n, K)``
array (``K = 2`` for binary input). ``X`` is what the model outputs on the held-out rows:

* binary: a 1-D array of scores for class 1 (decision function, logit or probability) or
  an ``(n, 2)`` array, whose second column is used;
* multiclass: an ``(n, K)`` array of scores, one column per class.

``y`` holds class indices ``0..K-1``. The held-out rows must not have been used to train
the model; the guarantees below are about new rows from the same distribution as them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shiftguard._validation import as_float_array
from shiftguard.errors import InputError, NotFittedError
from shiftguard.shift._probabilities import as_class_labels, as_probabilities, logistic_fit
from shiftguard.shift._venn_abers import venn_abers_label_one

_PROB_FLOOR = 1e-12


def _scores(X: Any, name: str = "X") -> np.ndarray:
    """Scores as float64: 1-D for binary input, ``(n, K)`` for multiclass."""
    arr = np.asarray(X)
    s = as_float_array(arr, name, ndim=2 if arr.ndim == 2 else 1)
    if s.ndim == 2 and s.shape[1] == 1:
        return s[:, 0]
    if s.ndim == 2 and s.shape[1] == 2:
        return s[:, 1]
    return s


def _one_vs_rest(X: Any, y: Any) -> tuple[np.ndarray, np.ndarray, int]:
    """Score columns to fit, their 0/1 targets and the class count.

    Binary input is one column (class 1 against class 0); multiclass input one column per
    class against the rest.
    """
    s = _scores(X)
    labels = _labels(y, s)
    if s.ndim == 1:
        return s[:, None], (labels == 1)[:, None].astype(np.float64), 2
    return s, (labels[:, None] == np.arange(s.shape[1])).astype(np.float64), s.shape[1]


def _columns_to_predict(obj: Any, attribute: str, X: Any) -> tuple[np.ndarray, bool]:
    """Score columns of new rows for a fitted one-vs-rest map, and whether they are binary."""
    _require(obj, attribute)
    s = _scores(X)
    _check_width(obj, s)
    return (s[:, None], True) if s.ndim == 1 else (s, False)


def _assemble(p: np.ndarray, binary: bool) -> np.ndarray:
    """``(n, K)`` probabilities from per-column calibrated probabilities."""
    return _binary(p[:, 0]) if binary else _normalise(p)


def _labels(y: Any, scores: np.ndarray) -> np.ndarray:
    k = 2 if scores.ndim == 1 else scores.shape[1]
    labels = as_class_labels(y, k, scores.shape[0])
    if np.unique(labels).size < 2:
        raise InputError("all labels are the same class; recalibration needs both outcomes "
                         "(at least two classes) in the held-out data", "y")
    return labels


def _require(obj: Any, attribute: str) -> None:
    if not hasattr(obj, attribute):
        raise NotFittedError(f"{type(obj).__name__} must be fitted first; call fit(X, y)")


def _check_width(obj: Any, scores: np.ndarray) -> None:
    width = 2 if scores.ndim == 1 else scores.shape[1]
    if width != obj.n_classes_:
        raise InputError(f"expected scores for {obj.n_classes_} classes (as in fit), got "
                         f"{width}", "X")


def _binary(p1: np.ndarray) -> np.ndarray:
    return np.column_stack([1.0 - p1, p1])


def _normalise(columns: np.ndarray) -> np.ndarray:
    """One-vs-rest probabilities renormalised to rows summing to one (uniform if all 0)."""
    total = columns.sum(axis=1, keepdims=True)
    uniform = np.full_like(columns, 1.0 / columns.shape[1])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, columns / total, uniform)


class TemperatureScaling:
    """Temperature scaling: ``softmax(z / T)`` with one temperature fitted by likelihood.

    The negative log-likelihood of ``softmax(beta z)`` is convex in the inverse
    temperature ``beta`` (its second derivative is the soft-max variance of the logits),
    so the fit is a one-dimensional root search of the derivative on ``beta >= 0``.
    Binary scores ``z`` are the two-class logits ``(0, z)``, i.e. ``sigmoid(z / T)``. The
    map is monotone: it keeps the arg-max class, so accuracy is unchanged.

    Guarantee
    ---------
    None in finite samples: ``T`` is the maximum-likelihood estimate within a one-parameter
    family, consistent for the best temperature; the result is calibrated only to the
    extent that a single temperature can fix the model (Guo et al., 2017). Check with
    :func:`~shiftguard.shift.calibration.calibration_test` on fresh data.

    Parameters
    ----------
    from_logits
        ``X`` holds logits (any real numbers). If False, ``X`` holds probabilities (rows
        summing to one, or 1-D probabilities of class 1), whose logarithms are used.

    Attributes
    ----------
    temperature_
        Fitted ``T`` (``inf`` when the model is no better than uniform guessing).
    n_classes_
        Number of classes seen in ``fit``.

    References
    ----------
    Guo, Pleiss, Sun and Weinberger (2017), On calibration of modern neural networks, ICML.
    """

    def __init__(self, *, from_logits: bool = False) -> None:
        self.from_logits = from_logits

    def _logits(self, X: Any) -> np.ndarray:
        if not self.from_logits:
            p = as_probabilities(X, "X")
            q = np.clip(p, _PROB_FLOOR, 1.0 - _PROB_FLOOR)
            if p.ndim == 1:
                return np.column_stack([np.zeros_like(q), np.log(q) - np.log1p(-q)])
            return np.log(q)
        z = np.asarray(X)
        z = as_float_array(z, "X", ndim=2 if z.ndim == 2 else 1)
        return np.column_stack([np.zeros_like(z), z]) if z.ndim == 1 else z

    def fit(self, X: Any, y: Any) -> TemperatureScaling:
        """Fit ``temperature_`` by maximum likelihood on held-out logits/probabilities."""
        from scipy.optimize import brentq

        z = self._logits(X)
        labels = as_class_labels(y, z.shape[1], z.shape[0])
        z = z - z.max(axis=1, keepdims=True)
        z_true = z[np.arange(z.shape[0]), labels]

        def slope(beta: float) -> float:
            w = np.exp(beta * z)
            w /= w.sum(axis=1, keepdims=True)
            return float(((w * z).sum(axis=1) - z_true).sum())

        self.n_classes_ = z.shape[1]
        if slope(0.0) >= 0.0:  # the likelihood falls as soon as the logits are used at all
            self.temperature_ = np.inf
            return self
        high = 1.0
        while slope(high) < 0.0 and high < 1e8:
            high *= 4.0
        beta = high if slope(high) < 0.0 else brentq(slope, 0.0, high, xtol=1e-12, rtol=1e-12)
        self.temperature_ = 1.0 / beta
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Recalibrated probabilities, ``(n, K)``."""
        _require(self, "temperature_")
        z = self._logits(X)
        if z.shape[1] != self.n_classes_:
            raise InputError(f"expected {self.n_classes_} classes (as in fit), got "
                             f"{z.shape[1]}", "X")
        z = (z - z.max(axis=1, keepdims=True)) / self.temperature_
        w = np.exp(z)
        return w / w.sum(axis=1, keepdims=True)


class PlattScaling:
    """Platt scaling: ``P(y = 1 | s) = sigmoid(a s + b)`` fitted by likelihood.

    Fitted to Platt's smoothed targets ``(N+ + 1)/(N+ + 2)`` and ``1/(N- + 2)``, which keep
    ``a`` finite on separable data, by Newton's method. Multiclass scores get one map per
    class (one-vs-rest), renormalised to sum to one — as scikit-learn's
    ``CalibratedClassifierCV(method="sigmoid")``, whose output this reproduces when given
    the same scores (its decision function).

    Guarantee
    ---------
    None in finite samples: a two-parameter maximum-likelihood fit, calibrated when the
    true ``logit P(y = 1 | s)`` is linear in the score ``s`` (pass a logit or decision
    function, not a probability, for that to be plausible).

    Attributes
    ----------
    coef_, intercept_
        ``a`` and ``b`` per fitted column (one for binary input).
    n_classes_
        Number of classes seen in ``fit``.

    References
    ----------
    Platt, J. (1999), Probabilistic outputs for support vector machines and comparisons to
    regularized likelihood methods, in Advances in Large Margin Classifiers, MIT Press.
    """

    def fit(self, X: Any, y: Any) -> PlattScaling:
        """Fit one sigmoid per score column on held-out data."""
        columns, targets, self.n_classes_ = _one_vs_rest(X, y)
        n_pos = targets.sum(axis=0)
        n_neg = targets.shape[0] - n_pos
        smoothed = np.where(targets == 1.0, (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0))
        coef = np.empty(columns.shape[1])
        intercept = np.empty(columns.shape[1])
        for j in range(columns.shape[1]):
            design = np.column_stack([columns[:, j], np.ones(columns.shape[0])])
            (coef[j], intercept[j]), _ = logistic_fit(design, smoothed[:, j])
        self.coef_, self.intercept_ = coef, intercept
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Recalibrated probabilities, ``(n, K)``."""
        columns, binary = _columns_to_predict(self, "coef_", X)
        p = 0.5 * (1.0 + np.tanh(0.5 * (columns * self.coef_ + self.intercept_)))
        return _assemble(p, binary)


class IsotonicCalibration:
    """Isotonic recalibration: the monotone step function of the score closest to ``y``.

    Fitted with scikit-learn's ``IsotonicRegression`` (pool-adjacent-violators), clipped
    outside the fitted range; multiclass scores get one map per class, renormalised, as
    ``CalibratedClassifierCV(method="isotonic")``, which it reproduces on the same scores.

    Guarantee
    ---------
    Consistent for ``P(y = 1 | s)`` whenever that is non-decreasing in the score, with no
    parametric form (Zadrozny and Elkan, 2002); no finite-sample guarantee, and it overfits
    on small held-out sets — :class:`VennAbers` adds one.

    Attributes
    ----------
    calibrators_
        The fitted ``IsotonicRegression`` per column.
    n_classes_
        Number of classes seen in ``fit``.

    References
    ----------
    Zadrozny, B. and Elkan, C. (2002), Transforming classifier scores into accurate
    multiclass probability estimates, KDD.
    """

    def fit(self, X: Any, y: Any) -> IsotonicCalibration:
        """Fit one isotonic map per score column on held-out data."""
        from sklearn.isotonic import IsotonicRegression

        columns, targets, self.n_classes_ = _one_vs_rest(X, y)
        self.calibrators_ = [
            IsotonicRegression(out_of_bounds="clip").fit(columns[:, j], targets[:, j])
            for j in range(columns.shape[1])
        ]
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Recalibrated probabilities, ``(n, K)``."""
        columns, binary = _columns_to_predict(self, "calibrators_", X)
        p = np.column_stack([c.predict(columns[:, j]) for j, c in enumerate(self.calibrators_)])
        return _assemble(p, binary)


class VennAbers:
    """Inductive Venn–Abers predictor: a pair of probabilities, one of them calibrated.

    For a test score ``s``, ``p0`` (``p1``) is the isotonic regression of the labels on the
    scores, fitted on the calibration data plus the test point labelled 0 (1), evaluated at
    ``s``; always ``p0 <= p1``. Their width ``p1 - p0`` shrinks like ``1/n`` and shows how
    much the calibration data pin the probability down. ``predict_proba`` merges them into
    ``p = p1 / (1 - p0 + p1)``, the minimiser of the worst-case log loss over the pair.

    No isotonic fit is repeated per test point: with ``c_1 < ... < c_m`` the distinct
    calibration scores and ``P_j = (W_j, U_j)`` the cumulative (count, label-sum) diagram,
    the fit at a test point inserted after block ``j`` with label ``l`` is the max-min
    formula ``max_{a <= j} min_{b >= j} (U_b - U_a + l) / (W_b - W_a + 1)``, the slope of
    the bridge between the lower hull of ``P_0..P_j`` and that of the shifted
    ``P_j..P_m``. ``fit`` finds it for every insertion position with two hull stacks, as
    in Vovk, Petej and Fedorova (2015): ``O(n log n)`` for the sort, ``O(m)`` after, in
    exact integer arithmetic, so each fit is the correctly rounded ratio of two integers;
    prediction is a binary search.

    Guarantee
    ---------
    Validity (Vovk and Petej, 2014): if the calibration rows and the test row are
    exchangeable, the probability ``p_Y`` picked by the true label (``p1`` if ``y = 1``,
    else ``p0``) is perfectly calibrated, ``P(Y = 1 | p_Y) = p_Y``, in finite samples and
    whatever the model. The merged ``p`` is not guaranteed, but lies in ``[p0, p1]``.

    Attributes
    ----------
    scores_
        The distinct calibration scores ``c_1 < ... < c_m``.
    p0_, p1_
        ``p0`` and ``p1`` for a test score strictly between ``c_j`` and ``c_{j+1}``
        (index ``j = 0..m``; 0 is below ``c_1``, ``m`` above ``c_m``).
    n_classes_
        Always 2.

    Notes
    -----
    ``fit`` on ``n`` continuous scores (``n`` distinct), one thread, 2-core machine
    under load, before (quadratic slope matrix) and after this algorithm: ``n = 10^3``
    41 ms -> 0.24 ms; ``10^4`` 1.14 s -> 1.3 ms; ``10^5`` 112 s -> 25 ms; ``10^6``
    (not run before) 0.25 s, of which the sort takes 0.08 s and each of the two stack
    passes 0.07 s. ``predict_proba`` on ``10^4`` rows takes 1-6 ms (unchanged). The
    first call in a process also pays numba's one-off start-up (about 0.5 s, shared
    with every other compiled kernel of the package).

    References
    ----------
    Vovk, V. and Petej, I. (2014), Venn–Abers predictors, UAI. Vovk, Petej and Fedorova
    (2015), Large-scale probabilistic predictors with and without guarantees of validity,
    NeurIPS (the merged probability and the linear-time computation after sorting).

    Examples
    --------
    >>> va = VennAbers().fit([0.1, 0.2, 0.3, 0.4], [0, 1, 0, 1])
    >>> va.predict_p0_p1([0.25]).round(3).tolist(), va.predict_proba([0.25]).round(3).tolist()
    ([[0.333, 0.667]], [[0.5, 0.5]])
    """

    def fit(self, X: Any, y: Any) -> VennAbers:
        """Precompute ``(p0, p1)`` for every possible position of a test score."""
        s = _scores(X)
        if s.ndim != 1:
            raise InputError(
                f"Venn-Abers is binary: expected 1-D scores or two columns, got {s.shape[1]} "
                "classes; calibrate each class against the rest instead", "X"
            )
        labels = _labels(y, s)
        scores, inverse = np.unique(s, return_inverse=True)
        w = np.r_[0, np.cumsum(np.bincount(inverse))]
        u = np.r_[0, np.cumsum(np.bincount(inverse[labels == 1], minlength=scores.size))]
        num, den = venn_abers_label_one(w, u)
        self.p1_ = num / den
        # Label 0 is label 1 on the mirrored diagram (blocks reversed, labels flipped),
        # whose fit is one minus ours: the same pooled block, counted from the other side.
        zeros = w - u
        num, den = venn_abers_label_one(w[-1] - w[::-1], zeros[-1] - zeros[::-1])
        self.p0_ = (den - num)[::-1] / den[::-1]
        self.scores_ = scores
        self.n_classes_ = 2
        return self

    def predict_p0_p1(self, X: Any) -> np.ndarray:
        """The multiprobability pair ``(p0, p1)`` per row, ``(n, 2)``."""
        _require(self, "scores_")
        s = _scores(X)
        _check_width(self, s)
        # A test score tied with c_j gets the fit of a point just above c_j when labelled 0
        # and just below it when labelled 1: either way it pools with c_j's block.
        p0 = self.p0_[np.searchsorted(self.scores_, s, side="right")]
        p1 = self.p1_[np.searchsorted(self.scores_, s, side="left")]
        return np.column_stack([p0, p1])

    def predict_proba(self, X: Any) -> np.ndarray:
        """Merged probabilities ``p1 / (1 - p0 + p1)``, as ``(n, 2)``."""
        pair = self.predict_p0_p1(X)
        p0, p1 = pair[:, 0], pair[:, 1]
        return _binary(p1 / (1.0 - p0 + p1))

