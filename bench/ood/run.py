"""Outlier detection: shiftguard.ood vs PyOD on the 35 ADBench tables, plus speed at scale.

Run from the repository root with the project venv, under the shared benchmark lock::

    flock /tmp/shiftguard-bench.lock .venv/bin/python bench/ood/run.py

PyOD runs in its own venv ``bench/.venvs/pyod`` (created here when missing, pinned
below, the same numpy / scipy / scikit-learn / numba versions as the project venv), and
``nonconform`` (conformal p-values and BH around PyOD detectors; every release needs
Python >= 3.12) in ``bench/.venvs/nonconform``, built with ``NONCONFORM_PYTHON``
(``--nonconform-python``), with the same pins plus ``nonconform``. Each side is one
long-lived worker process (``worker.py``) with the same thread settings (``--threads``);
requests rotate between the sides, the order changing every time, and the 1-minute load
average is read before each request.

Novelty protocol per table and seed: the inliers are shuffled; half trains the detector,
a further ``CAL_SHARE`` of the inliers calibrates (ours: conformal p-values, then BH at
q = 0.1), the remaining inliers plus all anomalies are scored. Large tables are capped
(``--max-train``, ``--max-cal``, ``--max-test-inliers``, ``--max-anomalies``, random rows)
so that PyOD's LOF / kNN / MCD finish within the time budget. PyOD decides by its
contamination rule (``contamination=0.1``, ``predict``: score above the 90% quantile of
the training scores). nonconform fits PyOD's model on the same training rows and
calibrates on the same calibration rows (its detached ``Split`` workflow), then ``select``
at q = 0.1 (its p-values and BH); its p-values are checked against ours computed from its
own calibration and test scores. Same bytes on every side: the splits are saved under
``bench/out/ood/splits``.

Speed: 1,000,000 x 20 Gaussian rows, fit + scoring 1,000 new rows (ECOD, COPOD, IForest;
our EIF; nonconform's IForest through its integrated ``fit``, 80% train / 20% calibration,
then ``select`` on the new rows), and kNN (k=5) at 100,000 x 32 fit + scoring
``--knn-queries`` rows, in ``--rounds`` interleaved rounds (median and range).

Writes ``bench/out/ood/results.json`` and ``bench/out/ood/results.md``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent.parent
OUT = ROOT / "bench" / "out" / "ood"
DATA = ROOT.parent / "shared" / "data" / "adbench"
PYOD_VENV = ROOT / "bench" / ".venvs" / "pyod"
PYOD_PINS = ["pyod==3.6.7", "numpy==2.4.6", "scipy==1.17.1", "scikit-learn==1.9.1",
             "numba==0.68.1"]
NONCONFORM_VENV = ROOT / "bench" / ".venvs" / "nonconform"
NONCONFORM_PYTHON = "/root/.pyenv/versions/3.12.1/bin/python3.12"
NONCONFORM_PINS = ["nonconform==2.0.0", *PYOD_PINS]
SHARED = ("knn", "ecod", "copod", "iforest", "lof", "mahalanobis")
NONCONFORM_DETS = ("ecod", "iforest", "knn")
CAL_SHARE = 0.2
FDR_Q = 0.1


def ensure_venv(venv: Path, base_python: str, pins: list[str]) -> Path:
    py = venv / "bin" / "python"
    if not py.exists():
        subprocess.run([base_python, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", *pins], check=True)
    return py


def load1() -> float:
    return os.getloadavg()[0]


class Worker:
    def __init__(self, side: str, python: Path, threads: int) -> None:
        env = dict(os.environ)
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "NUMBA_NUM_THREADS"):
            env[var] = str(threads)
        logs = OUT / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self.side = side
        self.proc = subprocess.Popen(
            [str(python), str(BENCH_DIR / "worker.py"), side], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=open(logs / f"{side}.log", "w"), text=True,
            env=env, cwd=ROOT)

    def ask(self, **req) -> dict:
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        ans = json.loads(self.proc.stdout.readline())
        if "error" in ans:
            raise RuntimeError(f"{self.side}: {ans['error']}")
        return ans

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def make_split(path: Path, seed: int, args) -> Path:
    name = path.stem
    out = OUT / "splits" / f"{name}_s{seed}.npz"
    if out.exists():
        return out
    d = np.load(path)
    X, y = np.asarray(d["X"], dtype=np.float64), np.asarray(d["y"]).astype(int)
    rng = np.random.default_rng([seed, 12])
    inl = rng.permutation(np.flatnonzero(y == 0))
    anom = rng.permutation(np.flatnonzero(y == 1))
    half = len(inl) // 2
    n_cal = max(int(CAL_SHARE * len(inl)), 1)
    train = inl[:half][: args.max_train]
    cal = inl[half:half + n_cal][: args.max_cal]
    test_in = inl[half + n_cal:][: args.max_test_inliers]
    test_out = anom[: args.max_anomalies]
    test = np.concatenate([test_in, test_out])
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, X_train=X[train], X_cal=X[cal], X_test=X[test],
             y_test=np.r_[np.zeros(len(test_in), int), np.ones(len(test_out), int)],
             seed=seed, n_rows=len(y), n_anomalies=int(y.sum()))
    return out


def quality(workers: dict, args) -> list[dict]:
    rows = []
    tables = sorted(DATA.glob("*.npz"), key=lambda p: int(p.stem.split("_")[0]))
    if args.tables:
        tables = [p for p in tables if p.stem in args.tables.split(",")]
    turn = 0
    for path in tables:
        for seed in range(args.seeds):
            split = make_split(path, seed, args)
            y = np.load(split)["y_test"]
            sides = list(workers)
            order = sides[turn % len(sides):] + sides[:turn % len(sides)]
            turn += 1
            rec = {"table": path.stem, "seed": seed, "n_test": int(len(y)),
                   "n_anom": int(y.sum()), "n_train": int(np.load(split)["X_train"].shape[0])}
            for side in order:
                out = OUT / "scores" / f"{path.stem}_s{seed}_{side}.npz"
                out.parent.mkdir(parents=True, exist_ok=True)
                rec[f"load_{side}"] = load1()
                ans = workers[side].ask(op="table", split=str(split), out=str(out))
                s = np.load(out)
                for det, (tf, ts) in ans["times"].items():
                    sc = s[f"{det}_test"]
                    flag = s[f"{det}_flag"].astype(bool)
                    n_flag = int(flag.sum())
                    rec[f"{side}/{det}"] = {
                        "auroc": float(roc_auc_score(y, sc)) if np.all(np.isfinite(sc))
                        else float("nan"),
                        "fdp": float((flag & (y == 0)).sum() / max(n_flag, 1)),
                        "power": float((flag & (y == 1)).sum() / max(int(y.sum()), 1)),
                        "fit": tf, "score": ts}
                rec[f"errors_{side}"] = ans["errors"]
            s_o = np.load(OUT / "scores" / f"{path.stem}_s{seed}_ours.npz")
            s_p = np.load(OUT / "scores" / f"{path.stem}_s{seed}_pyod.npz")
            for det in ("knn", "iforest", "lof"):
                if f"{det}_test" in s_p:
                    a, b = s_o[f"{det}_test"], s_p[f"{det}_test"]
                    # PyOD's IForest score is sklearn's offset decision; compare up to shift
                    diff = (a - a.mean()) - (b - b.mean()) if det == "iforest" else a - b
                    rec[f"maxdiff/{det}"] = float(np.max(np.abs(diff)))
            if "nonconform" in workers:
                rec.update(compare_nonconform(path.stem, seed, s_o))
            if seed == 0:
                single = OUT / "scores" / f"{path.stem}_s0_pyod_single.npz"
                workers["pyod"].ask(op="single", split=str(split), out=str(single),
                                    rows=args.single_rows)
                ps = np.load(single)
                for det in ("ecod", "copod"):
                    a = s_o[f"{det}_test"][: args.single_rows]
                    rec[f"maxdiff/{det}_one_row"] = float(np.max(np.abs(a - ps[det])))
                    rec[f"maxdiff/{det}_batch"] = float(np.max(np.abs(
                        s_o[f"{det}_test"] - s_p[f"{det}_test"])))
            rows.append(rec)
            print(f"{path.stem} seed {seed}: done", file=sys.stderr, flush=True)
    return rows


def compare_nonconform(table: str, seed: int, s_o) -> dict:
    """nonconform's p-values vs ours on its own calibration and test scores, and its BH
    decisions vs ours on the same p-values; for IForest (the same scikit-learn forest on
    both sides, up to PyOD's constant offset) also vs our side's own decisions."""
    from shiftguard.ood.calibrate import benjamini_hochberg, conformal_pvalues

    s_n = np.load(OUT / "scores" / f"{table}_s{seed}_nonconform.npz")
    rec = {}
    for det in NONCONFORM_DETS:
        if f"{det}_p" not in s_n:
            continue
        p = conformal_pvalues(s_n[f"{det}_cal"], s_n[f"{det}_test"])
        rec[f"nc_pdiff/{det}"] = float(np.max(np.abs(p - s_n[f"{det}_p"])))
        rec[f"nc_flagdiff/{det}"] = int(np.sum(benjamini_hochberg(p, FDR_Q)
                                               != s_n[f"{det}_flag"]))
        rec[f"nc_vs_ours_flagdiff/{det}"] = int(np.sum(s_o[f"{det}_flag"].astype(bool)
                                                       != s_n[f"{det}_flag"]))
    return rec


def make_speed_data() -> dict[str, Path]:
    paths = {"1e6x20": OUT / "speed_1e6x20.npz", "1e5x32": OUT / "speed_1e5x32.npz"}
    rng = np.random.default_rng(20261212)
    if not paths["1e6x20"].exists():
        np.savez(paths["1e6x20"], X=rng.standard_normal((1_000_000, 20)),
                 Q=rng.standard_normal((10_000, 20)) * 1.5)
    if not paths["1e5x32"].exists():
        np.savez(paths["1e5x32"], X=rng.standard_normal((100_000, 32)),
                 Q=rng.standard_normal((10_000, 32)) * 1.5)
    return paths


def speed(workers: dict, args) -> list[dict]:
    paths = make_speed_data()
    tasks = [("1e6x20", "ecod", 1000), ("1e6x20", "copod", 1000),
             ("1e6x20", "iforest", 1000), ("1e6x20", "eif", 1000),
             ("1e5x32", "knn", args.knn_queries)]
    out = []
    for data, det, m in tasks:
        sides = ["ours", "pyod"] if det != "eif" else ["ours"]
        if det == "iforest" and "nonconform" in workers:
            sides.append("nonconform")
        runs: dict[str, list] = {s: [] for s in sides}
        for r in range(args.rounds):
            for side in sides[r % len(sides):] + sides[:r % len(sides)]:
                before = load1()
                ans = workers[side].ask(op="speed", data=str(paths[data]), detector=det,
                                        n_query=m)
                ans["load"] = [before, load1()]
                runs[side].append(ans)
        out.append({"data": data, "detector": det, "n_query": m, "runs": runs})
        print(f"speed {data} {det}: done", file=sys.stderr, flush=True)
    return out


def summarise(res: dict) -> str:
    lines = [f"Run {res['date']}, threads {res['threads']}, seeds 0..{res['seeds'] - 1}; "
             "versions " + "; ".join(f"{k}: " + ", ".join(f"{lib} {ver}" for lib, ver in v.items())
                                     for k, v in res["versions"].items()) + ".",
             ""]
    q = res["quality"]
    tables = list(dict.fromkeys(r["table"] for r in q))
    dets = SHARED + ("eif",)

    def mean(table, key, field):
        v = [r[key][field] for r in q if r["table"] == table and key in r]
        return float(np.nanmean(v)) if v else float("nan")

    lines.append("AUROC, mean over seeds (ours / PyOD); winner per table over all columns")
    lines.append("")
    lines.append("| table | n_train | n_test (anom) | " + " | ".join(dets) + " | best |")
    lines.append("|---|---|---|" + "---|" * (len(dets) + 1))
    wins = {"ours": 0, "pyod": 0, "tie": 0}
    det_wins = {d: {"ours": 0, "pyod": 0, "tie": 0} for d in SHARED}
    for t in tables:
        r0 = next(r for r in q if r["table"] == t)
        cells, best = [], ("", -1.0)
        for d in dets:
            o = mean(t, f"ours/{d}", "auroc")
            p = mean(t, f"pyod/{d}", "auroc") if d != "eif" else float("nan")
            cells.append(f"{o:.3f} / {p:.3f}" if d != "eif" else f"{o:.3f}")
            for side, v in (("ours", o), ("pyod", p)):
                if np.isfinite(v) and v > best[1] + 1e-12:
                    best = (f"{side} {d}", v)
            if d in SHARED:
                key = "tie" if not np.isfinite(p) or abs(o - p) < 0.005 else (
                    "ours" if o > p else "pyod")
                det_wins[d][key] += 1
        wins[best[0].split()[0]] += 1
        lines.append(f"| {t} | {r0['n_train']} | {r0['n_test']} ({r0['n_anom']}) | "
                     + " | ".join(cells) + f" | {best[0]} {best[1]:.3f} |")
    lines += ["", f"Best single column per table: ours {wins['ours']}, PyOD {wins['pyod']}.",
              "Same detector, ours vs PyOD (|diff| < 0.005 = tie): " + "; ".join(
                  f"{d} {w['ours']}-{w['pyod']}-{w['tie']}" for d, w in det_wins.items()), ""]
    lines.append("Decisions: BH at q=0.1 on conformal p-values (ours; nonconform around PyOD's"
                 " model, same calibration rows) vs PyOD contamination=0.1; mean over tables"
                 " and seeds of FDP / power")
    lines.append("")
    lines.append("| detector | ours FDP | ours power | nonconform FDP | nonconform power | "
                 "PyOD FDP | PyOD power | ours FDP>0.1 (tables) |")
    lines.append("|---|---|---|---|---|---|---|---|")

    def avg(side, d, field):
        with np.errstate(all="ignore"):
            v = [mean(t, f"{side}/{d}", field) for t in tables]
        return float(np.nanmean(v)) if np.any(np.isfinite(v)) else float("nan"), v

    for d in SHARED:
        (fo, fo_t), (po, _) = avg("ours", d, "fdp"), avg("ours", d, "power")
        (fn, _), (pn, _) = avg("nonconform", d, "fdp"), avg("nonconform", d, "power")
        (fp, _), (pp, _) = avg("pyod", d, "fdp"), avg("pyod", d, "power")
        nc = f"{fn:.3f} | {pn:.3f}" if np.isfinite(fn) else (
            "refused | refused" if d in NONCONFORM_DETS else "- | -")
        lines.append(f"| {d} | {fo:.3f} | {po:.3f} | {nc} | {fp:.3f} | {pp:.3f} | "
                     f"{sum(f > 0.1 for f in fo_t)} |")
    nc_keys = sorted({k for r in q for k in r if k.startswith("nc_")})
    if nc_keys:
        worst = {k: max(r.get(k, 0) for r in q) for k in nc_keys}
        total = {k: sum(r.get(k, 0) for r in q) for k in nc_keys if "flagdiff" in k}
        lines += ["", "nonconform vs ours: largest |p-value difference| on nonconform's own "
                  "calibration and test scores: " + ", ".join(
                      f"{k.split('/')[1]} {worst[k]:.2e}" for k in nc_keys if "pdiff" in k)
                  + "; BH decisions differing (ours on its p-values, all tables and seeds): "
                  + ", ".join(f"{k.split('/')[1]} {total[k]}" for k in nc_keys
                              if k.startswith("nc_flagdiff"))
                  + "; decisions differing from our own side's: " + ", ".join(
                      f"{k.split('/')[1]} {total[k]}" for k in nc_keys
                      if k.startswith("nc_vs_ours"))]
    diffs = {}
    for r in q:
        for k, v in r.items():
            if k.startswith("maxdiff/"):
                diffs[k[8:]] = max(diffs.get(k[8:], 0.0), v)
    errs = sorted({f"{r['table']}: {d}: {e}" for r in q for d, e in
                   r.get("errors_pyod", {}).items()} | {
        f"nonconform {d}: {e}" for r in q for d, e in r.get("errors_nonconform", {}).items()} | {
        f"{r['table']}: ours {d}: {e}" for r in q for d, e in r.get("errors_ours", {}).items()})
    lines += ["", "Largest |score difference| vs PyOD over all tables: " + ", ".join(
        f"{k} {v:.2e}" for k, v in sorted(diffs.items())), ""]
    if errs:
        lines += ["Errors: " + "; ".join(errs[:10]), ""]
    lines += ["Speed (seconds, median [min-max] over rounds; load = 1-min load average)", "",
              "| data | detector | ours fit+score | PyOD fit+score | speed-up | ours fit | "
              "PyOD fit | nonconform fit+score (fit) | load |",
              "|---|---|---|---|---|---|---|---|---|"]
    for s in res["speed"]:
        tot = {k: [a["fit"] + a["score"] for a in v] for k, v in s["runs"].items()}
        fit = {k: statistics.median(a["fit"] for a in v) for k, v in s["runs"].items()}
        loads = [x for v in s["runs"].values() for a in v for x in a["load"]]

        def fmt(v):
            return f"{statistics.median(v):.3f} [{min(v):.3f}-{max(v):.3f}]"
        p, n = tot.get("pyod"), tot.get("nonconform")
        nc = f"{fmt(n)} ({fit['nonconform']:.3f})" if n else "-"
        lines.append(
            f"| {s['data']} | {s['detector']} (+{s['n_query']} rows) | {fmt(tot['ours'])} | "
            f"{fmt(p) if p else '-'} | "
            f"{statistics.median(p) / statistics.median(tot['ours']):.1f}x | "
            f"{fit['ours']:.3f} | {fit.get('pyod', float('nan')):.3f} | {nc} | "
            f"{min(loads):.1f}-{max(loads):.1f} |" if p else
            f"| {s['data']} | {s['detector']} (+{s['n_query']} rows) | {fmt(tot['ours'])} | - |"
            f" - | {fit['ours']:.3f} | - | - | {min(loads):.1f}-{max(loads):.1f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--max-train", type=int, default=5000)
    ap.add_argument("--max-cal", type=int, default=2000)
    ap.add_argument("--max-test-inliers", type=int, default=5000)
    ap.add_argument("--max-anomalies", type=int, default=1000)
    ap.add_argument("--single-rows", type=int, default=20)
    ap.add_argument("--knn-queries", type=int, default=1000)
    ap.add_argument("--parts", default="quality,speed")
    ap.add_argument("--tables", default="", help="comma-separated table names (default all)")
    ap.add_argument("--peers", default="pyod,nonconform",
                    help="pyod is always run; nonconform is optional")
    ap.add_argument("--nonconform-python", default=NONCONFORM_PYTHON,
                    help="a Python >= 3.12 to build the nonconform venv with")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    pyod_py = ensure_venv(PYOD_VENV, sys.executable, PYOD_PINS)
    workers = {"ours": Worker("ours", Path(sys.executable), args.threads),
               "pyod": Worker("pyod", pyod_py, args.threads)}
    if "nonconform" in args.peers.split(","):
        nc_py = ensure_venv(NONCONFORM_VENV, args.nonconform_python, NONCONFORM_PINS)
        workers["nonconform"] = Worker("nonconform", nc_py, args.threads)
    t0 = time.perf_counter()
    res = {"date": datetime.datetime.now().isoformat(timespec="minutes"),
           "threads": args.threads, "seeds": args.seeds, "args": vars(args),
           "versions": {k: w.ask(op="versions") for k, w in workers.items()},
           "load_start": load1(), "quality": [], "speed": []}
    try:
        if "quality" in args.parts:
            res["quality"] = quality(workers, args)
        if "speed" in args.parts:
            res["speed"] = speed(workers, args)
    finally:
        for w in workers.values():
            w.close()
    res["load_end"], res["wall_seconds"] = load1(), time.perf_counter() - t0
    (OUT / "results.json").write_text(json.dumps(res, indent=1))
    md = summarise(res) + f"\nWall time {res['wall_seconds']:.0f} s; load {res['load_start']:.1f}" \
        f" at start, {res['load_end']:.1f} at end.\n"
    (OUT / "results.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
