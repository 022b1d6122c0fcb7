"""Fitted comparison of profiles against NannyML's fitted KS, side by side (issue 14, part 7).

The drift benchmark's 100,000 x 50 case (``bench/out/drift/h100000x50``, written by
``bench/drift/run.py``; see ``bench/drift/data.py``). shiftguard: the reference profile
and each current profile (profiled against the reference's edges) are built outside the
clock; the clock times ``compare_profiles(reference, current)`` -- its first call with a
reference fills the reference's cache, so a warm-up call runs first, as NannyML's ``fit``
runs before its ``calculate``. Columns exact (the default ``exact_threshold=100_000``: the
in-memory KS test) or binned (``exact_threshold=10_000``: bounded). NannyML 0.13 in its
venv (``bench/.venvs/nannyml``): ``UnivariateDriftCalculator`` with KS and one chunk, fitted
once; the clock times ``calculate(current)``. Each side runs in a fresh process, NannyML
and shiftguard alternately, ``--rounds`` timed calls per sample; the median is reported.

Usage (always under the bench lock)::

    flock /tmp/shiftguard-bench.lock .venv/bin/python bench/scale/fitted_compare.py \\
        [--rounds 9] [--threads 2]

Results go to ``bench/out/scale/fitted_compare.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "bench" / "out" / "drift" / "h100000x50"
NANNYML = ROOT / "bench" / ".venvs" / "nannyml" / "bin" / "python"
OUT = ROOT / "bench" / "out" / "scale"

SHIFTGUARD = """
import json, time
import numpy as np
from shiftguard.profile import ProfileSettings, profile_table
from shiftguard.profile.compare import compare_profiles
data, rounds = {data!r}, {rounds}
ref = profile_table(np.load(data + "/reference.npy"),
                    settings=ProfileSettings(exact_threshold={threshold}))
out = {{}}
for sample in ("null", "shifted"):
    cur = profile_table(np.load(data + f"/{{sample}}.npy"), edges_from=ref)
    report = compare_profiles(ref, cur, multivariate="none")
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        report = compare_profiles(ref, cur, multivariate="none")
        times.append(time.perf_counter() - t)
    out[sample] = {{"seconds": times, "drifted": list(report.drifted_columns),
                   "status": sorted({{c.notes[0].split(":")[0] for c in report.columns}})}}
print(json.dumps(out))
"""

NANNYML_SIDE = """
import json, time, warnings
import numpy as np, pandas as pd, nannyml
warnings.simplefilter("ignore")
data, rounds = {data!r}, {rounds}
def frame(name):
    x = np.load(data + f"/{{name}}.npy")
    return pd.DataFrame(x, columns=[f"x{{j}}" for j in range(x.shape[1])])
reference = frame("reference")
calculator = nannyml.UnivariateDriftCalculator(
    column_names=list(reference.columns), continuous_methods=["kolmogorov_smirnov"],
    chunk_size=len(reference)).fit(reference)
out = {{}}
for sample in ("null", "shifted"):
    current = frame(sample)
    result = calculator.calculate(current)
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        result = calculator.calculate(current)
        times.append(time.perf_counter() - t)
    table = result.filter(period="analysis").to_df()
    flagged = [c for c in current.columns
               if bool(table[(c, "kolmogorov_smirnov", "alert")].any())]
    out[sample] = {{"seconds": times, "drifted": flagged,
                   "version": nannyml.__version__}}
print(json.dumps(out))
"""


def run(python: Path, code: str, threads: str) -> dict:
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": threads,
           "OPENBLAS_NUM_THREADS": threads, "MKL_NUM_THREADS": threads,
           "NUMBA_NUM_THREADS": threads}
    proc = subprocess.run([str(python), "-c", code], capture_output=True, text=True,
                          env=env, cwd=ROOT, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--threads", default="2")
    parser.add_argument("--repeats", type=int, default=2,
                        help="fresh processes per side, alternating")
    args = parser.parse_args()
    sides = {
        "nannyml_ks": (NANNYML, NANNYML_SIDE.format(data=str(DATA), rounds=args.rounds)),
        "shiftguard_exact": (Path(sys.executable), SHIFTGUARD.format(
            data=str(DATA), rounds=args.rounds, threshold=100_000)),
        "shiftguard_binned": (Path(sys.executable), SHIFTGUARD.format(
            data=str(DATA), rounds=args.rounds, threshold=10_000)),
    }
    results: dict[str, dict] = {name: {"null": [], "shifted": []} for name in sides}
    loads = []
    for _ in range(args.repeats):
        for name, (python, code) in sides.items():
            loads.append(float(Path("/proc/loadavg").read_text().split()[0]))
            out = run(python, code, args.threads)
            for sample in ("null", "shifted"):
                results[name][sample] += out[sample]["seconds"]
                results[name][f"{sample}_drifted"] = out[sample]["drifted"]
                results[name][f"{sample}_status"] = out[sample].get("status")
    summary = {name: {s: statistics.median(r[s]) for s in ("null", "shifted")}
               for name, r in results.items()}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "fitted_compare.json").write_text(json.dumps(
        {"median_seconds": summary, "raw": results, "load_before_each": loads,
         "threads": args.threads, "rounds": args.rounds}, indent=2))
    print("| side | null s | shifted s | speed-up vs NannyML (null / shifted) | flagged |")
    print("|---|---:|---:|---:|---|")
    base = summary["nannyml_ks"]
    for name, s in summary.items():
        ratio = f"{base['null'] / s['null']:.1f}x / {base['shifted'] / s['shifted']:.1f}x"
        print(f"| {name} | {s['null']:.4f} | {s['shifted']:.4f} | {ratio} | "
              f"{results[name]['shifted_drifted']} |")
    print(f"load average before each process: {loads}")


if __name__ == "__main__":
    main()
