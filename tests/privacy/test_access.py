"""Access and portability: a JSON archive of exactly the subject's data, authenticated and expiring."""

from __future__ import annotations

import json

from starlette.testclient import TestClient

from fermion.clock import FrozenClock
from fermion.runtime import Runtime
from tests.factories import basic_auth
from tests.privacy.conftest import person_batch, submit, v3_request

DAY = 86_400_000


def test_access_archive_holds_exactly_the_subject(
    runtime: Runtime, client: TestClient, auth: dict[str, str], clock: FrozenClock
) -> None:
    for name in ("erin", "frank"):
        assert client.post("/v2/events", json=person_batch(name), headers=auth).status_code == 202
    runtime.new_worker().drain()
    erin = runtime.profiles.find_by_identity(1, "customer_id", "erin-cid")
    body = v3_request("access", controller_customer_id="erin-cid")
    submit(client, auth, body)
    runtime.new_worker().drain()

    status = client.get(f"/v3/requests/{body['subject_request_id']}", headers=auth).json()
    assert status["request_status"] == "completed"
    url = status["results_url"]
    assert url.endswith(f"/v3/requests/{body['subject_request_id']}/results")
    assert client.get(url).status_code == 401
    response = client.get(url, headers=auth)
    assert response.status_code == 200
    archive = response.json()
    text = response.text
    assert archive["mpids"] == [str(erin)]
    assert "erin@example.com" in archive["identities"]["email"]
    assert [p["user_attributes"] for p in archive["stores"]["profiles"]] == [
        {"secret_attribute": "erin-attribute-value"}
    ]
    assert len(archive["events"]) == 2 and {e["mpid"] for e in archive["events"]} == {str(erin)}
    assert [c["purpose"] for c in archive["stores"]["consent_history"]] == ["marketing"]
    assert "frank" not in text
    # The profile is untouched by an access request.
    assert runtime.profiles.get(1, erin) is not None

    clock.advance(runtime.settings.dsr_results_ttl_days * DAY)
    assert client.get(url, headers=auth).status_code == 410


def test_access_of_nobody_is_404_and_other_workspaces_cannot_read(
    runtime: Runtime, client: TestClient, auth: dict[str, str]
) -> None:
    body = v3_request("portability", email="ghost@example.com")
    submit(client, auth, body)
    runtime.new_worker().drain()
    status = client.get(f"/v3/requests/{body['subject_request_id']}", headers=auth).json()
    assert status["request_status"] == "completed"
    assert client.get(status["results_url"], headers=auth).status_code == 404
    other = runtime.tenancy.create_workspace("other")
    created = runtime.tenancy.create_input(other.id, "server")
    stranger = basic_auth(created.input.api_key, created.api_secret)
    assert client.get(f"/v3/requests/{body['subject_request_id']}", headers=stranger).status_code == 404
    assert json.loads(client.get("/v3/discovery/").text)["api_version"] == "3.0"
