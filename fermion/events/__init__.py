"""The event store: every processed event, behind one interface with a DuckDB and a PostgreSQL backend.

The state store's schema is managed by Alembic; the event store's by each backend (DuckDB has no Alembic
dialect), with a version row in ``event_store_schema``.
"""

from __future__ import annotations

from pathlib import Path

from fermion.errors import ConfigurationError
from fermion.events.local_reads import EventReads, LocalReadClient, LocalReadServer, socket_path_for
from fermion.events.model import COLUMNS, EventStore, QueryTimeout, StoredEvent


def open_event_store(url: str) -> EventStore:
    """The event store named by ``url``: ``duckdb:///PATH`` or ``postgresql://…``."""
    if url.startswith("duckdb:///"):
        from fermion.events.duckdb_store import DuckDBEventStore

        return DuckDBEventStore(Path(url[len("duckdb:///") :]))
    if url.startswith(("postgresql", "postgres:")):
        from fermion.events.postgres_store import PostgresEventStore

        return PostgresEventStore(url)
    raise ConfigurationError(f"Unsupported event store URL {url!r}: use duckdb:///PATH or postgresql://…")


__all__ = [
    "COLUMNS",
    "EventReads",
    "EventStore",
    "LocalReadClient",
    "LocalReadServer",
    "QueryTimeout",
    "StoredEvent",
    "open_event_store",
    "socket_path_for",
]
