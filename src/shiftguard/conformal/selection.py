"""Conformal selection with FDR control (plain and optimized) and conformal risk control."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from shiftguard._result import ResultMixin
from shiftguard._validation import as_float_array, as_rng, check_alpha, check_choice
from shiftguard.errors import InputError, ParameterError


@dataclasses.dataclass(frozen=True)
class SelectionResult(ResultMixin):
    """Test units selected as having a label above ``threshold``.

    Attributes
    ----------
    selected
        Sorted indices of the selected test units.
    pvalues
        Conformal p-values of all test units (for the optimized variant, the p-values of
        each unit's chosen model).
    q
        Target false discovery rate.
    threshold
        The label threshold ``c``: units are selected as having ``y > c``.
    method
        ``"conformal-bh"`` or ``"optimized-conformal-selection"``.
    chosen_model
        Optimized variant only: index of the candidate model used for each test unit.
    """

    selected: np.ndarray
    pvalues: np.ndarray
    q: float
    threshold: float
    method: str
    chosen_model: np.ndarray | None = None


def _bh_count(sorted_pvalues: np.ndarray, q: float) -> np.ndarray:
    """Benjamini–Hochberg rejection count of each row of already sorted p-values."""
    m = sorted_pvalues.shape[-1]
    passes = sorted_pvalues <= q * np.arange(1, m + 1) / m
    # the largest rank r with p_(r) <= q r / m; 0 where none passes
    last = m - np.argmax(passes[..., ::-1], axis=-1)
    return np.where(passes.any(axis=-1), last, 0)


def _bh_select(pvalues: np.ndarray, q: float) -> np.ndarray:
    from shiftguard.stats.multiple import reject

    return np.flatnonzero(reject(pvalues, alpha=q, method="bh"))


def _ebh_select(evalues: np.ndarray, q: float) -> np.ndarray:
    """e-BH (Wang and Ramdas, 2022): the ``k`` largest e-values, ``k`` the largest with
    ``e_(k) >= m / (q k)``."""
    m = evalues.shape[0]
    order = np.argsort(-evalues, kind="stable")
    passes = evalues[order] >= m / (q * np.arange(1, m + 1))
    k = m - int(np.argmax(passes[::-1])) if passes.any() else 0
    return np.sort(order[:k])


def _selection_inputs(
    calibration_predictions: Any,
    calibration_labels: Any,
    test_predictions: Any,
    q: float,
    ndim: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    q = check_alpha(q, "q")
    mu_cal = as_float_array(calibration_predictions, "calibration_predictions", ndim=ndim)
    y_cal = as_float_array(calibration_labels, "calibration_labels")
    mu_test = as_float_array(test_predictions, "test_predictions", ndim=ndim)
    if ndim == 2:
        mu_cal, mu_test = mu_cal.T, mu_test.T
        if mu_cal.shape[0] != mu_test.shape[0]:
            raise InputError(
                f"{mu_cal.shape[0]} candidate models for calibration but "
                f"{mu_test.shape[0]} for test",
                "test_predictions",
            )
    if mu_cal.shape[-1] != y_cal.shape[0]:
        raise InputError(
            f"lengths differ: calibration_predictions={mu_cal.shape[-1]}, "
            f"calibration_labels={y_cal.shape[0]}"
        )
    return mu_cal, y_cal, mu_test, q


def _null_scores(mu_cal: np.ndarray, y_cal: np.ndarray, threshold: float) -> np.ndarray:
    """Clipped score ``V = inf * 1{y > c} - mu(x)``: sorted calibration scores."""
    return np.sort(np.where(y_cal > threshold, np.inf, -mu_cal), axis=-1)


def conformal_selection(
    calibration_predictions: Any,
    calibration_labels: Any,
    test_predictions: Any,
    threshold: float,
    *,
    q: float = 0.1,
    randomized: bool = False,
    seed: int | np.random.Generator | None = None,
) -> SelectionResult:
    """Select test units whose unobserved label exceeds ``threshold``, with FDR <= q.

    Conformal p-values use the clipped score ``V(x, y) = inf * 1{y > c} - mu(x)``: for
    test unit ``j``, ``p_j = (1 + #{i : V_i <= -mu(x_j)}) / (n + 1)`` (randomised: ties
    counted with a uniform weight); Benjamini–Hochberg at level ``q`` then selects.

    Guarantee
    ---------
    If calibration and test units are i.i.d. (exchangeable) and the predictor was fitted
    on other data, the false discovery rate
    ``E[#{j selected : y_j <= c} / max(1, #selected)]`` is at most ``q``, in finite
    samples (Jin and Candès, 2023, "Selection by prediction with conformal p-values",
    JMLR).

    Parameters
    ----------
    calibration_predictions, calibration_labels
        Predictions ``mu(x_i)`` and labels of the labelled calibration units.
    test_predictions
        Predictions for the unlabelled test units.
    threshold
        ``c``: a unit is interesting when its label is ``> c``.
    q
        Target FDR in (0, 1).
    randomized
        Break ties between scores with uniforms (slightly more powerful).
    seed
        Seed for those uniforms.
    """
    mu_cal, y_cal, mu_test, q = _selection_inputs(
        calibration_predictions, calibration_labels, test_predictions, q, 1
    )
    cal = _null_scores(mu_cal, y_cal, float(threshold))
    test = -mu_test
    n = cal.shape[0]
    at_most = np.searchsorted(cal, test, side="right")
    if randomized:
        below = np.searchsorted(cal, test, side="left")
        u = as_rng(seed).random(test.shape[0])
        pvalues = (below + u * (1 + at_most - below)) / (n + 1)
    else:
        pvalues = (1.0 + at_most) / (n + 1)
    return SelectionResult(_bh_select(pvalues, q), pvalues, q, float(threshold), "conformal-bh")


def optimized_conformal_selection(
    calibration_predictions: Any,
    calibration_labels: Any,
    test_predictions: Any,
    threshold: float,
    *,
    q: float = 0.1,
    pruning: str = "deterministic",
    seed: int | np.random.Generator | None = None,
) -> SelectionResult:
    """Conformal selection that picks, per test unit, the best of several candidate models.

    For each test unit ``j`` and candidate model ``k``, BH is run on auxiliary p-values in
    which unit ``j`` joins the calibration set with its label imputed at ``c``; the model
    with most auxiliary selections ``R_j`` scores unit ``j`` (this choice is symmetric in
    the calibration units and unit ``j``, so ``p_j`` stays a valid conformal p-value). The
    e-values ``e_j = 1{p_j <= q R_j / m} m / (q R_j)`` are then selected by e-BH, with
    optional random pruning (OptCS with model selection; Bai and Jin, 2024).

    Guarantee
    ---------
    FDR ``<= q`` in finite samples for i.i.d. calibration and test units and candidate
    models fitted on other data, however the best model is picked (Bai and Jin, 2024,
    "Optimized conformal selection: powerful selective inference after conformity score
    optimization").

    Parameters
    ----------
    calibration_predictions
        ``(n, K)``: column ``k`` holds candidate model ``k``'s predictions on calibration
        units.
    calibration_labels
        ``(n,)`` labels.
    test_predictions
        ``(m, K)`` predictions on test units. Memory is ``O(m^2)`` per model.
    threshold
        ``c``: a unit is interesting when its label is ``> c``.
    q
        Target FDR in (0, 1).
    pruning
        ``"deterministic"`` (plain e-BH), ``"heterogeneous"`` (each e-value divided by its
        own uniform) or ``"homogeneous"`` (all by one uniform); random pruning usually
        selects more.
    seed
        Seed for the pruning uniforms.
    """
    check_choice(pruning, "pruning", ("deterministic", "heterogeneous", "homogeneous"))
    mu_cal, y_cal, mu_test, q = _selection_inputs(
        calibration_predictions, calibration_labels, test_predictions, q, 2
    )
    n_models, m = mu_test.shape
    n = y_cal.shape[0]
    c = float(threshold)
    aux_counts = np.empty((n_models, m), dtype=np.int64)
    pvalues_by_model = np.empty((n_models, m))
    for k in range(n_models):
        cal = _null_scores(mu_cal[k], y_cal, c)
        test = -mu_test[k]
        at_most = np.searchsorted(cal, test, side="right")
        pvalues_by_model[k] = (1.0 + at_most) / (n + 1)
        # row j: p-values of all units when j joins the calibration set; j itself at 0
        aux = (at_most[None, :] + (test[:, None] <= test[None, :])) / (n + 1)
        np.fill_diagonal(aux, 0.0)
        aux_counts[k] = _bh_count(np.sort(aux, axis=1), q)
    chosen = np.argmax(aux_counts, axis=0)
    units = np.arange(m)
    best_count = aux_counts[chosen, units]
    pvalues = pvalues_by_model[chosen, units]
    level = q * best_count / m
    evalues = np.where(pvalues <= level, 1.0 / level, 0.0)
    if pruning != "deterministic":
        rng = as_rng(seed)
        u = rng.random(m) if pruning == "heterogeneous" else np.full(m, rng.random())
        evalues = evalues / u
    return SelectionResult(
        _ebh_select(evalues, q), pvalues, q, c, "optimized-conformal-selection", chosen
    )


@dataclasses.dataclass(frozen=True)
class RiskControlResult(ResultMixin):
    """Outcome of conformal risk control.

    Attributes
    ----------
    lambda_hat
        The chosen parameter.
    index
        Its position in the grid.
    empirical_risk
        Mean calibration loss at ``lambda_hat``.
    alpha
        Risk level controlled.
    """

    lambda_hat: float
    index: int
    empirical_risk: float
    alpha: float


def conformal_risk_control(
    losses: Any,
    lambdas: Any,
    alpha: float,
    *,
    max_loss: float = 1.0,
) -> RiskControlResult:
    """Choose ``lambda`` so the expected loss on a new point is at most ``alpha``.

    ``lambda_hat`` is the smallest grid value with
    ``n/(n+1) * mean_i L_i(lambda) + max_loss/(n+1) <= alpha``.

    Guarantee
    ---------
    ``E[L_{n+1}(lambda_hat)] <= alpha`` in finite samples when the ``n + 1`` loss
    functions are exchangeable, non-increasing in ``lambda`` and bounded by ``max_loss``
    (Angelopoulos, Bates, Fisch, Lei and Schuster, 2024, "Conformal risk control", ICLR).
    Split conformal is the special case of the miscoverage loss.

    Parameters
    ----------
    losses
        ``(n, L)`` array: loss of calibration point ``i`` at ``lambdas[l]``.
    lambdas
        Increasing grid of ``L`` parameter values.
    alpha
        Risk level; must exceed ``max_loss / (n + 1)``.
    max_loss
        Upper bound ``B`` on every loss.
    """
    loss = as_float_array(losses, "losses", ndim=2)
    grid = as_float_array(lambdas, "lambdas")
    alpha = float(alpha)
    if not 0.0 < alpha:
        raise ParameterError(f"alpha must be > 0, got {alpha!r}")
    if loss.shape[1] != grid.shape[0]:
        raise InputError(f"losses has {loss.shape[1]} columns but lambdas has {grid.shape[0]}")
    if np.any(np.diff(grid) <= 0):
        raise InputError("must be strictly increasing", "lambdas")
    if loss.min() < 0 or loss.max() > max_loss:
        raise InputError(f"losses must lie in [0, max_loss={max_loss:g}]", "losses")
    if np.any(np.diff(loss, axis=1) > 1e-12):
        raise InputError("each row must be non-increasing in lambda", "losses")
    n = loss.shape[0]
    risk = loss.mean(axis=0)
    ok = np.flatnonzero(n / (n + 1) * risk + max_loss / (n + 1) <= alpha)
    if ok.size == 0:
        raise InputError(
            f"no lambda on the grid controls the risk at alpha={alpha:g} with n={n} "
            f"(needs mean loss <= {(alpha * (n + 1) - max_loss) / n:.4g} somewhere); extend "
            "the grid or use more calibration data",
            "losses",
        )
    i = int(ok[0])
    return RiskControlResult(float(grid[i]), i, float(risk[i]), alpha)
