"""Density ratio ``dP_target/dP_source(x)`` by probabilistic classification, with clipping."""

from __future__ import annotations

from typing import Any

import numpy as np

from shiftguard._validation import as_float_array
from shiftguard.errors import EstimatorError, NotFittedError, ParameterError


class ClassifierDensityRatio:
    """Estimate ``w(x) = dP_target/dP_source(x)`` with a source-vs-target classifier.

    A classifier trained to tell target rows (label 1) from source rows (label 0) gives
    ``P(target | x)``; Bayes' rule turns it into
    ``w(x) = (n_source / n_target) * P(target | x) / P(source | x)``
    (Bickel, Brückner and Scheffer, 2009; used for weighted conformal prediction by
    Tibshirani, Barber, Candès and Ramdas, 2019). The ratio is clipped to
    ``[1 / clip, clip]`` because a few near-certain classifier outputs would otherwise give
    weights that dominate every weighted average.

    Guarantee
    ---------
    None by itself: the ratio is consistent when the classifier's probabilities are
    calibrated and consistent. Procedures using it inherit an approximation error that
    vanishes as the estimate improves (Lei and Candès, 2021).

    Parameters
    ----------
    classifier
        Any classifier with ``fit`` and ``predict_proba``; default
        ``LogisticRegression(max_iter=1000)``.
    clip
        Largest allowed weight (and ``1/clip`` the smallest); must be > 1.
    """

    def __init__(self, classifier: Any = None, *, clip: float = 20.0) -> None:
        self.classifier = classifier
        self.clip = clip

    def fit(self, X_source: Any, X_target: Any) -> ClassifierDensityRatio:
        """Fit the domain classifier on source rows (0) and target rows (1)."""
        from sklearn.base import clone
        from sklearn.linear_model import LogisticRegression

        if not float(self.clip) > 1.0:
            raise ParameterError(f"clip must be > 1, got {self.clip!r}")
        xs = as_float_array(X_source, "X_source", ndim=2, min_size=2)
        xt = as_float_array(X_target, "X_target", ndim=2, min_size=2)
        if xs.shape[1] != xt.shape[1]:
            raise ParameterError(
                f"X_source has {xs.shape[1]} columns but X_target has {xt.shape[1]}"
            )
        model = (
            LogisticRegression(max_iter=1000) if self.classifier is None else clone(self.classifier)
        )
        if not callable(getattr(model, "predict_proba", None)):
            raise EstimatorError(f"classifier ({type(model).__name__}) has no predict_proba()")
        labels = np.r_[np.zeros(xs.shape[0]), np.ones(xt.shape[0])]
        self.classifier_ = model.fit(np.vstack([xs, xt]), labels)
        self.prior_ratio_ = xs.shape[0] / xt.shape[0]
        return self

    def weights(self, X: Any) -> np.ndarray:
        """Estimated, clipped density ratio at each row of ``X``."""
        if not hasattr(self, "classifier_"):
            raise NotFittedError(
                "ClassifierDensityRatio must be fitted: call fit(X_source, X_target)"
            )
        x = as_float_array(X, "X", ndim=2)
        col = int(np.flatnonzero(self.classifier_.classes_ == 1)[0])
        p_target = self.classifier_.predict_proba(x)[:, col]
        with np.errstate(divide="ignore"):
            ratio = self.prior_ratio_ * p_target / (1.0 - p_target)
        return np.clip(ratio, 1.0 / self.clip, self.clip)

    __call__ = weights
