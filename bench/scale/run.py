"""Scale benchmark of profiles (issue 14, part 7): streamed profiling against whylogs,
comparing two profiles, the same workload through Dask, and a wide table.

Every measured step runs in a fresh child process, which reports its wall time and its
peak resident memory (``ru_maxrss``); whylogs runs in its own venv
(``bench/.venvs/whylogs``, made on first use). Data are seeded Parquet datasets under
``bench/out/scale/`` (float64 columns cycling through five shapes, as the drift benchmark;
one file per ``--rows-per-file`` rows), written once.

Usage (always under the bench lock)::

    flock /tmp/shiftguard-bench.lock .venv/bin/python bench/scale/run.py \\
        [--rows 100000000] [--whylogs-rows 20000000] [--wide-rows 1000000] \\
        [--skip-whylogs] [--skip-dask] [--skip-wide] [--skip-drift-case] [--delete-data]

``--whylogs-rows`` profiles only the first files of the reference with whylogs (its per-row
rate is what the target compares). Results go to ``bench/out/scale/results-<tag>.json`` and
are printed as a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "bench" / "out" / "scale"
WHYLOGS_VENV = ROOT / "bench" / ".venvs" / "whylogs"
WHYLOGS_PINS = ["whylogs==1.6.4", "pyarrow", "pandas"]
THREADS = {"OMP_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2", "NUMBA_NUM_THREADS": "2"}

# Child programs: each prints one JSON line {"seconds": ..., "peak_mib": ..., ...}.
_PEAK = ("import resource, json\n"
         "def peak(): return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n")

MAKE_DATA = """
import sys
import numpy as np, pyarrow as pa, pyarrow.parquet as pq
sys.path.insert(0, {bench!r})
from drift.data import draw_table
out, rows, cols, per_file, seed, shift = {out!r}, {rows}, {cols}, {per_file}, {seed}, {shift}
rng = np.random.default_rng(seed)
import pathlib
pathlib.Path(out).mkdir(parents=True, exist_ok=True)
done = 0
while done < rows:
    k = min(per_file, rows - done)
    x = draw_table(rng, k, cols)
    x[:, :5] += shift
    # row groups of at most 2**23 values (64 MiB): Parquet decodes a row group whole
    pq.write_table(pa.table({{f"x{{j}}": x[:, j] for j in range(cols)}}),
                   f"{{out}}/part-{{done // per_file:05d}}.parquet",
                   row_group_size=min(262_144, max(1024, 2**23 // cols)))
    done += k
"""

SG_PROFILE = _PEAK + """
import time
from shiftguard.profile import profile_table, load_profile, save_profile
edges = {edges!r}
t = time.perf_counter()
profile = profile_table({data!r}, progress=False,
                        edges_from=load_profile(edges) if edges else None)
save_profile(profile, {target!r})
print(json.dumps({{"seconds": time.perf_counter() - t, "peak_mib": peak(),
                  "rows": profile.n_rows}}))
"""

SG_COMPARE = _PEAK + """
import time
from shiftguard.profile import load_profile
from shiftguard.profile.compare import compare_profiles
ref, cur = load_profile({ref!r}), load_profile({cur!r})
compare_profiles(ref, cur, multivariate="none")  # warm-up (imports, numba)
times = []
for _ in range(5):
    t = time.perf_counter()
    report = compare_profiles(ref, cur, multivariate="none")
    times.append(time.perf_counter() - t)
print(json.dumps({{"seconds": sorted(times)[2], "peak_mib": peak(),
                  "drifted": list(report.drifted_columns),
                  "status": [c.notes[0].split(":")[0] for c in report.columns]}}))
"""

SG_DASK = _PEAK + """
import time
import dask.dataframe as dd
from distributed import Client, LocalCluster
import shiftguard.dask as sgd
from shiftguard.profile import save_profile
if __name__ == "__main__":
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None, memory_limit="4GiB") as cluster, \\
            Client(cluster):
        t = time.perf_counter()
        frame = dd.read_parquet({data!r})
        profile = sgd.profile(frame, check_divisions=False)
        save_profile(profile, {target!r})
        print(json.dumps({{"seconds": time.perf_counter() - t, "peak_mib": peak(),
                          "rows": profile.n_rows}}))
"""

SG_DRIFT_CASE = _PEAK + """
import time
import numpy as np
from shiftguard.profile import ProfileSettings, profile_table
from shiftguard.profile.compare import compare_profiles
settings = ProfileSettings(exact_threshold={threshold})
ref = profile_table(np.load({data!r} + "/reference.npy"), settings=settings)
out = {{}}
for sample in ("null", "shifted"):
    x = np.load({data!r} + f"/{{sample}}.npy")
    t = time.perf_counter()
    cur = profile_table(x, edges_from=ref)
    profiling = time.perf_counter() - t
    compare_profiles(ref, cur, multivariate="none")
    times = []
    for _ in range(5):
        t = time.perf_counter()
        report = compare_profiles(ref, cur, multivariate="none")
        times.append(time.perf_counter() - t)
    out[sample] = {{"compare": sorted(times)[2], "profile_current": profiling,
                   "drifted": list(report.drifted_columns)}}
print(json.dumps({{"seconds": out["null"]["compare"], "peak_mib": peak(), **out}}))
"""

WHYLOGS_PROFILE = _PEAK + """
import time
import pyarrow.dataset as ds
import whylogs as why
t = time.perf_counter()
view = None
rows = 0
for batch in ds.dataset({files!r}, format="parquet").to_batches(batch_size=1_000_000):
    part = why.log(pandas=batch.to_pandas()).view()
    view = part if view is None else view.merge(part)
    rows += batch.num_rows
view.write({target!r})
print(json.dumps({{"seconds": time.perf_counter() - t, "peak_mib": peak(), "rows": rows}}))
"""


def run_child(python: Path, code: str, label: str) -> dict:
    import os

    env = {**os.environ, **THREADS}
    start = time.perf_counter()
    proc = subprocess.run([str(python), "-c", code], capture_output=True, text=True, env=env,
                          cwd=ROOT)
    if proc.returncode != 0:
        raise RuntimeError(f"{label} failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall_with_start"] = time.perf_counter() - start
    print(f"{label}: {result}", flush=True)
    return result


def ensure_data(name: str, rows: int, cols: int, per_file: int, seed: int,
                shift: float = 0.0) -> Path:
    path = OUT / name
    if not (path / ".complete").exists():
        run_child(Path(sys.executable), MAKE_DATA.format(
            bench=str(ROOT / "bench"), out=str(path), rows=rows, cols=cols, per_file=per_file,
            seed=seed, shift=shift) + "\nprint('{\"seconds\": 0, \"peak_mib\": 0}')",
            f"data {name}")
        (path / ".complete").write_text(f"{rows} x {cols}, seed {seed}, shift {shift}\n")
    return path


def ensure_whylogs() -> Path:
    python = WHYLOGS_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(WHYLOGS_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *WHYLOGS_PINS], check=True)
    return python


def load_average() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000_000)
    parser.add_argument("--cols", type=int, default=10)
    parser.add_argument("--wide-rows", type=int, default=1_000_000)
    parser.add_argument("--wide-cols", type=int, default=1_000)
    parser.add_argument("--skip-whylogs", action="store_true")
    parser.add_argument("--whylogs-rows", type=int, default=None,
                        help="whylogs on the first files holding this many rows (default all)")
    parser.add_argument("--skip-dask", action="store_true")
    parser.add_argument("--skip-wide", action="store_true")
    parser.add_argument("--skip-drift-case", action="store_true")
    parser.add_argument("--delete-data", action="store_true",
                        help="remove the generated Parquet datasets afterwards (disk)")
    args = parser.parse_args()
    python = Path(sys.executable)
    per_file = 2_000_000
    tag = f"{args.rows}x{args.cols}"
    ref = ensure_data(f"ref-{tag}", args.rows, args.cols, per_file, 1)
    cur = ensure_data(f"cur-{tag}", args.rows, args.cols, per_file, 2, shift=0.01)
    results: dict[str, dict] = {"rows": args.rows, "cols": args.cols}
    ref_profile, cur_profile = OUT / f"ref-{tag}.sgprofile", OUT / f"cur-{tag}.sgprofile"

    def step(key: str, python_: Path, code: str) -> None:
        load = load_average()
        results[key] = {**run_child(python_, code, key), "load_before": load}

    step("shiftguard_profile", python, SG_PROFILE.format(
        data=str(ref), target=str(ref_profile), edges=""))
    step("shiftguard_profile_current", python, SG_PROFILE.format(
        data=str(cur), target=str(cur_profile), edges=str(ref_profile)))
    step("shiftguard_compare_profiles", python, SG_COMPARE.format(
        ref=str(ref_profile), cur=str(cur_profile)))
    if not args.skip_whylogs:
        files = sorted(str(f) for f in ref.glob("part-*.parquet"))
        if args.whylogs_rows is not None:
            files = files[:max(1, -(-args.whylogs_rows // per_file))]
        step("whylogs_profile", ensure_whylogs(), WHYLOGS_PROFILE.format(
            files=files, target=str(OUT / f"ref-{tag}.whylogs")))
    if not args.skip_dask:
        step("shiftguard_dask_profile", python, SG_DASK.format(
            data=str(ref), target=str(OUT / f"ref-{tag}-dask.sgprofile")))
    drift_case = ROOT / "bench" / "out" / "drift" / "h100000x50"
    # the drift benchmark's data (written by bench/drift/run.py)
    if not args.skip_drift_case and (drift_case / "reference.npy").exists():
        for threshold in (100_000, 10_000):
            step(f"compare_profiles_100000x50_exact_threshold_{threshold}", python,
                 SG_DRIFT_CASE.format(data=str(drift_case), threshold=threshold))
    datasets = [ref, cur]
    if not args.skip_wide:
        wide_tag = f"{args.wide_rows}x{args.wide_cols}"
        wide = ensure_data(f"wide-{wide_tag}", args.wide_rows, args.wide_cols, 100_000, 3)
        datasets.append(wide)
        step("shiftguard_profile_wide", python, SG_PROFILE.format(
            data=str(wide), target=str(OUT / f"wide-{wide_tag}.sgprofile"), edges=""))
    (OUT / f"results-{tag}.json").write_text(json.dumps(results, indent=2))
    if args.delete_data:
        for path in datasets:
            shutil.rmtree(path)
    print("\n| step | seconds | peak MiB | rows/s | load before |\n|---|---:|---:|---:|---:|")
    for key, r in results.items():
        if isinstance(r, dict):
            rows = r.get("rows")
            rate = f"{rows / r['seconds']:,.0f}" if rows else "-"
            print(f"| {key} | {r['seconds']:.2f} | {r['peak_mib']:.0f} | {rate} | "
                  f"{r['load_before']:.1f} |")


if __name__ == "__main__":
    main()
