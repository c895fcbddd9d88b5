"""An accepted batch is processed into the event store and the profile."""

from __future__ import annotations

from starlette.testclient import TestClient

from fermion.runtime import Runtime
from tests.factories import make_batch, make_event


def test_accepted_batch_is_stored_and_applied(
    runtime: Runtime, client: TestClient, auth: dict[str, str]
) -> None:
    batch = make_batch(
        [make_event(event_name="Signed Up"), make_event("screen_view", screen_name="Home")],
        user_attributes={"tier": "gold"},
        user_identities={"customer_id": "c-1", "email": "c1@example.com"},
    )
    response = client.post("/v2/events", json=batch, headers=auth)
    assert response.status_code == 202, response.text
    runtime.new_worker().drain()
    mpid = runtime.profiles.find_by_identity(1, "customer_id", "c-1")
    assert mpid is not None
    stored = runtime.events.events_of(1, mpid)
    assert [(e.event_type, e.event_name) for e in stored] == [
        ("custom_event", "Signed Up"),
        ("screen_view", "Home"),
    ]
    profile = runtime.profiles.get(1, mpid)
    assert profile is not None and profile.user_attributes == {"tier": "gold"}
    assert runtime.identity.holders(1, "customer_id", "c-1") == [mpid]
    assert runtime.identity.holders(1, "email", "c1@example.com") == [mpid]
