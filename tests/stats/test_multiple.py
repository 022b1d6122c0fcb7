"""Multiple-testing adjustments against hand-computed values, closed forms and SciPy."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats as st

from shiftguard.errors import InputError, ParameterError
from shiftguard.stats.multiple import METHODS, adjust_pvalues, reject

P = np.array([0.01, 0.04, 0.03, 0.005, 0.2])


def test_hand_computed_values() -> None:
    # sorted: 0.005, 0.01, 0.03, 0.04, 0.2 (m = 5)
    np.testing.assert_allclose(adjust_pvalues(P, "bonferroni"), [0.05, 0.2, 0.15, 0.025, 1.0])
    # Holm: 5*0.005=0.025, 4*0.01=0.04, 3*0.03=0.09, 2*0.04=0.08 -> 0.09, 1*0.2=0.2
    np.testing.assert_allclose(adjust_pvalues(P, "holm"), [0.04, 0.09, 0.09, 0.025, 0.2])
    # Hochberg: same products, running minimum from the largest p-value down
    np.testing.assert_allclose(adjust_pvalues(P, "hochberg"), [0.04, 0.08, 0.08, 0.025, 0.2])
    # BH: 5/1*0.005=0.025, 5/2*0.01=0.025, 5/3*0.03=0.05, 5/4*0.04=0.05, 0.2
    np.testing.assert_allclose(adjust_pvalues(P, "bh"), [0.025, 0.05, 0.05, 0.025, 0.2])
    c5 = 1 + 1 / 2 + 1 / 3 + 1 / 4 + 1 / 5
    np.testing.assert_allclose(adjust_pvalues(P, "by"), np.minimum(
        np.array([0.025, 0.05, 0.05, 0.025, 0.2]) * c5, 1.0))


@pytest.mark.parametrize("seed", range(5))
def test_bh_and_by_equal_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    p = np.concatenate([rng.uniform(size=40), rng.beta(0.2, 5, size=20), [0.3, 0.3, 1.0]])
    for method in ("bh", "by"):
        np.testing.assert_allclose(
            adjust_pvalues(p, method), st.false_discovery_control(p, method=method),
            rtol=1e-12,
        )


@pytest.mark.parametrize("seed", range(5))
def test_step_procedures_match_their_closed_forms(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    p = rng.beta(0.5, 2, size=30)
    m = p.size
    sorted_p = np.sort(p)
    for alpha in (0.01, 0.05, 0.2):
        # Holm: reject the first k sorted hypotheses, k the first i with p_(i) > alpha/(m-i+1)
        above = sorted_p > alpha / (m - np.arange(m))
        k = int(np.argmax(above)) if above.any() else m
        assert reject(p, alpha, "holm").sum() == k
        # Hochberg: reject all p <= p_(k), k the largest i with p_(i) <= alpha/(m-i+1)
        below = np.flatnonzero(sorted_p <= alpha / (m - np.arange(m)))
        k = below[-1] + 1 if below.size else 0
        assert reject(p, alpha, "hochberg").sum() == k
        # BH: k the largest i with p_(i) <= i alpha / m
        below = np.flatnonzero(sorted_p <= np.arange(1, m + 1) * alpha / m)
        k = below[-1] + 1 if below.size else 0
        assert reject(p, alpha, "bh").sum() == k
        assert reject(p, alpha, "bonferroni").sum() == np.sum(p <= alpha / m)


@pytest.mark.parametrize("method", METHODS)
def test_adjusted_pvalues_are_monotone_capped_and_dominate(method: str) -> None:
    p = np.random.default_rng(7).uniform(size=50) ** 2
    adj = adjust_pvalues(p, method)
    order = np.argsort(p)
    assert np.all(np.diff(adj[order]) >= 0)
    assert np.all(adj <= 1.0) and np.all(adj >= p)
    assert adjust_pvalues([], method).size == 0
    np.testing.assert_array_equal(adjust_pvalues([0.3], method), [0.3])


def test_ordering_of_power() -> None:
    p = np.random.default_rng(8).beta(0.3, 3, size=40)
    bonf, holm, hoch = (reject(p, 0.1, m) for m in ("bonferroni", "holm", "hochberg"))
    assert np.all(holm >= bonf) and np.all(hoch >= holm)
    assert np.all(reject(p, 0.1, "bh") >= reject(p, 0.1, "by"))


def test_bad_input() -> None:
    with pytest.raises(InputError, match="pvalues.*NaN"):
        adjust_pvalues([0.1, np.nan])
    with pytest.raises(InputError, match="pvalues.*position 1"):
        adjust_pvalues([0.1, 1.5])
    with pytest.raises(InputError, match="pvalues.*position 0"):
        adjust_pvalues([-0.1, 0.5])
    with pytest.raises(ParameterError, match="method"):
        adjust_pvalues([0.1], method="fdr")
    with pytest.raises(ParameterError, match="alpha"):
        reject([0.1], alpha=1.5)
    with pytest.raises(InputError, match="pvalues.*1-D"):
        adjust_pvalues([[0.1, 0.2]])
