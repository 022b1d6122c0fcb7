"""Thresholdout and the Ladder: mechanics, budget and typed errors."""

from __future__ import annotations

import numpy as np
import pytest

from shiftguard.errors import BudgetExhaustedError, InputError, ParameterError
from shiftguard.inference import Ladder, Thresholdout


@pytest.fixture
def halves():
    rng = np.random.default_rng(3)
    return rng.random((500, 4)), rng.random((500, 4))


def test_close_answers_come_from_the_training_set(halves):
    train, holdout = halves
    mech = Thresholdout(train, holdout, threshold=10.0, noise_scale=1e-6, budget=1, seed=0)
    answers = mech.query(lambda d: d)
    np.testing.assert_array_equal(answers, train.mean(axis=0))
    assert mech.budget_remaining_ == 1 and mech.n_queries_ == 4


def test_far_answers_come_from_the_holdout_with_noise_and_spend_budget(halves):
    train, holdout = halves
    holdout = holdout + 1.0
    mech = Thresholdout(train, holdout, threshold=0.05, noise_scale=1e-4, budget=10, seed=0)
    answers = mech.query(lambda d: d)
    np.testing.assert_allclose(answers, holdout.mean(axis=0), atol=0.01)
    assert not np.array_equal(answers, holdout.mean(axis=0))  # noise was added
    assert mech.budget_remaining_ == 6


def test_budget_exhaustion_raises_and_stays_exhausted(halves):
    train, holdout = halves
    mech = Thresholdout(train, holdout + 1.0, threshold=0.05, noise_scale=1e-4, budget=2, seed=0)
    mech.query(lambda d: d[:, 0])
    mech.query(lambda d: d[:, 1])
    with pytest.raises(BudgetExhaustedError, match="budget of 2"):
        mech.query(lambda d: d[:, 2])
    with pytest.raises(BudgetExhaustedError):
        mech.query(lambda d: d[:, 0] * 0.0)


def test_batch_that_outruns_the_budget_raises(halves):
    train, holdout = halves
    mech = Thresholdout(train, holdout + 1.0, threshold=0.05, noise_scale=1e-4, budget=3, seed=0)
    with pytest.raises(BudgetExhaustedError, match="after 3 queries"):
        mech.query(lambda d: d)


def test_same_seed_same_answers(halves):
    train, holdout = halves
    answers = [
        Thresholdout(train, holdout, threshold=0.01, noise_scale=0.01, seed=5).query(lambda d: d)
        for _ in range(2)
    ]
    np.testing.assert_array_equal(*answers)


def test_thresholdout_bad_arguments(halves):
    train, holdout = halves
    with pytest.raises(ParameterError, match="threshold"):
        Thresholdout(train, holdout, threshold=0.0)
    with pytest.raises(ParameterError, match="noise_scale"):
        Thresholdout(train, holdout, noise_scale=-1.0)
    with pytest.raises(ParameterError, match="budget"):
        Thresholdout(train, holdout, budget=0)
    mech = Thresholdout(train, holdout[:, :2], seed=0)
    with pytest.raises(InputError, match="statistic"):
        mech.query(lambda d: d)
    with pytest.raises(InputError, match="NaN"):
        mech.query(lambda d: d[:, 0] * np.nan)


def test_ladder_releases_only_clear_improvements_rounded_to_the_step():
    y = np.array([0, 1] * 50)
    ladder = Ladder(y, step=0.05)
    wrong = 1 - y
    assert ladder.submit(wrong) == pytest.approx(1.0)
    half = np.where(np.arange(100) < 50, y, wrong)
    assert ladder.submit(half) == pytest.approx(0.5)
    slightly_better = half.copy()
    slightly_better[50:53] = y[50:53]  # error 0.47: less than one step better
    assert ladder.submit(slightly_better) == pytest.approx(0.5)
    better = half.copy()
    better[50:63] = y[50:63]  # error 0.37: released as 0.35
    assert ladder.submit(better) == pytest.approx(0.35)
    assert ladder.submit(wrong) == pytest.approx(0.35)
    assert ladder.n_submissions_ == 5


def test_ladder_losses_and_bad_input():
    y = np.linspace(0.0, 1.0, 11)
    assert Ladder(y, loss="absolute", step=0.001).submit(y + 0.1) == pytest.approx(0.1)
    assert Ladder(y, loss="squared", step=0.001).submit(y + 0.1) == pytest.approx(0.01)
    custom = Ladder(y, loss=lambda t, p: np.minimum(np.abs(t - p), 1.0), step=0.001)
    assert custom.submit(y + 0.2) == pytest.approx(0.2)
    with pytest.raises(InputError, match="predictions"):
        Ladder(y).submit(y[:-1])
    with pytest.raises(ParameterError, match="loss"):
        Ladder(y, loss="hinge")
    with pytest.raises(ParameterError, match="step"):
        Ladder(y, step=0.0)


def test_default_threshold_and_noise_scale_follow_the_holdout_size():
    rng = np.random.default_rng(4)
    train, holdout = rng.random((900, 2)), rng.random((400, 2))
    mech = Thresholdout(train, holdout, seed=0)
    assert mech.threshold_ is None and mech.noise_scale_ is None
    mech.query(lambda d: d)
    # 4 / sqrt(400) and a sixteenth of it: the holdout's rows set the scale, not train's.
    assert mech.threshold_ == pytest.approx(0.2) and mech.noise_scale_ == pytest.approx(0.0125)
    assert mech.threshold is None and mech.noise_scale is None
    given = Thresholdout(train, holdout, threshold=0.05, seed=0)
    given.query(lambda d: d)
    assert given.threshold_ == 0.05 and given.noise_scale_ == pytest.approx(0.0125)


def test_single_value_statistic_needs_explicit_scales(halves):
    train, holdout = halves
    with pytest.raises(InputError, match="pass threshold and noise_scale"):
        Thresholdout(train, holdout, seed=0).query(lambda d: d.mean())
    mech = Thresholdout(train, holdout, threshold=0.1, noise_scale=0.01, seed=0)
    assert mech.query(lambda d: d.mean()) == pytest.approx(train.mean())
