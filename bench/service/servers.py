"""Processes of the service benchmark: a private PostgreSQL server and ``shiftguard serve``
on uvicorn, both on loopback.

PostgreSQL comes from Debian's ``postgresql`` package, started as the service tests start
it (``tests/postgres_server.py``) -- but with the server's durable defaults (``fsync=on``,
``synchronous_commit=on``): the benchmark measures what a deployment would see, and
SQLite runs with ``synchronous=FULL`` too.

The service runs as ``uvicorn shiftguard.service:create_app --factory`` with the
settings in ``SHIFTGUARD_*`` variables, in its own session, so that :meth:`Service.kill`
can SIGKILL the master and every worker at once, as a crash would.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

# the private PostgreSQL server of the service tests (tests/postgres_server.py)
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
from postgres_server import PrivatePostgres, free_port  # noqa: E402

ADMIN_KEY = "admin-key-of-the-service-benchmark-0123456789"
THREADS = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}


def postgres() -> PrivatePostgres:
    """A PostgreSQL server private to this run, with the server's durable defaults."""
    return PrivatePostgres(durable=True, prefix="shiftguard-bench-pg-", max_connections=300,
                           shared_buffers="256MB")


class Service:
    """``shiftguard serve`` on uvicorn with ``workers`` processes, on a free port."""

    def __init__(self, database_url: str, workers: int, log: Path,
                 port: int | None = None) -> None:
        self.database_url = database_url
        self.workers = workers
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> float:
        """Start and wait until ``/health`` answers; returns the seconds that took."""
        env = {**os.environ, **THREADS, "SHIFTGUARD_DATABASE_URL": self.database_url,
               "SHIFTGUARD_ADMIN_KEY": ADMIN_KEY,
               # The benchmark's clients all come from 127.0.0.1.
               "SHIFTGUARD_AUTH_FAILURES": "1000000"}
        started = time.monotonic()
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "shiftguard.service:create_app", "--factory",
                 "--host", "127.0.0.1", "--port", str(self.port), "--workers",
                 str(self.workers), "--no-access-log", "--timeout-keep-alive", "30"],
                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        while True:
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as response:
                    if response.status == 200:
                        return time.monotonic() - started
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() - started > timeout:
                self.kill()
                tail = self.log.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"the service did not start; the end of its log:\n{tail}")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL the master and all its workers (the whole process group)."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()
        self.process = None
        # The workers, orphaned by the master's death, may hold the listening socket a
        # moment longer: wait until the port can be bound again.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind(("127.0.0.1", self.port))
                    return
                except OSError:
                    time.sleep(0.05)

    def stop(self) -> None:
        if self.process is None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.kill()
        self.process = None
