"""Start-up time of the command line: ``shiftguard compare`` on two small CSV files.

    flock /tmp/shiftguard-bench.lock .venv/bin/python bench/cli/startup.py [--rounds 9]
        [--flags "--multivariate none"] [--variant before=/path/to/other/src ...]

Each round runs, in a fresh process each and in rotating order: the installed
``shiftguard compare ref.csv cur.csv`` with a warm numba cache (a cache directory filled by
one untimed run), the same with an empty cache directory (``NUMBA_CACHE_DIR``, "cold": every
kernel compiled), and two floors -- ``python -c pass`` and ``import numpy, pyarrow.csv``
(what reading a CSV needs at least). ``--variant LABEL=SRC`` adds the same warm and cold
runs with ``PYTHONPATH=SRC`` (another source tree of the package, e.g. before a change),
interleaved with the rest. Reported per case: median and min-max wall time over the
rounds, median CPU time (user + system of the child; the machine is shared, so wall time
moves with the load, CPU time much less), and the 1-minute load average before and after.
Warm and cold outputs of one tree must be identical. Results:
``bench/out/cli/startup.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "out" / "cli"
SCRIPT = Path(sys.executable).parent / "shiftguard"


def write_tables(rows: int, cols: int) -> tuple[Path, Path]:
    """Seeded reference and current CSV files, no drift between them."""
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    header = ",".join(f"x{j}" for j in range(cols))
    paths = []
    for name in ("ref", "cur"):
        path = OUT / f"{name}_{rows}x{cols}.csv"
        np.savetxt(path, rng.normal(size=(rows, cols)), delimiter=",", header=header,
                   comments="", fmt="%.6f")
        paths.append(path)
    return paths[0], paths[1]


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall and CPU seconds of one run of ``command``, and its stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):
        raise RuntimeError(f"{command} exited {done.returncode}: {done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout


def tree_env(src: str | None, cache: Path) -> dict[str, str]:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    if src:
        env["PYTHONPATH"] = src
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--rows", type=int, default=100)
    parser.add_argument("--cols", type=int, default=5)
    parser.add_argument("--flags", default="", help="extra flags for shiftguard compare")
    parser.add_argument("--variant", action="append", default=[], metavar="LABEL=SRC",
                        help="also time the package from this source tree")
    args = parser.parse_args()

    ref, cur = write_tables(args.rows, args.cols)
    compare = [str(SCRIPT), "compare", str(ref), str(cur), *args.flags.split()]
    trees: dict[str, str | None] = {"installed": None}
    trees.update(item.split("=", 1) for item in args.variant)
    warm_caches = {}
    for label, src in trees.items():
        warm_caches[label] = Path(tempfile.mkdtemp(prefix="sg-numba-warm-"))
        timed(compare, tree_env(src, warm_caches[label]))  # fills the cache

    # case name -> (command, tree label or None for the floors, cold?)
    cases: dict[str, tuple[list[str], str | None, bool]] = {}
    for label in trees:
        suffix = "" if label == "installed" else f" ({label})"
        cases[f"warm{suffix}"] = (compare, label, False)
        cases[f"cold{suffix}"] = (compare, label, True)
    cases["floor: python -c pass"] = ([sys.executable, "-c", "pass"], None, False)
    cases["floor: import numpy, pyarrow.csv"] = (
        [sys.executable, "-c", "import numpy, pyarrow.csv"], None, False)

    walls: dict[str, list[float]] = {name: [] for name in cases}
    cpus: dict[str, list[float]] = {name: [] for name in cases}
    loads: dict[str, list[float]] = {name: [] for name in cases}
    outputs: dict[str, set[str]] = {label: set() for label in trees}
    names = list(cases)
    for r in range(args.rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            command, label, cold = cases[name]
            cache = Path(tempfile.mkdtemp(prefix="sg-numba-cold-")) if cold else None
            env = (dict(os.environ) if label is None
                   else tree_env(trees[label], cache or warm_caches[label]))
            load_before = os.getloadavg()[0]
            wall, cpu, stdout = timed(command, env)
            loads[name] += [load_before, os.getloadavg()[0]]
            walls[name].append(wall)
            cpus[name].append(cpu)
            if label is not None:
                outputs[label].add(stdout)
            if cache is not None:
                shutil.rmtree(cache)
    for label, cache in warm_caches.items():
        shutil.rmtree(cache)
        if len(outputs[label]) != 1:
            raise RuntimeError(f"warm and cold runs of {label} printed different reports")

    results = {
        "rows": args.rows, "cols": args.cols, "rounds": args.rounds, "flags": args.flags,
        "trees": trees,
        "cases": {name: {
            "wall_median_s": statistics.median(walls[name]),
            "wall_min_s": min(walls[name]), "wall_max_s": max(walls[name]),
            "cpu_median_s": statistics.median(cpus[name]),
            "load_min": min(loads[name]), "load_max": max(loads[name]),
        } for name in cases},
    }
    (OUT / "startup.json").write_text(json.dumps(results, indent=2))
    print(f"shiftguard compare {args.flags} on {args.rows} x {args.cols} CSV files, "
          f"{args.rounds} rounds")
    print("| case | wall median (min-max) | CPU median | load (1 min) |")
    print("|---|---|---|---|")
    for name, row in results["cases"].items():
        print(f"| {name} | {row['wall_median_s']:.2f} s ({row['wall_min_s']:.2f}-"
              f"{row['wall_max_s']:.2f}) | {row['cpu_median_s']:.2f} s | "
              f"{row['load_min']:.1f}-{row['load_max']:.1f} |")


if __name__ == "__main__":
    main()
