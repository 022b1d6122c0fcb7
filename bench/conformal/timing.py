"""Timing and scoring shared by the peer scripts (plain NumPy: imported in every venv)."""

import pickle
import time
from pathlib import Path

import numpy as np


def load(out: Path):
    data = {p.stem: np.load(p) for p in out.glob("*.npy")}
    return data, pickle.loads((out / "models.pkl").read_bytes())


def best_of(fn, repeats=15, budget=20.0):
    """Best wall time of up to ``repeats`` calls (fewer when one call is slow)."""
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
        if sum(times) > budget:
            break
    return out, min(times)


def model_seconds(d, models):
    """Best time of the model predictions every library needs (same models, same rows)."""
    _, ridge = best_of(
        lambda: (models["ridge"].predict(d["Xr_cal"]), models["ridge"].predict(d["Xr_test"]))
    )
    _, quantile = best_of(
        lambda: [models[m].predict(d[x]) for m in ("q_lo", "q_hi") for x in ("Xr_cal", "Xr_test")]
    )
    _, proba = best_of(
        lambda: (
            models["logreg"].predict_proba(d["Xc_cal"]),
            models["logreg"].predict_proba(d["Xc_test"]),
        )
    )
    return {"regression": ridge, "quantile": quantile, "classification": proba, "none": 0.0}


def interval_row(method, result, seconds, y, model_time):
    lower, upper = result
    return {
        "method": method,
        "coverage": float(np.mean((lower <= y) & (y <= upper))),
        "size": float(np.mean(upper - lower)),
        "seconds": seconds,
        "overhead": max(seconds - model_time, 0.0),
    }


def set_row(method, sets, seconds, y, model_time):
    return {
        "method": method,
        "coverage": float(sets[np.arange(y.size), y].mean()),
        "size": float(sets.sum(axis=1).mean()),
        "seconds": seconds,
        "overhead": max(seconds - model_time, 0.0),
    }
