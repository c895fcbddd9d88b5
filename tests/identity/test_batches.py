"""Events API batches resolve through IDSync: the same users, the same MPIDs."""

from __future__ import annotations

from starlette.testclient import TestClient

from fermion.runtime import Runtime
from tests.factories import make_batch, make_event


def _identify(client: TestClient, auth: dict[str, str], call: str, identities: dict[str, str]) -> int:
    body = {"environment": "production", "known_identities": identities}
    response = client.post(f"/v1/{call}", json=body, headers=auth)
    assert response.status_code == 200, response.text
    return int(response.json()["mpid"])


def test_a_batch_resolves_to_the_profile_idsync_returned(
    runtime: Runtime, client: TestClient, auth: dict[str, str]
) -> None:
    anonymous = _identify(client, auth, "identify", {"ios_idfv": "dev-1"})
    known = _identify(client, auth, "login", {"customerid": "cust-1", "ios_idfv": "dev-2"})
    batches = [
        make_batch(
            [make_event(event_name="anonymous")], user_identities={}, device_info={"ios_idfv": "dev-1"}
        ),
        make_batch([make_event(event_name="known")], user_identities={"customer_id": "cust-1"}),
        make_batch([make_event(event_name="by mpid")], user_identities={}, mpid=str(known)),
    ]
    for batch in batches:
        assert client.post("/v2/events", json=batch, headers=auth).status_code == 202
    runtime.new_worker().drain()
    by_name = {e.event_name: e.mpid for e in runtime.events.tail(0, 100)}
    assert by_name == {"anonymous": anonymous, "known": known, "by mpid": known}


def test_a_batch_with_an_unseen_mpid_creates_that_profile_and_records_why(
    runtime: Runtime, client: TestClient, auth: dict[str, str]
) -> None:
    batch = make_batch([make_event()], mpid=-4242, user_identities={"email": "x@example.com"})
    assert client.post("/v2/events", json=batch, headers=auth).status_code == 202
    runtime.new_worker().drain()
    assert runtime.identity.holders(1, "email", "x@example.com") == [-4242]
    assert runtime.identity.history(1, -4242)[0].rule == "a batch carried an MPID not seen before"


def test_a_known_users_device_batch_without_login_id_gets_an_anonymous_profile(
    runtime: Runtime, client: TestClient, auth: dict[str, str]
) -> None:
    known = _identify(client, auth, "login", {"customerid": "cust-9", "ios_idfv": "shared"})
    batch = make_batch([make_event()], user_identities={}, device_info={"ios_idfv": "shared"})
    assert client.post("/v2/events", json=batch, headers=auth).status_code == 202
    runtime.new_worker().drain()
    [event] = runtime.events.tail(0, 10)
    assert event.mpid != known
