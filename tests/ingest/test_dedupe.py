"""Re-sends are stored once: by source_request_id per input, by source_message_id per workspace.

Events here carry no ``source_message_id`` unless the test is about it, so that only the mechanism under test
can keep a re-send out.
"""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from fermion.pipeline import Worker
from fermion.platform import InputCredentials
from fermion.runtime import Runtime
from tests.factories import basic_auth, make_batch, make_event


def anonymous_event(name: str) -> dict[str, Any]:
    """A custom event without a source_message_id."""
    event = make_event(event_name=name)
    del event["data"]["source_message_id"]
    return event


def names_of(runtime: Runtime, workspace_id: int, customer_id: str) -> list[str]:
    mpid = runtime.profiles.find_by_identity(workspace_id, "customer_id", customer_id)
    assert mpid is not None
    return sorted(e.event_name for e in runtime.events.events_of(workspace_id, mpid))


def test_a_resent_source_request_id_is_accepted_and_stored_once(
    runtime: Runtime, client: TestClient, auth: dict[str, str], worker: Worker, credentials: InputCredentials
) -> None:
    batch = make_batch(
        [anonymous_event("Once")], user_identities={"customer_id": "srid-1"}, source_request_id="r-1"
    )
    first = client.post("/v2/events", json=batch, headers=auth)
    again = client.post("/v2/events", json=batch, headers=auth)
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.content == b""
    assert runtime.inbox.status().depth == 1
    worker.drain()
    assert names_of(runtime, credentials.input.workspace_id, "srid-1") == ["Once"]
    assert runtime.events.count() == 1


def test_a_source_request_id_is_remembered_after_its_batch_was_processed(
    runtime: Runtime, client: TestClient, auth: dict[str, str], worker: Worker
) -> None:
    batch = make_batch([anonymous_event("Once")], source_request_id="r-2")
    assert client.post("/v2/events", json=batch, headers=auth).status_code == 202
    worker.drain()
    assert client.post("/v2/bulkevents", json=[batch], headers=auth).status_code == 202
    assert runtime.inbox.status().depth == 0
    worker.drain()
    assert runtime.events.count() == 1


def test_a_source_request_id_repeated_inside_one_bulk_request_is_stored_once(
    runtime: Runtime, client: TestClient, auth: dict[str, str], worker: Worker
) -> None:
    batch = make_batch([anonymous_event("Once")], source_request_id="r-3")
    other = make_batch([anonymous_event("Other")], source_request_id="r-4")
    response = client.post("/v2/bulkevents", json=[batch, other, batch], headers=auth)
    assert response.status_code == 202
    worker.drain()
    assert runtime.events.count() == 2


def test_the_same_source_request_id_from_another_input_is_not_a_resend(
    runtime: Runtime, client: TestClient, auth: dict[str, str], worker: Worker, credentials: InputCredentials
) -> None:
    second = runtime.tenancy.create_input(credentials.input.workspace_id, "Second server input")
    batch = make_batch(
        [anonymous_event("Twice")], user_identities={"customer_id": "srid-5"}, source_request_id="r-5"
    )
    assert client.post("/v2/events", json=batch, headers=auth).status_code == 202
    other_auth = basic_auth(second.input.api_key, second.api_secret)
    assert client.post("/v2/events", json=batch, headers=other_auth).status_code == 202
    worker.drain()
    assert names_of(runtime, credentials.input.workspace_id, "srid-5") == ["Twice", "Twice"]


def test_a_rejected_request_does_not_use_up_its_source_request_id(
    runtime: Runtime, client: TestClient, auth: dict[str, str], worker: Worker
) -> None:
    bad = make_batch([anonymous_event("Bad")], source_request_id="r-6", environment="qa")
    assert client.post("/v2/events", json=bad, headers=auth).status_code == 400
    good = make_batch([anonymous_event("Good")], source_request_id="r-6")
    assert client.post("/v2/events", json=good, headers=auth).status_code == 202
    worker.drain()
    assert runtime.events.count() == 1


def test_events_resent_with_their_source_message_ids_are_stored_once(
    runtime: Runtime, client: TestClient, auth: dict[str, str], worker: Worker, credentials: InputCredentials
) -> None:
    first, second = make_event(event_name="First"), make_event(event_name="Second")
    user = {"customer_id": "smid-1"}
    assert (
        client.post(
            "/v2/events", json=make_batch([first, second], user_identities=user), headers=auth
        ).status_code
        == 202
    )
    worker.drain()
    third = make_event(event_name="Third")
    resent = make_batch([first, second, third], user_identities=user)
    assert client.post("/v2/events", json=resent, headers=auth).status_code == 202
    worker.drain()
    assert names_of(runtime, credentials.input.workspace_id, "smid-1") == ["First", "Second", "Third"]


def test_events_resent_before_the_worker_ran_are_stored_once(
    runtime: Runtime, client: TestClient, auth: dict[str, str], worker: Worker, credentials: InputCredentials
) -> None:
    event = make_event(event_name="Once")
    batch = make_batch([event], user_identities={"customer_id": "smid-2"})
    for _ in range(2):
        assert client.post("/v2/events", json=batch, headers=auth).status_code == 202
    assert client.post("/v2/bulkevents", json=[batch, batch], headers=auth).status_code == 202
    worker.drain()
    assert names_of(runtime, credentials.input.workspace_id, "smid-2") == ["Once"]


def test_events_without_ids_are_never_taken_for_resends(
    runtime: Runtime, client: TestClient, auth: dict[str, str], worker: Worker, credentials: InputCredentials
) -> None:
    batch = make_batch(
        [anonymous_event("Same"), anonymous_event("Same")], user_identities={"customer_id": "none-1"}
    )
    for _ in range(2):
        assert client.post("/v2/events", json=batch, headers=auth).status_code == 202
    worker.drain()
    assert names_of(runtime, credentials.input.workspace_id, "none-1") == ["Same"] * 4


def test_source_message_ids_are_per_workspace(
    runtime: Runtime, client: TestClient, auth: dict[str, str], worker: Worker, credentials: InputCredentials
) -> None:
    other_workspace = runtime.tenancy.create_workspace("Other")
    other = runtime.tenancy.create_input(other_workspace.id, "Other server input")
    batch = make_batch([make_event(event_name="Shared id")], user_identities={"customer_id": "ws-1"})
    assert client.post("/v2/events", json=batch, headers=auth).status_code == 202
    other_auth = basic_auth(other.input.api_key, other.api_secret)
    assert client.post("/v2/events", json=batch, headers=other_auth).status_code == 202
    worker.drain()
    assert names_of(runtime, credentials.input.workspace_id, "ws-1") == ["Shared id"]
    assert names_of(runtime, other_workspace.id, "ws-1") == ["Shared id"]
