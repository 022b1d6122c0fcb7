"""Command-line interface: ``shiftguard compare REFERENCE CURRENT`` and
``shiftguard outliers REFERENCE NEW``; ``shiftguard serve`` runs the monitoring service and
``shiftguard push MONITOR_ID BATCH`` posts a batch to it (exit 1: the batch raised an alarm).

Exit status -- 1 means drift (``outliers``: a flagged row; ``performance``: a significant
drop of the estimated performance) and nothing else:

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
    _add_profile_parser(sub)
    _add_service_parsers(sub)
    _add_performance_parser(sub)
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


def _add_service_parsers(sub: Any) -> None:
    """``serve`` (the monitoring service) and ``push`` (post a batch to it); both import
    the service or client only when run, so ``compare`` never loads FastAPI."""
    p = sub.add_parser(
        "serve",
        help="run the monitoring service (HTTP API; needs the 'serve' extra)",
        description=(
            "Start the monitoring service on uvicorn. Settings come from SHIFTGUARD_* "
            "environment variables: SHIFTGUARD_ADMIN_KEY (creates projects; unset: no "
            "project creation), SHIFTGUARD_DATABASE_URL, SHIFTGUARD_MAX_REQUEST_BYTES, "
            "SHIFTGUARD_AUTH_FAILURES, SHIFTGUARD_AUTH_WINDOW. OpenAPI at /openapi.json."
        ),
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on [127.0.0.1]")
    p.add_argument("--port", type=int, default=8000, help="port [8000]")
    p.add_argument("--database-url", metavar="URL",
                   help="sqlite:///path.db or postgresql+psycopg://user@host/db "
                        "[$SHIFTGUARD_DATABASE_URL or sqlite:///./shiftguard.db]")
    p.add_argument("--debug", action="store_true", help="on an error, print the traceback")
    p.set_defaults(run=_serve)

    p = sub.add_parser(
        "push",
        help="post a batch to a monitor of a running service",
        description=(
            "Post a table as the monitor's next batch and print the outcome. Exit 0: no "
            "alarm; 1: the batch raised an alarm; 2: usage or input error (a refused "
            "request, an unreachable server); 3: internal error (of the server too)."
        ),
    )
    p.add_argument("monitor_id", type=int, help="id of the monitor")
    p.add_argument("batch", help="the batch: .csv .tsv .jsonl .parquet .arrow/.feather")
    p.add_argument("--url", default=os.environ.get("SHIFTGUARD_URL", "http://127.0.0.1:8000"),
                   help="service URL [$SHIFTGUARD_URL or http://127.0.0.1:8000]")
    p.add_argument("--key", default=None,
                   help="API key [$SHIFTGUARD_KEY; prefer the variable: flags show in ps]")
    p.add_argument("--idempotency-key", metavar="KEY",
                   help="reuse this key to retry a push safely [a new random key]")
    p.add_argument("--format", choices=("text", "json"), default="text", help="stdout format")
    p.add_argument("--debug", action="store_true", help="on an error, print the traceback")
    p.set_defaults(run=_push)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from shiftguard.service import Settings, create_app

    settings = Settings.from_env(database_url=args.database_url)
    uvicorn.run(create_app(settings), host=args.host, port=args.port)
    return EXIT_OK


def _push(args: argparse.Namespace) -> int:
    key = args.key or os.environ.get("SHIFTGUARD_KEY")
    if not key:
        raise ParameterError("push needs an API key: set SHIFTGUARD_KEY or pass --key")
    from shiftguard.client import Client

    step = Client(args.url, key).post_batch(args.monitor_id, args.batch,
                                            idempotency_key=args.idempotency_key)
    if args.format == "json":
        _emit(json.dumps(step, indent=2))
    else:
        drifted = ", ".join(step["drifted_columns"]) or "none"
        _emit(f"{'ALARM' if step['alarm'] else 'no alarm'}: batch {step['step']} of monitor "
              f"{step['monitor_id']} ({step['n_rows']} rows; level {step['alpha_spent']:.3g}, "
              f"smallest adjusted p {step['min_pvalue_adjusted']:.3g}); drifted: {drifted}")
    return EXIT_DRIFT if step["alarm"] else EXIT_OK


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
    from shiftguard.report import write_html

    _write_report(write_html, report, args,
                  {"reference_name": args.reference, "current_name": args.current})
    _emit(json.dumps(report.to_dict(), indent=2) if args.format == "json"
          else format_text(report))
    return EXIT_DRIFT if report.drifted else EXIT_OK


def _add_profile_parser(sub: Any) -> None:
    """``shiftguard profile DATA -o OUT.sgprofile``; ``compare`` takes such files (and
    Parquet directories or globs, streamed) through :func:`_compare_profiles`."""
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


def _compares_profiles(args: argparse.Namespace) -> bool:
    from shiftguard.profile.compare import uses_profiles

    return uses_profiles(args.reference) or uses_profiles(args.current)


def _compare_profiles(args: argparse.Namespace) -> int:
    """``compare`` when a side is a .sgprofile file or a Parquet directory or glob."""
    from shiftguard.profile.compare import compare_profiles
    from shiftguard.report import write_html

    report = compare_profiles(
        args.reference, args.current, alpha=args.alpha, correction=args.correction,
        n_permutations=args.permutations, seed=args.seed, columns=args.columns,
        exclude=args.exclude or (), kinds=_pairs(args.kind, "--kind") or None,
        multivariate=args.multivariate, min_effect=args.min_effect,
        tests=_pairs(args.test, "--test") or None, numeric_test=args.numeric_test,
        categorical_test=args.categorical_test)
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


def _add_performance_parser(sub: Any) -> None:
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
                   default="isotonic", help="how CBPE calibrates on the reference [isotonic]")
    p.add_argument("--bootstrap", type=int, default=200, help="bootstrap replicates [200]")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstraps [0]")
    _add_output_flags(p)
    _add_reading_flags(p)
    p.set_defaults(run=_performance)


def _performance(args: argparse.Namespace) -> int:
    _check_report_target(args)
    from shiftguard.report.performance import write_performance_html
    from shiftguard.shift.timeline_tables import timeline_from_tables

    timeline = timeline_from_tables(
        args.reference, args.current, target=args.target, prediction=args.prediction,
        proba=args.proba, chunk_by=args.chunk_by, classes=args.classes, metrics=args.metric,
        methods=args.method, alpha=args.alpha, read_options=_read_options(args),
        calibration=args.calibration, n_bootstrap=args.bootstrap, seed=args.seed)
    _write_report(write_performance_html, timeline, args,
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


if __name__ == "__main__":
    raise SystemExit(main())
