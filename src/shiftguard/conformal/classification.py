"""Split-conformal prediction sets for classifiers: LAC, APS, RAPS, top-k, Mondrian."""

from __future__ import annotations

from typing import Any

import numpy as np

from shiftguard._validation import (
    all_finite,
    as_rng,
    check_alpha,
    check_choice,
    check_same_length,
)
from shiftguard.conformal._quantile import (
    PrefitMixin,
    as_features,
    as_labels_1d,
    conformal_quantile,
    fit_or_use,
    min_calibration_size,
    require_fitted,
    require_method,
)
from shiftguard.conformal._scores import CLASSIFICATION_SCORES, label_scores, label_sets
from shiftguard.errors import InputError, ParameterError


def predict_proba_checked(estimator: Any, X: Any, n_classes: int | None = None) -> np.ndarray:
    """``estimator.predict_proba(X)`` as a finite float array with rows in [0, 1]."""
    require_method(estimator, "predict_proba")
    proba = np.asarray(estimator.predict_proba(X), dtype=np.float64)
    if proba.ndim != 2 or (n_classes is not None and proba.shape[1] != n_classes):
        raise InputError(f"predict_proba returned shape {proba.shape}", "estimator")
    if not all_finite(proba):
        raise InputError("predict_proba returned NaN or infinite values", "estimator")
    return proba


def label_indices(y: np.ndarray, classes: np.ndarray, name: str = "y") -> np.ndarray:
    """Column index of each label in ``classes``; raises on a label the model never saw."""
    sorter = np.argsort(classes, kind="stable")  # models outside scikit-learn may not sort
    pos = np.clip(np.searchsorted(classes, y, sorter=sorter), 0, classes.shape[0] - 1)
    idx = sorter[pos]
    unknown = classes[idx] != y
    if unknown.any():
        raise InputError(
            f"label(s) {np.unique(y[unknown])[:5].tolist()} are not among the model's classes "
            f"{classes.tolist()}",
            name,
        )
    return idx


def model_classes(estimator: Any, n_classes: int) -> np.ndarray:
    """The estimator's ``classes_`` (sorted, as scikit-learn keeps them) or ``0..K-1``."""
    classes = getattr(estimator, "classes_", None)
    return np.arange(n_classes) if classes is None else np.asarray(classes)


class SplitConformalClassifier(PrefitMixin):
    """Split-conformal prediction sets around any classifier with ``predict_proba``.

    Guarantee
    ---------
    If calibration and test points are exchangeable, the set contains the true label with
    probability at least ``1 - alpha`` (marginal coverage, averaged over calibration and
    test draws). With ``class_conditional=True`` (Mondrian calibration: one threshold per
    class from that class's calibration points) the bound holds *for each class*:
    ``P(y in C(X) | Y = k) >= 1 - alpha``. For continuous scores (LAC, randomised APS/RAPS)
    coverage is also at most ``1 - alpha + 1/(n + 1)`` (``n_k + 1`` per class for
    Mondrian); ``top_k`` and non-randomised APS/RAPS scores have ties, so they can
    over-cover. Sets may be empty (LAC) when the model is confident and wrong-looking.

    Parameters
    ----------
    estimator
        A classifier with ``predict_proba`` (and ``fit`` unless ``prefit``).
    alpha
        Target miscoverage in (0, 1).
    method
        ``"lac"`` (Sadinle, Lei and Wasserman, 2019), ``"aps"`` (Romano, Sesia and Candès,
        2020), ``"raps"`` (Angelopoulos, Bates, Malik and Jordan, 2021) or ``"top_k"``
        (a fixed number of most likely labels, chosen by calibration).
    randomized
        APS/RAPS only: add ``U * p_y`` instead of ``p_y`` with ``U ~ Uniform(0, 1)``, which
        makes the scores continuous and the coverage exact.
    k_reg, lambda_reg
        RAPS penalty ``lambda_reg * max(0, rank - k_reg)``.
    class_conditional
        Calibrate one threshold per class (Mondrian conformal prediction; Vovk et al., 2005).
    prefit
        Use ``estimator`` as already fitted; otherwise call :meth:`fit` first.
    seed
        Seed for the uniforms of randomised scores.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.naive_bayes import GaussianNB
    >>> X, y = load_digits(return_X_y=True)
    >>> cp = SplitConformalClassifier(GaussianNB(), alpha=0.1, method="aps")
    >>> cp = cp.fit(X[:600], y[:600]).calibrate(X[600:1200], y[600:1200])
    >>> sets = cp.predict_set(X[1200:])
    >>> sets.shape
    (597, 10)
    >>> bool(sets[np.arange(597), y[1200:]].mean() > 0.85)
    True
    """

    def __init__(
        self,
        estimator: Any,
        *,
        alpha: float = 0.1,
        method: str = "lac",
        randomized: bool = False,
        k_reg: int = 1,
        lambda_reg: float = 0.01,
        class_conditional: bool = False,
        prefit: bool = False,
        seed: int | np.random.Generator | None = None,
    ) -> None:
        self.estimator = estimator
        self.alpha = alpha
        self.method = method
        self.randomized = randomized
        self.k_reg = k_reg
        self.lambda_reg = lambda_reg
        self.class_conditional = class_conditional
        self.prefit = prefit
        self.seed = seed

    def fit(self, X: Any, y: Any) -> SplitConformalClassifier:
        """Fit a clone of ``estimator`` on ``(X, y)`` (data kept apart from calibration)."""
        X = as_features(X)
        y = as_labels_1d(y)
        check_same_length(X=X, y=y)
        self.estimator_ = fit_or_use(self.estimator, False, X, y)
        return self

    def _model(self) -> Any:
        return self._fitted("estimator_", self.estimator)

    def _uniforms(self, n: int) -> np.ndarray | None:
        """The uniforms of randomised APS/RAPS scores for ``n`` rows (``None`` otherwise)."""
        if self.randomized and self.method in ("aps", "raps"):
            return self.rng_.random(n)
        return None


    def _labelled(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        check_choice(self.method, "method", CLASSIFICATION_SCORES)
        if self.lambda_reg < 0:
            raise ParameterError(f"lambda_reg must be >= 0, got {self.lambda_reg!r}")
        X = as_features(X)
        y = as_labels_1d(y)
        check_same_length(X=X, y=y)
        model = self._model()
        proba = predict_proba_checked(model, X)
        self.classes_ = model_classes(model, proba.shape[1])
        if self.classes_.shape[0] != proba.shape[1]:
            raise InputError(
                f"predict_proba has {proba.shape[1]} columns but the model has "
                f"{self.classes_.shape[0]} classes",
                "estimator",
            )
        if not hasattr(self, "rng_"):
            self.rng_ = as_rng(self.seed)
        y_idx = label_indices(y, self.classes_)
        scores = label_scores(
            proba, self.method, u=self._uniforms(proba.shape[0]), k_reg=self.k_reg,
            lambda_reg=self.lambda_reg,
        )
        return scores[np.arange(y.shape[0]), y_idx], y_idx

    def conformity_scores(self, X: Any, y: Any) -> np.ndarray:
        """Score of each labelled point's true label (randomised scores draw new uniforms)."""
        return self._labelled(X, y)[0]

    def calibrate(self, X: Any, y: Any) -> SplitConformalClassifier:
        """Compute the conformal threshold(s) from held-out labelled data ``(X, y)``."""
        alpha = check_alpha(self.alpha)
        self.rng_ = as_rng(self.seed)
        cal_scores, y_idx = self._labelled(X, y)
        if self.class_conditional:
            counts = np.bincount(y_idx, minlength=self.classes_.shape[0])
            needed = min_calibration_size(alpha)
            short = np.flatnonzero(counts < needed)
            if short.size:
                raise InputError(
                    f"class-conditional calibration at alpha={alpha:g} needs at least {needed} "
                    f"calibration points per class; classes {self.classes_[short].tolist()} have "
                    f"{counts[short].tolist()}",
                    "y",
                )
            self.threshold_ = np.array(
                [conformal_quantile(cal_scores[y_idx == k], alpha) for k in range(counts.size)]
            )
        else:
            self.threshold_ = np.float64(conformal_quantile(cal_scores, alpha))
        self.n_calibration_ = int(y_idx.shape[0])
        return self

    def predict_set(self, X: Any) -> np.ndarray:
        """Boolean ``(n, K)`` array: column ``k`` True when ``classes_[k]`` is in the set."""
        require_fitted(self, "threshold_")
        X = as_features(X)
        proba = predict_proba_checked(self._model(), X, self.classes_.shape[0])
        return label_sets(
            proba, self.method, self.threshold_, u=self._uniforms(proba.shape[0]),
            k_reg=self.k_reg, lambda_reg=self.lambda_reg,
        )
