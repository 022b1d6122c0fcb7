"""Storage: SQLAlchemy 2 models, the engine, migrations and the queries the routes use.

The database is the only state of the service: a monitor's reference (Parquet bytes), its
sequential state (:meth:`shiftguard.stream.Monitor.to_dict`) and the state of its
error-stream detector live in the ``monitors`` row, so a restarted server -- or a second
one on the same database -- continues every monitor where it stopped. A batch row holds
the batch's data (:func:`encode_batch_data`), its report (JSON and compressed HTML) and its
step number; ``(monitor_id, step)`` and ``(monitor_id, idempotency_key)`` are unique, so a
sequential state can never fork and a retried post never duplicates a batch.

Writers lock the monitor row (:func:`locked_monitor`) inside :func:`write_session`:
``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite the transaction starts with
``BEGIN IMMEDIATE``, which takes the database's write lock at once (SQLite runs in WAL
mode with ``synchronous=FULL``, so a committed transaction survives a power cut or a
SIGKILL).
"""

from __future__ import annotations

import datetime as dt
import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    TypeDecorator,
    UniqueConstraint,
    create_engine,
    event,
    select,
    text,
)
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    defer,
    mapped_column,
    sessionmaker,
)

#: Seconds a SQLite writer waits for the write lock before giving up.
SQLITE_BUSY_TIMEOUT = 60.0
#: Arbitrary key of the PostgreSQL advisory lock that serialises concurrent migrations.
_MIGRATION_LOCK = 0x5347_5356


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC timestamp on every database (SQLite stores it without zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: dt.datetime | None, dialect: Any
                             ) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {dt.datetime: UTCDateTime}


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    """An API key of a project: its public id and a salted scrypt hash, never the key."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    salt: Mapped[bytes] = mapped_column(LargeBinary)
    digest: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Monitor(Base):
    __tablename__ = "monitors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    options: Mapped[dict[str, Any]] = mapped_column(JSON)
    columns: Mapped[list[str]] = mapped_column(JSON)
    reference: Mapped[bytes] = mapped_column(LargeBinary)
    n_reference: Mapped[int] = mapped_column(Integer)
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    error_state: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    webhook_url: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    n_batches: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Batch(Base):
    __tablename__ = "batches"
    __table_args__ = (
        UniqueConstraint("monitor_id", "step", name="uq_batches_monitor_step"),
        UniqueConstraint("monitor_id", "idempotency_key", name="uq_batches_monitor_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    monitor_id: Mapped[int] = mapped_column(ForeignKey("monitors.id"), index=True)
    step: Mapped[int] = mapped_column(Integer)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    content_sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    report: Mapped[dict[str, Any]] = mapped_column(JSON)
    report_html: Mapped[bytes] = mapped_column(LargeBinary)
    alarm: Mapped[bool] = mapped_column(Boolean)
    n_rows: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Alert(Base):
    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    monitor_id: Mapped[int] = mapped_column(ForeignKey("monitors.id"), index=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id"))
    step: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    message: Mapped[str] = mapped_column(String(2000))
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    webhook_status: Mapped[str] = mapped_column(String(20), default="none")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)


class WebhookDelivery(Base):
    """One attempt to deliver an alert to its monitor's webhook."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    delivered: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Database:
    """An engine, its session factory and, for SQLite, an in-process writer lock.

    SQLite lets one writer in at a time; its busy handler makes the others poll, so
    threads of one process queue on a lock instead (fair and without polling delay);
    ``BEGIN IMMEDIATE`` still serialises writers of different processes.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._writers = threading.Lock()
        self._write_engine = self.engine.execution_options(sqlite_immediate=True)

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        with self.sessions() as session:
            yield session

    @contextmanager
    def write_session(self) -> Iterator[Session]:
        """One transaction, committed when the block ends without an exception."""
        if self.is_sqlite:
            with self._writers, Session(self._write_engine, expire_on_commit=False) as s:
                with s.begin():
                    yield s
        else:
            with self.sessions() as session, session.begin():
                yield session

    def dispose(self) -> None:
        self.engine.dispose()


def make_engine(url: str) -> Engine:
    """Engine for ``url``; SQLite gets WAL, ``synchronous=FULL`` and a busy timeout."""
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT,
                                              "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling would defer BEGIN; we emit it ourselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get("sqlite_immediate", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (a no-op when it is there)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    # Servers starting together on one database migrate one after the other: PostgreSQL
    # through an advisory lock, SQLite through its write lock (BEGIN IMMEDIATE).
    with engine.execution_options(sqlite_immediate=True).begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                               {"key": _MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def encode_batch_data(table: pa.Table) -> bytes:
    """What a batch row keeps of the batch's data: the table as Parquet bytes."""
    sink = io.BytesIO()
    # Dictionary-encoding floats, which rarely repeat, costs 10x the rest of the write.
    repeating = [f.name for f in table.schema if not pa.types.is_floating(f.type)]
    pq.write_table(table, sink, compression="zstd", use_dictionary=repeating)
    return sink.getvalue()


def decode_table(data: bytes) -> pa.Table:
    """The Arrow table of :func:`encode_batch_data` output (also used for references)."""
    return pq.read_table(io.BytesIO(data))


# Queries shared by the API and the dashboard. Every one is scoped to a project, so a
# caller can never reach another project's rows.

def list_monitors(session: Session, project_id: int) -> list[Monitor]:
    return list(session.scalars(select(Monitor).where(Monitor.project_id == project_id)
                                .order_by(Monitor.id)))


def get_monitor(session: Session, project_id: int, monitor_id: int) -> Monitor | None:
    return session.scalar(select(Monitor).where(Monitor.id == monitor_id,
                                                Monitor.project_id == project_id))


def locked_monitor(session: Session, project_id: int, monitor_id: int) -> Monitor | None:
    """The monitor row, locked until the transaction ends (``FOR UPDATE``; SQLite holds
    the database's write lock already)."""
    query = select(Monitor).where(Monitor.id == monitor_id, Monitor.project_id == project_id)
    return session.scalar(query.with_for_update().execution_options(populate_existing=True))


def batch_history(session: Session, monitor_id: int, *, offset: int = 0,
                  limit: int | None = None) -> list[Batch]:
    """Batches of a monitor in step order, without their data (the dashboard's series)."""
    query = (select(Batch).where(Batch.monitor_id == monitor_id).order_by(Batch.step)
             .options(defer(Batch.data), defer(Batch.report), defer(Batch.report_html))
             .offset(offset).limit(limit))
    return list(session.scalars(query))


def alarm_steps(session: Session, monitor_id: int) -> list[int]:
    """Steps of a monitor's batches that raised an alarm, in order."""
    return list(session.scalars(select(Batch.step).where(Batch.monitor_id == monitor_id,
                                                         Batch.alarm.is_(True))
                                .order_by(Batch.step)))


def get_batch(session: Session, monitor_id: int, step: int) -> Batch | None:
    return session.scalar(select(Batch).where(Batch.monitor_id == monitor_id,
                                              Batch.step == step))


def batch_by_key(session: Session, monitor_id: int, key: str) -> Batch | None:
    return session.scalar(select(Batch).where(Batch.monitor_id == monitor_id,
                                              Batch.idempotency_key == key))


def list_alerts(session: Session, project_id: int, *, status: str | None = None,
                monitor_id: int | None = None) -> list[Alert]:
    query = select(Alert).where(Alert.project_id == project_id)
    if status is not None:
        query = query.where(Alert.status == status)
    if monitor_id is not None:
        query = query.where(Alert.monitor_id == monitor_id)
    return list(session.scalars(query.order_by(Alert.id)))


def alert_ids_of_batch(session: Session, batch_id: int) -> list[int]:
    return list(session.scalars(select(Alert.id).where(Alert.batch_id == batch_id)
                                .order_by(Alert.id)))
