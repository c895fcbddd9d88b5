"""Aliasing: validated at once, carried out by the worker after the delay (frozen clock), events only."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from fermion.api import create_app
from fermion.clock import FrozenClock
from fermion.runtime import Runtime
from fermion.settings import Settings
from tests.factories import basic_auth, make_batch, make_event

NOW = 1_800_000_000_000
DAY = 86_400_000


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture
def frozen(settings: Settings, clock: FrozenClock) -> Iterator[tuple[Runtime, TestClient, dict[str, str]]]:
    runtime = Runtime.open(settings, clock)
    created = runtime.tenancy.bootstrap()
    assert created is not None
    try:
        with TestClient(create_app(runtime), base_url="http://127.0.0.1") as client:
            yield runtime, client, basic_auth(created.input.api_key, created.api_secret)
    finally:
        runtime.close()


def _identify(client: TestClient, auth: dict[str, str], identities: dict[str, str]) -> int:
    body = {"environment": "production", "known_identities": identities}
    response = client.post("/v1/identify", json=body, headers=auth)
    assert response.status_code == 200, response.text
    return int(response.json()["mpid"])


def _alias(client: TestClient, path: str, headers: dict[str, str], **data: Any) -> Any:
    body = {"request_id": "r-1", "request_type": "alias", "environment": "production", "data": data}
    return client.post(path, json=body, headers=headers)


def test_alias_copies_events_in_the_window_after_the_delay(
    frozen: tuple[Runtime, TestClient, dict[str, str]], clock: FrozenClock
) -> None:
    runtime, client, auth = frozen
    source = _identify(client, auth, {"ios_idfv": "device-1"})
    destination = _identify(client, auth, {"customerid": "known-1"})
    events = [
        make_event(event_name="in window", timestamp_unixtime_ms=NOW - 2 * DAY),
        make_event(event_name="too old", timestamp_unixtime_ms=NOW - 40 * DAY),
    ]
    batch = make_batch(events, mpid=source, user_identities={}, user_attributes={"color": "blue"})
    assert client.post("/v2/events", json=batch, headers=auth).status_code == 202
    clock.advance(1000)  # the destination is first seen later than the source
    known = make_batch([], mpid=destination, user_identities={}, user_attributes={"tier": "gold"})
    assert client.post("/v2/events", json=known, headers=auth).status_code == 202
    worker = runtime.new_worker()
    worker.drain()

    response = _alias(
        client,
        "/v1/alias",
        auth,
        source_mpid=source,
        destination_mpid=str(destination),
        start_unixtime_ms=NOW - 10 * DAY,
        end_unixtime_ms=NOW,
    )
    assert response.status_code == 202, response.text
    worker.tick()
    assert runtime.events.events_of(1, destination) == []  # not before the delay

    clock.advance(DAY + 1)
    worker.tick()
    copied = runtime.events.events_of(1, destination)
    assert [e.event_name for e in copied] == ["in window"]
    assert [e.event_name for e in runtime.events.events_of(1, source)] == ["too old", "in window"]
    worker.tick()  # carried out once
    assert len(runtime.events.events_of(1, destination)) == 1

    source_profile = runtime.profiles.get(1, source)
    destination_profile = runtime.profiles.get(1, destination)
    assert source_profile is not None
    assert destination_profile is not None
    assert destination_profile.user_attributes == {"tier": "gold"}  # attributes not copied
    assert destination_profile.first_seen_ms == source_profile.first_seen_ms == NOW  # first seen adopted
    assert runtime.identity.identities(1, destination) == {
        "customer_id": ["known-1"]
    }  # identities not copied
    assert "merged_from" in [d.action for d in runtime.identity.history(1, destination)]
    assert "aliased_to" in [d.action for d in runtime.identity.history(1, source)]


def test_sdk_alias_endpoint_and_rules(frozen: tuple[Runtime, TestClient, dict[str, str]]) -> None:
    runtime, client, auth = frozen
    web = runtime.tenancy.create_input(1, "Web", platform="web")
    a = _identify(client, auth, {"ios_idfv": "a"})
    b = _identify(client, auth, {"customerid": "b"})
    c = _identify(client, auth, {"customerid": "c"})
    sdk_path = f"/v1/identity/{web.input.api_key}/Alias"

    def alias(source: int, destination: int, **extra: Any) -> Any:
        return _alias(client, sdk_path, {}, source_mpid=source, destination_mpid=destination, **extra)

    assert alias(a, a).status_code == 400
    assert alias(a, 12345).status_code == 400  # unknown destination
    assert alias(a, b, start_unixtime_ms=NOW, end_unixtime_ms=NOW - 1).status_code == 400
    assert alias(a, b, start_unixtime_ms=NOW - DAY, end_unixtime_ms=NOW).status_code == 202
    overlapping = alias(a, c, start_unixtime_ms=NOW - DAY // 2, end_unixtime_ms=NOW)
    assert overlapping.status_code == 400 and "overlapping" in overlapping.json()["errors"][0]["message"]
    assert alias(b, c).status_code == 400  # b was a destination
    assert alias(c, a).status_code == 400  # a was a source
    assert (
        _alias(
            client, f"/webevents/v1/identity/{web.input.api_key}/Alias", {}, source_mpid=c, destination_mpid=b
        ).status_code
        == 202
    )
