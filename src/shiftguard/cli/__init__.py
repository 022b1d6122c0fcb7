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

The package holds the entry point, the parser and the helpers every subcommand shares; one
module per subcommand family (:mod:`~shiftguard.cli.compare`, :mod:`~shiftguard.cli.outliers`,
:mod:`~shiftguard.cli.profile`, :mod:`~shiftguard.cli.service`,
:mod:`~shiftguard.cli.performance`) adds its parser and runs it. Building the parser imports
NumPy at most, never SciPy, pandas, the detectors, Dask or the service: each subcommand
imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from shiftguard._lazy import lazy_exports
from shiftguard.errors import ParameterError, ShiftguardError

EXIT_OK, EXIT_DRIFT, EXIT_ERROR, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

_NAMED_DELIMITERS = {"\\t": "\t", "tab": "\t"}
#: Allocations between two young-generation collections in the ``shiftguard`` script
#: (Python's default is 700).
_SCRIPT_GC_THRESHOLD = 20_000
#: The text formatters, each in its subcommand's module, kept importable from here.
_FORMATTERS = {"format_text": "compare", "format_outliers_text": "outliers",
               "format_performance_text": "performance"}


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
    from shiftguard.cli import compare, outliers, performance, profile, service

    parser = _Parser(
        prog="shiftguard",
        description="Detect data drift with stated statistical guarantees.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    compare.add_parser(sub)
    outliers.add_parser(sub)
    profile.add_parser(sub)
    service.add_parser(sub)
    performance.add_parser(sub)
    return parser


def _add_output_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--report", metavar="HTML", help="write a self-contained HTML report here")
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="stdout format")
    parser.add_argument("--debug", action="store_true",
                        help="on an error, print the full traceback (for bug reports)")


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


def _write_report(writer: str, report: Any, args: argparse.Namespace,
                  names: dict[str, str]) -> None:
    """Write the HTML report when ``--report`` asks, with the function ``writer`` names
    (``"module.function"``, imported only then); a failed write is an input error."""
    if not args.report:
        return
    module, _, function = writer.rpartition(".")
    write = getattr(importlib.import_module(module), function)
    try:
        write(report, args.report, **names)
    except OSError as exc:
        raise ParameterError(f"--report: cannot write {args.report}: "
                             f"{exc.strerror or exc}") from None


def _emit(text: str) -> None:
    """Print to stdout; a reader that stopped early (``| head``) does not change the exit
    status, which still gives the verdict."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        # Point stdout at /dev/null so that the interpreter's final flush stays quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


__getattr__, _ = lazy_exports(
    __name__, {name: f"shiftguard.cli.{module}" for name, module in _FORMATTERS.items()})
