"""The report's familywise guarantee: under the null, P(report.drifted) <= alpha."""

import numpy as np
import pytest

from helpers import binomial_band
from shiftguard.drift import compare

pytestmark = pytest.mark.validity


def _null_pair(rng, n):
    def table():
        x = rng.normal(size=(n, 3))
        x[rng.random(n) < 0.1, 1] = np.nan
        return {"a": x[:, 0], "b": x[:, 1], "c": rng.exponential(size=n),
                "k": rng.choice(["p", "q", "r"], size=n, p=[0.5, 0.3, 0.2])}
    return table(), table()


@pytest.mark.parametrize("correction", ["holm", "bh"])
def test_false_alarm_rate_of_whole_report(correction):
    rng = np.random.default_rng(7)
    reps, alpha = 600, 0.05
    alarms = sum(
        compare(*_null_pair(rng, 120), correction=correction, multivariate="none",
                localize=False).drifted
        for _ in range(reps)
    )
    # Holm controls FWER; under the global null BH's FDR equals its FWER, so both <= alpha.
    assert alarms / reps <= binomial_band(alpha, reps)[1]


def test_power_on_a_small_shift():
    # Scale 1.3 of an exponential column, n = 300: KS alone has power ~0.7, about 0.45 after
    # Holm over the report's five tests -- the price of familywise control.
    rng = np.random.default_rng(8)
    reps = 100
    hits = 0
    for _ in range(reps):
        ref, cur = _null_pair(rng, 300)
        cur["c"] = cur["c"] * 1.3
        hits += compare(ref, cur, multivariate="none", localize=False).drifted
    assert hits / reps > 0.3
