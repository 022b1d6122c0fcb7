"""``shiftguard outliers REFERENCE NEW``: flag the rows of a new table unlike a reference,
and the text summary :func:`format_outliers_text`."""

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
    from shiftguard.ood.tables import DEFAULT_FDR, DETECTORS

    p = sub.add_parser(
        "outliers",
        help="flag the rows of a new table that are unlike a reference table",
        description=(
            "Fit an outlier detector on part of the reference, calibrate it on the rest "
            "(conformal p-values) and flag new rows at a per-row false-positive rate "
            f"(--alpha) or a false discovery rate (--fdr; the default, at {DEFAULT_FDR:g}). "
            "Numeric columns are scored (missing values set to the reference median), "
            "categorical ones one-hot encoded; datetime, text and identifier columns are "
            "left out with a note. Exit 0: no row flagged; 1: some flagged; 2: usage or "
            "input error; 3: internal error."
        ),
    )
    p.add_argument("reference", help="reference (in-distribution) table: .csv .tsv .jsonl "
                                     "(also compressed), .parquet, .arrow/.feather")
    p.add_argument("new", help="new table to check row by row, same columns")
    _add_output_flags(p)
    p.add_argument("--detector", choices=DETECTORS, default="ecod",
                   help="ecod (default: nothing to tune, explains scores by feature), copod, "
                        "mahalanobis (also explains), knn, eif (extended isolation forest), "
                        "iforest")
    level = p.add_mutually_exclusive_group()
    level.add_argument("--alpha", type=float, metavar="A",
                       help="flag each row whose p-value is <= A: an inlier is flagged with "
                            "probability <= A")
    level.add_argument("--fdr", type=float, metavar="Q",
                       help="Benjamini-Hochberg across the new rows: on average at most a "
                            f"share Q of the flagged rows are inliers [{DEFAULT_FDR:g}]")
    p.add_argument("--calibration-size", type=_share_or_count, default=0.3, metavar="S",
                   help="share (0-1) or number of reference rows held out to calibrate [0.3]")
    p.add_argument("--conditional", action="store_true",
                   help="calibration-conditional p-values: the guarantee holds given the "
                        "calibration set except with probability 0.1 (fewer flags)")
    p.add_argument("--seed", type=int, default=0, help="seed of the reference split [0]")
    p.add_argument("--top-features", type=int, default=3, metavar="N",
                   help="features listed per flagged row (ecod, copod, mahalanobis) [3]")
    _add_column_flags(p, "score")
    _add_reading_flags(p)
    p.set_defaults(run=_outliers)


def _share_or_count(text: str) -> float | int:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expects a share or a row count, got {text!r}") \
            from None


def _outliers(args: argparse.Namespace) -> int:
    _check_report_target(args)
    options = _read_options(args)
    options.update(columns=args.columns, exclude=args.exclude or (),
                   kinds=_pairs(args.kind, "--kind") or None)

    from shiftguard.ood.tables import outliers

    report = outliers(
        _read(args.reference, "reference", options), _read(args.new, "new", options),
        detector=args.detector, alpha=args.alpha, fdr=args.fdr,
        calibration_size=args.calibration_size, conditional=args.conditional, seed=args.seed,
        top_features=args.top_features,
    )
    _write_report("shiftguard.report.outliers.write_outlier_html", report, args,
                  {"reference_name": args.reference, "new_name": args.new})
    _emit(json.dumps(report.to_dict(), indent=2) if args.format == "json"
          else format_outliers_text(report))
    return EXIT_DRIFT if report.outliers_found else EXIT_OK


#: Flagged rows listed by the text output; JSON lists them all.
_MAX_TEXT_ROWS = 50


def format_outliers_text(report: Any) -> str:
    """Human-readable summary of an :class:`~shiftguard.ood.tables.OutlierReport`."""
    rows = [("row", "score", "p", "top features (value; contribution)")]
    for r in report.flagged[:_MAX_TEXT_ROWS]:
        features = ", ".join(f"{f.name}={f.value:.4g} ({f.contribution:+.3g})"
                             for f in r.top_features) or "-"
        rows.append((str(r.row), f"{r.score:.4g}", f"{r.pvalue:.3g}", features))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = ["  ".join([*(v.ljust(w) for v, w in zip(r[:3], widths, strict=True)), r[3]])
             .rstrip() for r in rows] if report.flagged else []
    if report.n_flagged > _MAX_TEXT_ROWS:
        lines.append(f"... {report.n_flagged - _MAX_TEXT_ROWS} more flagged rows "
                     "(--format json or --report lists all)")
    lines.extend(f"excluded: {e.name!r} ({e.kind}): {e.reason}" for e in report.excluded)
    lines.extend(f"note: {note}" for note in report.notes)
    rule = (f"p-value <= {report.threshold_pvalue:.3g}, i.e. score > {report.score_cutoff:.4g}"
            if report.outliers_found or report.method == "threshold"
            else "no p-value passed the Benjamini-Hochberg cut")
    lines.append(f"rule: {rule}. {report.guarantee()}")
    level = (f"alpha {report.alpha:g}" if report.method == "threshold"
             else f"FDR {report.fdr:g}")
    lines.append(
        f"{'OUTLIERS' if report.outliers_found else 'NO OUTLIERS'}: {report.n_flagged} of "
        f"{report.n_new} new rows flagged ({report.detector}, {level}, "
        f"{len(report.features)} features; reference {report.n_reference} rows: "
        f"{report.n_train} to fit, {report.n_calibration} to calibrate)"
    )
    return "\n".join(lines)
