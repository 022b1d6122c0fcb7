"""Power of the random-Fourier-feature MMD against the exact-kernel MMD (our side only).

At the detector's sample size (2,000 + 2,000 rows, 50 standard normal columns, B = 1,000,
alpha = 0.05) each seeded data set is tested by ``mmd_test`` with the exact kernel and with
``n_features`` = 128 and 256 (same data for all three, so the rates are paired). Designs:

- ``null``: both samples N(0, I);
- ``mean``: column 0 of the current sample moved by 0.15 sd;
- ``correlation``: columns 0-9 of the current sample equicorrelated (rho = 0.15), every
  marginal still N(0, 1);
- ``variance``: column 0 of the current sample scaled by 1.5.

Prints one JSON object: per design and test, the rejection rate, its binomial standard
error, and the number of data sets on which the test and the exact one disagree.

Run (one benchmark at a time on the shared machine)::

    flock /tmp/shiftguard-bench.lock .venv/bin/python bench/drift/bench_mmd_power.py [REPS]
"""

from __future__ import annotations

import json
import math
import sys

import numpy as np

from shiftguard.stats.multivariate import mmd_test

N, D, PERMUTATIONS, ALPHA = 2_000, 50, 1_000, 0.05
TESTS = {"exact": None, "rff128": 128, "rff256": 256}


def _sample(design: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    x = rng.normal(size=(N, D))
    y = rng.normal(size=(N, D))
    if design == "mean":
        y[:, 0] += 0.15
    elif design == "correlation":
        rho = 0.15
        y[:, :10] = math.sqrt(rho) * rng.normal(size=(N, 1)) + math.sqrt(1 - rho) * y[:, :10]
    elif design == "variance":
        y[:, 0] *= 1.5
    return x, y


def main(reps: int) -> dict[str, dict[str, dict[str, float]]]:
    out: dict[str, dict[str, dict[str, float]]] = {}
    for k, design in enumerate(("null", "mean", "correlation", "variance")):
        rng = np.random.default_rng([20261207, k])
        rejected = np.zeros((reps, len(TESTS)), dtype=bool)
        for r in range(reps):
            x, y = _sample(design, rng)
            for t, features in enumerate(TESTS.values()):
                res = mmd_test(x, y, n_permutations=PERMUTATIONS, n_features=features,
                               seed=np.random.default_rng([r, t]))
                rejected[r, t] = res.pvalue <= ALPHA
        rates = rejected.mean(axis=0)
        out[design] = {
            name: {"rate": float(rates[t]),
                   "se": math.sqrt(rates[t] * (1 - rates[t]) / reps),
                   "disagree_with_exact": int(np.sum(rejected[:, t] != rejected[:, 0]))}
            for t, name in enumerate(TESTS)
        }
        print(design, json.dumps(out[design]), file=sys.stderr, flush=True)
    return out


if __name__ == "__main__":
    print(json.dumps({"reps": int(sys.argv[1]) if len(sys.argv) > 1 else 100,
                      "results": main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)}))
