"""Load and fault benchmark of ``shiftguard serve`` (issue 15, part 7), on loopback only.

For each database (a SQLite file; a PostgreSQL server this script starts itself): start
the service on uvicorn, create one monitor per client (reference: 10,000 x 20), then for
each concurrency level let that many clients post 10,000 x 20 Parquet batches for
``--duration`` seconds, each to its own monitor over its own keep-alive connection, with
a fresh ``Idempotency-Key`` per batch (a client retries a failed connection with the same
key, as :class:`shiftguard.client.Client` does). Then a fault run: the same load, and
half-way through the whole server (master and workers) is SIGKILLed and restarted on
the same port while the clients keep retrying.

After every run the database is read directly: every acknowledged batch must be there
once, at the step it was acknowledged with; no idempotency key twice; every monitor's
steps 1..n without a gap and ``n_batches == n``; and no batch that no client was told of.

Usage (always under the bench lock)::

    flock /tmp/shiftguard-bench.lock .venv/bin/python bench/service/run.py \\
        [--levels 1,2,4,8,50] [--duration 60] [--fault-clients 50] \\
        [--workers sqlite=1,postgresql=2] \\
        [--databases sqlite,postgresql]

Results go to ``bench/out/service/results.json`` and are printed as Markdown tables.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from servers import ADMIN_KEY, Service, postgres  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "bench" / "out" / "service"
PARQUET = "application/vnd.apache.parquet"
N_PAYLOADS = 8
RETRY_PAUSE = 0.2
#: A client gives up on one batch after retrying this long (the fault run's restart
#: takes a few seconds).
GIVE_UP = 180.0


def table_bytes(rows: int, cols: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    table = pa.table({f"x{j}": rng.normal(size=rows) for j in range(cols)})
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def load_average() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


@dataclass
class Run:
    """What the clients of one run saw."""

    database: str
    clients: int
    duration: float
    fault: bool = False
    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    transport_errors: int = 0
    retried_batches: int = 0
    failed_batches: int = 0
    replays: int = 0
    acked: dict[str, tuple[int, int]] = field(default_factory=dict)
    elapsed: float = 0.0
    load_before: float = 0.0
    load_after: float = 0.0
    downtime: float | None = None

    def summary(self) -> dict:
        lat = np.asarray(self.latencies) * 1000
        pct = (lambda q: round(float(np.percentile(lat, q)), 1)) if lat.size else (lambda q: None)
        return {
            "database": self.database, "clients": self.clients, "fault": self.fault,
            "duration_s": self.duration, "elapsed_s": round(self.elapsed, 1),
            "acknowledged": len(self.acked),
            "batches_per_s": round(len(self.acked) / self.elapsed, 2) if self.elapsed else 0,
            "p50_ms": pct(50), "p90_ms": pct(90), "p99_ms": pct(99), "max_ms": pct(100),
            "http_errors": sum(n for s, n in self.statuses.items() if s >= 400),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "transport_errors": self.transport_errors, "retried_batches": self.retried_batches,
            "failed_batches": self.failed_batches, "replays_200": self.replays,
            "load_before": self.load_before, "load_after": self.load_after,
            "downtime_s": None if self.downtime is None else round(self.downtime, 2),
        }


async def client(run: Run, service: Service, key: str, monitor_id: int, index: int,
                 payloads: list[bytes], deadline: float) -> None:
    """Post batches to ``monitor_id`` until ``deadline``; retry a failed connection or a
    5xx with the same idempotency key."""
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx.AsyncClient(base_url=service.url, timeout=GIVE_UP, limits=limits,
                                 headers={"X-API-Key": key, "Content-Type": PARQUET}) as http:
        k = 0
        while time.monotonic() < deadline:
            idem = f"{uuid.uuid4().hex}-{index}-{k}"
            payload = payloads[(index + k) % len(payloads)]
            started = time.monotonic()
            retried = False
            while True:
                try:
                    response = await http.post(f"/monitors/{monitor_id}/batches",
                                               content=payload,
                                               headers={"Idempotency-Key": idem})
                except httpx.TransportError:
                    run.transport_errors += 1
                    response = None
                if response is not None:
                    run.statuses[response.status_code] += 1
                    if response.status_code in (200, 201):
                        run.acked[idem] = (monitor_id, response.json()["step"])
                        run.replays += response.status_code == 200
                        run.latencies.append(time.monotonic() - started)
                        break
                    if response.status_code < 500:
                        run.failed_batches += 1
                        break
                if time.monotonic() - started > GIVE_UP:
                    run.failed_batches += 1
                    break
                retried = True
                await asyncio.sleep(RETRY_PAUSE)
            run.retried_batches += retried
            k += 1


async def _drive(run: Run, service: Service, key: str, monitors: list[int],
                 payloads: list[bytes], kill_at: float | None) -> None:
    started = time.monotonic()
    deadline = started + run.duration
    tasks = [asyncio.create_task(client(run, service, key, monitors[i], i, payloads,
                                        deadline)) for i in range(run.clients)]
    if kill_at is not None:
        await asyncio.sleep(kill_at)
        killed = time.monotonic()
        service.kill()
        await asyncio.to_thread(service.start)
        run.downtime = time.monotonic() - killed
    await asyncio.gather(*tasks)
    run.elapsed = time.monotonic() - started


def drive(run: Run, service: Service, key: str, monitors: list[int],
          payloads: list[bytes], kill_at: float | None = None) -> Run:
    run.load_before = load_average()
    asyncio.run(_drive(run, service, key, monitors, payloads, kill_at))
    run.load_after = load_average()
    return run


def setup(service: Service, n_monitors: int, reference: bytes) -> tuple[str, list[int]]:
    with httpx.Client(base_url=service.url, timeout=120) as http:
        response = http.post("/projects", json={"name": "bench"},
                             headers={"X-API-Key": ADMIN_KEY})
        response.raise_for_status()
        key = response.json()["api_key"]
        monitors = []
        for i in range(n_monitors):
            response = http.post("/monitors", headers={"X-API-Key": key},
                                 files={"reference": ("reference.parquet", reference)},
                                 data={"options": json.dumps({"name": f"bench-{i}"})})
            response.raise_for_status()
            monitors.append(response.json()["id"])
    return key, monitors


def verify(database_url: str, acked: dict[str, tuple[int, int]]) -> dict:
    """Read the database directly: acknowledged batches present once at their step,
    nothing twice, contiguous steps, and nothing no client was told of."""
    from sqlalchemy import func, select

    from shiftguard.service.storage import Batch, Database, Monitor

    db = Database(database_url)
    try:
        with db.read_session() as session:
            rows = session.execute(select(Batch.monitor_id, Batch.step,
                                          Batch.idempotency_key)).all()
            counts = dict(session.execute(select(Monitor.id, Monitor.n_batches)).all())
            twice = session.execute(
                select(Batch.monitor_id, Batch.idempotency_key)
                .group_by(Batch.monitor_id, Batch.idempotency_key)
                .having(func.count() > 1)).all()
    finally:
        db.dispose()
    stored = {key: (monitor, step) for monitor, step, key in rows}
    missing = [k for k in acked if k not in stored]
    wrong_step = [k for k, v in acked.items() if k in stored and stored[k] != v]
    steps: dict[int, list[int]] = {}
    for monitor, step, _ in rows:
        steps.setdefault(monitor, []).append(step)
    gaps = [m for m, s in steps.items() if sorted(s) != list(range(1, len(s) + 1))]
    miscounted = [m for m, n in counts.items() if n != len(steps.get(m, []))]
    return {"batches_in_database": len(rows), "acknowledged": len(acked),
            "lost": len(missing), "at_another_step": len(wrong_step),
            "keys_twice": len(twice), "unacknowledged_in_database": len(stored) - len(
                set(stored) & set(acked)),
            "monitors_with_gaps": len(gaps), "monitors_miscounted": len(miscounted)}


def bench_database(name: str, url: str, args: argparse.Namespace, payloads: list[bytes],
                   reference: bytes, workdir: Path) -> list[dict]:
    results = []
    service = Service(url, args.workers[name], workdir / f"{name}.log")
    start_s = service.start()
    n_monitors = max([*args.levels, args.fault_clients])
    key, monitors = setup(service, n_monitors, reference)
    acked: dict[str, tuple[int, int]] = {}
    try:
        # A short warm-up at the largest level fills every worker's monitor cache.
        warm = drive(Run(name, max(args.levels), min(args.duration, 10.0)), service, key,
                     monitors, payloads)
        acked.update(warm.acked)
        for clients in args.levels:
            run = drive(Run(name, clients, args.duration), service, key, monitors, payloads)
            acked.update(run.acked)
            results.append({**run.summary(), "workers": service.workers,
                            "start_s": round(start_s, 2)})
            print(json.dumps(results[-1]), flush=True)
        if args.fault_clients:
            run = drive(Run(name, args.fault_clients, args.duration, fault=True), service,
                        key, monitors, payloads, kill_at=args.duration / 2)
            acked.update(run.acked)
            results.append({**run.summary(), "workers": service.workers})
            print(json.dumps(results[-1]), flush=True)
        pages = dashboard_timings(service, key, monitors[0])
        print(json.dumps({"database": name, "dashboard": pages}), flush=True)
    finally:
        service.stop()
    check = verify(url, acked)
    print(json.dumps({"database": name, "verification": check}), flush=True)
    for result in results:
        result["verification_after_all_runs"] = check
        result["dashboard"] = pages
    return results


def dashboard_timings(service: Service, key: str, monitor_id: int) -> dict:
    """Seconds to render the busiest monitor's dashboard page (20 features, its last 200
    and last 1,000 batches), best of three, with the server idle."""
    timings = {}
    with httpx.Client(base_url=service.url, timeout=120) as http:
        if http.post("/dashboard/login", data={"key": key}).status_code != 303:
            raise RuntimeError("dashboard login failed")
        n_batches = http.get(f"/monitors/{monitor_id}", headers={"X-API-Key": key}
                             ).json()["n_batches"]
        for last in (200, 1000):
            seconds = []
            for _ in range(3):
                started = time.monotonic()
                response = http.get(f"/dashboard/monitors/{monitor_id}",
                                    params={"last": last})
                response.raise_for_status()
                seconds.append(time.monotonic() - started)
            timings[f"last_{last}"] = {"seconds": round(min(seconds), 3),
                                       "kib": round(len(response.content) / 1024)}
    return {"monitor_batches": n_batches, **timings}


def markdown(results: list[dict]) -> str:
    names = ["database (workers)", "clients", "run", "batches/s", "p50 ms", "p99 ms", "max ms",
             "HTTP errors", "retried", "lost", "twice", "load"]
    lines = ["| " + " | ".join(names) + " |",
             "|---|---:|---|" + "---:|" * (len(names) - 4) + "---|"]
    for r in results:
        v = r["verification_after_all_runs"]
        run = (f"SIGKILL + restart ({r['downtime_s']} s down)" if r["fault"]
               else f"{r['duration_s']:g} s")
        cells = [f"{r['database']} ({r['workers']})", r["clients"], run, r["batches_per_s"],
                 r["p50_ms"], r["p99_ms"], r["max_ms"], r["http_errors"],
                 r["retried_batches"], v["lost"], v["keys_twice"],
                 f"{r['load_before']}-{r['load_after']}"]
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", default="1,2,4,8,50",
                        type=lambda s: [int(x) for x in s.split(",")],
                        help="concurrent clients of each load run [1,2,4,8,50]")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per run [60]")
    parser.add_argument("--fault-clients", type=int, default=50,
                        help="clients of the SIGKILL run (0: no fault run) [50]")
    parser.add_argument("--workers", default="sqlite=1,postgresql=2",
                        type=lambda s: {k: int(v) for k, v in (p.split("=") for p in
                                                                s.split(","))},
                        help="uvicorn workers per database [sqlite=1,postgresql=2]: SQLite "
                             "lets one writer in at a time, and a second process only adds "
                             "its busy-waiting to the queue")
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--cols", type=int, default=20)
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args()

    reference = table_bytes(args.rows, args.cols, seed=0)
    payloads = [table_bytes(args.rows, args.cols, seed=1 + i) for i in range(N_PAYLOADS)]
    workdir = Path(tempfile.mkdtemp(prefix="shiftguard-bench-service-"))
    results: list[dict] = []
    server = None
    try:
        for name in args.databases.split(","):
            if name == "sqlite":
                url = f"sqlite:///{workdir / 'bench.db'}"
            else:
                server = server or postgres()
                url = server.create_database()
            results += bench_database(name, url, args, payloads, reference, workdir)
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    OUT.mkdir(parents=True, exist_ok=True)
    meta = {"rows": args.rows, "cols": args.cols, "workers": args.workers,
            "cpus": os.cpu_count(), "postgres": server.version if server else None,
            "when_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime())}
    (OUT / "results.json").write_text(json.dumps({"meta": meta, "runs": results}, indent=1))
    print(json.dumps(meta))
    print(markdown(results))


if __name__ == "__main__":
    main()
