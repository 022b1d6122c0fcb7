"""Mahalanobis-distance detectors: class-agnostic, class-conditional with a tied covariance,
and relative (class distance minus background distance).

The pieces here (class means, a shrunk covariance, its Cholesky factor, whitened squared
distances in row blocks, row normalisation, the dict state) are shared with
:mod:`shiftguard.ood.conjnorm`, :mod:`shiftguard.ood.wdiscood` and
:mod:`shiftguard.ood.knn`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from scipy import linalg, sparse

from shiftguard._validation import as_label_array, check_same_length, check_state_header
from shiftguard.errors import InputError, ParameterError, StateError
from shiftguard.ood._base import check_features, check_fitted

__all__ = ["Mahalanobis"]

#: Values (float64) per temporary block when scoring: 2**21 values = 16 MiB.
BLOCK_VALUES = 1 << 21

STATE_VERSION = 1


def row_blocks(n_rows: int, width: int) -> Iterator[slice]:
    """Slices of ``range(n_rows)`` so that a block of ``width`` values per row stays within
    :data:`BLOCK_VALUES`."""
    step = max(1, BLOCK_VALUES // max(width, 1))
    for start in range(0, n_rows, step):
        yield slice(start, min(start + step, n_rows))


def check_shrinkage(shrinkage: Any) -> str | float:
    """``"ledoit_wolf"`` or a number in [0, 1]."""
    if isinstance(shrinkage, str):
        if shrinkage != "ledoit_wolf":
            raise ParameterError(f"shrinkage must be 'ledoit_wolf' or a number in [0, 1]; "
                                 f"got {shrinkage!r}")
        return shrinkage
    try:
        value = float(shrinkage)
    except (TypeError, ValueError):
        raise ParameterError(f"shrinkage must be 'ledoit_wolf' or a number in [0, 1]; "
                             f"got {shrinkage!r}") from None
    if isinstance(shrinkage, bool) or not 0.0 <= value <= 1.0:
        raise ParameterError(f"shrinkage must be 'ledoit_wolf' or a number in [0, 1]; "
                             f"got {shrinkage!r}")
    return value


def class_means(X: np.ndarray, y: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sorted class labels, each row's class index and the (K, d) class means.

    Raises :class:`InputError` when ``y`` is not one label per row of ``X`` or holds fewer
    than two classes."""
    labels = as_label_array(y, "y")
    check_same_length(X=X, y=labels)
    classes, inverse = np.unique(labels, return_inverse=True)
    if classes.size < 2:
        raise InputError(f"needs at least 2 classes, got {classes.size}", "y")
    n = X.shape[0]
    one_hot = sparse.csr_matrix((np.ones(n), (inverse, np.arange(n))), shape=(classes.size, n))
    counts = np.bincount(inverse, minlength=classes.size).astype(np.float64)
    return classes, inverse, np.asarray(one_hot @ X) / counts[:, None]


def shrunk_covariance(residuals: np.ndarray, shrinkage: str | float) -> tuple[np.ndarray, float]:
    """Covariance ``(1 - a) S + a (tr S / d) I`` of centred ``residuals`` and the weight
    ``a`` used: Ledoit and Wolf's (2004) estimate of the optimal ``a``, or the given one.

    ``S = R'R / n`` (maximum likelihood); shrinking towards the average variance keeps the
    matrix positive definite when there are fewer rows than features or collinear ones.
    The Ledoit-Wolf weight equals scikit-learn's ``ledoit_wolf_shrinkage(R,
    assume_centered=True)``, computed from ``S`` and the row norms in ``O(n d)`` extra
    work: its ``sum((R**2)'(R**2))`` is ``sum_i |r_i|^4``.
    """
    n, d = residuals.shape
    S = residuals.T @ residuals / n
    mu = np.trace(S) / d
    if shrinkage == "ledoit_wolf":
        norms_sq = np.einsum("ij,ij->i", residuals, residuals)
        frob_sq = float(np.einsum("ij,ij->", S, S))
        delta = (frob_sq - d * mu**2) / d
        beta = min((float(norms_sq @ norms_sq) / n - frob_sq) / (d * n), delta)
        a = 0.0 if beta <= 0.0 else beta / delta
    else:
        a = float(shrinkage)
    cov = (1.0 - a) * S
    cov.flat[:: d + 1] += a * mu
    return cov, a


def cholesky_factor(cov: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor of ``cov``; a typed error when it is not positive definite."""
    try:
        return linalg.cholesky(cov, lower=True, check_finite=False)
    except linalg.LinAlgError:
        raise InputError(
            "the covariance is singular (constant or collinear features, or fewer rows than "
            "features): use shrinkage='ledoit_wolf' or a shrinkage > 0", "X"
        ) from None


def whiten(X: np.ndarray, location: np.ndarray, chol: np.ndarray) -> np.ndarray:
    """Rows of ``L^{-1} (x - location)``: squared norms are Mahalanobis distances."""
    return linalg.solve_triangular(chol, (X - location).T, lower=True, check_finite=False).T


def squared_distances(W: np.ndarray, M: np.ndarray, m_sq: np.ndarray) -> np.ndarray:
    """(b, K) squared Euclidean distances of the rows of ``W`` to the rows of ``M``
    (``m_sq`` their squared norms), through one matrix product, clipped at 0."""
    out = W @ (-2.0 * M.T)
    out += np.einsum("ij,ij->i", W, W)[:, None]
    out += m_sq
    return np.maximum(out, 0.0, out=out)


def l2_normalise(X: np.ndarray) -> np.ndarray:
    """Rows divided by their Euclidean norm; all-zero rows stay zero."""
    norms = np.sqrt(np.einsum("ij,ij->i", X, X))
    norms[norms == 0.0] = 1.0
    return X / norms[:, None]


def zca_matrix(chol: np.ndarray) -> np.ndarray:
    """Symmetric inverse square root ``C^{-1/2}`` of ``C = L L'``: the whitening closest to
    the identity (Kessy, Lewin and Strimmer, 2018), so its coordinates keep the original
    axes."""
    vals, vecs = linalg.eigh(chol @ chol.T, check_finite=False)
    return (vecs / np.sqrt(vals)) @ vecs.T


class Mahalanobis:
    """Squared Mahalanobis distance to the training data, optionally per class.

    Three variants, all with a covariance shrunk towards ``(tr S / d) I``:

    * class-agnostic (default): one mean and covariance; ``score = (x - mu)' C^{-1} (x - mu)``.
    * ``class_conditional=True`` (Lee et al., 2018): one mean per class, one tied covariance
      of the within-class residuals; ``score = min_k MD_k(x)``.
    * ``relative=True`` (Ren et al., 2021): ``min_k MD_k(x) - MD_0(x)``, where ``MD_0`` is
      the class-agnostic distance under a background Gaussian fitted to all training rows.
      Subtracting it discounts directions in which every class is spread alike (a
      feature that is unusual for all classes at once, say) and helps near-OOD inputs.

    Under a Gaussian model with many training rows the class-agnostic score of an inlier
    is approximately chi-square with ``d`` degrees of freedom; a guarantee that needs no
    such model comes from calibrating scores on held-out inliers (conformal p-values).

    The covariance is factorised once at ``fit`` (Cholesky); ``score`` solves a triangular
    system per block of rows, so memory stays bounded for any number of rows.

    Parameters
    ----------
    shrinkage
        ``"ledoit_wolf"`` (the Ledoit-Wolf estimate of the optimal weight) or a weight in
        [0, 1]; 0 is the maximum-likelihood covariance, which must then be non-singular.
    class_conditional
        Fit one mean per class (``fit(X, y)`` needs labels, at least two classes).
    relative
        Relative Mahalanobis distance; needs ``class_conditional=True``.

    Attributes
    ----------
    n_features_in_ : int
    classes_ : numpy.ndarray
        Sorted class labels (one placeholder class ``0`` when class-agnostic).
    means_ : numpy.ndarray
        (K, d) class means (the overall mean when class-agnostic).
    covariance_, cholesky_ : numpy.ndarray
        The shrunk (tied) covariance and its lower Cholesky factor.
    shrinkage_ : float
        The shrinkage weight used.
    background_mean_, background_covariance_, background_cholesky_, background_shrinkage_
        The class-agnostic background fit (only when ``relative=True``).

    References
    ----------
    Lee, K., Lee, K., Lee, H. and Shin, J. (2018). A simple unified framework for detecting
    out-of-distribution samples and adversarial attacks. NeurIPS.
    Ren, J., Fort, S., Liu, J., Roy, A. G., Padhy, S. and Lakshminarayanan, B. (2021). A
    simple fix to Mahalanobis distance for improving near-OOD detection. arXiv:2106.09022.
    Ledoit, O. and Wolf, M. (2004). A well-conditioned estimator for large-dimensional
    covariance matrices. Journal of Multivariate Analysis 88(2).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 3))
    >>> det = Mahalanobis().fit(X)
    >>> det.score([[0.0, 0.0, 0.0], [4.0, 4.0, 4.0]]).round(1)
    array([ 0. , 49.8])
    >>> det.contributions([[4.0, 0.0, 0.0]]).argmax()
    np.int64(0)
    """

    def __init__(self, shrinkage: str | float = "ledoit_wolf", class_conditional: bool = False,
                 relative: bool = False) -> None:
        self.shrinkage = shrinkage
        self.class_conditional = class_conditional
        self.relative = relative

    def fit(self, X: Any, y: Any = None) -> Mahalanobis:
        """Fit means and the shrunk covariance on the in-distribution rows ``X`` (labels
        ``y`` when class-conditional). Returns ``self``."""
        shrinkage = check_shrinkage(self.shrinkage)
        if self.relative and not self.class_conditional:
            raise ParameterError("relative=True needs class_conditional=True: with one class "
                                 "the relative distance is 0 for every input")
        X = check_features(X, "X", min_rows=2)
        overall = X.mean(axis=0)
        if self.class_conditional:
            if y is None:
                raise InputError("class_conditional=True needs the class labels", "y")
            classes, inverse, means = class_means(X, y)
            residuals = X - means[inverse]
        else:
            classes, means = np.zeros(1, dtype=np.int64), overall[None, :]
            residuals = X - overall
        cov, a = shrunk_covariance(residuals, shrinkage)
        self.cholesky_ = cholesky_factor(cov)
        self.n_features_in_ = X.shape[1]
        self.classes_, self.means_, self.covariance_, self.shrinkage_ = classes, means, cov, a
        if self.relative:
            bg_cov, bg_a = shrunk_covariance(X - overall, shrinkage)
            self.background_cholesky_ = cholesky_factor(bg_cov)
            self.background_mean_, self.background_covariance_ = overall, bg_cov
            self.background_shrinkage_ = bg_a
        return self

    def _class_distances(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Minimum squared class distance and the index of the nearest class, per row."""
        n = X.shape[0]
        best = np.empty(n)
        nearest = np.zeros(n, dtype=np.intp)
        if self.means_.shape[0] == 1:
            for rows in row_blocks(n, X.shape[1]):
                W = whiten(X[rows], self.means_[0], self.cholesky_)
                best[rows] = np.einsum("ij,ij->i", W, W)
            return best, nearest
        # Whiten around the overall mean of the class means so the expansion
        # |w|^2 - 2 w.m + |m|^2 works with numbers of the size of the distances.
        centre = self.means_.mean(axis=0)
        M = whiten(self.means_, centre, self.cholesky_)
        m_sq = np.einsum("ij,ij->i", M, M)
        for rows in row_blocks(n, X.shape[1] + M.shape[0]):
            D = squared_distances(whiten(X[rows], centre, self.cholesky_), M, m_sq)
            nearest[rows] = D.argmin(axis=1)
            best[rows] = D[np.arange(D.shape[0]), nearest[rows]]
        return best, nearest

    def _background_distances(self, X: np.ndarray) -> np.ndarray:
        out = np.empty(X.shape[0])
        for rows in row_blocks(X.shape[0], X.shape[1]):
            W = whiten(X[rows], self.background_mean_, self.background_cholesky_)
            out[rows] = np.einsum("ij,ij->i", W, W)
        return out

    def _checked(self, X: Any) -> np.ndarray:
        check_fitted(self, "cholesky_")
        return check_features(X, "X", n_features=self.n_features_in_)

    def score(self, X: Any) -> np.ndarray:
        """Squared (relative) Mahalanobis distance of each row, shape (n,); higher = more
        anomalous. The relative score can be negative (closer to a class than to the
        background)."""
        X = self._checked(X)
        best, _ = self._class_distances(X)
        if self.relative:
            best -= self._background_distances(X)
        return best

    def contributions(self, X: Any) -> np.ndarray:
        """Per-feature shares of :meth:`score`, shape (n, d); each row sums to the score.

        The share of feature ``j`` is the squared ``j``-th coordinate of the row after
        symmetric (ZCA) whitening, ``((x - mu_k) C^{-1/2})_j^2`` with ``mu_k`` the nearest
        class mean. Any whitening gives coordinates whose squares sum to the distance; the
        symmetric one is the whitening closest to the identity (Kessy et al., 2018), so its
        ``j``-th coordinate stays tied to feature ``j``, and with uncorrelated features
        the share is the squared z-score ``(x_j - mu_j)^2 / var_j``. With
        ``relative=True`` the background's shares are subtracted, so shares can be negative.
        Computing ``C^{-1/2}`` costs one ``d x d`` eigendecomposition per call.
        """
        X = self._checked(X)
        zca = zca_matrix(self.cholesky_)
        _, nearest = self._class_distances(X)
        out = np.empty_like(X)
        for rows in row_blocks(X.shape[0], X.shape[1]):
            Z = (X[rows] - self.means_[nearest[rows]]) @ zca
            out[rows] = Z * Z
        if self.relative:
            zca_bg = zca_matrix(self.background_cholesky_)
            for rows in row_blocks(X.shape[0], X.shape[1]):
                Z = (X[rows] - self.background_mean_) @ zca_bg
                out[rows] -= Z * Z
        return out

    _STATE = ("n_features_in_", "classes_", "means_", "covariance_", "cholesky_", "shrinkage_")
    _BACKGROUND = ("background_mean_", "background_covariance_", "background_cholesky_",
                   "background_shrinkage_")

    def _state_fields(self) -> tuple[str, ...]:
        return self._STATE + (self._BACKGROUND if self.relative else ())

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready state; :meth:`from_dict` rebuilds a detector scoring identically."""
        check_fitted(self, "cholesky_")
        return state_to_dict(self, {"shrinkage": self.shrinkage,
                                    "class_conditional": self.class_conditional,
                                    "relative": self.relative}, self._state_fields())

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> Mahalanobis:
        """Rebuild a fitted detector from :meth:`to_dict` output (:class:`StateError` when
        ``state`` is for another detector or version, or is incomplete)."""
        return state_from_dict(cls, state, lambda det: det._state_fields())


def state_to_dict(detector: Any, params: dict[str, Any], fields: tuple[str, ...]) -> dict:
    """``{"detector", "version", "params", "state"}`` with arrays as nested lists."""
    values = {}
    for name in fields:
        value = getattr(detector, name)
        values[name] = value.tolist() if isinstance(value, np.ndarray) else value
    return {"detector": type(detector).__name__, "version": STATE_VERSION, "params": params,
            "state": values}


def state_from_dict(cls: Any, state: Any, fields: Any) -> Any:
    """Inverse of :func:`state_to_dict`; ``fields(detector)`` names the fitted attributes."""
    check_state_header(state, cls.__name__, STATE_VERSION)
    try:
        detector = cls(**state["params"])
        saved = state["state"]
        for name in fields(detector):
            value = saved[name]
            if isinstance(value, list):
                value = np.asarray(value)
                if value.dtype.kind == "f" and not np.isfinite(value).all():
                    raise StateError(f"state {name!r} holds non-finite values")
            setattr(detector, name, value)
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, StateError):
            raise
        raise StateError(f"malformed {cls.__name__} state: {exc}") from None
    return detector
