"""Faulted outputs (spec activation §3.4, §5.4 point 6): a destination refusing the credentials (Klaviyo
or webhook 401/403) faults the output with the reason and time; its records stay queued, nothing is sent
until a resume or new settings, and then everything waiting is delivered."""

from __future__ import annotations

import json
from typing import Any

from starlette.testclient import TestClient
from typer.testing import CliRunner

from fermion.cli.main import app
from fermion.clock import FrozenClock
from fermion.platform import InputCredentials
from fermion.runtime import Runtime
from tests.audiences.conftest import send
from tests.factories import make_batch, make_event
from tests.fakes.klaviyo import FakeKlaviyo
from tests.fakes.webhook import WebhookReceiver
from tests.outputs.conftest import api, deliver, run_pipeline

HOUR = 3_600_000
GOLD = {
    "type": "user_attribute",
    "condition": {"type": "string", "attribute_name": "tier", "operator": "equals", "value": "gold"},
}


def _member(email: str) -> dict[str, Any]:
    return make_batch([], user_identities={"customer_id": f"c-{email}", "email": email},
                      user_attributes={"tier": "gold"})  # fmt: skip


def _klaviyo_output(
    client: TestClient, runtime: Runtime, bearer: dict[str, str], klaviyo: FakeKlaviyo
) -> int:
    audience = api(client, bearer, "POST", "/audiences",
                   {"name": "Gold", "external_name": "Gold members", "criteria": GOLD})  # fmt: skip
    settings = {"private_api_key": "pk_old", "base_url": klaviyo.url, "bulk_wait_s": 0}
    output = api(client, bearer, "POST", "/outputs", {"name": "Klaviyo", "integration": "klaviyo",
                 "settings": settings})  # fmt: skip
    api(client, bearer, "POST", "/connections", {"output_id": output["id"], "audience_id": audience["id"]})
    runtime.new_worker().drain()
    return int(output["id"])


def test_a_refused_klaviyo_key_faults_the_output_until_a_new_key(
    client: TestClient, runtime: Runtime, auth: dict[str, str], bearer: dict[str, str],
    klaviyo: FakeKlaviyo, clock: FrozenClock,
) -> None:  # fmt: skip
    output_id = _klaviyo_output(client, runtime, bearer, klaviyo)
    send(client, auth, _member("ada@example.com"))
    run_pipeline(runtime)
    output = api(client, bearer, "GET", f"/outputs/{output_id}")
    assert output["state"] == "faulted" and output["faulted_ms"] == clock.now_ms()
    assert "HTTP 401" in output["fault_reason"] and "invalid private key" in output["fault_reason"]
    assert output["deliveries"] == {"pending": 1}  # kept queued: not dead-lettered, not lost
    assert api(client, bearer, "GET", "/deliveries/dead-letters") == []
    [entry] = api(client, bearer, "GET", f"/deliveries/ledger?output_id={output_id}")
    assert entry["outcome"] == "faulted" and "HTTP 401" in entry["reason"]
    assert "fermion_outputs_faulted 1.0" in client.get("/metrics").text

    calls = len(klaviyo.requests)
    send(client, auth, _member("bob@example.com"))
    clock.advance(HOUR)
    run_pipeline(runtime)
    deliver(runtime)
    assert len(klaviyo.requests) == calls  # a faulted output is skipped
    assert api(client, bearer, "GET", f"/outputs/{output_id}")["deliveries"] == {"pending": 2}

    fixed = api(
        client, bearer, "PATCH", f"/outputs/{output_id}", {"settings": {"private_api_key": "pk_test"}}
    )
    assert fixed["state"] == "active" and fixed["faulted_ms"] is None and fixed["fault_reason"] is None
    deliver(runtime)
    assert sorted(m["email"] for m in klaviyo.members("Gold members")) == [
        "ada@example.com",
        "bob@example.com",
    ]
    assert api(client, bearer, "GET", f"/outputs/{output_id}")["deliveries"] == {"delivered": 2}
    assert "fermion_outputs_faulted 0.0" in client.get("/metrics").text


def test_a_refused_webhook_faults_and_resume_sends_everything_waiting(
    client: TestClient, runtime: Runtime, auth: dict[str, str], bearer: dict[str, str],
    credentials: InputCredentials, receiver: WebhookReceiver, clock: FrozenClock,
) -> None:  # fmt: skip
    output = api(client, bearer, "POST", "/outputs", {"name": "hook", "integration": "webhook",
                 "settings": {"post_url": receiver.url}})  # fmt: skip
    output_id = output["id"]
    api(client, bearer, "POST", "/connections", {"output_id": output_id, "input_id": credentials.input.id})
    receiver.fail_with(403)
    send(client, auth, make_batch([make_event(event_name="first")]))
    run_pipeline(runtime)
    faulted = api(client, bearer, "GET", "/outputs")[0]
    assert faulted["state"] == "faulted" and "HTTP 403" in faulted["fault_reason"]

    send(client, auth, make_batch([make_event(event_name="second")]))
    clock.advance(6 * HOUR)  # longer than the retry window: time spent faulted does not count against it
    run_pipeline(runtime)
    assert receiver.received == []
    assert api(client, bearer, "GET", f"/outputs/{output_id}")["deliveries"] == {"pending": 2}

    receiver.fail_next(1, 503)  # a passing hiccup after the resume is retried, not dead-lettered
    resumed = api(client, bearer, "POST", f"/outputs/{output_id}/resume")
    assert resumed["state"] == "active" and resumed["deliveries"] == {"pending": 2}
    deliver(runtime)
    assert api(client, bearer, "GET", "/deliveries/dead-letters") == []
    clock.advance(HOUR)
    deliver(runtime)
    names = [b["events"][0]["data"]["event_name"] for b in receiver.received]
    assert names == ["first", "second"]
    outcomes = [e["outcome"] for e in api(client, bearer, "GET", f"/deliveries/ledger?output_id={output_id}")]
    assert outcomes.count("delivered") == 2 and "faulted" in outcomes and "dead_lettered" not in outcomes


def test_klaviyo_events_fault_on_a_refused_key(
    client: TestClient, runtime: Runtime, auth: dict[str, str], bearer: dict[str, str],
    credentials: InputCredentials, klaviyo: FakeKlaviyo,
) -> None:  # fmt: skip
    settings = {"public_api_key": "pub", "private_api_key": "pk_test", "base_url": klaviyo.url}
    output = api(client, bearer, "POST", "/outputs", {"name": "events", "integration": "klaviyo_events",
                 "settings": settings})  # fmt: skip
    api(client, bearer, "POST", "/connections", {"output_id": output["id"], "input_id": credentials.input.id})
    klaviyo.private_key = "pk_rotated"  # the key was revoked on Klaviyo's side
    batch = make_batch([make_event(event_name="Bought")], user_identities={"email": "ada@example.com"})
    send(client, auth, batch)
    run_pipeline(runtime)
    assert api(client, bearer, "GET", f"/outputs/{output['id']}")["state"] == "faulted"
    assert klaviyo.events == []
    api(client, bearer, "PATCH", f"/outputs/{output['id']}", {"settings": {"private_api_key": "pk_rotated"}})
    deliver(runtime)
    assert len(klaviyo.events) == 1


def test_the_cli_shows_and_resumes_a_faulted_output(
    cli_env: None, runtime: Runtime, client: TestClient, auth: dict[str, str],
    credentials: InputCredentials, receiver: WebhookReceiver,
) -> None:  # fmt: skip
    def cli(*args: str) -> Any:
        result = CliRunner().invoke(app, [*args, "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    output = runtime.outputs.outputs.create_output(1, "hook", "webhook", {"post_url": receiver.url})
    runtime.outputs.outputs.create_connection(1, output.id, input_id=credentials.input.id)
    receiver.fail_with(401)
    send(client, auth, make_batch())
    run_pipeline(runtime)
    [listed] = cli("outputs", "list")
    assert listed["state"] == "faulted" and "HTTP 401" in listed["fault_reason"]
    assert cli("outputs", "show", str(output.id))["faulted_ms"] is not None
    receiver.recover()
    assert cli("outputs", "resume", str(output.id))["state"] == "active"
    deliver(runtime)
    assert len(receiver.received) == 1


def test_a_refusal_of_settings_already_replaced_does_not_fault(
    runtime: Runtime, receiver: WebhookReceiver, clock: FrozenClock
) -> None:
    catalog = runtime.outputs.outputs
    output = catalog.create_output(1, "hook", "webhook", {"post_url": receiver.url})
    clock.advance(1000)
    catalog.update_output(1, output.id, settings={"authorization_header": "Bearer new"})
    # a run that started with the old settings is refused: the new ones have not been tried yet
    assert catalog.mark_faulted(output.id, "HTTP 401", output.updated_ms) is False
    assert catalog.output(1, output.id).state == "active"
    current = catalog.output(1, output.id)
    assert catalog.mark_faulted(output.id, "HTTP 401", current.updated_ms) is True
    assert catalog.output(1, output.id).fault_reason == "HTTP 401"
