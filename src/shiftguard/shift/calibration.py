"""Calibration of predicted probabilities: binned error and reliability curve.

Inputs follow one convention. ``probs`` is either a 1-D array of probabilities of class 1
(binary: calibration of ``p`` against ``y``) or an ``(n, K)`` array whose rows sum to one
(multiclass: *top-label* calibration of the confidence ``max_k p_k`` against the event
"the arg-max class is right", Guo, Pleiss, Sun and Weinberger, 2017). ``y`` holds class
indices ``0..K-1``; a class the probabilities do not cover is an error.

Why several tools: a binned error is a biased, bin-dependent *estimate* (Kumar, Liang and
Ma, 2019, and the discussion of calibration metrics in Liu et al., "Deep Probability
Estimation", 2024); a *test* (Spiegelhalter, 1986) answers the yes/no question with a
controlled false-alarm rate instead: see :mod:`shiftguard.shift.calibration_tests`.

SciPy is imported inside the functions that use it, so that ``import shiftguard`` stays
light.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from shiftguard._result import ResultMixin
from shiftguard._validation import as_rng, check_alpha, check_choice, check_positive_int
from shiftguard.errors import ParameterError
from shiftguard.shift._probabilities import checked_pair
from shiftguard.stats.binomial import clopper_pearson

STRATEGIES = ("uniform", "quantile")
_BOOTSTRAP_CHUNK = 2_000_000  # resampled indices held in memory at once


# --------------------------------------------------------------------------------------
# binned calibration error


@dataclasses.dataclass(frozen=True)
class CalibrationError(ResultMixin):
    """Binned calibration error with a bootstrap interval.

    Attributes
    ----------
    estimate
        ``sum_b (n_b / n) |acc_b - conf_b| ** power`` (``power=1``: the ECE; ``power=2``:
        the squared l2 calibration error), debiased when asked.
    lower, upper
        Basic bootstrap interval at level ``1 - alpha`` for the population's binned error.
    power, debiased, strategy, n_bins, n, alpha, n_bootstrap
        The settings; ``n_bins`` is the number of non-empty bins used.
    """

    estimate: float
    lower: float
    upper: float
    power: int
    debiased: bool
    strategy: str
    n_bins: int
    n: int
    alpha: float
    n_bootstrap: int


@dataclasses.dataclass(frozen=True)
class ReliabilityCurve(ResultMixin):
    """Per-bin confidence against observed frequency (non-empty bins only).

    Attributes
    ----------
    bin_lower, bin_upper
        Edges of each bin.
    confidence
        Mean predicted probability (top-label confidence) in the bin.
    accuracy
        Observed frequency of the outcome in the bin (share right, for top-label).
    count
        Rows in the bin.
    lower, upper
        Pointwise ``1 - alpha`` interval of the bin's true frequency.
    interval, alpha
        How the intervals were made and their level.
    """

    bin_lower: np.ndarray
    bin_upper: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray
    count: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    interval: str
    alpha: float


def _bin_edges(conf: np.ndarray, n_bins: int, strategy: str) -> np.ndarray:
    if strategy == "uniform":
        return np.linspace(0.0, 1.0, n_bins + 1)
    edges = np.unique(np.quantile(conf, np.linspace(0.0, 1.0, n_bins + 1)))
    edges[0], edges[-1] = 0.0, 1.0
    return edges if edges.size > 1 else np.array([0.0, 1.0])


def _assign_bins(conf: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin ``b`` holds ``edges[b] <= c < edges[b+1]``; the last bin also holds 1."""
    return np.searchsorted(edges[1:-1], conf, side="right")


def _bin_sums(bins: np.ndarray, conf: np.ndarray, outcome: np.ndarray, n_bins: int,
              rows: np.ndarray | None = None, n_rows: int = 1) -> tuple[np.ndarray, ...]:
    """Per-(row, bin) count, confidence sum and outcome sum; ``rows`` tags replicates."""
    flat = bins if rows is None else rows * n_bins + bins
    size = n_rows * n_bins
    count = np.bincount(flat, minlength=size).reshape(n_rows, n_bins)
    conf_sum = np.bincount(flat, weights=conf, minlength=size).reshape(n_rows, n_bins)
    out_sum = np.bincount(flat, weights=outcome, minlength=size).reshape(n_rows, n_bins)
    return count.astype(np.float64), conf_sum, out_sum


def _error_from_sums(count: np.ndarray, conf_sum: np.ndarray, out_sum: np.ndarray,
                     power: int, debiased: bool) -> np.ndarray:
    """Calibration error of every row of per-bin sums (rows are bootstrap replicates)."""
    from scipy.stats import norm

    n = count.sum(axis=1)
    safe = np.maximum(count, 1.0)
    acc, conf = out_sum / safe, conf_sum / safe
    gap = acc - conf
    weight = count / n[:, None]
    if not debiased:
        return (weight * np.abs(gap) ** power).sum(axis=1)
    if power == 2:
        # Kumar et al. (2019): E[(acc_b - conf_b)^2] exceeds the squared gap by the variance
        # acc_b(1 - acc_b)/(n_b - 1) estimates; bins of one row carry no variance estimate.
        variance = acc * (1.0 - acc) / np.maximum(count - 1.0, 1.0)
        per_bin = np.where(count >= 2, gap**2 - variance, 0.0)
        return (weight * per_bin).sum(axis=1)
    # power 1: Kumar et al.'s normal bias correction 2 * plug-in - E|gap + sigma Z|, with the
    # expectation in closed form instead of by simulation.
    sigma = np.sqrt(acc * (1.0 - acc) / safe)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(sigma > 0, gap / sigma, 0.0)
    folded = np.where(
        sigma > 0,
        sigma * np.sqrt(2.0 / np.pi) * np.exp(-0.5 * z**2) + gap * (1.0 - 2.0 * norm.cdf(-z)),
        np.abs(gap),
    )
    plugin = (weight * np.abs(gap)).sum(axis=1)
    return 2.0 * plugin - (weight * folded).sum(axis=1)


def _bootstrap_sums(bins: np.ndarray, conf: np.ndarray, outcome: np.ndarray, n_bins: int,
                    n_bootstrap: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Per-bin sums of ``n_bootstrap`` resamples of the rows, in memory-bounded chunks."""
    n = conf.shape[0]
    per_chunk = max(1, _BOOTSTRAP_CHUNK // n)
    parts = []
    for start in range(0, n_bootstrap, per_chunk):
        b = min(per_chunk, n_bootstrap - start)
        idx = rng.integers(0, n, size=(b, n))
        rows = np.repeat(np.arange(b), n)
        flat_idx = idx.ravel()
        parts.append(_bin_sums(bins[flat_idx], conf[flat_idx], outcome[flat_idx], n_bins,
                               rows, b))
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))


def _check_binning(n_bins: int, strategy: str, alpha: float, n_bootstrap: int) -> None:
    check_positive_int(n_bins, "n_bins")
    check_choice(strategy, "strategy", STRATEGIES)
    check_alpha(alpha)
    check_positive_int(n_bootstrap, "n_bootstrap", minimum=10)


def calibration_error(
    probs: Any,
    y: Any,
    *,
    n_bins: int = 15,
    strategy: str = "uniform",
    power: int = 1,
    debiased: bool = False,
    alpha: float = 0.05,
    n_bootstrap: int = 1000,
    seed: int | np.random.Generator | None = None,
) -> CalibrationError:
    """Binned (expected) calibration error, optionally debiased, with a bootstrap interval.

    The confidences are cut into ``n_bins`` bins (``"uniform"``: equal width on [0, 1];
    ``"quantile"``: equal counts) and the error is ``sum_b (n_b/n) |acc_b - conf_b|^power``
    with ``acc_b`` the observed frequency and ``conf_b`` the mean confidence in bin ``b``.

    The plug-in estimate is biased upwards: even a perfectly calibrated model shows a
    positive gap from sampling noise. ``debiased=True`` removes the bias as in Kumar, Liang
    and Ma (2019): for ``power=2`` the per-bin variance ``acc_b(1-acc_b)/(n_b-1)`` is
    subtracted, which makes the estimate unbiased for the binned squared error (it can be
    negative); for ``power=1`` their normal-approximation correction
    ``2 * plug-in - E|gap_b + sigma_b Z|`` is used, with the expectation in closed form.

    Guarantee
    ---------
    The debiased ``power=2`` estimate is exactly unbiased for the binned squared error of
    the bins (given the bin counts, rows independent). The interval is the basic
    (pivotal) bootstrap (rows resampled, bin edges kept; the bootstrap law of
    ``replicate - plug-in`` stands in for that of ``estimate - truth``), clipped at 0:
    approximate coverage ``1 - alpha`` of the binned error of the population for large
    ``n`` when that error is away from zero; at zero the estimate sits on a boundary and
    the interval is not valid (use :func:`calibration_test` for "is it calibrated?"). The
    binned error depends on ``n_bins`` and ``strategy`` and lower-bounds the unbinned one
    (Kumar et al., 2019).

    Parameters
    ----------
    probs, y
        Probabilities and labels (module docstring).
    n_bins, strategy
        The binning.
    power
        1 (the usual ECE) or 2 (squared l2 calibration error, not square-rooted).
    debiased
        Apply the bias correction above.
    alpha
        One minus the level of the bootstrap interval.
    n_bootstrap
        Bootstrap resamples (at least 10).
    seed
        Seed of the bootstrap.

    References
    ----------
    Naeini, Cooper and Hauskrecht (2015), Obtaining well calibrated probabilities using
    Bayesian binning, AAAI. Kumar, Liang and Ma (2019), Verified uncertainty calibration,
    NeurIPS.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> p = rng.random(5000)
    >>> y = (rng.random(5000) < p).astype(int)
    >>> abs(calibration_error(p, y, power=2, debiased=True, seed=0).estimate) < 1e-3
    True
    """
    _check_binning(n_bins, strategy, alpha, n_bootstrap)
    if power not in (1, 2):
        raise ParameterError(f"power must be 1 or 2, got {power!r}")
    conf, outcome = checked_pair(probs, y)
    edges = _bin_edges(conf, n_bins, strategy)
    k = edges.size - 1
    bins = _assign_bins(conf, edges)
    sums = _bin_sums(bins, conf, outcome, k)
    estimate = float(_error_from_sums(*sums, power, debiased)[0])
    # In the bootstrap world the true binned error is the plug-in value of the sample, so
    # the replicates minus it estimate the law of (estimate - truth): the basic (pivotal)
    # interval, which unlike the percentile one corrects for the upward bias.
    empirical = float(_error_from_sums(*sums, power, False)[0])
    boot = _error_from_sums(
        *_bootstrap_sums(bins, conf, outcome, k, n_bootstrap, as_rng(seed)), power, debiased
    )
    # (B + 1) alpha / 2-th order statistics (Hall 1986), not NumPy's interpolation.
    q_lo, q_hi = np.quantile(boot - empirical, [alpha / 2, 1 - alpha / 2], method="weibull")
    lower, upper = max(estimate - q_hi, 0.0), max(estimate - q_lo, 0.0)
    return CalibrationError(
        estimate=estimate, lower=float(lower), upper=float(upper), power=power,
        debiased=bool(debiased), strategy=strategy, n_bins=int((sums[0] > 0).sum()),
        n=conf.shape[0], alpha=float(alpha), n_bootstrap=n_bootstrap,
    )


def reliability_curve(
    probs: Any,
    y: Any,
    *,
    n_bins: int = 15,
    strategy: str = "uniform",
    interval: str = "clopper-pearson",
    alpha: float = 0.05,
    n_bootstrap: int = 1000,
    seed: int | np.random.Generator | None = None,
) -> ReliabilityCurve:
    """Reliability diagram: mean confidence against observed frequency per bin, with intervals.

    Guarantee
    ---------
    Pointwise, not simultaneous, intervals for each bin's true frequency
    ``P(outcome = 1 | confidence in bin)``, rows i.i.d. ``interval="clopper-pearson"``
    (default): exact, coverage at least ``1 - alpha`` for every bin size (given the bin
    count, the bin's outcomes are i.i.d. Bernoulli of that frequency).
    ``interval="bootstrap"``: percentile bootstrap of the rows, asymptotic; it collapses to
    a point for a bin whose outcomes are all equal, so it undercovers bins with few events
    of either kind (in the validity tests: 0.2 instead of 0.95 for a bin with 0.3 events
    on average) — use it only for bins with many of both.

    Parameters
    ----------
    probs, y
        Probabilities and labels (module docstring).
    n_bins, strategy
        The binning, as in :func:`calibration_error`.
    interval
        ``"clopper-pearson"`` or ``"bootstrap"``.
    alpha
        One minus the pointwise level.
    n_bootstrap, seed
        Bootstrap resamples and their seed (bootstrap intervals only).

    References
    ----------
    DeGroot and Fienberg (1983), The comparison and evaluation of forecasters, The
    Statistician 32. Clopper and Pearson (1934), Biometrika 26.
    """
    _check_binning(n_bins, strategy, alpha, n_bootstrap)
    check_choice(interval, "interval", ("bootstrap", "clopper-pearson"))
    conf, outcome = checked_pair(probs, y)
    edges = _bin_edges(conf, n_bins, strategy)
    k = edges.size - 1
    bins = _assign_bins(conf, edges)
    count, conf_sum, out_sum = (s[0] for s in _bin_sums(bins, conf, outcome, k))
    used = count > 0
    if interval == "clopper-pearson":
        lower, upper = clopper_pearson(out_sum[used], count[used], alpha)
    else:
        b_count, _, b_out = _bootstrap_sums(bins, conf, outcome, k, n_bootstrap, as_rng(seed))
        with np.errstate(invalid="ignore", divide="ignore"):
            freq = b_out[:, used] / b_count[:, used]
        lower, upper = np.nanquantile(freq, [alpha / 2, 1 - alpha / 2], axis=0,
                                      method="weibull")
    return ReliabilityCurve(
        bin_lower=edges[:-1][used], bin_upper=edges[1:][used],
        confidence=conf_sum[used] / count[used], accuracy=out_sum[used] / count[used],
        count=count[used].astype(np.int64), lower=lower, upper=upper, interval=interval,
        alpha=float(alpha),
    )
