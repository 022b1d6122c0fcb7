"""Serve one peer library's detectors, fed value by value, to bench_stream.py (peer venv only).

Reads one request per line on stdin, ``DETECTOR STREAM`` (keys of the tables below, stream
names of ``bench/out/stream_*.npy``), runs that detector over the stream with the same
loop bench_stream.py times shiftguard with, and answers with one JSON line:
``{"seconds": ..., "alarms": [...]}``, or ``{"error": ...}`` when the peer refuses the
stream. A long-lived process, so that bench_stream.py can alternate the two sides round
by round.

    <peer venv>/bin/python bench/stream/peer_run.py river|frouros
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
        "ADWIN": drift.ADWIN,
        "PageHinkley": drift.PageHinkley,
        "DDM": binary.DDM,
        "EDDM": binary.EDDM,
        "HDDMA": binary.HDDMA,
        "HDDMW": binary.HDDMW,
        "KSWIN": lambda: drift.KSWIN(seed=0),
    }


def frouros_detectors():
    from frouros.detectors import concept_drift as cd

    return {
        "ADWIN": cd.ADWIN,
        "PageHinkley": cd.PageHinkley,
        "DDM": cd.DDM,
        "EDDM": cd.EDDM,
        "HDDMA": cd.HDDMA,
        "HDDMW": cd.HDDMW,
        "KSWIN": lambda: cd.KSWIN(config=cd.KSWINConfig(seed=0)),
    }


def run_river(detector, values):
    # bench_stream.py times shiftguard with this very function
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


def serve(peer: str) -> None:
    detectors = river_detectors() if peer == "river" else frouros_detectors()
    run = run_river if peer == "river" else run_frouros
    streams: dict[str, list[float]] = {}
    for line in sys.stdin:
        name, stream = line.split()
        if stream not in streams:
            streams[stream] = np.load(f"{OUT}/stream_{stream}.npy").tolist()
        detector = detectors[name]()
        start = time.perf_counter()
        try:
            alarms = run(detector, streams[stream])
        except ValueError as exc:  # frouros' ADWIN refuses negative values, for one
            answer = {"error": str(exc)}
        else:
            answer = {"seconds": time.perf_counter() - start, "alarms": alarms}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    serve(sys.argv[1])
