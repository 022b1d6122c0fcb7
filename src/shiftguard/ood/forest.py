"""Isolation forests: the Extended Isolation Forest, and adapters for scikit-learn and PyOD
outlier detectors.

:class:`ExtendedIsolationForest` stores its trees as flat NumPy node arrays and scores all
rows in one compiled loop (numba, imported on first use). :class:`SklearnDetector` and
:class:`PyODDetector` give any scikit-learn or PyOD outlier detector the ``fit`` /
``score`` (higher = more anomalous) interface of :mod:`shiftguard.ood`.
"""

from __future__ import annotations

import copy
import functools
import math
from typing import Any, Self

import numpy as np

from shiftguard._threads import kernel_threads
from shiftguard._validation import as_rng, check_positive_int
from shiftguard.errors import EstimatorError, ParameterError
from shiftguard.ood._base import check_features, check_fitted


def average_path_length(n: Any) -> np.ndarray:
    """``c(n) = 2 H(n - 1) - 2 (n - 1) / n``: the mean path length of an unsuccessful search
    in a binary search tree of ``n`` points (Liu, Ting, Zhou 2008), 0 for ``n <= 1``.

    ``H`` is the exact harmonic number (so ``c(2) = 1``), not the approximation
    ``ln(i) + 0.5772``, which is off by up to 0.42 for small ``i``.
    """
    n = np.asarray(n, dtype=np.int64)
    top = max(int(n.max(initial=0)), 1)
    harmonic = np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, top + 1))])
    m = np.maximum(n, 1)
    return np.where(n > 1, 2.0 * harmonic[m - 1] - 2.0 * (m - 1) / m, 0.0)


# Plain Python kernels, compiled by numba on first use (``_compiled``), which also makes
# ``_prange`` numba's parallel range; numba reads globals when it compiles.
_prange = range

def _build_tree(X, features, normals, uniforms, max_depth, children, offsets, sizes, depths):
    """Grow one tree on the rows of ``X`` into the node arrays; returns the node count.

    Node ``k`` (numbered in order of creation, root 0) cuts with the hyperplane
    ``sum_t X[:, features[k, t]] * normals[k, t] = offsets[k]`` through a point drawn
    uniformly in the node's bounding box (coordinate ``lo + uniforms[k, t] * (hi - lo)``);
    rows strictly below go left. A node is a leaf at ``max_depth`` or with at most 1 row.
    """
    n = X.shape[0]
    q = features.shape[1]
    rows = np.arange(n)
    buffer = np.empty(n, dtype=np.int64)
    stack = np.empty((children.shape[0], 3), dtype=np.int64)
    stack[0, 0], stack[0, 1], stack[0, 2] = 0, 0, n
    top = 1
    depths[0] = 0
    n_nodes = 1
    while top > 0:
        top -= 1
        node, start, end = stack[top, 0], stack[top, 1], stack[top, 2]
        sizes[node] = end - start
        if depths[node] >= max_depth or end - start <= 1:
            children[node, 0] = -1
            children[node, 1] = -1
            continue
        offset = 0.0
        for t in range(q):
            f = features[node, t]
            lo = np.inf
            hi = -np.inf
            for r in range(start, end):
                v = X[rows[r], f]
                lo = min(lo, v)
                hi = max(hi, v)
            offset += (lo + uniforms[node, t] * (hi - lo)) * normals[node, t]
        offsets[node] = offset
        n_left = 0
        n_right = 0
        for r in range(start, end):
            proj = 0.0
            for t in range(q):
                proj += X[rows[r], features[node, t]] * normals[node, t]
            if proj < offset:
                rows[start + n_left] = rows[r]
                n_left += 1
            else:
                buffer[n_right] = rows[r]
                n_right += 1
        for r in range(n_right):
            rows[start + n_left + r] = buffer[r]
        left = n_nodes
        n_nodes += 2
        children[node, 0] = left
        children[node, 1] = left + 1
        depths[left] = depths[node] + 1
        depths[left + 1] = depths[node] + 1
        stack[top, 0], stack[top, 1], stack[top, 2] = left + 1, start + n_left, end
        stack[top + 1, 0], stack[top + 1, 1], stack[top + 1, 2] = left, start, start + n_left
        top += 2
    return n_nodes


def _mean_path_lengths(X, roots, children, features, normals, offsets, leaf_values, out):
    """``out[i]`` = mean over trees of the leaf value (depth + c(size)) reached by row i."""
    q = features.shape[1]
    for i in _prange(X.shape[0]):
        total = 0.0
        for root in roots:
            node = root
            while children[node, 0] >= 0:
                proj = 0.0
                for t in range(q):
                    proj += X[i, features[node, t]] * normals[node, t]
                node = children[node, 0] if proj < offsets[node] else children[node, 1]
            total += leaf_values[node]
        out[i] = total / roots.size


@functools.cache
def _compiled() -> tuple[Any, Any]:
    import numba as nb

    global _prange
    _prange = nb.prange
    return (nb.njit(cache=True)(_build_tree),
            nb.njit(cache=True, parallel=True)(_mean_path_lengths))


class ExtendedIsolationForest:
    """Extended Isolation Forest (EIF): isolation trees with random hyperplane cuts.

    Each of ``n_estimators`` trees is grown on ``psi = min(max_samples, n)`` training rows
    drawn without replacement, to depth ``ceil(log2 psi)``. A node cuts its rows by a
    hyperplane with a random normal vector -- standard normal components on
    ``extension_level + 1`` features chosen at random, zero elsewhere -- through a point
    drawn uniformly in the bounding box of the node's rows. ``extension_level=0`` gives the
    axis-parallel cuts of the original Isolation Forest; the default ``d - 1`` (fully
    extended) removes the axis-aligned artefacts of its score maps. The score of ``x`` is
    ``s(x) = 2 ** (-E[h(x)] / c(psi))``, where ``h(x)`` is the depth of the leaf ``x``
    falls in plus ``c(size)`` for the training rows left there, and ``c`` is
    :func:`average_path_length`.

    The score lies in (0, 1]; points isolated by few cuts score near 1 (anomalous), the
    bulk of the training data near or below 0.5.

    Parameters
    ----------
    n_estimators
        Number of trees.
    max_samples
        Rows per tree (capped at the number of training rows).
    extension_level
        Number of features, minus one, that each cut combines; ``None`` means all
        (``d - 1``). Must lie in ``[0, d - 1]``.
    seed
        Seed or ``numpy.random.Generator``; equal seeds give equal forests.

    Notes
    -----
    Trees are flat node arrays (``children_``, ``features_``, ``normals_``, ``offsets_``);
    all rows are scored in one numba loop, in parallel over rows, ``O(n_estimators *
    log2(psi) * (extension_level + 1))`` per row. Each node stores ``extension_level + 1``
    weights and feature indices; a tree has fewer than ``4 * psi`` nodes, in practice about
    ``0.6 * psi`` (a fully extended forest of 100 trees, ``psi=256``, on 100 features: 18 MB).

    References
    ----------
    S. Hariri, M. Carrasco Kind, R. J. Brunner (2021). Extended Isolation Forest. IEEE
    Transactions on Knowledge and Data Engineering 33(4), 1479-1489.
    F. T. Liu, K. M. Ting, Z.-H. Zhou (2008). Isolation Forest. IEEE ICDM.

    Examples
    --------
    >>> import numpy as np
    >>> from shiftguard.ood.forest import ExtendedIsolationForest
    >>> rng = np.random.default_rng(0)
    >>> forest = ExtendedIsolationForest(seed=0).fit(rng.normal(size=(500, 2)))
    >>> s = forest.score([[0.0, 0.0], [4.0, 4.0]])
    >>> bool(s[0] < 0.5 < s[1])
    True
    """

    def __init__(self, n_estimators: int = 100, max_samples: int = 256,
                 extension_level: int | None = None,
                 seed: int | np.random.Generator | None = None) -> None:
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.extension_level = extension_level
        self.seed = seed

    def fit(self, X: Any, y: Any = None) -> Self:
        """Grow the trees on ``X`` (shape (n, d), at least 2 rows); ``y`` is ignored."""
        n_trees = check_positive_int(self.n_estimators, "n_estimators")
        max_samples = check_positive_int(self.max_samples, "max_samples", minimum=2)
        X = check_features(X, "X", min_rows=2)
        n, d = X.shape
        level = d - 1 if self.extension_level is None else self.extension_level
        if isinstance(level, bool) or not isinstance(level, (int, np.integer)) \
                or not 0 <= level <= d - 1:
            raise ParameterError(f"extension_level must be an integer in [0, {d - 1}] "
                                 f"for {d} features, got {self.extension_level!r}")
        q = int(level) + 1
        psi = min(max_samples, n)
        max_depth = math.ceil(math.log2(psi))
        capacity = 2 ** (max_depth + 1) - 1
        build, _ = _compiled()
        rng = as_rng(self.seed)
        trees = []
        for _ in range(n_trees):
            sample = X[rng.choice(n, psi, replace=False)]
            features = _random_feature_sets(rng, capacity, d, q)
            normals = rng.standard_normal((capacity, q))
            uniforms = rng.random((capacity, q))
            children = np.empty((capacity, 2), dtype=np.int64)
            offsets = np.zeros(capacity)
            sizes = np.zeros(capacity, dtype=np.int64)
            depths = np.zeros(capacity, dtype=np.int64)
            used = build(sample, features, normals, uniforms, max_depth, children, offsets,
                         sizes, depths)
            trees.append((children[:used], features[:used], normals[:used], offsets[:used],
                          sizes[:used], depths[:used]))
        counts = np.array([t[0].shape[0] for t in trees])
        roots = np.concatenate([[0], np.cumsum(counts)[:-1]])
        children = np.concatenate([np.where(t[0] >= 0, t[0] + r, -1)
                                   for t, r in zip(trees, roots, strict=True)])
        self.roots_ = roots
        self.children_ = children
        self.features_ = np.concatenate([t[1] for t in trees]).astype(np.int32)
        self.normals_ = np.concatenate([t[2] for t in trees])
        self.offsets_ = np.concatenate([t[3] for t in trees])
        self.node_sizes_ = np.concatenate([t[4] for t in trees])
        self.node_depths_ = np.concatenate([t[5] for t in trees])
        leaf = children[:, 0] < 0
        self.leaf_path_lengths_ = np.where(
            leaf, self.node_depths_ + average_path_length(self.node_sizes_), 0.0)
        self.max_samples_ = psi
        self.extension_level_ = int(level)
        self.n_features_in_ = d
        return self

    def path_lengths(self, X: Any) -> np.ndarray:
        """``E[h(x)]``: the mean over trees of each row's path length (shape (m,))."""
        check_fitted(self, "children_")
        X = check_features(X, "X", n_features=self.n_features_in_)
        _, mean_path = _compiled()
        out = np.empty(X.shape[0])
        work = X.shape[0] * self.roots_.size * (self.extension_level_ + 1) * 8
        with kernel_threads(work):
            mean_path(X, self.roots_, self.children_, self.features_, self.normals_,
                      self.offsets_, self.leaf_path_lengths_, out)
        return out

    def score(self, X: Any) -> np.ndarray:
        """Anomaly score ``2 ** (-E[h(x)] / c(psi))`` of each row, in (0, 1]; higher means
        more anomalous."""
        h = self.path_lengths(X)
        return np.exp2(-h / average_path_length(self.max_samples_))


def _random_feature_sets(rng: np.random.Generator, n_nodes: int, d: int, q: int) -> np.ndarray:
    """``q`` distinct features chosen uniformly at random for each node, (n_nodes, q)."""
    if q == d:
        return np.broadcast_to(np.arange(d), (n_nodes, d)).copy()
    if q == 1:
        return rng.integers(0, d, size=(n_nodes, 1))
    # The q smallest of d i.i.d. uniforms are a uniformly random q-subset.
    return np.argpartition(rng.random((n_nodes, d)), q - 1, axis=1)[:, :q]


class SklearnDetector:
    """Adapter for a scikit-learn outlier detector (``IsolationForest``, ``OneClassSVM``,
    ``LocalOutlierFactor(novelty=True)``, ``EllipticEnvelope``, ...).

    ``fit`` fits a clone of ``estimator`` (the argument is left untouched);
    ``score`` is ``-estimator_.score_samples(X)``, so that higher means more anomalous
    (scikit-learn's ``score_samples`` is higher for normal rows).

    Parameters
    ----------
    estimator
        An unfitted scikit-learn estimator with ``fit`` and ``score_samples``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.svm import OneClassSVM
    >>> from shiftguard.ood.forest import SklearnDetector
    >>> rng = np.random.default_rng(0)
    >>> det = SklearnDetector(OneClassSVM(gamma=0.5)).fit(rng.normal(size=(300, 2)))
    >>> s = det.score([[0.0, 0.0], [5.0, 5.0]])
    >>> bool(s[1] > s[0])
    True
    """

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator

    def fit(self, X: Any, y: Any = None) -> Self:
        """Fit a clone of ``estimator`` on ``X`` (shape (n, d)); ``y`` is ignored."""
        from sklearn.base import clone

        X = check_features(X, "X")
        estimator = clone(self.estimator)
        _require_methods(estimator, ("fit", "score_samples"),
                         "a LocalOutlierFactor needs novelty=True to score new rows")
        self.estimator_ = estimator.fit(X)
        self.n_features_in_ = X.shape[1]
        return self

    def score(self, X: Any) -> np.ndarray:
        """``-score_samples(X)`` of the fitted estimator: higher means more anomalous."""
        check_fitted(self, "estimator_")
        X = check_features(X, "X", n_features=self.n_features_in_)
        return -np.asarray(self.estimator_.score_samples(X), dtype=np.float64).reshape(-1)


class PyODDetector:
    """Adapter for a PyOD detector (duck-typed: PyOD is not imported by shiftguard).

    ``fit`` fits a copy of ``estimator`` (a scikit-learn clone when it has ``get_params``,
    as PyOD detectors do; a deep copy otherwise); ``score`` is its ``decision_function``,
    already higher for more anomalous rows.

    Parameters
    ----------
    estimator
        An unfitted object with ``fit(X)`` and ``decision_function(X)``.

    Notes
    -----
    Some PyOD detectors score new rows together with the training data: ``ECOD`` and
    ``COPOD`` rebuild their ECDFs over training plus query rows at every call (seconds
    per call for a million training rows, and a row's score depends on the rest of the
    batch); :class:`~shiftguard.ood.ecod.ECOD` and :class:`~shiftguard.ood.ecod.COPOD` are
    fitted once.

    Examples
    --------
    >>> from shiftguard.ood.forest import PyODDetector
    >>> from pyod.models.knn import KNN  # doctest: +SKIP
    >>> det = PyODDetector(KNN(n_neighbors=10)).fit(X_train)  # doctest: +SKIP
    >>> det.score(X_new)  # doctest: +SKIP
    """

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator

    def fit(self, X: Any, y: Any = None) -> Self:
        """Fit a copy of ``estimator`` on ``X`` (shape (n, d)); ``y`` is ignored."""
        X = check_features(X, "X")
        if hasattr(self.estimator, "get_params"):
            from sklearn.base import clone

            estimator = clone(self.estimator)
        else:
            estimator = copy.deepcopy(self.estimator)
        _require_methods(estimator, ("fit", "decision_function"), "")
        estimator.fit(X)
        self.estimator_ = estimator
        self.n_features_in_ = X.shape[1]
        return self

    def score(self, X: Any) -> np.ndarray:
        """``decision_function(X)`` of the fitted detector: higher means more anomalous."""
        check_fitted(self, "estimator_")
        X = check_features(X, "X", n_features=self.n_features_in_)
        return np.asarray(self.estimator_.decision_function(X), dtype=np.float64).reshape(-1)


def _require_methods(estimator: Any, methods: tuple[str, ...], hint: str) -> None:
    missing = [m for m in methods if not callable(getattr(estimator, m, None))]
    if missing:
        raise EstimatorError(f"{type(estimator).__name__} has no {', '.join(missing)}"
                             + (f"; {hint}" if hint else ""))


def isolation_forest(n_estimators: int = 100, max_samples: int | float | str = "auto",
                     seed: int | np.random.Generator | None = None,
                     **kwargs: Any) -> SklearnDetector:
    """scikit-learn's ``IsolationForest`` as a :class:`SklearnDetector` (axis-parallel cuts;
    see :class:`ExtendedIsolationForest` for hyperplane cuts).

    ``score`` is the paper's ``2 ** (-E[h(x)] / c(psi))``. ``seed`` becomes
    ``random_state`` (a Generator is turned into an integer seed); other keyword
    arguments go to ``IsolationForest``.

    Examples
    --------
    >>> import numpy as np
    >>> from shiftguard.ood.forest import isolation_forest
    >>> rng = np.random.default_rng(0)
    >>> det = isolation_forest(seed=0).fit(rng.normal(size=(500, 3)))
    >>> s = det.score([[0.0, 0.0, 0.0], [5.0, 5.0, 5.0]])
    >>> bool(s[0] < 0.5 < s[1])
    True
    """
    from sklearn.ensemble import IsolationForest

    if isinstance(seed, np.random.Generator):
        seed = int(seed.integers(2**32 - 1))
    return SklearnDetector(IsolationForest(n_estimators=n_estimators, max_samples=max_samples,
                                           random_state=seed, **kwargs))


def local_outlier_factor(n_neighbors: int = 20, **kwargs: Any) -> SklearnDetector:
    """scikit-learn's ``LocalOutlierFactor`` in novelty mode as a :class:`SklearnDetector`.

    ``score`` is the local outlier factor of each new row with respect to the training
    rows (about 1 inside the data, larger outside). Keyword arguments go to
    ``LocalOutlierFactor``; ``novelty`` is always ``True`` (needed to score new rows).

    Examples
    --------
    >>> import numpy as np
    >>> from shiftguard.ood.forest import local_outlier_factor
    >>> rng = np.random.default_rng(0)
    >>> det = local_outlier_factor().fit(rng.normal(size=(500, 3)))
    >>> s = det.score([[0.0, 0.0, 0.0], [5.0, 5.0, 5.0]])
    >>> bool(s[0] < 1.5 < s[1])
    True
    """
    from sklearn.neighbors import LocalOutlierFactor

    if kwargs.pop("novelty", True) is not True:
        raise ParameterError("local_outlier_factor scores new rows: novelty must be True")
    return SklearnDetector(LocalOutlierFactor(n_neighbors=n_neighbors, novelty=True, **kwargs))
