"""ECOD and COPOD fitted once: equality with PyOD on its fixture numbers, with a direct
re-implementation of both papers' formulas, the stated bound on PyOD's batch scores,
explanations, typed errors, and detection on real ADBench tables."""

from __future__ import annotations

import doctest
import math
import pickle
import warnings

import numpy as np
import pytest
from scipy.stats import skew
from sklearn.metrics import roc_auc_score

from helpers import load_adbench, novelty_split
from shiftguard.errors import InputError, NotFittedError, ParameterError
from shiftguard.ood import ecod as ecod_module
from shiftguard.ood.ecod import COPOD, ECOD, _row_skewness_sign

DETECTORS = [ECOD, COPOD]

# PyOD fixtures, made in a scratch venv outside the project (pyod 3.6.7, numpy 2.4.6,
# scipy 1.17.1) by: ``det = pyod.models.ecod.ECOD().fit(PYOD_A)``, saving
# ``det.decision_scores_`` (``*_TRAIN_A``); ``det = ECOD().fit(PYOD_B_TRAIN)``, saving
# ``det.decision_function(PYOD_B_NEW[i:i + 1])[0]`` for each row (``*_SINGLE_B``) and
# ``det.decision_function(PYOD_B_NEW)`` (``*_BATCH_B``); the same with COPOD. Values have
# one decimal, so there are ties; PYOD_A has a balanced binary column (skewness exactly 0)
# and a constant one.
PYOD_A = np.array([
    [0, 0, 3, 3.1, -0.6],
    [0.3, 0, 3, 0.7, -1.4],
    [-0.3, 0, 3, 0.3, -0.0],
    [-0.9, 0, 3, 0.9, -0.9],
    [-0.5, 0, 3, 0.1, -0.3],
    [-1, 0, 3, 0.1, -0.4],
    [0.1, 0, 3, 1.2, -3.1],
    [1.3, 0, 3, 0.8, -1.4],
    [-0.5, 1, 3, 2.2, -3.8],
    [-0.6, 1, 3, 0.5, -1.7],
    [0.5, 1, 3, 0.5, -2.2],
    [0.4, 1, 3, 1.2, -0.1],
    [0.1, 1, 3, 0.5, -0.3],
    [-0.9, 1, 3, 0, -0.2],
    [-0.0, 1, 3, 0.3, -1.1],
    [0.7, 1, 3, 1, -1.2],
])
PYOD_B_TRAIN = np.array([
    [0.8, 1, 3, 0, -0.2],
    [-1.2, 0, 3, 1.3, -1.6],
    [0.1, 1, 3, 0.5, -2.6],
    [0.6, 0, 3, 3, -0.7],
    [-0.2, 0, 3, 0.8, -1.5],
    [0.7, 0, 3, 1, -1.1],
    [-0.1, 0, 3, 0.4, -0.5],
    [0.7, 1, 3, 0, -2.2],
    [1.4, 0, 3, 5.4, -1.8],
    [-0.7, 0, 3, 0.5, -0.3],
    [0.2, 0, 3, 2.1, -0.7],
    [-0.5, 0, 3, 0.1, -1.1],
    [0.1, 1, 3, 2.7, -1.1],
    [-1.2, 1, 3, 0, -0.1],
    [-0.6, 0, 3, 0.9, -5.3],
    [-0.2, 0, 3, 0.1, -0.0],
])
PYOD_B_NEW = np.array([
    [0, 0, 3, 0.5, -0.5],
    [-9, 1, 3, 9, -0.1],
    [0.6, 1, 2, 1, -2.6],
    [9, 0, 4, 0, -9],
    [0.3, 1, 3, 1.1, -1.1],
])
PYOD_ECOD_TRAIN_A = np.array([
    4.867778620887757, 3.5302744239372976, 5.455565285789875,
    4.041100047703289, 4.511103676949024, 6.120541589383124,
    4.985561656544139, 5.27324372899592, 6.5260066974912885,
    4.1588830833596715, 4.734247228263234, 5.545177444479561,
    3.376123744110039, 6.813688769943069, 3.1248093158291335,
    4.76241810522993,
])
PYOD_ECOD_SINGLE_B = np.array([
    2.66173810253637, 8.4424816183287, 7.5380253441015475,
    10.29486570937319, 3.6549898755466534,
])
PYOD_ECOD_BATCH_B = np.array([
    3.159640386727615, 9.097616248884611, 7.613741559425856,
    11.271368470035688, 3.6859701970295706,
])
PYOD_COPOD_TRAIN_A = np.array([
    4.68944114891839, 3.5302744239372976, 3.4131777301869004,
    3.1774895736580464, 2.882055407938283, 3.6264603702610256,
    4.985561656544139, 5.27324372899592, 6.179433107211316,
    3.4103287196295815, 4.575020362703967, 4.53772593420843,
    2.7391411560370535, 3.8524529321325542, 2.647053593315415,
    4.76241810522993,
])
PYOD_COPOD_SINGLE_B = np.array([
    2.000654463554446, 7.605493401542864, 7.151430399984807,
    9.39725287077092, 3.3084162852666807,
])
PYOD_COPOD_BATCH_B = np.array([
    2.338278441693831, 8.149056256441671, 7.200402272833622,
    8.680206672741267, 3.4061623030618593,
])


def _skew_sign(X: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.sign(np.nan_to_num(skew(X, axis=0)))


def _direct_scores(train: np.ndarray, rows: np.ndarray, kind: str, rule: str,
                   in_sample: bool = False) -> np.ndarray:
    """The papers' and PyOD's formulas, one row and one feature at a time. New rows join
    the ECDFs alone ((count + 1) / (n + 1)) and, under PyOD's rule, its skewness; training
    rows (``in_sample``) are already in them (count / n)."""
    n, d = train.shape
    extra = 0 if in_sample else 1
    scores = []
    for x in rows:
        joined = in_sample or rule == "paper"
        sign = _skew_sign(train if joined else np.vstack([train, x]))
        left = [-math.log((np.sum(train[:, j] <= x[j]) + extra) / (n + extra)) for j in range(d)]
        right = [-math.log((np.sum(train[:, j] >= x[j]) + extra) / (n + extra)) for j in range(d)]
        if rule == "paper":
            auto = [left[j] if sign[j] < 0 else right[j] for j in range(d)]
            scores.append(max(sum(left), sum(right), sum(auto)))
            continue
        total = 0.0
        for j in range(d):
            by_skew = {-1.0: left[j], 1.0: right[j], 0.0: left[j] + right[j]}[sign[j]]
            if kind == "ecod":
                total += max(left[j], right[j], by_skew)
            else:
                total += max(by_skew, (left[j] + right[j]) / 2)
        scores.append(total)
    return np.array(scores)


@pytest.mark.parametrize("cls", DETECTORS)
def test_training_rows_equal_pyod_decision_scores(cls):
    expected = globals()[f"PYOD_{cls.__name__}_TRAIN_A"]
    np.testing.assert_allclose(cls().fit(PYOD_A).train_scores_, expected, rtol=1e-14)


def test_ecod_new_rows_equal_pyod_one_row_at_a_time():
    ours = ECOD().fit(PYOD_B_TRAIN).score(PYOD_B_NEW)
    np.testing.assert_allclose(ours, PYOD_ECOD_SINGLE_B, rtol=1e-14)


def test_copod_new_rows_equal_pyod_one_row_at_a_time_even_where_a_row_flips_a_skew_sign():
    # PyOD recomputes the skewness with the query row included, and so do we (by an update
    # of the training moments). Some of these rows flip a feature's sign: with the training
    # sign kept their scores would differ by more than 0.1.
    ours = COPOD().fit(PYOD_B_TRAIN).score(PYOD_B_NEW)
    varying = np.ptp(PYOD_B_TRAIN, axis=0) > 0
    base = _skew_sign(PYOD_B_TRAIN)[varying]
    flips = np.array([
        np.any(_skew_sign(np.vstack([PYOD_B_TRAIN, row]))[varying] != base)
        for row in PYOD_B_NEW
    ])
    assert 0 < flips.sum() < flips.size
    np.testing.assert_allclose(ours, PYOD_COPOD_SINGLE_B, rtol=1e-14)


def test_row_skewness_sign_equals_scipy_on_tied_and_symmetric_samples(rng):
    # Rounded and binary columns: adding one value often makes a sample exactly symmetric,
    # where SciPy's skewness is exactly 0 (both tails count) -- the update must agree.
    n = 41
    # 21 zeros and 20 ones: a new 1 makes the binary column exactly symmetric.
    train = np.column_stack([np.round(rng.normal(size=n), 1),
                             rng.permutation(np.repeat([0.0, 1.0], [21, 20])),
                             np.round(rng.exponential(size=n), 0)])
    new = np.column_stack([np.round(rng.normal(scale=3.0, size=200), 1),
                           rng.integers(0, 2, size=200), np.round(rng.normal(size=200), 0)])
    det = COPOD().fit(train)
    ours = np.column_stack([
        _row_skewness_sign(new[:, j], det.skew_moments_[:, j], det.sorted_columns_[j])
        for j in range(3)])
    expected = np.array([_skew_sign(np.vstack([train, row])) for row in new])
    assert np.any(expected == 0.0)
    np.testing.assert_array_equal(ours, expected)


def test_ecod_batch_scores_differ_from_pyod_within_the_stated_bound():
    n, m = PYOD_B_TRAIN.shape[0], PYOD_B_NEW.shape[0]
    at_most = (PYOD_B_TRAIN[None, :, :] <= PYOD_B_NEW[:, None, :]).sum(axis=1)
    at_least = (PYOD_B_TRAIN[None, :, :] >= PYOD_B_NEW[:, None, :]).sum(axis=1)
    per_feature = np.maximum.reduce([
        np.full(at_most.shape, math.log((n + m) / (n + 1))),
        np.log((at_most + m) / (at_most + 1)),
        np.log((at_least + m) / (at_least + 1)),
    ])
    diff = np.abs(ECOD().fit(PYOD_B_TRAIN).score(PYOD_B_NEW) - PYOD_ECOD_BATCH_B)
    assert np.all(diff > 0.01)  # PyOD's batch scores depend on the batch
    assert np.all(diff <= per_feature.sum(axis=1) + 1e-12)


@pytest.mark.parametrize("rule", ["pyod", "paper"])
@pytest.mark.parametrize("cls", DETECTORS)
def test_equal_to_direct_formula(cls, rule, rng):
    train = np.column_stack([
        np.round(rng.normal(size=60), 1),
        np.round(rng.exponential(size=60), 1),
        -np.round(rng.gamma(2.0, size=60), 1),
        np.repeat([0.0, 1.0], 30),
        np.full(60, 2.0),
    ])
    new = np.vstack([np.round(rng.normal(scale=2.0, size=(25, 5)), 1), train[:5]])
    det = cls(rule=rule).fit(train)
    kind = cls.__name__.lower()
    np.testing.assert_allclose(det.score(new), _direct_scores(train, new, kind, rule),
                               rtol=1e-13)
    np.testing.assert_allclose(det.train_scores_,
                               _direct_scores(train, train, kind, rule, in_sample=True),
                               rtol=1e-13)


def test_paper_rule_is_the_same_for_ecod_and_copod(rng):
    train = rng.gamma(2.0, size=(300, 4)) * [1, -1, 1, -1]
    new = rng.normal(scale=3.0, size=(50, 4))
    np.testing.assert_array_equal(ECOD(rule="paper").fit(train).score(new),
                                  COPOD(rule="paper").fit(train).score(new))


@pytest.mark.parametrize("rule", ["pyod", "paper"])
@pytest.mark.parametrize("cls", DETECTORS)
def test_contributions_sum_to_score_and_name_the_extreme_feature(cls, rule, rng):
    det = cls(rule=rule).fit(rng.normal(size=(2000, 6)))
    rows = rng.normal(size=(40, 6))
    # Far beyond the training data in feature 4 only, in the tail its skewness picks.
    rows[:, 4] = -8.0 if det.skew_sign_[4] < 0 else 8.0
    contrib = det.contributions(rows)
    assert contrib.shape == (40, 6) and np.all(contrib >= 0)
    np.testing.assert_allclose(contrib.sum(axis=1), det.score(rows), rtol=1e-12)
    assert np.all(np.argmax(contrib, axis=1) == 4)
    # Beyond every training value the tail probability is 1 / (n + 1).
    np.testing.assert_allclose(contrib[:, 4], math.log(2001), rtol=1e-14)


@pytest.mark.parametrize("cls", DETECTORS)
def test_a_row_score_does_not_depend_on_the_batch(cls, rng):
    det = cls().fit(rng.normal(size=(500, 3)))
    rows = rng.normal(scale=2.0, size=(100, 3))
    one_by_one = np.array([det.score(rows[i:i + 1])[0] for i in range(rows.shape[0])])
    np.testing.assert_array_equal(det.score(rows), one_by_one)


def test_large_batches_are_scored_in_blocks_alike(rng, monkeypatch):
    det = ECOD().fit(rng.normal(size=(300, 3)))
    rows = rng.normal(size=(1000, 3))
    whole = det.score(rows)
    monkeypatch.setattr(ecod_module, "_BLOCK_ROWS", 64)
    np.testing.assert_array_equal(det.score(rows), whole)


def test_score_grows_as_a_value_moves_into_either_tail(rng):
    det = ECOD().fit(rng.normal(size=(1000, 2)))
    values = np.linspace(0.0, 4.0, 30)
    for sign in (1.0, -1.0):
        s = det.score(np.column_stack([sign * values, np.zeros_like(values)]))
        assert np.all(np.diff(s) >= 0) and s[-1] > s[0] + 5.0


@pytest.mark.parametrize("cls", DETECTORS)
def test_pickle_round_trip(cls, rng):
    det = cls().fit(rng.normal(size=(200, 4)))
    rows = rng.normal(size=(20, 4))
    clone = pickle.loads(pickle.dumps(det))
    np.testing.assert_array_equal(clone.score(rows), det.score(rows))


@pytest.mark.parametrize("cls", DETECTORS)
def test_typed_errors(cls, rng):
    with pytest.raises(NotFittedError):
        cls().score([[0.0, 1.0]])
    with pytest.raises(ParameterError, match="rule"):
        cls(rule="max").fit(rng.normal(size=(10, 2)))
    bad = rng.normal(size=(10, 2))
    bad[3, 1] = np.nan
    with pytest.raises(InputError, match="NaN"):
        cls().fit(bad)
    det = cls().fit(rng.normal(size=(10, 2)))
    with pytest.raises(InputError, match="NaN"):
        det.score(bad)
    with pytest.raises(InputError, match="3 features.*fitted on 2"):
        det.score(rng.normal(size=(4, 3)))
    with pytest.raises(InputError, match="3 features"):
        det.contributions(rng.normal(size=(4, 3)))
    with pytest.raises(InputError, match="infinite"):
        det.score([[np.inf, 0.0]])






# AUROC measured with seed 0 (ECOD / COPOD): cardio 0.961 / 0.937, Ionosphere 0.858 /
# 0.847, Lymphography 0.995 / 0.995, glass 0.718 / 0.773; floors about 0.03 below.
@pytest.mark.parametrize(("name", "floors"), [
    ("6_cardio", (0.93, 0.91)),
    ("18_Ionosphere", (0.83, 0.82)),
    ("21_Lymphography", (0.97, 0.97)),
    ("14_glass", (0.69, 0.74)),
])
def test_auroc_on_adbench_tables(name, floors):
    X, y = load_adbench(name)
    train, test, y_test = novelty_split(X, y)
    for cls, floor in zip(DETECTORS, floors, strict=True):
        auroc = roc_auc_score(y_test, cls().fit(train).score(test))
        assert auroc > floor, (cls.__name__, auroc)


def test_doctests():
    result = doctest.testmod(ecod_module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
