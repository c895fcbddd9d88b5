"""The DSR API v3: submit, status, list by group, cancel, discovery; statuses and documented errors."""

from __future__ import annotations

import uuid

import pytest
from starlette.testclient import TestClient

from fermion.clock import FrozenClock
from fermion.runtime import Runtime
from tests.factories import basic_auth
from tests.privacy.conftest import submit, v3_request

HOUR = 3_600_000


def _error(client: TestClient, auth: dict[str, str], body: object, status: int = 400) -> str:
    response = client.post("/v3/requests/", json=body, headers=auth)
    assert response.status_code == status, response.text
    payload = response.json()
    assert payload["code"] == status and payload["errors"][0]["message"] == payload["message"]
    assert response.headers["X-OpenDSR-Signature"]
    return str(payload["message"])


def test_submit_is_signed_and_waits_then_can_be_cancelled(
    runtime: Runtime, client: TestClient, auth: dict[str, str], clock: FrozenClock
) -> None:
    body = v3_request(email="w@example.com")
    body["extensions"] = {}
    body["group_id"] = "g1"
    response = client.post("/v3/requests/", json=body, headers=auth)
    assert response.status_code == 201
    assert response.headers["X-OpenDSR-Processor-Domain"] == runtime.settings.dsr_processor_domain
    created = response.json()
    assert set(created) == {
        "expected_completion_time",
        "received_time",
        "encoded_request",
        "subject_request_id",
        "controller_id",
    }
    status = client.get(f"/v3/requests/{body['subject_request_id']}", headers=auth).json()
    assert status["request_status"] == "pending" and status["group_id"] == "g1"
    # The 7-day waiting period: nothing runs before it ends.
    clock.advance(24 * HOUR)
    runtime.new_worker().drain()
    assert (
        client.get(f"/v3/requests/{body['subject_request_id']}", headers=auth).json()["request_status"]
        == "pending"
    )
    listed = client.get("/v3/requests?group_id=g1", headers=auth).json()
    assert [r["subject_request_id"] for r in listed] == [body["subject_request_id"]]
    cancelled = client.delete(f"/v3/requests/{body['subject_request_id']}", headers=auth)
    assert cancelled.status_code == 200 and cancelled.json()["expected_completion_time"] is None
    status = client.get(f"/v3/requests/{body['subject_request_id']}", headers=auth).json()
    assert status["request_status"] == "cancelled"
    again = client.delete(f"/v3/requests/{body['subject_request_id']}", headers=auth)
    assert again.status_code == 400


def test_waiting_period_ends_then_the_request_runs(
    runtime: Runtime, client: TestClient, auth: dict[str, str], clock: FrozenClock
) -> None:
    body = v3_request(email="nobody@example.com")
    body["extensions"] = {}
    submit(client, auth, body)
    clock.advance(runtime.settings.dsr_waiting_period_hours * HOUR)
    runtime.new_worker().drain()
    status = client.get(f"/v3/requests/{body['subject_request_id']}", headers=auth).json()
    assert status["request_status"] == "completed"
    assert client.delete(f"/v3/requests/{body['subject_request_id']}", headers=auth).status_code == 400


def test_documented_errors(client: TestClient, auth: dict[str, str]) -> None:
    body = v3_request(email="dup@example.com")
    submit(client, auth, body)
    assert _error(client, auth, body) == "Subject request already exists."
    twin = {**body, "subject_request_id": str(uuid.uuid4())}
    _error(client, auth, twin, 409)
    too_many = v3_request()
    too_many["extensions"]["opendsr.mparticle.com"]["subject_identities"] = {
        f"other{n}": {"value": f"v{n}", "encoding": "raw"} for n in range(2, 11)
    }
    too_many["subject_identities"] = {"email": {"value": "x@example.com", "encoding": "raw"}}
    submit(client, auth, too_many)  # ten identities are fine
    assert "encoding" in _error(
        client,
        auth,
        v3_request(email="a@example.com")
        | {"subject_identities": {"email": {"value": "a@example.com", "encoding": "sha256"}}},
    )
    mixed = v3_request(email="m@example.com")
    mixed["extensions"]["opendsr.mparticle.com"]["subject_identities"] = {
        "mpid": {"value": "123", "encoding": "raw"}
    }
    assert "only identity" in _error(client, auth, mixed)
    assert "regulation" in _error(client, auth, v3_request(email="r@example.com") | {"regulation": "lgpd"})
    assert "subject_request_type" in _error(
        client, auth, v3_request(email="t@example.com") | {"subject_request_type": "rectify"}
    )
    assert "UUID" in _error(client, auth, v3_request(email="u@example.com") | {"subject_request_id": "nope"})
    assert "extension" in _error(client, auth, v3_request(other="o"))
    assert "identity" in _error(client, auth, v3_request())


def test_more_than_fifty_identities_is_400(client: TestClient, auth: dict[str, str]) -> None:
    from fermion.errors import BadRequest
    from fermion.privacy import MAX_IDENTITIES, SubjectRequest, parse_v3

    body = v3_request(email="a@example.com")
    body["subject_identities"] = {
        f"t{n}": {"value": "v", "encoding": "raw"} for n in range(MAX_IDENTITIES + 1)
    }
    with pytest.raises(BadRequest):
        parse_v3(body)
    assert SubjectRequest  # the door exports the parsed type


def test_auth_unknown_ids_and_discovery(runtime: Runtime, client: TestClient, auth: dict[str, str]) -> None:
    bad = client.post("/v3/requests/", json=v3_request(email="a@example.com"), headers=basic_auth("k", "s"))
    assert bad.status_code == 401 and bad.json()["code"] == 401
    missing = client.get(f"/v3/requests/{uuid.uuid4()}", headers=auth)
    assert missing.status_code == 404
    discovery = client.get("/v3/discovery/")
    assert discovery.status_code == 200
    found = discovery.json()
    assert found["api_version"] == "3.0"
    assert {"identity_type": "email", "identity_format": "raw"} in found["supported_identities"]
    assert found["supported_subject_request_types"] == ["access", "erasure", "portability"]
    cert = client.get(found["processor_certificate"])
    assert cert.status_code == 200 and cert.content.startswith(b"-----BEGIN CERTIFICATE-----")
