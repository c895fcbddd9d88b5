"""Events sent without the {"event_type", "data"} envelope (official Python SDK) are wrapped if inferable."""

from __future__ import annotations

import json
from typing import Any

import mparticle
import msgspec
import pytest

from fermion.errors import BatchValidationError
from fermion.schema import (
    CommerceEvent,
    CustomEvent,
    ScreenViewEvent,
    decode_batch,
    encode_batch,
    event_type_of,
    infer_event_type,
)
from tests.factories import make_batch, make_event
from tests.schema.examples import TS, decode


@pytest.mark.parametrize(
    ("fields", "event_type"),
    [
        (
            {"product_action": {"action": "purchase"}, "event_name": "x", "custom_event_type": "other"},
            "commerce_event",
        ),
        ({"promotion_action": {"action": "view"}}, "commerce_event"),
        ({"product_impressions": [{"product_impression_list": "recs"}]}, "commerce_event"),
        ({"shopping_cart": {"products": []}}, "commerce_event"),
        ({"event_name": "Tap", "custom_event_type": "navigation", "screen_name": "Home"}, "custom_event"),
        ({"screen_name": "Home"}, "screen_view"),
        ({"application_transition_type": "application_foreground"}, "application_state_transition"),
        ({"session_duration_ms": 1000}, "session_end"),
        ({"is_opted_out": True}, "opt_out"),
        ({"registration_token": "t", "register": True}, "push_registration"),
        ({"push_message_type": "received"}, "push_message"),
        ({"http_verb": "GET", "url": "https://example.com"}, "network_performance"),
        ({"url": "https://example.com"}, "network_performance"),
        ({"class_name": "Error", "message": "boom"}, "crash_report"),
        ({"severity": "fatal"}, "crash_report"),
        ({"label": "Opened cart"}, "breadcrumb"),
        ({"profile_event_type": "login"}, "profile"),
        ({"current_mpid": 5}, "profile"),
        ({"user_attribute_name": "tier", "new": "gold"}, "user_attribute_change"),
    ],
)
def test_unwrapped_event_type_is_inferred(fields: dict[str, Any], event_type: str) -> None:
    assert infer_event_type(fields) == event_type
    decoded = decode(make_batch([make_event(), {**fields, "timestamp_unixtime_ms": TS}]))
    events = decoded.batch.events
    assert events is not None
    assert event_type_of(events[1]) == event_type
    assert events[1].data.timestamp_unixtime_ms == TS
    assert decoded.normalised is True


def test_event_name_alone_is_not_a_custom_event() -> None:
    assert infer_event_type({"event_name": "Tap"}) is None


def test_wrapped_and_unwrapped_events_decode_to_the_same_batch() -> None:
    wrapped = make_batch(
        [
            make_event(
                "custom_event", event_name="Tap", custom_event_type="navigation", custom_attributes={"a": 1}
            ),
            make_event("screen_view", screen_name="Home"),
            make_event("session_end", session_duration_ms=5000),
        ]
    )
    unwrapped = {**wrapped, "events": [event["data"] for event in wrapped["events"]]}
    from_wrapped, from_unwrapped = decode(wrapped), decode(unwrapped)
    assert from_unwrapped.batch == from_wrapped.batch
    assert (from_wrapped.normalised, from_unwrapped.normalised) == (False, True)
    assert decode_batch(encode_batch(from_unwrapped.batch)).normalised is False


def test_uninferable_unwrapped_event_is_rejected() -> None:
    with pytest.raises(BatchValidationError) as caught:
        decode(make_batch([make_event(), {"timestamp_unixtime_ms": TS, "session_uuid": "s"}]), path="$[2]")
    assert caught.value.path == "$[2].events[1]"
    assert "event_type" in caught.value.message and "cannot be inferred" in caught.value.message
    assert '{"event_type": "<type>", "data": {...}}' in caught.value.message


def test_errors_inside_an_unwrapped_event_point_into_its_data() -> None:
    with pytest.raises(BatchValidationError) as caught:
        decode(make_batch([{"screen_name": "Home", "timestamp_unixtime_ms": "now"}]))
    assert caught.value.path == "$.events[0].data.timestamp_unixtime_ms"


def test_unwrapped_event_with_unknown_enum_is_rejected() -> None:
    with pytest.raises(BatchValidationError) as caught:
        decode(make_batch([{"event_name": "Tap", "custom_event_type": "clicks"}]))
    assert caught.value.path == "$.events[0].data.custom_event_type"


def python_sdk_body(batch: mparticle.Batch) -> bytes:
    """The request body the official Python SDK sends for ``batch``."""
    return json.dumps(mparticle.ApiClient.sanitize_for_serialization(batch)).encode()


def test_batch_built_by_the_official_python_sdk_constructor() -> None:
    identities = mparticle.UserIdentities()
    identities.customerid = "c-1"
    identities.email = "jane@example.com"
    tap = mparticle.AppEvent(event_name="Tapped Buy", custom_event_type="transaction")
    tap.custom_attributes = {"button": "buy"}
    tap.timestamp_unixtime_ms = TS
    screen = mparticle.ScreenViewEvent()
    screen.screen_name = "Product"
    product = mparticle.Product()
    product.name = "Red Shoe"
    product.price = 64.99
    action = mparticle.ProductAction("purchase")
    action.products = [product]
    purchase = mparticle.CommerceEvent(action)
    body = python_sdk_body(
        mparticle.Batch(events=[tap, screen, purchase], environment="development", user_identities=identities)
    )
    assert b'"event_type"' not in body and b'"customerid"' in body

    decoded = decode_batch(body)
    events = decoded.batch.events
    assert events is not None
    assert [type(event) for event in events] == [CustomEvent, ScreenViewEvent, CommerceEvent]
    assert isinstance(events[0], CustomEvent) and events[0].data.custom_attributes == {"button": "buy"}
    assert decoded.batch.user_identities is not None and decoded.batch.user_identities.customer_id == "c-1"
    assert decoded.normalised is True
    stored = msgspec.json.decode(encode_batch(decoded.batch))
    assert [event["event_type"] for event in stored["events"]] == [
        "custom_event",
        "screen_view",
        "commerce_event",
    ]
    assert "customerid" not in stored["user_identities"]


def test_python_sdk_events_setter_sends_envelopes() -> None:
    batch = mparticle.Batch(environment="development")
    batch.events = [mparticle.AppEvent(event_name="Opened", custom_event_type="navigation")]
    decoded = decode_batch(python_sdk_body(batch))
    assert decoded.normalised is False
    assert decoded.batch.events is not None and isinstance(decoded.batch.events[0], CustomEvent)


def test_python_sdk_session_start_in_constructor_cannot_be_inferred() -> None:
    body = python_sdk_body(mparticle.Batch(events=[mparticle.SessionStartEvent()], environment="development"))
    with pytest.raises(BatchValidationError) as caught:
        decode_batch(body)
    assert caught.value.path == "$.events[0]"
