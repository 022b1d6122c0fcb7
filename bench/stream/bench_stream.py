"""Streaming detectors side by side with river (and frouros) on the same seeded streams.

Streams (seed 2026): 1,000,000 values with a step change half way -- Gaussian mean
0 -> 0.5 (sd 1) and Bernoulli error rate 0.1 -> 0.2 -- plus a 40,000-value Gaussian
stream (0 -> 0.5 at 20,000) for KSWIN, whose river version runs a SciPy test per value.

Protocol: river runs in a long-lived worker in its own venv (``peer_run.py``). In each of
``N_ROUNDS`` rounds every detector is timed value by value -- the same loop on both sides,
``update(x)`` then read ``drift_detected`` -- on the whole stream, shiftguard first in even
rounds and river first in odd ones; the ratio river time / shiftguard time is taken per
round and reported as the median and the range over rounds, with the 1-minute load average
(``os.getloadavg()``) read after each round's pair. shiftguard's ``update_many`` on the
whole stream is timed in the same rounds, and so is the floor of any Python-level
``update``: the same loop over an object whose ``update`` only returns it and whose
``drift_detected`` is a plain attribute (``EmptyDetector``); river time / floor time is the
highest ratio a Python ``update`` could reach. frouros, much slower, runs one pass per
detector after the rounds. Also reported: false alarms before the change and the delay of the
first alarm after it.

    flock /tmp/shiftguard-bench.lock .venv/bin/python bench/stream/bench_stream.py
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

# the very loop the river worker times, so that both sides run the same Python
# (bench/stream, this script's folder, is on the path)
from peer_run import run_river as per_value_alarms

from shiftguard.stream import ADWIN, DDM, EDDM, HDDMA, HDDMW, KSWIN, PageHinkley

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "bench" / "out"
VENVS = ROOT / "bench" / ".venvs"
PEERS = {
    "river": ["river==0.26.1"],
    "frouros": ["frouros==0.9.0", "numpy<2"],
}
N_VALUES = 1_000_000
N_SHORT = 40_000
N_ROUNDS = 5

#: (detector, stream) -> shiftguard factory; the peers use the same detector names
OURS = {
    ("ADWIN", "gauss"): ADWIN,
    ("ADWIN", "bern"): ADWIN,
    ("PageHinkley", "gauss"): PageHinkley,
    ("DDM", "bern"): DDM,
    ("EDDM", "bern"): EDDM,
    ("HDDMA", "bern"): HDDMA,
    ("HDDMW", "bern"): HDDMW,
    ("KSWIN", "short"): lambda: KSWIN(seed=0),
}
#: detectors whose alarms are not river's by design (another random sample of old values)
OWN_SAMPLING = {"KSWIN"}


class EmptyDetector:
    """The cheapest detector the loop can drive: ``update`` does nothing, the flag is an
    attribute. Timing it gives the loop plus call floor of any Python ``update``."""

    def __init__(self) -> None:
        self.drift_detected = False

    def update(self, x: float) -> EmptyDetector:
        return self


def make_streams() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(2026)
    half = N_VALUES // 2
    streams = {
        "gauss": np.r_[rng.normal(0.0, 1.0, half), rng.normal(0.5, 1.0, half)],
        "bern": np.r_[rng.random(half) < 0.1, rng.random(half) < 0.2].astype(float),
        "short": np.r_[rng.normal(0.0, 1.0, N_SHORT // 2), rng.normal(0.5, 1.0, N_SHORT // 2)],
    }
    OUT.mkdir(parents=True, exist_ok=True)
    for name, values in streams.items():
        np.save(OUT / f"stream_{name}.npy", values)
    return streams


def ensure_venv(peer: str) -> Path:
    python = VENVS / peer / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENVS / peer)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PEERS[peer]], check=True)
    return python


class PeerWorker:
    """A ``peer_run.py`` process in the peer's venv, answering one run per request."""

    def __init__(self, peer: str) -> None:
        self.process = subprocess.Popen(
            [str(ensure_venv(peer)), str(ROOT / "bench/stream/peer_run.py"), peer],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
        )

    def run(self, detector: str, stream: str) -> dict:
        self.process.stdin.write(f"{detector} {stream}\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait()


def time_ours(factory, values: list[float]) -> tuple[float, list[int]]:
    detector = factory()
    start = time.perf_counter()
    alarms = per_value_alarms(detector, values)
    return time.perf_counter() - start, alarms


def time_ours_batch(factory, stream: np.ndarray) -> tuple[float, list[int]]:
    detector = factory()
    start = time.perf_counter()
    alarms = detector.update_many(stream)
    return time.perf_counter() - start, alarms.tolist()


def summarise(alarms, n_values: int) -> tuple[int, float]:
    alarms = np.asarray(alarms, dtype=np.int64)
    change = n_values // 2
    after = alarms[alarms >= change]
    return int((alarms < change).sum()), float(after[0] - change + 1) if after.size else np.inf


def run_rounds(streams: dict[str, np.ndarray], river: PeerWorker) -> dict:
    values = {name: stream.tolist() for name, stream in streams.items()}
    for (_, stream), factory in OURS.items():  # compile and load every kernel untimed
        per_value_alarms(factory(), values[stream][:5000])
        factory().update_many(streams[stream][:5000])
    rows: dict = {key: {"ours": [], "batch": [], "river": [], "load": []} for key in OURS}
    rows["floor"] = {stream: [] for stream in values}
    for round_ in range(N_ROUNDS):
        for stream, stream_values in values.items():
            rows["floor"][stream].append(time_ours(EmptyDetector, stream_values)[0])
        for key, factory in OURS.items():
            name, stream = key
            row = rows[key]
            if round_ % 2 == 0:
                ours = time_ours(factory, values[stream])
                peer = river.run(name, stream)
            else:
                peer = river.run(name, stream)
                ours = time_ours(factory, values[stream])
            batch = time_ours_batch(factory, streams[stream])
            row["load"].append(os.getloadavg()[0])
            row["ours"].append(ours[0])
            row["batch"].append(batch[0])
            row["river"].append(peer["seconds"])
            row["alarms"], row["river_alarms"] = ours[1], peer["alarms"]
            if ours[1] != batch[1]:
                raise AssertionError(f"{key}: update and update_many alarms differ")
            print(f"round {round_} {name} {stream}: river/ours = "
                  f"{peer['seconds'] / ours[0]:.2f}", file=sys.stderr)
    return rows


def spread(ratios: list[float]) -> str:
    return f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f})"


def print_tables(streams: dict[str, np.ndarray], rows: dict, frouros: dict) -> None:
    print(f"Per value, {N_ROUNDS} interleaved rounds: median (min-max) over rounds.\n")
    floor = rows.pop("floor")
    print("| detector | stream | river `update` (values/s) | shiftguard `update` (values/s) "
          "| `update` vs river | ceiling: river vs empty `update` "
          "| shiftguard `update_many` (values/s) | `update_many` vs river "
          "| load avg (1 min) | alarms = river's | false alarms before change (sg / river) "
          "| delay (sg / river) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for (name, stream), row in rows.items():
        n = streams[stream].size
        per_value = [r / o for r, o in zip(row["river"], row["ours"], strict=True)]
        # the empty loop over a stream of the same length, timed in the same round
        ceiling = [r / f for r, f in zip(row["river"], floor[stream], strict=True)]
        batch = [r / b for r, b in zip(row["river"], row["batch"], strict=True)]
        same = row["alarms"] == row["river_alarms"]
        same_text = "yes" if same else ("no (own sampling)" if name in OWN_SAMPLING else "NO")
        ours, theirs = summarise(row["alarms"], n), summarise(row["river_alarms"], n)
        load = row["load"]
        print(f"| {name} | {stream} | {n / statistics.median(row['river']):,.0f} "
              f"| {n / statistics.median(row['ours']):,.0f} | {spread(per_value)} "
              f"| {spread(ceiling)} "
              f"| {n / statistics.median(row['batch']):,.0f} | {spread(batch)} "
              f"| {statistics.median(load):.1f} ({min(load):.1f}-{max(load):.1f}) "
              f"| {same_text} | {ours[0]} / {theirs[0]} | {ours[1]:.0f} / {theirs[1]:.0f} |")
    print("\nEmpty `update` (loop + call + attribute read), ns per value: " + ", ".join(
        f"{stream} {1e9 * statistics.median(times) / streams[stream].size:.1f} "
        f"({1e9 * min(times) / streams[stream].size:.1f}-"
        f"{1e9 * max(times) / streams[stream].size:.1f})"
        for stream, times in floor.items()))
    print("\nfrouros, one pass per detector after the rounds (not interleaved).\n")
    print("| detector | stream | frouros (values/s) | shiftguard `update` vs frouros "
          "| false alarms before change | delay | load avg (1 min) |")
    print("|---|---|---|---|---|---|---|")
    for (name, stream), answer in frouros.items():
        n = streams[stream].size
        if "error" in answer:
            print(f"| {name} | {stream} | n/a ({answer['error']}) | n/a | n/a | n/a "
                  f"| {answer['load']:.1f} |")
            continue
        ours = statistics.median(rows[(name, stream)]["ours"])
        false, delay = summarise(answer["alarms"], n)
        print(f"| {name} | {stream} | {n / answer['seconds']:,.0f} "
              f"| {answer['seconds'] / ours:.1f}x | {false} | {delay:.0f} "
              f"| {answer['load']:.1f} |")


def main() -> None:
    streams = make_streams()
    river = PeerWorker("river")
    try:
        rows = run_rounds(streams, river)
    finally:
        river.close()
    frouros_worker = PeerWorker("frouros")
    frouros = {}
    try:
        for name, stream in OURS:
            frouros[(name, stream)] = {**frouros_worker.run(name, stream),
                                       "load": os.getloadavg()[0]}
    finally:
        frouros_worker.close()
    print_tables(streams, rows, frouros)


if __name__ == "__main__":
    main()
