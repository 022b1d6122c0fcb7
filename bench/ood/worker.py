"""One long-lived side of the outlier-detection bench: ``ours`` (shiftguard, project venv),
``pyod`` or ``nonconform`` (their own venvs; this file imports nothing from shiftguard on
those sides).

``nonconform`` wraps PyOD's ECOD, IForest and KNN in its ``ConformalDetector`` with the
detached split workflow: the PyOD model is fitted on the training rows, ``calibrate`` scores
the split's calibration rows (the same rows our side calibrates on), and ``select(alpha=q)``
scores the test rows, computes its empirical p-values and applies its BH.

Started by ``run.py``; reads one JSON request per line on stdin, answers one JSON line on
stdout. Requests: ``{"op": "versions"}``, ``{"op": "table", "split": path, "out": path}``
(fit every detector on the split's training rows, time fit and score, save test scores and
decisions to ``out``), ``{"op": "single", "split": path, "out": path, "rows": n}`` (PyOD's
ECOD/COPOD scoring the first ``n`` test rows one call per row), ``{"op": "speed", "data":
path, "detector": name, "n_query": m}`` (time fit on all rows of ``data`` and scoring its
``m`` query rows).
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

SIDE = sys.argv[1]
DETECTORS = ("knn", "ecod", "copod", "iforest", "lof", "mahalanobis", "eif")
# nonconform refuses PyOD's ECOD (its batch scores depend on the query rows); the request is
# still made so that the refusal is recorded
NONCONFORM_DETECTORS = ("ecod", "iforest", "knn")
FDR_Q = 0.1
CONTAMINATION = 0.1


def ours_detector(name: str, seed: int):
    from shiftguard.ood.ecod import COPOD, ECOD
    from shiftguard.ood.forest import (
        ExtendedIsolationForest,
        isolation_forest,
        local_outlier_factor,
    )
    from shiftguard.ood.knn import KNNDistance
    from shiftguard.ood.mahalanobis import Mahalanobis

    return {
        # PyOD's KNN defaults: n_neighbors=5, method="largest", raw features
        "knn": lambda: KNNDistance(k=5, aggregate="kth", normalize=False),
        "ecod": ECOD,
        "copod": COPOD,
        "iforest": lambda: isolation_forest(seed=seed),
        "lof": lambda: local_outlier_factor(n_neighbors=20),
        "mahalanobis": Mahalanobis,
        "eif": lambda: ExtendedIsolationForest(seed=seed),
    }[name]()


def pyod_detector(name: str, seed: int):
    from pyod.models.copod import COPOD
    from pyod.models.ecod import ECOD
    from pyod.models.iforest import IForest
    from pyod.models.knn import KNN
    from pyod.models.lof import LOF
    from pyod.models.mcd import MCD

    c = CONTAMINATION
    return {
        "knn": lambda: KNN(contamination=c, n_neighbors=5, method="largest"),
        "ecod": lambda: ECOD(contamination=c),
        "copod": lambda: COPOD(contamination=c),
        "iforest": lambda: IForest(contamination=c, random_state=seed),
        "lof": lambda: LOF(contamination=c, n_neighbors=20),
        "mahalanobis": lambda: MCD(contamination=c, random_state=seed),
    }[name]()


def nonconform_detector(name: str, seed: int):
    from nonconform import ConformalDetector, Split

    return ConformalDetector(detector=pyod_detector(name, seed), strategy=Split(n_calib=0.2),
                             score_polarity="higher_is_anomalous", seed=seed)


def detectors_for_side() -> tuple[str, ...]:
    if SIDE == "nonconform":
        return NONCONFORM_DETECTORS
    return DETECTORS if SIDE == "ours" else DETECTORS[:-1]


def run_table_nonconform(X_train, X_cal, X_test, seed: int) -> tuple[dict, dict, dict]:
    saved, times, errors = {}, {}, {}
    for name in NONCONFORM_DETECTORS:
        try:
            cd = nonconform_detector(name, seed)
            t0 = time.perf_counter()
            cd.detector.fit(X_train)
            cd.calibrate(X_cal)
            t1 = time.perf_counter()
            flag = np.asarray(cd.select(X_test, alpha=FDR_Q), dtype=bool)
            t2 = time.perf_counter()
        except Exception as exc:
            errors[name] = f"{type(exc).__name__}: {exc}"[:200]
            continue
        res = cd.last_result
        times[name] = [t1 - t0, t2 - t1]
        saved[f"{name}_test"] = np.asarray(res.test_scores, dtype=np.float64)
        saved[f"{name}_cal"] = np.asarray(res.calib_scores, dtype=np.float64)
        saved[f"{name}_p"] = np.asarray(res.p_values, dtype=np.float64)
        saved[f"{name}_flag"] = flag
    return saved, times, errors


def scorer(det):
    return det.score if SIDE == "ours" else det.decision_function


def run_table(split: str, out: str) -> dict:
    d = np.load(split)
    seed = int(d["seed"])
    X_train, X_cal, X_test = d["X_train"], d["X_cal"], d["X_test"]
    if SIDE == "nonconform":
        saved, times, errors = run_table_nonconform(X_train, X_cal, X_test, seed)
        np.savez(out, **saved)
        return {"times": times, "errors": errors}
    saved, times, errors = {}, {}, {}
    for name in detectors_for_side():
        try:
            det = (ours_detector if SIDE == "ours" else pyod_detector)(name, seed)
            t0 = time.perf_counter()
            det.fit(X_train)
            t1 = time.perf_counter()
            s = np.asarray(scorer(det)(X_test), dtype=np.float64)
            t2 = time.perf_counter()
        except Exception as exc:  # a peer detector failing on a table is a result
            errors[name] = f"{type(exc).__name__}: {exc}"[:200]
            continue
        times[name] = [t1 - t0, t2 - t1]
        saved[f"{name}_test"] = s
        if SIDE == "ours":
            from shiftguard.ood.calibrate import benjamini_hochberg, conformal_pvalues

            p = conformal_pvalues(det.score(X_cal), s)
            saved[f"{name}_flag"] = benjamini_hochberg(p, FDR_Q)
        else:
            # PyOD's predict: score > threshold_, the 90% quantile of the training scores
            saved[f"{name}_flag"] = s > det.threshold_
    np.savez(out, **saved)
    return {"times": times, "errors": errors}


def run_single(split: str, out: str, rows: int) -> dict:
    from pyod.models.copod import COPOD
    from pyod.models.ecod import ECOD

    d = np.load(split)
    X_train, X_test = d["X_train"], d["X_test"][:rows]
    saved = {}
    for name, cls in (("ecod", ECOD), ("copod", COPOD)):
        det = cls(contamination=CONTAMINATION).fit(X_train)
        saved[name] = np.array([det.decision_function(X_test[i:i + 1])[0]
                                for i in range(len(X_test))])
    np.savez(out, **saved)
    return {}


_SPEED_CACHE: dict[str, tuple[np.ndarray, np.ndarray]] = {}


def run_speed(data: str, name: str, n_query: int) -> dict:
    if data not in _SPEED_CACHE:
        _SPEED_CACHE.clear()
        d = np.load(data)
        _SPEED_CACHE[data] = (d["X"], d["Q"][:n_query])
    X, Q = _SPEED_CACHE[data]
    if SIDE == "nonconform":
        # its integrated split workflow: fit on 80% of the rows, score the other 20% to
        # calibrate, then p-values and BH for the query rows
        cd = nonconform_detector(name, 0)
        t0 = time.perf_counter()
        cd.fit(X)
        t1 = time.perf_counter()
        cd.select(Q, alpha=FDR_Q)
        t2 = time.perf_counter()
        return {"fit": t1 - t0, "score": t2 - t1}
    det = (ours_detector if SIDE == "ours" else pyod_detector)(name, 0)
    t0 = time.perf_counter()
    det.fit(X)
    t1 = time.perf_counter()
    scorer(det)(Q)
    t2 = time.perf_counter()
    return {"fit": t1 - t0, "score": t2 - t1}


def versions() -> dict:
    import numba
    import scipy
    import sklearn

    v = {"numpy": np.__version__, "scipy": scipy.__version__,
         "scikit-learn": sklearn.__version__, "numba": numba.__version__,
         "python": sys.version.split()[0]}
    if SIDE in ("pyod", "nonconform"):
        import pyod

        v["pyod"] = pyod.__version__
    if SIDE == "nonconform":
        import nonconform

        v["nonconform"] = nonconform.__version__
    if SIDE == "ours":
        import shiftguard

        v["shiftguard"] = getattr(shiftguard, "__version__", "dev")
    return v


def main() -> None:
    for line in sys.stdin:
        req = json.loads(line)
        op = req["op"]
        try:
            if op == "versions":
                ans = versions()
            elif op == "table":
                ans = run_table(req["split"], req["out"])
            elif op == "single":
                ans = run_single(req["split"], req["out"], req["rows"])
            elif op == "speed":
                ans = run_speed(req["data"], req["detector"], req["n_query"])
            else:
                ans = {"error": f"unknown op {op}"}
        except Exception as exc:
            ans = {"error": f"{type(exc).__name__}: {exc}"[:300]}
        sys.stdout.write(json.dumps(ans) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
