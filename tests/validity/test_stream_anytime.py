"""Anytime-valid tests: on 1,000 seeded null streams at most alpha of them ever alarm."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import binomial_band
from shiftguard.stream import BettingConfidenceSequence, MixtureSPRT, SequentialTwoSampleTest

pytestmark = pytest.mark.validity

N_STREAMS = 1000
ALPHA = 0.1


def _ever_alarm_rate(make_detector, make_stream, seed: int) -> float:
    rng = np.random.default_rng(seed)
    hits = sum(make_detector(rng).update_many(make_stream(rng)).size > 0 for _ in range(N_STREAMS))
    return hits / N_STREAMS


def _two_sample(reference: np.ndarray, rng: np.random.Generator) -> SequentialTwoSampleTest:
    return SequentialTwoSampleTest(reference, alpha=ALPHA, seed=int(rng.integers(2**31)))


NULLS = {
    "mixture-sprt-normal": (
        lambda rng: MixtureSPRT(0.0, 1.0, alpha=ALPHA),
        lambda rng: rng.normal(0.0, 1.0, 2000),
    ),
    "mixture-sprt-bounded": (  # uniform on [-1, 1] is 1-sub-Gaussian
        lambda rng: MixtureSPRT(0.0, 1.0, alpha=ALPHA, mixture_std=0.3),
        lambda rng: rng.uniform(-1.0, 1.0, 2000),
    ),
    "betting-bernoulli": (
        lambda rng: BettingConfidenceSequence(alpha=ALPHA, null_mean=0.3, grid_size=200),
        lambda rng: (rng.random(1000) < 0.3).astype(float),
    ),
    "betting-beta": (
        lambda rng: BettingConfidenceSequence(alpha=ALPHA, null_mean=2 / 7, grid_size=200),
        lambda rng: rng.beta(2.0, 5.0, 1000),
    ),
    "two-sample-normal": (
        lambda rng: _two_sample(rng.normal(size=200), rng),
        lambda rng: rng.normal(size=600),
    ),
    "two-sample-ties": (
        lambda rng: _two_sample(rng.poisson(2.0, 200), rng),
        lambda rng: rng.poisson(2.0, 600).astype(float),
    ),
}


@pytest.mark.parametrize("name", list(NULLS))
def test_probability_of_any_false_alarm_is_at_most_alpha(name):
    make_detector, make_stream = NULLS[name]
    rate = _ever_alarm_rate(make_detector, make_stream, seed=21)
    assert rate <= binomial_band(ALPHA, N_STREAMS)[1], (name, rate)


def test_betting_sequence_covers_the_mean_at_all_times_without_a_null():
    # without null_mean the detector alarms only when the sequence is empty, which
    # requires the true mean to have left it
    rate = _ever_alarm_rate(
        lambda rng: BettingConfidenceSequence(alpha=ALPHA, grid_size=100),
        lambda rng: rng.beta(0.5, 0.5, 1000),
        seed=22,
    )
    assert rate <= binomial_band(ALPHA, N_STREAMS)[1]


ALTERNATIVES = {
    "mixture-sprt": (
        lambda rng: MixtureSPRT(0.0, 1.0, alpha=ALPHA),
        lambda rng: np.r_[rng.normal(0, 1, 200), rng.normal(0.5, 1, 800)],
    ),
    "betting": (
        lambda rng: BettingConfidenceSequence(alpha=ALPHA, null_mean=0.3, grid_size=200),
        lambda rng: np.r_[rng.random(200) < 0.3, rng.random(800) < 0.5].astype(float),
    ),
    "two-sample-location": (
        lambda rng: _two_sample(rng.normal(size=300), rng),
        lambda rng: np.r_[rng.normal(0, 1, 200), rng.normal(0.5, 1, 800)],
    ),
    "two-sample-scale": (
        lambda rng: _two_sample(rng.normal(size=300), rng),
        lambda rng: np.r_[rng.normal(0, 1, 200), rng.normal(0, 2.0, 800)],
    ),
}


@pytest.mark.parametrize("name", list(ALTERNATIVES))
def test_change_at_200_is_detected_and_delay_reported(name):
    make_detector, make_stream = ALTERNATIVES[name]
    rng = np.random.default_rng(23)
    delays = []
    for _ in range(200):
        alarms = make_detector(rng).update_many(make_stream(rng))
        alarms = alarms[alarms >= 200]
        delays.append(alarms[0] - 199 if alarms.size else np.inf)
    delays = np.array(delays)
    detected = np.isfinite(delays).mean()
    print(f"{name}: detected {detected:.2f}, median delay {np.median(delays):.0f}")
    assert detected >= 0.8
