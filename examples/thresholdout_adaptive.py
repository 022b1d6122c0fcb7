"""Reusing a holdout adaptively: the experiment of Dwork et al. (2015, Science).

Labels are coin flips, independent of 4,000 Gaussian features, so every classifier has
true accuracy 50%. The analyst picks features whose correlation with the label has the
same sign on the training set and on the holdout, builds a voting classifier from the
top k, and reports its holdout accuracy. Looking at the holdout to choose features makes
that accuracy climb far above 50%; asking the same questions through Thresholdout does
not. A fresh sample shows the truth.

Run:  python examples/thresholdout_adaptive.py
"""

from __future__ import annotations

import numpy as np

from shiftguard.inference import Thresholdout

N_ROWS, N_FEATURES = 4000, 4000
N_SELECTED = (10, 25, 50, 100, 200, 300, 400, 500)


def sample(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    X = rng.standard_normal((N_ROWS, N_FEATURES), dtype=np.float32)
    y = rng.choice(np.array([-1.0, 1.0], dtype=np.float32), N_ROWS)
    return X, y


def select(train_corr: np.ndarray, holdout_corr: np.ndarray, k: int) -> np.ndarray:
    cut = 1.0 / np.sqrt(N_ROWS)
    keep = np.flatnonzero(
        (np.abs(train_corr) >= cut)
        & (np.abs(holdout_corr) >= cut)
        & (np.sign(train_corr) == np.sign(holdout_corr))
    )
    top = keep[np.argsort(-np.abs(train_corr[keep]))][:k]
    weights = np.zeros(N_FEATURES, dtype=np.float32)
    weights[top] = np.sign(train_corr[top])
    return weights


def accuracy(data: tuple[np.ndarray, np.ndarray], weights: np.ndarray) -> float:
    X, y = data
    return float(np.mean(np.sign(X @ weights) == y))


def main() -> None:
    rng = np.random.default_rng(2015)
    train, holdout, fresh = sample(rng), sample(rng), sample(rng)
    mechanism = Thresholdout(
        train, holdout, threshold=0.04, noise_scale=0.01, budget=N_FEATURES, seed=1
    )
    train_corr = train[0].T @ train[1] / N_ROWS
    holdout_corr = holdout[0].T @ holdout[1] / N_ROWS
    # One query per feature: the mean over rows of x_j * y, answered through Thresholdout.
    guarded_corr = mechanism.query(lambda data: data[0] * data[1][:, None])

    header = f"{'standard holdout':>17s} {'fresh':>6s} | {'Thresholdout':>13s} {'fresh':>6s}"
    print(f"{'k':>4s} | {header}")
    for k in N_SELECTED:
        w_std = select(train_corr, holdout_corr, k)
        w_thr = select(train_corr, guarded_corr, k)
        reported = mechanism.query(lambda data, w=w_thr: np.sign(data[0] @ w) == data[1])
        print(
            f"{k:4d} | {accuracy(holdout, w_std):17.3f} {accuracy(fresh, w_std):6.3f} | "
            f"{reported:13.3f} {accuracy(fresh, w_thr):6.3f}"
        )
    print(f"\nThresholdout budget left: {mechanism.budget_remaining_} of {N_FEATURES}")


if __name__ == "__main__":
    main()
