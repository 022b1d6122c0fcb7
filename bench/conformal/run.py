"""Conformal prediction: shiftguard vs MAPIE vs crepes on the same seeded data and models.

Run from the repository root (about two minutes on 2 cores, first run longer: it builds
the peers' virtualenvs):

    flock /tmp/shiftguard-bench.lock .venv/bin/python bench/conformal/run.py

Data and fitted models are written once to ``bench/out/conformal/`` (models pickled: all
venvs pin scikit-learn 1.9.1 so the pickles load everywhere); each library then runs in its
own process and venv and reports coverage, mean width / set size, the best-of-15 wall time
of calibrate + predict (model predictions included), and the overhead: that time minus the
best time of the model predictions every library must make (timed in the same process).
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "bench" / "out" / "conformal"
VENVS = ROOT / "bench" / ".venvs"
HERE = Path(__file__).resolve().parent
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
PEERS = {
    "mapie": ["mapie==1.6.0", "numpy==2.4.6", "scikit-learn==1.9.1"],
    "crepes": ["crepes==0.9.1", "numpy==2.4.6", "scikit-learn==1.9.1"],
}


def ensure_venv(name: str) -> Path:
    python = VENVS / name / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENVS / name)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PEERS[name]], check=True)
    return python


def make_data() -> None:
    from sklearn.datasets import make_classification
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.linear_model import LogisticRegression, Ridge

    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2026)
    n_fit, n_cal, n_test, d = 5_000, 20_000, 100_000, 10
    n = n_fit + n_cal + n_test
    X = rng.normal(size=(n, d))
    y = X @ rng.normal(size=d) + (0.5 + np.abs(X[:, 0])) * rng.normal(size=n)
    fit, cal, test = np.split(np.arange(n), [n_fit, n_fit + n_cal])
    models = {"ridge": Ridge().fit(X[fit], y[fit])}
    for name, level in (("q_lo", 0.05), ("q_hi", 0.95), ("q_med", 0.5)):
        models[name] = HistGradientBoostingRegressor(
            loss="quantile", quantile=level, max_iter=100, random_state=0
        ).fit(X[fit], y[fit])
    Xc, yc = make_classification(
        n_samples=n,
        n_features=20,
        n_informative=10,
        n_classes=10,
        n_clusters_per_class=1,
        class_sep=0.8,
        random_state=2026,
    )
    models["logreg"] = LogisticRegression(max_iter=2000).fit(Xc[fit], yc[fit])
    arrays = {
        "Xr_cal": X[cal],
        "yr_cal": y[cal],
        "Xr_test": X[test],
        "yr_test": y[test],
        "Xr_cv": X[:2_000],
        "yr_cv": y[:2_000],
        "Xc_cal": Xc[cal],
        "yc_cal": yc[cal],
        "Xc_test": Xc[test],
        "yc_test": yc[test],
    }
    for key, value in arrays.items():
        np.save(OUT / f"{key}.npy", value)
    with open(OUT / "models.pkl", "wb") as fh:
        pickle.dump(models, fh)


def run(python: Path, script: str) -> dict:
    # one thread everywhere: the machine has 2 shared cores, and OpenMP/BLAS thread pools
    # would otherwise make timings depend on what else is running
    env = {**os.environ, **{v: "1" for v in THREAD_VARS}}
    done = subprocess.run(
        [str(python), str(HERE / script), str(OUT)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    return {row["method"]: row for row in json.loads(done.stdout.strip().splitlines()[-1])}


def main() -> None:
    make_data()
    results = {"shiftguard": run(Path(sys.executable), "peer_shiftguard.py")}
    for peer in PEERS:
        results[peer] = run(ensure_venv(peer), f"peer_{peer}.py")
    (OUT / "results.json").write_text(json.dumps(results, indent=1))
    # "ceiling": the peer's total over the time of the model predictions that any library
    # must make. No implementation can be faster in total than this ratio.
    print(
        "| method | library | coverage | mean width / set size | total ms | overhead ms "
        "| peer / shiftguard (total) | ceiling |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for method, ours in results["shiftguard"].items():
        rows = [("shiftguard", ours)] + [
            (peer, results[peer][method]) for peer in PEERS if method in results[peer]
        ]
        for lib, row in rows:
            ratio = ceiling = ""
            if lib != "shiftguard":
                ratio = f"{row['seconds'] / ours['seconds']:.1f}x"
                model = row["seconds"] - row["overhead"]
                ceiling = f"{row['seconds'] / model:.1f}x" if model > 0 else "none"
            # an overhead under 0.1 ms is below the noise of timing the model alone
            overhead = f"{1e3 * row['overhead']:.1f}" if row["overhead"] >= 1e-4 else "< 0.1"
            print(
                f"| {method} | {lib} | {row['coverage']:.4f} | {row['size']:.4f} | "
                f"{1e3 * row['seconds']:.2f} | {overhead} | {ratio} | {ceiling} |"
            )


if __name__ == "__main__":
    main()
