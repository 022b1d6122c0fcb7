"""Command-line interface: ``shiftguard compare REFERENCE CURRENT`` and
``shiftguard outliers REFERENCE NEW``.

Exit status -- 1 means drift (``outliers``: a flagged row) and nothing else:

- 0: nothing drifted (no row flagged);
- 1: drift found (some row flagged);
- 2: usage or input error (bad flag, unreadable file, bad column...): one line on stderr,
  ``shiftguard: error: ...``, no traceback;
- 3: internal error (a bug in shiftguard or a library under it): one line naming the
  exception; ``--debug`` prints the traceback;
- 130: interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from shiftguard.errors import ParameterError, ShiftguardError

EXIT_OK, EXIT_DRIFT, EXIT_ERROR, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

_NAMED_DELIMITERS = {"\\t": "\t", "tab": "\t"}
#: Allocations between two young-generation collections in the ``shiftguard`` script
#: (Python's default is 700).
_SCRIPT_GC_THRESHOLD = 20_000


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI on ``argv`` (default: the process's arguments); return the exit status.

    Usage errors raise ``SystemExit(2)`` from argparse after printing one line.

    With ``argv=None`` -- the ``shiftguard`` script, a short-lived process -- the cyclic
    garbage collector runs rarely, and what is left at the end is frozen out of it: numba's
    imports and cache loads create some 100,000 long-lived objects, which every collection of
    the older generations walks again (0.05-0.15 s per call; 0.2-0.8 s at the
    interpreter's exit). Arrays are freed by reference counting either way.
    """
    if argv is None:
        gc.set_threshold(_SCRIPT_GC_THRESHOLD)
    args = _parser().parse_args(argv)
    try:
        code = args.run(args)
    except ShiftguardError as exc:
        code = _fail(args, EXIT_ERROR, f"shiftguard: error: {_one_line(exc)}")
    except KeyboardInterrupt:
        code = _fail(args, EXIT_INTERRUPTED, "shiftguard: interrupted")
    except Exception as exc:  # anything else is a bug: one line and exit 3, not 1 ("drift")
        hint = "" if args.debug else " (rerun with --debug for the traceback)"
        code = _fail(args, EXIT_INTERNAL, f"shiftguard: internal error: "
                                          f"{type(exc).__name__}: {_one_line(exc)}{hint}")
    if argv is None:
        gc.freeze()
    return code


def _fail(args: argparse.Namespace, code: int, message: str) -> int:
    if args.debug:
        traceback.print_exc()
    print(message, file=sys.stderr)
    return code


def _one_line(exc: BaseException) -> str:
    return " ".join(line.strip() for line in str(exc).splitlines() if line.strip())


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line, like every other input error."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_ERROR, f"shiftguard: error: {message} (see '{self.prog} --help')\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="shiftguard",
        description="Detect data drift with stated statistical guarantees.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
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
    _add_outliers_parser(sub)
    return parser


def _add_outliers_parser(sub: Any) -> None:
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


def _add_output_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--report", metavar="HTML", help="write a self-contained HTML report here")
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="stdout format")
    parser.add_argument("--debug", action="store_true",
                        help="on an error, print the full traceback (for bug reports)")


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


def _add_column_flags(parser: argparse.ArgumentParser, verb: str) -> None:
    select = parser.add_argument_group(
        "columns", "Each --columns/--exclude names ONE column, taken verbatim (a comma is "
        "part of the name); repeat the flag for several. --columns-list/--exclude-list "
        "take a comma-separated list instead. Default: every column.")
    select.add_argument("--columns", action="append", metavar="NAME",
                        help=f"{verb} this column (repeatable)")
    select.add_argument("--columns-list", action="extend", type=_name_list, dest="columns",
                        metavar="A,B,...", help=f"{verb} these comma-separated columns")
    select.add_argument("--exclude", action="append", metavar="NAME",
                        help="leave this column out (repeatable)")
    select.add_argument("--exclude-list", action="extend", type=_name_list, dest="exclude",
                        metavar="A,B,...", help="leave these comma-separated columns out")
    select.add_argument("--kind", action="append", default=[], metavar="COL=KIND",
                        help="override a column's inferred kind, e.g. zip=categorical; repeatable")


def _add_reading_flags(parser: argparse.ArgumentParser) -> None:
    reading = parser.add_argument_group("reading files")
    reading.add_argument("--encoding", metavar="CODEC",
                         help="text encoding of CSV/TSV/JSON Lines files, any Python codec "
                              "name (latin-1, cp1252, utf-16...) [utf-8]")
    reading.add_argument("--delimiter", type=_delimiter, metavar="CHAR",
                         help="field delimiter of CSV files, one character; '\\t' or 'tab' "
                              "for a tab [detected]")
    reading.add_argument("--missing-values", action="append", default=[], metavar="TOKEN",
                         help="a cell text that means missing, in addition to the default "
                              "tokens; repeatable; write --missing-values=-999 for a token "
                              "starting with '-'")
    reading.add_argument("--no-missing-values", action="store_true",
                         help="switch the default missing-value tokens off (only the "
                              "--missing-values given, if any, mean missing)")


def _name_list(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"empty column name in {text!r}")
    return names


def _delimiter(text: str) -> str:
    char = _NAMED_DELIMITERS.get(text.lower(), text)
    if len(char) != 1 or char in "\r\n\"":
        raise argparse.ArgumentTypeError(
            f"expects one character other than a quote or newline, got {text!r}")
    return char


def _pairs(items: Sequence[str], flag: str) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, value = item.rpartition("=")
        if not sep or not name:
            raise ParameterError(f"{flag} expects COLUMN=VALUE, got {item!r}")
        out[name] = value
    return out


def _read_options(args: argparse.Namespace) -> dict[str, Any]:
    """The reading flags the user set; ``read_table``'s own defaults apply to the rest."""
    options: dict[str, Any] = {}
    if args.encoding is not None:
        options["encoding"] = args.encoding
    if args.delimiter is not None:
        options["delimiter"] = args.delimiter
    if args.no_missing_values or args.missing_values:
        from shiftguard.io import DEFAULT_MISSING_VALUES

        defaults = () if args.no_missing_values else tuple(DEFAULT_MISSING_VALUES)
        options["missing_values"] = (*defaults, *args.missing_values)
    return options


def _read(path: str, label: str, options: dict[str, Any]) -> Any:
    """Read one file into a :class:`~shiftguard.io.Table`, then hand the memory Arrow used
    for parsing back to the system: its pool otherwise keeps about the table's size again
    (180 MiB after a 1M x 20 float Parquet file) through the whole comparison."""
    import pyarrow as pa

    from shiftguard.io import read_table

    table = read_table(path, label=label, **options)
    pa.default_memory_pool().release_unused()
    return table


def _check_report_target(args: argparse.Namespace) -> None:
    """Refuse an unwritable ``--report`` path before the work, which can take minutes."""
    if args.report:
        target = Path(args.report)
        if target.is_dir() or not target.parent.is_dir():
            problem = "it is a directory" if target.is_dir() else "no such directory"
            raise ParameterError(f"--report: cannot write {target}: {problem}")


def _write_report(write: Any, report: Any, args: argparse.Namespace, names: dict[str, str]) -> None:
    """Write the HTML report when ``--report`` asks; a failed write is an input error."""
    if not args.report:
        return
    try:
        write(report, args.report, **names)
    except OSError as exc:
        raise ParameterError(f"--report: cannot write {args.report}: "
                             f"{exc.strerror or exc}") from None


def _compare(args: argparse.Namespace) -> int:
    _check_report_target(args)
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
    from shiftguard.report import write_html

    _write_report(write_html, report, args,
                  {"reference_name": args.reference, "current_name": args.current})
    _emit(json.dumps(report.to_dict(), indent=2) if args.format == "json"
          else format_text(report))
    return EXIT_DRIFT if report.drifted else EXIT_OK


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
    from shiftguard.report.outliers import write_outlier_html

    _write_report(write_outlier_html, report, args,
                  {"reference_name": args.reference, "new_name": args.new})
    _emit(json.dumps(report.to_dict(), indent=2) if args.format == "json"
          else format_outliers_text(report))
    return EXIT_DRIFT if report.outliers_found else EXIT_OK


def _emit(text: str) -> None:
    """Print to stdout; a reader that stopped early (``| head``) does not change the exit
    status, which still gives the verdict."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        # Point stdout at /dev/null so that the interpreter's final flush stays quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


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


def _verdict(column: Any, relevance: bool) -> str:
    if column.drifted:
        return "DRIFT"
    return "detected, not relevant" if relevance and column.detected else "-"


if __name__ == "__main__":
    raise SystemExit(main())
