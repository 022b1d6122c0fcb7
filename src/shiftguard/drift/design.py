"""How the rows of a table become a numeric design matrix for the joint (multivariate)
test and the localisation; the encoding is fixed by the reference."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from shiftguard.drift import profiles
from shiftguard.io import Column, Table


def stack_columns(columns: Sequence[Column], rows: np.ndarray | None = None) -> np.ndarray:
    """Numeric columns (optionally only ``rows``) as one C-ordered matrix."""
    n = len(columns[0]) if rows is None else rows.size
    out = np.empty((n, len(columns)), dtype=np.float64)
    for j, col in enumerate(columns):
        out[:, j] = col.values if rows is None else col.values[rows]
    return out


@dataclasses.dataclass(frozen=True)
class DesignSpec:
    """How rows become a numeric design matrix for the joint test and the localisation
    (fixed by the reference): standardised numeric columns and one-hot common categories.

    Left out, with a note: datetime columns (their range moves between periods by
    construction, which would flag every comparison of two time windows; each is still
    tested on its own), and numeric columns constant or empty in the reference (nothing
    to standardise by).
    """

    numeric: tuple[str, ...]
    mean: np.ndarray
    std: np.ndarray
    categorical: tuple[tuple[str, tuple[str, ...]], ...]
    max_rows: int
    notes: tuple[str, ...]

    @classmethod
    def from_reference(cls, table: Table, detector: Any) -> DesignSpec:
        names = detector.numeric_names_
        kinds = [table[n].kind for n in names]
        std = detector.numeric_std_ if names else np.empty(0)
        use = [j for j, k in enumerate(kinds) if k == "numeric" and std[j] > 0]
        notes = []
        dated = [n for n, k in zip(names, kinds, strict=True) if k == "datetime"]
        if dated:
            notes.append(f"datetime column(s) {', '.join(map(repr, dated))} are tested one "
                         "by one but left out of the joint test and the localisation: a "
                         "time range moves between periods by construction")
        flat = [n for j, n in enumerate(names) if kinds[j] == "numeric" and not std[j] > 0]
        if flat:
            notes.append(f"numeric column(s) {', '.join(map(repr, flat))} are constant or "
                         "empty in the reference and left out of the joint test")
        cats = []
        for col in table.columns:
            if col.kind != "categorical" or len(col) == col.n_missing:
                continue
            counts = np.bincount(col.observed(), minlength=len(col.categories))
            share = counts / counts.sum()
            top = np.argsort(-share, kind="stable")[:profiles.MAX_PLOTTED_CATEGORIES]
            cats.append((col.name, tuple(col.categories[i] for i in top if share[i] >= 0.01)))
        return cls(
            numeric=tuple(names[j] for j in use),
            mean=detector.numeric_mean_[use] if use else np.empty(0),
            std=std[use] if use else np.empty(0),
            categorical=tuple(cats),
            max_rows=detector.max_rows_multivariate,
            notes=tuple(notes),
        )

    @property
    def n_features(self) -> int:
        return len(self.numeric) + sum(len(c) for _, c in self.categorical)

    def _rows(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return np.sort(rng.choice(n, size=self.max_rows, replace=False)) if n > self.max_rows \
            else np.arange(n)

    def sample(self, table: Table, rng: np.random.Generator) -> np.ndarray:
        """Standardised numeric columns (missing -> reference mean) and one-hot categories
        of a seeded subsample of rows (drawn first: only those rows are standardised)."""
        rows = self._rows(table.n_rows, rng)
        parts = []
        if self.numeric:
            z = (stack_columns([table[n] for n in self.numeric], rows) - self.mean) / self.std
            parts.append(np.nan_to_num(z, nan=0.0))
        for name, keep in self.categorical:
            col = table[name]
            codes = col.values[rows]
            labels = np.asarray(col.categories, dtype=object)
            for label in keep:
                hits = np.flatnonzero(labels == label)
                parts.append(np.isin(codes, hits).astype(np.float64)[:, None] * np.sqrt(0.5))
        return np.hstack(parts)

    def complete_numeric(self, table: Table, rng: np.random.Generator) -> np.ndarray:
        """Standardised numeric columns of a seeded subsample of the rows without missing
        values (rows drawn first, then standardised)."""
        # A column's NaN are its missing values and non-numeric tokens, both counted when
        # it was read: only columns that have some are scanned.
        columns = [table[n] for n in self.numeric]
        gappy = [c for c in columns if c.n_missing + c.n_non_numeric]
        rows = np.arange(table.n_rows)
        if gappy:
            complete = np.ones(table.n_rows, dtype=bool)
            for col in gappy:
                complete &= ~np.isnan(col.values)
            rows = np.flatnonzero(complete)
        rows = rows[self._rows(rows.size, rng)]
        return (stack_columns(columns, rows) - self.mean) / self.std
