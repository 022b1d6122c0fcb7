"""DDM: the drift detection method of Gama et al. for a stream of 0/1 errors."""

from __future__ import annotations

import math
from math import sqrt
from typing import Self

import numpy as np
from numba import njit

from shiftguard._validation import check_positive_int, check_positive_number
from shiftguard.errors import ParameterError
from shiftguard.stream._base import BIG, StreamDetector, scalar_value

#: state layout: count, error rate, p_min, s_min, p_min + s_min, warning flag
FRESH_STATE = (0.0, 0.0, 0.0, 0.0, BIG, 0.0)
_FRESH_RUN = FRESH_STATE[:5]
#: Per-value holding (DDM._try_hold): most values held at once, fewest worth holding, the
#: fewest ones a stretch must be allowed to be worth it, values between attempts, and the
#: margin kept above rounding in the bounds.
_HOLD_MAX, _HOLD_MIN, _ONES_MIN, _RETRY, _MARGIN = 4096, 64, 8, 64, 1e-9


@njit(cache=True)
def _ddm_run(xs, s, warm_start, warning_threshold, drift_threshold, alarms):
    # the state lives in locals during the loop (registers, not memory) and is written back
    n, p, p_min, s_min, ps_min, warning = s[0], s[1], s[2], s[3], s[4], s[5]
    n_alarms = 0
    for i in range(xs.size):
        n += 1.0
        p += (xs[i] - p) / n
        if n > warm_start:
            sd = sqrt(p * (1.0 - p) / n)
            if p + sd <= ps_min:
                p_min, s_min, ps_min = p, sd, p + sd
            warning = 1.0 if p + sd > p_min + warning_threshold * s_min else 0.0
            if p + sd > p_min + drift_threshold * s_min:
                alarms[n_alarms] = i
                n_alarms += 1
                n, p, p_min, s_min, ps_min, warning = 0.0, 0.0, 0.0, 0.0, BIG, 0.0
    s[0], s[1], s[2], s[3], s[4], s[5] = n, p, p_min, s_min, ps_min, warning
    return n_alarms


class DDM(StreamDetector):
    """Drift Detection Method for a stream of 0/1 errors (1 = error).

    Tracks the error rate :math:`p_t` and :math:`s_t = \\sqrt{p_t(1-p_t)/t}`, records
    the minimum of :math:`p_t + s_t` after ``warm_start`` values, warns when
    :math:`p_t + s_t > p_{min} + 2 s_{min}` and alarms when it exceeds
    :math:`p_{min} + 3 s_{min}`. Defaults follow river's ``binary.DDM``.

    Parameters
    ----------
    warm_start
        Values seen before warnings and alarms can fire.
    warning_threshold, drift_threshold
        Multiples of :math:`s_{min}` for the warning and the alarm.

    Notes
    -----
    Guarantee: none in finite samples. The rule is a three-sigma rule under a normal
    approximation of the binomial, applied at every step to a data-chosen minimum, so
    its per-step level is not 0.13%. Measured on Bernoulli(0.1) null streams with the
    defaults: P(any alarm within 10,000 values) = 0.45 (4,000 streams;
    ``bench/stream/null_rates.py``); checked with fresh seeds in
    ``tests/validity/test_stream_classical.py``. Only increases of the
    error rate are detected. Values must be exactly 0 or 1.

    After an alarm the detector restarts from the next value; ``warning_detected`` is
    the warning state after the last value.

    References
    ----------
    J. Gama, P. Medas, G. Castillo and P. Rodrigues (2004). Learning with drift
    detection. SBIA 2004, LNCS 3171, 286–295.

    Examples
    --------
    >>> import numpy as np
    >>> from shiftguard.stream import DDM
    >>> rng = np.random.default_rng(0)
    >>> errors = np.r_[rng.random(1000) < 0.1, rng.random(1000) < 0.3].astype(float)
    >>> DDM().update_many(errors)
    array([1052])
    """

    _support = "binary"
    _params = ("warm_start", "warning_threshold", "drift_threshold")

    def __init__(
        self, warm_start: int = 30, warning_threshold: float = 2.0, drift_threshold: float = 3.0
    ) -> None:
        self.warm_start = check_positive_int(warm_start, "warm_start")
        self.warning_threshold = check_positive_number(warning_threshold, "warning_threshold")
        self.drift_threshold = check_positive_number(drift_threshold, "drift_threshold")
        if self.drift_threshold < self.warning_threshold:
            raise ParameterError("drift_threshold must be >= warning_threshold")
        self.reset()

    @property
    def warning_detected(self) -> bool:
        """Whether the last value left the detector in the warning zone."""
        if self._hold_left:
            self._release()
        # a function of the rest of the state, so the per-value path need not keep it
        n, p, (p_min, s_min, _) = self._n, self._p, self._minimum
        if n <= self._warm_start:
            return False
        return p + sqrt(p * (1.0 - p) / n) > p_min + self.warning_threshold * s_min

    def update(self, x: float) -> Self:
        """Feed one value (0 or 1); afterwards ``drift_detected`` tells whether it alarmed."""
        if type(x) is not float or (x != 0.0 and x != 1.0):
            x = scalar_value(x, self._support)
        left = self._hold_left
        if left:
            # a stretch that cannot alarm (_try_hold): count the value down, note where the
            # ones are, and leave the arithmetic to one kernel call at the stretch's end
            if x == 1.0:
                if not self._ones_left:  # more ones than certified: back to value by value
                    self._release()
                    return self.update(x)
                self._ones_left -= 1
                self._ones_at.append(self._hold_limit - left)
            left -= 1
            self._hold_left = left
            if not left:
                self._release()
                self._try_hold()
            return self
        # _ddm_run's arithmetic, operation for operation, on Python floats
        n = self._n + 1.0
        p = self._p
        p += (x - p) / n
        self._n = n
        self._p = p
        if n <= self._warm_start:
            # a run restarts after an alarm, so this is where the flag goes down
            self.drift_detected = False
            return self
        sd = sqrt(p * (1.0 - p) / n)
        ps = p + sd
        if ps <= self._ps_min:
            self._set_minimum(p, sd, ps)
        if ps > self._drift_level:
            self._n_before_run += int(n)
            self._set_run(_FRESH_RUN)
            self.drift_detected = True
            return self
        self._retry -= 1
        if not self._retry:
            self._try_hold()
        return self

    def _try_hold(self) -> None:
        """Start holding values if the next ones provably cannot alarm, else retry later.

        With ``n`` values seen and error rate ``p``, over the next ``K`` values holding at
        most ``m`` ones the rate stays in ``[n p / (n + K), (n p + m) / (n + m)]`` and
        :math:`s` between the bounds ``s_lo`` and ``s_hi`` that range gives. No alarm can
        fire if (a) the rate's upper bound plus ``s_hi`` stays below the current alarm
        level, and (b) the rise of :math:`p + s` after any new minimum, at most
        ``m / (n + 1) + s_hi``, stays below the ``drift_threshold * s_lo`` gap between a
        new minimum and its alarm level (a new minimum itself cannot alarm when
        ``drift_threshold >= 1``). Both hold with a margin far above the rounding of the
        kernel's arithmetic, so the alarms stay exact; ``_release`` checks it.
        """
        self._retry = _RETRY
        n, p, c = self._n, self._p, self.drift_threshold
        if not 0.0 < p < 1.0 or c < 1.0 or n <= self._warm_start:
            return
        limit = min(_HOLD_MAX, max(_HOLD_MIN, int(n) // 4))
        level = self._drift_level if self._ps_min < BIG else math.inf
        sd = sqrt(p * (1.0 - p) / n)
        # half the room the current rate and spread leave, in ones; the bounds decide
        ones = int(0.5 * n * min(level - p - sd, (c - 1.0) * sd))
        while ones >= _ONES_MIN:
            p_lo, p_hi = n * p / (n + limit), (n * p + ones) / (n + ones)
            v_lo = min(p_lo * (1.0 - p_lo), p_hi * (1.0 - p_hi))
            v_hi = 0.25 if p_lo <= 0.5 <= p_hi else max(p_lo * (1.0 - p_lo), p_hi * (1.0 - p_hi))
            s_hi, s_lo = sqrt(v_hi / (n + 1.0)), sqrt(v_lo / (n + limit))
            if (p_hi + s_hi < level - _MARGIN
                    and ones / (n + 1.0) + s_hi - c * s_lo < -_MARGIN):
                self._hold_limit = self._hold_left = limit
                self._ones_left = ones
                return
            ones //= 2

    def _release(self) -> None:
        """Run the held values through the kernel: the state the per-value path would have."""
        xs = np.zeros(self._hold_limit - self._hold_left)
        xs[self._ones_at] = 1.0
        s = np.array((self._n, self._p, *self._minimum, 0.0))
        alarms = np.empty(xs.size, dtype=np.int64)
        if _ddm_run(xs, s, self._warm_start, self.warning_threshold, self.drift_threshold,
                    alarms):
            raise RuntimeError("DDM: an alarm in a stretch certified alarm-free")  # a bug
        self._set_run(tuple(s.tolist()[:5]))
        self._stop_holding()
        self._retry = 1  # try to hold again after the next value

    def _stop_holding(self) -> None:
        self._hold_limit = self._hold_left = self._ones_left = 0
        self._ones_at: list[int] = []

    def _set_minimum(self, p_min: float, s_min: float, ps_min: float) -> None:
        self._minimum = (p_min, s_min, ps_min)
        self._ps_min = ps_min
        self._drift_level = p_min + self.drift_threshold * s_min

    def _set_run(self, run: tuple[float, ...]) -> None:
        self._n, self._p, *minimum = run
        self._set_minimum(*minimum)

    def _sync(self) -> None:
        if self._hold_left:
            self._release()
        self._state["s"][:] = (self._n, self._p, *self._minimum, float(self.warning_detected))
        self._n_seen = self._n_before_run + int(self._n)

    def _load(self) -> None:
        self._warm_start = float(self.warm_start)
        self._set_run(tuple(self._state["s"].tolist()[:5]))
        self._n_before_run = self._n_seen - int(self._n)
        self._stop_holding()
        self._retry = 1

    def _initial_state(self) -> dict[str, np.ndarray]:
        return {"s": np.array(FRESH_STATE)}

    def _process(self, xs: np.ndarray, alarms: np.ndarray) -> int:
        return _ddm_run(
            xs, self._state["s"], float(self.warm_start), self.warning_threshold,
            self.drift_threshold, alarms,
        )
