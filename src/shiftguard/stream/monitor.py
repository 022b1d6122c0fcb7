"""Batch monitor: per-feature drift tests on every batch, false alarms controlled over the run."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

from shiftguard._result import ResultMixin
from shiftguard._validation import check_alpha, check_positive_int
from shiftguard.errors import BudgetExhaustedError, StateError

STATE_VERSION = 1
_PI2_OVER_6 = math.pi**2 / 6.0


@dataclasses.dataclass(frozen=True)
class MonitorStep(ResultMixin):
    """What the monitor concluded on one batch.

    Attributes
    ----------
    batch
        1-based number of the batch.
    alpha_spent
        Level given to this batch by the spending rule.
    alarm
        Whether any column's Holm-adjusted p-value (distribution or missing-rate test)
        is at most ``alpha_spent``.
    drifted_columns
        Columns whose adjusted p-value is at most ``alpha_spent``.
    min_pvalue_adjusted
        Smallest Holm-adjusted p-value of the batch.
    pvalues, pvalues_adjusted
        Raw and Holm-adjusted p-value of each column's distribution test.
    n_rows
        Rows in the batch.
    """

    batch: int
    alpha_spent: float
    alarm: bool
    drifted_columns: tuple[str, ...]
    min_pvalue_adjusted: float
    pvalues: dict[str, float]
    pvalues_adjusted: dict[str, float]
    n_rows: int


class Monitor:
    """Compare a stream of batches with one reference, with a whole-run false-alarm bound.

    Every batch goes through :class:`shiftguard.drift.DriftDetector` (fitted once on
    the reference; per-column two-sample tests plus missing-rate tests, Holm-adjusted
    within the batch). Batch ``t`` is given the level :math:`\\alpha_t` of an
    alpha-spending rule, and the monitor alarms on that batch when some adjusted
    p-value is at most :math:`\\alpha_t`:

    - ``horizon=None`` (default): :math:`\\alpha_t = \\alpha \\cdot 6/(\\pi^2 t^2)`, for an
      unlimited number of batches;
    - ``horizon=T``: :math:`\\alpha_t = \\alpha / T` for ``T`` batches (Bonferroni), more
      powerful when the number of batches is known; batch ``T + 1`` raises
      :class:`~shiftguard.errors.BudgetExhaustedError`.

    Parameters
    ----------
    reference
        Reference table: any input :func:`shiftguard.io.read_table` reads (file path,
        pandas/polars frame, Arrow table, NumPy array, mapping of columns).
    alpha
        Bound on the probability of any false alarm over the whole run.
    horizon
        Number of batches, if known in advance (see above).
    columns, exclude, kinds, numeric_test, categorical_test, text_test, tests,
    n_permutations, seed
        Passed to :class:`~shiftguard.drift.DriftDetector`.

    Notes
    -----
    Guarantee: if every batch is drawn from the reference's distribution, then
    P(any alarm over the whole run) <= ``alpha``. Proof: within a batch Holm controls
    the familywise error at :math:`\\alpha_t` under any dependence between the columns'
    tests; across batches the union bound gives at most
    :math:`\\sum_t \\alpha_t \\le \\alpha`. The union bound needs no independence, which
    matters because all batches are compared with the same reference, so their p-values
    are dependent (a product of e-values calibrated from these p-values would not be a
    supermartingale). The price is power on late batches, whose level shrinks like
    :math:`1/t^2`; use ``horizon`` when the run length is known. The bound is checked by
    simulation in ``tests/validity/test_stream_monitor.py``. The guarantee concerns the
    first alarm; the monitor keeps testing afterwards, recording every batch in
    ``history_`` and counting them in ``n_batches_`` (a monitor restored from a state saved
    with ``to_dict(history=False)`` holds only the batches since).

    Examples
    --------
    >>> import numpy as np
    >>> from shiftguard.stream import Monitor
    >>> rng = np.random.default_rng(0)
    >>> monitor = Monitor(rng.normal(size=(1000, 2)), alpha=0.05)
    >>> for shift in (0.0, 0.0, 0.5):
    ...     step = monitor.update(rng.normal(size=(300, 2)) + [0.0, shift])
    >>> [s.alarm for s in monitor.history_]
    [False, False, True]
    >>> monitor.history_[-1].drifted_columns
    ('x1',)
    """

    def __init__(
        self,
        reference: Any,
        *,
        alpha: float = 0.05,
        horizon: int | None = None,
        columns: Sequence[str] | None = None,
        exclude: Sequence[str] = (),
        kinds: Mapping[str, str] | None = None,
        numeric_test: str = "ks",
        categorical_test: str = "chi2",
        text_test: str = "mmd",
        tests: Mapping[str, str] | None = None,
        n_permutations: int = 1000,
        seed: int | None = 0,
    ) -> None:
        from shiftguard.drift import DriftDetector

        self.reference = reference
        self.alpha = check_alpha(alpha)
        self.horizon = None if horizon is None else check_positive_int(horizon, "horizon")
        self.columns = columns
        self.exclude = exclude
        self.kinds = kinds
        self.numeric_test = numeric_test
        self.categorical_test = categorical_test
        self.text_test = text_test
        self.tests = tests
        self.n_permutations = n_permutations
        self.seed = seed
        self.detector_ = DriftDetector(
            columns=columns, exclude=exclude, kinds=kinds, numeric_test=numeric_test,
            categorical_test=categorical_test, text_test=text_test, tests=tests,
            correction="holm", alpha=self.alpha, multivariate="none", localize=False,
            n_permutations=n_permutations, seed=seed,
        ).fit(reference)
        self.history_: list[MonitorStep] = []
        self.n_batches_ = 0

    def alpha_for_batch(self, batch: int) -> float:
        """Level the spending rule gives to the ``batch``-th batch (1-based)."""
        batch = check_positive_int(batch, "batch")
        if self.horizon is None:
            return self.alpha / (_PI2_OVER_6 * batch * batch)
        if batch > self.horizon:
            raise BudgetExhaustedError(
                f"the monitor was set up for horizon={self.horizon} batches; its alpha is "
                "spent. Start a new Monitor (a new run with its own alpha) to go on."
            )
        return self.alpha / self.horizon

    @property
    def drift_detected(self) -> bool:
        """Whether the last batch raised an alarm."""
        return bool(self.history_) and self.history_[-1].alarm

    @property
    def alarms(self) -> tuple[int, ...]:
        """Numbers (1-based) of the batches in ``history_`` that raised an alarm."""
        return tuple(s.batch for s in self.history_ if s.alarm)

    def update(self, batch: Any) -> MonitorStep:
        """Test one batch against the reference, record and return the outcome.

        The batch's full :class:`~shiftguard.drift.DriftReport` is kept in
        ``last_report_`` until the next update. It is computed at the batch's level, so its
        verdict and flagged columns are this step's alarm and drifted columns (a report at
        the run's ``alpha`` would show drift the monitor does not alarm on), and a
        permutation p-value gets enough permutations to reach that level.
        """
        number = self.n_batches_ + 1
        level = self.alpha_for_batch(number)
        self.detector_.alpha = level
        report = self.detector_.compare(batch)
        self.last_report_ = report
        pvalues, adjusted, drifted = {}, {}, []
        smallest = 1.0
        for col in report.columns:
            pvalues[col.name] = float(col.pvalue)
            adjusted[col.name] = float(col.pvalue_adjusted)
            col_min = col.pvalue_adjusted
            if col.missing_pvalue_adjusted is not None:
                col_min = min(col_min, col.missing_pvalue_adjusted)
            smallest = min(smallest, col_min)
            if col_min <= level:
                drifted.append(col.name)
        step = MonitorStep(
            batch=number, alpha_spent=level, alarm=bool(drifted),
            drifted_columns=tuple(drifted), min_pvalue_adjusted=float(smallest),
            pvalues=pvalues, pvalues_adjusted=adjusted, n_rows=int(report.n_current),
        )
        self.history_.append(step)
        self.n_batches_ = number
        return step

    def get_params(self) -> dict[str, Any]:
        """Constructor arguments other than the reference (JSON-ready)."""
        return {
            "alpha": self.alpha, "horizon": self.horizon,
            "columns": None if self.columns is None else list(self.columns),
            "exclude": list(self.exclude),
            "kinds": None if self.kinds is None else dict(self.kinds),
            "numeric_test": self.numeric_test, "categorical_test": self.categorical_test,
            "text_test": self.text_test, "tests": None if self.tests is None else dict(self.tests),
            "n_permutations": self.n_permutations, "seed": self.seed,
        }

    def to_dict(self, *, history: bool = True) -> dict[str, Any]:
        """Plain JSON-ready state: parameters, the number of batches seen and (unless
        ``history=False``) their steps; the reference is not included.

        The sequential state is the number of batches alone (it fixes the next batch's
        level): ``history=False`` gives a state of constant size for a store that keeps
        the steps elsewhere, as the monitoring service does.
        """
        steps = self.history_ if history else []
        if history and len(steps) != self.n_batches_:
            raise StateError("this monitor was restored without its history; save it with "
                             "to_dict(history=False)")
        return {
            "monitor": "Monitor", "version": STATE_VERSION, "params": self.get_params(),
            "n_batches": self.n_batches_, "history": [s.to_dict() for s in steps],
        }

    @classmethod
    def from_dict(cls, state: Mapping[str, Any], reference: Any) -> Monitor:
        """Restore a monitor from :meth:`to_dict` output and the same reference.

        The next batch gets the level it would have had without the restart.
        """
        if not isinstance(state, Mapping) or state.get("monitor") != "Monitor":
            raise StateError("expected a Monitor state (from Monitor.to_dict())")
        if state.get("version") != STATE_VERSION:
            raise StateError(f"unsupported Monitor state version {state.get('version')!r}")
        try:
            monitor = cls(reference, **state["params"])
            monitor.history_ = [
                MonitorStep(**{**s, "drifted_columns": tuple(s["drifted_columns"])})
                for s in state["history"]
            ]
            n_batches = state.get("n_batches", len(monitor.history_))
        except (KeyError, TypeError) as exc:
            raise StateError(f"malformed Monitor state: {exc!r}") from None
        if not isinstance(n_batches, int) or isinstance(n_batches, bool) or n_batches < 0:
            raise StateError(f"Monitor state n_batches must be an integer >= 0, got "
                             f"{n_batches!r}")
        if monitor.history_ and ([s.batch for s in monitor.history_]
                                 != list(range(1, n_batches + 1))):
            raise StateError("Monitor history batches must be numbered 1, 2, ..., n_batches")
        monitor.n_batches_ = n_batches
        return monitor
