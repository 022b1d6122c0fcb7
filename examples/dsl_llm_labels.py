"""Regression on LLM labels: naive use is biased, DSL is valid.

Setting (as in Egami et al. 2023): 2,000 documents, each labelled by an LLM that is right
about 87% of the time -- but its mistakes are more frequent for some documents (here,
those with a large covariate x0). A random 20% of documents get an expert (gold) label.
The question: how does the outcome depend on x0 and x1 (logistic regression)?

Run:  python examples/dsl_llm_labels.py
"""

from __future__ import annotations

import numpy as np

from shiftguard.inference import dsl

TRUE_COEF = np.array([-0.5, 1.0, 0.5])  # intercept, x0, x1
N_DOCS, GOLD_SHARE, REPS = 2000, 0.2, 500


def expit(t: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-t))


def simulate(rng: np.random.Generator):
    X = rng.normal(size=(N_DOCS, 2))
    gold = (rng.random(N_DOCS) < expit(TRUE_COEF[0] + X @ TRUE_COEF[1:])).astype(float)
    llm_wrong = rng.random(N_DOCS) < 0.03 + 0.25 * expit(3.0 * X[:, 0] - 1.0)
    llm_label = np.where(llm_wrong, 1.0 - gold, gold)
    sample_prob = np.full(N_DOCS, GOLD_SHARE)
    labeled = rng.random(N_DOCS) < sample_prob
    return X, gold, llm_label, sample_prob, labeled


def naive_interval(X: np.ndarray, labels: np.ndarray):
    """Logistic regression on the LLM labels as if they were gold, robust (HC0) errors.

    DSL with every document "gold-labelled" with probability 1 is exactly that regression.
    """
    everything = np.ones(len(labels))
    fit = dsl(labels, X, labels, everything, everything, model="logistic", seed=0)
    return fit.estimate, fit.ci_low, fit.ci_high


def main() -> None:
    rng = np.random.default_rng(2023)
    X, gold, llm, pi, labeled = simulate(rng)
    print(f"LLM accuracy on this corpus: {np.mean(llm == gold):.1%}")
    res = dsl(np.where(labeled, gold, np.nan), X, llm, pi, labeled, model="logistic", seed=0)
    naive, naive_lo, naive_hi = naive_interval(X, llm)
    print(f"\n{'':10s} {'truth':>7s} {'naive (LLM labels)':>24s} {'DSL':>24s}")
    for j, name in enumerate(res.names):
        print(
            f"{name:10s} {TRUE_COEF[j]:7.2f} {naive[j]:7.2f} "
            f"[{naive_lo[j]:6.2f},{naive_hi[j]:6.2f}]   {res.estimate[j]:7.2f} "
            f"[{res.ci_low[j]:6.2f},{res.ci_high[j]:6.2f}]"
        )

    naive_cover = np.zeros((REPS, 3), bool)
    dsl_cover = np.zeros((REPS, 3), bool)
    for r in range(REPS):
        X, gold, llm, pi, labeled = simulate(rng)
        fit = dsl(np.where(labeled, gold, np.nan), X, llm, pi, labeled, model="logistic", seed=r)
        dsl_cover[r] = (fit.ci_low <= TRUE_COEF) & (TRUE_COEF <= fit.ci_high)
        _, lo, hi = naive_interval(X, llm)
        naive_cover[r] = (lo <= TRUE_COEF) & (TRUE_COEF <= hi)
    print(f"\nCoverage of the 95% intervals over {REPS} simulated corpora:")
    for j, name in enumerate(res.names):
        naive_rate, dsl_rate = naive_cover[:, j].mean(), dsl_cover[:, j].mean()
        print(f"  {name:10s} naive {naive_rate:6.1%}   DSL {dsl_rate:6.1%}")


if __name__ == "__main__":
    main()
