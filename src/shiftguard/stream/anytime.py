"""Anytime-valid tests: their guarantee holds however often, and whenever, one looks.

Each test keeps a nonnegative (super)martingale under its null hypothesis -- a likelihood
ratio mixture, a betting wealth -- and alarms when it reaches ``1/alpha``. By Ville's
inequality P(the process ever reaches 1/alpha) <= alpha, so under the null
P(any false alarm, ever) <= alpha, for any number of looks and any stopping rule. The
always-valid p-value ``min(1, 1/max_t M_t)`` may be read at any time.

The guarantee covers the run up to the first alarm; after an alarm a detector starts a
fresh test, which has its own ``alpha``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from shiftguard._validation import (
    as_float_array,
    as_rng,
    check_alpha,
    check_positive_int,
    check_positive_number,
)
from shiftguard.errors import ParameterError
from shiftguard.stream._base import StreamDetector
from shiftguard.stream.kswin import next_uniform

# --- mixture SPRT --------------------------------------------------------------------

_N, _SUM, _MAX_LOG_E = range(3)


@njit(cache=True)
def _mixture_log_e(n, centred_sum, var, mix_var):
    spread = var + n * mix_var
    return 0.5 * math.log(var / spread) + mix_var * centred_sum * centred_sum / (2.0 * var * spread)


@njit(cache=True)
def _mixture_sprt_run(xs, s, mean0, var, mix_var, log_threshold, alarms):
    n_alarms = 0
    for i in range(xs.size):
        s[_N] += 1.0
        s[_SUM] += xs[i] - mean0
        log_e = _mixture_log_e(s[_N], s[_SUM], var, mix_var)
        s[_MAX_LOG_E] = max(s[_MAX_LOG_E], log_e)
        if log_e >= log_threshold:
            alarms[n_alarms] = i
            n_alarms += 1
            s[:] = 0.0
    return n_alarms


class MixtureSPRT(StreamDetector):
    """Mixture SPRT for a shift of a mean away from ``mean0``, with always-valid p-values.

    With :math:`S_t = \\sum_{i \\le t}(x_i - \\mu_0)`, the normal-mixture likelihood ratio
    (mixing the alternative mean over :math:`N(\\mu_0, \\tau^2)`)

    .. math:: \\Lambda_t = \\sqrt{\\frac{\\sigma^2}{\\sigma^2 + t\\tau^2}}
              \\exp\\Big(\\frac{\\tau^2 S_t^2}{2\\sigma^2(\\sigma^2 + t\\tau^2)}\\Big)

    is a test martingale under H0; the detector alarms when :math:`\\Lambda_t \\ge 1/\\alpha`.

    Parameters
    ----------
    mean0
        Mean under the null hypothesis.
    std
        Standard deviation (or sub-Gaussian scale) :math:`\\sigma` of the values.
    alpha
        Bound on the probability of any false alarm.
    mixture_std
        Spread :math:`\\tau` of the mixing distribution of the alternative mean; power is
        best for shifts of about this size. Defaults to ``std``.

    Notes
    -----
    Guarantee: if the values are independent with mean ``mean0`` and
    :math:`\\sigma`-sub-Gaussian (Normal(mean0, sigma^2), or bounded in an interval of
    length 2 sigma), then P(any alarm, ever) <= ``alpha`` (Ville's inequality), and
    ``pvalue`` is an always-valid p-value: P(exists t: p_t <= a) <= a for every a.
    ``confidence_interval()`` is the matching (1 - alpha) confidence sequence: it covers
    the mean at all times simultaneously with probability >= 1 - alpha.

    After an alarm a fresh test starts from the next value.

    References
    ----------
    H. Robbins (1970). Statistical methods related to the law of the iterated logarithm.
    Ann. Math. Statist. 41, 1397–1409.
    R. Johari, P. Koomen, L. Pekelis and D. Walsh (2022). Always valid inference:
    continuous monitoring of A/B tests. Operations Research 70(3), 1806–1821.

    Examples
    --------
    >>> import numpy as np
    >>> from shiftguard.stream import MixtureSPRT
    >>> rng = np.random.default_rng(0)
    >>> test = MixtureSPRT(mean0=0.0, std=1.0, alpha=0.05)
    >>> test.update_many(rng.normal(0.0, 1.0, 500))
    array([], dtype=int64)
    >>> bool(test.pvalue > 0.05)
    True
    >>> test.update_many(rng.normal(0.5, 1.0, 500))[:1]
    array([219])
    """

    _params = ("mean0", "std", "alpha", "mixture_std")

    def __init__(
        self, mean0: float = 0.0, std: float = 1.0, alpha: float = 0.05,
        mixture_std: float | None = None,
    ) -> None:
        if not math.isfinite(float(mean0)):
            raise ParameterError(f"mean0 must be finite, got {mean0!r}")
        self.mean0 = float(mean0)
        self.std = check_positive_number(std, "std")
        self.alpha = check_alpha(alpha)
        self.mixture_std = (
            None if mixture_std is None else check_positive_number(mixture_std, "mixture_std")
        )
        self.reset()

    @property
    def _tau(self) -> float:
        return self.std if self.mixture_std is None else self.mixture_std

    @property
    def e_value(self) -> float:
        """Current mixture likelihood ratio (1 before any value)."""
        n, total = self._state["s"][_N], self._state["s"][_SUM]
        if n == 0:
            return 1.0
        return math.exp(_mixture_log_e(n, total, self.std**2, self._tau**2))

    @property
    def pvalue(self) -> float:
        """Always-valid p-value ``min(1, 1 / max_t Lambda_t)`` since the last (re)start."""
        return min(1.0, math.exp(-self._state["s"][_MAX_LOG_E]))

    def confidence_interval(self) -> tuple[float, float]:
        """(1 - alpha) confidence sequence for the mean at the current time.

        ``(-inf, inf)`` before any value.
        """
        n, total = self._state["s"][_N], self._state["s"][_SUM]
        if n == 0:
            return -math.inf, math.inf
        var, mix_var = self.std**2, self._tau**2
        spread = var + n * mix_var
        log_bound = math.log(1.0 / self.alpha) + 0.5 * math.log(spread / var)
        radius = math.sqrt(2.0 * var * spread / mix_var * log_bound) / n
        centre = self.mean0 + total / n
        return centre - radius, centre + radius

    def _initial_state(self) -> dict[str, np.ndarray]:
        return {"s": np.zeros(3)}

    def _process(self, xs: np.ndarray, alarms: np.ndarray) -> int:
        return _mixture_sprt_run(
            xs, self._state["s"], self.mean0, self.std**2, self._tau**2,
            math.log(1.0 / self.alpha), alarms,
        )


# --- betting confidence sequence for a bounded mean -------------------------------------

_B_N, _B_SUM, _B_SQDEV, _B_LOWER, _B_UPPER = range(5)
_BET_CAP = 0.5  # truncation c of the bets (Waudby-Smith & Ramdas use 1/2 or 3/4)


@njit(cache=True)
def _betting_run(xs, grid, log_plus, log_minus, s, alpha, log_threshold, has_null, alarms):
    n_alarms = 0
    n_grid = grid.size - 1 if has_null else grid.size  # the last point is the null mean
    for i in range(xs.size):
        x = xs[i]
        t = s[_B_N] + 1.0
        # predictable plug-in bet from the values before x (WSR 2023, eq. 26)
        var_prev = (0.25 + s[_B_SQDEV]) / t
        lam = math.sqrt(2.0 * math.log(2.0 / alpha) / (var_prev * t * math.log(1.0 + t)))
        first_kept = -1
        last_kept = -1
        null_rejected = False
        for j in range(grid.size):
            m = grid[j]
            log_plus[j] += math.log1p(min(lam, _BET_CAP / m) * (x - m))
            log_minus[j] += math.log1p(-min(lam, _BET_CAP / (1.0 - m)) * (x - m))
            # max (not mean) of the two halves: each is monotone in m, so the set of
            # unrejected means is an interval (WSR 2024); union bound + Ville keep level alpha
            log_hedged = max(log_plus[j], log_minus[j]) - math.log(2.0)
            if j < n_grid and log_hedged < log_threshold:
                if first_kept < 0:
                    first_kept = j
                last_kept = j
            if j == n_grid:
                null_rejected = log_hedged >= log_threshold
        s[_B_N] = t
        s[_B_SUM] += x
        mean_now = (0.5 + s[_B_SUM]) / (t + 1.0)
        s[_B_SQDEV] += (x - mean_now) ** 2
        # outer bounds of this step's set, intersected with the earlier ones
        if first_kept >= 0:
            s[_B_LOWER] = max(s[_B_LOWER], grid[first_kept - 1] if first_kept > 0 else 0.0)
            s[_B_UPPER] = min(s[_B_UPPER], grid[last_kept + 1] if last_kept < n_grid - 1 else 1.0)
        empty = s[_B_LOWER] >= s[_B_UPPER]
        if empty or (has_null and null_rejected):
            alarms[n_alarms] = i
            n_alarms += 1
            log_plus[:] = 0.0
            log_minus[:] = 0.0
            s[:] = 0.0
            s[_B_UPPER] = 1.0
    return n_alarms


class BettingConfidenceSequence(StreamDetector):
    """Betting confidence sequence for the mean of values in [0, 1], and a test of it.

    For every candidate mean m on a grid, two gamblers bet that the values average
    above / below m with predictable plug-in stakes; the hedged wealth
    :math:`K_t(m) = \\max(K_t^+(m), K_t^-(m))/2` crosses ``1/alpha`` with probability at
    most alpha when m is the true mean (Ville's inequality for each half), so
    :math:`C_t = \\{m : K_s(m) < 1/\\alpha \\ \\forall s \\le t\\}` is a
    confidence sequence. The detector alarms when ``null_mean`` (if given) leaves the
    sequence, or when the sequence becomes empty (no constant mean fits the data).

    Parameters
    ----------
    alpha
        Miscoverage: P(the mean ever leaves the sequence) <= alpha.
    null_mean
        Mean under the null hypothesis to test, in (0, 1); ``None`` alarms only when
        the sequence is empty.
    grid_size
        Number of candidate means (midpoints of ``grid_size`` equal cells of [0, 1]).
        The reported interval is conservative by at most one cell.

    Notes
    -----
    Guarantee: if the values are independent (or just have conditional mean mu given
    the past) in [0, 1], then P(exists t: mu not in ``interval``) <= ``alpha``
    (Waudby-Smith & Ramdas 2024, hedged capital process; Ville's inequality). Hence, with
    ``null_mean=mu``, P(any alarm, ever) <= ``alpha``; and without it, an alarm (empty
    sequence) is proof at level alpha that the mean is not constant. Cost is
    O(``grid_size``) per value.

    After an alarm a fresh sequence starts from the next value.

    References
    ----------
    I. Waudby-Smith and A. Ramdas (2024). Estimating means of bounded random variables by
    betting. J. R. Statist. Soc. B 86(1), 1–27.

    Examples
    --------
    >>> import numpy as np
    >>> from shiftguard.stream import BettingConfidenceSequence
    >>> rng = np.random.default_rng(0)
    >>> cs = BettingConfidenceSequence(alpha=0.05, null_mean=0.3)
    >>> cs.update_many(rng.random(2000) < 0.3)
    array([], dtype=int64)
    >>> cs.interval
    (0.2475, 0.3275)
    >>> cs.update_many(rng.random(2000) < 0.5)[:1]
    array([1452])
    """

    _support = "unit"
    _params = ("alpha", "null_mean", "grid_size")

    def __init__(
        self, alpha: float = 0.05, null_mean: float | None = None, grid_size: int = 1000
    ) -> None:
        self.alpha = check_alpha(alpha)
        self.null_mean = None if null_mean is None else check_alpha(null_mean, "null_mean")
        self.grid_size = check_positive_int(grid_size, "grid_size", minimum=2)
        self.reset()

    @property
    def _grid(self) -> np.ndarray:
        cells = (np.arange(self.grid_size) + 0.5) / self.grid_size
        return cells if self.null_mean is None else np.r_[cells, self.null_mean]

    @property
    def interval(self) -> tuple[float, float]:
        """Current (1 - alpha) confidence interval for the mean, open at both ends.

        Lower > upper never occurs: an empty sequence raises an alarm and restarts.
        """
        s = self._state["s"]
        return float(s[_B_LOWER]), float(s[_B_UPPER])

    def _initial_state(self) -> dict[str, np.ndarray]:
        s = np.zeros(5)
        s[_B_UPPER] = 1.0
        size = self._grid.size
        return {"log_wealth_up": np.zeros(size), "log_wealth_down": np.zeros(size), "s": s}

    def _process(self, xs: np.ndarray, alarms: np.ndarray) -> int:
        st = self._state
        return _betting_run(
            xs, self._grid, st["log_wealth_up"], st["log_wealth_down"], st["s"], self.alpha,
            math.log(1.0 / self.alpha), self.null_mean is not None, alarms,
        )


# --- sequential two-sample test against a fixed reference -------------------------------

_T_COUNT, _T_LAM_LOC, _T_A_LOC, _T_LAM_SPREAD, _T_A_SPREAD, _T_LOG_LOC, _T_LOG_SPREAD, \
    _T_MAX_LOG_W = range(8)
_ONS_STEP = 2.0 / (2.0 - math.log(3.0))
_ONS_CAP = 0.5


@njit(cache=True)
def _ons_update(lam, a_sum, payoff):
    """One online-Newton-step update of a bet in [-1/2, 1/2] (Cutkosky & Orabona 2018)."""
    z = payoff / (1.0 + lam * payoff)
    a_sum += z * z
    lam = min(_ONS_CAP, max(-_ONS_CAP, lam + _ONS_STEP * z / a_sum))
    return lam, a_sum


@njit(cache=True)
def _restart_two_sample(bag, reference, s):
    bag[: reference.size] = reference
    s[:] = 0.0
    s[_T_COUNT] = reference.size
    s[_T_A_LOC] = 1.0
    s[_T_A_SPREAD] = 1.0


@njit(cache=True)
def _two_sample_run(xs, bag, reference, s, rng_state, log_threshold, alarms):
    n_alarms = 0
    for i in range(xs.size):
        x = xs[i]
        count = int(s[_T_COUNT])
        below = np.searchsorted(bag[:count], x, side="left")
        not_above = np.searchsorted(bag[:count], x, side="right")
        # smoothed conformal p-value of x among the bag plus x (Vovk et al. 2005, §2.4)
        ties = not_above - below + 1
        pvalue = ((count - not_above) + next_uniform(rng_state) * ties) / (count + 1.0)
        bag[not_above + 1 : count + 1] = bag[not_above:count].copy()
        bag[not_above] = x
        s[_T_COUNT] = count + 1
        # two bets on the p-value: its mean (location) and its spread (scale)
        loc = 2.0 * pvalue - 1.0
        spread = 6.0 * (pvalue - 0.5) ** 2 - 0.5
        s[_T_LOG_LOC] += math.log1p(s[_T_LAM_LOC] * loc)
        s[_T_LOG_SPREAD] += math.log1p(s[_T_LAM_SPREAD] * spread)
        s[_T_LAM_LOC], s[_T_A_LOC] = _ons_update(s[_T_LAM_LOC], s[_T_A_LOC], loc)
        s[_T_LAM_SPREAD], s[_T_A_SPREAD] = _ons_update(s[_T_LAM_SPREAD], s[_T_A_SPREAD], spread)
        hi = max(s[_T_LOG_LOC], s[_T_LOG_SPREAD])
        lo = min(s[_T_LOG_LOC], s[_T_LOG_SPREAD])
        log_wealth = hi + math.log1p(math.exp(lo - hi)) - math.log(2.0)
        s[_T_MAX_LOG_W] = max(s[_T_MAX_LOG_W], log_wealth)
        if log_wealth >= log_threshold:
            alarms[n_alarms] = i
            n_alarms += 1
            _restart_two_sample(bag, reference, s)
    return n_alarms


class SequentialTwoSampleTest(StreamDetector):
    """Sequential test that a stream has the same distribution as a fixed reference sample.

    Each new value gets a smoothed conformal p-value: its rank among the reference and
    all stream values so far (ties broken at random). Two gamblers bet, with
    online-Newton-step stakes, that these p-values are not uniform -- one on their mean
    (a location shift), one on their spread (a scale change); the detector alarms when
    the average of their wealth reaches ``1/alpha``.

    Parameters
    ----------
    reference
        Reference sample, 1-D, finite.
    alpha
        Bound on the probability of any false alarm.
    seed
        Seed of the tie-breaking; ``None`` draws one from fresh entropy. The generator's
        state is part of ``to_dict()``.

    Notes
    -----
    Guarantee: if the reference values followed by the stream values are exchangeable
    (for instance i.i.d. from one distribution), the smoothed conformal p-values are
    independent and uniform (Vovk, Gammerman & Shafer 2005, chs. 2 and 7), so each wealth
    process is a test martingale and P(any alarm, ever) <= ``alpha`` (Ville). The
    reference must be a sample of the stream's in-control distribution, drawn
    independently of the stream. ``pvalue`` is the always-valid p-value. Power comes
    mainly from the first few multiples of ``len(reference)`` values, after which the
    stream dominates the ranks. Memory and time per value grow as O(len(reference) + t).

    After an alarm a fresh test starts from the next value against the reference alone.

    References
    ----------
    V. Vovk, A. Gammerman and G. Shafer (2005). Algorithmic Learning in a Random World,
    ch. 7 (conformal test martingales). Springer.
    S. Shekhar and A. Ramdas (2023). Nonparametric two-sample testing by betting. IEEE
    Trans. Inf. Theory 70(2), 1178–1203.

    Examples
    --------
    >>> import numpy as np
    >>> from shiftguard.stream import SequentialTwoSampleTest
    >>> rng = np.random.default_rng(0)
    >>> test = SequentialTwoSampleTest(rng.normal(0, 1, 500), alpha=0.05, seed=0)
    >>> test.update_many(rng.normal(0, 1, 300))
    array([], dtype=int64)
    >>> test.update_many(rng.normal(0.5, 1, 300))
    array([144, 251])
    """

    _params = ("reference", "alpha", "seed")
    _growing_state = frozenset({"bag"})

    def __init__(
        self, reference: np.ndarray, alpha: float = 0.05, seed: int | None = None
    ) -> None:
        self.reference = reference
        self._reference = np.sort(as_float_array(reference, "reference", min_size=1))
        self.alpha = check_alpha(alpha)
        if seed is not None:
            seed = check_positive_int(seed, "seed", minimum=0)
        self.seed = seed
        self.reset()

    def get_params(self) -> dict:
        """Constructor arguments; the reference as a plain list."""
        return {"reference": self._reference.tolist(), "alpha": self.alpha, "seed": self.seed}

    @property
    def pvalue(self) -> float:
        """Always-valid p-value ``min(1, 1 / max_t W_t)`` since the last (re)start."""
        return min(1.0, math.exp(-self._state["s"][_T_MAX_LOG_W]))

    def _initial_state(self) -> dict[str, np.ndarray]:
        bag, s = np.empty(self._reference.size), np.empty(8)
        _restart_two_sample(bag, self._reference, s)
        start = as_rng(self.seed).integers(0, 2**63, dtype=np.uint64)
        return {"bag": bag, "s": s, "rng": np.array([start], dtype=np.uint64)}

    def _process(self, xs: np.ndarray, alarms: np.ndarray) -> int:
        st = self._state
        count = int(st["s"][_T_COUNT])
        bag = np.empty(count + xs.size)
        bag[:count] = st["bag"][:count]
        st["bag"] = bag
        n_alarms = _two_sample_run(
            xs, bag, self._reference, st["s"], st["rng"], math.log(1.0 / self.alpha), alarms
        )
        st["bag"] = bag[: int(st["s"][_T_COUNT])].copy()
        return n_alarms
