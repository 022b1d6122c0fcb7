"""ConjNorm (p = 2): equality with SciPy's Gaussian log-densities, a mixture that
integrates to one, the bracket around the class-conditional Mahalanobis distance,
detection of unseen digit classes, typed errors, pickling and the dict state."""

from __future__ import annotations

import doctest
import json
import pickle

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from sklearn.datasets import load_digits
from sklearn.metrics import roc_auc_score

from helpers import labelled_gaussians as _gaussians
from shiftguard.errors import InputError, NotFittedError, ParameterError, StateError
from shiftguard.ood import conjnorm as conjnorm_module
from shiftguard.ood.conjnorm import ConjNorm
from shiftguard.ood.mahalanobis import Mahalanobis


def labelled_gaussians(rng, **overrides):
    return _gaussians(rng, **{**dict(d=3), **overrides})


@pytest.mark.parametrize("temperature", [1.0, 0.3, 4.0])
def test_log_density_equals_scipy_mixture(rng, temperature):
    X, y = labelled_gaussians(rng)
    Z = rng.normal(size=(40, 3)) * 4.0
    classes = np.unique(y)
    means = np.array([X[y == c].mean(axis=0) for c in classes])
    R = X - means[y]
    S = R.T @ R / len(X)
    S = 0.75 * S + 0.25 * np.trace(S) / 3 * np.eye(3)
    per_class = np.array([multivariate_normal(m, temperature * S).logpdf(Z) for m in means])
    expected = logsumexp(per_class, axis=0) - np.log(len(classes))
    det = ConjNorm(shrinkage=0.25, temperature=temperature).fit(X, y)
    np.testing.assert_allclose(det.log_density(Z), expected, rtol=1e-10)
    np.testing.assert_allclose(det.score(Z), -expected, rtol=1e-10)


def test_mixture_integrates_to_one(rng):
    X, y = labelled_gaussians(rng, d=2, k=2)
    det = ConjNorm().fit(X, y)
    lo, hi = X.min(axis=0) - 12.0, X.max(axis=0) + 12.0
    g0, g1 = np.linspace(lo[0], hi[0], 801), np.linspace(lo[1], hi[1], 801)
    grid = np.stack(np.meshgrid(g0, g1, indexing="ij"), axis=-1).reshape(-1, 2)
    cell = (g0[1] - g0[0]) * (g1[1] - g1[0])
    assert np.exp(det.log_density(grid)).sum() * cell == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("temperature", [1.0, 0.01])
def test_bracketed_by_the_nearest_class_distance(rng, temperature):
    # -logsumexp(-MD/2T) lies in [min MD/2T - log K, min MD/2T]: the score is the
    # class-conditional Mahalanobis distance up to log K (and the constant normaliser).
    X, y = labelled_gaussians(rng)
    Z = rng.normal(size=(60, 3)) * 5.0
    det = ConjNorm(temperature=temperature).fit(X, y)
    scaled = 2.0 * temperature * (det.score(Z) - det.log_normaliser_)
    nearest = Mahalanobis(class_conditional=True).fit(X, y).score(Z)
    gap = nearest - scaled
    assert (gap >= -1e-9).all()
    assert (gap <= 2.0 * temperature * np.log(3) + 1e-9).all()


def test_digits_unseen_classes_score_higher():
    # Measured AUROC 0.951 (T = 1; 0.956 with shrinkage 0.1).
    X, y = load_digits(return_X_y=True)
    seen = y < 5
    order = np.random.default_rng(0).permutation(np.flatnonzero(seen))
    fit_rows, held_out = order[: order.size // 2], order[order.size // 2 :]
    test = np.concatenate([held_out, np.flatnonzero(~seen)])
    scores = ConjNorm().fit(X[fit_rows], y[fit_rows]).score(X[test])
    assert roc_auc_score(~seen[test], scores) > 0.93


def test_typed_errors(rng):
    X, y = labelled_gaussians(rng)
    with pytest.raises(NotFittedError):
        ConjNorm().score(X)
    with pytest.raises(InputError, match="class labels"):
        ConjNorm().fit(X)
    with pytest.raises(InputError, match="2 classes"):
        ConjNorm().fit(X, np.ones(len(X)))
    for bad in (0.0, -2.0, np.inf):
        with pytest.raises(ParameterError):
            ConjNorm(temperature=bad).fit(X, y)
    with pytest.raises(ParameterError):
        ConjNorm(shrinkage=2.0).fit(X, y)
    det = ConjNorm().fit(X, y)
    with pytest.raises(InputError, match="fitted on 3"):
        det.score(X[:, :2])


def test_constructor_stores_arguments_untouched():
    det = ConjNorm(shrinkage=0.2, temperature=0.5)
    assert (det.shrinkage, det.temperature) == (0.2, 0.5)
    assert not [k for k in vars(det) if k.endswith("_")]


def test_pickle_and_dict_round_trip(rng):
    X, y = labelled_gaussians(rng)
    Z = rng.normal(size=(20, 3))
    det = ConjNorm(temperature=2.0).fit(X, y)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(det)).score(Z), det.score(Z))
    state = json.loads(json.dumps(det.to_dict()))
    np.testing.assert_array_equal(ConjNorm.from_dict(state).score(Z), det.score(Z))
    with pytest.raises(StateError):
        ConjNorm.from_dict({**state, "version": 0})


def test_docstring_examples_run():
    result = doctest.testmod(conjnorm_module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
