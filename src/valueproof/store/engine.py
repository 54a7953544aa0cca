"""Engines for SQLite (embedded, WAL) and PostgreSQL, and the two kinds of transaction we run.

Writes to one tenant's data are serialized per tenant (SQLite: `BEGIN IMMEDIATE`, a database-wide
write lock; PostgreSQL: a transaction-scoped advisory lock on the tenant). Ingest batches, so
serializing them costs little, and it makes dedupe and per-tenant sequence numbers race-free.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text

_ADVISORY_NAMESPACE = 0x7650  # "vp": keeps our advisory locks apart from other applications'


def connect_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url`, configured for our transaction discipline."""
    if url.startswith("sqlite"):
        return _sqlite_engine(url, **kwargs)
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _sqlite_engine(url: str, **kwargs: Any) -> Engine:
    engine = create_engine(url, connect_args={"timeout": 60}, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's own handling defers it).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: an acknowledged commit survives power loss, not only a killed process.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get("sqlite_immediate", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


@contextmanager
def write(engine: Engine) -> Iterator[Connection]:
    """A read-write transaction: commits on success, rolls back on any exception."""
    options = {"sqlite_immediate": True} if engine.dialect.name == "sqlite" else {}
    with engine.connect().execution_options(**options) as connection, connection.begin():
        yield connection


@contextmanager
def read(engine: Engine) -> Iterator[Connection]:
    """A read transaction: one consistent snapshot for every query inside it."""
    with engine.connect() as connection, connection.begin():
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield connection


def tenant_lock(connection: Connection, tenant_id: int) -> None:
    """Serialize writers of one tenant until the transaction ends (SQLite already is)."""
    if connection.dialect.name == "postgresql":
        connection.execute(
            text("SELECT pg_advisory_xact_lock(:namespace, :tenant)"),
            {"namespace": _ADVISORY_NAMESPACE, "tenant": tenant_id},
        )


@contextmanager
def tenant_write(engine: Engine, tenant_id: int) -> Iterator[Connection]:
    """A read-write transaction holding the tenant's write lock: how a tenant's writes run."""
    with write(engine) as connection:
        tenant_lock(connection, tenant_id)
        yield connection


def placeholder(connection: Connection) -> str:
    """The DB-API parameter marker of the connection's driver, for hot-path plain SQL."""
    return "?" if connection.dialect.paramstyle == "qmark" else "%s"
