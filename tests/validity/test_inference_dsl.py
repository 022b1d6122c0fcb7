"""DSL coverage over seeded repetitions, and the paper's claim that naive regression on
80-90%-accurate surrogate labels gives invalid intervals while DSL's cover."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import binomial_band
from shiftguard.inference import dsl
from shiftguard.inference._sandwich import design_products, expit, logistic_solve, wald_interval

REPS = 500
LOGIT_COEF = np.array([-0.5, 1.0, 0.5])


def _surrogate_documents(rng: np.random.Generator, n: int = 2000, pi: float = 0.2):
    """Binary outcome from a logistic model; the surrogate flips it more often for large x0
    (errors depend on the covariates, as LLM errors do), about 87% accurate overall."""
    X = rng.normal(size=(n, 2))
    y = (rng.random(n) < expit(LOGIT_COEF[0] + X @ LOGIT_COEF[1:])).astype(float)
    flip = rng.random(n) < 0.03 + 0.25 * expit(3.0 * X[:, 0] - 1.0)
    surrogate = np.where(flip, 1.0 - y, y)
    sample_prob = np.full(n, pi)
    labeled = rng.random(n) < sample_prob
    return X, y, surrogate, sample_prob, labeled


def _naive_logistic_interval(X: np.ndarray, labels: np.ndarray):
    """Logistic regression on the surrogate labels with HC0 sandwich errors."""
    design = np.column_stack([np.ones(len(X)), X])
    coef = logistic_solve(design_products(design), 1.0, design.T @ labels)
    p = expit(design @ coef)
    bread = np.linalg.inv((design * (p * (1 - p))[:, None]).T @ design)
    scores = design * (labels - p)[:, None]
    cov = bread @ scores.T @ scores @ bread
    return wald_interval(coef, np.sqrt(np.diag(cov)), 0.05)


@pytest.mark.validity
def test_paper_claim_naive_surrogate_regression_undercovers_dsl_covers():
    rng = np.random.default_rng(20230501)
    dsl_cover = np.zeros((REPS, 3), bool)
    naive_cover = np.zeros((REPS, 3), bool)
    accuracy = np.zeros(REPS)
    for r in range(REPS):
        X, y, surrogate, pi, labeled = _surrogate_documents(rng)
        accuracy[r] = np.mean(surrogate == y)
        res = dsl(np.where(labeled, y, np.nan), X, surrogate, pi, labeled, model="logistic",
                  seed=r)
        dsl_cover[r] = (res.ci_low <= LOGIT_COEF) & (LOGIT_COEF <= res.ci_high)
        lo, hi = _naive_logistic_interval(X, surrogate)
        naive_cover[r] = (lo <= LOGIT_COEF) & (LOGIT_COEF <= hi)
    assert 0.80 <= accuracy.mean() <= 0.90
    low, high = binomial_band(0.95, REPS)
    for j, rate in enumerate(dsl_cover.mean(axis=0)):
        assert low <= rate <= high, f"DSL coverage of coefficient {j}: {rate}"
    # Naive coverage of the slope on x0 (whose errors drive the bias) is far below 95%:
    # below 50%, many binomial standard errors away.
    assert naive_cover[:, 1].mean() < 0.5
    assert naive_cover.mean(axis=0).min() < binomial_band(0.95, REPS, k=10)[0]


@pytest.mark.validity
def test_dsl_logistic_coverage_with_about_110_gold_labels():
    """Gold labels drawn with probability 0.10 where the surrogate says 1 and 0.03 where it
    says 0: about 115 among 2,000 documents, most of the variance carried by the few with
    weight 1 / 0.03. Default intervals (learner-aware variance, t with effective degrees
    of freedom) cover at least 0.95 up to sampling error; over 4,000 repetitions the
    asymptotic ones (``small_sample=False``) covered 0.911 for the slope on x0."""
    rng = np.random.default_rng(20230502)
    cover = np.zeros((REPS, 3), bool)
    n_gold = np.zeros(REPS)
    for r in range(REPS):
        X, y, surrogate, _, _ = _surrogate_documents(rng)
        pi = np.where(surrogate == 1.0, 0.10, 0.03)
        labeled = rng.random(len(y)) < pi
        n_gold[r] = labeled.sum()
        res = dsl(np.where(labeled, y, np.nan), X, surrogate, pi, labeled, model="logistic",
                  seed=r)
        cover[r] = (res.ci_low <= LOGIT_COEF) & (LOGIT_COEF <= res.ci_high)
    assert 100 <= n_gold.mean() <= 130
    low = binomial_band(0.95, REPS)[0]
    for j, rate in enumerate(cover.mean(axis=0)):
        assert rate >= low, f"DSL coverage of coefficient {j}: {rate}"


def _continuous_documents(rng: np.random.Generator, n: int = 3000, n_groups: int = 0):
    """Linear outcome with heteroscedastic noise (and group effects); a biased surrogate;
    gold-labelling probabilities that depend on the surrogate (a stratified design)."""
    X = rng.normal(size=(n, 2))
    groups = rng.integers(0, max(n_groups, 1), size=n)
    effects = rng.normal(scale=2.0, size=max(n_groups, 1)) if n_groups else np.zeros(1)
    noise_scale = 1.0 + 0.5 * np.abs(X[:, 0])
    y = 1.0 + X @ np.array([2.0, -1.0]) + effects[groups] + rng.normal(size=n) * noise_scale
    surrogate = 0.7 * y + 0.8 * X[:, 1] + rng.normal(scale=1.5, size=n)
    sample_prob = np.where(surrogate > np.median(surrogate), 0.4, 0.15)
    labeled = rng.random(n) < sample_prob
    return X, np.where(labeled, y, np.nan), surrogate, sample_prob, labeled, groups


@pytest.mark.validity
@pytest.mark.parametrize("model", ["mean", "ols", "ols_fixed_effects"])
def test_dsl_coverage_with_unequal_sampling_probabilities(model):
    rng = np.random.default_rng({"mean": 1, "ols": 2, "ols_fixed_effects": 3}[model])
    cover = []
    for r in range(REPS):
        if model == "ols_fixed_effects":
            X, y, s, pi, lab, groups = _continuous_documents(rng, n_groups=10)
            res = dsl(y, X, s, pi, lab, fixed_effects=groups, seed=r)
            truth = np.array([2.0, -1.0])
        elif model == "ols":
            X, y, s, pi, lab, _ = _continuous_documents(rng)
            res = dsl(y, X, s, pi, lab, seed=r)
            truth = np.array([1.0, 2.0, -1.0])
        else:
            X, y, s, pi, lab, _ = _continuous_documents(rng)
            res = dsl(y, None, s, pi, lab, model="mean", seed=r)
            truth = np.array([1.0])
        cover.append((res.ci_low <= truth) & (truth <= res.ci_high))
    low, high = binomial_band(0.95, REPS)
    for j, rate in enumerate(np.mean(cover, axis=0)):
        assert low <= rate <= high, f"{model} coverage of coefficient {j}: {rate}"
