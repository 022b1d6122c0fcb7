"""Wald's sequential probability ratio test, repeated, for a Gaussian mean or a Bernoulli rate."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from shiftguard._validation import check_alpha, check_positive_number
from shiftguard.errors import ParameterError
from shiftguard.stream._base import StreamDetector

_LLR, _N_ACCEPTED, _CYCLE_LENGTH = range(3)


@njit(cache=True)
def _sprt_run(increments, s, upper, lower, alarms):
    n_alarms = 0
    for i in range(increments.size):
        s[_LLR] += increments[i]
        s[_CYCLE_LENGTH] += 1.0
        if s[_LLR] >= upper:
            alarms[n_alarms] = i
            n_alarms += 1
            s[_LLR] = 0.0
            s[_CYCLE_LENGTH] = 0.0
        elif s[_LLR] <= lower:
            s[_N_ACCEPTED] += 1.0
            s[_LLR] = 0.0
            s[_CYCLE_LENGTH] = 0.0
    return n_alarms


def wald_boundaries(alpha: float, beta: float) -> tuple[float, float]:
    """Wald's log-likelihood-ratio boundaries ``(log((1-beta)/alpha), log(beta/(1-alpha)))``."""
    return math.log((1.0 - beta) / alpha), math.log(beta / (1.0 - alpha))


class _RepeatedSPRT(StreamDetector):
    """Shared mechanics: subclasses turn values into log-likelihood-ratio increments."""

    alpha: float
    beta: float

    def _check_levels(self, alpha: float, beta: float) -> None:
        self.alpha = check_alpha(alpha)
        self.beta = check_alpha(beta, "beta")
        if self.alpha + self.beta >= 1.0:
            raise ParameterError("alpha + beta must be below 1")
        self.reset()

    @property
    def log_likelihood_ratio(self) -> float:
        """Log-likelihood ratio of H1 to H0 accumulated in the current cycle."""
        return float(self._state["s"][_LLR])

    @property
    def n_accepted(self) -> int:
        """Cycles that ended by accepting H0 (each is followed by a fresh cycle)."""
        return int(self._state["s"][_N_ACCEPTED])

    def _increments(self, xs: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _initial_state(self) -> dict[str, np.ndarray]:
        return {"s": np.zeros(3)}

    def _process(self, xs: np.ndarray, alarms: np.ndarray) -> int:
        upper, lower = wald_boundaries(self.alpha, self.beta)
        return _sprt_run(self._increments(xs), self._state["s"], upper, lower, alarms)


class GaussianSPRT(_RepeatedSPRT):
    """Repeated Wald SPRT of a Normal mean ``mean0`` against ``mean1`` (known ``std``).

    The log-likelihood ratio of a value is
    :math:`(\\mu_1 - \\mu_0)(x - (\\mu_0 + \\mu_1)/2)/\\sigma^2`; a cycle alarms when the
    sum reaches the upper boundary and restarts (accepting H0) at the lower one.

    Parameters
    ----------
    mean0, mean1
        Mean under the null and under the stated alternative (distinct).
    std
        Known standard deviation of the values.
    alpha, beta
        Target type-I and type-II error probability of each cycle.

    Notes
    -----
    Guarantee (Wald 1945): each cycle is an SPRT of H0 against H1 with boundaries
    ``log((1-beta)/alpha)`` and ``log(beta/(1-alpha))``; its error probabilities
    satisfy P(alarm | H0) <= alpha / (1 - beta) and P(accept | H1) <= beta / (1 - alpha)
    (and their sum is at most alpha + beta). When a cycle accepts H0 a fresh cycle starts,
    so on a long null stream alarms recur: the average run length to a false alarm is
    about E0[cycle length] / P(alarm | H0). The validity test checks the per-cycle
    false-alarm rate on null streams.

    After an alarm a fresh cycle starts from the next value.

    References
    ----------
    A. Wald (1945). Sequential tests of statistical hypotheses. Ann. Math. Statist.
    16(2), 117–186.

    Examples
    --------
    >>> import numpy as np
    >>> from shiftguard.stream import GaussianSPRT
    >>> rng = np.random.default_rng(0)
    >>> stream = np.r_[rng.normal(0, 1, 500), rng.normal(1, 1, 100)]
    >>> GaussianSPRT(mean0=0.0, mean1=1.0, std=1.0, alpha=0.001).update_many(stream)
    array([514, 526, 533, 550, 566, 575])
    """

    _params = ("mean0", "mean1", "std", "alpha", "beta")

    def __init__(
        self, mean0: float, mean1: float, std: float = 1.0, alpha: float = 0.01,
        beta: float = 0.01,
    ) -> None:
        self.mean0, self.mean1 = float(mean0), float(mean1)
        if not (math.isfinite(self.mean0) and math.isfinite(self.mean1)) or mean0 == mean1:
            raise ParameterError(f"mean0 and mean1 must be finite and differ: {mean0}, {mean1}")
        self.std = check_positive_number(std, "std")
        self._check_levels(alpha, beta)

    def _increments(self, xs: np.ndarray) -> np.ndarray:
        gap = self.mean1 - self.mean0
        return gap * (xs - 0.5 * (self.mean0 + self.mean1)) / self.std**2


class BernoulliSPRT(_RepeatedSPRT):
    """Repeated Wald SPRT of a 0/1 rate ``p0`` against ``p1``.

    The log-likelihood ratio of a value is
    :math:`x \\log(p_1/p_0) + (1 - x)\\log((1-p_1)/(1-p_0))`; a cycle alarms at the
    upper boundary and restarts (accepting H0) at the lower one.

    Parameters
    ----------
    p0, p1
        Rate under the null and under the stated alternative, distinct, in (0, 1).
    alpha, beta
        Target type-I and type-II error probability of each cycle.

    Notes
    -----
    Guarantee (Wald 1945): each cycle is an SPRT of H0 against H1 with boundaries
    ``log((1-beta)/alpha)`` and ``log(beta/(1-alpha))``; its error probabilities
    satisfy P(alarm | H0) <= alpha / (1 - beta) and P(accept | H1) <= beta / (1 - alpha)
    (and their sum is at most alpha + beta). When a cycle accepts H0 a fresh cycle starts,
    so on a long null stream alarms recur: the average run length to a false alarm is
    about E0[cycle length] / P(alarm | H0). The validity test checks the per-cycle
    false-alarm rate on null streams. Values must be exactly 0 or 1.

    After an alarm a fresh cycle starts from the next value.

    References
    ----------
    A. Wald (1945). Sequential tests of statistical hypotheses. Ann. Math. Statist.
    16(2), 117–186.

    Examples
    --------
    >>> import numpy as np
    >>> from shiftguard.stream import BernoulliSPRT
    >>> rng = np.random.default_rng(0)
    >>> errors = np.r_[rng.random(2000) < 0.1, rng.random(300) < 0.3].astype(float)
    >>> BernoulliSPRT(p0=0.1, p1=0.2, alpha=0.001).update_many(errors)
    array([2036, 2087, 2124, 2167, 2253])
    """

    _support = "binary"
    _params = ("p0", "p1", "alpha", "beta")

    def __init__(self, p0: float, p1: float, alpha: float = 0.01, beta: float = 0.01) -> None:
        self.p0 = check_alpha(p0, "p0")
        self.p1 = check_alpha(p1, "p1")
        if self.p0 == self.p1:
            raise ParameterError("p0 and p1 must differ")
        self._check_levels(alpha, beta)

    def _increments(self, xs: np.ndarray) -> np.ndarray:
        on_error = math.log(self.p1 / self.p0)
        on_success = math.log((1.0 - self.p1) / (1.0 - self.p0))
        return np.where(xs == 1.0, on_error, on_success)
