"""``shiftguard performance REFERENCE CURRENT``: a model's performance per chunk, estimated
without the current labels, and the text table :func:`format_performance_text`."""

from __future__ import annotations

import argparse
import json
from typing import Any

from shiftguard.cli import (
    EXIT_DRIFT,
    EXIT_OK,
    _add_output_flags,
    _add_reading_flags,
    _check_report_target,
    _emit,
    _name_list,
    _read_options,
    _write_report,
)


def add_parser(sub: Any) -> None:
    """``shiftguard performance REFERENCE CURRENT``: a model's performance per chunk of
    CURRENT, estimated from its outputs (columns of both tables) without CURRENT's labels."""
    p = sub.add_parser(
        "performance",
        help="estimate a model's performance on current rows without their labels",
        description=(
            "Both tables hold the model's outputs (--prediction, optionally --proba); "
            "REFERENCE also the true --target (rows held out from training). Per chunk of "
            "CURRENT (--chunk-by) each metric is estimated by each method, with an "
            "interval, beside the realised value where CURRENT has the target. Intervals "
            "are Bonferroni-corrected over chunks, metrics and methods. Exit 0: no "
            "significant drop; 1: some interval lies wholly below the reference value (under "
            "the methods' assumptions a false alarm has probability <= --alpha); 2: usage "
            "or input error; 3: internal error."
        ),
    )
    p.add_argument("reference", help="labelled reference table with the model's outputs: "
                                     ".csv .tsv .jsonl (also compressed), .parquet, .arrow")
    p.add_argument("current", help="current table with the model's outputs (target optional)")
    p.add_argument("--target", required=True, metavar="COL", help="column of the true class")
    p.add_argument("--prediction", required=True, metavar="COL",
                   help="column of the predicted class (the most probable one)")
    p.add_argument("--proba", action="append", default=[], metavar="COL",
                   help="probability column, one per class in the order of --classes "
                        "(binary: one, of the second class); repeatable. None: estimates "
                        "from the hard predictions")
    p.add_argument("--classes", type=_name_list, metavar="A,B,...",
                   help="class labels in order [numeric, else alphabetical]")
    p.add_argument("--chunk-by", metavar="COL",
                   help="column of CURRENT naming the chunks (month, date, batch) [one chunk]")
    p.add_argument("--metric", type=_name_list, default=["accuracy", "roc_auc"],
                   metavar="M,...", help="accuracy, precision, recall, f1, roc_auc "
                                         "[accuracy,roc_auc]")
    p.add_argument("--method", type=_name_list, default=["cbpe"], metavar="M,...",
                   help="cbpe (calibration transfers: covariate shift), label_shift (BBSE "
                        "priors), atc, doc (empirical, no guarantee: their drops can be "
                        "false alarms) [cbpe]")
    p.add_argument("--alpha", type=float, default=0.05,
                   help="family-wise false-alarm level of exit 1 [0.05]")
    p.add_argument("--calibration", choices=("isotonic", "sigmoid", "none"),
                   default="sigmoid",
                   help="how CBPE calibrates on the reference [sigmoid, the library's default: "
                        "isotonic over-estimated accuracy at the edge of the reference range]")
    p.add_argument("--bootstrap", type=int, default=200, help="bootstrap replicates [200]")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstraps [0]")
    _add_output_flags(p)
    _add_reading_flags(p)
    p.set_defaults(run=_performance)


def _performance(args: argparse.Namespace) -> int:
    _check_report_target(args)
    from shiftguard.shift.timeline_tables import timeline_from_tables

    timeline = timeline_from_tables(
        args.reference, args.current, target=args.target, prediction=args.prediction,
        proba=args.proba, chunk_by=args.chunk_by, classes=args.classes, metrics=args.metric,
        methods=args.method, alpha=args.alpha, read_options=_read_options(args),
        calibration=args.calibration, n_bootstrap=args.bootstrap, seed=args.seed)
    _write_report("shiftguard.report.performance.write_performance_html", timeline, args,
                  {"reference_name": args.reference, "current_name": args.current})
    dropped = bool(timeline.drops)
    if args.format == "json":
        _emit(json.dumps({**timeline.to_dict(), "dropped": dropped}, indent=2))
    else:
        _emit(format_performance_text(timeline))
    return EXIT_DRIFT if dropped else EXIT_OK


def format_performance_text(timeline: Any) -> str:
    """Human-readable table of a :class:`~shiftguard.shift.timeline.PerformanceTimeline`."""
    rows = [("chunk", "rows", "metric", "method", "estimate [interval]", "realised", "")]
    for r in timeline.rows:
        rows.append((r.chunk, str(r.n_rows), r.metric, r.method,
                     f"{r.estimate:.4f} [{r.lower:.4f}, {r.upper:.4f}]",
                     "-" if r.covered is None else f"{r.realised:.4f}"
                     + ("" if r.covered else " (outside)"),
                     "DROP" if r.dropped else ""))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    lines.extend(f"note: skipped {s}" for s in timeline.skipped)
    lines.extend(f"assumption of {m}: {a}" for m, a in timeline.assumptions.items())
    refs = ", ".join(f"{k} {v:.4f}" for k, v in timeline.reference_values.items())
    n_drops = len(timeline.drops)
    lines.append(
        f"{'PERFORMANCE DROP' if n_drops else 'NO SIGNIFICANT DROP'}: {n_drops} of "
        f"{len(timeline.rows)} estimates wholly below the reference ({refs}); intervals at "
        f"{timeline.interval_alpha:.3g} each, family-wise alpha {timeline.alpha:g}")
    return "\n".join(lines)
