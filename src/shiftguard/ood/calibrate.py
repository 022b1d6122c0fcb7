"""Calibrated outlier decisions: conformal p-values from any detector's scores, per-row
decisions at a false-positive rate ``alpha`` and FDR-controlling selection (BH, Storey-BH).

A raw anomaly score says "more unusual", not "how unusual". Scoring held-out inliers (the
calibration set) turns a score ``t`` into a p-value: the share of calibration scores at
least as extreme. Under exchangeability of calibration and test inliers these p-values are
valid whatever the detector, so thresholds on them carry finite-sample error guarantees.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from typing import Any

import numpy as np

from shiftguard._result import ResultMixin
from shiftguard._validation import as_float_array, as_rng, check_alpha, check_choice
from shiftguard.errors import EstimatorError, InputError, ParameterError
from shiftguard.ood._base import check_features, check_fitted

__all__ = [
    "OutlierDetector",
    "OutlierResult",
    "benjamini_hochberg",
    "conditional_bounds",
    "conformal_pvalues",
    "needed_calibration_size",
    "storey_bh",
]

BOUNDARIES = ("simes", "dkw")
FDR_METHODS = ("bh", "storey")


def conformal_pvalues(
    calibration_scores: Any,
    test_scores: Any,
    *,
    conditional: bool = False,
    delta: float = 0.1,
    boundary: str = "simes",
) -> np.ndarray:
    """Conformal p-values of test scores against calibration scores (higher = more anomalous).

    Marginal (``conditional=False``): ``p_j = (1 + #{i : s_i >= t_j}) / (n + 1)``, computed
    with one sort of the ``n`` calibration scores and a binary search per test score.

    Calibration-conditional (``conditional=True``): ``p_j = b[c_j]`` with
    ``c_j = #{i : s_i >= t_j}``, where ``b[c]`` is an upper confidence bound, holding for all
    ``c`` at once with probability ``1 - delta``, on the ``(c + 1)``-th smallest of ``n``
    uniform variables (``b[n] = 1``); this is the adjustment of Bates et al. (2023, sec. 3).
    ``boundary`` picks the bound:

    ``"simes"`` (default)
        The generalized Simes inequality with ``k = max(1, n // 2)`` (Bates et al.'s finite-sample
        choice): ``b[c] = 1 - a[n - c]`` with ``a[i] = 0`` for ``i < k`` and
        ``a[i] = (delta * i (i-1) ... (i-k+1) / (n (n-1) ... (n-k+1)))^(1/k)``.
    ``"dkw"``
        The one-sided Dvoretzky-Kiefer-Wolfowitz inequality with Massart's constant:
        ``b[c] = min(1, c / n + eps)``, ``eps = sqrt(log(1/delta) / (2 n))`` for
        ``delta <= 1/2`` (``log(2/delta)`` above, the two-sided constant).

    Guarantee
    ---------
    Let the calibration scores and the score of a test inlier be exchangeable (e.g. i.i.d.
    rows scored by a detector fitted on other data). Marginal p-values are then valid,
    ``P(p_j <= a) <= a`` for every ``a`` in [0, 1], over the draw of both calibration and
    test rows (exactly ``floor(a (n + 1)) / (n + 1)`` without ties; ties only make ``p_j``
    larger; Vovk, Gammerman and Shafer 2005). They are dependent through the shared
    calibration set but positively so (PRDS), which keeps Benjamini-Hochberg valid (Bates et
    al. 2023). Conditional p-values satisfy the stronger claim: with probability at least
    ``1 - delta`` over the calibration draw, ``P(p_j <= a | calibration) <= a`` for all
    ``a`` at once, and given the calibration set the test p-values are independent (Bates
    et al. 2023). For continuous scores the Simes bound holds with probability exactly
    ``1 - delta``; DKW is conservative. The price is power: the smallest conditional
    p-value is ``b[0]``, not ``1/(n + 1)``.

    Parameters
    ----------
    calibration_scores
        ``(n,)`` scores of calibration inliers, not used to fit the detector.
    test_scores
        ``(m,)`` scores of the rows to test.
    conditional
        Return calibration-conditional p-values instead of marginal ones.
    delta
        Probability, over the calibration draw, that the conditional guarantee fails.
    boundary
        ``"simes"`` or ``"dkw"`` (conditional p-values only).

    Returns
    -------
    numpy.ndarray
        ``(m,)`` p-values in (0, 1]; small means unlike the calibration inliers.

    References
    ----------
    Bates, S., Candès, E., Lei, L., Romano, Y. and Sesia, M. (2023). Testing for outliers
    with conformal p-values. Annals of Statistics 51, 149-178. Vovk, V., Gammerman, A. and
    Shafer, G. (2005). Algorithmic Learning in a Random World. Springer. Massart, P. (1990).
    The tight constant in the Dvoretzky-Kiefer-Wolfowitz inequality. Annals of Probability
    18, 1269-1283.

    Examples
    --------
    >>> conformal_pvalues([0.1, 0.4, 0.2, 0.3], [0.35, 5.0, 0.0]).tolist()
    [0.4, 0.2, 1.0]
    >>> conformal_pvalues(range(1000), [2000.0], conditional=True).round(4).tolist()
    [0.0046]
    """
    cal = np.sort(as_float_array(calibration_scores, "calibration_scores"))
    test = as_float_array(test_scores, "test_scores", min_size=0)
    n = cal.shape[0]
    at_least = n - np.searchsorted(cal, test, side="left")
    if not conditional:
        return (1.0 + at_least) / (n + 1.0)
    return conditional_bounds(n, delta, boundary)[at_least]


def conditional_bounds(n: int, delta: float = 0.1, boundary: str = "simes") -> np.ndarray:
    """The ``n + 1`` values a calibration-conditional p-value can take, by count.

    Entry ``c`` is the p-value of a test score with ``c`` calibration scores at or above
    it; see :func:`conformal_pvalues` for the formulas and the guarantee. Non-decreasing in
    ``c``, ending at 1.
    """
    delta = check_alpha(delta, "delta")
    check_choice(boundary, "boundary", BOUNDARIES)
    counts = np.arange(n + 1)
    if boundary == "dkw":
        bound = np.minimum(1.0, counts / n + _dkw_epsilon(n, delta))
    else:
        from scipy.special import gammaln

        k = max(1, n // 2)
        i = n - counts[:-1]  # the order statistic bounded from below, n down to 1
        log_a = (math.log(delta) + gammaln(i + 1.0) - gammaln(np.maximum(i - k, 0) + 1.0)
                 - gammaln(n + 1.0) + gammaln(n - k + 1.0)) / k
        a = np.where(i >= k, np.exp(log_a), 0.0)
        bound = np.append(1.0 - a, 1.0)
    bound[-1] = 1.0
    return bound


def _dkw_epsilon(n: int, delta: float) -> float:
    # Massart's one-sided constant needs exp(-2 n eps^2) <= 1/2; the two-sided one always holds
    return math.sqrt(math.log((1.0 if delta <= 0.5 else 2.0) / delta) / (2.0 * n))


def benjamini_hochberg(pvalues: Any, q: float) -> np.ndarray:
    """Benjamini-Hochberg rejections at false discovery rate ``q`` (boolean mask).

    Rejects the ``R`` smallest p-values, ``R`` the largest ``r`` with ``p_(r) <= q r / m``.
    On conformal p-values (:func:`conformal_pvalues`) sharing one calibration set,
    ``FDR = E[false flags / max(1, flags)] <= q`` in finite samples: marginal conformal
    p-values are PRDS (Bates et al. 2023; Benjamini and Yekutieli 2001); the
    calibration-conditional ones are independent given the calibration set, so the bound
    also holds given it, on its ``1 - delta`` event. The same rule as
    ``shiftguard.stats.multiple.reject(..., method="bh")``, which it calls.

    Examples
    --------
    >>> benjamini_hochberg([0.001, 0.02, 0.03, 0.5], q=0.1).tolist()
    [True, True, True, False]
    """
    from shiftguard.stats.multiple import reject

    return reject(pvalues, alpha=check_alpha(q, "q"), method="bh")


def storey_bh(pvalues: Any, q: float, lambda_: float = 0.5) -> np.ndarray:
    """Storey's adaptive BH at false discovery rate ``q`` (boolean mask).

    Estimates the share of inliers ``pi0 = (1 + #{p_j > lambda_}) / (m (1 - lambda_))``
    and runs BH at level ``q / pi0``, never rejecting a p-value above ``lambda_`` (as in
    the theorem below; ``pi0`` is not capped at 1 either). More power than BH when many
    rows are outliers; when few are, ``pi0`` is near or above 1 and Storey flags about as
    many or fewer (ties make conformal p-values conservative, pushing ``pi0`` up).

    Guarantee
    ---------
    FDR ``<= q`` when the null p-values are valid and independent of each other and of the
    non-null ones (Storey, Taylor and Siegmund 2004), as calibration-conditional conformal
    p-values are given the calibration set (on its ``1 - delta`` event). Marginal conformal
    p-values share a calibration set and are not independent; Marandon, Lei, Mary and
    Roquain (2024) extend the bound to them, and ``tests/validity/test_ood_conformal.py``
    checks it empirically (ties included).

    References
    ----------
    Storey, J. D., Taylor, J. E. and Siegmund, D. (2004). Strong control, conservative point
    estimation and simultaneous conservative consistency of false discovery rates. JRSS B
    66, 187-205. Marandon, A., Lei, L., Mary, D. and Roquain, E. (2024). Adaptive novelty
    detection with false discovery rate guarantee. Annals of Statistics 52, 157-183.

    Examples
    --------
    >>> p = [0.001, 0.002, 0.004, 0.03, 0.04, 0.06, 0.8, 0.9]
    >>> int(storey_bh(p, q=0.05).sum()), int(benjamini_hochberg(p, q=0.05).sum())
    (5, 3)
    """
    from shiftguard.stats.multiple import adjust_pvalues

    q = check_alpha(q, "q")
    lambda_ = check_alpha(lambda_, "lambda_")
    adjusted = adjust_pvalues(pvalues, "bh")
    m = adjusted.shape[0]
    if m == 0:
        return np.zeros(0, dtype=bool)
    p = as_float_array(pvalues, "pvalues", min_size=0)
    pi0 = (1.0 + np.count_nonzero(p > lambda_)) / (m * (1.0 - lambda_))
    return (adjusted <= q / pi0) & (p <= lambda_)


@dataclasses.dataclass(frozen=True)
class OutlierResult(ResultMixin):
    """Calibrated outlier decisions for the rows passed to :meth:`OutlierDetector.predict`.

    Attributes
    ----------
    scores
        ``(m,)`` raw anomaly scores (higher = more anomalous).
    pvalues
        ``(m,)`` conformal p-values (marginal or calibration-conditional).
    flagged
        ``(m,)`` boolean: the row is declared an outlier; equals
        ``pvalues <= threshold_pvalue``.
    method
        ``"threshold"`` (each inlier flagged with probability ``<= alpha``), ``"bh"`` or
        ``"storey"`` (expected share of inliers among flagged rows ``<= fdr``).
    alpha, fdr
        The level used; the other one is ``None``.
    n_calibration
        Number of calibration rows behind the p-values.
    threshold_pvalue
        Rows with ``pvalues <= threshold_pvalue`` are flagged: ``alpha``, or for BH and
        Storey the largest flagged p-value (0 when nothing is flagged).
    conditional
        Whether the p-values are calibration-conditional.
    """

    scores: np.ndarray
    pvalues: np.ndarray
    flagged: np.ndarray
    method: str
    alpha: float | None
    fdr: float | None
    n_calibration: int
    threshold_pvalue: float
    conditional: bool = False

    @property
    def n_flagged(self) -> int:
        """Number of flagged rows."""
        return int(np.count_nonzero(self.flagged))


class OutlierDetector:
    """Wrap any anomaly detector into calibrated outlier decisions with an error guarantee.

    ``fit(X)`` splits the inliers ``X`` (seeded) into a training part, on which a clone of
    ``detector`` is fitted, and a calibration part, which is scored; ``predict(X_new)``
    turns the scores of new rows into conformal p-values (:func:`conformal_pvalues`) and
    flags rows either one by one at level ``alpha`` or jointly at false discovery rate
    ``fdr`` (:func:`benjamini_hochberg` or :func:`storey_bh`).

    Guarantee
    ---------
    If the calibration rows and the inlier rows passed to ``predict`` are exchangeable
    (the training data are a random sample of the population the model serves, and so are
    its inliers later): with ``alpha``, each inlier row is flagged with probability
    ``<= alpha`` (a false-positive rate; Bates et al. 2023); with ``fdr``, the expected
    share of inliers among the flagged rows of one ``predict`` call is ``<= fdr``. With
    ``conditional=True`` these hold given the calibration set, except with probability
    ``delta`` over it. Nothing is assumed about the detector or the outliers; a better
    detector only means more power.

    Parameters
    ----------
    detector
        An unfitted detector. Scores are read, in this order, from a shiftguard detector's
        ``score(X)``, a PyOD detector's ``decision_function(X)``, minus a scikit-learn
        detector's ``score_samples(X)`` (IsolationForest, LocalOutlierFactor with
        ``novelty=True``, OneClassSVM, ...), or any other object's ``score(X)``; higher must
        mean more anomalous. Cloned with :func:`sklearn.base.clone` when it has
        ``get_params``, else with :func:`copy.deepcopy`.
    alpha
        Per-row false-positive rate; exactly one of ``alpha`` and ``fdr`` must be given.
    fdr
        False discovery rate of one ``predict`` call.
    fdr_method
        ``"bh"`` (Benjamini-Hochberg) or ``"storey"`` (adaptive; more power when outliers
        are many).
    calibration_size
        Share (float in (0, 1)) or number (int) of the rows of ``X`` kept for calibration;
        ignored when ``fit`` gets ``X_calibration``.
    conditional, delta
        Use calibration-conditional p-values, failing with probability ``delta``.
    seed
        Seed of the training/calibration split.

    Attributes
    ----------
    detector_, calibration_scores_, n_features_in_
        The fitted clone, the sorted calibration scores, the number of features.

    Notes
    -----
    The smallest marginal p-value is ``1 / (n + 1)``, so a level ``a`` needs
    ``n >= 1/a - 1`` calibration rows to flag anything (BH at ``fdr`` too: it flags only if
    some ``p_(r) <= fdr r / m``); ``fit`` raises :class:`~shiftguard.errors.InputError`
    saying how many are needed. To flag a lone outlier among ``m`` rows, BH needs
    ``1 / (n + 1) <= fdr / m``, i.e. ``n >= m / fdr - 1``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.ensemble import IsolationForest
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 3))
    >>> model = OutlierDetector(IsolationForest(random_state=0), alpha=0.05, seed=0).fit(X)
    >>> result = model.predict(np.vstack([rng.normal(size=(5, 3)), [[6.0, 6.0, 6.0]]]))
    >>> result.flagged.tolist()
    [False, False, False, False, False, True]
    >>> result.n_calibration, round(float(result.pvalues[-1]), 4)
    (150, 0.0066)
    """

    def __init__(
        self,
        detector: Any,
        *,
        alpha: float | None = None,
        fdr: float | None = None,
        fdr_method: str = "bh",
        calibration_size: float = 0.3,
        conditional: bool = False,
        delta: float = 0.1,
        seed: int | np.random.Generator | None = None,
    ) -> None:
        self.detector = detector
        self.alpha = alpha
        self.fdr = fdr
        self.fdr_method = fdr_method
        self.calibration_size = calibration_size
        self.conditional = conditional
        self.delta = delta
        self.seed = seed

    def fit(self, X: Any, y: Any = None, *, X_calibration: Any = None) -> OutlierDetector:
        """Fit a clone of the detector and score the calibration rows.

        Parameters
        ----------
        X
            ``(n, d)`` inliers. Without ``X_calibration`` they are split (seeded) into
            training and calibration rows; with it, all of ``X`` trains the detector.
        y
            Optional class labels of ``X``, for detectors that use them (class-conditional
            Mahalanobis, WDiscOOD, ConjNorm): the training part of ``y`` is passed to the
            detector's ``fit``; calibration needs no labels.
        X_calibration
            ``(n_cal, d)`` held-out inliers to calibrate on, never seen by the detector.
        """
        level = self._level()
        if self.conditional:
            check_alpha(self.delta, "delta")
        X = check_features(X, "X", min_rows=1 if X_calibration is not None else 2)
        labels = None if y is None else np.asarray(y)
        if labels is not None and labels.shape != (X.shape[0],):
            raise InputError(f"has shape {labels.shape}, expected ({X.shape[0]},)", "y")
        if X_calibration is None:
            train, calibration = self.split_indices(X.shape[0])
            X_train, X_cal = X[train], X[calibration]
            y_train = None if labels is None else labels[train]
        else:
            X_train, y_train = X, labels
            X_cal = check_features(X_calibration, "X_calibration", n_features=X.shape[1])
        needed = needed_calibration_size(level, conditional=self.conditional, delta=self.delta)
        if X_cal.shape[0] < needed:
            kind = "conditional" if self.conditional else "marginal"
            raise InputError(
                f"{X_cal.shape[0]} calibration row(s) cannot give a {kind} conformal p-value "
                f"<= {level:g}, so nothing could ever be flagged; at least {needed} are "
                "needed (raise calibration_size or pass more rows)",
                "X_calibration" if X_calibration is not None else "X",
            )
        detector = _clone(self.detector)
        if y_train is None:
            detector.fit(X_train)
        else:
            detector.fit(X_train, y_train)
        self.detector_ = detector
        self.calibration_scores_ = np.sort(_anomaly_scores(detector, X_cal))
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X: Any) -> OutlierResult:
        """Score ``X``, compute conformal p-values and flag outliers; see the class docstring."""
        check_fitted(self, "calibration_scores_")
        X = check_features(X, "X", n_features=self.n_features_in_, min_rows=0)
        scores = _anomaly_scores(self.detector_, X) if X.shape[0] else np.zeros(0)
        pvalues = conformal_pvalues(
            self.calibration_scores_, scores, conditional=self.conditional, delta=self.delta
        )
        if self.alpha is not None:
            method, cutoff = "threshold", float(check_alpha(self.alpha))
            flagged = pvalues <= cutoff
        else:
            method = check_choice(self.fdr_method, "fdr_method", FDR_METHODS)
            rule = benjamini_hochberg if method == "bh" else storey_bh
            flagged = rule(pvalues, self.fdr)
            cutoff = float(pvalues[flagged].max()) if flagged.any() else 0.0
        return OutlierResult(
            scores=scores,
            pvalues=pvalues,
            flagged=flagged,
            method=method,
            alpha=None if self.alpha is None else float(self.alpha),
            fdr=None if self.fdr is None else float(self.fdr),
            n_calibration=int(self.calibration_scores_.shape[0]),
            threshold_pvalue=cutoff,
            conditional=bool(self.conditional),
        )

    def _level(self) -> float:
        if (self.alpha is None) == (self.fdr is None):
            raise ParameterError(
                "give exactly one of alpha (per-row false-positive rate) and fdr (false "
                f"discovery rate); got alpha={self.alpha!r}, fdr={self.fdr!r}"
            )
        if self.alpha is not None:
            return check_alpha(self.alpha, "alpha")
        check_choice(self.fdr_method, "fdr_method", FDR_METHODS)
        return check_alpha(self.fdr, "fdr")

    def split_indices(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Seeded row indices of the training and the calibration part of ``n`` rows, as
        :meth:`fit` splits them (``calibration_size`` and ``seed``)."""
        size = self.calibration_size
        if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
            n_cal = int(size)
        elif isinstance(size, (float, np.floating)) and 0.0 < size < 1.0:
            n_cal = math.ceil(size * n)
        else:
            raise ParameterError(
                f"calibration_size must be a float in (0, 1) or an int, got {size!r}"
            )
        if not 1 <= n_cal <= n - 1:
            raise ParameterError(
                f"calibration_size={size!r} leaves {n_cal} of {n} rows for calibration; "
                "both the training and the calibration part need at least one"
            )
        order = as_rng(self.seed).permutation(n)
        return order[n_cal:], order[:n_cal]


def needed_calibration_size(
    level: float, *, conditional: bool = False, delta: float = 0.1, boundary: str = "simes"
) -> int:
    """Smallest calibration size whose smallest conformal p-value is ``<= level``.

    Marginal: ``1 / (n + 1) <= level``, i.e. ``n >= 1/level - 1``. Conditional: ``b[0] <=
    level`` (see :func:`conformal_pvalues`); for the Simes boundary ``1 - delta^(1/k)``,
    ``k = n // 2``; for DKW ``eps``. Below this size no row can ever be flagged at ``level``.

    Examples
    --------
    >>> needed_calibration_size(0.05), needed_calibration_size(0.05, conditional=True)
    (19, 90)
    """
    level = check_alpha(level, "level")
    if not conditional:
        from shiftguard.conformal._quantile import min_calibration_size

        return min_calibration_size(level)
    delta = check_alpha(delta, "delta")
    check_choice(boundary, "boundary", BOUNDARIES)
    if boundary == "dkw":
        constant = 1.0 if delta <= 0.5 else 2.0
        n = max(1, math.ceil(math.log(constant / delta) / (2.0 * level**2)) - 1)
    else:
        n = max(1, 2 * math.ceil(math.log(delta) / math.log1p(-level)) - 1)
    # the closed forms can be off by one in floating point: settle on the exact smallest n
    while _smallest_conditional_pvalue(n, delta, boundary) > level:
        n += 1
    while n > 1 and _smallest_conditional_pvalue(n - 1, delta, boundary) <= level:
        n -= 1
    return n


def _smallest_conditional_pvalue(n: int, delta: float, boundary: str) -> float:
    """``conditional_bounds(n, delta, boundary)[0]`` in closed form."""
    if boundary == "dkw":
        return min(1.0, _dkw_epsilon(n, delta))
    return 1.0 - delta ** (1.0 / max(1, n // 2))


def _clone(detector: Any) -> Any:
    if hasattr(detector, "get_params"):
        from sklearn.base import clone

        return clone(detector)
    return copy.deepcopy(detector)


def _anomaly_scores(detector: Any, X: np.ndarray) -> np.ndarray:
    """``(n,)`` scores, higher = more anomalous, from whichever convention ``detector`` has."""
    module = type(detector).__module__
    if module.startswith("shiftguard.") and hasattr(detector, "score"):
        raw = detector.score(X)
    elif module.startswith("pyod.") and hasattr(detector, "decision_function"):
        raw = detector.decision_function(X)
    elif hasattr(detector, "score_samples"):
        raw = -np.asarray(detector.score_samples(X), dtype=np.float64)
    elif hasattr(detector, "score"):
        raw = detector.score(X)
    else:
        raise EstimatorError(
            f"detector ({type(detector).__name__}) has no score(X), decision_function(X) or "
            "score_samples(X) to read anomaly scores from"
        )
    scores = as_float_array(raw, "detector scores")
    if scores.shape[0] != X.shape[0]:
        raise EstimatorError(
            f"detector ({type(detector).__name__}) returned {scores.shape[0]} scores for "
            f"{X.shape[0]} rows"
        )
    return scores
