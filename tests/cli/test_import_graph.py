"""What the command line imports, checked in a fresh interpreter through ``sys.modules``
(start-up time is dominated by imports; the figures are in BENCHMARKS.md, "CLI start-up").
"""

import subprocess
import sys

import numpy as np
import pytest


def _imported(code, watched, cwd):
    """The modules of ``watched`` (or their submodules) loaded after running ``code``."""
    probe = (f"{code}\nimport sys\n"
             f"print(sorted(w for w in {watched!r} if any(m == w or m.startswith(w + '.')"
             " for m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         cwd=cwd, check=True)
    return out.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def small_tables(tmp_path_factory):
    """100 x 5 numeric CSV files (the current one shifted, so that every step runs: the
    column tests, the joint test and the localisation), and a messy CSV of every kind
    that the readers infer without pandas."""
    folder = tmp_path_factory.mktemp("small")
    rng = np.random.default_rng(3)
    for name, shift in (("ref", 0.0), ("cur", 1.0)):
        values = rng.normal(size=(100, 5)) + [0.0, 0.0, shift, 0.0, 0.0]
        np.savetxt(folder / f"{name}.csv", values, delimiter=",", header="a,b,c,d,e",
                   comments="", fmt="%.6f")
    rows = ["x,n,k,flag,when,count"]
    for i in range(60):
        x = "unknown" if i == 7 else "NA" if i == 9 else f"{i * 0.5:.1f}"
        n = "" if i % 11 == 0 else str(i % 13)
        when = f"2024-01-{1 + i % 28:02d}T06:{i % 60:02d}:00Z"
        rows.append(f"{x},{n},{'abc'[i % 3]},{'True' if i % 2 else 'False'},{when},{i % 4}")
    (folder / "messy.csv").write_text("\n".join(rows) + "\n")
    return folder


def test_building_the_parser_imports_no_heavy_library(tmp_path):
    code = "import shiftguard.cli\nshiftguard.cli._parser()"
    watched = ("pandas", "pyarrow", "scipy", "numba", "sklearn", "shiftguard.drift",
               "shiftguard.report")
    assert _imported(code, watched, tmp_path) == "[]"


def test_reading_csv_of_every_inferred_kind_does_not_import_pandas(small_tables):
    code = ("from shiftguard.io import read_table\n"
            "table = read_table('messy.csv')\n"
            "assert [c.kind for c in table.columns] == ['numeric', 'numeric', 'categorical',"
            " 'categorical', 'datetime', 'numeric'], table.columns\n"
            "assert table['x'].n_non_numeric == 1 and table['n'].n_missing == 6")
    watched = ("pandas", "scipy", "numba", "sklearn")
    assert _imported(code, watched, small_tables) == "[]"


def test_compare_of_small_numeric_files_imports_no_unneeded_library(small_tables):
    code = ("from shiftguard.cli import main\n"
            "assert main(['compare', 'ref.csv', 'cur.csv']) == 1")
    # pyarrow.compute serves string columns only; the HTML report only --report; numba and
    # scipy only data above the small kernels' size (stats/_small_kernels.py)
    watched = ("pandas", "pyarrow.compute", "scipy", "numba", "sklearn", "shiftguard.report")
    assert _imported(code, watched, small_tables) == "[]"
