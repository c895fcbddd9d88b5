"""The initial sync of audience connections: a durable cursor per connection (spec activation §3.4).

A connection that becomes active (created active, or switched on) must send the audience's current members,
not only the changes that follow. The periodic outputs job starts a cursor for each active audience
connection that has none, then queues the members a page at a time, by MPID; each page is queued and its
cursor advanced in one transaction, so a crash resumes after the last committed page and queues nothing
twice. The cursor of a connection that is no longer active is forgotten, so switching it on again syncs
again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from fermion.outputs.tables import audience_syncs, connections


@dataclass(frozen=True)
class SyncCursor:
    """Where a connection's initial sync stands: ``running`` or ``done``, and how many members it queued."""

    connection_id: int
    audience_id: int
    status: str
    after_mpid: int | None
    queued: int
    started_ms: int
    finished_ms: int | None


@dataclass(frozen=True)
class SyncPlan:
    """What the outputs job finds: syncs to start (connection → audience), to forget, and running."""

    new: dict[int, int]
    gone: list[int]
    running: list[int]

    @property
    def to_advance(self) -> list[int]:
        """The connections whose sync takes a page now."""
        return sorted([*self.running, *self.new])


def plan(conn: Connection) -> SyncPlan:
    """Compare the active audience connections with the syncs (reads only)."""
    c = connections.c
    active = {
        int(cid): int(aid)
        for cid, aid in conn.execute(select(c.id, c.audience_id).where(c.kind == "audience", c.active))
    }
    known = {int(r.connection_id): r.status for r in conn.execute(select(audience_syncs))}
    return SyncPlan(
        {cid: aid for cid, aid in active.items() if cid not in known},
        [cid for cid in known if cid not in active],
        [cid for cid, status in known.items() if status == "running" and cid in active],
    )


def start_and_forget(conn: Connection, found: SyncPlan, now_ms: int) -> None:
    """Start the syncs of newly active connections and forget those of connections no longer active
    (another worker doing the same at once changes nothing)."""
    if found.gone:
        conn.execute(delete(audience_syncs).where(audience_syncs.c.connection_id.in_(found.gone)))
    if found.new:
        dialect: Any = postgresql if conn.dialect.name == "postgresql" else sqlite
        conn.execute(
            dialect.insert(audience_syncs).on_conflict_do_nothing(),
            [
                {
                    "connection_id": cid,
                    "audience_id": aid,
                    "status": "running",
                    "after_mpid": None,
                    "queued": 0,
                    "started_ms": now_ms,
                    "finished_ms": None,
                }
                for cid, aid in found.new.items()
            ],
        )


def claim(conn: Connection, connection_id: int) -> SyncCursor | None:
    """The running sync of a connection, locked for the caller's transaction (on PostgreSQL, skipped when
    another worker holds it); None when there is none to advance."""
    s = audience_syncs
    query = select(s).where(s.c.connection_id == connection_id, s.c.status == "running")
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    row = conn.execute(query).mappings().first()
    return None if row is None else SyncCursor(**row)


def advance(
    conn: Connection, cursor: SyncCursor, after_mpid: int | None, queued: int, done: bool, now_ms: int
) -> None:
    """Move a sync past the members just queued; ``done`` when the last page was read (the cursor, an
    MPID, is then cleared)."""
    conn.execute(
        update(audience_syncs)
        .where(audience_syncs.c.connection_id == cursor.connection_id)
        .values(
            after_mpid=None if done else (after_mpid if after_mpid is not None else cursor.after_mpid),
            queued=cursor.queued + queued,
            status="done" if done else "running",
            finished_ms=now_ms if done else None,
        )
    )


def cursor_of(conn: Connection, connection_id: int) -> SyncCursor | None:
    """A connection's sync, whatever its status (None before the outputs job has seen the connection)."""
    row = (
        conn.execute(select(audience_syncs).where(audience_syncs.c.connection_id == connection_id))
        .mappings()
        .first()
    )
    return None if row is None else SyncCursor(**row)
