import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

from shiftguard.errors import InputError, ParameterError
from shiftguard.shift import weighted_metric


def test_self_normalised_estimate_and_delta_method_error():
    rng = np.random.default_rng(0)
    v, w = rng.normal(size=200), rng.exponential(size=200)
    est = weighted_metric(w, v, alpha=0.1)
    mean = w @ v / w.sum()
    se = np.sqrt(np.sum(w**2 * (v - mean) ** 2)) / w.sum()
    assert est.estimate == pytest.approx(mean)
    assert est.standard_error == pytest.approx(se)
    assert est.upper - est.estimate == pytest.approx(1.6448536 * se, rel=1e-6)
    assert est.effective_sample_size == pytest.approx(w.sum() ** 2 / np.sum(w**2))
    assert "covariate shift" in est.assumption
    # equal weights: the plain mean and its (ddof=0) standard error
    flat = weighted_metric(np.full(200, 3.0), v)
    assert flat.standard_error == pytest.approx(v.std() / np.sqrt(200))


@pytest.mark.parametrize(
    ("metric", "reference"),
    [("accuracy", accuracy_score), ("precision", precision_score), ("recall", recall_score),
     ("f1", f1_score)],
)
def test_ratio_metrics_match_scikit_learn_with_sample_weights(metric, reference):
    rng = np.random.default_rng(1)
    y, pred, w = rng.integers(0, 2, 300), rng.integers(0, 2, 300), rng.exponential(size=300)
    est = weighted_metric(w, y_true=y, y_pred=pred, metric=metric)
    assert est.estimate == pytest.approx(reference(y, pred, sample_weight=w))
    assert est.lower < est.estimate < est.upper


def test_losses():
    y, pred = np.array([1.0, 2.0, 3.0] * 10), np.array([1.5, 2.0, 1.0] * 10)
    w = np.array([1.0, 1.0, 2.0] * 10)
    assert weighted_metric(w, y_true=y, y_pred=pred, metric="absolute_error").estimate == (
        pytest.approx((0.5 + 0 + 4) / 4))
    assert weighted_metric(w, y_true=y, y_pred=pred, metric="squared_error").estimate == (
        pytest.approx((0.25 + 0 + 8) / 4))


def test_bad_input():
    v = np.ones(50)
    with pytest.raises(InputError, match="infinite"):
        weighted_metric(np.r_[np.inf, np.ones(49)], v)
    with pytest.raises(InputError, match="all weights are zero"):
        weighted_metric(np.zeros(50), v)
    with pytest.raises(InputError, match="too few points"):
        weighted_metric(np.r_[100.0, np.full(49, 0.01)], v)
    with pytest.raises(InputError, match="expected 50 weights"):
        weighted_metric(np.ones(40), v)
    with pytest.raises(InputError, match="precision is undefined"):
        weighted_metric(np.ones(50), y_true=np.ones(50), y_pred=np.zeros(50), metric="precision")
    with pytest.raises(ParameterError, match="needs values"):
        weighted_metric(np.ones(50))
    with pytest.raises(ParameterError, match="needs y_true"):
        weighted_metric(np.ones(50), metric="accuracy")
    with pytest.raises(ParameterError, match="metric"):
        weighted_metric(np.ones(50), v, metric="auc")
