"""KNNDistance: exact against scikit-learn's nearest neighbours (with ties, duplicates,
the direct fallback and small blocks), equal to PyOD's KNN on a real table, real-data
AUROC floors, typed errors and pickling."""

from __future__ import annotations

import doctest
import pickle

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import NearestNeighbors

from helpers import adbench_split, load_adbench
from shiftguard.errors import InputError, NotFittedError, ParameterError
from shiftguard.ood import knn as knn_module
from shiftguard.ood.knn import KNNDistance


def sklearn_scores(X, Q, k, aggregate, normalize):
    """Reference: direct Euclidean distances (k-d tree), aggregated like the detector."""
    if normalize:
        X = X / np.linalg.norm(X, axis=1, keepdims=True)
        Q = Q / np.linalg.norm(Q, axis=1, keepdims=True)
    dist, _ = NearestNeighbors(n_neighbors=k, algorithm="kd_tree").fit(X).kneighbors(Q)
    return dist[:, -1] if aggregate == "kth" else dist.mean(axis=1)


@pytest.mark.parametrize("k", [1, 3, 10])
@pytest.mark.parametrize("aggregate", ["kth", "mean"])
@pytest.mark.parametrize("normalize", [False, True])
def test_exact_against_sklearn(rng, k, aggregate, normalize):
    X = rng.normal(size=(700, 6)) + 5.0  # offset: centring must not change distances
    Q = np.r_[rng.normal(size=(300, 6)) * 2.0 + 5.0, X[:20]]  # training rows included
    det = KNNDistance(k=k, aggregate=aggregate, normalize=normalize).fit(X)
    np.testing.assert_allclose(det.score(Q), sklearn_scores(X, Q, k, aggregate, normalize),
                               rtol=1e-12, atol=1e-12)


def test_ties_and_duplicates_fall_back_to_the_direct_search(rng, monkeypatch):
    # Integer grid with many duplicate rows: many exact ties at the k-th distance, and
    # queries on the grid whose candidate set cannot be certified.
    X = rng.integers(0, 3, size=(600, 3)).astype(float)
    Q = rng.integers(0, 3, size=(200, 3)).astype(float)
    redone = []
    direct = knn_module._direct

    def spy(rows, *args):
        redone.append(rows.shape[0])
        direct(rows, *args)

    monkeypatch.setattr(knn_module, "_direct", spy)
    for aggregate in ("kth", "mean"):
        det = KNNDistance(k=5, aggregate=aggregate, normalize=False).fit(X)
        np.testing.assert_allclose(det.score(Q), sklearn_scores(X, Q, 5, aggregate, False),
                                   rtol=0, atol=1e-13)
    assert sum(redone) > 0


def test_direct_search_alone_is_exact(rng, monkeypatch):
    # A huge error bound fails every certificate, so every row takes the direct path.
    monkeypatch.setattr(knn_module, "_U32", 0.01)
    X, Q = rng.normal(size=(300, 5)), rng.normal(size=(50, 5))
    det = KNNDistance(k=4, normalize=False).fit(X)
    np.testing.assert_allclose(det.score(Q), sklearn_scores(X, Q, 4, "kth", False), rtol=1e-12)


def test_small_blocks_and_tiles_give_identical_scores(rng, monkeypatch):
    X, Q = rng.normal(size=(1000, 8)), rng.normal(size=(333, 8))
    det = KNNDistance(k=7).fit(X)
    whole = det.score(Q)
    monkeypatch.setattr(knn_module, "QUERY_BLOCK", 10)
    monkeypatch.setattr(knn_module, "TRAIN_TILE", 97)
    np.testing.assert_array_equal(det.score(Q), whole)


def test_k_equal_to_training_size_and_single_query(rng):
    X = rng.normal(size=(12, 3))
    det = KNNDistance(k=12, normalize=False).fit(X)
    expected = np.linalg.norm(X - [0.5, 0.5, 0.5], axis=1).max()
    assert det.score([[0.5, 0.5, 0.5]]) == pytest.approx([expected], rel=1e-13)


def test_normalize_keeps_zero_rows_at_the_origin():
    X = np.eye(3)
    det = KNNDistance(k=1).fit(X)
    np.testing.assert_allclose(det.score([[0.0, 0.0, 0.0], [5.0, 0.0, 0.0]]), [1.0, 0.0],
                               atol=1e-15)


def test_equals_pyod_knn_on_cardio():
    # PyOD 3.6.7 KNN(n_neighbors=10, method="largest") and KNN(n_neighbors=5,
    # method="mean"), fitted on cardio's inliers, decision_function on its first 8
    # anomalies, run in a scratch virtual environment (PyOD is not a dependency).
    pyod_kth = [8.161829053009855, 9.661278267944017, 2.7211498179534366, 2.7920259929947093,
                2.9316500198430067, 7.744742775167542, 9.259363215977647, 2.7608611977036266]
    pyod_mean = [7.369827719438687, 8.917710594181248, 2.3253965238601872, 2.404397823799709,
                 2.607084203832943, 6.196232582293207, 7.846739569140352, 2.326704331716134]
    X, y = load_adbench("6_cardio")
    fit, anomalies = X[y == 0], X[y == 1][:8]
    kth = KNNDistance(k=10, normalize=False).fit(fit).score(anomalies)
    mean = KNNDistance(k=5, aggregate="mean", normalize=False).fit(fit).score(anomalies)
    np.testing.assert_allclose(kth, pyod_kth, rtol=1e-12)
    np.testing.assert_allclose(mean, pyod_mean, rtol=1e-12)


@pytest.mark.parametrize(("name", "floor"), [("6_cardio", 0.88), ("18_Ionosphere", 0.92),
                                             ("21_Lymphography", 0.96), ("14_glass", 0.7)])
def test_adbench_auroc_above_floor(name, floor):
    # Measured AUROC (k=10, unnormalised, seed 0): cardio 0.922, Ionosphere 0.953,
    # Lymphography 0.995, glass 0.819 (9 anomalies); floors 0.03-0.12 below, far above 0.5.
    X_fit, X_test, y_test = adbench_split(name)
    det = KNNDistance(k=10, normalize=False).fit(X_fit)
    assert roc_auc_score(y_test, det.score(X_test)) > floor


def test_digits_unseen_classes_score_higher():
    # Normalised features, as in Sun et al.: measured AUROC 0.956 (k=10).
    X, y = load_digits(return_X_y=True)
    seen = y < 5
    order = np.random.default_rng(0).permutation(np.flatnonzero(seen))
    fit_rows, held_out = order[: order.size // 2], order[order.size // 2 :]
    test = np.concatenate([held_out, np.flatnonzero(~seen)])
    scores = KNNDistance(k=10).fit(X[fit_rows]).score(X[test])
    assert roc_auc_score(~seen[test], scores) > 0.92


def test_typed_errors(rng):
    X = rng.normal(size=(20, 3))
    with pytest.raises(NotFittedError):
        KNNDistance().score(X)
    with pytest.raises(ParameterError, match="exceeds"):
        KNNDistance(k=21).fit(X)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ParameterError):
            KNNDistance(k=bad).fit(X)
    with pytest.raises(ParameterError, match="aggregate"):
        KNNDistance(k=2, aggregate="median").fit(X)
    det = KNNDistance(k=2).fit(X)
    with pytest.raises(InputError, match="fitted on 3"):
        det.score(rng.normal(size=(4, 2)))
    with pytest.raises(InputError, match="infinite"):
        det.score([[0.0, np.inf, 1.0]])


def test_constructor_stores_arguments_and_pickles(rng):
    det = KNNDistance(k=3, aggregate="mean", normalize=False)
    assert (det.k, det.aggregate, det.normalize) == (3, "mean", False)
    assert not [k for k in vars(det) if k.endswith("_")]
    X, Q = rng.normal(size=(50, 4)), rng.normal(size=(10, 4))
    det.fit(X)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(det)).score(Q), det.score(Q))


@pytest.mark.parametrize("units", [1e-30, 1e30])
def test_extreme_units_stay_exact(rng, units):
    # Single precision alone would underflow (1e-60) or overflow (1e60) the squared norms.
    X, Q = rng.normal(size=(400, 5)) * units, rng.normal(size=(60, 5)) * units
    det = KNNDistance(k=3, normalize=False).fit(X)
    np.testing.assert_allclose(det.score(Q), sklearn_scores(X, Q, 3, "kth", False), rtol=1e-12)


def test_query_beyond_single_precision_range_is_searched_directly(rng):
    # Scaled to the training radius, this query overflows single precision (1e40 > 3e38).
    X = rng.normal(size=(200, 3))
    Q = np.array([[1e40, 0.0, 0.0], [0.1, 0.2, 0.3]])
    det = KNNDistance(k=2, normalize=False).fit(X)
    np.testing.assert_allclose(det.score(Q), sklearn_scores(X, Q, 2, "kth", False), rtol=1e-12)


def test_docstring_examples_run():
    result = doctest.testmod(knn_module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
