"""Page–Hinkley test for a change in the mean of a stream."""

from __future__ import annotations

import numpy as np
from numba import carray, njit

from shiftguard._validation import check_choice, check_positive_int, check_positive_number
from shiftguard.errors import ParameterError
from shiftguard.stream._base import BIG, NativeDetector

MODES = ("both", "up", "down")
#: state layout: count, running mean, the two cumulative sums, their running min / max
FRESH_STATE = (0.0, 0.0, 0.0, 0.0, BIG, -BIG)


@njit(cache=True)
def _page_hinkley_run(xs, s, min_instances, delta, threshold, forgetting, up, down, alarms):
    # the state lives in locals during the loop (registers, not memory) and is written back
    n, mean, sum_up, sum_down, min_up, max_down = s[0], s[1], s[2], s[3], s[4], s[5]
    n_alarms = 0
    for i in range(xs.size):
        x = xs[i]
        n += 1.0
        mean += (x - mean) / n
        deviation = x - mean
        sum_up = forgetting * sum_up + deviation - delta
        sum_down = forgetting * sum_down + deviation + delta
        min_up = min(min_up, sum_up)
        max_down = max(max_down, sum_down)
        if n >= min_instances:
            rise = up and sum_up - min_up > threshold
            fall = down and max_down - sum_down > threshold
            if rise or fall:
                alarms[n_alarms] = i
                n_alarms += 1
                n, mean, sum_up, sum_down, min_up, max_down = 0.0, 0.0, 0.0, 0.0, BIG, -BIG
    s[0], s[1], s[2], s[3], s[4], s[5] = n, mean, sum_up, sum_down, min_up, max_down
    return n_alarms


def _page_hinkley_native(xs, n, s, _unused1, _unused2, p, alarms):
    """:func:`_page_hinkley_run` behind the C signature of the compiled ``update``."""
    return _page_hinkley_run(carray(xs, (n,)), carray(s, (6,), np.float64), p[0], p[1], p[2],
                             p[3], p[4] != 0.0, p[5] != 0.0, carray(alarms, (n,)))


class PageHinkley(NativeDetector):
    """Page–Hinkley test for an increase and/or decrease of a stream's mean.

    Keeps the running mean :math:`\\bar x_t` and the cumulative deviations
    :math:`U_t = f U_{t-1} + (x_t - \\bar x_t - \\delta)` (and the mirror image
    :math:`D_t` with :math:`+\\delta`); alarms when :math:`U_t - \\min_{s \\le t} U_s` or
    :math:`\\max_{s \\le t} D_s - D_t` exceeds ``threshold``, after at least
    ``min_instances`` values. Defaults follow river's ``PageHinkley``.

    Parameters
    ----------
    min_instances
        Values seen before the first alarm can fire.
    delta
        Magnitude of change tolerated (the allowance).
    threshold
        Alarm threshold (lambda), in units of the data.
    forgetting_factor
        Weight ``f`` of past deviations (river's ``alpha``); 1 means no forgetting.
    mode
        ``"both"``, ``"up"`` (increases only) or ``"down"`` (decreases only).

    Notes
    -----
    Guarantee: none in closed form, because the mean is estimated from the stream. With
    ``forgetting_factor=1`` and a known mean it is Page's CUSUM with allowance ``delta``
    and threshold ``threshold`` (see :class:`~shiftguard.stream.CUSUM` and
    :func:`~shiftguard.stream.cusum_average_run_length`). Measured on standard-normal
    null streams with the defaults: P(any alarm within 1,000 values) = 0.33 and the
    mean run length between false alarms is 1,600 (s.e. 20) -- the default threshold
    alarms often on unit-variance data (``bench/stream/null_rates.py``, 4,000 streams;
    ``tests/validity/test_stream_classical.py`` checks both with fresh seeds). The
    threshold is in data units, so scale matters.

    After an alarm the detector restarts from the next value.

    References
    ----------
    E. S. Page (1954). Continuous inspection schemes. Biometrika 41, 100–115.
    D. V. Hinkley (1971). Inference about the change-point from cumulative sum tests.
    Biometrika 58, 509–523.

    Examples
    --------
    >>> import numpy as np
    >>> from shiftguard.stream import PageHinkley
    >>> rng = np.random.default_rng(0)
    >>> stream = np.r_[rng.normal(0, 1, 1000), rng.normal(3, 1, 1000)]
    >>> PageHinkley().update_many(stream)
    array([1016, 1922])
    """

    _params = ("min_instances", "delta", "threshold", "forgetting_factor", "mode")
    _kernel = _page_hinkley_native

    def __init__(
        self,
        min_instances: int = 30,
        delta: float = 0.005,
        threshold: float = 50.0,
        forgetting_factor: float = 1 - 0.0001,
        mode: str = "both",
    ) -> None:
        self.min_instances = check_positive_int(min_instances, "min_instances")
        self.delta = check_positive_number(delta, "delta", allow_zero=True)
        self.threshold = check_positive_number(threshold, "threshold")
        self.forgetting_factor = check_positive_number(forgetting_factor, "forgetting_factor")
        if self.forgetting_factor > 1.0:
            raise ParameterError(f"forgetting_factor must lie in (0, 1], got {forgetting_factor!r}")
        self.mode = check_choice(mode, "mode", MODES)
        self._min_instances = float(self.min_instances)
        self._up, self._down = self.mode != "down", self.mode != "up"
        self.reset()

    def _native_binding(self) -> tuple[tuple[np.ndarray, ...], int, int]:
        params = np.array([self._min_instances, self.delta, self.threshold,
                           self.forgetting_factor, self._up, self._down], dtype=np.float64)
        s = self._state["s"]
        return (s, s, s, params), 1, 1  # every value can alarm

    def _initial_state(self) -> dict[str, np.ndarray]:
        return {"s": np.array(FRESH_STATE)}

    def _process(self, xs: np.ndarray, alarms: np.ndarray) -> int:
        return _page_hinkley_run(
            xs, self._state["s"], self._min_instances, self.delta, self.threshold,
            self.forgetting_factor, self._up, self._down, alarms,
        )
