"""What the conformal workers share: NumPy and the standard library only (every venv has them).

A peer module (``peer_<library>.py``) defines ``methods(d, models) -> {name: Method}`` and
``versions()``. ``worker.py`` times each method's ``call`` in turns with the model
predictions of its ``kind`` (``MODEL_WORK``), in the same process: the predictions any
library has to make for that method, which bound how much faster a library can be.
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

# kind -> (model, method, rows) of every prediction that kind of conformal method makes
MODEL_WORK: dict[str, tuple[tuple[str, str, str], ...]] = {
    "regression": (("ridge", "predict", "Xr_cal"), ("ridge", "predict", "Xr_test")),
    "quantile": tuple((m, "predict", x) for m in ("q_lo", "q_hi") for x in ("Xr_cal", "Xr_test")),
    "quantile3": tuple(
        (m, "predict", x) for m in ("q_lo", "q_hi", "q_med") for x in ("Xr_cal", "Xr_test")
    ),
    "classification": (
        ("logreg", "predict_proba", "Xc_cal"),
        ("logreg", "predict_proba", "Xc_test"),
    ),
    "none": (),
}
COUNTED = ("fit", "predict", "predict_proba")


class Method(NamedTuple):
    """One conformal method of one library.

    ``kind`` names the model predictions it makes (a key of ``MODEL_WORK``; ``"none"`` when
    it fits its own models). ``call(d)`` is what is timed: calibrate + predict on the data
    dict ``d``. ``score(output, d)`` gives ``coverage`` and ``size`` (mean width or mean set
    size) outside the clock.
    """

    kind: str
    call: Callable[[dict[str, np.ndarray]], Any]
    score: Callable[[Any, dict[str, np.ndarray]], dict[str, float]]


def load(out: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    data = {p.stem: np.load(p) for p in sorted(out.glob("*.npy"))}
    return data, pickle.loads((out / "models.pkl").read_bytes())


def first_test_rows(d: dict[str, np.ndarray], rows: int) -> dict[str, np.ndarray]:
    """The data with only the first ``rows`` test points (for a quick warm-up call)."""
    return {k: v[:rows] if "_test" in k else v for k, v in d.items()}


def model_work(d: dict[str, np.ndarray], models: dict[str, Any], kind: str) -> Callable[[], Any]:
    steps = [(getattr(models[m], method), d[rows]) for m, method, rows in MODEL_WORK[kind]]
    return lambda: [predict(X) for predict, X in steps]


def time_turns(fns: list[Callable[[], Any]], seconds: float, min_turns: int = 3,
               cap_seconds: float = 8.0) -> tuple[Any, list[list[float]]]:
    """Call the functions in turns (order reversed every other turn) and time each call.

    Stops once ``seconds`` have passed and ``min_turns`` turns were made, or once
    ``cap_seconds`` have passed (one turn at least). Pairing a method with its model
    predictions this way lets both see the same load. Returns the first function's last
    output and the wall times of every function.
    """
    times: list[list[float]] = [[] for _ in fns]
    out = None
    start = time.perf_counter()
    turn = 0
    while True:
        order = range(len(fns)) if turn % 2 == 0 else reversed(range(len(fns)))
        for i in order:
            t0 = time.perf_counter()
            result = fns[i]()
            times[i].append(time.perf_counter() - t0)
            if i == 0:
                out = result
        turn += 1
        elapsed = time.perf_counter() - start
        if elapsed >= cap_seconds or (elapsed >= seconds and turn >= min_turns):
            return out, times


def interval_score(lower: np.ndarray, upper: np.ndarray, y: np.ndarray) -> dict[str, float]:
    y = y[: len(lower)]
    return {"coverage": float(np.mean((lower <= y) & (y <= upper))),
            "size": float(np.mean(upper - lower))}


def set_score(sets: np.ndarray, y: np.ndarray) -> dict[str, float]:
    return {"coverage": float(sets[np.arange(y.size), y].mean()),
            "size": float(sets.sum(axis=1).mean())}


@contextmanager
def counted_model_calls(models: dict[str, Any]) -> Iterator[dict[str, list[int]]]:
    """Count ``fit``/``predict``/``predict_proba`` calls on the models' classes, and rows.

    Keyed per model name (``"ridge.predict"``), or per class for copies a library makes
    (``"Ridge copy.fit"``, e.g. the fold models of CV+); each value is ``[calls, rows]``.
    Patches the classes while the block runs, so copies made by ``clone`` are counted too.
    """
    counts: dict[str, list[int]] = {}
    names = {id(model): name for name, model in models.items()}
    saved = []
    for cls in {type(model) for model in models.values()}:
        for attr in COUNTED:
            if not hasattr(cls, attr):
                continue
            saved.append((cls, attr, cls.__dict__.get(attr)))
            setattr(cls, attr, _counting(getattr(cls, attr), attr, names, counts))
    try:
        yield counts
    finally:
        for cls, attr, original in saved:
            if original is None:
                delattr(cls, attr)
            else:
                setattr(cls, attr, original)


def _counting(function: Callable, attr: str, names: dict[int, str],
              counts: dict[str, list[int]]) -> Callable:
    def wrapper(self, X, *args, **kwargs):
        owner = names.get(id(self), f"{type(self).__name__} copy")
        cell = counts.setdefault(f"{owner}.{attr}", [0, 0])
        cell[0] += 1
        cell[1] += len(X)
        return function(self, X, *args, **kwargs)

    return wrapper
