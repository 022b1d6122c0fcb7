import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LinearRegression, LogisticRegression

from shiftguard.conformal import SplitConformalClassifier
from shiftguard.conformal._scores import label_scores, label_sets
from shiftguard.errors import EstimatorError, InputError, NotFittedError, ParameterError

PROBA = np.array([[0.5, 0.3, 0.2], [0.1, 0.6, 0.3]])


def test_label_scores_by_hand():
    np.testing.assert_allclose(label_scores(PROBA, "lac"), 1 - PROBA)
    np.testing.assert_allclose(label_scores(PROBA, "aps"), [[0.5, 0.8, 1.0], [1.0, 0.6, 0.9]])
    u = np.array([0.5, 0.0])
    np.testing.assert_allclose(
        label_scores(PROBA, "aps", u=u), [[0.25, 0.65, 0.9], [0.9, 0.0, 0.6]]
    )
    raps = label_scores(PROBA, "raps", k_reg=1, lambda_reg=0.1)
    np.testing.assert_allclose(raps, [[0.5, 0.9, 1.2], [1.2, 0.6, 1.0]])
    np.testing.assert_array_equal(label_scores(PROBA, "top_k"), [[1, 2, 3], [3, 1, 2]])


@pytest.mark.parametrize("method", ["aps", "raps", "top_k"])
def test_pairwise_ranks_equal_the_sorted_ranks(monkeypatch, method):
    """Few classes: ranks and masses above come from comparing all pairs; many: from a
    stable sort. Both must give the same scores, ties (ranked by column order) included."""
    import shiftguard.conformal._scores as scores

    rng = np.random.default_rng(3)
    proba = rng.dirichlet(np.ones(6), size=300).round(1)  # rounding makes many ties
    proba /= proba.sum(axis=1, keepdims=True)
    u = rng.random(300)
    pairwise = label_scores(proba, method, u=u, k_reg=2, lambda_reg=0.05)
    # Re-running the kernel as plain Python with the threshold at 0 takes the sort path.
    monkeypatch.setattr(scores, "_PAIRWISE_MAX_CLASSES", 0)
    monkeypatch.setattr(scores, "_ranked_scores", scores._ranked_scores.py_func)
    monkeypatch.setattr(scores, "_label_score", scores._label_score.py_func)
    sorted_ = label_scores(proba, method, u=u, k_reg=2, lambda_reg=0.05)
    np.testing.assert_allclose(pairwise, sorted_, rtol=0, atol=1e-15)
    if method == "top_k":
        assert sorted(pairwise[0]) == list(range(1, 7))


@pytest.mark.parametrize("n_classes", [5, 40])
def test_aps_scores_equal_a_sorted_cumulative_sum(n_classes):
    """Both compiled paths (pairwise up to 16 classes, sorting beyond) against NumPy."""
    rng = np.random.default_rng(n_classes)
    proba = rng.dirichlet(np.ones(n_classes), size=500).round(2)
    proba /= proba.sum(axis=1, keepdims=True)
    order = np.argsort(-proba, axis=1, kind="stable")
    ranked = np.take_along_axis(proba, order, axis=1)
    expected = np.empty_like(proba)
    np.put_along_axis(expected, order, np.cumsum(ranked, axis=1), axis=1)
    np.testing.assert_allclose(label_scores(proba, "aps"), expected, rtol=0, atol=1e-12)
    ranks = np.empty_like(proba)
    np.put_along_axis(ranks, order, np.arange(1.0, n_classes + 1)[None, :], axis=1)
    np.testing.assert_array_equal(label_scores(proba, "top_k"), ranks)


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    idx = np.random.default_rng(0).permutation(len(y))
    return X[idx], y[idx]


@pytest.mark.parametrize("method", ["lac", "aps", "raps", "top_k"])
def test_sets_contain_labels_whose_score_is_below_threshold(iris, method):
    X, y = iris
    cp = SplitConformalClassifier(LogisticRegression(max_iter=1000), alpha=0.2, method=method)
    cp.fit(X[:50], y[:50]).calibrate(X[50:100], y[50:100])
    sets = cp.predict_set(X[100:])
    assert sets.shape == (50, 3) and sets.dtype == bool
    scores = label_scores(cp.estimator_.predict_proba(X[100:]), method)
    np.testing.assert_array_equal(sets, scores <= cp.threshold_)


def test_top_k_sets_have_the_calibrated_size(iris):
    X, y = iris
    cp = SplitConformalClassifier(LogisticRegression(max_iter=1000), alpha=0.05, method="top_k")
    cp.fit(X[:50], y[:50]).calibrate(X[50:100], y[50:100])
    assert np.all(cp.predict_set(X[100:]).sum(axis=1) == int(cp.threshold_))


def test_string_labels_and_mondrian_thresholds(iris):
    X, y = iris
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    cp = SplitConformalClassifier(
        LogisticRegression(max_iter=1000), alpha=0.2, class_conditional=True
    ).fit(X[:50], names[:50])
    cp.calibrate(X[50:], names[50:])
    assert cp.threshold_.shape == (3,)
    assert list(cp.classes_) == ["setosa", "versicolor", "virginica"]


def test_unsorted_model_classes_map_labels_to_the_right_columns():
    from shiftguard.conformal.classification import label_indices

    classes = np.array(["b", "c", "a"])
    np.testing.assert_array_equal(
        label_indices(np.array(["a", "b", "c", "a"]), classes), [2, 0, 1, 2]
    )


def test_randomised_scores_are_reproducible_with_a_seed(iris):
    X, y = iris
    model = LogisticRegression(max_iter=1000).fit(X[:50], y[:50])
    sets = [
        SplitConformalClassifier(model, method="aps", randomized=True, prefit=True, seed=3)
        .calibrate(X[50:100], y[50:100])
        .predict_set(X[100:])
        for _ in range(2)
    ]
    np.testing.assert_array_equal(*sets)


def test_sets_scored_in_blocks_equal_sets_scored_at_once(monkeypatch, iris):
    import shiftguard.conformal._scores as scores

    X, y = iris
    model = LogisticRegression(max_iter=1000).fit(X[:50], y[:50])

    def sets():
        cp = SplitConformalClassifier(model, method="raps", randomized=True, prefit=True, seed=4)
        return cp.calibrate(X[50:100], y[50:100]).predict_set(X[100:])

    whole = sets()
    proba = model.predict_proba(X[100:])
    per_row = np.linspace(0.1, 0.9, len(proba))[:, None]
    whole_per_row = label_sets(proba, "aps", per_row)
    monkeypatch.setattr(scores, "_SET_BLOCK_VALUES", 7)  # 2 rows per block
    np.testing.assert_array_equal(sets(), whole)
    np.testing.assert_array_equal(label_sets(proba, "aps", per_row), whole_per_row)
    np.testing.assert_array_equal(whole_per_row, label_scores(proba, "aps") <= per_row)


def test_errors(iris):
    X, y = iris
    model = LogisticRegression(max_iter=1000).fit(X[:50], y[:50])
    with pytest.raises(NotFittedError):
        SplitConformalClassifier(LogisticRegression()).calibrate(X, y)
    with pytest.raises(EstimatorError, match="predict_proba"):
        SplitConformalClassifier(LinearRegression().fit(X, y), prefit=True).calibrate(X, y)
    with pytest.raises(InputError, match="lengths differ"):
        SplitConformalClassifier(model, prefit=True).calibrate(X[:10], y[:9])
    with pytest.raises(InputError, match="at least 19"):
        SplitConformalClassifier(model, alpha=0.05, prefit=True).calibrate(X[:10], y[:10])
    with pytest.raises(InputError, match="per class"):
        SplitConformalClassifier(model, class_conditional=True, prefit=True).calibrate(
            X[:30], y[:30]
        )
    with pytest.raises(InputError, match="not among"):
        SplitConformalClassifier(model, prefit=True).calibrate(X[:20], y[:20] + 5)
    with pytest.raises(ParameterError, match="method"):
        SplitConformalClassifier(model, method="nope", prefit=True).calibrate(X, y)
    with pytest.raises(ParameterError, match="alpha"):
        SplitConformalClassifier(model, alpha=1.2, prefit=True).calibrate(X, y)
    with pytest.raises(NotFittedError):
        SplitConformalClassifier(model, prefit=True).predict_set(X)
