"""A PostgreSQL server private to one process, for the service tests and benchmark.

Debian's ``postgresql`` binaries (``/usr/lib/postgresql/*/bin``) initialise a cluster in a
temporary directory, which then runs on a free loopback port -- as an unprivileged user
when we are root, since the server refuses to run as root. The package's own cluster is
not used. ``tests/service/conftest.py`` starts one per test session with ``fsync`` off;
``bench/service/servers.py`` one with the server's durable defaults, to measure what a
deployment would see.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL binaries, or no unprivileged user to run them as."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


class PrivatePostgres:
    """Start the server; :meth:`create_database` gives SQLAlchemy URLs, :meth:`stop` ends it.

    ``durable=False`` turns ``fsync`` off (tests); ``settings`` are further ``-c`` options.
    """

    def __init__(self, *, durable: bool, prefix: str, **settings: str | int) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not found:
            raise PostgresUnavailable("PostgreSQL binaries not found in "
                                      "/usr/lib/postgresql/*/bin (Debian's postgresql package)")
        self.bin = Path(found[-1]).parent
        self.version = self.bin.parent.name
        self.user = None
        if os.geteuid() == 0:
            self.user = next((u for u in ("postgres", "nobody") if _user_exists(u)), None)
            if self.user is None:
                raise PostgresUnavailable("running as root without a 'postgres' or 'nobody' "
                                          "user to run PostgreSQL as")
        self.home = Path(tempfile.mkdtemp(prefix=prefix))
        if self.user:
            shutil.chown(self.home, self.user)
        self.data = self.home / "data"
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self._names = itertools.count(1)
        run = {"check": True, "capture_output": True, "timeout": 120}
        initdb = [str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U",
                  "postgres", "-E", "UTF8", *([] if durable else ["--no-sync"])]
        subprocess.run(self._as_user(*initdb), **run)
        options = f"-p {self.port} -k {self.home} -h 127.0.0.1"
        for name, value in {**({} if durable else {"fsync": "off"}), **settings}.items():
            options += f" -c {name}={value}"
        subprocess.run(self._as_user(str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-t",
                                     "60", "-l", str(self.home / "log"), "-o", options, "start"),
                       **run)

    def _as_user(self, *command: str) -> list[str]:
        return ["runuser", "-u", self.user, "--", *command] if self.user else list(command)

    def create_database(self, name: str | None = None) -> str:
        """A new, empty database; returns its SQLAlchemy URL."""
        import psycopg

        name = name or f"db{next(self._names)}"
        with psycopg.connect(f"postgresql://postgres@{self.address}/postgres",
                             autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return f"postgresql+psycopg://postgres@{self.address}/{name}"

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``mode``: pg_ctl's ``fast`` or ``immediate``) and remove it."""
        subprocess.run(self._as_user(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode,
                                     "-w", "stop"), capture_output=True, timeout=60)
        shutil.rmtree(self.home, ignore_errors=True)
