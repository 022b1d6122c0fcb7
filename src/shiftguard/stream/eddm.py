"""EDDM: the early drift detection method, on distances between errors."""

from __future__ import annotations

import math
from math import sqrt
from typing import Self

import numpy as np
from numba import njit

from shiftguard._validation import check_positive_int, check_positive_number
from shiftguard.errors import ParameterError
from shiftguard.stream._base import StreamDetector, scalar_value

_N, _LAST_ERROR, _N_ERRORS, _GAP_MEAN, _GAP_M2, _P2S_MAX, _WARNING = range(7)
#: the state after _N, fresh
_FRESH_ERRORS = (0.0, 0.0, 0.0, 0.0, -1.0, 0.0)
#: Per-value holding (EDDM._try_hold): the fewest errors a stretch must be allowed to be
#: worth holding, errors between attempts, and the margin kept above rounding.
_ONES_MIN, _RETRY, _MARGIN = 8, 16, 1e-9


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


class EDDM(StreamDetector):
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
        if self._ones_left:
            self._release()
        return bool(self._warning)

    def update(self, x: float) -> Self:
        """Feed one value (0 or 1); afterwards ``drift_detected`` tells whether it alarmed."""
        if type(x) is float and x == 0.0:  # most values: only the count moves
            self._n += 1.0
            self.drift_detected = False
            return self
        if type(x) is not float or x != 1.0:
            if scalar_value(x, self._support) == 0.0:
                return self.update(0.0)
        # an error: _eddm_run's arithmetic, operation for operation, on Python floats kept
        # in one attribute each (cheaper to read and write than a tuple of the state)
        n = self._n + 1.0
        self._n = n
        if self._ones_left:
            # a stretch that cannot alarm (_try_hold): note where the error is and leave the
            # arithmetic to one kernel call at the stretch's end
            self._ones_at.append(n)
            self._ones_left -= 1
            if not self._ones_left:
                self._release()
                self._try_hold()
            return self
        n_errors = self._n_errors + 1.0
        gap = n - self._last_error
        old_mean = self._gap_mean
        gap_mean = old_mean + (gap - old_mean) / n_errors
        gap_m2 = self._gap_m2 + (gap - old_mean) * (gap - gap_mean)
        self._last_error = n
        self._n_errors = n_errors
        self._gap_mean = gap_mean
        self._gap_m2 = gap_m2
        if n <= self._warm_start:
            # a run restarts after an alarm, so this is where the flag goes down
            self.drift_detected = False
            return self
        gap_var = gap_m2 / (n_errors - 1.0) if n_errors > 1.0 else 0.0
        p2s = gap_mean + 2.0 * sqrt(gap_var)
        if p2s > self._p2s_max:
            self._p2s_max = p2s
        elif n_errors > self._warm_start:
            level = p2s / self._p2s_max
            if level < self.beta:
                self._n_before_run += int(n)
                self._n = 0.0
                self._set_errors(_FRESH_ERRORS)
                self.drift_detected = True
                return self
            self._warning = 1.0 if level < self.alpha else 0.0
        self._retry -= 1
        if not self._retry:
            self._try_hold()
        return self

    def _try_hold(self) -> None:
        """Start holding errors if the next ones provably cannot alarm, else retry later.

        With ``e`` errors seen, one more error (any gap >= 1) leaves the gap mean at least
        ``(1 - 1/e)`` times what it was and the gap variance at least ``(e - 1)/e`` times,
        so :math:`p' + 2s'` falls by at most the factor ``1 - 1/e`` per error, zeros leave
        it alone. After at most ``m`` errors it is therefore at least ``(1 - 1/e)**m`` times
        its current value and times any maximum set in between: no alarm can fire while
        that bound, times the current ratio to the maximum, stays above ``beta`` -- with a
        margin far above the rounding of the kernel's arithmetic, so the alarms stay
        exact; ``_release`` checks it.
        """
        self._retry = _RETRY
        e = self._n_errors
        if e < 2.0:
            return
        p2s = self._gap_mean + 2.0 * sqrt(self._gap_m2 / (e - 1.0))
        ratio = min(1.0, p2s / self._p2s_max) if self._p2s_max > 0.0 else 1.0
        room = math.log(self.beta * (1.0 + _MARGIN) / ratio)  # < 0 if any error can be held
        ones = int(room / math.log1p(-1.0 / e)) - 1 if room < 0.0 else 0
        if ones >= _ONES_MIN:
            self._ones_left = ones
            self._hold_from = self._n

    def _release(self) -> None:
        """Run the held values through the kernel: the state the per-value path would have."""
        start = self._hold_from
        xs = np.zeros(int(self._n - start))
        xs[(np.array(self._ones_at) - (start + 1.0)).astype(np.int64)] = 1.0
        s = np.array((start, self._last_error, self._n_errors, self._gap_mean, self._gap_m2,
                      self._p2s_max, self._warning))
        alarms = np.empty(xs.size, dtype=np.int64)
        if _eddm_run(xs, s, self._warm_start, self.alpha, self.beta, alarms):
            raise RuntimeError("EDDM: an alarm in a stretch certified alarm-free")  # a bug
        self._n, *errors = s.tolist()
        self._set_errors(tuple(errors))
        self._stop_holding()
        self._retry = 1  # try to hold again at the next error

    def _stop_holding(self) -> None:
        self._ones_left = 0
        self._ones_at: list[float] = []

    def _set_errors(self, errors: tuple[float, ...]) -> None:
        (self._last_error, self._n_errors, self._gap_mean, self._gap_m2, self._p2s_max,
         self._warning) = errors

    def _sync(self) -> None:
        if self._ones_left:
            self._release()
        self._state["s"][:] = (
            self._n, self._last_error, self._n_errors, self._gap_mean, self._gap_m2,
            self._p2s_max, self._warning,
        )
        self._n_seen = self._n_before_run + int(self._n)

    def _load(self) -> None:
        self._warm_start = float(self.warm_start)
        self._n, *errors = self._state["s"].tolist()
        self._set_errors(tuple(errors))
        self._n_before_run = self._n_seen - int(self._n)
        self._stop_holding()
        self._retry = 1

    def _initial_state(self) -> dict[str, np.ndarray]:
        s = np.empty(7)
        _restart(s)
        return {"s": s}

    def _process(self, xs: np.ndarray, alarms: np.ndarray) -> int:
        return _eddm_run(
            xs, self._state["s"], float(self.warm_start), self.alpha, self.beta, alarms
        )
