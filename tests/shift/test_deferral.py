import json
import math

import numpy as np
import pytest
from scipy.stats import beta
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from shiftguard.errors import InputError, ParameterError
from shiftguard.shift import NoThresholdError, selective_threshold


def _scan(conf, correct, epsilon, delta, start):
    """Straightforward reference: loop over the distinct confidences from the top."""
    chosen = None
    for t in np.unique(conf)[::-1]:
        accepted = conf >= t
        n, e = int(accepted.sum()), int((~correct[accepted]).sum())
        if n < start:
            continue
        bound = 1.0 if e == n else beta.ppf(1 - delta, e + 1, n - e)
        if bound > epsilon:
            break
        chosen = t
    return chosen


def test_matches_a_plain_loop_with_ties():
    rng = np.random.default_rng(0)
    conf = np.round(rng.random(3000), 2)  # many ties
    correct = rng.random(3000) > 0.25 * (1 - conf)
    for epsilon, delta in [(0.1, 0.05), (0.05, 0.1), (0.15, 0.2)]:
        rule = selective_threshold(conf, correct, epsilon, delta)
        k_min = math.ceil(math.log(delta) / math.log(1 - epsilon))
        assert rule.threshold == _scan(conf, correct, epsilon, delta, k_min)
        assert rule.bound <= epsilon
        assert rule.n_accepted == int((conf >= rule.threshold).sum())
        assert rule.coverage == pytest.approx(rule.accept(conf).mean())


def test_fixed_grid_and_later_start():
    rng = np.random.default_rng(1)
    conf = rng.random(4000)
    correct = rng.random(4000) > 0.3 * (1 - conf)
    grid = np.linspace(0.9, 0.0, 91)
    rule = selective_threshold(conf, correct, 0.1, 0.05, thresholds=grid)
    assert rule.threshold in grid
    assert rule.n_thresholds_passed == int(np.flatnonzero(grid == rule.threshold)[0]) + 1
    later = selective_threshold(conf, correct, 0.1, 0.05, min_accepted=500)
    assert later.n_accepted >= 500
    with pytest.raises(NoThresholdError, match="accepts 0 row"):
        selective_threshold(conf, correct, 0.1, 0.05, thresholds=[1.5, 0.5])


def test_real_data_rule_holds_on_held_out_rows():
    X, y = load_breast_cancer(return_X_y=True)
    X = X[:, :3]  # three features: a model that errs often enough to need deferral
    idx = np.random.default_rng(2).permutation(y.size)
    fit, cal, test = np.array_split(idx, 3)
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X[fit], y[fit])
    proba = model.predict_proba(X)
    conf, correct = proba.max(axis=1), proba.argmax(axis=1) == y
    rule = selective_threshold(conf[cal], correct[cal], epsilon=0.05, delta=0.1)
    assert 0 < rule.coverage < 1
    accepted = rule.accept(conf[test])
    assert correct[test][accepted].mean() >= 0.95 - 0.05  # held-out error near the target
    assert json.dumps(rule.to_dict())


def test_errors():
    conf = np.linspace(0, 1, 30)
    with pytest.raises(InputError, match="at least 45"):
        selective_threshold(conf, np.ones(30, bool), 0.05, 0.1)
    rng = np.random.default_rng(3)
    many = rng.random(200)
    with pytest.raises(NoThresholdError) as info:
        selective_threshold(many, rng.random(200) < 0.5, 0.05, 0.1)
    assert isinstance(info.value, InputError)
    with pytest.raises(InputError, match="lengths differ"):
        selective_threshold(many, np.ones(100, bool), 0.1, 0.1)
    with pytest.raises(InputError, match="0/1"):
        selective_threshold(many, np.full(200, 2.0), 0.1, 0.1)
    with pytest.raises(ParameterError):
        selective_threshold(many, np.ones(200, bool), 1.5, 0.1)
    with pytest.raises(ParameterError, match="min_accepted"):
        selective_threshold(many, np.ones(200, bool), 0.1, 0.1, min_accepted=3)
