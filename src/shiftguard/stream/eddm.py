"""EDDM: the early drift detection method, on distances between errors."""

from __future__ import annotations

from math import sqrt

import numpy as np
from numba import carray, njit

from shiftguard._validation import check_positive_int, check_positive_number
from shiftguard.errors import ParameterError
from shiftguard.stream._base import NativeDetector

_N, _LAST_ERROR, _N_ERRORS, _GAP_MEAN, _GAP_M2, _P2S_MAX, _WARNING = range(7)


@njit(cache=True)
def _restart(s: np.ndarray) -> None:
    s[:] = 0.0
    s[_P2S_MAX] = -1.0


@njit(cache=True)
def _eddm_run(xs, s, warm_start, warning_level, drift_level, alarms):
    n_alarms = 0
    for i in range(xs.size):
        s[_N] += 1.0
        if xs[i] != 1.0:
            continue
        s[_N_ERRORS] += 1.0
        gap = s[_N] - s[_LAST_ERROR]
        old_mean = s[_GAP_MEAN]
        s[_GAP_MEAN] += (gap - old_mean) / s[_N_ERRORS]
        s[_GAP_M2] += (gap - old_mean) * (gap - s[_GAP_MEAN])
        s[_LAST_ERROR] = s[_N]
        if s[_N] <= warm_start:
            continue
        gap_var = s[_GAP_M2] / (s[_N_ERRORS] - 1.0) if s[_N_ERRORS] > 1.0 else 0.0
        p2s = s[_GAP_MEAN] + 2.0 * sqrt(gap_var)
        if p2s > s[_P2S_MAX]:
            s[_P2S_MAX] = p2s
        elif s[_N_ERRORS] > warm_start:
            level = p2s / s[_P2S_MAX]
            if level < drift_level:
                alarms[n_alarms] = i
                n_alarms += 1
                _restart(s)
            else:
                s[_WARNING] = 1.0 if level < warning_level else 0.0
    return n_alarms


def _eddm_native(xs, n, s, _unused1, _unused2, p, alarms):
    """:func:`_eddm_run` behind the C signature of the compiled ``update``."""
    return _eddm_run(carray(xs, (n,)), carray(s, (7,), np.float64), p[0], p[1], p[2],
                     carray(alarms, (n,)))


class EDDM(NativeDetector):
    """Early Drift Detection Method for a stream of 0/1 errors (1 = error).

    Tracks the mean :math:`p'` and standard deviation :math:`s'` of the distance between
    consecutive errors and the maximum :math:`m` of :math:`p' + 2s'`; warns when
    :math:`(p' + 2s')/m <` ``alpha`` and alarms when it falls below ``beta``, once more
    than ``warm_start`` values and errors are seen. Aimed at gradual drifts. Defaults
    follow river's ``binary.EDDM``.

    Parameters
    ----------
    warm_start
        Values (and errors) seen before warnings and alarms can fire.
    alpha, beta
        Warning and drift levels, ``0 < beta <= alpha < 1``.

    Notes
    -----
    Guarantee: none; the levels are heuristic ratios, not significance levels. Measured
    on Bernoulli(0.1) null streams with the defaults: P(any alarm within 10,000 values)
    = 0.97 (4,000 streams; ``bench/stream/null_rates.py``): EDDM alarms often on
    stationary streams, which ``tests/validity/test_stream_classical.py`` checks with
    fresh seeds. Only increases of the error rate (shorter
    gaps) are detected. Values must be exactly 0 or 1.

    After an alarm the detector restarts from the next value.

    References
    ----------
    M. Baena-García, J. del Campo-Ávila, R. Fidalgo, A. Bifet, R. Gavaldà and
    R. Morales-Bueno (2006). Early drift detection method. 4th Int. Workshop on
    Knowledge Discovery from Data Streams.

    Examples
    --------
    >>> import numpy as np
    >>> from shiftguard.stream import EDDM
    >>> rng = np.random.default_rng(0)
    >>> errors = np.r_[rng.random(1000) < 0.05, rng.random(1000) < 0.5].astype(float)
    >>> EDDM().update_many(errors)[:4]
    array([ 744, 1026, 1094, 1245])
    """

    _support = "binary"
    _kernel = _eddm_native
    _params = ("warm_start", "alpha", "beta")

    def __init__(self, warm_start: int = 30, alpha: float = 0.95, beta: float = 0.9) -> None:
        self.warm_start = check_positive_int(warm_start, "warm_start")
        self.alpha = check_positive_number(alpha, "alpha")
        self.beta = check_positive_number(beta, "beta")
        if not self.beta <= self.alpha < 1.0:
            raise ParameterError(f"need 0 < beta <= alpha < 1, got alpha={alpha}, beta={beta}")
        self.reset()

    @property
    def warning_detected(self) -> bool:
        """Whether the last error left the detector in the warning zone."""
        return bool(self._state["s"][_WARNING])

    def _native_binding(self) -> tuple[tuple[np.ndarray, ...], int, int]:
        params = np.array([self.warm_start, self.alpha, self.beta], dtype=np.float64)
        s = self._state["s"]
        return (s, s, s, params), 1, 1  # every value can alarm

    def _initial_state(self) -> dict[str, np.ndarray]:
        s = np.empty(7)
        _restart(s)
        return {"s": s}

    def _process(self, xs: np.ndarray, alarms: np.ndarray) -> int:
        return _eddm_run(
            xs, self._state["s"], float(self.warm_start), self.alpha, self.beta, alarms
        )
