"""Tests of calibration: is a model calibrated (Spiegelhalter), and did calibration drift?

Probabilities and labels follow the convention of :mod:`shiftguard.shift.calibration`:
1-D probabilities of class 1, or ``(n, K)`` rows summing to one, reduced to the
top-label pair (confidence, "arg-max is right") unless stated otherwise. A binned error
estimates *how much* a model is off; these tests answer *whether* it is, with a controlled
false-alarm rate.

SciPy is imported inside the functions that use it, so that ``import shiftguard`` stays
light.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from shiftguard._result import ResultMixin
from shiftguard._validation import check_choice, check_positive_int
from shiftguard.errors import InputError, ParameterError
from shiftguard.shift._probabilities import (
    as_class_labels,
    as_probabilities,
    logistic_fit,
    logit,
    top_label,
)


@dataclasses.dataclass(frozen=True)
class CalibrationTestResult(ResultMixin):
    """Outcome of :func:`calibration_test`.

    Attributes
    ----------
    statistic
        Spiegelhalter's Z (for ``"one-vs-rest"``: the Z of the class with the smallest
        p-value).
    pvalue
        Two-sided p-value (for ``"one-vs-rest"``: Holm-adjusted minimum over classes).
    reduction
        ``"binary"``, ``"top-label"`` or ``"one-vs-rest"``.
    class_statistics, class_pvalues
        Per-class Z and unadjusted p-values for ``"one-vs-rest"``, else empty.
    n
        Rows used.
    """

    statistic: float
    pvalue: float
    reduction: str
    class_statistics: np.ndarray
    class_pvalues: np.ndarray
    n: int


def _spiegelhalter(p: np.ndarray, outcome: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Z statistics and two-sided p-values of the columns of ``p`` (2-D) against ``outcome``."""
    from scipy.stats import norm

    weight = 1.0 - 2.0 * p
    variance = (weight**2 * p * (1.0 - p)).sum(axis=0)
    degenerate = variance <= 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        z = ((outcome - p) * weight).sum(axis=0) / np.sqrt(variance)
    z = np.where(degenerate, 0.0, z)
    return z, np.where(degenerate, 1.0, 2.0 * norm.sf(np.abs(z)))


def calibration_test(probs: Any, y: Any, *, reduction: str = "top-label"
                     ) -> CalibrationTestResult:
    """Spiegelhalter's Z test of calibration.

    Null hypothesis: given the predicted probabilities ``p_i``, the outcomes are
    independent Bernoulli(``p_i``), i.e. ``P(y = 1 | p) = p``. The statistic

    ``Z = sum_i (y_i - p_i)(1 - 2 p_i) / sqrt(sum_i (1 - 2 p_i)^2 p_i (1 - p_i))``

    is the standardised difference between the observed Brier score and its null
    expectation; its numerator has mean 0 and exactly the variance in the denominator under
    the null. The two-sided p-value is ``2 * Phi(-|Z|)``.

    For ``(n, K)`` probabilities, ``reduction="top-label"`` tests the top-label null
    ``P(argmax correct | max p) = max p`` (implied by full calibration) with the pair
    (confidence, correct); ``reduction="one-vs-rest"`` runs the test on every column
    ``(p_k, 1{y = k})`` and reports the Holm-adjusted minimum p-value, which controls the
    family-wise error over the ``K`` class nulls.

    Guarantee
    ---------
    Asymptotic level ``alpha``: by the Lindeberg central limit theorem ``Z -> N(0, 1)``
    under the null as the denominator grows (many rows whose ``p_i`` are not all 0, 1/2 or
    1); in practice a few hundred rows. Conditional on the probabilities, so valid whatever
    their distribution (also after covariate shift). Its power is against an overall
    over- or under-confidence that the Brier score registers; a miscalibration that
    cancels across ``p`` can escape it. When every ``p_i`` is 0, 1/2 or 1 the variance is 0
    and the p-value is 1 (the test has nothing to measure).

    Parameters
    ----------
    probs, y
        Probabilities and labels (module docstring).
    reduction
        ``"top-label"`` or ``"one-vs-rest"`` for 2-D ``probs``; ignored for 1-D.

    References
    ----------
    Spiegelhalter, D. J. (1986), Probabilistic prediction in patient management and
    clinical trials, Statistics in Medicine 5, 421-433. Holm, S. (1979), Scandinavian
    Journal of Statistics 6, 65-70.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> p = rng.uniform(0.05, 0.95, 2000)
    >>> calibration_test(p, rng.random(2000) < p).pvalue > 0.05
    True
    """
    from shiftguard.stats.multiple import adjust_pvalues

    check_choice(reduction, "reduction", ("top-label", "one-vs-rest"))
    p = as_probabilities(probs)
    labels = as_class_labels(y, 2 if p.ndim == 1 else p.shape[1], p.shape[0])
    empty = np.empty(0)
    if p.ndim == 1 or reduction == "top-label":
        conf, outcome = top_label(p, labels)
        z, pv = _spiegelhalter(conf[:, None], outcome[:, None])
        name = "binary" if p.ndim == 1 else "top-label"
        return CalibrationTestResult(float(z[0]), float(pv[0]), name, empty, empty, p.shape[0])
    onehot = (labels[:, None] == np.arange(p.shape[1])).astype(np.float64)
    z, pv = _spiegelhalter(p, onehot)
    adjusted = adjust_pvalues(pv, method="holm")
    best = int(np.argmin(adjusted))
    return CalibrationTestResult(float(z[best]), float(adjusted[best]), "one-vs-rest", z, pv,
                                 p.shape[0])


@dataclasses.dataclass(frozen=True)
class CalibrationDriftResult(ResultMixin):
    """Outcome of :func:`calibration_drift_test`.

    Attributes
    ----------
    statistic
        Likelihood-ratio statistic ``2 (l_alt - l_null)``.
    pvalue
        Its chi-square (2 degrees of freedom) p-value.
    reference_intercept, reference_slope, current_intercept, current_slope
        Calibration-in-the-large and calibration slope of each sample: the coefficients of
        ``logit P(y = 1) = a + b logit(p)`` fitted on it (``a = 0, b = 1`` is calibrated).
    n_reference, n_current
        Rows in each sample.
    """

    statistic: float
    pvalue: float
    reference_intercept: float
    reference_slope: float
    current_intercept: float
    current_slope: float
    n_reference: int
    n_current: int


def _spline_basis(x: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """Restricted (natural) cubic spline terms of ``x`` beyond the linear one (Harrell)."""
    k = knots.size
    if k < 3:
        return np.empty((x.shape[0], 0))
    scale = (knots[-1] - knots[0]) ** 2
    cube = np.maximum(x[:, None] - knots[None, :], 0.0) ** 3 / scale
    last, before = knots[-1], knots[-2]
    terms = (
        cube[:, : k - 2]
        - cube[:, [k - 2]] * ((last - knots[: k - 2]) / (last - before))
        + cube[:, [k - 1]] * ((before - knots[: k - 2]) / (last - before))
    )
    return terms


def calibration_drift_test(
    probs_ref: Any,
    y_ref: Any,
    probs_cur: Any,
    y_cur: Any,
    *,
    n_knots: int = 4,
) -> CalibrationDriftResult:
    """Likelihood-ratio test that the calibration curve changed between two samples.

    With ``x = logit(p)`` (``p`` the probability, or the top-label confidence for
    multiclass input, whose outcome is then "arg-max is right") and ``g`` = 1 for the
    current sample, the null model is ``logit P(y = 1) = f(x)`` with ``f`` a restricted
    cubic spline with ``n_knots`` knots at quantiles of the pooled ``x`` — one calibration
    curve, of any smooth shape, shared by both samples — and the alternative adds
    ``g * (a + b x)``: a change of calibration-in-the-large and of calibration slope in the
    current sample. The statistic ``2 (l_alt - l_null)`` is referred to chi-square with 2
    degrees of freedom.

    Why this test: the null is "``P(y = 1 | p)`` is the same function in both samples",
    which is what calibration drift means. A permutation test of a difference of ECEs
    would instead test that the *joint* law of ``(p, y)`` is unchanged, so a mere shift of
    the probabilities (covariate shift with an unchanged, even miscalibrated, curve) would
    count as drift. The spline keeps the null curve flexible, so the level does not rely on
    the curve being logistic-linear.

    Guarantee
    ---------
    Asymptotic level: under the null, with rows independent given ``p`` and the shared
    curve well approximated by the spline, the statistic tends to chi-square(2) (Wilks'
    theorem) as both samples grow; checked empirically in the validity tests for a
    calibrated and a miscalibrated shared curve under a shift of ``p``. Conditional on
    the probabilities, so a change in their distribution alone does not reject.

    Parameters
    ----------
    probs_ref, y_ref
        Reference probabilities and labels.
    probs_cur, y_cur
        Current probabilities and labels (same number of classes).
    n_knots
        Knots of the shared spline (3 to 7; fewer are used when ``x`` has few distinct
        values).

    References
    ----------
    Cox, D. R. (1958), Two further applications of a model for binary regression,
    Biometrika 45 (calibration intercept and slope). Harrell, F. E. (2015), Regression
    Modeling Strategies, 2nd ed., Springer, section 2.4.5 (restricted cubic splines).
    Van Calster et al. (2016), A calibration hierarchy for risk models, J. Clin. Epi. 74.
    """
    check_positive_int(n_knots, "n_knots", minimum=3)
    if n_knots > 7:
        raise ParameterError(f"n_knots must be between 3 and 7, got {n_knots}")
    p_ref, p_cur = as_probabilities(probs_ref, "probs_ref"), as_probabilities(probs_cur,
                                                                              "probs_cur")
    if p_ref.shape[1:] != p_cur.shape[1:]:
        raise InputError(f"probs_cur has shape {p_cur.shape} but probs_ref has "
                         f"{p_ref.shape}: the number of classes differs", "probs_cur")
    k = 2 if p_ref.ndim == 1 else p_ref.shape[1]
    conf_ref, out_ref = top_label(p_ref, as_class_labels(y_ref, k, p_ref.shape[0], "y_ref"))
    conf_cur, out_cur = top_label(p_cur, as_class_labels(y_cur, k, p_cur.shape[0], "y_cur"))
    for name, out in (("y_ref", out_ref), ("y_cur", out_cur)):
        if out.min() == out.max():
            raise InputError("every outcome is the same, so no calibration curve can be "
                             "fitted; the test needs both outcomes in each sample", name)
    x = logit(np.concatenate([conf_ref, conf_cur]))
    outcome = np.concatenate([out_ref, out_cur])
    g = np.r_[np.zeros(conf_ref.shape[0]), np.ones(conf_cur.shape[0])]
    knots = np.unique(np.quantile(x, _knot_quantiles(n_knots)))
    ones = np.ones_like(x)
    null_design = np.column_stack([ones, x, _spline_basis(x, knots)])
    _, l_null = logistic_fit(null_design, outcome)
    _, l_alt = logistic_fit(np.column_stack([null_design, g, g * x]), outcome)
    from scipy.stats import chi2

    statistic = max(2.0 * (l_alt - l_null), 0.0)
    simple = np.column_stack([ones, x])
    ref_coef, _ = logistic_fit(simple[g == 0], out_ref)
    cur_coef, _ = logistic_fit(simple[g == 1], out_cur)
    return CalibrationDriftResult(
        statistic=float(statistic), pvalue=float(chi2.sf(statistic, 2)),
        reference_intercept=float(ref_coef[0]), reference_slope=float(ref_coef[1]),
        current_intercept=float(cur_coef[0]), current_slope=float(cur_coef[1]),
        n_reference=conf_ref.shape[0], n_current=conf_cur.shape[0],
    )


def _knot_quantiles(n_knots: int) -> np.ndarray:
    """Harrell's default knot placements (Regression Modeling Strategies, table 2.3)."""
    table = {
        3: [0.10, 0.50, 0.90],
        4: [0.05, 0.35, 0.65, 0.95],
        5: [0.05, 0.275, 0.50, 0.725, 0.95],
        6: [0.05, 0.23, 0.41, 0.59, 0.77, 0.95],
        7: [0.025, 0.1833, 0.3417, 0.50, 0.6583, 0.8167, 0.975],
    }
    return np.asarray(table[n_knots])
