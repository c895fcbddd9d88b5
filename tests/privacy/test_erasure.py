"""Erasure deletes the subject from every store, including batches still in the inbox, with receipts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.testclient import TestClient

from fermion.runtime import Runtime
from fermion.store import metadata
from tests.privacy.conftest import person_batch, submit, v3_request

PERSONAL = (
    "alice-cid",
    "alice@example.com",
    "ALICE-0000-IDFA",
    "alice-attribute-value",
    "alice-note",
    "alice-doc",
)


def _text(value: Any) -> str:
    if isinstance(value, (bytes, memoryview)):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def _scan(runtime: Runtime, needles: tuple[str, ...]) -> list[tuple[str, str]]:
    """Every (table, needle) where a state table's row holds a needle in any column."""
    found = []
    with runtime.engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(select(table)):
                text = " ".join(_text(v) for v in row)
                found.extend((table.name, n) for n in needles if n in text)
    return found


def _mpid_rows(runtime: Runtime, mpid: int) -> list[tuple[str, dict[str, Any]]]:
    found = []
    with runtime.engine.connect() as conn:
        for table in metadata.sorted_tables:
            columns = [
                c for c in table.c if c.name in ("mpid", "source_mpid", "destination_mpid", "other_mpid")
            ]
            for column in columns:
                for row in conn.execute(select(table).where(column == mpid)):
                    found.append((table.name, dict(row._mapping)))
    return found


def _ingest_two_people(runtime: Runtime, client: TestClient, auth: dict[str, str]) -> tuple[int, int]:
    view_count = {
        "recipe_type": "event",
        "datapoint": {"type": "event", "event_name": "View"},
        "calculation_type": "count",
        "time_period": {"type": "since", "date": "2026-01-01"},
    }
    created = runtime.calculated.create(1, "view count", None, view_count)
    runtime.calculated.activate(1, created.id)
    runtime.audiences.create(
        1, "has email", {"type": "identity", "identity_type": "email", "operator": "exists"}
    )
    for name in ("alice", "bob"):
        assert client.post("/v2/events", json=person_batch(name), headers=auth).status_code == 202
    runtime.new_worker().drain()
    alice = runtime.profiles.find_by_identity(1, "customer_id", "alice-cid")
    bob = runtime.profiles.find_by_identity(1, "customer_id", "bob-cid")
    assert alice is not None and bob is not None
    return alice, bob


def test_erasure_leaves_nothing_of_the_subject_and_everything_of_others(
    runtime: Runtime, client: TestClient, auth: dict[str, str]
) -> None:
    alice, bob = _ingest_two_people(runtime, client, auth)
    assert _scan(runtime, PERSONAL), "the subject is stored before the erasure"
    assert runtime.events.events_of(1, alice)
    held = {name for name, _ in _mpid_rows(runtime, alice)}
    assert {"audience_memberships", "calculated_state", "consent_history", "batch_verdicts"} <= held
    # A batch of the subject still in the inbox when the request arrives.
    late = person_batch("alice", view="Late View")
    assert client.post("/v2/events", json=late, headers=auth).status_code == 202

    body = v3_request(email="alice@example.com")
    created = submit(client, auth, body)
    assert created["controller_id"] == "1"
    status = client.get(f"/v3/requests/{body['subject_request_id']}", headers=auth).json()
    assert status["request_status"] == "pending"

    runtime.new_worker().drain()

    status = client.get(f"/v3/requests/{body['subject_request_id']}", headers=auth).json()
    assert status["request_status"] == "completed"
    receipts = {r["store"]: r for r in status["receipts"]}
    assert {"inbox", "event_store", "profiles", "identity_links", "audience_memberships"} <= set(receipts)
    assert all(r["status"] == "done" for r in receipts.values())
    assert receipts["inbox"]["deleted"] == 1
    assert receipts["event_store"]["deleted"] == 2

    assert _scan(runtime, PERSONAL) == []
    assert runtime.events.events_of(1, alice) == []
    everything = runtime.events.tail(0, 100_000)
    assert not [e for e in everything if any(n in e.body for n in PERSONAL) or e.mpid == alice]
    # The MPID survives only in the audience removals handed to outputs, which carry nothing else.
    left = _mpid_rows(runtime, alice)
    assert {name for name, _ in left} <= {"audience_changes"}
    assert left and all(row["action"] == "delete" and row["user_identities"] == "{}" for _, row in left)

    # Others untouched.
    assert runtime.profiles.get(1, bob) is not None
    assert len(runtime.events.events_of(1, bob)) == 2
    assert runtime.identity.holders(1, "email", "bob@example.com") == [bob]
    assert ("profiles", "bob-attribute-value") in _scan(runtime, ("bob-attribute-value",))

    # The audit log tells who asked and what was done, and holds nothing personal.
    audit = runtime.privacy.requests.audit_log(1, body["subject_request_id"])
    assert [a["action"] for a in audit] == ["submitted", "in_progress", "completed"]
    assert not any(n in str(audit) for n in PERSONAL)
