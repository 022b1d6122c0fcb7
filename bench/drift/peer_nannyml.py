"""NannyML 0.13 side of the drift benchmark: ``UnivariateDriftCalculator``.

Batch against batch means one chunk per sample (``chunk_size`` = rows). NannyML's thresholds
come from the spread of the statistic over the reference chunks; with a single reference
chunk that spread is zero and the threshold collapses to the reference chunk's own
statistic. Sides: ``ks`` (KS, one chunk: the timed headline peer), ``default_method``
(its default Jensen-Shannon, one chunk) and ``ks_default_chunks`` (KS with NannyML's default
10 chunks per sample; a column counts as flagged when any current chunk alerts). NannyML
reports statistics and alerts, not p-values. For references of 10,000 rows or more its KS
statistic comes from a 10,000-bin histogram of the reference, not the exact test.
"""

from __future__ import annotations

import warnings
from importlib.metadata import version
from typing import Any

import nannyml
import numpy as np
import pandas as pd
import scipy
from _common import Side, as_frame

warnings.simplefilter("ignore")


def _fit(method: str | None, one_chunk: bool) -> Any:
    def fit(reference: pd.DataFrame) -> Any:
        options: dict[str, Any] = {} if method is None else {"continuous_methods": [method]}
        if one_chunk:
            options["chunk_size"] = len(reference)
        calculator = nannyml.UnivariateDriftCalculator(
            column_names=list(reference.columns), **options)
        return calculator.fit(reference)

    return fit


def summary(result: Any) -> dict[str, Any]:
    frame = result.filter(period="analysis").to_df()
    # Our columns are x0, x1, ...; the frame also has NannyML's own "chunk" columns.
    names = sorted({col for (col, _, _) in frame.columns if col.startswith("x")},
                   key=lambda name: int(name[1:]))
    methods = sorted({m for (col, m, _) in frame.columns if col in names})
    flags = [bool(frame[(n, methods[0], "alert")].any()) for n in names]
    values = [float(frame[(n, methods[0], "value")].iloc[0]) for n in names]
    return {"method": methods[0], "flags": flags, "drifted": any(flags),
            "values_first_chunk": values, "n_analysis_chunks": len(frame)}


def _side(method: str | None, one_chunk: bool) -> Side:
    return Side(fit=_fit(method, one_chunk),
                compare=lambda calculator, current: calculator.calculate(current),
                summary=summary, prepare=as_frame)


SIDES = {
    "ks": _side("kolmogorov_smirnov", one_chunk=True),
    "default_method": _side(None, one_chunk=True),
    "ks_default_chunks": _side("kolmogorov_smirnov", one_chunk=False),
}


def versions() -> dict[str, str]:
    return {"nannyml": nannyml.__version__, "numpy": np.__version__, "scipy": scipy.__version__,
            "pandas": version("pandas")}
