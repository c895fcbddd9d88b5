"""The Segment-compatible Tracking API over HTTP: paths, write keys, Segment's answers and error bodies."""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

import pytest
from starlette.testclient import TestClient

from fermion.pipeline import Worker
from fermion.runtime import Runtime


@pytest.fixture
def write_key(runtime: Runtime) -> str:
    workspace = runtime.tenancy.create_workspace("Segment")
    return runtime.tenancy.create_input(workspace.id, "Segment source", platform="segment").input.api_key


def key_auth(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def track(**fields: Any) -> dict[str, Any]:
    return {"type": "track", "event": "Clicked", "userId": "u-1", **fields}


def events_of(runtime: Runtime, key: str, user: str) -> list[str]:
    found = runtime.tenancy.find_input_by_key(key)
    assert found is not None
    mpid = runtime.profiles.find_by_identity(found.workspace_id, "customer_id", user)
    assert mpid is not None
    return sorted(e.event_name for e in runtime.events.events_of(found.workspace_id, mpid))


@pytest.mark.parametrize("path", ["/v1/track", "/v1/t"])
def test_single_calls_answer_200_with_the_key_in_the_body_and_text_plain(
    client: TestClient, runtime: Runtime, worker: Worker, write_key: str, path: str
) -> None:
    body = json.dumps({"event": "Opened", "userId": "u-1", "writeKey": write_key, "messageId": "a"})
    response = client.post(path, content=body, headers={"Content-Type": "text/plain"})
    assert (response.status_code, response.json()) == (200, {"success": True})
    worker.drain()
    assert events_of(runtime, write_key, "u-1") == ["Opened"]


def test_a_batch_drops_only_its_bad_messages(
    client: TestClient, runtime: Runtime, worker: Worker, write_key: str
) -> None:
    batch = [
        track(messageId="1", event="Good"),
        {"type": "track", "event": "No user", "messageId": "2"},
        {"type": "track", "userId": "u-1", "messageId": "3"},
        {"type": "nonsense", "userId": "u-1", "messageId": "4"},
        track(messageId="5", event="Also good", properties={"big": "x" * 40_000}),
        track(messageId="6", event="Last"),
    ]
    response = client.post("/v1/batch", json={"batch": batch}, headers=key_auth(write_key))
    assert response.status_code == 200
    worker.drain()
    assert events_of(runtime, write_key, "u-1") == ["Good", "Last"]


def test_gzip_bodies_are_accepted(
    client: TestClient, runtime: Runtime, worker: Worker, write_key: str
) -> None:
    body = gzip.compress(json.dumps({"batch": [track(messageId="z")]}).encode())
    headers = {**key_auth(write_key), "Content-Encoding": "gzip", "Content-Type": "application/json"}
    assert client.post("/v1/batch", content=body, headers=headers).status_code == 200
    worker.drain()
    assert events_of(runtime, write_key, "u-1") == ["Clicked"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ('{"userId": ', "invalid_json"),
        ('{"event": "x"}', "no_user_anon_id"),
        ('{"userId": "u"}', "missing_event"),
    ],
)
def test_a_malformed_single_call_is_a_400_with_segments_body(
    client: TestClient, runtime: Runtime, write_key: str, body: str, code: str
) -> None:
    response = client.post("/v1/track", content=body, headers=key_auth(write_key))
    assert response.status_code == 400
    assert response.json()["code"] == code and response.json()["message"]
    assert runtime.inbox.status().depth == 0


def test_unknown_and_non_segment_keys_are_401(
    client: TestClient, runtime: Runtime, credentials: Any, write_key: str
) -> None:
    for key in ("no-such-key", credentials.input.api_key):
        response = client.post("/v1/batch", json={"batch": [track()]}, headers=key_auth(key))
        assert response.status_code == 401
        assert response.json()["code"] == "invalid_write_key"
    differing = {"batch": [track()], "writeKey": "another"}
    assert client.post("/v1/batch", json=differing, headers=key_auth(write_key)).status_code == 401


def test_oversize_is_413(client: TestClient, write_key: str) -> None:
    single = track(properties={"big": "x" * 40_000})
    assert client.post("/v1/track", json=single, headers=key_auth(write_key)).status_code == 413
    batch = {"batch": [track(properties={"big": "x" * 30_000}) for _ in range(20)]}
    response = client.post("/v1/batch", json=batch, headers=key_auth(write_key))
    assert (response.status_code, response.json()["code"]) == (413, "payload_too_large")


def test_idsync_keeps_v1_identify_for_key_and_secret(
    client: TestClient, auth: dict[str, str], write_key: str
) -> None:
    body = {"environment": "production", "known_identities": {"customerid": "c-1"}}
    response = client.post("/v1/identify", json=body, headers=auth)
    assert response.status_code == 200 and response.json()["mpid"]
    segment = {"userId": "c-1", "traits": {"plan": "pro"}}
    assert client.post("/v1/identify", json=segment, headers=key_auth(write_key)).json() == {"success": True}


def test_preflight_grants_cors(client: TestClient) -> None:
    headers = {"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"}
    response = client.options("/v1/t", headers=headers)
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "https://shop.example"


def test_bearer_tokens_are_401(client: TestClient, write_key: str) -> None:
    body = {"batch": [track()], "writeKey": write_key}
    response = client.post("/v1/batch", json=body, headers={"Authorization": "Bearer abc"})
    assert (response.status_code, response.json()["code"]) == (401, "invalid_write_key")


def test_a_resent_alias_still_answers_200(client: TestClient, runtime: Runtime, write_key: str) -> None:
    alias = {"type": "alias", "previousId": "anon-1", "userId": "u-9", "messageId": "alias-1"}
    for _ in range(2):
        response = client.post("/v1/batch", json={"batch": [alias]}, headers=key_auth(write_key))
        assert response.status_code == 200
    found = runtime.tenancy.find_input_by_key(write_key)
    assert found is not None
    target = runtime.profiles.find_by_identity(found.workspace_id, "customer_id", "u-9")
    assert target is None  # profiles come from batches; the alias only named the users in IDSync
    assert runtime.identity.holders(found.workspace_id, "customer_id", "u-9") != []


def test_a_user_first_seen_with_an_anonymous_id_takes_over_its_history(
    client: TestClient, runtime: Runtime, worker: Worker, write_key: str
) -> None:
    anonymous = {"type": "track", "event": "Browsed", "anonymousId": "anon-7", "messageId": "b-1"}
    assert (
        client.post("/v1/batch", json={"batch": [anonymous]}, headers=key_auth(write_key)).status_code == 200
    )
    worker.drain()
    identify = {"type": "identify", "userId": "u-7", "anonymousId": "anon-7", "messageId": "b-2"}
    assert (
        client.post("/v1/batch", json={"batch": [identify]}, headers=key_auth(write_key)).status_code == 200
    )
    worker.drain()
    assert events_of(runtime, write_key, "u-7") == ["Browsed"]


def test_the_tracking_pixel_answers_a_gif_and_stores_the_message(
    client: TestClient, runtime: Runtime, worker: Worker, write_key: str
) -> None:
    message = {
        "userId": "u-px",
        "event": "Email Opened",
        "writeKey": write_key,
        "properties": {"subject": "Hi"},
    }
    data = base64.b64encode(json.dumps(message).encode()).decode()
    response = client.get(f"/v1/pixel/track?data={data}")
    assert (response.status_code, response.headers["content-type"]) == (200, "image/gif")
    flat = client.get(f"/v1/pixel/page?userId=u-px&name=Newsletter&writeKey={write_key}&properties.issue=7")
    assert flat.status_code == 200
    assert client.get("/v1/pixel/track?data=not-json").status_code == 200  # Segment answers 200 even then
    worker.drain()
    assert events_of(runtime, write_key, "u-px") == ["Email Opened", "Newsletter"]
