"""Turn ``results.json`` of ``run.py`` into the Markdown tables of BENCHMARKS.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from _common import SHIFTED_COLUMNS

MB = 1024.0**2
FLOAT32_TINY = float(np.finfo(np.float32).tiny)
# (label, library key, timing key) of the per-feature rows; peers first.
PEER_ROWS = (
    ("alibi-detect `KSDrift.predict`", "alibi", "compare"),
    ("frouros `KSTest.compare` x 50", "frouros", "compare"),
    ("Evidently `DataDriftPreset()` (default: normed Wasserstein)", "evidently", "compare"),
    ("Evidently `DataDriftPreset(method=\"ks\")`", "evidently", "compare_ks"),
    ("NannyML `UnivariateDriftCalculator` KS, 1 chunk", "nannyml", "compare"),
)
OUR_ROWS = (
    ("shiftguard `DriftDetector(multivariate=\"none\", localize=False)`, fitted", "monitor"),
    ("shiftguard `DriftDetector()` defaults (+ MMD on 2,000 rows, localisation), fitted",
     "monitor_default"),
    ("shiftguard `compare(ref, cur, multivariate=\"none\", localize=False)`, cold", "cold"),
    ("shiftguard `compare(ref, cur)` defaults, cold", "cold_default"),
    ("shiftguard `presort` + `ks_test_many`, reference presorted", "kernel_warm"),
    ("shiftguard `presort` both + `ks_test_many`", "kernel_cold"),
)


def _get(results: dict, *keys: str) -> Any:
    node: Any = results
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _fmt_s(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3g}" if value < 10 else f"{value:.0f}"


def _max_rel_diff(a: list[float] | None, b: list[float] | None) -> float | None:
    if a is None or b is None:
        return None
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    scale = np.maximum(np.abs(x), np.abs(y))
    both_zero = scale == 0
    return float(np.max(np.where(both_zero, 0.0, np.abs(x - y) / np.where(both_zero, 1, scale))))


def _memory(results: dict, library: str, task: str = "memory") -> float | None:
    value = _get(results, library, task, "memory", "peak_rss_rise_bytes")
    return None if value is None else value / MB


def timing_table(results: dict, input_mb: float) -> list[str]:
    ours = _get(results, "shiftguard", "time") or {}
    monitor = _get(ours, "monitor", "best_s")
    lines = [
        "| what runs | fit (s) | compare (s, best) | compare time / shiftguard fitted compare "
        "| peak RSS rise (MiB) | rise / input |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, key in OUR_ROWS:
        best = _get(ours, key, "best_s")
        fit = {"monitor": ours.get("fit_s"), "monitor_default": ours.get("fit_default_s")}.get(key)
        mem = {"monitor": _memory(results, "shiftguard"),
               "monitor_default": _memory(results, "shiftguard", "memory_default")}.get(key)
        lines.append(f"| {label} | {_fmt_s(fit)} | {_fmt_s(best)} | "
                     f"{_ratio(best, monitor)} | {_fmt_mb(mem)} | {_fmt_x(mem, input_mb)} |")
    sort_best = _get(results, "scipy", "time", "sort_both", "best_s")
    lines.append(f"| `np.sort` of both tables (axis 0) | | {_fmt_s(sort_best)} | "
                 f"{_ratio(sort_best, monitor)} | | |")
    scipy_best = _get(results, "scipy", "time", "compare", "best_s")
    scipy_mem = _memory(results, "scipy")
    lines.append(f"| scipy `ks_2samp` x 50 (project venv) | | {_fmt_s(scipy_best)} | "
                 f"{_ratio(scipy_best, monitor)} | {_fmt_mb(scipy_mem)} | "
                 f"{_fmt_x(scipy_mem, input_mb)} |")
    for label, library, key in PEER_ROWS:
        peer = _get(results, library, "time") or {}
        if "error" in peer:
            lines.append(f"| {label} | failed: {peer['error'][-1]} | | | | |")
            continue
        best = _get(peer, key, "best_s")
        fit = peer.get("fit_s", _get(peer, "fit", "best_s"))
        mem = _memory(results, library) if key == "compare" else None
        lines.append(f"| {label} | {_fmt_s(fit)} | {_fmt_s(best)} | {_ratio(best, monitor)} | "
                     f"{_fmt_mb(mem)} | {_fmt_x(mem, input_mb)} |")
    return lines


def _ratio(peer: float | None, ours: float | None) -> str:
    return "n/a" if peer is None or ours is None else f"{peer / ours:.2f}x"


def _fmt_mb(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}"


def _fmt_x(value: float | None, reference: float) -> str:
    return "n/a" if value is None else f"{value / reference:.2f}"


def targets(results: dict, input_mb: float) -> list[str]:
    ours = _get(results, "shiftguard", "time") or {}
    monitor = _get(ours, "monitor", "best_s")
    cold = _get(ours, "cold", "best_s")
    peer_times = {label: _get(results, lib, "time", key, "best_s")
                  for label, lib, key in PEER_ROWS}
    peer_times = {k: v for k, v in peer_times.items() if v is not None}
    lines = []
    if peer_times and monitor:
        fastest = min(peer_times, key=peer_times.get)
        lines.append(f"- (a) fitted compare vs the fastest peer ({fastest}, "
                     f"{_fmt_s(peer_times[fastest])} s): **{peer_times[fastest] / monitor:.1f}x** "
                     "(target >= 5x).")
    sort_best = _get(results, "scipy", "time", "sort_both", "best_s")
    if cold and sort_best:
        lines.append(f"- (a) cold compare / sorting both samples: **{cold / sort_best:.2f}** "
                     "(target <= 1.5).")
    for label, library in (("scipy `ks_2samp`", "scipy"), ("alibi-detect", "alibi"),
                           ("frouros", "frouros"), ("Evidently KS", "evidently")):
        for sample in ("null", "shifted"):
            sample_key = f"{sample}_ks" if library == "evidently" else sample
            theirs = _get(results, library, "time", sample_key, "pvalues")
            mine = _get(ours, sample, "pvalues")
            if theirs is None or mine is None:
                continue
            note = ""
            if library == "alibi":
                # alibi-detect stores p-values as float32: below its smallest normal number
                # they are rounded to denormals or 0, so only larger ones can agree.
                keep = np.asarray(mine) >= FLOAT32_TINY
                note = (f" (float32; {int((~keep).sum())} p-values below {FLOAT32_TINY:.1e} "
                        "left out, which float32 cannot hold)")
                mine = np.asarray(mine)[keep].tolist()
                theirs = np.asarray(theirs)[keep].tolist()
            diff = _max_rel_diff(mine, theirs)
            lines.append(f"- p-values, {sample} data: max relative difference to {label}: "
                         f"{diff:.1e}{note}")
    mem = _memory(results, "shiftguard")
    if mem is not None:
        lines.append(f"- (c) peak RSS rise of fit + compare: {mem:.0f} MiB = "
                     f"**{mem / input_mb:.2f}x** the input ({input_mb:.0f} MiB; target <= 2).")
    return lines


def mmd_table(results: dict) -> list[str]:
    ours, alibi = _get(results, "shiftguard", "mmd"), _get(results, "alibi", "mmd")
    lines = ["| what runs | time (s) | bandwidth sigma | MMD^2 | p-value |",
             "|---|---:|---:|---:|---:|"]
    for label, res in (("shiftguard `mmd_test` (pooled-sample median heuristic)", ours),
                       ("alibi-detect `MMDDrift` PyTorch, float32 input (reference-sample "
                        "median heuristic)", alibi)):
        if not res or "error" in res:
            lines.append(f"| {label} | failed: {res['error'][-1] if res else 'not run'} | | | |")
            continue
        statistic = res.get("statistic_float32", res["statistic"])
        sigma = res.get("sigma_float32", res.get("result", {}).get("bandwidth", float("nan")))
        lines.append(f"| {label} | {_fmt_s(res['mmd']['best_s'])} | {sigma:.7g} | "
                     f"{statistic:.10g} | {res['pvalue']:.3f} |")
    if not ours or not alibi or "error" in ours or "error" in alibi:
        return lines
    speedup = alibi["mmd"]["best_s"] / ours["mmd"]["best_s"]
    rel_pooled = _max_rel_diff([ours["statistic"]], [alibi["statistic_at_pooled_sigma"]])
    rel_reference = _max_rel_diff([ours["statistic_at_reference_sigma"]],
                                  [alibi["statistic_at_sigma"]])
    return lines + [
        "",
        f"- (b) speed-up over alibi-detect: **{speedup:.0f}x** (target >= 50x).",
        f"- Same statistic: at the pooled-sample bandwidth, our MMD^2 vs alibi-detect's own "
        f"float64 kernel code: relative difference {rel_pooled:.1e}; at alibi's default "
        f"(reference-sample) bandwidth passed to `mmd_test(bandwidth=...)`: {rel_reference:.1e}.",
        f"- p-values: ours {ours['pvalue']:.3f} ((1 + #{{T_b >= T}}) / (1 + B)), alibi-detect "
        f"{alibi['pvalue']:.3f} (#{{T_b >= T}} / B); both Monte Carlo estimates of the same "
        "permutation p-value (standard error about 0.01 at B = 1,000).",
    ]


def flags_table(results: dict, n_columns: int) -> list[str]:
    shifted = set(SHIFTED_COLUMNS)
    rows = [
        ("shiftguard defaults (KS per column, Holm over the report, alpha 0.05)",
         "shiftguard", "null_default", "shifted_default"),
        ("shiftguard per-feature only (KS, Holm)", "shiftguard", "null", "shifted"),
        ("alibi-detect `KSDrift` per-feature flags (p < 0.05, uncorrected)",
         "alibi", "null", "shifted"),
        ("frouros `KSTest`, p < 0.05 per column (no correction offered)",
         "frouros", "null", "shifted"),
        ("scipy `ks_2samp`, p < 0.05 per column (uncorrected)", "scipy", "null", "shifted"),
        ("Evidently `DataDriftPreset()` default", "evidently", "null", "shifted"),
        ("Evidently `DataDriftPreset(method=\"ks\")`", "evidently", "null_ks", "shifted_ks"),
        ("NannyML KS, one chunk per sample", "nannyml", "null", "shifted"),
        ("NannyML default method (Jensen-Shannon), one chunk", "nannyml",
         "null_default_method", "shifted_default_method"),
        ("NannyML KS, default chunking (10 chunks; any chunk alerts)", "nannyml",
         "null_default_chunks", "shifted_default_chunks"),
    ]
    lines = [
        f"| tool and decision rule | null: columns flagged (of {n_columns}) "
        f"| shift: shifted columns flagged (of {len(shifted)}) "
        f"| shift: unshifted columns flagged (of {n_columns - len(shifted)}) "
        "| dataset verdict null / shift |",
        "|---|---:|---:|---:|---|",
    ]
    for label, library, null_key, shift_key in rows:
        null = _get(results, library, "time", null_key)
        shift = _get(results, library, "time", shift_key)
        if not null or not shift or "flags" not in null or "flags" not in shift:
            continue
        hits = sum(f for j, f in enumerate(shift["flags"]) if j in shifted)
        false = sum(f for j, f in enumerate(shift["flags"]) if j not in shifted)
        lines.append(f"| {label} | {sum(null['flags'])} | {hits} | {false} | "
                     f"{_dataset_verdict(null)} / {_dataset_verdict(shift)} |")
    return [*lines, "", "Dataset verdict: shiftguard's `DriftReport.drifted`; alibi-detect's batch "
            "`is_drift` (Bonferroni over features); Evidently's `DriftedColumnsCount` share >= 0.5 "
            "(its preset's rule); for frouros, scipy and NannyML, any column flagged."]


def _dataset_verdict(summary: dict) -> str:
    if "drifted" in summary:
        return "drift" if summary["drifted"] else "no drift"
    count = summary.get("drifted_columns_count")
    if isinstance(count, dict):
        return "drift" if count.get("share", 0.0) >= 0.5 else "no drift"
    return "drift" if any(summary["flags"]) else "no drift"


def write_report(results: dict, data_dir: Path) -> str:
    reference = np.load(data_dir / "reference.npy", mmap_mode="r")
    n_rows, n_columns = reference.shape
    input_mb = 2 * reference.nbytes / MB
    machine = results.get("machine", {})
    parts = [
        f"Data: {n_rows:,} x {n_columns} float64 per sample (reference and current; "
        f"input {input_mb:.0f} MiB for both). Machine: {machine.get('cpus')} cores, "
        f"{machine.get('platform')}, Python {machine.get('python')}.",
        "",
        *timing_table(results, input_mb),
        "",
        *targets(results, input_mb),
        "",
        *mmd_table(results),
        "",
        *flags_table(results, n_columns),
    ]
    text = "\n".join(parts) + "\n"
    (data_dir / "results.md").write_text(text)
    return text
