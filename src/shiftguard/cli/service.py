"""``shiftguard serve`` (the monitoring service) and ``shiftguard push MONITOR_ID BATCH``
(post a batch to it)."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from shiftguard.cli import EXIT_DRIFT, EXIT_OK, _emit
from shiftguard.errors import ParameterError


def add_parser(sub: Any) -> None:
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
