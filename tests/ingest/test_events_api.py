"""The Events API accepts what mParticle's clients send: one batch, bulk, historical, gzip, trailing slashes.

Also the operations endpoints a deployment watches: /metrics, /healthz and /readyz.
"""

from __future__ import annotations

import gzip
import json
import time
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from fermion.platform import InputCredentials
from fermion.runtime import Runtime
from tests.factories import make_batch, make_event

HOUR_MS = 3_600_000
PATHS = ["/v2/events", "/v2/bulkevents", "/v2/bulkevents/historical"]


def stored_of(runtime: Runtime, workspace_id: int, customer_id: str) -> list[tuple[str, str]]:
    """(event_type, event_name) of every stored event of the user with ``customer_id``."""
    mpid = runtime.profiles.find_by_identity(workspace_id, "customer_id", customer_id)
    assert mpid is not None, f"no profile has customer_id {customer_id}"
    return [(e.event_type, e.event_name) for e in runtime.events.events_of(workspace_id, mpid)]


def metric(client: TestClient, name: str, **labels: str) -> float:
    """The value of one sample of ``GET /metrics``."""
    response = client.get("/metrics")
    assert response.status_code == 200
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    raise AssertionError(f"/metrics has no sample {name}{labels}")


def old_event(hours: int, **data: Any) -> dict[str, Any]:
    """A custom event whose timestamp is ``hours`` old."""
    return make_event(timestamp_unixtime_ms=int(time.time() * 1000) - hours * HOUR_MS, **data)


def body_for(path: str, customer_id: str) -> Any:
    """A valid body for ``path``: one batch, or an array of one (with old events for historical)."""
    if path.rstrip("/").endswith("/events"):
        return make_batch(user_identities={"customer_id": customer_id})
    events = [old_event(100)] if "historical" in path else None
    return [make_batch(events, user_identities={"customer_id": customer_id})]


def test_one_batch_is_answered_202_with_an_empty_body_and_stored(
    runtime: Runtime, client: TestClient, auth: dict[str, str], credentials: InputCredentials
) -> None:
    batch = make_batch(
        [make_event(event_name="Signed Up"), make_event("screen_view", screen_name="Pricing")],
        user_identities={"customer_id": "single-1"},
    )
    response = client.post("/v2/events", json=batch, headers=auth)
    assert response.status_code == 202
    assert response.content == b""
    assert runtime.inbox.status().depth == 1  # durable before the 202
    runtime.new_worker().drain()
    assert runtime.inbox.status().depth == 0
    workspace = credentials.input.workspace_id
    assert stored_of(runtime, workspace, "single-1") == [
        ("custom_event", "Signed Up"),
        ("screen_view", "Pricing"),
    ]


def test_every_batch_of_a_bulk_request_is_stored(
    runtime: Runtime, client: TestClient, auth: dict[str, str], credentials: InputCredentials
) -> None:
    batches = [
        make_batch(
            [make_event(event_name=f"E{n}") for n in range(size)],
            user_identities={"customer_id": f"bulk-{size}"},
        )
        for size in (1, 2, 3)
    ]
    response = client.post("/v2/bulkevents", json=batches, headers=auth)
    assert response.status_code == 202
    assert response.content == b""
    assert runtime.inbox.status().depth == 3
    runtime.new_worker().drain()
    workspace = credentials.input.workspace_id
    assert runtime.events.count(workspace) == 6
    for size in (1, 2, 3):
        assert stored_of(runtime, workspace, f"bulk-{size}") == [
            ("custom_event", f"E{n}") for n in range(size)
        ]


def test_a_bulk_request_of_one_hundred_batches_is_accepted(
    runtime: Runtime, client: TestClient, auth: dict[str, str]
) -> None:
    batches = [make_batch(user_identities={"customer_id": f"hundred-{n}"}) for n in range(100)]
    response = client.post("/v2/bulkevents", json=batches, headers=auth)
    assert response.status_code == 202
    runtime.new_worker().drain()
    assert runtime.events.count() == 100


def test_historical_batches_with_old_events_are_stored_with_their_timestamps(
    runtime: Runtime, client: TestClient, auth: dict[str, str], credentials: InputCredentials
) -> None:
    events = [old_event(73, event_name="Three days ago"), old_event(24 * 40, event_name="Forty days ago")]
    sent = sorted(e["data"]["timestamp_unixtime_ms"] for e in events)
    batches = [make_batch([event], user_identities={"customer_id": "history-1"}) for event in events]
    response = client.post("/v2/bulkevents/historical", json=batches, headers=auth)
    assert response.status_code == 202
    assert response.content == b""
    runtime.new_worker().drain()
    mpid = runtime.profiles.find_by_identity(credentials.input.workspace_id, "customer_id", "history-1")
    assert mpid is not None
    stored = runtime.events.events_of(credentials.input.workspace_id, mpid)
    assert [(e.event_name, e.timestamp_ms) for e in stored] == [
        ("Forty days ago", sent[0]),
        ("Three days ago", sent[1]),
    ]


def test_gzip_bodies_are_accepted(
    runtime: Runtime, client: TestClient, auth: dict[str, str], credentials: InputCredentials
) -> None:
    headers = {**auth, "Content-Type": "application/json", "Content-Encoding": "gzip"}
    for path in ("/v2/events", "/v2/bulkevents"):
        body = gzip.compress(json.dumps(body_for(path, f"gzip{path}")).encode())
        response = client.post(path, content=body, headers=headers)
        assert response.status_code == 202, (path, response.text)
    runtime.new_worker().drain()
    for path in ("/v2/events", "/v2/bulkevents"):
        assert stored_of(runtime, credentials.input.workspace_id, f"gzip{path}") == [
            ("custom_event", "Test Event")
        ]


def test_a_trailing_slash_is_served_without_a_redirect(
    runtime: Runtime, client: TestClient, auth: dict[str, str], credentials: InputCredentials
) -> None:
    for path in PATHS:
        response = client.post(path + "/", json=body_for(path, path), headers=auth, follow_redirects=False)
        assert response.status_code == 202, (path, response.text)
        assert "location" not in response.headers
    runtime.new_worker().drain()
    for path in PATHS:
        assert stored_of(runtime, credentials.input.workspace_id, path) == [("custom_event", "Test Event")]


def test_get_is_405_with_allow_post(runtime: Runtime, client: TestClient, auth: dict[str, str]) -> None:
    for path in [*PATHS, *(p + "/" for p in PATHS)]:
        response = client.get(path, headers=auth, follow_redirects=False)
        assert response.status_code == 405, path
        assert response.headers["allow"] == "POST"
        assert [e["code"] for e in response.json()["errors"]] == ["METHOD_NOT_ALLOWED"]
    assert runtime.inbox.status().depth == 0


def test_unknown_fields_are_ignored(
    runtime: Runtime, client: TestClient, auth: dict[str, str], credentials: InputCredentials
) -> None:
    event = make_event(event_name="Extra fields", not_in_the_schema={"nested": [1, 2]})
    event["envelope_extra"] = True
    batch = make_batch(
        [event], user_identities={"customer_id": "extra-1"}, brand_new_field="x", another=[1, {}]
    )
    response = client.post("/v2/events", json=batch, headers=auth)
    assert response.status_code == 202, response.text
    runtime.new_worker().drain()
    assert stored_of(runtime, credentials.input.workspace_id, "extra-1") == [("custom_event", "Extra fields")]


# What the official Python SDK sends (spec clients.md): events without the {event_type, data} wrapper,
# the identity key ``customerid``, and ``mpid`` as a JSON number.

UNWRAPPED: list[tuple[dict[str, Any], str, str]] = [
    ({"event_name": "Played", "custom_event_type": "media"}, "custom_event", "Played"),
    ({"screen_name": "Home"}, "screen_view", "Home"),
    (
        {
            "product_action": {
                "action": "purchase",
                "products": [{"id": "sku-1", "price": 9.5, "quantity": 1}],
            }
        },
        "commerce_event",
        "eCommerce - Purchase",
    ),
    ({"session_duration_ms": 1200}, "session_end", "session_end"),
    (
        {"application_transition_type": "application_background"},
        "application_state_transition",
        "application_state_transition",
    ),
    ({"is_opted_out": True}, "opt_out", "opt_out"),
    ({"register": True, "registration_token": "tok"}, "push_registration", "push_registration"),
    ({"push_message_type": "received"}, "push_message", "push_message"),
    ({"http_verb": "GET", "url": "https://example.com"}, "network_performance", "network_performance"),
    ({"class_name": "Boom", "message": "x"}, "crash_report", "crash_report"),
    ({"label": "tapped"}, "breadcrumb", "breadcrumb"),
    ({"profile_event_type": "login"}, "profile", "profile"),
    ({"user_attribute_name": "tier", "new": "gold"}, "user_attribute_change", "user_attribute_change"),
]


def test_unwrapped_events_are_stored_with_their_inferred_types(
    runtime: Runtime, client: TestClient, auth: dict[str, str], credentials: InputCredentials
) -> None:
    events = [data for data, _, _ in UNWRAPPED]
    batch = make_batch(
        [*events, make_event(event_name="Wrapped")], user_identities={"customer_id": "unwrapped-1"}
    )
    response = client.post("/v2/events", json=batch, headers=auth)
    assert response.status_code == 202, response.text
    runtime.new_worker().drain()
    stored = stored_of(runtime, credentials.input.workspace_id, "unwrapped-1")
    assert sorted(stored) == sorted([*((t, n) for _, t, n in UNWRAPPED), ("custom_event", "Wrapped")])


def test_the_identity_key_customerid_is_stored_as_customer_id(
    runtime: Runtime, client: TestClient, auth: dict[str, str], credentials: InputCredentials
) -> None:
    batch = make_batch(user_identities={"customerid": "alias-1", "email": "alias@example.com"})
    response = client.post("/v2/events", json=batch, headers=auth)
    assert response.status_code == 202, response.text
    runtime.new_worker().drain()
    workspace = credentials.input.workspace_id
    mpid = runtime.profiles.find_by_identity(workspace, "customer_id", "alias-1")
    assert mpid is not None
    profile = runtime.profiles.get(workspace, mpid)
    assert profile is not None
    assert profile.user_identities == {"customer_id": "alias-1", "email": "alias@example.com"}


@pytest.mark.parametrize("mpid", [8_123_456_789_012_345_678, -42], ids=["positive", "negative"])
def test_mpid_as_a_number_or_a_string_names_the_same_user(
    runtime: Runtime, client: TestClient, auth: dict[str, str], credentials: InputCredentials, mpid: int
) -> None:
    as_number = make_batch([make_event(event_name="Number")], mpid=mpid, user_identities={})
    as_string = make_batch([make_event(event_name="String")], mpid=str(mpid), user_identities={})
    for batch in (as_number, as_string):
        response = client.post("/v2/events", json=batch, headers=auth)
        assert response.status_code == 202, response.text
    runtime.new_worker().drain()
    workspace = credentials.input.workspace_id
    assert sorted(e.event_name for e in runtime.events.events_of(workspace, mpid)) == ["Number", "String"]
    profile = runtime.profiles.get(workspace, mpid)
    assert profile is not None and not profile.provisional


def test_metrics_count_accepted_batches_events_and_rejections(
    runtime: Runtime, client: TestClient, auth: dict[str, str]
) -> None:
    batches = [make_batch([make_event(), make_event()]), make_batch()]
    assert client.post("/v2/bulkevents", json=batches, headers=auth).status_code == 202
    assert client.post("/v2/events", content=b"{", headers=auth).status_code == 400
    assert client.post("/v2/events", json=make_batch()).status_code == 401

    assert metric(client, "fermion_batches_accepted_total") == 2
    assert metric(client, "fermion_events_accepted_total") == 3
    assert metric(client, "fermion_rejections_total", reason="BAD_REQUEST") == 1
    assert metric(client, "fermion_rejections_total", reason="UNAUTHORIZED") == 1
    assert metric(client, "fermion_inbox_depth") == 2
    assert metric(client, "fermion_processing_lag_seconds") >= 0

    runtime.new_worker().drain()
    assert metric(client, "fermion_inbox_depth") == 0
    assert metric(client, "fermion_processing_lag_seconds") == 0


def test_healthz_and_readyz_answer_200(client: TestClient) -> None:
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"state_store": "ok", "event_store": "ok"}}
