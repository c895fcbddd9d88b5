"""Every event type decodes from a realistic example, keeps every field, and round-trips."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from fermion.schema import (
    EVENT_TYPES,
    CommerceEvent,
    CrashReportEvent,
    CustomEvent,
    DeviceCurrentState,
    Location,
    NetworkPerformanceEvent,
    Product,
    ProfileEvent,
    PushMessageEvent,
    UserAttributeChangeEvent,
    UserIdentityChangeEvent,
    decode_batch,
    encode_batch,
    encode_event,
    event_name_of,
    event_type_of,
)
from tests.factories import make_batch, make_event
from tests.schema.examples import complete_example_batch, decode, example_events, make_commerce_event

EXAMPLES = example_events()


def test_examples_cover_every_event_type() -> None:
    assert set(EXAMPLES) == set(EVENT_TYPES)
    assert len(EVENT_TYPES) == 19


@pytest.mark.parametrize("event_type", sorted(EXAMPLES))
def test_event_decodes_and_round_trips(event_type: str) -> None:
    document = make_batch([EXAMPLES[event_type]])
    decoded = decode(document)
    batch = decoded.batch
    assert batch.events is not None
    assert event_type_of(batch.events[0]) == event_type
    assert decoded.normalised is False
    assert decode_batch(encode_batch(batch)).batch == batch
    # Nothing the client sent is lost: every documented field is modelled.
    assert msgspec.json.decode(encode_batch(batch)) == document


@pytest.mark.parametrize("event_type", sorted(EXAMPLES))
def test_encode_event_is_the_wire_envelope(event_type: str) -> None:
    batch = decode(make_batch([EXAMPLES[event_type]])).batch
    assert batch.events is not None
    assert msgspec.json.decode(encode_event(batch.events[0])) == EXAMPLES[event_type]


def test_fields_decode_to_their_types() -> None:
    events = decode(make_batch(list(EXAMPLES.values()))).batch.events
    assert events is not None
    by_type = {event_type_of(event): event for event in events}
    custom = by_type["custom_event"]
    assert isinstance(custom, CustomEvent)
    assert custom.data.custom_attributes == {
        "query": "red shoes",
        "results": 42,
        "in_stock": True,
        "score": 0.5,
    }
    assert custom.data.custom_flags == {"Google.Category": "search", "Forwarder.Lists": ["a", "b"]}
    assert isinstance(custom.data.location, Location) and custom.data.location.dma_code == 501
    state = custom.data.device_current_state
    assert isinstance(state, DeviceCurrentState)
    assert (state.gps_state, state.status_bar_orientation) == ("true", 6)
    assert custom.data.media_info is not None and custom.data.media_info.playback_position == 12.5
    commerce = by_type["commerce_event"]
    assert isinstance(commerce, CommerceEvent)
    assert commerce.data.product_action is not None and commerce.data.product_action.products is not None
    product = commerce.data.product_action.products[0]
    assert isinstance(product, Product) and product.price == 64.99 and product.quantity == 2.0
    assert commerce.data.lifetime_value_change == 123
    crash = by_type["crash_report"]
    assert isinstance(crash, CrashReportEvent) and crash.data.breadcrumbs is not None
    assert crash.data.breadcrumbs[1] == "Tapped pay"
    assert getattr(crash.data.breadcrumbs[0], "label", None) == "Opened cart"
    push = by_type["push_message"]
    assert isinstance(push, PushMessageEvent) and push.data.push_message_behavior == 3
    network = by_type["network_performance"]
    assert isinstance(network, NetworkPerformanceEvent) and network.data.response_code == "200"
    profile = by_type["profile"]
    assert isinstance(profile, ProfileEvent) and profile.data.previous_mpid == -7636538281262557000
    change = by_type["user_attribute_change"]
    assert isinstance(change, UserAttributeChangeEvent) and change.data.new == ["shoes", "bags"]
    identity = by_type["user_identity_change"]
    assert isinstance(identity, UserIdentityChangeEvent)
    assert identity.data.new is not None and identity.data.new.identity == "123456"
    assert identity.data.old is None


@pytest.mark.parametrize(
    ("event_type", "field", "values"),
    [
        ("network_performance", "response_code", [200, "200"]),
        ("push_message", "push_message_behavior", [1, "DirectOpen"]),
        ("custom_event", "lifetime_value_change", [True, 12.5, 0]),
    ],
)
def test_fields_where_sources_disagree_accept_both_types(
    event_type: str, field: str, values: list[Any]
) -> None:
    for value in values:
        event = dict(EXAMPLES[event_type])
        event["data"] = {**event["data"], field: value}
        events = decode(make_batch([event])).batch.events
        assert events is not None
        assert getattr(events[0].data, field) == value


@pytest.mark.parametrize("value", [True, "unknown", "false"])
def test_gps_state_accepts_boolean_and_string(value: bool | str) -> None:
    events = decode(
        make_batch([make_event("session_start", device_current_state={"gps_state": value})])
    ).batch.events
    assert events is not None and events[0].data.device_current_state is not None
    assert events[0].data.device_current_state.gps_state == value


def test_event_data_may_be_omitted_when_no_field_is_required() -> None:
    events = decode(
        make_batch([{"event_type": "session_start"}, {"event_type": "commerce_event"}])
    ).batch.events
    assert events is not None
    assert [event_type_of(e) for e in events] == ["session_start", "commerce_event"]
    assert msgspec.json.decode(encode_event(events[0])) == {"event_type": "session_start", "data": {}}


def test_spec_complete_example_batch_decodes() -> None:
    document = complete_example_batch()
    decoded = decode(document)
    batch = decoded.batch
    assert decoded.mpid == -7636538281262557000 and decoded.normalised is False
    assert batch.environment == "production" and batch.schema_version == 2
    assert batch.context is not None and batch.context.data_plan is not None
    assert (batch.context.data_plan.plan_id, batch.context.data_plan.plan_version) == ("web_plan", 3)
    assert batch.device_info is not None and batch.device_info.att_authorization_status == "authorized"
    assert batch.user_identities is not None and batch.user_identities.other_id_2 == "loyalty-998877"
    assert batch.user_attributes is not None and batch.user_attributes["favorite_categories"] == [
        "shoes",
        "bags",
    ]
    assert batch.consent_state is not None and batch.consent_state.gdpr is not None
    assert batch.consent_state.gdpr["marketing"].consented is True
    assert batch.consent_state.ccpa is not None and batch.consent_state.ccpa.data_sale_opt_out is not None
    assert batch.consent_state.ccpa.data_sale_opt_out.consented is False
    assert batch.integration_attributes == {
        "92": {"appsflyer_id_integration_setting": "1558328425529-6235588"}
    }
    assert batch.events is not None
    assert [event_name_of(e) for e in batch.events] == [
        "session_start",
        "Home",
        "Search Performed",
        "eCommerce - Purchase",
        "session_end",
    ]
    # "production" is the default environment, so re-encoding omits it; everything else is kept.
    assert msgspec.json.decode(encode_batch(batch)) == {
        k: v for k, v in document.items() if k != "environment"
    }
    assert decode_batch(encode_batch(batch)).batch == batch


def test_batch_level_unions_are_accepted() -> None:
    for request_id in ["req-1", 42, 4.5, True, None]:
        batch = decode(make_batch(source_request_id=request_id)).batch
        assert batch.source_request_id == request_id
    batch = decode(
        make_batch(
            partner_identities={"mParticle_mpid": "123"}, partner_identity="abc", environment="unknown"
        )
    ).batch
    assert (batch.partner_identities, batch.partner_identity, batch.environment) == (
        {"mParticle_mpid": "123"},
        "abc",
        "unknown",
    )


def test_missing_environment_means_production() -> None:
    document = make_batch()
    del document["environment"]
    batch = decode(document).batch
    assert batch.environment == "production"
    assert "environment" not in msgspec.json.decode(encode_batch(batch))


def test_unknown_fields_are_ignored_everywhere_but_identities() -> None:
    event = make_event("custom_event", event_name="Tap", future_field={"x": 1})
    event["trace"] = "abc"
    document = make_batch(
        [event],
        brand_new_top_level=True,
        device_info={"platform": "web", "quantum_chip": "yes"},
        consent_state={"gdpr": {"ads": {"consented": True, "regulation": "gdpr"}}, "lgpd": {}},
    )
    decoded = decode(document)
    assert decoded.normalised is False
    encoded = msgspec.json.decode(encode_batch(decoded.batch))
    assert "brand_new_top_level" not in encoded and "quantum_chip" not in encoded["device_info"]
    assert "future_field" not in encoded["events"][0]["data"]
    assert encoded["consent_state"] == {"gdpr": {"ads": {"consented": True}}}


@pytest.mark.parametrize(
    ("data", "name"),
    [
        ({"product_action": {"action": "purchase"}}, "eCommerce - Purchase"),
        ({"product_action": {"action": "add_to_cart"}}, "eCommerce - AddToCart"),
        ({"product_action": {"action": "remove_from_cart"}}, "eCommerce - RemoveFromCart"),
        ({"product_action": {"action": "checkout"}}, "eCommerce - Checkout"),
        ({"product_action": {"action": "checkout_option"}}, "eCommerce - CheckoutOption"),
        ({"product_action": {"action": "click"}}, "eCommerce - Click"),
        ({"product_action": {"action": "view_detail"}}, "eCommerce - ViewDetail"),
        ({"product_action": {"action": "refund"}}, "eCommerce - Refund"),
        ({"product_action": {"action": "add_to_wishlist"}}, "eCommerce - AddToWishlist"),
        ({"product_action": {"action": "remove_from_wish_list"}}, "eCommerce - RemoveFromWishlist"),
        (
            {"promotion_action": {"action": "view", "promotions": [{"id": "P1", "position": 2}]}},
            "eCommerce - PromotionView",
        ),
        ({"promotion_action": {"action": "click"}}, "eCommerce - PromotionClick"),
        (
            {"product_impressions": [{"product_impression_list": "recs", "products": [{"id": "SKU-9"}]}]},
            "eCommerce - Impression",
        ),
    ],
)
def test_commerce_event_names(data: dict[str, Any], name: str) -> None:
    events = decode(make_batch([make_commerce_event(**data)])).batch.events
    assert events is not None
    assert event_name_of(events[0]) == name
    assert event_type_of(events[0]) == "commerce_event"


def test_event_names_of_other_types() -> None:
    events = decode(
        make_batch(
            [
                make_event("custom_event", event_name="Signed Up"),
                make_event("screen_view", screen_name="Cart"),
                make_event("screen_view"),
                make_event("session_start"),
                make_event("push_registration", register=True, registration_token="t"),
            ]
        )
    ).batch.events
    assert events is not None
    assert [event_name_of(e) for e in events] == [
        "Signed Up",
        "Cart",
        "",
        "session_start",
        "push_registration",
    ]
