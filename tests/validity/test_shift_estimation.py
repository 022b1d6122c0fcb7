"""Performance and weights under known shift: bias within Monte Carlo error, near-nominal
coverage, each estimator under its own assumption (and a wrong-assumption control that
must fail, so that the simulations have power).

Covariate shift: x ~ N(0, I) (reference) or N((0.7, 0), I) (current), y | x logistic, the
model outputs the true P(y = 1 | x), so calibration transfers and w(x) = exp(0.7 x_0 -
0.245) exactly. Label shift: three Gaussian classes, priors (1/3, 1/3, 1/3) -> (0.6, 0.3,
0.1), the model outputs the exact source posteriors. Real data: breast cancer rows
resampled by label (exact label shift) or by a known selection probability of a feature
(exact covariate shift with known weights).
"""

import numpy as np
import pytest

from helpers import binomial_band
from shiftguard.shift import (
    ClassifierDensityRatio,
    KLIEPDensityRatio,
    ReTaSAWeights,
    ULSIFDensityRatio,
    em_label_shift,
    estimate_performance,
    rlls_weights,
    weighted_metric,
)

pytestmark = pytest.mark.validity

COVARIATE_SHIFT = 0.7
MEANS = np.array([[0.0, 0.0], [1.5, 0.0], [0.0, 1.5]])
SOURCE_PRIOR = np.full(3, 1 / 3)
TARGET_PRIOR = np.array([0.6, 0.3, 0.1])


def _logistic(z):
    return 1.0 / (1.0 + np.exp(-z))


def _covariate_sample(rng, n, shift):
    X = rng.normal(size=(n, 2))
    X[:, 0] += shift
    p = _logistic(2.0 * X[:, 0] - X[:, 1])
    return X, (rng.random(n) < p).astype(int), p


def _label_sample(rng, n, prior):
    y = rng.choice(3, n, p=prior)
    x = rng.normal(MEANS[y])
    logits = x @ MEANS.T - 0.5 * np.square(MEANS).sum(1)
    proba = np.exp(logits - logits.max(1, keepdims=True))
    return y, proba / proba.sum(1, keepdims=True)


def _realised_auc(y, p):
    from sklearn.metrics import roc_auc_score

    return roc_auc_score(y, p)


def _assert_unbiased_and_covering(errors, covered, alpha, name):
    """Mean error within 3 Monte Carlo standard errors of 0; coverage in the 3-SE
    binomial band around ``1 - alpha``."""
    errors, covered = np.asarray(errors), np.asarray(covered)
    reps = errors.size
    mc_se = errors.std(ddof=1) / np.sqrt(reps)
    assert abs(errors.mean()) <= 3 * mc_se, (name, errors.mean(), mc_se)
    lo, hi = binomial_band(1 - alpha, reps)
    assert lo <= covered.mean() <= hi, (name, covered.mean(), (lo, hi))


def test_estimates_under_covariate_shift_are_unbiased_and_cover():
    rng = np.random.default_rng(20)
    _, _, p_big = _covariate_sample(rng, 1_000_000, COVARIATE_SHIFT)
    population_accuracy = np.mean(np.maximum(p_big, 1 - p_big))
    reps, alpha = 150, 0.1
    results = {}
    for r in range(reps):
        X_ref, y_ref, p_ref = _covariate_sample(rng, 1000, 0.0)
        X_cur, y_cur, p_cur = _covariate_sample(rng, 1000, COVARIATE_SHIFT)
        pred_cur = (p_cur >= 0.5).astype(int)
        acc, auc = np.mean(pred_cur == y_cur), _realised_auc(y_cur, p_cur)
        exact = np.exp(COVARIATE_SHIFT * X_ref[:, 0] - COVARIATE_SHIFT**2 / 2)
        est = weighted_metric(exact, y_true=y_ref, y_pred=(p_ref >= 0.5).astype(int),
                              metric="accuracy", alpha=alpha)
        results.setdefault("exact weights", []).append(
            (est.estimate - population_accuracy, est.lower <= population_accuracy <= est.upper))
        cases = [
            ("iw accuracy", "accuracy", {"method": "importance_weighted"}, acc),
            ("iw auc", "roc_auc", {"method": "importance_weighted"}, auc),
            ("cbpe accuracy", "accuracy", {"calibration": "none"}, acc),
            ("cbpe auc", "roc_auc", {"calibration": "none"}, auc),
            ("cbpe sigmoid", "accuracy", {"calibration": "sigmoid", "n_bootstrap": 50}, acc),
        ]
        for name, metric, kwargs, realised in cases:
            est = estimate_performance(p_ref, y_ref, p_cur, metric, X_ref=X_ref, X_cur=X_cur,
                                       alpha=alpha, seed=r, **kwargs)
            results.setdefault(name, []).append(
                (est.estimate - realised, est.lower <= realised <= est.upper))
    for name, pairs in results.items():
        errors, covered = zip(*pairs, strict=True)
        _assert_unbiased_and_covering(errors, covered, alpha, name)


def test_estimates_under_label_shift_are_unbiased_and_cover():
    rng = np.random.default_rng(21)
    reps, alpha = 150, 0.1
    results, cbpe_errors, prior_covered = {}, [], []
    for r in range(reps):
        y_ref, p_ref = _label_sample(rng, 2000, SOURCE_PRIOR)
        y_cur, p_cur = _label_sample(rng, 1000, TARGET_PRIOR)
        realised = np.mean(p_cur.argmax(1) == y_cur)
        priors = em_label_shift(p_cur, SOURCE_PRIOR, alpha=alpha)
        prior_covered.append(np.all((priors.prior_lower <= TARGET_PRIOR)
                                    & (TARGET_PRIOR <= priors.prior_upper)))
        results.setdefault("em prior", []).append((priors.target_prior[0] - TARGET_PRIOR[0],
                                                   True))
        for name, kwargs in [("bbse", {"prior_method": "bbse"}),
                             ("em", {"prior_method": "em", "calibration": "none",
                                     "n_bootstrap": 100})]:
            est = estimate_performance(p_ref, y_ref, p_cur, "accuracy", "label_shift",
                                       alpha=alpha, seed=r, **kwargs)
            results.setdefault(name, []).append(
                (est.estimate - realised, est.lower <= realised <= est.upper))
        cbpe = estimate_performance(p_ref, y_ref, p_cur, "accuracy", calibration="none",
                                    n_bootstrap=50)
        cbpe_errors.append(cbpe.estimate - realised)
    for name in ("bbse", "em"):
        errors, covered = zip(*results[name], strict=True)
        _assert_unbiased_and_covering(errors, covered, alpha, name)
    errors = np.array([e for e, _ in results["em prior"]])
    assert abs(errors.mean()) <= 3 * errors.std(ddof=1) / np.sqrt(reps)
    # Bonferroni over classes: at least nominal simultaneous coverage
    assert np.mean(prior_covered) >= binomial_band(1 - alpha, reps)[0]
    # control: CBPE assumes calibration transfers, which label shift breaks
    cbpe_errors = np.array(cbpe_errors)
    assert cbpe_errors.mean() > 5 * cbpe_errors.std(ddof=1) / np.sqrt(reps)


def test_rlls_bounds_cover_the_true_weights():
    rng = np.random.default_rng(22)
    reps, alpha = 100, 0.1
    truth = TARGET_PRIOR / SOURCE_PRIOR
    covered, errors = [], []
    for r in range(reps):
        y_ref, p_ref = _label_sample(rng, 2000, SOURCE_PRIOR)
        _, p_cur = _label_sample(rng, 1000, TARGET_PRIOR)
        est = rlls_weights(y_ref, p_ref.argmax(1), p_cur.argmax(1), 3, alpha=alpha, seed=r,
                           n_bootstrap=100)
        covered.append(np.all((est.weights_lower <= truth) & (truth <= est.weights_upper)))
        errors.append(est.weights[0] - truth[0])
    errors = np.array(errors)
    assert abs(errors.mean()) <= 3 * errors.std(ddof=1) / np.sqrt(reps)
    assert np.mean(covered) >= binomial_band(1 - alpha, reps)[0]


@pytest.mark.parametrize(
    "make_ratio",
    [lambda seed: ClassifierDensityRatio(),
     lambda seed: KLIEPDensityRatio(n_centers=50, n_folds=3, seed=seed),
     lambda seed: ULSIFDensityRatio(n_centers=50, seed=seed)],
    ids=["classifier", "kliep", "ulsif"],
)
def test_estimated_density_ratios_give_unbiased_weighted_accuracy(make_ratio):
    """Weighted accuracy with estimated weights: no bias beyond Monte Carlo error (the
    delta-method interval, which ignores the weight estimation, is then conservative)."""
    rng = np.random.default_rng(23)
    _, _, p_big = _covariate_sample(rng, 1_000_000, COVARIATE_SHIFT)
    population_accuracy = np.mean(np.maximum(p_big, 1 - p_big))
    reps = 25
    errors, covered = [], []
    for r in range(reps):
        X_ref, y_ref, p_ref = _covariate_sample(rng, 800, 0.0)
        X_cur, _, _ = _covariate_sample(rng, 800, COVARIATE_SHIFT)
        w = make_ratio(r).fit(X_ref, X_cur).weights(X_ref)
        est = weighted_metric(w, y_true=y_ref, y_pred=(p_ref >= 0.5).astype(int),
                              metric="accuracy", alpha=0.1)
        errors.append(est.estimate - population_accuracy)
        covered.append(est.lower <= population_accuracy <= est.upper)
    errors = np.array(errors)
    assert abs(errors.mean()) <= 3 * errors.std(ddof=1) / np.sqrt(reps)
    assert np.mean(covered) >= binomial_band(0.9, reps)[0]


def test_retasa_weights_give_an_unbiased_target_label_mean():
    """Target shift y ~ N(0, 1) -> N(0.5, 1) with x | y fixed: the ReTaSA-weighted source
    mean of y estimates the target mean 0.5 without bias beyond Monte Carlo error, where the
    unweighted mean is off by 0.5."""
    rng = np.random.default_rng(25)
    reps = 30
    errors = []
    for r in range(reps):
        y_s, y_t = rng.normal(0.0, 1.0, 600), rng.normal(0.5, 1.0, 600)
        x_s = np.column_stack([y_s + rng.normal(0, 0.5, 600), rng.normal(size=600)])
        x_t = np.column_stack([y_t + rng.normal(0, 0.5, 600), rng.normal(size=600)])
        w = ReTaSAWeights(seed=r).fit(x_s, y_s, x_t).weights(y_s)
        errors.append(w @ y_s / w.sum() - 0.5)
    errors = np.array(errors)
    assert abs(errors.mean()) <= 3 * errors.std(ddof=1) / np.sqrt(reps)
    assert errors.std(ddof=1) < 0.2  # far from the unweighted error of 0.5


def test_direct_loss_estimation_is_unbiased_and_covers():
    """Regression under covariate shift (x_1 moves by 1, the noise grows with |x_1|), with
    a loss model that can represent E[|error| | x] and its variance (linear in |x_1| and
    x_1^2): DLE's MAE estimate is unbiased for the realised MAE and its interval covers."""
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(26)

    def sample(n, shift):
        X = rng.normal(size=(n, 2))
        X[:, 1] += shift
        y = X[:, 0] + (0.2 + 0.5 * np.abs(X[:, 1])) * rng.normal(size=n)
        return np.column_stack([X[:, 0], np.abs(X[:, 1]), X[:, 1] ** 2]), y, X[:, 0]

    reps, alpha = 300, 0.1
    errors, covered, naive = [], [], []
    for r in range(reps):
        F_ref, y_ref, pred_ref = sample(800, 0.0)
        F_cur, y_cur, pred_cur = sample(800, 1.0)
        realised = np.mean(np.abs(y_cur - pred_cur))
        est = estimate_performance(pred_ref, y_ref, pred_cur, "mae", "dle", X_ref=F_ref,
                                   X_cur=F_cur, loss_model=LinearRegression(), alpha=alpha,
                                   seed=r)
        errors.append(est.estimate - realised)
        covered.append(est.lower <= realised <= est.upper)
        naive.append(est.reference_value - realised)
    _assert_unbiased_and_covering(errors, covered, alpha, "dle")
    naive = np.array(naive)  # control: the reference MAE misses the shift
    assert abs(naive.mean()) > 5 * naive.std(ddof=1) / np.sqrt(reps)


def _breast_cancer_model(rng):
    """A deliberately weak model (two features) fitted on 150 rows; the other rows are the
    population the reference and current samples are drawn from."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    X, y = load_breast_cancer(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    features = [1, 4]
    order = rng.permutation(y.size)
    model = LogisticRegression().fit(X[order[:150]][:, features], y[order[:150]])
    return X[:, features], y, model.predict_proba(X[:, features]), order[150:]


def test_real_data_label_and_covariate_shift():
    """Breast cancer: current rows resampled to 80 % malignant (exact label shift), or with
    probability proportional to logistic(2 x_texture) (exact covariate shift, known
    weights)."""
    rng = np.random.default_rng(24)
    X, y, proba, pool = _breast_cancer_model(rng)
    malignant, benign = pool[y[pool] == 0], pool[y[pool] == 1]
    selection = _logistic(2.0 * X[pool, 0])
    correct = proba.argmax(1) == y
    population_accuracy = selection @ correct[pool] / selection.sum()
    reps, alpha = 150, 0.1
    label, cbpe_errors, weighted = [], [], []
    for r in range(reps):
        ref = rng.choice(pool, 800)
        n_malignant = rng.binomial(600, 0.8)
        cur = np.r_[rng.choice(malignant, n_malignant), rng.choice(benign, 600 - n_malignant)]
        realised = correct[cur].mean()
        est = estimate_performance(proba[ref], y[ref], proba[cur], "accuracy", "label_shift",
                                   alpha=alpha, seed=r)
        label.append((est.estimate - realised, est.lower <= realised <= est.upper))
        cbpe = estimate_performance(proba[ref], y[ref], proba[cur], "accuracy",
                                    calibration="sigmoid", n_bootstrap=50, seed=r)
        cbpe_errors.append(cbpe.estimate - realised)
        w = _logistic(2.0 * X[ref, 0])
        est = weighted_metric(w, y_true=y[ref], y_pred=proba[ref].argmax(1), metric="accuracy",
                              alpha=alpha)
        weighted.append((est.estimate - population_accuracy,
                         est.lower <= population_accuracy <= est.upper))
    for name, pairs in (("label shift", label), ("exact weights", weighted)):
        errors, covered = zip(*pairs, strict=True)
        _assert_unbiased_and_covering(errors, covered, alpha, name)
    cbpe_errors = np.array(cbpe_errors)
    assert abs(cbpe_errors.mean()) > 5 * cbpe_errors.std(ddof=1) / np.sqrt(reps)


def test_messy_design_rare_class_tied_scores_small_batch_against_large_reference():
    """CBPE under covariate shift and the label-shift estimate under label shift, on the
    data users have: a rare positive class (5-8 %), probabilities rounded to two decimals
    (heavy ties), and a 200-row batch against a 20,000-row reference."""
    rng = np.random.default_rng(5)
    reps, alpha = 200, 0.1
    results: dict[str, list] = {}
    for r in range(reps):
        x = rng.normal(size=20_000)
        y = (rng.random(x.size) < _logistic(-3 + 1.5 * x)).astype(int)
        xc = rng.normal(size=200) + 0.5
        yc = (rng.random(xc.size) < _logistic(-3 + 1.5 * xc)).astype(int)
        p, pc = np.round(_logistic(-3 + 1.5 * x), 2), np.round(_logistic(-3 + 1.5 * xc), 2)
        est = estimate_performance(np.column_stack([1 - p, p]), y,
                                   np.column_stack([1 - pc, pc]), "accuracy", alpha=alpha,
                                   seed=r, n_bootstrap=50)
        realised = np.mean((pc >= 0.5).astype(int) == yc)
        results.setdefault("cbpe", []).append(
            (est.estimate - realised, est.lower <= realised <= est.upper))

        ys = (rng.random(20_000) < 0.05).astype(int)
        yt = (rng.random(200) < 0.15).astype(int)
        xs, xt = rng.normal(2.0 * ys), rng.normal(2.0 * yt)
        post_s = _logistic(2.0 * xs - 2.0)  # P(y=1 | x) at prior 0.5
        post_t = _logistic(2.0 * xt - 2.0)
        est = estimate_performance(np.column_stack([1 - post_s, post_s]), ys,
                                   np.column_stack([1 - post_t, post_t]), "accuracy",
                                   method="label_shift", alpha=alpha, seed=r)
        realised = np.mean((post_t >= 0.5).astype(int) == yt)
        results.setdefault("label_shift", []).append(
            (est.estimate - realised, est.lower <= realised <= est.upper))
    for name, pairs in results.items():
        errors, covered = zip(*pairs, strict=True)
        _assert_unbiased_and_covering(errors, covered, alpha, name)
