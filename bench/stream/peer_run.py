"""Run one peer library's detectors value by value on the saved streams (peer venv only).

    <peer venv>/bin/python bench/stream/peer_run.py river|frouros OUT_JSON
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

OUT = "bench/out"


def river_detectors():
    from river import drift
    from river.drift import binary

    return {
        ("ADWIN", "gauss"): drift.ADWIN,
        ("ADWIN", "bern"): drift.ADWIN,
        ("PageHinkley", "gauss"): drift.PageHinkley,
        ("DDM", "bern"): binary.DDM,
        ("EDDM", "bern"): binary.EDDM,
        ("HDDMA", "bern"): binary.HDDMA,
        ("HDDMW", "bern"): binary.HDDMW,
        ("KSWIN", "short"): lambda: drift.KSWIN(seed=0),
    }


def frouros_detectors():
    from frouros.detectors import concept_drift as cd

    return {
        ("ADWIN", "gauss"): cd.ADWIN,
        ("ADWIN", "bern"): cd.ADWIN,
        ("PageHinkley", "gauss"): cd.PageHinkley,
        ("DDM", "bern"): cd.DDM,
        ("EDDM", "bern"): cd.EDDM,
        ("HDDMA", "bern"): cd.HDDMA,
        ("HDDMW", "bern"): cd.HDDMW,
        ("KSWIN", "short"): lambda: cd.KSWIN(config=cd.KSWINConfig(seed=0)),
    }


def run_river(detector, values):
    alarms = []
    for i, x in enumerate(values):
        detector.update(x)
        if detector.drift_detected:
            alarms.append(i)
    return alarms


def run_frouros(detector, values):
    alarms = []
    for i, x in enumerate(values):
        detector.update(value=x)
        if detector.drift:
            alarms.append(i)
            detector.reset()  # frouros keeps the flag until reset; river and we restart
    return alarms


if __name__ == "__main__":
    peer, out = sys.argv[1], sys.argv[2]
    detectors = river_detectors() if peer == "river" else frouros_detectors()
    run = run_river if peer == "river" else run_frouros
    results = []
    for (name, stream), factory in detectors.items():
        values = np.load(f"{OUT}/stream_{stream}.npy").tolist()
        detector = factory()
        start = time.perf_counter()
        try:
            alarms = run(detector, values)
        except ValueError as exc:  # frouros' ADWIN refuses negative values, for one
            results.append({"detector": name, "stream": stream, "error": str(exc)})
            print(peer, name, stream, "error:", exc, file=sys.stderr)
            continue
        seconds = time.perf_counter() - start
        results.append({"detector": name, "stream": stream, "seconds": seconds, "alarms": alarms})
        print(peer, name, stream, f"{seconds:.2f}s", len(alarms), file=sys.stderr)
    with open(out, "w") as fh:
        json.dump(results, fh)
