"""The Pixel Service: a GET with query parameters becomes an event on the right profile, answered a GIF."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from starlette.testclient import TestClient

from fermion.pipeline import Worker
from fermion.runtime import Runtime


def test_a_pixel_lands_as_an_event_with_its_attributes_and_identities(
    client: TestClient, runtime: Runtime, worker: Worker, credentials: object
) -> None:
    web = runtime.tenancy.create_input(1, "Web", platform="web").input
    query = urlencode(
        [
            ("dt", "AppEvent"),
            ("n", "Email Opened"),
            ("et", "Navigation"),
            ("ct", "1700000000000"),
            ("dbg", "true"),
            ("attrs_k", "campaign"),
            ("attrs_v", "spring"),
            ("attrs_k", "variant"),
            ("attrs_v", "b"),
            ("ua_k", '["plan"]'),
            ("ua_v", '["pro"]'),
            ("ui_t", "customerid"),
            ("ui_v", "pixel-user"),
            ("ui_t", "email"),
            ("ui_v", "pixel@example.com"),
            ("lc", "[59.9,10.7]"),
        ]
    )
    response = client.get(f"/v1/{web.api_key}/Pixel?{query}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/gif" and response.content.startswith(b"GIF89a")
    worker.drain()

    mpid = runtime.profiles.find_by_identity(1, "customer_id", "pixel-user")
    assert mpid is not None
    (event,) = runtime.events.events_of(1, mpid)
    assert (event.event_type, event.event_name, event.timestamp_ms) == (
        "custom_event",
        "Email Opened",
        1_700_000_000_000,
    )
    data = json.loads(event.body)["data"]
    assert data["custom_attributes"] == {"campaign": "spring", "variant": "b"}
    assert data["custom_event_type"] == "navigation"
    assert data["location"] == {"latitude": 59.9, "longitude": 10.7}
    profile = runtime.profiles.get(1, mpid)
    assert profile is not None
    assert profile.user_attributes == {"plan": "pro"}
    assert profile.user_identities == {"customer_id": "pixel-user", "email": "pixel@example.com"}


def test_a_page_view_pixel_and_an_unknown_key(
    client: TestClient, runtime: Runtime, worker: Worker, credentials: object
) -> None:
    web = runtime.tenancy.create_input(1, "Web", platform="web").input
    response = client.get(f"/v1/{web.api_key}/pixel?dt=ScreenView&n=Newsletter&ui_t=customerid&ui_v=p2")
    assert response.status_code == 200
    assert client.get("/v1/unknown-key/Pixel?n=x").status_code == 401
    worker.drain()
    mpid = runtime.profiles.find_by_identity(1, "customer_id", "p2")
    assert mpid is not None
    assert [(e.event_type, e.event_name) for e in runtime.events.events_of(1, mpid)] == [
        ("screen_view", "Newsletter")
    ]
