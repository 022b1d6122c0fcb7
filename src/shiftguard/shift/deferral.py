"""Selective prediction: accept a model's confident predictions, defer the rest to a person.

A threshold ``t`` on the model's confidence accepts the predictions with confidence
``>= t``; its *selective risk* is the error rate among accepted predictions,
``R(t) = P(wrong | confidence >= t)``, and its *coverage* the share accepted. Reasons to
defer under shift, and confidence scores built for it, are discussed in "When to Accept
Automated Predictions and When to Defer to Human Judgment?" (2024); this module supplies
the statistical step that turns any confidence score into a rule with a guarantee.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from shiftguard._result import ResultMixin
from shiftguard._validation import (
    as_float_array,
    as_indicator_array,
    check_alpha,
    check_positive_int,
)
from shiftguard.errors import InputError
from shiftguard.stats.binomial import clopper_pearson_upper


class NoThresholdError(InputError):
    """No confidence threshold meets the requested error bound on this calibration set."""


@dataclasses.dataclass(frozen=True)
class SelectiveThreshold(ResultMixin):
    """The chosen acceptance rule and what it achieved on the calibration set.

    Attributes
    ----------
    threshold
        Accept a prediction when its confidence is ``>= threshold``.
    coverage
        Share of the calibration rows accepted.
    n_accepted, n_errors
        Accepted calibration rows and the errors among them.
    error_rate
        ``n_errors / n_accepted``.
    bound
        One-sided ``1 - delta`` Clopper–Pearson upper bound on the selective risk at
        ``threshold`` (at most ``epsilon``).
    epsilon, delta
        The requested error bound and failure probability.
    n
        Calibration rows.
    n_thresholds_passed
        Thresholds of the sequence that passed before the scan stopped.
    """

    threshold: float
    coverage: float
    n_accepted: int
    n_errors: int
    error_rate: float
    bound: float
    epsilon: float
    delta: float
    n: int
    n_thresholds_passed: int

    def accept(self, confidence: Any) -> np.ndarray:
        """Boolean mask of the predictions to accept (confidence ``>= threshold``)."""
        return as_float_array(confidence, "confidence") >= self.threshold


def selective_threshold(
    confidence: Any,
    correct: Any,
    epsilon: float,
    delta: float = 0.05,
    *,
    thresholds: Any = None,
    min_accepted: int | None = None,
) -> SelectiveThreshold:
    """Lowest confidence threshold whose selective risk is ``<= epsilon`` w.p. ``>= 1 - delta``.

    Candidate thresholds are scanned from the most confident down. At each, the errors
    among the accepted calibration rows give a one-sided Clopper–Pearson upper bound on
    the selective risk; the scan stops at the first threshold whose bound exceeds
    ``epsilon`` and returns the last one that passed. This is fixed-sequence testing of
    the nulls ``H_t: R(t) > epsilon`` with the Clopper–Pearson p-values, as in
    Learn-then-Test: each step is tested at the full level ``delta``, with no Bonferroni
    split over the thresholds. By default the sequence starts where a pass is possible at
    all, at ``k_min = ceil(log(delta) / log(1 - epsilon))`` accepted rows (the fewest for
    which zero errors give a bound ``<= epsilon``).

    Guarantee
    ---------
    With calibration rows and future rows i.i.d., the probability (over the calibration
    set) that the returned threshold has selective risk above ``epsilon`` on future rows
    is at most ``delta``, in finite samples:

    * exactly, by the fixed-sequence theorem of Learn-then-Test, when the candidates are
      fixed before seeing the data (pass ``thresholds``): given how many rows a threshold
      accepts, their errors are binomial with the selective risk as rate, so each
      Clopper–Pearson p-value is valid, and fixed-sequence testing controls the
      family-wise error at ``delta``;
    * for the default candidates — the distinct calibration confidences — the order of
      the scan is the data's own, so the fixed-sequence argument is not exact; the rate
      of failures is checked against ``delta`` in the validity tests (monotone and
      non-monotone risk curves).

    Parameters
    ----------
    confidence
        Model confidence per calibration row (any real score: larger is more confident).
    correct
        Whether the model's prediction was right on that row (booleans or 0/1).
    epsilon
        Largest acceptable error rate among accepted predictions, in (0, 1).
    delta
        Allowed probability that the guarantee fails, in (0, 1).
    thresholds
        Candidate thresholds fixed in advance, scanned from the largest down; default the
        distinct calibration confidences that accept at least ``min_accepted`` rows. The
        scan stops at the first failure, including a candidate that accepts fewer than
        ``k_min`` rows, so a fixed grid must start where enough rows are accepted.
    min_accepted
        Default candidates only: the scan starts at the first confidence accepting this
        many rows (default and minimum ``k_min``). Start later when even the most
        confident predictions err now and then: a short start sample with one error
        stops the scan at once, and the start is part of the fixed order, not tuned.

    Raises
    ------
    InputError
        Fewer than ``k_min`` calibration rows, or mismatched inputs.
    NoThresholdError
        The first candidate already fails: no threshold is certified.

    References
    ----------
    Angelopoulos, Bates, Candès, Jordan and Lei (2021), Learn then Test: calibrating
    predictive algorithms to achieve risk control, arXiv:2110.01052. Geifman and
    El-Yaniv (2017), Selective classification for deep neural networks, NeurIPS. Clopper
    and Pearson (1934), Biometrika 26.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> conf = rng.random(5000)
    >>> correct = rng.random(5000) > 0.3 * (1 - conf)
    >>> rule = selective_threshold(conf, correct, epsilon=0.1, delta=0.05)
    >>> bool(rule.bound <= 0.1) and 0.0 < rule.coverage < 1.0
    True
    """
    epsilon = check_alpha(epsilon, "epsilon")
    delta = check_alpha(delta, "delta")
    conf = as_float_array(confidence, "confidence")
    right = as_indicator_array(correct, "correct")
    if right.shape[0] != conf.shape[0]:
        raise InputError(f"lengths differ: confidence={conf.shape[0]}, "
                         f"correct={right.shape[0]}", "correct")
    n = conf.shape[0]
    k_min = math.ceil(math.log(delta) / math.log1p(-epsilon))
    if n < k_min:
        raise InputError(
            f"needs at least {k_min} calibration rows for epsilon={epsilon:g} and "
            f"delta={delta:g} (fewer cannot certify any threshold), got {n}", "correct"
        )
    order = np.argsort(-conf, kind="stable")
    sorted_conf = conf[order]
    cum_errors = np.cumsum(~right[order])
    if thresholds is None:
        # last row of each run of equal confidences: thresholds at the distinct values
        ends = np.flatnonzero(np.r_[sorted_conf[1:] != sorted_conf[:-1], True])
        start = k_min if min_accepted is None else check_positive_int(
            min_accepted, "min_accepted", minimum=k_min)
        if start > n:
            raise InputError(f"min_accepted={start} exceeds the {n} calibration rows",
                             "correct")
        ends = ends[ends >= start - 1]
        candidates = sorted_conf[ends]
        accepted = ends + 1
    else:
        candidates = np.sort(as_float_array(thresholds, "thresholds"))[::-1]
        # rows with confidence >= t: count of -conf <= -t in the ascending -conf order
        accepted = np.searchsorted(-sorted_conf, -candidates, side="right")
    errors = np.where(accepted > 0, cum_errors[np.maximum(accepted - 1, 0)], 0)
    bounds = clopper_pearson_upper(errors, accepted, delta)
    passed = bounds <= epsilon
    n_passed = int(np.argmin(passed)) if not passed.all() else passed.shape[0]
    if n_passed == 0:
        raise NoThresholdError(
            f"no threshold certifies an error rate <= {epsilon:g} at delta={delta:g}: the "
            f"most confident candidate accepts {int(accepted[0]) if accepted.size else 0} "
            f"row(s) with {int(errors[0]) if errors.size else 0} error(s), bound "
            f"{float(bounds[0]) if bounds.size else 1.0:.3g}; use more calibration data, a "
            "larger epsilon or delta, a better confidence score, or a sequence that starts "
            "lower (min_accepted, thresholds)", "correct"
        )
    i = n_passed - 1
    n_acc, n_err = int(accepted[i]), int(errors[i])
    return SelectiveThreshold(
        threshold=float(candidates[i]), coverage=n_acc / n, n_accepted=n_acc,
        n_errors=n_err, error_rate=n_err / n_acc, bound=float(bounds[i]),
        epsilon=epsilon, delta=delta, n=n, n_thresholds_passed=n_passed,
    )
