"""Evidently 0.7 side of the drift benchmark: ``Report([DataDriftPreset()]).run(cur, ref)``.

Evidently has no fitted state: every run re-reads both tables. Its default per-column test
for more than 1,000 reference rows is the normed Wasserstein distance with threshold 0.1
(no p-value); ``DataDriftPreset(method="ks")`` gives KS p-values (flag at p <= 0.05, no
multiplicity correction). Both are timed; the default decides the default flags.
"""

from __future__ import annotations

from importlib.metadata import version

import numpy as np
import pandas as pd
from _common import best_time, column_names, emit, load_table_data, measure_peak_rise, parse_args
from evidently import Report
from evidently.presets import DataDriftPreset

P_VALUE_METHODS = ("ks", "K-S p_value")


def run_report(reference: pd.DataFrame, current: pd.DataFrame, method: str | None) -> dict:
    return Report([DataDriftPreset(method=method)]).run(current, reference).dict()


def verdict(snapshot: dict) -> dict[str, object]:
    values, flags, methods = [], [], set()
    count = None
    for metric in snapshot["metrics"]:
        config = metric["config"]
        if config["type"].endswith("ValueDrift"):
            value, threshold = float(metric["value"]), float(config["threshold"])
            is_p_value = config["method"] in P_VALUE_METHODS
            values.append(value)
            flags.append(value <= threshold if is_p_value else value >= threshold)
            methods.add(config["method"])
        elif config["type"].endswith("DriftedColumnsCount"):
            count = metric["value"]
    out: dict[str, object] = {"values": values, "flags": flags, "methods": sorted(methods),
                              "drifted_columns_count": count}
    if methods <= set(P_VALUE_METHODS):
        out["pvalues"] = values
    return out


def main() -> None:
    task, data_dir = parse_args()
    data = load_table_data(data_dir)
    names = column_names(data["reference"].shape[1])
    frames = {k: pd.DataFrame(v, columns=names) for k, v in data.items()}
    ref = frames["reference"]
    if task == "memory":
        emit({"library": "evidently", "memory": measure_peak_rise(
            lambda r, c: run_report(r, c, None), ref, frames["shifted"])})
        return
    emit({
        "library": "evidently", "version": version("evidently"),
        "compare": best_time(lambda: run_report(ref, frames["shifted"], None), repeats=3),
        "compare_ks": best_time(lambda: run_report(ref, frames["shifted"], "ks"), repeats=3),
        "null": verdict(run_report(ref, frames["null"], None)),
        "shifted": verdict(run_report(ref, frames["shifted"], None)),
        "null_ks": verdict(run_report(ref, frames["null"], "ks")),
        "shifted_ks": verdict(run_report(ref, frames["shifted"], "ks")),
        "rows_equal": bool(np.array_equal(frames["reference"].to_numpy(), data["reference"])),
    })


if __name__ == "__main__":
    main()
