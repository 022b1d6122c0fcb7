"""``shiftguard compare REFERENCE CURRENT``: drift between two tables (or profiles), and its
text summary :func:`format_text`."""

from __future__ import annotations

import argparse
import json
from typing import Any

from shiftguard.cli import (
    EXIT_DRIFT,
    EXIT_OK,
    _add_column_flags,
    _add_output_flags,
    _add_reading_flags,
    _check_report_target,
    _emit,
    _pairs,
    _read,
    _read_options,
    _write_report,
)


def add_parser(sub: Any) -> None:
    """``shiftguard compare REFERENCE CURRENT``: tables, or profiles through
    :func:`_compare_profiles`."""
    p = sub.add_parser(
        "compare",
        help="compare a current table with a reference table",
        description=(
            "Per-column two-sample tests, missing-rate tests and a multivariate test, "
            "corrected for multiple testing. Exit 0: no drift; 1: drift; 2: usage or input "
            "error; 3: internal error."
        ),
    )
    p.add_argument("reference", help="reference table: .csv .tsv .jsonl (also compressed: .gz "
                                     ".bz2 .zst), .parquet, .arrow/.feather")
    p.add_argument("current", help="current table, same columns")
    _add_output_flags(p)
    p.add_argument("--alpha", type=float, default=0.05, help="FWER (or FDR) level [0.05]")
    p.add_argument("--min-effect", type=float, default=None, metavar="DELTA",
                   help="flag a column only when it changed by more than DELTA (KS distance "
                        "for numeric, total variation for categorical columns; 0-1)")
    p.add_argument("--correction", default="holm",
                   help="bonferroni, holm (default), hochberg, bh or by")

    _add_column_flags(p, "compare")
    _add_reading_flags(p)

    tests = p.add_argument_group("tests")
    tests.add_argument("--test", action="append", default=[], metavar="COL=TEST",
                       help="override a column's test; repeatable")
    tests.add_argument("--numeric-test", default="ks", help="default numeric test [ks]")
    tests.add_argument("--categorical-test", default="chi2",
                       help="default categorical test [chi2]")
    tests.add_argument("--multivariate", default="auto",
                       help="auto (MMD), mmd, energy, classifier or none")
    tests.add_argument("--no-localize", action="store_true",
                       help="skip feature-shift localisation")
    tests.add_argument("--permutations", type=int, default=1000, help="permutations [1000]")
    tests.add_argument("--seed", type=int, default=0, help="seed of all random choices [0]")
    p.set_defaults(run=_compare)


def _compare(args: argparse.Namespace) -> int:
    _check_report_target(args)
    if _compares_profiles(args):
        return _compare_profiles(args)
    kinds, tests = _pairs(args.kind, "--kind"), _pairs(args.test, "--test")
    options = _read_options(args)

    from shiftguard.drift import DriftDetector

    detector = DriftDetector(
        columns=args.columns, exclude=args.exclude or (), kinds=kinds or None,
        tests=tests or None,
        numeric_test=args.numeric_test, categorical_test=args.categorical_test,
        correction=args.correction, alpha=args.alpha, min_effect=args.min_effect,
        multivariate=args.multivariate,
        localize=not args.no_localize, n_permutations=args.permutations, seed=args.seed,
    )
    # No name holds either table: the reference's numeric columns are freed once fit has
    # sorted them, and the current's once compare returns (peak memory about 2x the data).
    detector.fit(_read(args.reference, "reference", options))
    report = detector.compare(_read(args.current, "current", options))
    _write_report("shiftguard.report.write_html", report, args,
                  {"reference_name": args.reference, "current_name": args.current})
    _emit(json.dumps(report.to_dict(), indent=2) if args.format == "json"
          else format_text(report))
    return EXIT_DRIFT if report.drifted else EXIT_OK


def _compares_profiles(args: argparse.Namespace) -> bool:
    from shiftguard.profile.compare import uses_profiles

    return uses_profiles(args.reference) or uses_profiles(args.current)


def _compare_profiles(args: argparse.Namespace) -> int:
    """``compare`` when a side is a .sgprofile file or a Parquet directory or glob."""
    from shiftguard.profile.compare import compare_profiles

    report = compare_profiles(
        args.reference, args.current, alpha=args.alpha, correction=args.correction,
        n_permutations=args.permutations, seed=args.seed, columns=args.columns,
        exclude=args.exclude or (), kinds=_pairs(args.kind, "--kind") or None,
        multivariate=args.multivariate, min_effect=args.min_effect,
        tests=_pairs(args.test, "--test") or None, numeric_test=args.numeric_test,
        categorical_test=args.categorical_test)
    _write_report("shiftguard.report.write_html", report, args,
                  {"reference_name": args.reference, "current_name": args.current})
    _emit(json.dumps(report.to_dict(), indent=2) if args.format == "json"
          else format_text(report))
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
            shown = ", ".join(map(repr, c.unseen_categories[:10]))
            extra = len(c.unseen_categories) - 10
            more = f" (+{extra} more)" if extra > 0 else ""
            lines.append(f"note: {c.name!r} has categories unseen in the reference: {shown}{more}")
        lines.extend(f"note: {c.name!r}: {note}" for note in c.notes)
    lines.extend(f"excluded: {e.name!r} ({e.kind}): {e.reason}" for e in report.excluded)
    lines.extend(f"note: {note}" for note in report.notes)
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
