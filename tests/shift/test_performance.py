import json

import numpy as np
import pytest
from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score

from shiftguard.errors import InputError, ParameterError
from shiftguard.shift import PerformanceEstimate, estimate_performance, estimate_performance_chunks
from shiftguard.shift._performance_metrics import (
    confusion_metric,
    midranks,
    multiclass_soft_auc,
    soft_auc,
)


def _binary(rng, n, shift=0.0):
    """Features, labels and the exact P(y = 1 | x) of a logistic model (calibrated)."""
    X = rng.normal(size=(n, 2))
    X[:, 0] += shift
    p = 1.0 / (1.0 + np.exp(-(2.0 * X[:, 0] - X[:, 1])))
    return X, (rng.random(n) < p).astype(int), p


def test_soft_auc_is_the_expected_pairwise_ordering():
    rng = np.random.default_rng(0)
    scores = np.round(rng.normal(size=40), 1)  # ties on purpose
    p = rng.random(40)
    num = den = 0.0
    for i in range(40):
        for j in range(40):
            if i != j:
                order = 1.0 if scores[i] > scores[j] else 0.5 if scores[i] == scores[j] else 0.0
                num += p[i] * (1 - p[j]) * order
                den += p[i] * (1 - p[j])
    assert soft_auc(midranks(scores), p) == pytest.approx(num / den)
    y = rng.integers(0, 2, 40)
    assert soft_auc(midranks(scores), y.astype(float)) == pytest.approx(roc_auc_score(y, scores))
    proba = rng.dirichlet(np.ones(3), 60)
    labels = rng.integers(0, 3, 60)
    assert multiclass_soft_auc(proba, np.eye(3)[labels]) == pytest.approx(
        roc_auc_score(labels, proba, multi_class="ovr", average="macro"))


@pytest.mark.parametrize(
    ("metric", "reference"),
    [("precision", precision_score), ("recall", recall_score), ("f1", f1_score)],
)
def test_confusion_metrics_match_scikit_learn(metric, reference):
    rng = np.random.default_rng(1)
    for k, average in ((2, "binary"), (3, "macro")):
        y, pred = rng.integers(0, k, 200), rng.integers(0, k, 200)
        joint = np.bincount(y * k + pred, minlength=k * k).reshape(k, k)
        assert confusion_metric(joint, metric) == pytest.approx(
            reference(y, pred, average=average))


def test_cbpe_without_calibration_is_the_expected_metric():
    rng = np.random.default_rng(2)
    _, y_ref, p_ref = _binary(rng, 500)
    _, _, p_cur = _binary(rng, 400, shift=1.0)
    est = estimate_performance(p_ref, y_ref, p_cur, "accuracy", calibration="none")
    expected = np.mean(np.where(p_cur >= 0.5, p_cur, 1 - p_cur))
    assert est.estimate == pytest.approx(expected)
    assert est.lower < est.estimate < est.upper
    assert isinstance(est, PerformanceEstimate) and est.n_ref == 500 and est.n_cur == 400
    json.dumps(est.to_dict())


@pytest.mark.parametrize(
    ("method", "metric"),
    [(method, metric) for method in ("cbpe", "importance_weighted", "label_shift")
     for metric in ("accuracy", "f1", "roc_auc")] + [("atc", "accuracy"), ("doc", "accuracy")],
)
def test_every_method_tracks_a_covariate_shift(method, metric):
    rng = np.random.default_rng(3)
    X_ref, y_ref, p_ref = _binary(rng, 2000)
    X_cur, y_cur, p_cur = _binary(rng, 2000, shift=0.5)
    est = estimate_performance(p_ref, y_ref, p_cur, metric, method, X_ref=X_ref, X_cur=X_cur,
                               n_bootstrap=50)
    pred = (p_cur >= 0.5).astype(int)
    realised = {"accuracy": np.mean(pred == y_cur), "f1": f1_score(y_cur, pred),
                "roc_auc": roc_auc_score(y_cur, p_cur)}[metric]
    assert est.lower <= est.estimate <= est.upper
    # label shift is the wrong assumption here: only check it is a number in [0, 1]
    if method != "label_shift":
        assert abs(est.estimate - realised) < 0.05, (est.estimate, realised)
    assert est.assumption and est.method == method


def test_multiclass_cbpe_and_label_shift_with_em():
    rng = np.random.default_rng(4)
    means = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]])

    def sample(prior, n):
        y = rng.choice(3, n, p=prior)
        x = rng.normal(means[y])
        logits = x @ means.T - 0.5 * np.square(means).sum(1) + np.log(np.full(3, 1 / 3))
        proba = np.exp(logits - logits.max(1, keepdims=True))
        return y, proba / proba.sum(1, keepdims=True)

    y_ref, p_ref = sample(np.full(3, 1 / 3), 3000)
    y_cur, p_cur = sample(np.array([0.7, 0.2, 0.1]), 3000)
    realised = np.mean(p_cur.argmax(1) == y_cur)
    for prior_method in ("bbse", "em"):
        est = estimate_performance(p_ref, y_ref, p_cur, "accuracy", "label_shift",
                                   prior_method=prior_method, n_bootstrap=50)
        assert abs(est.estimate - realised) < 0.03
        np.testing.assert_allclose(est.details["target_prior"], [0.7, 0.2, 0.1], atol=0.05)
    macro = estimate_performance(p_ref, y_ref, p_cur, "recall", "cbpe", n_bootstrap=50)
    assert 0 < macro.lower < macro.estimate < macro.upper < 1


def test_direct_loss_estimation_for_regression():
    rng = np.random.default_rng(5)

    def sample(n, shift):
        X = rng.normal(size=(n, 2)) + shift
        return X, X[:, 0] + rng.normal(0, 0.2 + 0.5 * np.abs(X[:, 1]))

    X_ref, y_ref = sample(1000, 0.0)
    X_cur, y_cur = sample(1000, 1.0)
    est = estimate_performance(X_ref[:, 0], y_ref, X_cur[:, 0], "mae", "dle",
                               X_ref=X_ref, X_cur=X_cur)
    realised = np.mean(np.abs(y_cur - X_cur[:, 0]))
    assert est.reference_value < realised  # the shift makes the errors larger
    assert abs(est.estimate - realised) < 0.08 and est.lower < realised < est.upper
    iw = estimate_performance(X_ref[:, 0], y_ref, X_cur[:, 0], "mse", "importance_weighted",
                              X_ref=X_ref, X_cur=X_cur)
    assert iw.metric == "mse" and iw.upper > iw.estimate


def test_bad_input_raises_typed_errors_naming_the_problem():
    rng = np.random.default_rng(6)
    _, y, p = _binary(rng, 200)
    with pytest.raises(InputError, match="sum to one"):
        estimate_performance(np.column_stack([p, p]), y, np.column_stack([p, 1 - p]))
    with pytest.raises(InputError, match="integer class indices"):
        estimate_performance(p, np.where(y == 1, "yes", "no"), p)
    with pytest.raises(InputError, match="never saw"):
        estimate_performance(p, np.where(y == 1, 2, 0), p)
    with pytest.raises(InputError, match="too few labelled points"):
        estimate_performance(p[:12], np.r_[np.ones(10, int), 0, 0], p)
    with pytest.raises(InputError, match="roc_auc .* is undefined"):
        estimate_performance(p, np.zeros(200, int), p, "roc_auc")
    with pytest.raises(InputError, match="precision is undefined"):
        estimate_performance(p, y, np.full(50, 0.1), "precision", calibration="none")
    with pytest.raises(InputError, match="3 class columns but outputs_ref has 2"):
        estimate_performance(p, y, np.full((5, 3), 1 / 3))
    with pytest.raises(ParameterError, match="accuracy only"):
        estimate_performance(p, y, p, "f1", "atc")
    with pytest.raises(ParameterError, match="X_ref and X_cur"):
        estimate_performance(p, y, p, method="importance_weighted")
    with pytest.raises(ParameterError, match="method"):
        estimate_performance(p, y, p, method="nannyml")
    with pytest.raises(ParameterError, match="'dle'"):
        estimate_performance(p, y, p, "mae", "cbpe")


def test_chunks_give_one_estimate_per_label_and_atc_scores():
    rng = np.random.default_rng(7)
    X_ref, y_ref, p_ref = _binary(rng, 600)
    X_cur, _, p_cur = _binary(rng, 600, shift=0.5)
    months = np.repeat(["2013-02", "2013-01", "2013-03"], 200)
    out = estimate_performance_chunks(p_ref, y_ref, p_cur, months, "accuracy",
                                      "importance_weighted", X_ref=X_ref, X_cur=X_cur)
    assert list(out) == ["2013-01", "2013-02", "2013-03"]
    first = estimate_performance(p_ref, y_ref, p_cur[200:400], "accuracy",
                                 "importance_weighted", X_ref=X_ref, X_cur=X_cur[200:400])
    assert out["2013-01"].estimate == pytest.approx(first.estimate)
    with pytest.raises(InputError, match="chunk label"):
        estimate_performance_chunks(p_ref, y_ref, p_cur, months[:10])
    entropy = estimate_performance(p_ref, y_ref, p_cur, "accuracy", "atc",
                                   score="negative_entropy")
    assert entropy.details["score"] == "negative_entropy" and 0 < entropy.estimate < 1
