"""The scale-out event store: one PostgreSQL table, written by any number of workers."""

from __future__ import annotations

import json
import threading
from typing import Any

import psycopg

from fermion.events.model import COLUMNS, QueryTimeout, StoredEvent, copy_statement

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq BIGSERIAL NOT NULL,
    workspace_id INTEGER NOT NULL,
    input_id INTEGER NOT NULL,
    event_uid TEXT NOT NULL,
    mpid BIGINT NOT NULL,
    event_type TEXT NOT NULL,
    event_name TEXT NOT NULL,
    timestamp_ms BIGINT NOT NULL,
    received_ms BIGINT NOT NULL,
    session_uuid TEXT,
    session_id BIGINT,
    environment TEXT NOT NULL,
    source_message_id TEXT,
    inbox_id BIGINT NOT NULL,
    body JSONB NOT NULL,
    PRIMARY KEY (workspace_id, event_uid)
);
CREATE INDEX IF NOT EXISTS ix_events_seq ON events (seq);
CREATE INDEX IF NOT EXISTS ix_events_user ON events (workspace_id, mpid, timestamp_ms);
CREATE TABLE IF NOT EXISTS event_store_schema (version INTEGER NOT NULL);
"""
_VERSION = 1
_SELECT = "SELECT " + ", ".join(COLUMNS) + ", seq FROM events"


def plain_postgres_url(url: str) -> str:
    """A libpq URL from any of the spellings Fermion accepts."""
    for prefix in ("postgresql+psycopg://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url


class PostgresEventStore:
    """Events in PostgreSQL; appends COPY into a staging table, then insert what is new in one statement."""

    dialect = "postgres"

    def __init__(self, url: str) -> None:
        self._url = plain_postgres_url(url)
        self._local = threading.local()
        with psycopg.connect(self._url, autocommit=True) as con:
            con.execute("SELECT pg_advisory_lock(727001)")
            try:
                con.execute(_SCHEMA)
                if con.execute("SELECT count(*) FROM event_store_schema").fetchone() == (0,):
                    con.execute("INSERT INTO event_store_schema VALUES (%s)", [_VERSION])
            finally:
                con.execute("SELECT pg_advisory_unlock(727001)")
        self._connections: list[psycopg.Connection[Any]] = []
        self._connections_lock = threading.Lock()

    def _con(self) -> psycopg.Connection[Any]:
        con: psycopg.Connection[Any] | None = getattr(self._local, "con", None)
        if con is None or con.closed:
            con = psycopg.connect(self._url)
            self._local.con = con
            with self._connections_lock:
                self._connections.append(con)
        return con

    def append(self, events: list[StoredEvent]) -> int:
        if not events:
            return 0
        con = self._con()
        with con.transaction(), con.cursor() as cur:
            # ``position`` keeps the pipeline's order: seq follows it, so a batch's events stay in order.
            cur.execute(
                "CREATE TEMP TABLE IF NOT EXISTS incoming ON COMMIT DELETE ROWS AS "
                f"SELECT {', '.join(COLUMNS)}, 0::bigint AS position FROM events WITH NO DATA"
            )
            with cur.copy(f"COPY incoming ({', '.join(COLUMNS)}, position) FROM STDIN") as copy:
                for position, e in enumerate(events):
                    copy.write_row((*(getattr(e, name) for name in COLUMNS), position))
            cur.execute(
                f"INSERT INTO events ({', '.join(COLUMNS)}) SELECT {', '.join(COLUMNS)} FROM incoming "
                "ORDER BY position ON CONFLICT DO NOTHING"
            )
            return cur.rowcount

    def _query(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        con = self._con()
        with con.transaction(), con.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    def _rows(self, sql: str, params: list[Any]) -> list[StoredEvent]:
        rows = []
        for values in self._query(sql, params):
            fields = dict(zip((*COLUMNS, "seq"), values, strict=True))
            if not isinstance(fields["body"], str):
                fields["body"] = json.dumps(fields["body"], separators=(",", ":"))
            rows.append(StoredEvent(**fields))
        return rows

    def tail(self, after_seq: int, limit: int = 100, workspace_id: int | None = None) -> list[StoredEvent]:
        where = "seq > %s" + ("" if workspace_id is None else " AND workspace_id = %s")
        params: list[Any] = [after_seq] + ([] if workspace_id is None else [workspace_id])
        return self._rows(f"{_SELECT} WHERE {where} ORDER BY seq LIMIT {int(limit)}", params)

    def last_seq(self) -> int:
        return int(self._query("SELECT coalesce(max(seq), 0) FROM events", [])[0][0])

    def count(self, workspace_id: int | None = None) -> int:
        if workspace_id is None:
            return int(self._query("SELECT count(*) FROM events", [])[0][0])
        return int(self._query("SELECT count(*) FROM events WHERE workspace_id = %s", [workspace_id])[0][0])

    def events_of(self, workspace_id: int, mpid: int) -> list[StoredEvent]:
        return self._rows(
            f"{_SELECT} WHERE workspace_id = %s AND mpid = %s ORDER BY timestamp_ms, seq",
            [workspace_id, mpid],
        )

    def copy_events(
        self,
        workspace_id: int,
        source_mpid: int,
        destination_mpid: int,
        start_ms: int,
        end_ms: int,
        uid_prefix: str,
    ) -> int:
        con = self._con()
        with con.transaction(), con.cursor() as cur:
            cur.execute(
                copy_statement("%s", "INSERT", "ON CONFLICT DO NOTHING"),
                [uid_prefix, destination_mpid, workspace_id, source_mpid, start_ms, end_ms],
            )
            return cur.rowcount

    def delete_events(self, workspace_id: int, event_uids: list[str]) -> int:
        if not event_uids:
            return 0
        con = self._con()
        with con.transaction(), con.cursor() as cur:
            cur.execute(
                "DELETE FROM events WHERE workspace_id = %s AND event_uid = ANY(%s)",
                [workspace_id, event_uids],
            )
            return cur.rowcount

    def query(self, sql: str, params: dict[str, Any], timeout_s: float) -> list[tuple[Any, ...]]:
        con = self._con()
        try:
            with con.transaction(), con.cursor() as cur:
                cur.execute("SET TRANSACTION READ ONLY")
                # Analytics statements are scans, aggregations and hash joins over CTEs whose row counts the
                # planner can only guess; a nested loop picked on a low guess turns seconds into minutes.
                cur.execute("SET LOCAL enable_nestloop = off")
                if timeout_s > 0:
                    cur.execute(f"SET LOCAL statement_timeout = {max(1, int(timeout_s * 1000))}")
                cur.execute(sql, params)
                return cur.fetchall()
        except psycopg.errors.QueryCanceled as exc:
            raise QueryTimeout(f"The query ran longer than {timeout_s:g} s and was stopped.") from exc

    def delete_events_of(self, workspace_id: int, mpid: int) -> int:
        con = self._con()
        with con.transaction(), con.cursor() as cur:
            cur.execute("DELETE FROM events WHERE workspace_id = %s AND mpid = %s", [workspace_id, mpid])
            return cur.rowcount

    def close(self) -> None:
        with self._connections_lock:
            for con in self._connections:
                con.close()
            self._connections.clear()
