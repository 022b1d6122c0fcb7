"""Checks every streaming detector passes (river-style shared suite), plus per-detector facts."""

from __future__ import annotations

import copy
import doctest
import importlib
import json
import math
import pickle

import numpy as np
import pytest

from shiftguard.errors import InputError, ParameterError, StateError
from shiftguard.stream import (
    ADWIN,
    CUSUM,
    DDM,
    EDDM,
    HDDMA,
    HDDMW,
    KSWIN,
    BernoulliSPRT,
    BettingConfidenceSequence,
    GaussianSPRT,
    MixtureSPRT,
    PageHinkley,
    SequentialTwoSampleTest,
    cusum_average_run_length,
    detector_from_dict,
)
from shiftguard.stream._base import NativeUpdate


def _numeric_stream(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.normal(m, 1.0, 600) for m in (0.0, 1.5, 0.0, -1.5, 0.0)])


def _error_stream(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.random(800) < p for p in (0.1, 0.4, 0.1, 0.5)]).astype(float)


def _unit_stream(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.beta(a, 2.0, 800) for a in (1.0, 12.0, 1.0)])


# name -> (factory, stream maker, support)
CASES = {
    "ADWIN": (ADWIN, _numeric_stream, "real"),
    "PageHinkley": (lambda: PageHinkley(threshold=20.0), _numeric_stream, "real"),
    "CUSUM-known": (lambda: CUSUM(target_mean=0.0, std=1.0), _numeric_stream, "real"),
    "CUSUM-estimated": (CUSUM, _numeric_stream, "real"),
    "KSWIN": (lambda: KSWIN(seed=3), _numeric_stream, "real"),
    "GaussianSPRT": (lambda: GaussianSPRT(0.0, 1.0), _numeric_stream, "real"),
    "MixtureSPRT": (MixtureSPRT, _numeric_stream, "real"),
    "TwoSample": (
        lambda: SequentialTwoSampleTest(np.random.default_rng(9).normal(size=300), seed=4),
        _numeric_stream,
        "real",
    ),
    "DDM": (DDM, _error_stream, "binary"),
    "EDDM": (EDDM, _error_stream, "binary"),
    "BernoulliSPRT": (lambda: BernoulliSPRT(0.1, 0.3), _error_stream, "binary"),
    "HDDMA": (lambda: HDDMA(two_sided=True), _unit_stream, "unit"),
    "HDDMW": (lambda: HDDMW(two_sided=True), _unit_stream, "unit"),
    "BettingCS": (
        lambda: BettingConfidenceSequence(null_mean=0.5, grid_size=200), _unit_stream, "unit"
    ),
}
NAMES = list(CASES)


# label -> (shiftguard detector, the same detector in river 0.26.1, stream maker, seed);
# river's alarms on these streams are recorded in RIVER_ALARMS by
# bench/stream/river_alarms.py (river is no dependency of the project)
RIVER_CASES = {
    "ADWIN": (ADWIN, "drift.ADWIN()", _numeric_stream, 0),
    "ADWIN-small": (
        lambda: ADWIN(delta=0.05, clock=7, max_buckets=3, min_window_length=2, grace_period=40),
        "drift.ADWIN(delta=0.05, clock=7, max_buckets=3, min_window_length=2, grace_period=40)",
        _error_stream, 1,
    ),
    "ADWIN-clock1": (lambda: ADWIN(clock=1), "drift.ADWIN(clock=1)", _numeric_stream, 2),
    "PageHinkley": (
        lambda: PageHinkley(threshold=20.0), "drift.PageHinkley(threshold=20.0)", _numeric_stream, 0
    ),
    "PageHinkley-up": (
        lambda: PageHinkley(min_instances=5, delta=0.1, threshold=10.0, forgetting_factor=0.99,
                            mode="up"),
        "drift.PageHinkley(min_instances=5, delta=0.1, threshold=10.0, alpha=0.99, mode='up')",
        _numeric_stream, 1,
    ),
    "PageHinkley-down": (
        lambda: PageHinkley(threshold=15.0, mode="down"),
        "drift.PageHinkley(threshold=15.0, mode='down')", _numeric_stream, 2,
    ),
    "DDM": (DDM, "binary.DDM()", _error_stream, 0),
    "DDM-tight": (
        lambda: DDM(warm_start=50, warning_threshold=1.5, drift_threshold=2.5),
        "binary.DDM(warm_start=50, warning_threshold=1.5, drift_threshold=2.5)",
        _error_stream, 1,
    ),
    "EDDM": (EDDM, "binary.EDDM()", _error_stream, 0),
    "EDDM-early": (
        lambda: EDDM(warm_start=10, alpha=0.9, beta=0.8),
        "binary.EDDM(warm_start=10, alpha=0.9, beta=0.8)", _error_stream, 1,
    ),
    "HDDMA": (HDDMA, "binary.HDDMA()", _error_stream, 0),
    "HDDMA-two-sided": (
        lambda: HDDMA(two_sided=True), "binary.HDDMA(two_sided_test=True)", _unit_stream, 1
    ),
    "HDDMW": (HDDMW, "binary.HDDMW()", _error_stream, 0),
    "HDDMW-two-sided": (
        lambda: HDDMW(lambda_=0.1, two_sided=True),
        "binary.HDDMW(lambda_val=0.1, two_sided_test=True)", _unit_stream, 1,
    ),
}
RIVER_ALARMS = {
    "ADWIN": [639, 1215, 1855, 2431],
    "ADWIN-small": [839, 1672, 2421],
    "ADWIN-clock1": [619, 1219, 1818, 2415],
    "PageHinkley": [238, 572, 613, 964, 1099, 1201, 1322, 1675, 1812, 1894, 2089, 2405, 2614, 2992],
    "PageHinkley-up": [
        311, 462, 604, 723, 858, 1110, 1504, 1688, 1727, 1785, 1980, 2227, 2290, 2407, 2503, 2908
    ],
    "PageHinkley-down": [265, 563, 1183, 1221, 1804, 1978, 2101, 2195, 2279, 2386, 2887],
    "DDM": [853, 1103, 2542],
    "DDM-tight": [257, 828, 2481],
    "EDDM": [
        289, 674, 857, 951, 1026, 1098, 1201, 1325, 1441, 1538, 1832, 2076, 2416, 2490, 2546,
        2694, 2751, 2938, 2995, 3089
    ],
    "EDDM-early": [216, 275, 841, 860, 2890, 2916, 2947],
    "HDDMA": [855, 2501],
    "HDDMA-two-sided": [812, 1611],
    "HDDMW": [937, 1328, 2418, 2703],
    "HDDMW-two-sided": [816, 1642],
}


def _one_by_one(detector, xs) -> list[int]:
    return [i for i, x in enumerate(xs) if detector.update(x).drift_detected]


@pytest.mark.parametrize("name", NAMES)
def test_update_many_gives_the_alarms_of_one_by_one_updates(name):
    factory, make, _ = CASES[name]
    xs = make()
    batched = factory().update_many(xs)
    assert batched.dtype == np.int64
    assert batched.size > 0, "the test stream must make the detector alarm"
    assert batched.tolist() == _one_by_one(factory(), xs)
    # uneven batches give the same alarms, with positions relative to each batch
    detector, found, start = factory(), [], 0
    for size in np.random.default_rng(1).integers(0, 400, 40):
        chunk = xs[start : start + size]
        found += (detector.update_many(chunk) + start).tolist()
        start += size
    found += (detector.update_many(xs[start:]) + start).tolist()
    assert found == batched.tolist()


@pytest.mark.parametrize("name", NAMES)
def test_update_and_update_many_interleaved_give_the_same_alarms_and_state(name):
    # the per-value path keeps its own copy of the state: whichever path fed which values,
    # with JSON round trips in between, alarms, flag and JSON state (to the bit) must match
    factory, make, _ = CASES[name]
    xs = make()
    rng = np.random.default_rng(2)
    mixed, lockstep, found, start = factory(), factory(), [], 0
    while start < xs.size:
        stop = min(xs.size, start + int(rng.integers(1, 80)))
        if rng.random() < 0.5:
            found += [i for i in range(start, stop) if mixed.update(xs[i].item()).drift_detected]
        else:
            found += (mixed.update_many(xs[start:stop]) + start).tolist()
        lockstep.update_many(xs[start:stop])
        assert mixed.drift_detected == lockstep.drift_detected
        assert mixed.n_seen == lockstep.n_seen == stop
        assert json.dumps(mixed.to_dict()) == json.dumps(lockstep.to_dict())
        if rng.random() < 0.1:
            mixed = detector_from_dict(json.loads(json.dumps(mixed.to_dict())))
        start = stop
    assert found == factory().update_many(xs).tolist()
    value_by_value = factory()
    assert _one_by_one(value_by_value, xs.tolist()) == found
    assert json.dumps(value_by_value.to_dict()) == json.dumps(lockstep.to_dict())


@pytest.mark.parametrize("name", NAMES)
def test_pickle_and_deepcopy_continue_the_stream_independently(name):
    factory, make, _ = CASES[name]
    xs = make()
    expected = factory().update_many(xs).tolist()
    half = xs.size // 2
    detector = factory()
    first = _one_by_one(detector, xs[:half].tolist())
    for twin in (pickle.loads(pickle.dumps(detector)), copy.deepcopy(detector)):
        assert first + [half + i for i in _one_by_one(twin, xs[half:].tolist())] == expected
    assert detector.n_seen == half  # the copies did not feed the original


@pytest.mark.parametrize("name", NAMES)
def test_update_takes_ints_bools_and_numpy_scalars_as_floats(name):
    factory, make, support = CASES[name]
    xs = make()[:1500]
    xs = np.round(xs * 4.0) if support == "real" else np.round(xs)  # whole numbers
    as_floats = factory()
    expected = _one_by_one(as_floats, xs.tolist())
    for kind in [np.float64, int, np.int64] + ([bool] if support == "binary" else []):
        detector = factory()
        assert _one_by_one(detector, [kind(x) for x in xs.tolist()]) == expected, kind
        assert detector.to_dict() == as_floats.to_dict()


@pytest.mark.parametrize("label", list(RIVER_CASES))
def test_alarms_equal_rivers(label):
    factory, _, make, seed = RIVER_CASES[label]
    xs = make(seed)
    expected = RIVER_ALARMS[label]
    assert expected, "the stream must make river alarm"
    assert factory().update_many(xs).tolist() == expected
    assert _one_by_one(factory(), xs.tolist()) == expected


@pytest.mark.parametrize("name", NAMES)
def test_drift_detected_reflects_the_last_value(name):
    factory, make, _ = CASES[name]
    xs = make()
    alarms = factory().update_many(xs)
    detector = factory()
    detector.update_many(xs[: alarms[0] + 1])
    assert detector.drift_detected
    detector.update(xs[alarms[0] + 1])
    assert detector.drift_detected == (alarms.size > 1 and alarms[1] == alarms[0] + 1)


@pytest.mark.parametrize("name", NAMES)
def test_state_survives_a_json_round_trip_mid_stream(name):
    factory, make, _ = CASES[name]
    xs = make()
    straight = factory()
    expected = straight.update_many(xs)
    half = xs.size // 2
    first = factory()
    before = first.update_many(xs[:half]).tolist()
    saved = json.dumps(first.to_dict(), allow_nan=False)
    restored = detector_from_dict(json.loads(saved))
    assert type(restored) is type(first)
    assert restored.n_seen == half and restored.drift_detected == first.drift_detected
    after = (restored.update_many(xs[half:]) + half).tolist()
    assert before + after == expected.tolist()
    assert restored.to_dict() == straight.to_dict()
    # the class method restores as well
    assert type(first).from_dict(json.loads(saved)).to_dict() == json.loads(saved)


@pytest.mark.parametrize("name", NAMES)
def test_reset_returns_to_the_fresh_state(name):
    factory, make, _ = CASES[name]
    xs = make()
    detector = factory()
    fresh = detector.to_dict()
    expected = detector.update_many(xs)
    detector.reset()
    assert detector.to_dict() == fresh
    assert not detector.drift_detected and detector.n_seen == 0
    assert detector.update_many(xs).tolist() == expected.tolist()


BAD_VALUES = [math.nan, math.inf, -math.inf, "a", None]


@pytest.mark.parametrize("name", NAMES)
def test_bad_input_raises_and_leaves_the_state_alone(name):
    factory, make, support = CASES[name]
    xs = make()
    detector = factory()
    detector.update_many(xs[:100])
    state = detector.to_dict()
    out_of_support = {"real": [], "unit": [-0.1, 1.5], "binary": [0.5, 2.0, -1.0]}[support]
    for bad in BAD_VALUES + out_of_support:
        with pytest.raises(InputError):
            detector.update(bad)
        batch = np.array(xs[:10], dtype=object)
        batch[5] = bad
        with pytest.raises(InputError, match="xs"):
            detector.update_many(batch)
    with pytest.raises(InputError, match="update_many"):
        detector.update(xs[:2])
    with pytest.raises(InputError, match="1-D"):
        detector.update_many(np.ones((3, 2)) * xs[0])
    assert detector.to_dict() == state, "a rejected batch must not be partly consumed"
    assert detector.update_many([]).size == 0


@pytest.mark.parametrize("name", NAMES)
def test_foreign_or_damaged_state_is_refused(name):
    factory, make, _ = CASES[name]
    detector = factory()
    detector.update_many(make()[:50])
    state = json.loads(json.dumps(detector.to_dict()))
    other = "DDM" if state["detector"] != "DDM" else "ADWIN"
    with pytest.raises(StateError):
        type(detector).from_dict({**state, "detector": other})
    with pytest.raises(StateError):
        detector_from_dict({**state, "detector": "NoSuchDetector"})
    with pytest.raises(StateError):
        detector_from_dict({**state, "version": 99})
    key = next(iter(state["state"]))
    with pytest.raises(StateError):
        detector_from_dict({**state, "state": {**state["state"], key: [[1.0, 2.0]]}})
    missing = dict(state["state"])
    missing.pop(key)
    with pytest.raises(StateError):
        detector_from_dict({**state, "state": missing})


MODULES = [
    "_base", "adwin", "anytime", "cusum", "ddm", "eddm", "hddm", "kswin", "monitor",
    "page_hinkley", "sprt",
]


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples_run(module):
    mod = importlib.import_module(f"shiftguard.stream.{module}")
    result = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


@pytest.mark.parametrize(
    "make",
    [
        lambda: ADWIN(delta=0.0),
        lambda: ADWIN(clock=0),
        lambda: PageHinkley(mode="sideways"),
        lambda: PageHinkley(forgetting_factor=1.5),
        lambda: CUSUM(target_mean=0.0),
        lambda: CUSUM(0.0, std=-1.0),
        lambda: DDM(warning_threshold=3.0, drift_threshold=2.0),
        lambda: EDDM(alpha=0.8, beta=0.9),
        lambda: HDDMA(drift_confidence=0.01, warning_confidence=0.001),
        lambda: HDDMW(lambda_=1.5),
        lambda: KSWIN(window_size=50, stat_size=30),
        lambda: GaussianSPRT(1.0, 1.0),
        lambda: BernoulliSPRT(0.1, 1.2),
        lambda: GaussianSPRT(0.0, 1.0, alpha=0.6, beta=0.5),
        lambda: MixtureSPRT(alpha=1.0),
        lambda: BettingConfidenceSequence(null_mean=1.0),
    ],
)
def test_bad_parameters_raise(make):
    with pytest.raises(ParameterError):
        make()


def test_two_sample_reference_is_validated():
    with pytest.raises(InputError, match="reference"):
        SequentialTwoSampleTest([1.0, math.nan])
    with pytest.raises(InputError, match="reference"):
        SequentialTwoSampleTest([])


def test_kswin_pvalues_equal_scipy_exact_ks():
    from scipy.stats import ks_2samp

    from shiftguard.stream.kswin import ks_pvalue_equal_sizes, ks_statistic_equal_sizes

    rng = np.random.default_rng(5)
    for n in (5, 30, 60):
        for shift in (0.0, 0.5, 1.0, 2.0):
            a, b = rng.normal(size=n), rng.normal(shift, 1.0, n)
            reference = ks_2samp(a, b, method="exact")
            gap = ks_statistic_equal_sizes(a, b)
            assert gap / n == pytest.approx(reference.statistic, rel=1e-12)
            assert ks_pvalue_equal_sizes(n, gap) == pytest.approx(reference.pvalue, rel=1e-9)


def test_kswin_reports_the_last_pvalue():
    detector = KSWIN(seed=0)
    detector.update_many(np.random.default_rng(0).normal(size=150))
    assert 0.0 < detector.p_value <= 1.0


def test_adwin_window_statistics():
    detector = ADWIN()
    detector.update_many(np.tile([0.0, 1.0], 500))
    assert detector.width == 1000
    assert detector.estimation == pytest.approx(0.5)


def _reference_adwin(xs, delta, clock, max_buckets, min_window_length, grace_period):
    """ADWIN as river implements it, value by value in plain Python: the oracle."""
    alarms = []
    rows: list[list[float]] = [[]]
    width = total = variance = 0.0
    tick = 0
    for i, x in enumerate(xs):
        rows[0].append(x)
        width += 1.0
        if width > 1.0:
            d = x - total / (width - 1.0)
            variance += (width - 1.0) * d * d / width
        total += x
        r = 0
        while len(rows[r]) == max_buckets + 1:
            if r + 1 == len(rows):
                rows.append([])
            rows[r + 1].append(rows[r].pop(0) + rows[r].pop(0))
            r += 1
        tick += 1
        if tick % clock or width <= grace_period:
            continue
        log_term = math.log(2.0 * math.log(width) / delta)
        boundaries = [(2.0**r, t) for r in range(len(rows) - 1, -1, -1) for t in rows[r]][:-1]
        n_old, sum_old = 0.0, 0.0
        for size, t in boundaries:
            n_old, sum_old = n_old + size, sum_old + t
            n_new, sum_new = width - n_old, total - sum_old
            if min(n_old, n_new) < min_window_length:
                continue
            m = 1 / (n_old - min_window_length + 1) + 1 / (n_new - min_window_length + 1)
            eps = math.sqrt(2 * m * variance / width * log_term) + 2 / 3 * log_term * m
            if abs(sum_old / n_old - sum_new / n_new) > eps:
                alarms.append(i)
                rows, width, total, variance, tick = [[]], 0.0, 0.0, 0.0, 0
                break
    return alarms


@pytest.mark.parametrize("seed", range(12))
def test_adwin_alarms_equal_a_plain_value_by_value_implementation(seed):
    # the kernel inserts whole segments, updates the variance once per tick and screens
    # boundaries with a division-free bound; none of that may move an alarm
    rng = np.random.default_rng(seed)
    n = 3000
    step = np.arange(n) >= rng.integers(500, n)
    kind = seed % 3
    if kind == 0:
        xs = rng.normal(0.0, 1.0, n) + step * rng.uniform(0.3, 1.5)
    elif kind == 1:
        xs = (rng.random(n) < np.where(step, 0.35, 0.1)).astype(float)
    else:
        xs = rng.standard_t(2, n) * 1e3 + 5e4 + step * 3e3
    params = {
        "delta": float(rng.choice([0.002, 0.05, 0.3])),
        "clock": int(rng.choice([1, 7, 32])),
        "max_buckets": int(rng.choice([2, 5, 8])),
        "min_window_length": int(rng.choice([1, 5, 20])),
        "grace_period": int(rng.choice([1, 10, 100])),
    }
    expected = _reference_adwin(xs.tolist(), **params)
    assert expected, "the stream should raise at least one alarm"
    batched = ADWIN(**params)
    assert batched.update_many(xs).tolist() == expected
    value_by_value = ADWIN(**params)
    assert _one_by_one(value_by_value, xs.tolist()) == expected
    assert value_by_value.to_dict() == batched.to_dict()


def test_cusum_average_run_length_matches_published_values():
    # Montgomery (2009), Table 9.3 (two-sided chart, k = 0.5): ARL0 = 168 (h=4), 465 (h=5);
    # delay to a one-sd shift from the one-sided chart = 8.38 (h=4), 10.4 (h=5).
    assert cusum_average_run_length(0.5, 4.0) == pytest.approx(168, rel=0.01)
    assert cusum_average_run_length(0.5, 5.0) == pytest.approx(465, rel=0.01)
    assert cusum_average_run_length(0.5, 4.0, 1.0, two_sided=False) == pytest.approx(8.38, rel=0.01)
    assert cusum_average_run_length(0.5, 5.0, 1.0, two_sided=False) == pytest.approx(10.4, rel=0.01)


def test_mixture_sprt_matches_its_closed_form():
    xs = np.random.default_rng(2).normal(0.1, 2.0, 200)
    test = MixtureSPRT(mean0=0.0, std=2.0, alpha=0.1, mixture_std=1.0)
    test.update_many(xs)
    t, sums = np.arange(1, 201), np.cumsum(xs)
    log_e = 0.5 * np.log(4.0 / (4.0 + t)) + sums**2 / (2.0 * 4.0 * (4.0 + t))
    assert test.e_value == pytest.approx(np.exp(log_e[-1]), rel=1e-9)
    assert test.pvalue == pytest.approx(min(1.0, np.exp(-log_e.max())), rel=1e-9)
    # the confidence sequence's edges are the means whose e-value is exactly 1/alpha
    for edge in test.confidence_interval():
        centred = sums[-1] - 200 * edge
        log_e_edge = 0.5 * np.log(4.0 / 204.0) + centred**2 / (2.0 * 4.0 * 204.0)
        assert np.exp(log_e_edge) == pytest.approx(10.0, rel=1e-9)


def test_betting_interval_shrinks_around_the_mean():
    cs = BettingConfidenceSequence(grid_size=500)
    lower0, upper0 = cs.interval
    cs.update_many(np.random.default_rng(3).beta(2.0, 3.0, 3000))
    lower, upper = cs.interval
    assert (lower0, upper0) == (0.0, 1.0)
    assert lower < 0.4 < upper
    assert upper - lower < 0.08


def test_sprt_counts_accepted_cycles():
    sprt = GaussianSPRT(0.0, 1.0, alpha=0.01, beta=0.01)
    sprt.update_many(np.random.default_rng(4).normal(0.0, 1.0, 2000))
    assert sprt.n_accepted > 100  # each null cycle lasts ~ 9 values on average
    assert abs(sprt.log_likelihood_ratio) < math.log(99.0)


def _bursty_error_stream(seed: int, size: int = 30_000) -> np.ndarray:
    """0/1 errors in segments: runs of ones, runs of zeros, rates from 0.002 to 0.95."""
    rng = np.random.default_rng(seed)
    parts, total = [], 0
    while total < size:
        length = int(rng.integers(50, 6000))
        kind = rng.random()
        if kind < 0.12:
            part = np.ones(length)
        elif kind < 0.24:
            part = np.zeros(length)
        else:
            rate = rng.choice([0.002, 0.01, 0.1, 0.3, 0.5, 0.7, 0.95])
            part = (rng.random(length) < rate) * 1.0
        parts.append(part)
        total += length
    return np.concatenate(parts)


EDGE_CASES = {
    # detector -> constructor arguments: warm starts and thresholds at the edge
    "DDM": [
        {"warm_start": 30, "warning_threshold": 1.0, "drift_threshold": 3.0},
        {"warm_start": 5, "warning_threshold": 1.0, "drift_threshold": 6.0},
        {"warm_start": 1, "warning_threshold": 1.0, "drift_threshold": 1.0},
        {"warm_start": 200, "warning_threshold": 1.0, "drift_threshold": 1.001},
    ],
    "EDDM": [
        {"warm_start": 30, "alpha": 0.95, "beta": 0.9},
        {"warm_start": 1, "alpha": 0.95, "beta": 0.5},
        {"warm_start": 200, "alpha": 0.995, "beta": 0.99},
        {"warm_start": 5, "alpha": 0.95, "beta": 0.8},
    ],
    "HDDMA": [{"two_sided": True}, {"drift_confidence": 0.05, "warning_confidence": 0.1}],
    "HDDMW": [{"two_sided": True, "lambda_": 0.2}],
}


@pytest.mark.parametrize("cls", [ADWIN, PageHinkley, DDM, EDDM, HDDMA, HDDMW])
def test_the_light_detectors_update_is_the_compiled_one(cls):
    # a Python `update` defined on the class would shadow the compiled one (5-10x slower)
    assert cls.update is NativeUpdate.update


def test_adwin_with_a_clock_longer_than_its_buffer():
    # update() hands a long clock's values to the kernel in buffers of 4,096 (which cannot
    # alarm) and the rest at the tick; alarms, flags and state must be update_many's
    xs = np.concatenate([np.random.default_rng(k).normal(k % 2, 1.0, 30_000) for k in range(4)])
    batched = ADWIN(clock=10_000, grace_period=100)
    expected = batched.update_many(xs)
    assert expected.size >= 2
    detector = ADWIN(clock=10_000, grace_period=100)
    assert _one_by_one(detector, xs.tolist()) == expected.tolist()
    assert json.dumps(detector.to_dict()) == json.dumps(batched.to_dict())


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("name", list(EDGE_CASES))
def test_per_value_update_keeps_the_exact_alarms_and_state_on_bursty_streams(name, seed):
    # the compiled update() runs the kernel one value at a time (ADWIN: one clock at a
    # time) and keeps warning flags in the state; bursts of ones and zeros, rates near 0.5,
    # warm starts and thresholds at the edge must give update_many's alarms and state
    cls = {"DDM": DDM, "EDDM": EDDM, "HDDMA": HDDMA, "HDDMW": HDDMW}[name]
    xs = _bursty_error_stream(seed)
    n_warned = 0
    for params in EDGE_CASES[name]:
        detector, found, warned = cls(**params), [], []
        for i, x in enumerate(xs.tolist()):
            if detector.update(x).drift_detected:
                found.append(i)
            if detector.warning_detected:
                warned.append(i)
        batched, batched_warned = cls(**params), []
        for i in range(xs.size):
            batched.update_many(xs[i : i + 1])
            if batched.warning_detected:
                batched_warned.append(i)
        assert found == cls(**params).update_many(xs).tolist()
        assert found, "the stream must make the detector alarm"
        assert warned == batched_warned
        assert json.dumps(detector.to_dict()) == json.dumps(batched.to_dict())
        n_warned += len(warned)
    assert n_warned, "the stream must make the detector warn"
