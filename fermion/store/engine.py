"""State store engines: SQLite (embedded default) and PostgreSQL (scale-out)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

from fermion.errors import ConfigurationError

READ_ONLY_OPTION = "fermion_read_only"
_HOLDS_WRITE_LOCK = "fermion_holds_write_lock"


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A connection for reads only: on SQLite it takes no write lock, so it never waits for writers."""
    with engine.connect() as conn:
        yield conn.execution_options(**{READ_ONLY_OPTION: True})


def is_sqlite(url: str) -> bool:
    """Whether ``url`` names a SQLite database."""
    return url.startswith("sqlite")


def is_postgres(url: str) -> bool:
    """Whether ``url`` names a PostgreSQL database."""
    return url.startswith(("postgresql", "postgres:"))


def normalise_postgres_url(url: str) -> str:
    """The SQLAlchemy spelling of a PostgreSQL URL (psycopg 3 driver)."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def create_state_engine(url: str) -> Engine:
    """An engine for the state store at ``url``, tuned for Fermion's access pattern.

    SQLite runs in WAL mode with ``synchronous=FULL`` (a commit survives power loss, which is what makes a
    202 durable) and every write transaction starts with ``BEGIN IMMEDIATE`` so that concurrent writers queue
    on the busy timeout instead of failing on a lock upgrade.
    """
    if is_sqlite(url):
        return _sqlite_engine(url)
    if is_postgres(url):
        return create_engine(normalise_postgres_url(url), pool_size=8, max_overflow=8, pool_pre_ping=True)
    raise ConfigurationError(f"Unsupported state store URL {url!r}: use sqlite:///PATH or postgresql://…")


def _sqlite_engine(url: str) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=30000")
        # A 64 MiB page cache and memory-mapped reads keep identity lookups off the read syscall path.
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.execute("PRAGMA mmap_size=268435456")
        cursor.close()

    # Writers of this process queue on a lock instead of on SQLite's busy handler, which sleeps in steps of
    # up to 100 ms and so turns contention into long tail latencies.
    write_lock = threading.Lock()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Reads that asked for it run in a deferred transaction (WAL readers never wait for the writer).
        if connection.get_execution_options().get(READ_ONLY_OPTION, False):
            connection.exec_driver_sql("BEGIN")
            return
        write_lock.acquire()
        connection.info[_HOLDS_WRITE_LOCK] = True
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            connection.info.pop(_HOLDS_WRITE_LOCK, None)
            write_lock.release()
            raise

    def _release(connection: Any) -> None:
        if connection.info.pop(_HOLDS_WRITE_LOCK, False):
            write_lock.release()

    event.listen(engine, "commit", _release)
    event.listen(engine, "rollback", _release)

    return engine
