"""Erasure forwarded to Klaviyo: a GDPR erasure submitted with curl for an email deletes the person in
Fermion and at the Klaviyo fake (a data-privacy deletion job), completes with a receipt per store and per
output, and its signed callback verifies. A Klaviyo outage keeps the request in progress and retries it."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from typing import Any

from starlette.testclient import TestClient

from fermion.clock import FrozenClock
from fermion.platform import InputCredentials
from fermion.privacy import verify_signature
from fermion.runtime import Runtime
from tests.audiences.conftest import send
from tests.compat.conftest import live_server
from tests.factories import make_batch, make_event
from tests.fakes.klaviyo import FakeKlaviyo
from tests.outputs.conftest import api, klaviyo_output, run_pipeline
from tests.privacy.conftest import v3_request
from tests.privacy.test_callbacks import controller  # noqa: F401
from tests.privacy.test_erasure import _scan

Controller = tuple[str, list[tuple[dict[str, str], bytes]]]

HAS_EMAIL = {"type": "identity", "identity_type": "email", "operator": "exists"}


def _person(name: str) -> dict[str, Any]:
    return make_batch(
        [make_event(event_name="Viewed", custom_attributes={"note": f"{name}-note"})],
        user_identities={
            "customer_id": f"{name}-cid",
            "email": f"{name}@example.com",
            "mobile_number": "(415) 555-2671" if name == "jane" else "(415) 555-0000",
        },
        user_attributes={"$FirstName": f"{name}-first-name", "$Country": "USA"},
    )


def _klaviyo_audience(
    client: TestClient, bearer: dict[str, str], klaviyo: FakeKlaviyo, **settings: Any
) -> dict[str, Any]:
    audience = api(client, bearer, "POST", "/audiences", {"name": "Emails", "criteria": HAS_EMAIL})
    output = klaviyo_output(client, bearer, klaviyo, **settings)
    api(
        client,
        bearer,
        "POST",
        "/connections",
        {
            "output_id": output["id"],
            "audience_id": audience["id"],
            "settings": {"shared_attributes": ["$FirstName"]},
        },
    )
    return dict(output)


def _curl(*args: str) -> Any:
    done = subprocess.run(
        ["curl", "-sS", "--fail-with-body", *args], capture_output=True, check=True, timeout=30
    )
    return json.loads(done.stdout)


def test_an_erasure_by_email_deletes_the_person_in_fermion_and_at_klaviyo(
    runtime: Runtime,
    client: TestClient,
    auth: dict[str, str],
    bearer: dict[str, str],
    credentials: InputCredentials,
    klaviyo: FakeKlaviyo,
    controller: Controller,  # noqa: F811
) -> None:
    callback_url, received = controller
    _klaviyo_audience(client, bearer, klaviyo)
    runtime.new_worker().drain()
    send(client, auth, _person("jane"), _person("john"))
    run_pipeline(runtime)
    assert {m["email"] for m in klaviyo.members("Emails")} == {"jane@example.com", "john@example.com"}
    jane = runtime.profiles.find_by_identity(1, "email", "jane@example.com")
    assert jane is not None and runtime.events.events_of(1, jane)

    body = v3_request(email="jane@example.com") | {"status_callback_urls": [callback_url]}
    key, secret = credentials.input.api_key, credentials.api_secret
    with live_server(runtime) as port:
        base = f"http://127.0.0.1:{port}"
        created = _curl("-u", f"{key}:{secret}", "-H", "Content-Type: application/json",
                        "-d", json.dumps(body), f"{base}/v3/requests/")  # fmt: skip
        assert created["subject_request_id"] == body["subject_request_id"]
        runtime.new_worker().drain()
        runtime.privacy.orchestrator.send_callbacks()
        status = _curl("-u", f"{key}:{secret}", f"{base}/v3/requests/{body['subject_request_id']}")

    assert status["request_status"] == "completed"
    assert status["extensions"] == [
        {
            "domain": "klaviyo.com",
            "name": "Klaviyo",
            "status": "sent",
            "status_message": "deletion requested by 1 email(s) and 1 phone number(s)",
        }
    ]
    receipts = {r["store"]: r for r in status["receipts"]}
    assert {"inbox", "event_store", "profiles", "identity_links", "audience_memberships"} <= set(receipts)
    assert {"output_deliveries", "output_ledger", "output_payloads", "consent_history"} <= set(receipts)
    assert receipts["output:Klaviyo"]["status"] == "done"
    assert all(r["status"] == "done" for r in receipts.values()), receipts
    # Klaviyo deleted her (by email and by phone); John is untouched.
    assert klaviyo.deletions == [{"email": "jane@example.com"}, {"phone_number": "+14155552671"}]
    assert klaviyo.profile("jane@example.com") is None
    assert [m["email"] for m in klaviyo.members("Emails")] == ["john@example.com"]
    # Nothing of her is left in Fermion; John's data is.
    assert (
        _scan(runtime, ("jane@example.com", "jane-cid", "jane-first-name", "jane-note", "4155552671")) == []
    )
    assert runtime.events.events_of(1, jane) == []
    assert runtime.profiles.find_by_identity(1, "email", "john@example.com") is not None
    # The signed callbacks verify against the published certificate.
    certificate = client.get(client.get("/v3/discovery/").json()["processor_certificate"]).content
    now = dt.datetime.now(dt.UTC)
    assert [json.loads(raw)["request_status"] for _, raw in received] == [
        "pending",
        "in_progress",
        "completed",
    ]
    for headers, raw in received:
        domain = headers["X-OpenDSR-Processor-Domain"]
        assert verify_signature(certificate, domain, raw, headers["X-OpenDSR-Signature"], now)


def _status(client: TestClient, auth: dict[str, str], request_id: str) -> dict[str, Any]:
    response = client.get(f"/v3/requests/{request_id}", headers=auth)
    assert response.status_code == 200, response.text
    return dict(response.json())


def _erase_jane(
    runtime: Runtime,
    client: TestClient,
    auth: dict[str, str],
    bearer: dict[str, str],
    klaviyo: FakeKlaviyo,
    **settings: Any,
) -> str:
    _klaviyo_audience(client, bearer, klaviyo, **settings)
    runtime.new_worker().drain()
    send(client, auth, _person("jane"))
    run_pipeline(runtime)
    assert klaviyo.profile("jane@example.com") is not None
    body = v3_request(email="jane@example.com")
    response = client.post("/v3/requests/", json=body, headers=auth)
    assert response.status_code == 201, response.text
    return str(body["subject_request_id"])


def test_a_klaviyo_outage_keeps_the_erasure_open_until_klaviyo_answers(
    runtime: Runtime,
    client: TestClient,
    auth: dict[str, str],
    bearer: dict[str, str],
    klaviyo: FakeKlaviyo,
    clock: FrozenClock,
) -> None:
    request_id = _erase_jane(runtime, client, auth, bearer, klaviyo)
    klaviyo.fail_with(503)
    runtime.new_worker().drain()
    status = _status(client, auth, request_id)
    assert status["request_status"] == "in_progress"
    [partner] = status["extensions"]
    assert partner["status"] == "pending" and "503" in partner["status_message"]
    receipts = {r["store"]: r["status"] for r in status["receipts"]}
    assert receipts.pop("output:Klaviyo") == "pending"
    assert set(receipts.values()) == {"done"}  # Fermion's own stores are already empty of her
    assert runtime.profiles.find_by_identity(1, "email", "jane@example.com") is None

    clock.advance(10_000)  # not due yet: Klaviyo is not asked again
    asked = len(klaviyo.requests)
    runtime.new_worker().drain()
    assert len(klaviyo.requests) == asked

    klaviyo.recover()
    clock.advance(60_000)
    runtime.new_worker().drain()
    status = _status(client, auth, request_id)
    assert status["request_status"] == "completed"
    assert [p["status"] for p in status["extensions"]] == ["sent"]
    assert klaviyo.profile("jane@example.com") is None
    # Completed: the identities kept for the retry are gone too.
    assert _scan(runtime, ("jane@example.com", "4155552671")) == []
    actions = [line["action"] for line in runtime.privacy.requests.audit_log(1, request_id)]
    assert "forwarding_retry" in actions and actions[-1] == "completed"


def test_a_partner_that_never_recovers_is_recorded_as_failed_after_the_window(
    runtime: Runtime,
    client: TestClient,
    auth: dict[str, str],
    bearer: dict[str, str],
    klaviyo: FakeKlaviyo,
    clock: FrozenClock,
) -> None:
    request_id = _erase_jane(runtime, client, auth, bearer, klaviyo)
    klaviyo.fail_with(429, retry_after="120")
    runtime.new_worker().drain()
    [partner] = _status(client, auth, request_id)["extensions"]
    assert partner["status"] == "pending"
    clock.advance(runtime.settings.dsr_forward_window_hours * 3_600_000)
    runtime.new_worker().drain()
    status = _status(client, auth, request_id)
    assert status["request_status"] == "completed"
    [partner] = status["extensions"]
    assert partner["status"] == "failed" and partner["status_message"].startswith("gave up after 2 attempts")
    assert {r["store"]: r["status"] for r in status["receipts"]}["output:Klaviyo"] == "failed"


def test_outputs_with_forwarding_off_are_not_asked(
    runtime: Runtime, client: TestClient, auth: dict[str, str], bearer: dict[str, str], klaviyo: FakeKlaviyo
) -> None:
    request_id = _erase_jane(runtime, client, auth, bearer, klaviyo, forward_erasure=False)
    runtime.new_worker().drain()
    status = _status(client, auth, request_id)
    assert status["request_status"] == "completed" and status["extensions"] == []
    assert klaviyo.deletions == []


def test_klaviyo_refusing_the_key_is_a_recorded_failure(
    runtime: Runtime, client: TestClient, auth: dict[str, str], bearer: dict[str, str], klaviyo: FakeKlaviyo
) -> None:
    request_id = _erase_jane(runtime, client, auth, bearer, klaviyo)
    klaviyo.private_key = "rotated"
    runtime.new_worker().drain()
    status = _status(client, auth, request_id)
    assert status["request_status"] == "completed"
    assert status["extensions"][0]["status"] == "failed"
    assert "refused the key" in status["extensions"][0]["status_message"]
