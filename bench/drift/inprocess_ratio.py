"""Defaults vs the per-feature path at 100,000 x 50, in one process, interleaved.

The harness (``run.py``) times every side in its own worker process; this takes the same
saved tables (``bench/out/drift/headline100000x50``, made by ``run.py --parts headline``)
and times shiftguard's two fitted detectors alternately in one process, which removes the
processes' turns on the cores and caches from the spread::

    flock /tmp/shiftguard-bench.lock .venv/bin/python bench/drift/inprocess_ratio.py
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

import shiftguard as sg

DATA = Path(__file__).resolve().parents[1] / "out" / "drift" / "headline100000x50"
PAIRS = 15


def main() -> None:
    ref, null, shifted = (np.load(DATA / f"{name}.npy") for name in
                          ("reference", "null", "shifted"))
    defaults = sg.DriftDetector().fit(ref)
    per_feature = sg.DriftDetector(multivariate="none", localize=False).fit(ref)
    for detector in (defaults, per_feature):  # compile and warm up
        detector.compare(shifted[:1000])
    print(f"load (1 min) at the start: {os.getloadavg()[0]:.2f}")
    for name, current in (("null", null), ("shifted", shifted)):
        times = []
        for _ in range(PAIRS):
            pair = []
            for detector in (defaults, per_feature):
                start = time.perf_counter()
                detector.compare(current)
                pair.append(time.perf_counter() - start)
            times.append(pair)
        t = np.array(times)
        ratio = t[:, 0] / t[:, 1]
        print(f"{name}: defaults {np.median(t[:, 0]):.4f} s, per-feature "
              f"{np.median(t[:, 1]):.4f} s, ratio {np.median(ratio):.2f}x "
              f"({ratio.min():.2f}-{ratio.max():.2f}), {PAIRS} pairs")
    print(f"load (1 min) at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
