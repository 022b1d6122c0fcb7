"""ConjNorm's closed-form member: a normalised class-conditional Gaussian density.

What ConjNorm is
----------------
Peng et al. (2024) model each in-distribution class as an exponential-family density
written through a Bregman divergence, ``p(z | k) = exp(-d_psi(z, mu_k)) / Phi(k)``, with
``psi(z) = 1/2 |z|_p^2`` (whose convex conjugate is ``1/2 |.|_q^2``, ``1/p + 1/q = 1``),
a uniform class prior, and score ``log p(z) = log (1/K) sum_k p(z | k)``; ``p`` is tuned
on validation data.

What is tractable, and what this module implements
--------------------------------------------------
Because ``psi`` is 2-homogeneous, ``<grad psi(mu), mu> = 2 psi(mu)`` and the normaliser is
``Phi(k) = exp(-psi(mu_k)) * integral exp(<theta_k, z> - 1/2 |z|_p^2) dz`` with
``theta_k = grad psi(mu_k)``: a Laplace transform of ``exp(-1/2 |z|_p^2)``. For ``p = 2`` it
is Gaussian and closed-form. For ``p != 2`` and ``d > 1`` the integrand is not separable
(the squared p-norm couples the coordinates), and we know no closed form for the transform
except at ``theta = 0`` (a p-ball volume times a Gamma function) -- but ``theta_k = 0``
only for a class mean at the origin -- so
``Phi(k)`` differs between classes and must be estimated; the paper uses importance
sampling, an estimate with Monte Carlo error whose size the score would not report. In one
dimension every ``p`` gives ``|z|^2`` and the family collapses to ``p = 2``.

So only the ``p = 2`` member is implemented, in its general quadratic form
``psi(z) = 1/2 z' S^{-1} z``, where the Bregman divergence is half the squared Mahalanobis
distance and ``p(z | k) = N(z; mu_k, T S)`` exactly:

``log p(z) = logsumexp_k(-MD_k(z) / (2T)) - log K - d/2 log(2 pi T) - 1/2 log det S``

with ``S`` the tied within-class covariance (shrunk, as in
:class:`~shiftguard.ood.mahalanobis.Mahalanobis`) and ``T`` a temperature (``T = 1``: the
maximum-likelihood Gaussians). This is the GEM score of Morteza and Li (2022) with its
normalising constant, so the score is a true negative log-density in nats: comparable
across fits of the same features, and the mixture integrates to one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import logsumexp

from shiftguard._validation import check_positive_number
from shiftguard.errors import InputError
from shiftguard.ood._base import check_features, check_fitted
from shiftguard.ood.mahalanobis import (
    check_shrinkage,
    cholesky_factor,
    class_means,
    row_blocks,
    shrunk_covariance,
    squared_distances,
    state_from_dict,
    state_to_dict,
    whiten,
)

__all__ = ["ConjNorm"]


class ConjNorm:
    """Negative log-density of a uniform mixture of class Gaussians with a tied covariance
    (ConjNorm with ``p = 2``; see the module docstring for why only ``p = 2``).

    Parameters
    ----------
    shrinkage
        ``"ledoit_wolf"`` or a weight in [0, 1] shrinking the tied covariance towards
        ``(tr S / d) I``.
    temperature
        ``T > 0``: class covariances ``T S``. Small ``T`` makes the mixture's log-density
        follow the nearest class only (min Mahalanobis distance); large ``T`` smooths
        across classes.

    Attributes
    ----------
    n_features_in_ : int
    classes_ : numpy.ndarray
    means_ : numpy.ndarray
        (K, d) class means.
    covariance_, cholesky_ : numpy.ndarray
        Tied shrunk covariance ``S`` and its lower Cholesky factor.
    log_normaliser_ : float
        ``log K + d/2 log(2 pi T) + 1/2 log det S``.
    shrinkage_ : float

    References
    ----------
    Peng, B., Luo, Y., Zhang, Y., Li, Y. and Fang, Z. (2024). ConjNorm: Tractable density
    estimation for out-of-distribution detection. ICLR.
    Morteza, P. and Li, Y. (2022). Provable guarantees for understanding out-of-distribution
    detection. AAAI.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1], 200)
    >>> X = rng.normal(size=(400, 2)) + 4.0 * y[:, None]
    >>> det = ConjNorm().fit(X, y)
    >>> det.score([[0.0, 0.0], [2.0, 2.0], [9.0, -5.0]]).round(2)
    array([ 2.53,  5.88, 55.55])
    """

    def __init__(self, shrinkage: str | float = "ledoit_wolf", temperature: float = 1.0) -> None:
        self.shrinkage = shrinkage
        self.temperature = temperature

    def fit(self, X: Any, y: Any = None) -> ConjNorm:
        """Fit class means and the tied shrunk covariance on in-distribution rows ``X`` with
        class labels ``y`` (required, at least two classes). Returns ``self``."""
        shrinkage = check_shrinkage(self.shrinkage)
        t = check_positive_number(self.temperature, "temperature")
        X = check_features(X, "X", min_rows=2)
        if y is None:
            raise InputError("ConjNorm needs the class labels", "y")
        classes, inverse, means = class_means(X, y)
        cov, a = shrunk_covariance(X - means[inverse], shrinkage)
        self.cholesky_ = cholesky_factor(cov)
        d = X.shape[1]
        log_det = 2.0 * np.log(np.diag(self.cholesky_)).sum()
        self.log_normaliser_ = float(np.log(classes.size) + 0.5 * d * np.log(2.0 * np.pi * t)
                                     + 0.5 * log_det)
        self.classes_, self.means_, self.covariance_, self.shrinkage_ = classes, means, cov, a
        self.n_features_in_ = d
        return self

    def log_density(self, X: Any) -> np.ndarray:
        """``log p(x)`` under the fitted mixture, shape (n,)."""
        check_fitted(self, "cholesky_")
        X = check_features(X, "X", n_features=self.n_features_in_)
        t = float(self.temperature)
        centre = self.means_.mean(axis=0)
        M = whiten(self.means_, centre, self.cholesky_)
        m_sq = np.einsum("ij,ij->i", M, M)
        out = np.empty(X.shape[0])
        for rows in row_blocks(X.shape[0], X.shape[1] + M.shape[0]):
            D = squared_distances(whiten(X[rows], centre, self.cholesky_), M, m_sq)
            out[rows] = logsumexp(D / (-2.0 * t), axis=1)
        return out - self.log_normaliser_

    def score(self, X: Any) -> np.ndarray:
        """Negative log-density ``-log p(x)`` in nats, shape (n,); higher = more anomalous."""
        return -self.log_density(X)

    _STATE = ("n_features_in_", "classes_", "means_", "covariance_", "cholesky_",
              "log_normaliser_", "shrinkage_")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready state; :meth:`from_dict` rebuilds a detector scoring identically."""
        check_fitted(self, "cholesky_")
        return state_to_dict(self, {"shrinkage": self.shrinkage,
                                    "temperature": self.temperature}, self._STATE)

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> ConjNorm:
        """Rebuild a fitted detector from :meth:`to_dict` output (:class:`StateError` when
        ``state`` is for another detector or version, or is incomplete)."""
        return state_from_dict(cls, state, lambda det: det._STATE)
