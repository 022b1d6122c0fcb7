"""Likelihood-ratio scores: the sign and formula, the detector against direct use of the
fitted models, a real case (digits) where the ratio corrects the plain likelihood, typed
errors and pickling."""

from __future__ import annotations

import doctest
import pickle
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.metrics import roc_auc_score
from sklearn.mixture import GaussianMixture

from shiftguard.errors import EstimatorError, InputError, NotFittedError
from shiftguard.ood import likelihood as likelihood_module
from shiftguard.ood.likelihood import DensityRatioDetector, likelihood_ratio_score


def test_ratio_is_background_minus_in_distribution(rng):
    li, lb = rng.normal(size=50) * 10, rng.normal(size=50) * 10
    np.testing.assert_array_equal(likelihood_ratio_score(li, lb), lb - li)
    # An input the fine-tuned model likes more than the pretrained one is in-distribution.
    assert likelihood_ratio_score([-5.0], [-20.0])[0] < likelihood_ratio_score([-20.0], [-5.0])[0]


def test_ratio_typed_errors():
    with pytest.raises(InputError, match="lengths differ"):
        likelihood_ratio_score([1.0, 2.0], [1.0])
    with pytest.raises(InputError, match="NaN"):
        likelihood_ratio_score([1.0, np.nan], [1.0, 2.0])
    with pytest.raises(InputError, match="infinite"):
        likelihood_ratio_score([1.0, 2.0], [-np.inf, 2.0])
    with pytest.raises(InputError, match="1-D"):
        likelihood_ratio_score(np.ones((2, 2)), np.ones((2, 2)))


def test_detector_equals_the_fitted_models(rng):
    X = rng.normal(size=(300, 3))
    X_bg = np.r_[X, rng.normal(loc=4.0, size=(300, 3))]
    Z = rng.normal(size=(40, 3)) * 3.0
    det = DensityRatioDetector(GaussianMixture(2, random_state=1),
                               GaussianMixture(3, random_state=2)).fit(X, X_background=X_bg)
    g_in = GaussianMixture(2, random_state=1).fit(X)
    g_bg = GaussianMixture(3, random_state=2).fit(X_bg)
    np.testing.assert_allclose(det.score(Z), g_bg.score_samples(Z) - g_in.score_samples(Z),
                               rtol=1e-12)
    # Without background data both models see X.
    same = DensityRatioDetector(GaussianMixture(2, random_state=1),
                                GaussianMixture(1)).fit(X)
    np.testing.assert_allclose(same.background_model_.means_[0], X.mean(axis=0), rtol=1e-12)


def digits_with_background(seed: int = 0):
    """Half of all digits form the broad background corpus (the 'pretraining' data); of the
    other half, digits 0-4 are split into fitting and held-out rows, digits 5-9 are OOD."""
    X, y = load_digits(return_X_y=True)
    order = np.random.default_rng(seed).permutation(len(y))
    background, rest = order[: len(y) // 2], order[len(y) // 2 :]
    seen = rest[y[rest] < 5]
    fit_rows, held_out = seen[: seen.size // 2], seen[seen.size // 2 :]
    test = np.concatenate([held_out, rest[y[rest] >= 5]])
    return X[fit_rows], X[background], X[test], y[test] >= 5


def test_digits_ratio_corrects_the_plain_likelihood():
    # One diagonal Gaussian per model: the plain likelihood mostly measures how many
    # pixels are lit (AUROC 0.567); the ratio to a background fitted on all digits removes
    # that (0.887). One full-covariance Gaussian: 0.977 for the ratio, 0.926 plain.
    X_fit, X_bg, X_test, is_ood = digits_with_background()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter of the EM fits
        diag = DensityRatioDetector(GaussianMixture(1, covariance_type="diag", reg_covar=0.1),
                                    GaussianMixture(1, covariance_type="diag", reg_covar=0.1))
        diag.fit(X_fit, X_background=X_bg)
        full = DensityRatioDetector(GaussianMixture(1, reg_covar=1.0),
                                    GaussianMixture(1, reg_covar=1.0))
        full.fit(X_fit, X_background=X_bg)
    plain = roc_auc_score(is_ood, -diag.in_model_.score_samples(X_test))
    ratio = roc_auc_score(is_ood, diag.score(X_test))
    assert plain < 0.65 and ratio > 0.85
    plain = roc_auc_score(is_ood, -full.in_model_.score_samples(X_test))
    ratio = roc_auc_score(is_ood, full.score(X_test))
    assert ratio > 0.95 and ratio > plain


class _NoScores:
    def fit(self, X):
        return self


class _InfiniteScores(_NoScores):
    def score_samples(self, X):
        out = np.zeros(len(X))
        out[0] = -np.inf
        return out


def test_detector_typed_errors(rng):
    X = rng.normal(size=(50, 2))
    with pytest.raises(EstimatorError, match="score_samples"):
        DensityRatioDetector(_NoScores(), GaussianMixture(1)).fit(X)
    with pytest.raises(EstimatorError, match="background_model"):
        DensityRatioDetector(GaussianMixture(1), object()).fit(X)
    with pytest.raises(NotFittedError):
        DensityRatioDetector(GaussianMixture(1), GaussianMixture(1)).score(X)
    with pytest.raises(InputError, match="X_background"):
        DensityRatioDetector(GaussianMixture(1), GaussianMixture(1)).fit(
            X, X_background=rng.normal(size=(50, 3)))
    det = DensityRatioDetector(_InfiniteScores(), GaussianMixture(1)).fit(X)
    with pytest.raises(InputError, match="in_model"):
        det.score(X)
    det = DensityRatioDetector(GaussianMixture(1), GaussianMixture(1)).fit(X)
    with pytest.raises(InputError, match="fitted on 2"):
        det.score(rng.normal(size=(3, 3)))


def test_models_given_are_not_fitted_and_detector_pickles(rng):
    g_in, g_bg = GaussianMixture(2, random_state=0), GaussianMixture(1)
    det = DensityRatioDetector(g_in, g_bg)
    assert det.in_model is g_in and det.background_model is g_bg
    X, Z = rng.normal(size=(100, 2)), rng.normal(size=(10, 2))
    det.fit(X)
    assert not hasattr(g_in, "means_") and not hasattr(g_bg, "means_")
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(det)).score(Z), det.score(Z))


def test_docstring_examples_run():
    result = doctest.testmod(likelihood_module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
