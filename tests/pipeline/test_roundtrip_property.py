"""Property: whatever valid batch is accepted comes back from the event store and profile unchanged."""

from __future__ import annotations

import json
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from fermion.runtime import Runtime
from tests.factories import make_batch, make_event

# NUL is refused at ingest (see test_nul_characters_are_refused_with_their_path).
characters = st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="\x00")
names = st.text(characters, min_size=1, max_size=40)
values = st.one_of(st.text(characters, max_size=60), st.integers(-(2**53), 2**53), st.booleans(), st.none())
attributes = st.dictionaries(names, values, max_size=8)
events = st.lists(st.tuples(names, attributes), min_size=1, max_size=12)
user_attributes = st.dictionaries(
    names, st.one_of(values, st.lists(st.text(characters, max_size=20), max_size=4)), max_size=8
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sent=events, profile_attributes=user_attributes)
def test_batches_round_trip_through_ingest_and_store(
    runtime: Runtime,
    client: TestClient,
    auth: dict[str, str],
    sent: list[tuple[str, dict[str, Any]]],
    profile_attributes: dict[str, Any],
) -> None:
    customer = f"rt-{uuid.uuid4().hex}"
    batch = make_batch(
        [
            make_event(event_name=name, custom_attributes=attrs, timestamp_unixtime_ms=1_700_000_000_000 + i)
            for i, (name, attrs) in enumerate(sent)
        ],
        user_identities={"customer_id": customer},
        user_attributes=profile_attributes,
    )
    response = client.post("/v2/events", content=json.dumps(batch), headers=auth)
    assert response.status_code == 202, response.text
    runtime.new_worker().drain()

    mpid = runtime.profiles.find_by_identity(1, "customer_id", customer)
    assert mpid is not None
    stored = runtime.events.events_of(1, mpid)
    assert [e.event_name for e in stored] == [name for name, _ in sent]
    assert [json.loads(e.body)["data"].get("custom_attributes", {}) for e in stored] == [a for _, a in sent]
    profile = runtime.profiles.get(1, mpid)
    assert profile is not None and profile.user_attributes == profile_attributes


def test_nul_characters_are_refused_with_their_path(
    runtime: Runtime, client: TestClient, auth: dict[str, str]
) -> None:
    batch = make_batch([make_event(custom_attributes={"note": "a\x00b"})])
    response = client.post("/v2/events", content=json.dumps(batch), headers=auth)
    assert response.status_code == 400
    assert response.json()["errors"][0]["path"] == "$.events[0].data.custom_attributes.note"
    assert runtime.inbox.status().depth == 0


def test_events_without_ids_after_the_inbox_drained_are_all_stored(
    runtime: Runtime, client: TestClient, auth: dict[str, str]
) -> None:
    """Inbox ids are never reused, so events identified by their inbox position never collide."""
    for round_number in range(3):
        event = {
            "event_type": "custom_event",
            "data": {"event_name": f"round {round_number}", "custom_event_type": "other"},
        }
        batch = make_batch([event], user_identities={"customer_id": "same-user"})
        assert client.post("/v2/events", content=json.dumps(batch), headers=auth).status_code == 202
        runtime.new_worker().drain()
    mpid = runtime.profiles.find_by_identity(1, "customer_id", "same-user")
    assert mpid is not None
    assert [e.event_name for e in runtime.events.events_of(1, mpid)] == ["round 0", "round 1", "round 2"]
