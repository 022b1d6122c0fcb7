"""Seeded data of the drift benchmark, saved as ``.npy`` so every library reads the same bytes.

Each data set is a directory holding ``reference.npy``, ``null.npy`` and ``shifted.npy``
(float64, rows x columns). Columns cycle through five shapes (normal, lognormal,
exponential, Student t with 5 degrees of freedom, uniform). The null current table is a
fresh draw from the same distributions; the shifted table equals it except that the first
five columns (one of each shape) move by ``shift_sd`` of their standard deviation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SEED = 20261123
SHIFTED_COLUMNS = (0, 1, 2, 3, 4)
# Standard deviation of each column shape, in the order the columns cycle through them.
SD_OF_SHAPE = np.array([1.0, np.sqrt((np.e - 1.0) * np.e), 1.0, np.sqrt(5.0 / 3.0),
                        np.sqrt(1.0 / 12.0)])
SAMPLES = ("null", "shifted")


def draw_table(rng: np.random.Generator, n_rows: int, n_columns: int) -> np.ndarray:
    """One ``n_rows`` x ``n_columns`` table; column ``j`` has shape ``j % 5``."""
    out = np.empty((n_rows, n_columns))
    for j in range(n_columns):
        shape = j % 5
        if shape == 0:
            out[:, j] = rng.standard_normal(n_rows)
        elif shape == 1:
            out[:, j] = rng.lognormal(size=n_rows)
        elif shape == 2:
            out[:, j] = rng.standard_exponential(n_rows)
        elif shape == 3:
            out[:, j] = rng.standard_t(5, size=n_rows)
        else:
            out[:, j] = rng.random(n_rows)
    return out


def ensure_dataset(data_dir: Path, n_rows: int, n_columns: int, shift_sd: float) -> Path:
    """Write the data set to ``data_dir`` unless it is already there."""
    if (data_dir / "shifted.npy").exists():
        return data_dir
    rng = np.random.default_rng([SEED, n_rows, n_columns])
    data_dir.mkdir(parents=True, exist_ok=True)
    np.save(data_dir / "reference.npy", draw_table(rng, n_rows, n_columns))
    table = draw_table(rng, n_rows, n_columns)
    np.save(data_dir / "null.npy", table)
    for j in SHIFTED_COLUMNS:
        table[:, j] += shift_sd * SD_OF_SHAPE[j % 5]
    np.save(data_dir / "shifted.npy", table)
    (data_dir / "README").write_text(
        f"{n_rows} x {n_columns} float64, seed {SEED}; shifted = null with columns "
        f"{list(SHIFTED_COLUMNS)} moved by {shift_sd} sd (see bench/drift/data.py)\n")
    return data_dir


def ensure_mmd_data(data_dir: Path, n: int = 2_000, d: int = 32) -> Path:
    """Two samples of ``n`` x ``d`` standard normals (the null holds)."""
    if not (data_dir / "mmd_y.npy").exists():
        rng = np.random.default_rng([SEED, 1])
        data_dir.mkdir(parents=True, exist_ok=True)
        np.save(data_dir / "mmd_x.npy", rng.normal(size=(n, d)))
        np.save(data_dir / "mmd_y.npy", rng.normal(size=(n, d)))
    return data_dir
