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

from sqlalchemy import Connection, delete, insert, select, update

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


def reconcile(conn: Connection, now_ms: int) -> list[int]:
    """Start a sync for every active audience connection without one and forget those of connections no
    longer active; returns the connections whose sync is running."""
    c = connections.c
    active = dict(conn.execute(select(c.id, c.audience_id).where(c.kind == "audience", c.active)).all())
    known = {int(r.connection_id): r.status for r in conn.execute(select(audience_syncs))}
    gone = [cid for cid in known if cid not in active]
    if gone:
        conn.execute(delete(audience_syncs).where(audience_syncs.c.connection_id.in_(gone)))
    new = [cid for cid in active if cid not in known]
    if new:
        conn.execute(
            insert(audience_syncs),
            [
                {
                    "connection_id": cid,
                    "audience_id": active[cid],
                    "status": "running",
                    "after_mpid": None,
                    "queued": 0,
                    "started_ms": now_ms,
                    "finished_ms": None,
                }
                for cid in new
            ],
        )
    return sorted([cid for cid, status in known.items() if status == "running" and cid in active] + new)


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
    """Move a sync past the members just queued; ``done`` when the last page was read."""
    conn.execute(
        update(audience_syncs)
        .where(audience_syncs.c.connection_id == cursor.connection_id)
        .values(
            after_mpid=after_mpid if after_mpid is not None else cursor.after_mpid,
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
