"""The Web SDK's config and events endpoints in-process: keys, origins, CORS, never-400 and de-duplication."""

from __future__ import annotations

import json
import uuid

import pytest
from starlette.testclient import TestClient

from fermion.pipeline import Worker
from fermion.platform import Input
from fermion.runtime import Runtime
from tests.factories import make_batch, make_event

SHOP = "https://shop.example"


@pytest.fixture
def web(runtime: Runtime, credentials: object) -> Input:
    return runtime.tenancy.create_input(1, "Web", platform="web").input


def web_batch(**fields: object) -> str:
    batch = make_batch([make_event(event_name="Clicked")], mpid="8123456789", **fields)
    batch["source_request_id"] = str(uuid.uuid4())
    return json.dumps(batch)


@pytest.mark.parametrize("prefix", ["", "/tags"])
def test_config_answers_json_with_cors(client: TestClient, web: Input, prefix: str) -> None:
    response = client.get(f"{prefix}/JS/v2/{web.api_key}/config?env=1", headers={"Origin": SHOP})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == SHOP
    assert response.json()["kitConfigs"] == [] and response.json()["appName"] == "Web"


@pytest.mark.parametrize("prefix", ["", "/webevents"])
def test_events_are_accepted_with_the_key_in_the_path_and_deduplicated(
    client: TestClient, runtime: Runtime, worker: Worker, web: Input, prefix: str
) -> None:
    body = web_batch()
    for _ in range(2):  # the SDK re-sends a batch whose answer it lost
        response = client.post(
            f"{prefix}/v3/JS/{web.api_key}/events",
            content=body,
            headers={"Content-Type": "text/plain;charset=UTF-8", "Origin": SHOP},
        )
        assert response.status_code == 202
        assert response.headers["access-control-allow-origin"] == SHOP
    worker.drain()
    assert [e.event_name for e in runtime.events.events_of(1, 8123456789)] == ["Clicked"]


def test_a_batch_that_can_never_be_processed_is_accepted_and_parked(
    client: TestClient, runtime: Runtime, worker: Worker, web: Input
) -> None:
    bad = json.dumps({"events": [{"event_type": "custom_event", "data": {"event_name": 5}}]})
    response = client.post(f"/v3/JS/{web.api_key}/events", content=bad)
    assert response.status_code == 202
    worker.drain()
    (parked,) = runtime.inbox.parked()
    assert parked.error.startswith("BatchValidationError")


def test_unknown_keys_are_401_and_server_keys_403(client: TestClient, credentials: object) -> None:
    assert client.post("/v3/JS/no-such-key/events", content=web_batch()).status_code == 401
    assert client.get("/JS/v2/no-such-key/config").status_code == 401
    server_key = credentials.input.api_key  # type: ignore[attr-defined]
    assert client.post(f"/v3/JS/{server_key}/events", content=web_batch()).status_code == 403


def test_origins_outside_the_allow_list_get_403_without_cors(
    client: TestClient, runtime: Runtime, web: Input
) -> None:
    runtime.tenancy.set_allowed_origins(web.id, [SHOP + "/"])
    other = {"Origin": "https://evil.example"}
    response = client.post(f"/v3/JS/{web.api_key}/events", content=web_batch(), headers=other)
    assert response.status_code == 403
    assert "access-control-allow-origin" not in response.headers
    identify = {"environment": "production", "known_identities": {"email": "a@example.com"}}
    response = client.post("/v1/identify", json=identify, headers={**other, "x-mp-key": web.api_key})
    assert response.status_code == 403
    assert "access-control-allow-origin" not in response.headers
    allowed = client.post(f"/v3/JS/{web.api_key}/events", content=web_batch(), headers={"Origin": SHOP})
    assert allowed.status_code == 202
    assert runtime.tenancy.allowed_origins(web.id) == (SHOP,)


def test_config_carries_the_data_plan_the_sdk_blocks_by(
    client: TestClient, runtime: Runtime, web: Input
) -> None:
    point = {
        "match": {"type": "screen_view", "criteria": {"screen_name": "Home"}},
        "validator": {"type": "json_schema", "definition": {}},
    }
    version = {
        "version": 1,
        "activated_environment": "development",
        "version_document": {"data_points": [point]},
        "blocking": {"events": True, "user_attributes": True},
    }
    runtime.plans.create_plan(
        web.workspace_id,
        {"data_plan_id": "web_plan", "data_plan_name": "Web", "data_plan_versions": [version]},
        "t",
    )
    config = client.get(f"/JS/v2/{web.api_key}/config?env=1&plan_id=web_plan").json()
    assert config["dataPlanResult"]["dtpn"]["blok"] == {"ev": True, "ea": False, "ua": True, "id": False}
    assert config["dataPlanResult"]["dtpn"]["vers"]["version_document"]["data_points"] == [point]
    production = client.get(f"/JS/v2/{web.api_key}/config?env=0&plan_id=web_plan").json()
    assert production["dataPlanResult"] == {
        "error_message": "No version of plan web_plan is active in production."
    }
    assert "dataPlanResult" not in client.get(f"/JS/v2/{web.api_key}/config?env=1").json()
