"""Erasure empties the subject's delivery queue, shared payloads and ledger rows, and leaves others' alone."""

from __future__ import annotations

from sqlalchemy import func, insert, select

from fermion.privacy.erasure import erase
from fermion.privacy.stores import Subject, table
from fermion.runtime import Runtime


def _delivery(conn: object, mpid: int, payload_id: int) -> None:
    deliveries, ledger = table("output_deliveries"), table("output_ledger")
    row = {
        "output_id": 1,
        "connection_id": 1,
        "workspace_id": 1,
        "mpid": mpid,
        "kind": "batch",
        "payload": "",
        "payload_id": payload_id,
        "status": "pending",
        "attempts": 0,
        "next_attempt_ms": 0,
        "created_ms": 0,
    }
    delivery_id = conn.execute(insert(deliveries).values(**row)).inserted_primary_key[0]  # type: ignore[attr-defined]
    conn.execute(  # type: ignore[attr-defined]
        insert(ledger).values(
            delivery_id=delivery_id,
            output_id=1,
            workspace_id=1,
            mpid=mpid,
            at_ms=0,
            outcome="queued",
            attempt=0,
        )
    )


def test_erasure_removes_the_subjects_deliveries_payloads_and_ledger(runtime: Runtime) -> None:
    payloads = table("output_payloads")
    with runtime.engine.begin() as conn:
        mine = conn.execute(
            insert(payloads).values(payload='{"email": "gone@example.com"}')
        ).inserted_primary_key[0]
        other = conn.execute(
            insert(payloads).values(payload='{"email": "stays@example.com"}')
        ).inserted_primary_key[0]
        _delivery(conn, 111, mine)
        _delivery(conn, 222, other)
    receipts = erase(runtime.engine, runtime.events, Subject(1, {111}), 0)
    done = {r.store: r.deleted for r in receipts if r.status == "done"}
    assert done["output_payloads"] == 1 and done["output_deliveries"] == 1 and done["output_ledger"] == 1
    with runtime.engine.connect() as conn:
        assert [p for (p,) in conn.execute(select(payloads.c.payload))] == ['{"email": "stays@example.com"}']
        for name in ("output_deliveries", "output_ledger"):
            t = table(name)
            assert conn.execute(select(func.count()).select_from(t).where(t.c.mpid == 111)).scalar() == 0
            assert conn.execute(select(func.count()).select_from(t).where(t.c.mpid == 222)).scalar() == 1
