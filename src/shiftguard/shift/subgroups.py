"""Model performance per subgroup and in the worst group, with simultaneous intervals.

Average accuracy can hide a group on which the model fails — the worst-group view of
group shift (Sagawa, Koh, Hashimoto and Liang, 2020: a shift of the mix of groups moves
the average towards the worst group's value). Looking at many groups at once needs
intervals that hold for all of them together, or the worst group looks worse than it is
by chance alone; and a bound on the worst group follows from those simultaneous
intervals.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from shiftguard._result import ResultMixin
from shiftguard._validation import (
    as_float_array,
    as_indicator_array,
    as_label_array,
    as_rng,
    check_alpha,
    check_choice,
    check_positive_int,
)
from shiftguard.errors import InputError, ParameterError
from shiftguard.stats.binomial import clopper_pearson

METRICS = ("accuracy", "error", "mse", "mae", "brier", "auc")
_HIGHER_IS_BETTER = {"accuracy": True, "error": False, "mse": False, "mae": False,
                     "brier": False, "auc": True}
_AUC_MIN_PER_CLASS = 5
_BOOTSTRAP_CHUNK = 2_000_000


@dataclasses.dataclass(frozen=True)
class SubgroupPerformance(ResultMixin):
    """Per-group estimates with simultaneous intervals, and the worst group.

    Attributes
    ----------
    metric, method, alpha
        The metric, how the intervals were made and their joint level ``1 - alpha``.
    groups
        Group labels that were evaluated, in sorted order.
    estimate, lower, upper, size
        Per-group estimate, simultaneous interval and number of rows.
    worst_group
        The group with the worst estimate (lowest accuracy or AUC, highest error or loss).
    worst_estimate
        Its estimate.
    worst_lower, worst_upper
        Bounds on the population's worst-group value (the minimum or maximum of the
        group values), holding jointly with the intervals at level ``1 - alpha``.
    skipped
        Groups left out, each with the reason (too few rows, a single class for AUC).
    """

    metric: str
    method: str
    alpha: float
    groups: np.ndarray
    estimate: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    size: np.ndarray
    worst_group: Any
    worst_estimate: float
    worst_lower: float
    worst_upper: float
    skipped: dict[str, str]


def _auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """ROC AUC of positive against negative scores (ties count one half)."""
    from scipy.stats import rankdata

    ranks = rankdata(np.concatenate([pos, neg]))
    n1, n0 = pos.shape[0], neg.shape[0]
    return float((ranks[:n1].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n0))


def _resample_counts(n: int, b: int, rng: np.random.Generator) -> np.ndarray:
    """``(b, n)`` multiplicities of the rows in ``b`` bootstrap resamples of ``n`` rows."""
    rows = np.repeat(np.arange(b) * n, n)
    return np.bincount(rows + rng.integers(0, n, b * n), minlength=b * n).reshape(b, n)


def _chunks(n_bootstrap: int, width: int) -> list[int]:
    per = max(1, _BOOTSTRAP_CHUNK // max(width, 1))
    return [min(per, n_bootstrap - s) for s in range(0, n_bootstrap, per)]


def _bootstrap_auc(pos: np.ndarray, neg: np.ndarray, n_bootstrap: int,
                   rng: np.random.Generator) -> np.ndarray:
    """AUC of resamples drawn within each class, from multiplicities: no sorting per resample.

    With ``a`` and ``b`` the multiplicities of the positives and of the sorted negatives,
    ``AUC* = sum_i a_i (B(<pos_i) + B(=pos_i) / 2) / (n1 n0)``, ``B`` cumulative sums of ``b``.
    """
    neg = np.sort(neg)
    below = np.searchsorted(neg, pos, side="left")
    upto = np.searchsorted(neg, pos, side="right")
    n1, n0 = pos.shape[0], neg.shape[0]
    out = []
    for b in _chunks(n_bootstrap, n1 + n0):
        a = _resample_counts(n1, b, rng)
        cum = np.concatenate([np.zeros((b, 1)), np.cumsum(_resample_counts(n0, b, rng), 1)], 1)
        credit = cum[:, below] + 0.5 * (cum[:, upto] - cum[:, below])
        out.append((a * credit).sum(axis=1) / (n1 * n0))
    return np.concatenate(out)


def _bootstrap_t(metric: str, target: np.ndarray, values: np.ndarray, estimate: float,
                 n_bootstrap: int, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Bootstrap ``|theta* - theta| / se*`` of one group, and the group's standard error.

    Means of per-row losses are studentised by each resample's own standard error (the
    bootstrap-t, second-order accurate for skewed losses); the AUC, whose standard error
    has no cheap per-resample formula, by the bootstrap standard deviation.
    """
    if metric == "auc":
        boot = _bootstrap_auc(values[target == 1], values[target == 0], n_bootstrap, rng)
        se = float(boot.std(ddof=1))
        dev = np.abs(boot - estimate)
        return (dev / se if se > 0 else np.zeros_like(dev)), se
    n = values.shape[0]
    t = []
    for b in _chunks(n_bootstrap, n):
        sample = values[rng.integers(0, n, (b, n))]
        se_star = sample.std(axis=1, ddof=1) / np.sqrt(n)
        dev = np.abs(sample.mean(axis=1) - estimate)
        with np.errstate(invalid="ignore", divide="ignore"):
            t.append(np.where(se_star > 0, dev / se_star, np.where(dev > 0, np.inf, 0.0)))
    return np.concatenate(t), float(values.std(ddof=1) / np.sqrt(n))


def _per_row(metric: str, y: Any, pred: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(target, value)`` per row: the 0/1 outcome or loss to average, or (label, score)."""
    if metric in ("accuracy", "error"):
        if y is None:
            right = as_indicator_array(pred, "pred_or_correct")
        else:
            labels = as_label_array(y, "y")
            predicted = as_label_array(pred, "pred_or_correct")
            if labels.shape != predicted.shape:
                raise InputError(f"lengths differ: y={labels.shape[0]}, "
                                 f"pred_or_correct={predicted.shape[0]}")
            right = labels == predicted
        outcome = right if metric == "accuracy" else ~right
        return outcome.astype(np.float64), outcome.astype(np.float64)
    if y is None:
        raise ParameterError(f"metric {metric!r} needs the labels y")
    truth = as_indicator_array(y, "y") if metric in ("brier", "auc") else as_float_array(y, "y")
    values = as_float_array(pred, "pred_or_correct")
    if values.shape[0] != truth.shape[0]:
        raise InputError(f"lengths differ: y={truth.shape[0]}, "
                         f"pred_or_correct={values.shape[0]}")
    if metric == "brier":
        if ((values < 0) | (values > 1)).any():
            raise InputError("brier needs probabilities in [0, 1]", "pred_or_correct")
        return truth.astype(np.float64), (values - truth) ** 2
    if metric == "auc":
        return truth.astype(np.float64), values
    diff = values - truth
    return truth, diff**2 if metric == "mse" else np.abs(diff)


def subgroup_performance(
    y: Any,
    pred_or_correct: Any,
    groups: Any,
    *,
    metric: str = "accuracy",
    alpha: float = 0.05,
    min_size: int = 20,
    n_bootstrap: int = 2000,
    seed: int | np.random.Generator | None = None,
) -> SubgroupPerformance:
    """Performance per subgroup with intervals that hold for all groups at once.

    Metrics: ``"accuracy"`` and ``"error"`` (``pred_or_correct`` holds hard predictions
    compared with ``y``, or, with ``y=None``, whether each prediction was right);
    ``"mse"``, ``"mae"`` (regression predictions), ``"brier"`` (probabilities of class 1)
    and ``"auc"`` (scores of class 1; ``y`` is 0/1).

    Guarantee
    ---------
    * accuracy / error: Clopper–Pearson intervals at level ``1 - alpha / G`` for each of
      the ``G`` evaluated groups (Bonferroni). Given the group sizes, with rows i.i.d.
      within each group, every interval is exact, so all ``G`` cover their group's true
      rate simultaneously with probability at least ``1 - alpha`` in finite samples,
      whatever the dependence between groups.
    * other metrics: bootstrap max-t intervals — rows resampled within each group (within
      each class for AUC), the ``1 - alpha`` quantile ``c`` of
      ``max_g |theta*_g - theta_g| / se*_g`` taken, and ``theta_g +/- c se_g`` reported;
      losses are studentised by each resample's own standard error (bootstrap-t), the
      AUC by its bootstrap standard deviation. Asymptotic simultaneous coverage
      ``1 - alpha`` as every group grows (Romano and Wolf, 2005); checked empirically in
      the validity tests (skewed losses from 150 rows a group, AUC).

    In both cases, on the event that all intervals cover, the worst group's true value
    lies in ``[min lower, min upper]`` (accuracy, AUC) or ``[max lower, max upper]``
    (error, losses) — so ``worst_lower`` / ``worst_upper`` bound the population worst-group
    value at the same joint level. Groups with fewer than ``min_size`` rows (or, for AUC,
    fewer than 5 rows of either class) are not evaluated and are listed in ``skipped``.

    Parameters
    ----------
    y
        True labels or values; ``None`` for accuracy/error from a correctness vector.
    pred_or_correct
        Predictions, probabilities or scores — or correctness (0/1) when ``y`` is ``None``.
    groups
        Group label per row (any hashable labels; missing labels are an error).
    metric
        One of ``"accuracy"``, ``"error"``, ``"mse"``, ``"mae"``, ``"brier"``, ``"auc"``.
    alpha
        One minus the joint level.
    min_size
        Fewest rows for a group to be evaluated.
    n_bootstrap, seed
        Bootstrap replicates and their seed (metrics other than accuracy/error).

    References
    ----------
    Sagawa, Koh, Hashimoto and Liang (2020), Distributionally robust neural networks for
    group shifts, ICLR. Clopper and Pearson (1934), Biometrika 26. Romano and Wolf (2005),
    Exact and approximate stepdown methods for multiple hypothesis testing, JASA 100.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> groups = rng.choice(["a", "b", "c"], size=3000)
    >>> correct = rng.random(3000) < np.where(groups == "c", 0.7, 0.9)
    >>> result = subgroup_performance(None, correct, groups)
    >>> str(result.worst_group), bool(result.worst_upper < 0.8)
    ('c', True)
    """
    check_choice(metric, "metric", METRICS)
    alpha = check_alpha(alpha)
    min_size = check_positive_int(min_size, "min_size")
    check_positive_int(n_bootstrap, "n_bootstrap", minimum=100)
    labels = as_label_array(groups, "groups")
    target, values = _per_row(metric, y, pred_or_correct)
    if values.shape[0] != labels.shape[0]:
        raise InputError(f"lengths differ: groups={labels.shape[0]}, "
                         f"pred_or_correct={values.shape[0]}", "groups")
    names, inverse = np.unique(labels, return_inverse=True)
    size = np.bincount(inverse, minlength=names.shape[0])
    skipped: dict[str, str] = {}
    keep = size >= min_size
    for g in np.flatnonzero(~keep):
        skipped[str(names[g])] = f"{size[g]} rows, fewer than min_size={min_size}"
    if metric == "auc":
        positives = np.bincount(inverse, weights=target, minlength=names.shape[0])
        few = keep & (np.minimum(positives, size - positives) < _AUC_MIN_PER_CLASS)
        for g in np.flatnonzero(few):
            skipped[str(names[g])] = (f"{int(positives[g])} positive and "
                                      f"{int(size[g] - positives[g])} negative rows; AUC "
                                      f"needs at least {_AUC_MIN_PER_CLASS} of each")
        keep &= ~few
    if not keep.any():
        raise InputError(f"no group can be evaluated: {skipped}", "groups")
    kept = np.flatnonzero(keep)
    order = np.argsort(inverse, kind="stable")
    starts = np.r_[0, np.cumsum(size)]
    members = [order[starts[g]:starts[g + 1]] for g in kept]
    if metric in ("accuracy", "error"):
        hits = np.bincount(inverse, weights=values, minlength=names.shape[0])[kept]
        estimate = hits / size[kept]
        lower, upper = clopper_pearson(hits, size[kept], alpha / kept.shape[0])
        method = "bonferroni-clopper-pearson"
    else:
        rng = as_rng(seed)
        if metric == "auc":
            estimate = np.array([_auc(values[m][target[m] == 1], values[m][target[m] == 0])
                                 for m in members])
        else:
            estimate = np.array([values[m].mean() for m in members])
        studentised = [_bootstrap_t(metric, target[m], values[m], est, n_bootstrap, rng)
                       for m, est in zip(members, estimate, strict=True)]
        t_max = np.column_stack([t for t, _ in studentised]).max(axis=1)
        se = np.array([se for _, se in studentised])
        crit = float(np.quantile(t_max, 1.0 - alpha, method="higher"))
        lower, upper = estimate - crit * se, estimate + crit * se
        top = 1.0 if metric in ("auc", "brier") else np.inf
        lower, upper = np.clip(lower, 0.0, top), np.clip(upper, 0.0, top)
        method = "bootstrap-max-t"
    higher = _HIGHER_IS_BETTER[metric]
    worst = int(np.argmin(estimate) if higher else np.argmax(estimate))
    pick = np.min if higher else np.max
    return SubgroupPerformance(
        metric=metric, method=method, alpha=alpha, groups=names[kept], estimate=estimate,
        lower=lower, upper=upper, size=size[kept].astype(np.int64),
        worst_group=names[kept][worst], worst_estimate=float(estimate[worst]),
        worst_lower=float(pick(lower)), worst_upper=float(pick(upper)), skipped=skipped,
    )
