"""The "Send …" connection settings of raw-batch outputs (spec activation §6.1), end to end: a batch with
an event of every kind, location and metadata goes in; the webhook receiver (or the files directory) shows
what each setting lets through."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from fermion.outputs.tables import deliveries, payloads
from fermion.platform import InputCredentials
from fermion.runtime import Runtime
from tests.audiences.conftest import send
from tests.factories import make_batch, make_event
from tests.fakes.webhook import WebhookReceiver
from tests.outputs.conftest import api, run_pipeline

WHERE = {"latitude": 52.37, "longitude": 4.89}
EVENTS = [
    make_event(location=WHERE),
    make_event("screen_view", screen_name="Home", location=WHERE),
    make_event("commerce_event", currency_code="EUR"),
    make_event("session_start"),
    make_event("session_end"),
    make_event("application_state_transition", application_transition_type="application_background"),
    make_event("crash_report", class_name="Boom"),
    make_event("network_performance", url="https://example.com", http_verb="GET"),
    make_event("push_registration", register=True, registration_token="token"),
    make_event("push_message", push_message_type="received"),
    make_event("user_attribute_change", user_attribute_name="tier", new="gold"),
    make_event("user_identity_change"),
    make_event("opt_out", is_opted_out=False),
]
SENT_BY_DEFAULT = {e["event_type"] for e in EVENTS} - {"user_attribute_change", "user_identity_change"}


def _batch(events: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return make_batch(
        EVENTS if events is None else events,
        device_info={"platform": "iOS", "device_model": "iPhone"},
        application_info={"application_name": "Shop"},
        source_info={"channel": "native"},
        context={"location": WHERE},
    )


def _webhook(client: TestClient, bearer: dict[str, str], url: str, input_id: int, settings: Any) -> Any:
    output = api(
        client,
        bearer,
        "POST",
        "/outputs",
        {"name": "hook", "integration": "webhook", "settings": {"post_url": url}},
    )
    body = {"output_id": output["id"], "input_id": input_id, "settings": settings}
    return client.post("/platform/v1/workspace/1/connections", json=body, headers=bearer)


def _received(
    client: TestClient, runtime: Runtime, auth: dict[str, str], bearer: dict[str, str], input_id: int,
    receiver: WebhookReceiver, settings: dict[str, Any], *batches: dict[str, Any],
) -> list[dict[str, Any]]:  # fmt: skip
    assert _webhook(client, bearer, receiver.url, input_id, settings).status_code == 201
    send(client, auth, *batches)
    run_pipeline(runtime)
    return list(receiver.received)


@pytest.mark.parametrize(
    ("setting", "value", "changed"),
    [
        ("send_lifecycle_events", False, {"session_start", "session_end", "application_state_transition"}),
        ("send_screen_views", False, {"screen_view"}),
        ("send_crash_events", False, {"crash_report"}),
        ("send_network_performance_events", False, {"network_performance"}),
        ("send_custom_events", False, {"custom_event"}),
        ("send_push_registrations_and_receipts", False, {"push_registration", "push_message"}),
        ("send_commerce_events", False, {"commerce_event"}),
        ("include_user_attribute_change_events", True, {"user_attribute_change"}),
        ("include_user_identity_change_events", True, {"user_identity_change"}),
    ],
)
def test_event_type_settings(
    client: TestClient, runtime: Runtime, auth: dict[str, str], bearer: dict[str, str],
    credentials: InputCredentials, receiver: WebhookReceiver, setting: str, value: bool, changed: set[str],
) -> None:  # fmt: skip
    [body] = _received(
        client, runtime, auth, bearer, credentials.input.id, receiver, {setting: value}, _batch()
    )
    expected = SENT_BY_DEFAULT - changed if value is False else SENT_BY_DEFAULT | changed
    assert {e["event_type"] for e in body["events"]} == expected


def test_the_defaults(
    client: TestClient, runtime: Runtime, auth: dict[str, str], bearer: dict[str, str],
    credentials: InputCredentials, receiver: WebhookReceiver,
) -> None:  # fmt: skip
    sent = _received(client, runtime, auth, bearer, credentials.input.id, receiver, {}, _batch(), _batch([]))
    [full] = [b for b in sent if b["events"]]
    assert {e["event_type"] for e in full["events"]} == SENT_BY_DEFAULT
    assert all(e["data"]["location"] == WHERE for e in full["events"] if e["event_type"] == "screen_view")
    assert (
        full["device_info"]["device_model"] == "iPhone" and full["application_info"] and full["source_info"]
    )
    assert "context" not in full  # include_event_batch_location is off by default
    assert len(sent) == 2  # the batch without events too


@pytest.mark.parametrize(
    ("chosen", "check"),
    [
        (
            {"include_location_information": False},
            lambda b: all("location" not in e["data"] for e in b["events"]) and b["events"],
        ),
        (
            {"include_metadata": False},
            lambda b: not {"application_info", "device_info", "source_info"} & b.keys() and b["events"],
        ),
        ({"include_event_batch_location": True}, lambda b: b["context"] == {"location": WHERE}),
    ],
    ids=["include_location_information", "include_metadata", "include_event_batch_location"],
)
def test_location_and_metadata_settings(
    client: TestClient, runtime: Runtime, auth: dict[str, str], bearer: dict[str, str],
    credentials: InputCredentials, receiver: WebhookReceiver, chosen: dict[str, Any], check: Any,
) -> None:  # fmt: skip
    [body] = _received(client, runtime, auth, bearer, credentials.input.id, receiver, chosen, _batch())
    assert check(body)


def test_batches_without_events_can_be_held_back(
    client: TestClient, runtime: Runtime, auth: dict[str, str], bearer: dict[str, str],
    credentials: InputCredentials, receiver: WebhookReceiver,
) -> None:  # fmt: skip
    only_changes = _batch([make_event("user_attribute_change", user_attribute_name="tier", new="gold")])
    sent = _received(
        client, runtime, auth, bearer, credentials.input.id, receiver,
        {"send_batches_without_events": False}, _batch([]), only_changes, _batch(),
    )  # fmt: skip
    assert [len(b["events"]) for b in sent] == [len(SENT_BY_DEFAULT)]  # emptied by the settings: not sent


def test_the_files_output_takes_the_settings(
    client: TestClient, runtime: Runtime, auth: dict[str, str], bearer: dict[str, str],
    credentials: InputCredentials, tmp_path: Path,
) -> None:  # fmt: skip
    settings = {"directory": str(tmp_path), "folder_by_date": "none", "bulk_wait_s": 0}
    output = api(
        client, bearer, "POST", "/outputs", {"name": "lake", "integration": "files", "settings": settings}
    )
    connection = {"send_custom_events": False, "include_metadata": False}
    api(client, bearer, "POST", "/connections",
        {"output_id": output["id"], "input_id": credentials.input.id, "settings": connection})  # fmt: skip
    send(client, auth, _batch())
    run_pipeline(runtime)
    [written] = tmp_path.glob("*.txt")
    [body] = [json.loads(line) for line in written.read_text().splitlines()]
    assert {e["event_type"] for e in body["events"]} == SENT_BY_DEFAULT - {"custom_event"}
    assert "device_info" not in body


def test_a_bad_value_is_a_400_naming_the_setting(
    client: TestClient, bearer: dict[str, str], credentials: InputCredentials, receiver: WebhookReceiver
) -> None:
    response = _webhook(client, bearer, receiver.url, credentials.input.id, {"send_screen_views": "no"})
    assert response.status_code == 400
    assert "settings.send_screen_views" in response.text


def test_connections_with_the_same_settings_share_one_stored_payload(
    client: TestClient, runtime: Runtime, auth: dict[str, str], bearer: dict[str, str],
    credentials: InputCredentials, receiver: WebhookReceiver,
) -> None:  # fmt: skip
    for chosen in ({}, {"send_screen_views": True}, {"send_screen_views": False}):
        assert _webhook(client, bearer, receiver.url, credentials.input.id, chosen).status_code == 201
    send(client, auth, _batch())
    runtime.new_worker().drain()
    with runtime.engine.connect() as conn:
        queued = conn.execute(select(deliveries.c.payload_id, deliveries.c.payload)).all()
        stored = conn.execute(select(func.count()).select_from(payloads)).scalar_one()
    assert stored == 1  # the first two: the same settings, one payload
    assert sorted(bool(p) for _, p in queued) == [False, False, True]
    run_pipeline(runtime)
    assert sorted(len(b["events"]) for b in receiver.received) == [
        len(SENT_BY_DEFAULT) - 1,
        *[len(SENT_BY_DEFAULT)] * 2,
    ]
