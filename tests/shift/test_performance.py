import json

import numpy as np
import pytest
from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score

from shiftguard.errors import InputError, NotFittedError, ParameterError
from shiftguard.shift import (
    PerformanceEstimate,
    PerformanceEstimator,
    _performance_methods,
    estimate_performance,
)
from shiftguard.shift._performance_metrics import (
    bootstrap_counts,
    confusion_metric,
    fit_calibrator,
    metric_gradient,
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


def test_atc_scores():
    rng = np.random.default_rng(7)
    _, y_ref, p_ref = _binary(rng, 600)
    _, _, p_cur = _binary(rng, 600, shift=0.5)
    entropy = estimate_performance(p_ref, y_ref, p_cur, "accuracy", "atc",
                                   score="negative_entropy")
    assert entropy.details["score"] == "negative_entropy" and 0 < entropy.estimate < 1


def _miscalibrated(rng, n, shift=0.0):
    X, y, p = _binary(rng, n, shift)
    return X, y, np.clip(0.8 * p + 0.1, 0.0, 1.0)


FIT_ONCE_CASES = [
    ("cbpe", ("accuracy", "roc_auc", "f1"), {}),
    ("cbpe", ("accuracy", "precision"), {"calibration": "isotonic"}),
    ("atc", ("accuracy",), {}),
    ("doc", ("accuracy",), {}),
    ("importance_weighted", ("accuracy", "roc_auc"), {}),
    ("label_shift", ("accuracy", "recall", "roc_auc"), {}),
    ("label_shift", ("accuracy",), {"prior_method": "em"}),
]


@pytest.mark.parametrize(("method", "metrics", "options"), FIT_ONCE_CASES,
                         ids=[f"{c[0]}-{c[2]}" for c in FIT_ONCE_CASES])
def test_fit_once_then_many_chunks_equals_one_shot_calls(method, metrics, options):
    """One fitted estimator on N chunks, all metrics at once, gives exactly what N x
    metrics separate estimate_performance calls with the same seed give."""
    rng = np.random.default_rng(8)
    X_ref, y_ref, p_ref = _miscalibrated(rng, 800)
    chunks = [_miscalibrated(rng, 400, shift) for shift in (0.0, 0.6, -0.4)]
    fitted = PerformanceEstimator(method, metrics, n_bootstrap=40, seed=5, **options).fit(
        p_ref, y_ref, X_ref)
    for X_cur, _, p_cur in chunks:
        results = fitted.estimate(p_cur, X_cur)
        assert [r.metric for r in results] == list(metrics)
        for metric, result in zip(metrics, results, strict=True):
            single = estimate_performance(p_ref, y_ref, p_cur, metric, method, X_ref=X_ref,
                                          X_cur=X_cur, n_bootstrap=40, seed=5, **options)
            assert result.to_dict() == single.to_dict()
    # estimating a chunk again gives the same answer (no hidden state is consumed)
    X_cur, _, p_cur = chunks[1]
    assert [r.to_dict() for r in fitted.estimate(p_cur, X_cur)] == [
        r.to_dict() for r in fitted.estimate(p_cur, X_cur)]


def test_fit_once_dle_equals_one_shot_and_estimator_checks(monkeypatch):
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(9)
    X_ref = rng.normal(size=(400, 2))
    y_ref = X_ref[:, 0] + rng.normal(0, 0.3 + np.abs(X_ref[:, 1]))
    fitted = PerformanceEstimator("dle", ("mae", "mse"), loss_model=LinearRegression(),
                                  seed=2).fit(X_ref[:, 0], y_ref, np.abs(X_ref))
    X_cur = rng.normal(0.5, 1.0, size=(300, 2))
    mae, mse = fitted.estimate(X_cur[:, 0], np.abs(X_cur))
    single = estimate_performance(X_ref[:, 0], y_ref, X_cur[:, 0], "mae", "dle",
                                  X_ref=np.abs(X_ref), X_cur=np.abs(X_cur),
                                  loss_model=LinearRegression(), seed=2)
    assert mae.to_dict() == single.to_dict()
    assert mse.metric == "mse" and mse.estimate > 0 and mse.details["degrees_of_freedom"] > 0
    # A chunk larger than the jackknife's row budget: the fold models are averaged on
    # evenly spaced rows; the estimate is unchanged and the standard error close to the
    # one from all rows.
    X_big = rng.normal(0.5, 1.0, size=(6000, 2))
    sub = fitted.estimate(X_big[:, 0], np.abs(X_big))[0]
    monkeypatch.setattr(_performance_methods, "_DLE_JACKKNIFE_ROWS", 10**9)
    full = fitted.estimate(X_big[:, 0], np.abs(X_big))[0]
    assert sub.estimate == full.estimate
    assert sub.standard_error == pytest.approx(full.standard_error, rel=0.25)
    with pytest.raises(InputError, match="columns"):
        fitted.estimate(X_cur[:, 0], X_cur[:, :1])
    with pytest.raises(NotFittedError, match="fit"):
        PerformanceEstimator().estimate(X_cur[:, 0])
    unfitted = PerformanceEstimator("atc", ("accuracy", "f1"))
    assert unfitted.metrics == ("accuracy", "f1")  # constructor arguments kept as given
    with pytest.raises(ParameterError, match="accuracy only"):
        unfitted.fit(np.full(20, 0.7), np.tile([0, 1], 10))
    with pytest.raises(ParameterError, match="metric"):
        PerformanceEstimator("cbpe", ("accuracy", "mae")).fit(np.full(20, 0.7),
                                                             np.tile([0, 1], 10))


@pytest.mark.parametrize("metric", ["accuracy", "precision", "recall", "f1", "roc_auc"])
@pytest.mark.parametrize("k", [2, 3])
def test_metric_gradient_matches_finite_differences(metric, k):
    rng = np.random.default_rng(10)
    q = rng.dirichlet(np.ones(k), 60)
    scores = rng.dirichlet(np.ones(k), 60)
    pred = scores.argmax(1)
    value, grad = metric_gradient(metric, q, pred, scores)
    h = 1e-6
    for i, c in [(0, 0), (5, k - 1), (17, 1)]:
        up, down = q.copy(), q.copy()
        up[i, c] += h
        down[i, c] -= h
        numeric = (metric_gradient(metric, up, pred, scores)[0]
                   - metric_gradient(metric, down, pred, scores)[0]) / (2 * h)
        assert grad[i, c] == pytest.approx(numeric, rel=1e-5, abs=1e-8)
    assert value == pytest.approx(float(
        multiclass_soft_auc(scores, q) if metric == "roc_auc"
        else confusion_metric(q.T @ np.eye(k)[pred], metric)))


@pytest.mark.parametrize("calibration", ["sigmoid", "isotonic"])
@pytest.mark.parametrize("metric", ["accuracy", "f1", "roc_auc"])
def test_cbpe_delta_interval_matches_the_bootstrap_it_replaces(calibration, metric):
    """CBPE's standard error (delta method over the calibrator's error -- sigmoid: the
    sandwich covariance of its parameters; isotonic: precomputed bootstrap maps -- and
    over the current labels) agrees with the brute-force double bootstrap it replaced:
    re-calibrating on every resample of the reference, and redrawing the current labels
    from the calibrated probabilities. Tolerance 8 %: the brute force's own Monte Carlo
    error with 400 replicates is about 3.5 %, and leaving out either component moves the
    standard error by 15-30 % here."""
    rng = np.random.default_rng(11)
    _, y_ref, p_ref = _miscalibrated(rng, 1500)
    _, _, p_cur = _miscalibrated(rng, 1000, shift=0.5)
    est = estimate_performance(p_ref, y_ref, p_cur, metric, calibration=calibration,
                               n_bootstrap=400, seed=1)
    p_ref2, p_cur2 = np.column_stack([1 - p_ref, p_ref]), np.column_stack([1 - p_cur, p_cur])
    pred = p_cur2.argmax(1)
    cal = fit_calibrator(p_ref2, y_ref, calibration)
    q_cur = cal.probabilities(cal.raw(p_cur2))[0]

    def value(q):
        return metric_gradient(metric, q, pred, p_cur2)[0]

    boot_rng = np.random.default_rng(2)
    counts = bootstrap_counts(1500, 400, boot_rng)
    boot = fit_calibrator(p_ref2, y_ref, calibration, counts)
    cal_values = [value(q) for q in boot.probabilities(boot.raw(p_cur2))]
    labels = (boot_rng.random((400, 1000)) < q_cur[:, 1]).astype(int)
    label_values = [value(np.eye(2)[y]) for y in labels]
    brute = np.sqrt(np.var(cal_values, ddof=1) + np.var(label_values, ddof=1))
    assert est.standard_error == pytest.approx(brute, rel=0.08)


def test_weighted_calibrators_equal_fits_on_the_repeated_rows():
    """One calibrator per row of bootstrap counts (or of 0/1 fold weights) is the
    calibrator fitted on the rows repeated that many times."""
    rng = np.random.default_rng(12)
    _, y_ref, p_ref = _miscalibrated(rng, 300)
    p = np.column_stack([1 - p_ref, p_ref])
    counts = bootstrap_counts(300, 5, rng)
    assert (counts.sum(1) == 300).all()
    grid = np.linspace(0, 1, 7)
    at = np.column_stack([1 - grid, grid])
    for method in ("sigmoid", "isotonic"):
        cal = fit_calibrator(p, y_ref, method, counts)
        assert cal.flat_params().shape[0] == 5
        for b in (0, 3):
            rows = np.repeat(np.arange(300), counts[b])
            one = fit_calibrator(p[rows], y_ref[rows], method)
            np.testing.assert_allclose(cal.replicate(b).probabilities(cal.replicate(b).raw(at)),
                                       one.probabilities(one.raw(at)), atol=1e-8)


def test_docstring_examples_run():
    import doctest

    import shiftguard.shift.performance

    result = doctest.testmod(shiftguard.shift.performance)
    assert result.attempted >= 4 and result.failed == 0


@pytest.mark.parametrize("method", ["sigmoid", "isotonic"])
def test_calibrator_gradient_matches_finite_differences(method):
    """The chain rule through a multiclass calibrator (maps, then renormalisation) that
    carries the calibrator's error into CBPE's interval, for several metrics at once."""
    import dataclasses

    rng = np.random.default_rng(13)
    p_fit = rng.dirichlet(np.ones(3), 300)
    y = np.array([rng.choice(3, p=row) for row in p_fit])
    p = rng.dirichlet(np.ones(3), 80)
    cal = fit_calibrator(p_fit, y, method)
    raw = cal.raw(p)[0]
    q = cal.probabilities(raw)
    pred = p.argmax(1)
    _, grad = metric_gradient("f1", q, pred, p)
    _, grad_acc = metric_gradient("accuracy", q, pred, p)
    both = cal.gradient(p, raw, q, np.stack([grad, grad_acc]))
    assert both.shape == (2, cal.flat_params().shape[1])
    np.testing.assert_array_equal(both[1], cal.gradient(p, raw, q, grad_acc[None])[0])
    analytic = both[0]
    flat = cal.flat_params()[0]
    sizes = np.cumsum([par.shape[1] for par in cal.params])[:-1]

    def f1_at(params):
        moved = dataclasses.replace(cal, params=tuple(
            part[None] for part in np.split(params, sizes)))
        return metric_gradient("f1", moved.probabilities(moved.raw(p)[0]), pred, p)[0]

    h = 1e-6
    for j in np.argsort(-np.abs(analytic))[:6]:
        step = np.zeros_like(flat)
        step[j] = h
        numeric = (f1_at(flat + step) - f1_at(flat - step)) / (2 * h)
        assert analytic[j] == pytest.approx(numeric, rel=1e-4, abs=1e-9)
