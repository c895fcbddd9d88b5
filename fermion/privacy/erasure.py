"""Erasure: delete a subject from every store Fermion keeps, with one receipt per store.

Order: the inbox first (batches of the subject still waiting would otherwise be processed afterwards), then
the event store, then the state tables in one transaction. Active audience memberships end with a removal
in the membership-change queue, so that outputs take the person out of their lists; the removal carries the
MPID alone, without identities or attributes. Erasure is idempotent: running it again deletes nothing more.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from sqlalchemy import Connection, Engine, insert, select

from fermion.events import EventStore
from fermion.privacy.stores import (
    MPID_TABLES,
    Subject,
    alias_rows,
    delete_inbox_rows,
    delete_rows,
    delete_shared_payloads,
    inbox_rows,
    table,
)


@dataclass(frozen=True)
class Receipt:
    """What one store reported: ``done`` with the rows it deleted, or ``failed`` with why."""

    store: str
    status: str
    deleted: int
    at_ms: int
    message: str = ""

    def to_json(self) -> dict[str, object]:
        """The receipt as the status response and the audit log show it."""
        return asdict(self)


def erase(engine: Engine, events: EventStore, subject: Subject, now_ms: int) -> list[Receipt]:
    """Delete the subject everywhere; a store that fails gets a ``failed`` receipt and the others go on."""
    receipts: list[Receipt] = []
    try:
        with engine.begin() as conn:
            found = inbox_rows(conn, subject)
            receipts.append(Receipt("inbox", "done", delete_inbox_rows(conn, [i for i, _ in found]), now_ms))
    except Exception as exc:  # recorded on the receipt; the request completes with the failure shown
        receipts.append(Receipt("inbox", "failed", 0, now_ms, type(exc).__name__))
    try:
        deleted = sum(events.delete_events_of(subject.workspace_id, mpid) for mpid in sorted(subject.mpids))
        receipts.append(Receipt("event_store", "done", deleted, now_ms))
    except Exception as exc:  # recorded on the receipt, as above
        receipts.append(Receipt("event_store", "failed", 0, now_ms, type(exc).__name__))
    try:
        with engine.begin() as conn:
            removals = _end_memberships(conn, subject, now_ms)
            payloads = Receipt("output_payloads", "done", delete_shared_payloads(conn, subject), now_ms)
            state = [payloads] + [
                Receipt(name, "done", delete_rows(conn, name, subject), now_ms) for name in MPID_TABLES
            ]
            state.append(Receipt("alias_requests", "done", alias_rows(conn, subject, remove=True), now_ms))
            _emit_removals(conn, removals, now_ms)
        receipts.extend(state)
        receipts.append(Receipt("audience_removals_emitted", "done", len(removals), now_ms))
    except Exception as exc:  # recorded on the receipt, as above
        receipts.append(Receipt("state_store", "failed", 0, now_ms, type(exc).__name__))
    return receipts


def _end_memberships(conn: Connection, subject: Subject, now_ms: int) -> list[tuple[int, int, int]]:
    t = table("audience_memberships")
    if not subject.mpids:
        return []
    rows = conn.execute(
        select(t.c.workspace_id, t.c.audience_id, t.c.mpid).where(
            t.c.workspace_id == subject.workspace_id,
            t.c.mpid.in_(sorted(subject.mpids)),
            t.c.removed_ms.is_(None),
        )
    )
    return [(int(w), int(a), int(m)) for w, a, m in rows]


def _emit_removals(conn: Connection, removals: list[tuple[int, int, int]], now_ms: int) -> None:
    if not removals:
        return
    empty = json.dumps({})
    conn.execute(
        insert(table("audience_changes")),
        [
            {
                "workspace_id": workspace_id,
                "audience_id": audience_id,
                "mpid": mpid,
                "action": "delete",
                "at_ms": now_ms,
                "accepted_ms": None,
                "user_identities": empty,
                "device_identities": empty,
                "user_attributes": empty,
                "delivered_ms": None,
            }
            for workspace_id, audience_id, mpid in removals
        ],
    )
