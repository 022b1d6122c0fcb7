"""Fixtures of the service tests: every test runs twice, on a SQLite file and on a real
PostgreSQL server started here (Debian's ``postgresql`` package, which ``make test``
installs), as an unprivileged user in a temporary directory on a free port."""

from __future__ import annotations

import io
import itertools
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from postgres_server import PostgresUnavailable, PrivatePostgres, free_port

pytest.importorskip("fastapi")
pytest.importorskip("sqlalchemy")

ADMIN_KEY = "admin-key-for-the-tests-0123456789"
_DATABASES = itertools.count()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PrivatePostgres]:
    """A PostgreSQL server private to this test session (see ``tests/postgres_server.py``)."""
    try:
        server = PrivatePostgres(durable=False, prefix="shiftguard-pg-", max_connections=200)
    except PostgresUnavailable as exc:
        pytest.skip(f"{exc}: make test installs Debian's postgresql when run as root")
    try:
        yield server
    finally:
        server.stop(mode="immediate")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shiftguard.db'}"
    server = request.getfixturevalue("postgres_server")
    return server.create_database(f"sg{os.getpid()}_{next(_DATABASES)}")


@pytest.fixture
def settings(database_url: str):
    from shiftguard.service import Settings

    return Settings(database_url=database_url, admin_key=ADMIN_KEY, webhook_backoff=0.05,
                    webhook_private=True)


@pytest.fixture
def client(settings) -> Iterator:
    from fastapi.testclient import TestClient

    from shiftguard.service import create_app

    app = create_app(settings)
    with TestClient(app) as test_client:
        yield test_client
    app.state.db.dispose()


def table(n: int, shift: float = 0.0, seed: int = 0) -> pa.Table:
    """Seeded synthetic batch: two normal columns (``a`` shifted by ``shift``) and a
    categorical one."""
    rng = np.random.default_rng(seed)
    return pa.table({"a": rng.normal(size=n) + shift, "b": rng.normal(size=n),
                     "c": rng.choice(["x", "y", "z"], size=n)})


def parquet(data: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(data, sink)
    return sink.getvalue()


@pytest.fixture
def new_project(client) -> Callable[[], dict[str, str]]:
    """Makes a project; returns ``{"id", "key", "headers"}``."""

    def make(name: str = "project") -> dict:
        response = client.post("/projects", json={"name": name},
                               headers={"X-API-Key": ADMIN_KEY})
        assert response.status_code == 201, response.text
        body = response.json()
        return {"id": body["id"], "key": body["api_key"],
                "headers": {"X-API-Key": body["api_key"]}}

    return make


@pytest.fixture
def new_monitor(client) -> Callable[..., int]:
    """Creates a monitor on a 2,000-row reference (seed 1); returns its id."""

    def make(headers: dict, **options) -> int:
        import json

        response = client.post("/monitors", headers=headers,
                               files={"reference": ("reference.parquet",
                                                    parquet(table(2000, seed=1)))},
                               data={"options": json.dumps(options)})
        assert response.status_code == 201, response.text
        return response.json()["id"]

    return make


def post(client, headers: dict, monitor_id: int, data: pa.Table, key: str | None = None,
         **params):
    extra = {"Content-Type": "application/vnd.apache.parquet"}
    if key is not None:
        extra["Idempotency-Key"] = key
    return client.post(f"/monitors/{monitor_id}/batches", headers={**headers, **extra},
                       content=parquet(data), params=params)


class LiveServer:
    """``shiftguard serve`` in a subprocess (uvicorn), on a free port."""

    def __init__(self, database_url: str, log: Path) -> None:
        self.database_url = database_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "SHIFTGUARD_ADMIN_KEY": ADMIN_KEY,
               "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
        self._log = open(log, "ab")  # noqa: SIM115 -- closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "shiftguard.cli", "serve", "--port", str(self.port),
             "--database-url", database_url],
            env=env, stdout=self._log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the server did not start; see {log}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


@pytest.fixture
def start_server(database_url: str, tmp_path: Path) -> Iterator[Callable[[], LiveServer]]:
    """Starts ``shiftguard serve`` on the test's database; every server is stopped after."""
    servers: list[LiveServer] = []

    def start() -> LiveServer:
        servers.append(LiveServer(database_url, tmp_path / f"server{len(servers)}.log"))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def live_server(start_server: Callable[[], LiveServer]) -> LiveServer:
    return start_server()


@pytest.fixture
def data():
    """The helpers above, for the test modules (conftest is not importable by name)."""
    import types

    return types.SimpleNamespace(table=table, parquet=parquet, post=post, admin_key=ADMIN_KEY)
