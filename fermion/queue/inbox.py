"""The inbox: accepted batches, durable before the 202, claimed by workers in order per partition."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from fermion.clock import Clock
from fermion.queue.tables import inbox, source_requests

PENDING = 0
PARKED = 1


@dataclass(frozen=True)
class InboxRecord:
    """One accepted batch on its way into the inbox."""

    workspace_id: int
    input_id: int
    partition: int
    user_key: str
    received_ms: int
    channel: str
    historical: bool
    payload: bytes
    source_request_id: str | None


@dataclass(frozen=True)
class InboxItem:
    """One batch claimed from the inbox by a worker."""

    id: int
    workspace_id: int
    input_id: int
    user_key: str
    received_ms: int
    channel: str
    historical: bool
    payload: bytes
    attempts: int


@dataclass(frozen=True)
class ParkedItem:
    """A batch whose processing failed; kept with its error until replayed."""

    id: int
    workspace_id: int
    input_id: int
    received_ms: int
    parked_ms: int
    attempts: int
    error: str


@dataclass(frozen=True)
class InboxStatus:
    """How much waits in the inbox and for how long."""

    depth: int
    parked: int
    oldest_pending_ms: int | None
    lag_ms: int


class Inbox:
    """Reads and writes the inbox tables."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    def enqueue(self, records: Sequence[InboxRecord]) -> list[bool]:
        """Commit ``records`` in one transaction; returns, per record, whether it was new.

        A record whose (input, source_request_id) was accepted before is a client re-send: it is skipped, and
        so is a second record with the same key in ``records``.
        """
        with self._engine.begin() as conn:
            fresh = self._drop_seen_requests(conn, records)
            if fresh:
                conn.execute(
                    insert(inbox),
                    [
                        {
                            "workspace_id": r.workspace_id,
                            "input_id": r.input_id,
                            "partition": r.partition,
                            "user_key": r.user_key,
                            "received_ms": r.received_ms,
                            "channel": r.channel,
                            "historical": int(r.historical),
                            "payload": r.payload,
                            "status": PENDING,
                            "attempts": 0,
                        }
                        for r in fresh
                    ],
                )
        kept = {id(r) for r in fresh}
        return [id(r) in kept for r in records]

    def _drop_seen_requests(self, conn: Connection, records: Sequence[InboxRecord]) -> list[InboxRecord]:
        keyed: dict[tuple[int, str], InboxRecord] = {}
        for record in records:
            if record.source_request_id is not None:
                keyed.setdefault((record.input_id, record.source_request_id), record)
        if not keyed:
            return list(records)
        statement = (
            self._insert(source_requests)
            .on_conflict_do_nothing()
            .returning(source_requests.c.input_id, source_requests.c.source_request_id)
        )
        rows = [
            {"input_id": input_id, "source_request_id": srid, "received_ms": record.received_ms}
            for (input_id, srid), record in keyed.items()
        ]
        new_keys = {(int(i), str(s)) for i, s in conn.execute(statement, rows)}
        kept_ids = {id(keyed[key]) for key in new_keys}
        return [r for r in records if r.source_request_id is None or id(r) in kept_ids]

    def claim(self, partitions: Sequence[int] | None, limit: int) -> list[InboxItem]:
        """The oldest pending batches of ``partitions`` (None: every partition), in acceptance order."""
        query = (
            select(
                inbox.c.id,
                inbox.c.workspace_id,
                inbox.c.input_id,
                inbox.c.user_key,
                inbox.c.received_ms,
                inbox.c.channel,
                inbox.c.historical,
                inbox.c.payload,
                inbox.c.attempts,
            )
            .where(inbox.c.status == PENDING)
            .order_by(inbox.c.id)
            .limit(limit)
        )
        if partitions is not None:
            if not partitions:
                return []
            query = query.where(inbox.c.partition.in_(list(partitions)))
        with self._engine.connect() as conn:
            return [
                InboxItem(int(i), w, inp, uk, rms, ch, bool(h), bytes(p), a)
                for i, w, inp, uk, rms, ch, h, p, a in conn.execute(query)
            ]

    def ack(self, conn: Connection, ids: Sequence[int]) -> None:
        """Remove processed batches, inside the caller's transaction."""
        if ids:
            conn.execute(delete(inbox).where(inbox.c.id.in_(list(ids))))

    def park(self, item_id: int, error: str) -> None:
        """Set a failing batch aside with its error; the worker goes on with the rest."""
        with self._engine.begin() as conn:
            conn.execute(
                update(inbox)
                .where(inbox.c.id == item_id)
                .values(
                    status=PARKED,
                    attempts=inbox.c.attempts + 1,
                    error=error[:4000],
                    parked_ms=self._clock.now_ms(),
                )
            )

    def parked(self, limit: int = 100) -> list[ParkedItem]:
        """Parked batches, oldest first."""
        query = (
            select(
                inbox.c.id,
                inbox.c.workspace_id,
                inbox.c.input_id,
                inbox.c.received_ms,
                inbox.c.parked_ms,
                inbox.c.attempts,
                inbox.c.error,
            )
            .where(inbox.c.status == PARKED)
            .order_by(inbox.c.id)
            .limit(limit)
        )
        with self._engine.connect() as conn:
            return [
                ParkedItem(int(i), w, inp, r, p or 0, a, e or "")
                for i, w, inp, r, p, a, e in conn.execute(query)
            ]

    def replay_parked(self, ids: Sequence[int] | None = None) -> int:
        """Put parked batches (all, or ``ids``) back in line; returns how many."""
        statement = (
            update(inbox).where(inbox.c.status == PARKED).values(status=PENDING, error=None, parked_ms=None)
        )
        if ids is not None:
            statement = statement.where(inbox.c.id.in_(list(ids)))
        with self._engine.begin() as conn:
            return int(conn.execute(statement).rowcount)

    def status(self) -> InboxStatus:
        """Depth, parked count and processing lag (age of the oldest pending batch)."""
        query = select(
            func.count().filter(inbox.c.status == PENDING),
            func.count().filter(inbox.c.status == PARKED),
            func.min(inbox.c.received_ms).filter(inbox.c.status == PENDING),
        )
        with self._engine.connect() as conn:
            depth, parked, oldest = conn.execute(query).one()
        lag = max(0, self._clock.now_ms() - int(oldest)) if oldest is not None else 0
        return InboxStatus(int(depth), int(parked), None if oldest is None else int(oldest), lag)

    def forget_requests_before(self, before_ms: int) -> int:
        """Drop de-duplication keys older than ``before_ms``; returns how many."""
        with self._engine.begin() as conn:
            return int(
                conn.execute(
                    delete(source_requests).where(source_requests.c.received_ms < before_ms)
                ).rowcount
            )
