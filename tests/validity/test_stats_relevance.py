"""Relevance tests at the boundary of their null (true distance == delta): P(flag) <= alpha,
on continuous, heavily tied and categorical data with unequal sizes; the intervals cover;
and the tests are not vacuous (they flag a distance well above delta)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from helpers import binomial_band
from shiftguard.stats import ks_relevance_test, tv_relevance_test_counts

pytestmark = pytest.mark.validity

ALPHA = 0.1
REPS = 1000
DELTA = 0.1


def _ks_null_pair(rng, kind, n, m, distance):
    if kind == "normal":
        # N(0, 1) vs N(mu, 1) has KS distance 2 Phi(mu / 2) - 1
        mu = 2 * norm.ppf((1 + distance) / 2)
        return rng.normal(size=n), rng.normal(mu, 1, m)
    # integers 0..3: moving mass `distance` from 0 to 3 gives KS distance `distance`
    p = np.array([0.4, 0.3, 0.2, 0.1])
    q = p + np.array([-distance, 0, 0, distance])
    return (rng.choice(4, size=n, p=p).astype(float), rng.choice(4, size=m, p=q).astype(float))


@pytest.mark.parametrize("kind", ["normal", "integers"])
@pytest.mark.parametrize(("n", "m"), [(200, 2000), (2000, 200), (200, 20_000), (1000, 1000)])
def test_ks_relevance_size_and_coverage_at_the_boundary(kind, n, m):
    rng = np.random.default_rng([len(kind), n, m])
    flags = covered = 0
    for _ in range(REPS):
        x, y = _ks_null_pair(rng, kind, n, m, DELTA)
        res = ks_relevance_test(x, y, DELTA, alpha=ALPHA)
        flags += res.pvalue <= ALPHA
        covered += res.ci_low <= DELTA <= res.ci_high
    assert flags / REPS <= binomial_band(ALPHA, REPS)[1]
    assert covered / REPS >= binomial_band(1 - ALPHA, REPS)[0]


@pytest.mark.parametrize(("n", "m"), [(200, 2000), (200, 20_000), (1000, 1000)])
def test_tv_relevance_size_and_coverage_at_the_boundary(n, m):
    rng = np.random.default_rng(n + 7 * m)
    # four common categories and six rare ones; move DELTA of mass from "a" to "d"
    p = np.array([0.4, 0.3, 0.2, 0.1 - 6e-3] + [1e-3] * 6)
    q = p.copy()
    q[0] -= DELTA
    q[3] += DELTA
    ref = rng.multinomial(n, p, size=REPS)
    cur = rng.multinomial(m, q, size=REPS)
    results = [tv_relevance_test_counts(r, c, DELTA, alpha=ALPHA)
               for r, c in zip(ref, cur, strict=True)]
    flags = sum(r.pvalue <= ALPHA for r in results)
    covered = sum(r.ci_low <= DELTA <= r.ci_high for r in results)
    assert flags / REPS <= binomial_band(ALPHA, REPS)[1]
    assert covered / REPS >= binomial_band(1 - ALPHA, REPS)[0]


def test_relevance_tests_flag_a_distance_well_above_delta():
    rng = np.random.default_rng(5)
    hits_ks = hits_tv = 0
    p = np.array([0.4, 0.3, 0.2, 0.1])
    q = np.array([0.15, 0.3, 0.2, 0.35])  # total variation 0.25
    for _ in range(200):
        x, y = _ks_null_pair(rng, "normal", 5000, 5000, 0.2)  # KS distance 0.2
        hits_ks += ks_relevance_test(x, y, DELTA, alpha=ALPHA).pvalue <= ALPHA
        hits_tv += tv_relevance_test_counts(rng.multinomial(2000, p), rng.multinomial(2000, q),
                                            DELTA, alpha=ALPHA).pvalue <= ALPHA
    assert hits_ks / 200 >= 0.9
    assert hits_tv / 200 >= 0.9
