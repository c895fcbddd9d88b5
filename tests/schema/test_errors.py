"""Invalid batches are rejected with a message and the exact path of the bad field."""

from __future__ import annotations

from typing import Any

import pytest

from fermion.errors import BatchValidationError
from fermion.schema import EVENT_TYPES, decode_batch, split_bulk
from tests.factories import make_batch, make_event
from tests.schema.examples import decode, make_commerce_event, raw


def rejection(document: Any, **options: Any) -> BatchValidationError:
    with pytest.raises(BatchValidationError) as caught:
        decode(document, **options)
    return caught.value


@pytest.mark.parametrize("prefix", ["$", "$[3]"])
def test_wrong_type_is_reported_at_its_path(prefix: str) -> None:
    document = make_batch([make_event(), make_event(timestamp_unixtime_ms="yesterday")])
    error = rejection(document, path=prefix)
    assert error.path == f"{prefix}.events[1].data.timestamp_unixtime_ms"
    assert "Expected `int" in error.message and "got `str`" in error.message
    assert error.status == 400


@pytest.mark.parametrize(
    ("document", "path"),
    [
        (make_batch(device_info={"screen_width": "wide"}), "$.device_info.screen_width"),
        (make_batch(application_info={"application_name": 7}), "$.application_info.application_name"),
        (make_batch(deleted_user_attributes="tier"), "$.deleted_user_attributes"),
        (make_batch(user_attributes={"tier": {"nested": 1}}), "$.user_attributes[...]"),
        (make_batch(context={"data_plan": {"plan_version": 2}}), "$.context.data_plan"),
        (make_batch(consent_state={"gdpr": {"ads": {"document": "v1"}}}), "$.consent_state.gdpr[...]"),
        (make_batch(attribution_info={"publisher": "p", "campaign": "c"}), "$.attribution_info"),
        (make_batch(schema_version=2.5), "$.schema_version"),
        (make_batch([make_event("screen_view", screen_name=["Home"])]), "$.events[0].data.screen_name"),
        (
            make_batch(
                [make_commerce_event(product_action={"action": "purchase", "products": [{"price": "9.99"}]})]
            ),
            "$.events[0].data.product_action.products[0].price",
        ),
        (
            make_batch([make_event("custom_event", custom_attributes={"k": [1]})]),
            "$.events[0].data.custom_attributes[...]",
        ),
        (
            make_batch([make_event("network_performance", response_code=[200])]),
            "$.events[0].data.response_code",
        ),
        (make_batch([make_event("breadcrumb")]), "$.events[0].data"),
        (make_batch([{"event_type": "custom_event"}]), "$.events[0]"),
        (
            make_batch([make_event("session_start", location={"latitude": "north"})]),
            "$.events[0].data.location.latitude",
        ),
        ({**make_batch(), "events": "none"}, "$.events"),
        ({**make_batch(), "events": [3]}, "$.events[0]"),
    ],
)
def test_invalid_field_paths(document: dict[str, Any], path: str) -> None:
    assert rejection(document).path == path


@pytest.mark.parametrize(
    ("document", "path"),
    [
        (make_batch([make_event(timestamp_unixtime_ms=2**63)]), "$.events[0].data.timestamp_unixtime_ms"),
        (make_batch([make_event(session_id=-(2**63) - 1)]), "$.events[0].data.session_id"),
        (make_batch([make_event(custom_attributes={"n": 2**64})]), "$.events[0].data.custom_attributes[...]"),
        (make_batch(user_attributes={"ids": [1, 2**70]}), "$.user_attributes[...][1]"),
        (make_batch(device_info={"screen_width": 2**63}), "$.device_info.screen_width"),
        (make_batch(source_request_id=2**63), "$.source_request_id"),
    ],
)
def test_integers_beyond_int64_are_rejected(document: dict[str, Any], path: str) -> None:
    error = rejection(document)
    assert error.path == path
    assert "9223372036854775807" in error.message or "-9223372036854775808" in error.message


def test_int64_extremes_are_accepted() -> None:
    decoded = decode(make_batch([make_event(timestamp_unixtime_ms=2**63 - 1, session_id=-(2**63))]))
    events = decoded.batch.events
    assert events is not None
    assert (events[0].data.timestamp_unixtime_ms, events[0].data.session_id) == (2**63 - 1, -(2**63))


def test_missing_required_field_is_named() -> None:
    document = make_batch([make_event("custom_event", event_name="x")])
    del document["events"][0]["data"]["custom_event_type"]
    error = rejection(document)
    assert error.path == "$.events[0].data"
    assert error.message == "Object missing required field `custom_event_type`"


@pytest.mark.parametrize(
    ("document", "path", "allowed"),
    [
        (make_batch(environment="staging"), "$.environment", "development, production, unknown"),
        (
            make_batch([make_event("custom_event", custom_event_type="purchase")]),
            "$.events[0].data.custom_event_type",
            "navigation, location, search",
        ),
        (
            make_batch([make_commerce_event(product_action={"action": "remove_from_wishlist"})]),
            "$.events[0].data.product_action.action",
            "add_to_wishlist, remove_from_wish_list",
        ),
        (
            make_batch([make_commerce_event(promotion_action={"action": "hover"})]),
            "$.events[0].data.promotion_action.action",
            "view, click",
        ),
        (
            make_batch([make_event("application_state_transition", application_transition_type="crashed")]),
            "$.events[0].data.application_transition_type",
            "application_initialized",
        ),
        (
            make_batch([make_event("push_message", push_message_type="opened")]),
            "$.events[0].data.push_message_type",
            "sent, received, action",
        ),
        (
            make_batch([make_event("session_start", location={"location_source": "gps"})]),
            "$.events[0].data.location.location_source",
            "ip_lookup",
        ),
        (
            make_batch(device_info={"att_authorization_status": "yes"}),
            "$.device_info.att_authorization_status",
            "not_determined",
        ),
    ],
)
def test_closed_enums_reject_other_values_and_list_the_allowed_ones(
    document: dict[str, Any], path: str, allowed: str
) -> None:
    error = rejection(document)
    assert error.path == path
    assert error.message.startswith("Invalid enum value")
    assert "; allowed values: " in error.message and allowed in error.message


def test_null_environment_is_rejected() -> None:
    assert rejection(make_batch(environment=None)).path == "$.environment"


@pytest.mark.parametrize(
    "event", [{"data": {"event_name": "x"}}, {"event_type": "", "data": {}}, {"event_type": None, "data": {}}]
)
def test_missing_or_empty_event_type(event: dict[str, Any]) -> None:
    error = rejection(make_batch([make_event(), event]), path="$[2]")
    assert error.message == 'Required event field "event_type" is missing or empty.'
    assert error.path == "$[2].events[1].event_type"


def test_unknown_event_type_names_the_value_and_the_allowed_values() -> None:
    error = rejection(make_batch([make_event("page_view")]))
    assert error.path == "$.events[0].event_type"
    assert '"page_view"' in error.message
    for event_type in EVENT_TYPES:
        assert event_type in error.message


def test_event_type_of_wrong_type() -> None:
    error = rejection(make_batch([{"event_type": 4, "data": {}}]))
    assert error.path == "$.events[0].event_type"


@pytest.mark.parametrize("body", [b'{"events": [', b"not json", b"", b'{"a": 1} trailing'])
def test_malformed_json(body: bytes) -> None:
    with pytest.raises(BatchValidationError) as caught:
        decode_batch(body, path="$[1]")
    assert caught.value.message.startswith("Malformed JSON")
    assert caught.value.path == "$[1]"


@pytest.mark.parametrize("body", [b"[]", b'"batch"', b"null", b"42"])
def test_batch_must_be_an_object(body: bytes) -> None:
    with pytest.raises(BatchValidationError) as caught:
        decode_batch(body)
    assert caught.value.path == "$"
    assert "Expected `object`" in caught.value.message


def test_split_bulk_returns_each_batch_unchanged() -> None:
    first, second = make_batch(mpid=1), make_batch(mpid=2, environment="production")
    parts = split_bulk(b" [ " + raw(first) + b" ,\n" + raw(second) + b"]")
    assert parts == [raw(first), raw(second)]
    assert [decode_batch(part, path=f"$[{i}]").mpid for i, part in enumerate(parts)] == [1, 2]
    assert split_bulk(b"[]") == []


def test_bulk_element_errors_carry_the_element_path() -> None:
    parts = split_bulk(raw([make_batch(), make_batch(), make_batch(ip=5)]))
    decode_batch(parts[0], path="$[0]")
    with pytest.raises(BatchValidationError) as caught:
        decode_batch(parts[2], path="$[2]")
    assert caught.value.path == "$[2].ip"


@pytest.mark.parametrize("body", [b"{}", b'"x"', b"null", raw(make_batch())])
def test_split_bulk_requires_an_array(body: bytes) -> None:
    with pytest.raises(BatchValidationError) as caught:
        split_bulk(body)
    assert (caught.value.message, caught.value.path) == ("Request body must be a JSON array of batches", "$")


def test_split_bulk_malformed_json() -> None:
    with pytest.raises(BatchValidationError) as caught:
        split_bulk(b"[{}, ")
    assert caught.value.message.startswith("Malformed JSON") and caught.value.path == "$"
