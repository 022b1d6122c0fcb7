"""Command-line interface: ``shiftguard compare REFERENCE CURRENT``.

Exit status: 0 when nothing drifted, 1 when drift was found, 2 on a usage or input error
(one line on stderr naming the file or column and the problem; no traceback).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from shiftguard.errors import ShiftguardError

EXIT_OK, EXIT_DRIFT, EXIT_ERROR = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (also used by the ``shiftguard`` script)."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except ShiftguardError as exc:
        print(f"shiftguard: error: {exc}", file=sys.stderr)
        return EXIT_ERROR


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="shiftguard",
        description="Detect data drift with stated statistical guarantees.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser(
        "compare",
        help="compare a current table with a reference table",
        description=(
            "Per-column two-sample tests, missing-rate tests and a multivariate test, "
            "corrected for multiple testing. Exit 0: no drift; 1: drift; 2: error."
        ),
    )
    p.add_argument("reference", help="reference table (.csv .tsv .parquet .arrow .feather .jsonl)")
    p.add_argument("current", help="current table, same columns")
    p.add_argument("--report", metavar="HTML", help="write a self-contained HTML report here")
    p.add_argument("--format", choices=("text", "json"), default="text", help="stdout format")
    p.add_argument("--alpha", type=float, default=0.05, help="FWER (or FDR) level [0.05]")
    p.add_argument("--min-effect", type=float, default=None, metavar="DELTA",
                   help="flag a column only when it changed by more than DELTA (KS distance "
                        "for numeric, total variation for categorical columns; 0-1)")
    p.add_argument("--correction", default="holm",
                   help="bonferroni, holm (default), hochberg, bh or by")
    p.add_argument("--columns", type=_names, help="comma-separated columns to compare")
    p.add_argument("--exclude", type=_names, default=(), help="comma-separated columns to skip")
    p.add_argument("--kind", action="append", default=[], metavar="COL=KIND",
                   help="override a column's kind (numeric, categorical, text); repeatable")
    p.add_argument("--test", action="append", default=[], metavar="COL=TEST",
                   help="override a column's test; repeatable")
    p.add_argument("--numeric-test", default="ks", help="default numeric test [ks]")
    p.add_argument("--categorical-test", default="chi2", help="default categorical test [chi2]")
    p.add_argument("--multivariate", default="auto",
                   help="auto (MMD), mmd, energy, classifier or none")
    p.add_argument("--no-localize", action="store_true", help="skip feature-shift localisation")
    p.add_argument("--permutations", type=int, default=1000, help="permutations [1000]")
    p.add_argument("--seed", type=int, default=0, help="seed of all random choices [0]")
    p.set_defaults(run=_compare)
    return parser


def _names(text: str) -> tuple[str, ...]:
    return tuple(n.strip() for n in text.split(",") if n.strip())


def _pairs(items: Sequence[str], flag: str) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, value = item.rpartition("=")
        if not sep or not name:
            raise ShiftguardError(f"{flag} expects COLUMN=VALUE, got {item!r}")
        out[name] = value
    return out


def _compare(args: argparse.Namespace) -> int:
    from shiftguard.drift import compare

    report = compare(
        args.reference, args.current,
        columns=args.columns, exclude=args.exclude,
        kinds=_pairs(args.kind, "--kind") or None, tests=_pairs(args.test, "--test") or None,
        numeric_test=args.numeric_test, categorical_test=args.categorical_test,
        correction=args.correction, alpha=args.alpha, min_effect=args.min_effect,
        multivariate=args.multivariate,
        localize=not args.no_localize, n_permutations=args.permutations, seed=args.seed,
    )
    if args.report:
        from shiftguard.report import write_html

        write_html(report, args.report, reference_name=args.reference,
                   current_name=args.current)
    if args.format == "json":
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(format_text(report))
    return EXIT_DRIFT if report.drifted else EXIT_OK


def _fmt(value: Any, spec: str = ".3g") -> str:
    return "-" if value is None else format(value, spec)


def format_text(report: Any) -> str:
    """Human-readable summary of a :class:`~shiftguard.drift.DriftReport`."""
    relevance = report.min_effect is not None
    header = ("column", "kind", "test", "statistic", "p", "p_adj", "effect", "distance [CI]",
              "missing r/c", "p_missing", *(("p_relevant",) if relevance else ()), "drift")
    rows = [header]
    for c in report.columns:
        distance = "-" if c.distance is None else (
            f"{c.distance:.3f} [{c.distance_ci[0]:.3f}, {c.distance_ci[1]:.3f}]")
        rows.append((
            c.name, c.kind, c.test, _fmt(c.statistic, ".4g"), _fmt(c.pvalue),
            _fmt(c.pvalue_adjusted),
            f"{_fmt(c.effect_size)} {c.effect_size_name}".strip(), distance,
            f"{c.missing_reference}/{c.missing_current}", _fmt(c.missing_pvalue_adjusted),
            *((_fmt(c.relevance_pvalue_adjusted),) if relevance else ()),
            _verdict(c, relevance),
        ))
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(header))]
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)).rstrip()
             for r in rows]
    for c in report.columns:
        if c.unseen_categories:
            shown = ", ".join(c.unseen_categories[:10])
            extra = len(c.unseen_categories) - 10
            more = f" (+{extra} more)" if extra > 0 else ""
            lines.append(f"note: {c.name!r} has categories unseen in the reference: {shown}{more}")
    m = report.multivariate
    if m is not None:
        lines.append(
            f"multivariate ({m.method}, {m.n_features} features, "
            f"{m.n_reference}+{m.n_current} rows):"
            f" statistic {m.statistic:.4g}, p {m.pvalue:.3g}, p_adj {m.pvalue_adjusted:.3g}"
            f" -> {'DRIFT' if m.drifted else 'no drift'}"
        )
    loc = report.localization
    if loc is not None:
        flagged = [f for f in loc.features if f.flagged]
        names = ", ".join(f.name for f in sorted(flagged, key=lambda f: f.rank)) or "none"
        lines.append(f"conditional-shift localisation ({loc.method}): flagged {names}")
    n_drift = sum(c.drifted for c in report.columns)
    what = "drifted" if not relevance else f"changed by more than {report.min_effect:g}"
    lines.append(
        f"{'DRIFT' if report.drifted else 'NO DRIFT'}: {n_drift} of {len(report.columns)} columns"
        f" {what} (alpha {report.alpha:g}, {report.correction} correction; "
        f"reference {report.n_reference} rows, current {report.n_current} rows)"
    )
    return "\n".join(lines)


def _verdict(column: Any, relevance: bool) -> str:
    if column.drifted:
        return "DRIFT"
    return "detected, not relevant" if relevance and column.detected else "-"


if __name__ == "__main__":
    raise SystemExit(main())
