"""Consent changes reach outputs (spec activation §7.5): raw-batch outputs get one ``system_notifications``
entry per changed purpose, with the current and the old state; other partners (Klaviyo events) get a
"Consent Given" / "Consent Rejected" custom event; a batch that changes nothing carries none."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from fermion.platform import InputCredentials
from fermion.runtime import Runtime
from tests.audiences.conftest import send
from tests.factories import make_batch, make_event
from tests.fakes.klaviyo import FakeKlaviyo
from tests.fakes.webhook import WebhookReceiver
from tests.outputs.conftest import api, run_pipeline

T0 = 1_799_000_000_000


def _consent(consented: bool, at: int) -> dict[str, Any]:
    return {
        "gdpr": {
            "marketing": {
                "consented": consented,
                "document": "terms-v2",
                "timestamp_unixtime_ms": at,
                "location": "example.com/signup",
                "hardware_id": "IDFA-1",
            }
        }
    }


def _batch(consented: bool, at: int) -> dict[str, Any]:
    return make_batch(
        [make_event(event_name="Viewed")],
        user_identities={"email": "consent@example.com"},
        consent_state=_consent(consented, at),
    )


def _connect(
    client: TestClient, bearer: dict[str, str], input_id: int, integration: str, settings: dict[str, Any]
) -> None:
    output = api(client, bearer, "POST", "/outputs", {"name": integration, "integration": integration,
                 "settings": settings})  # fmt: skip
    api(client, bearer, "POST", "/connections", {"output_id": output["id"], "input_id": input_id})


def test_raw_batch_outputs_receive_one_notification_per_changed_purpose(
    client: TestClient, runtime: Runtime, auth: dict[str, str], bearer: dict[str, str],
    credentials: InputCredentials, receiver: WebhookReceiver,
) -> None:  # fmt: skip
    _connect(client, bearer, credentials.input.id, "webhook", {"post_url": receiver.url})
    send(client, auth, _batch(True, T0))
    run_pipeline(runtime)
    send(client, auth, _batch(True, T0))  # the same state again: no change
    run_pipeline(runtime)
    send(client, auth, _batch(False, T0 + 1000))
    run_pipeline(runtime)
    first, same, withdrawn = (body["system_notifications"] for body in receiver.received)
    assert first == [
        {
            "type": "gdpr_change",
            "data": {
                "purpose": "marketing",
                "current": {
                    "regulation": "GDPR",
                    "consented": True,
                    "document": "terms-v2",
                    "timestamp_unixtime_ms": T0,
                    "location": "example.com/signup",
                    "hardware_id": "IDFA-1",
                },
                "old": None,
            },
        }
    ]
    assert same == []
    [change] = withdrawn
    assert change["data"]["current"]["consented"] is False and change["data"]["old"]["consented"] is True


def test_system_notifications_can_be_switched_off(
    client: TestClient, runtime: Runtime, auth: dict[str, str], bearer: dict[str, str],
    credentials: InputCredentials, receiver: WebhookReceiver,
) -> None:  # fmt: skip
    settings = {"post_url": receiver.url, "include_system_notifications": False}
    _connect(client, bearer, credentials.input.id, "webhook", settings)
    send(client, auth, _batch(True, T0))
    run_pipeline(runtime)
    [body] = receiver.received
    assert body["system_notifications"] == [] and len(body["events"]) == 1


def test_other_partners_receive_a_consent_event(
    client: TestClient, runtime: Runtime, auth: dict[str, str], bearer: dict[str, str],
    credentials: InputCredentials, klaviyo: FakeKlaviyo, receiver: WebhookReceiver,
) -> None:  # fmt: skip
    settings = {"public_api_key": "pub", "private_api_key": "pk_test", "base_url": klaviyo.url}
    _connect(client, bearer, credentials.input.id, "klaviyo_events", settings)
    _connect(client, bearer, credentials.input.id, "webhook", {"post_url": receiver.url})
    send(client, auth, _batch(False, T0))
    run_pipeline(runtime)
    names = [e["metric"]["data"]["attributes"]["name"] for e in klaviyo.events]
    assert names == ["Viewed", "Consent Rejected"]
    consent = klaviyo.events[1]["properties"]
    assert consent["purpose"] == "marketing" and consent["consented"] == "false"
    assert consent["regulation"] == "GDPR" and consent["document"] == "terms-v2"
    # The webhook on the same input still gets the notification, not the event.
    [body] = receiver.received
    assert len(body["events"]) == 1 and body["system_notifications"][0]["type"] == "gdpr_change"
