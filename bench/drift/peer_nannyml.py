"""NannyML 0.13 side of the drift benchmark: ``UnivariateDriftCalculator``.

Batch against batch means one chunk per sample (``chunk_size`` = rows). NannyML's thresholds
come from the spread of the statistic over the reference chunks; with a single reference
chunk that spread is zero and the threshold collapses to the reference chunk's own
statistic. Measured: KS with one chunk (timed; the flags), the default method
(Jensen-Shannon) with one chunk, and KS with NannyML's default chunking (10 chunks per
sample, a column counts as flagged when any current chunk alerts). NannyML reports
statistics and alerts, not p-values.
"""

from __future__ import annotations

import warnings

import nannyml
import pandas as pd
from _common import best_time, column_names, emit, load_table_data, measure_peak_rise, parse_args


def calculator(names: list[str], chunk_size: int | None,
               method: str | None) -> nannyml.UnivariateDriftCalculator:
    options = {} if method is None else {"continuous_methods": [method]}
    if chunk_size is not None:
        options["chunk_size"] = chunk_size
    return nannyml.UnivariateDriftCalculator(column_names=names, **options)


def verdict(result: object, names: list[str]) -> dict[str, object]:
    frame = result.filter(period="analysis").to_df()
    methods = sorted({m for (col, m, _) in frame.columns if col in names})
    flags = [bool(frame[(n, methods[0], "alert")].any()) for n in names]
    values = [float(frame[(n, methods[0], "value")].iloc[0]) for n in names]
    return {"method": methods[0], "flags": flags, "values_first_chunk": values,
            "n_analysis_chunks": len(frame)}


def main() -> None:
    warnings.simplefilter("ignore")
    task, data_dir = parse_args()
    data = load_table_data(data_dir)
    names = column_names(data["reference"].shape[1])
    frames = {k: pd.DataFrame(v, columns=names) for k, v in data.items()}
    ref = frames["reference"]
    n_rows = len(ref)
    if task == "memory":
        emit({"library": "nannyml", "memory": measure_peak_rise(
            lambda r, c: calculator(names, len(r), "kolmogorov_smirnov").fit(r).calculate(c),
            ref, frames["shifted"])})
        return
    one_chunk_ks = calculator(names, n_rows, "kolmogorov_smirnov").fit(ref)
    one_chunk_default = calculator(names, n_rows, None).fit(ref)
    chunked_ks = calculator(names, None, "kolmogorov_smirnov").fit(ref)
    out: dict[str, object] = {
        "library": "nannyml", "version": nannyml.__version__,
        "fit": best_time(lambda: calculator(names, n_rows, "kolmogorov_smirnov").fit(ref),
                         repeats=1),
        "compare": best_time(lambda: one_chunk_ks.calculate(frames["shifted"]), repeats=3),
    }
    for label in ("null", "shifted"):
        out[label] = verdict(one_chunk_ks.calculate(frames[label]), names)
        out[f"{label}_default_method"] = verdict(
            one_chunk_default.calculate(frames[label]), names)
        out[f"{label}_default_chunks"] = verdict(chunked_ks.calculate(frames[label]), names)
    emit(out)


if __name__ == "__main__":
    main()
