"""Segment's and RudderStack's Python SDKs (PyPI ``segment-analytics-python`` 2.4.0 and ``rudder-sdk-python``
2.1.9), pointed at Fermion with nothing changed but the host, with and without gzip.

Every message type goes out through the SDK's own queue and ``/v1/batch``; the test then runs the pipeline and
reads the profile and the events back: identities and traits on the profile, group traits, the purchase as a
commerce event, page and screen views, and the anonymous user's events aliased into the known user.
"""

from __future__ import annotations

import importlib
import json
import uuid
from typing import Any

import pytest
from rudderstack.analytics import Client as RudderClient
from segment.analytics import Client as SegmentClient

from fermion.clock import FrozenClock
from fermion.runtime import Runtime

CLIENTS = {"segment": SegmentClient, "rudderstack": RudderClient}


@pytest.fixture
def runtime(frozen_runtime: Runtime) -> Runtime:
    return frozen_runtime


@pytest.fixture
def write_key(runtime: Runtime) -> str:
    """The API key of a new input of platform ``segment``: the Segment write key."""
    workspace = runtime.tenancy.create_workspace("Segment migration")
    return runtime.tenancy.create_input(workspace.id, "Segment sources", platform="segment").input.api_key


def send_everything(client: Any, user: str, anonymous: str) -> None:
    client.track(anonymous_id=anonymous, event="Signup Viewed", properties={"variant": "b"})
    client.identify(
        user_id=user,
        anonymous_id=anonymous,
        traits={
            "email": f"{user}@example.com",
            "firstName": "Ann",
            "lastName": "Lee",
            "plan": "pro",
            "address": {"city": "Oslo", "postalCode": "0150"},
            "company": {"name": "Initrode", "employee_count": 120},
        },
    )
    client.track(
        user_id=user,
        event="Order Completed",
        properties={
            "order_id": "ord-77",
            "total": 47.5,
            "revenue": 40,
            "tax": 2.5,
            "currency": "usd",
            "products": [{"sku": "SKU-1", "product_id": "p-1", "name": "Mug", "price": 20, "quantity": 2}],
        },
    )
    client.track(user_id=user, event="Played Song", properties={"tags": ["a", "b"], "length": 180})
    client.page(user_id=user, category="Marketing", name="Pricing", properties={"path": "/pricing"})
    client.screen(user_id=user, name="Home Screen", properties={"tab": "feed"})
    client.group(user_id=user, group_id="acct-9", traits={"name": "Initrode", "plan": "enterprise"})
    client.alias(previous_id=anonymous, user_id=user)


@pytest.mark.parametrize("gzip", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("sdk", sorted(CLIENTS))
def test_every_message_type_lands_on_the_right_profile(
    runtime: Runtime, clock: FrozenClock, server_url: str, write_key: str, sdk: str, gzip: bool
) -> None:
    errors: list[Exception] = []
    client = CLIENTS[sdk](
        write_key=write_key,
        host=server_url,
        gzip=gzip,
        max_retries=0,
        on_error=lambda error, _batch: errors.append(error),
    )
    user, anonymous = f"{sdk}-user", str(uuid.uuid4())
    send_everything(client, user, anonymous)
    client.flush()
    client.shutdown()
    assert errors == []

    worker = runtime.new_worker()
    worker.drain()
    clock.advance((runtime.settings.alias_delay_s + 1) * 1000)
    worker.drain()  # carries out the alias once due

    workspace = runtime.tenancy.find_input_by_key(write_key)
    assert workspace is not None
    ws = workspace.workspace_id
    mpid = runtime.profiles.find_by_identity(ws, "customer_id", user)
    assert mpid is not None
    profile = runtime.profiles.get(ws, mpid)
    assert profile is not None
    assert profile.user_identities == {"customer_id": user, "email": f"{user}@example.com"}
    assert profile.user_attributes == {
        "$FirstName": "Ann",
        "$LastName": "Lee",
        "name": "Ann Lee",
        "plan": "pro",
        "$City": "Oslo",
        "$Zip": "0150",
        "company.name": "Initrode",
        "company.employee_count": 120,
        "group.id": "acct-9",
        "group.name": "Initrode",
        "group.plan": "enterprise",
    }

    stored = runtime.events.events_of(ws, mpid)
    assert sorted((e.event_type, e.event_name) for e in stored) == [
        ("commerce_event", "eCommerce - Purchase"),
        ("custom_event", "Played Song"),
        ("custom_event", "Signup Viewed"),  # the anonymous user's event, copied by the alias
        ("screen_view", "Home Screen"),
        ("screen_view", "Pricing"),
    ]
    bodies = {e.event_name: json.loads(e.body)["data"] for e in stored}
    purchase = bodies["eCommerce - Purchase"]
    assert purchase["currency_code"] == "USD"
    action = purchase["product_action"]
    assert (action["action"], action["transaction_id"], action["total_amount"]) == (
        "purchase",
        "ord-77",
        47.5,
    )
    assert action["products"][0]["id"] == "SKU-1"
    assert action["products"][0]["custom_attributes"] == {"product_id": "p-1"}
    assert purchase["custom_flags"]["Segment.event"] == "Order Completed"
    assert bodies["Played Song"]["custom_attributes"] == {"tags": '["a","b"]', "length": 180}
    assert bodies["Pricing"]["custom_attributes"] == {"path": "/pricing", "category": "Marketing"}
    assert bodies["Signup Viewed"]["custom_flags"]["Segment.anonymousId"] == anonymous


def test_a_resent_message_is_stored_once(runtime: Runtime, server_url: str, write_key: str) -> None:
    client = SegmentClient(write_key=write_key, host=server_url, sync_mode=True)
    for _ in range(2):
        client.track(user_id="dup-user", event="Clicked", message_id="m-1")
    runtime.new_worker().drain()
    workspace = runtime.tenancy.find_input_by_key(write_key)
    assert workspace is not None
    mpid = runtime.profiles.find_by_identity(workspace.workspace_id, "customer_id", "dup-user")
    assert mpid is not None
    assert [e.event_name for e in runtime.events.events_of(workspace.workspace_id, mpid)] == ["Clicked"]


@pytest.mark.parametrize("module_name", ["segment.analytics", "rudderstack.analytics"])
def test_the_two_lines_of_the_migration_guide(
    runtime: Runtime, server_url: str, write_key: str, module_name: str
) -> None:
    analytics: Any = importlib.import_module(module_name)
    analytics.write_key = write_key  # line 1
    if module_name.startswith("segment"):
        analytics.host = server_url  # line 2
    else:
        analytics.dataPlaneUrl = server_url  # line 2 (RudderStack's name for it)
    try:
        analytics.track("guide-user", "Guide Followed", {"step": 2})
        analytics.flush()
    finally:
        analytics.shutdown()
        analytics.default_client = None
        analytics.write_key = None
    runtime.new_worker().drain()
    found = runtime.tenancy.find_input_by_key(write_key)
    assert found is not None
    mpid = runtime.profiles.find_by_identity(found.workspace_id, "customer_id", "guide-user")
    assert mpid is not None
    assert [e.event_name for e in runtime.events.events_of(found.workspace_id, mpid)] == ["Guide Followed"]
