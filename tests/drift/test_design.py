"""Unit tests of shiftguard.drift.design: the rows the localisation receives."""

from __future__ import annotations

import numpy as np

from shiftguard.drift import DriftDetector
from shiftguard.io import read_table


def _columns(rng, n):
    return {"a": rng.normal(size=n), "b": rng.normal(size=n), "c": rng.exponential(size=n)}


def test_complete_numeric_drops_rows_with_missing_values_or_tokens(rng):
    design = DriftDetector().fit(_columns(rng, 400)).design_
    cur = _columns(rng, 300)
    text = [f"{v:.17g}" for v in cur["a"]]
    text[3], text[7], text[9] = "abc", "", "NA"  # a non-numeric token, two missing values
    cur["a"] = text
    cur["c"][[11, 12]] = np.nan
    table = read_table(cur)
    assert (table["a"].n_missing, table["a"].n_non_numeric) == (2, 1)
    rows = design.complete_numeric(table, np.random.default_rng(5))
    kept = np.setdiff1d(np.arange(300), [3, 7, 9, 11, 12])
    expected = (np.column_stack([table[n].values[kept] for n in design.numeric])
                - design.mean) / design.std
    np.testing.assert_array_equal(rows, expected)


def test_complete_numeric_without_gaps_keeps_the_seeded_subsample(rng):
    # Columns without missing values are not scanned; the rows drawn are the seeded sample.
    design = DriftDetector(max_rows_multivariate=50).fit(_columns(rng, 400)).design_
    cur = _columns(rng, 300)
    full = design.complete_numeric(read_table(cur), np.random.default_rng(5))
    picked = np.sort(np.random.default_rng(5).choice(300, size=50, replace=False))
    expected = (np.column_stack([cur[n][picked] for n in design.numeric])
                - design.mean) / design.std
    np.testing.assert_array_equal(full, expected)
