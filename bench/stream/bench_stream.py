"""Streaming detectors side by side with river and frouros on the same seeded streams.

Streams (seed 2026): 1,000,000 values with a step change half way -- Gaussian mean
0 -> 0.5 (sd 1) and Bernoulli error rate 0.1 -> 0.2 -- plus a 40,000-value Gaussian
stream (0 -> 0.5 at 20,000) for KSWIN, whose river version runs a scipy test per value.
Each peer runs value by value in its own venv; shiftguard runs ``update_many`` on the
whole stream and, for reference, ``update`` value by value. Reported: values per second,
false alarms before the change, delay of the first alarm after it.

    flock /tmp/shiftguard-bench.lock .venv/bin/python bench/stream/bench_stream.py
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

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


def summarise(alarms, n_values: int) -> tuple[int, float]:
    alarms = np.asarray(alarms, dtype=np.int64)
    change = n_values // 2
    after = alarms[alarms >= change]
    return int((alarms < change).sum()), float(after[0] - change + 1) if after.size else np.inf


def run_ours(streams: dict[str, np.ndarray]) -> list[dict]:
    results = []
    for (name, stream), factory in OURS.items():
        values = streams[stream]
        factory().update_many(values[:1000])  # compile outside the timing
        best = np.inf
        for _ in range(3):
            detector = factory()
            start = time.perf_counter()
            alarms = detector.update_many(values)
            best = min(best, time.perf_counter() - start)
        one_by_one = factory()
        n_single = min(values.size, 100_000)
        start = time.perf_counter()
        for x in values[:n_single].tolist():
            one_by_one.update(x)
        single = (time.perf_counter() - start) / n_single
        results.append({"detector": name, "stream": stream, "seconds": best,
                        "seconds_per_update": single, "alarms": alarms.tolist()})
    return results


def main() -> None:
    streams = make_streams()
    ours = run_ours(streams)
    peers = {}
    for peer in PEERS:
        out = OUT / f"stream_{peer}.json"
        subprocess.run([str(ensure_venv(peer)), str(ROOT / "bench/stream/peer_run.py"), peer,
                        str(out)], check=True, cwd=ROOT)
        peers[peer] = {(r["detector"], r["stream"]): r for r in json.loads(out.read_text())}
    print("| detector | stream | shiftguard update_many (values/s) | shiftguard update (values/s) "
          "| river (values/s) | speed-up vs river | frouros (values/s) | speed-up vs frouros "
          "| false alarms before change (sg / river / frouros) "
          "| delay (sg / river / frouros) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in ours:
        key = (r["detector"], r["stream"])
        n = streams[r["stream"]].size
        rates = {"sg": n / r["seconds"]}
        cells = [summarise(r["alarms"], n)]
        for peer in PEERS:
            p = peers[peer][key]
            if "error" in p:  # the peer refused this stream; say so instead of a number
                rates[peer], failed = math.nan, (-1, math.nan)
                cells.append(failed)
                continue
            rates[peer] = n / p["seconds"]
            cells.append(summarise(p["alarms"], n))
        false = " / ".join(str(c[0]) if c[0] >= 0 else "n/a" for c in cells)
        delay = " / ".join(f"{c[1]:.0f}" if not math.isnan(c[1]) else "n/a" for c in cells)
        speed = {p: f"{rates['sg'] / rates[p]:.1f}x" if rates[p] == rates[p] else "n/a"
                 for p in PEERS}
        print(f"| {r['detector']} | {r['stream']} | {rates['sg']:,.0f} "
              f"| {1 / r['seconds_per_update']:,.0f} | {rates['river']:,.0f} "
              f"| {speed['river']} | {rates['frouros']:,.0f} "
              f"| {speed['frouros']} | {false} | {delay} |")


if __name__ == "__main__":
    main()
