"""The embedded event store: one DuckDB file, written by one process."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from fermion.errors import ConfigurationError
from fermion.events.model import COLUMNS, QueryTimeout, StoredEvent, copy_statement

_SCHEMA = """
CREATE SEQUENCE IF NOT EXISTS event_seq START 1;
CREATE TABLE IF NOT EXISTS events (
    seq BIGINT NOT NULL DEFAULT nextval('event_seq'),
    workspace_id INTEGER NOT NULL,
    input_id INTEGER NOT NULL,
    event_uid VARCHAR NOT NULL,
    mpid BIGINT NOT NULL,
    event_type VARCHAR NOT NULL,
    event_name VARCHAR NOT NULL,
    timestamp_ms BIGINT NOT NULL,
    received_ms BIGINT NOT NULL,
    session_uuid VARCHAR,
    session_id BIGINT,
    environment VARCHAR NOT NULL,
    source_message_id VARCHAR,
    inbox_id BIGINT NOT NULL,
    body JSON NOT NULL,
    PRIMARY KEY (workspace_id, event_uid)
);
CREATE TABLE IF NOT EXISTS event_store_schema (version INTEGER NOT NULL);
"""
_VERSION = 1
_ARROW_SCHEMA = pa.schema(
    [
        ("workspace_id", pa.int32()),
        ("input_id", pa.int32()),
        ("event_uid", pa.string()),
        ("mpid", pa.int64()),
        ("event_type", pa.string()),
        ("event_name", pa.string()),
        ("timestamp_ms", pa.int64()),
        ("received_ms", pa.int64()),
        ("session_uuid", pa.string()),
        ("session_id", pa.int64()),
        ("environment", pa.string()),
        ("source_message_id", pa.string()),
        ("inbox_id", pa.int64()),
        ("body", pa.string()),
    ]
)
_SELECT = "SELECT " + ", ".join(COLUMNS) + ", seq FROM events"


def _row(values: tuple[Any, ...]) -> StoredEvent:
    return StoredEvent(*values)


class DuckDBEventStore:
    """Events in a DuckDB file; appends go in as Arrow tables (DuckDB's per-row inserts are ~300/s)."""

    dialect = "duckdb"

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con = duckdb.connect(str(path), config={"threads": 1})
        except duckdb.IOException as exc:
            raise ConfigurationError(
                f"The embedded event store {path} is in use by another process ({exc}). DuckDB allows one "
                "process: run `fermion serve`, or use PostgreSQL (FERMION_EVENT_STORE_URL) to run "
                "`fermion api` and `fermion worker` apart."
            ) from exc
        self._lock = threading.Lock()
        self._con.execute(_SCHEMA)
        if self._con.execute("SELECT count(*) FROM event_store_schema").fetchone() == (0,):
            self._con.execute("INSERT INTO event_store_schema VALUES (?)", [_VERSION])

    def append(self, events: list[StoredEvent]) -> int:
        if not events:
            return 0
        columns = {name: [getattr(e, name) for e in events] for name in COLUMNS}
        table = pa.Table.from_pydict(columns, schema=_ARROW_SCHEMA)
        with self._lock:
            cursor = self._con.cursor()
            try:
                cursor.register("incoming", table)
                result = cursor.execute(
                    f"INSERT OR IGNORE INTO events ({', '.join(COLUMNS)}) SELECT * FROM incoming"
                ).fetchone()
                cursor.unregister("incoming")
            finally:
                cursor.close()
        return int(result[0]) if result else 0

    def _query(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        with self._lock:
            cursor = self._con.cursor()
            try:
                return cursor.execute(sql, params).fetchall()
            finally:
                cursor.close()

    def tail(self, after_seq: int, limit: int = 100, workspace_id: int | None = None) -> list[StoredEvent]:
        where = "seq > ?" + ("" if workspace_id is None else " AND workspace_id = ?")
        params: list[Any] = [after_seq] + ([] if workspace_id is None else [workspace_id])
        return [
            _row(r) for r in self._query(f"{_SELECT} WHERE {where} ORDER BY seq LIMIT {int(limit)}", params)
        ]

    def last_seq(self) -> int:
        return int(self._query("SELECT coalesce(max(seq), 0) FROM events", [])[0][0])

    def count(self, workspace_id: int | None = None) -> int:
        if workspace_id is None:
            return int(self._query("SELECT count(*) FROM events", [])[0][0])
        return int(self._query("SELECT count(*) FROM events WHERE workspace_id = ?", [workspace_id])[0][0])

    def events_of(self, workspace_id: int, mpid: int) -> list[StoredEvent]:
        rows = self._query(
            f"{_SELECT} WHERE workspace_id = ? AND mpid = ? ORDER BY timestamp_ms, seq", [workspace_id, mpid]
        )
        return [_row(r) for r in rows]

    def copy_events(
        self,
        workspace_id: int,
        source_mpid: int,
        destination_mpid: int,
        start_ms: int,
        end_ms: int,
        uid_prefix: str,
    ) -> int:
        sql = copy_statement("?", "INSERT OR IGNORE", "")
        rows = self._query(sql, [uid_prefix, destination_mpid, workspace_id, source_mpid, start_ms, end_ms])
        return int(rows[0][0]) if rows else 0

    def delete_events(self, workspace_id: int, event_uids: list[str]) -> int:
        if not event_uids:
            return 0
        marks = ", ".join("?" for _ in event_uids)
        rows = self._query(
            f"DELETE FROM events WHERE workspace_id = ? AND event_uid IN ({marks})",
            [workspace_id, *event_uids],
        )
        return int(rows[0][0]) if rows else 0

    def query(self, sql: str, params: dict[str, Any], timeout_s: float) -> list[tuple[Any, ...]]:
        # Appends run on one thread (threads=1); an analytics query may use every core while holding the lock.
        with self._lock:
            cursor = self._con.cursor()
            timer = threading.Timer(timeout_s, cursor.interrupt) if timeout_s > 0 else None
            try:
                cursor.execute(f"SET threads = {os.cpu_count() or 1}")
                if timer is not None:
                    timer.start()
                return cursor.execute(sql, params).fetchall()
            except duckdb.InterruptException as exc:
                raise QueryTimeout(f"The query ran longer than {timeout_s:g} s and was stopped.") from exc
            finally:
                if timer is not None:
                    timer.cancel()
                cursor.execute("SET threads = 1")
                cursor.close()

    def delete_events_of(self, workspace_id: int, mpid: int) -> int:
        rows = self._query("DELETE FROM events WHERE workspace_id = ? AND mpid = ?", [workspace_id, mpid])
        return int(rows[0][0]) if rows else 0

    def close(self) -> None:
        with self._lock:
            self._con.close()
