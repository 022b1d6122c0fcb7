"""``shiftguard profile DATA -o OUT.sgprofile``: summarise a table or Parquet dataset into a
mergeable profile."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from shiftguard.cli import EXIT_OK, _add_column_flags, _emit, _pairs
from shiftguard.errors import ParameterError


def add_parser(sub: Any) -> None:
    """``shiftguard profile DATA -o OUT.sgprofile``; ``compare`` takes such files (and
    Parquet directories or globs, streamed) through
    :func:`shiftguard.cli.compare._compare_profiles`."""
    p = sub.add_parser(
        "profile",
        help="summarise a table or Parquet dataset into a mergeable .sgprofile file",
        description=(
            "One pass (two for columns above the exact threshold), bounded memory. "
            "'shiftguard compare REF.sgprofile CUR' then tests with a guarantee. "
            "Exit 0: written; 2: usage or input error; 3: internal error."
        ),
    )
    p.add_argument("data", help="a table file, or a Parquet directory or glob (streamed)")
    p.add_argument("-o", "--output", required=True, metavar="PATH.sgprofile",
                   help="where to write the profile")
    p.add_argument("--edges-from", metavar="REF.sgprofile",
                   help="bin numeric columns against this reference profile's edges, so the "
                        "profile can be compared with it without the data")
    p.add_argument("--kll-k", type=int, default=400, help="KLL sketch accuracy k [400]")
    p.add_argument("--exact-threshold", type=int, default=100_000,
                   help="observed values kept exactly per numeric column [100000]")
    p.add_argument("--max-categories", type=int, default=1000,
                   help="categories counted exactly per column [1000]")
    p.add_argument("--batch-size", type=int, default=None, help="Parquet rows per batch")
    p.add_argument("--format", choices=("text", "json"), default="text", help="stdout format")
    p.add_argument("--debug", action="store_true", help="on an error, print the traceback")
    _add_column_flags(p, "profile")
    p.set_defaults(run=_profile)


def _profile(args: argparse.Namespace) -> int:
    from shiftguard.profile import ProfileSettings, load_profile, profile_table, save_profile

    output = Path(args.output)
    if output.is_dir() or not output.parent.is_dir():
        raise ParameterError(f"-o: cannot write {output}: "
                             f"{'it is a directory' if output.is_dir() else 'no such directory'}")
    edges_from = load_profile(args.edges_from) if args.edges_from else None
    settings = None if edges_from else ProfileSettings(
        kll_k=args.kll_k, exact_threshold=args.exact_threshold,
        max_categories=args.max_categories)
    profile = profile_table(args.data, kinds=_pairs(args.kind, "--kind") or None,
                            columns=args.columns, exclude=args.exclude or (),
                            edges_from=edges_from, settings=settings,
                            batch_size=args.batch_size, label="data")
    save_profile(profile, output)
    exact = sum(getattr(c, "exact", True) for c in profile.columns)
    summary = {"path": str(output), "n_rows": profile.n_rows,
               "n_columns": len(profile.columns), "exact_columns": exact,
               "sketched_columns": len(profile.columns) - exact}
    _emit(json.dumps(summary, indent=2) if args.format == "json" else
          f"profiled {profile.n_rows:,} rows x {len(profile.columns)} columns ({exact} exact, "
          f"{len(profile.columns) - exact} sketched) -> {output}")
    return EXIT_OK
