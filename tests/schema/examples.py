"""Realistic events of every type and the spec's complete example batch (§2.20), built from factories."""

from __future__ import annotations

from typing import Any

import msgspec

from fermion.schema import DecodedBatch, decode_batch
from tests.factories import make_batch, make_event

TS = 1702300001000
SESSION = "DDFBEA89-9A54-41C3-97F3-334FDD3B98BC"


def raw(document: Any) -> bytes:
    """JSON bytes of a document, as a client would send them."""
    return msgspec.json.encode(document)


def decode(document: Any, **options: Any) -> DecodedBatch:
    """``decode_batch`` of a document given as Python data."""
    return decode_batch(raw(document), **options)


def make_location(**fields: Any) -> dict[str, Any]:
    """A fully populated event location."""
    location: dict[str, Any] = {
        "latitude": 40.7142,
        "longitude": -74.0064,
        "accuracy": 195.5,
        "country_code": "US",
        "region_code": "NY",
        "city_name": "New York",
        "postal_code": "10010",
        "dma_code": 501,
        "location_source": "lat_long",
    }
    location.update(fields)
    return location


def make_product(**fields: Any) -> dict[str, Any]:
    """A product with every documented field."""
    product: dict[str, Any] = {
        "id": "SKU-1",
        "name": "Red Shoe",
        "brand": "Acme",
        "category": "shoes",
        "variant": "9",
        "position": 1,
        "price": 64.99,
        "quantity": 2,
        "coupon_code": "WINTER10",
        "added_to_cart_time_ms": TS,
        "total_product_amount": 129.98,
        "custom_attributes": {"color": "red", "size": 9},
    }
    product.update(fields)
    return product


def make_commerce_event(**data: Any) -> dict[str, Any]:
    """A commerce event; a purchase unless another shape is given."""
    if not {"product_action", "promotion_action", "product_impressions"} & data.keys():
        data["product_action"] = {
            "action": "purchase",
            "transaction_id": "T-1001",
            "products": [make_product()],
        }
    return make_event("commerce_event", **data)


def example_events() -> dict[str, dict[str, Any]]:
    """One realistic event per event_type, using the documented fields of each (no nulls)."""
    common: dict[str, Any] = {"session_uuid": SESSION, "timestamp_unixtime_ms": TS}
    return {
        "custom_event": make_event(
            "custom_event",
            event_name="Search Performed",
            custom_event_type="search",
            event_num=3,
            custom_attributes={"query": "red shoes", "results": 42, "in_stock": True, "score": 0.5},
            custom_flags={"Google.Category": "search", "Forwarder.Lists": ["a", "b"]},
            location=make_location(),
            device_current_state={
                "cpu": "12",
                "system_memory_available_bytes": 1.5e9,
                "system_memory_low": False,
                "device_orientation": "portrait",
                "status_bar_orientation": 6,
                "time_since_start_ms": 3000,
                "battery_level": 0.95,
                "data_connection_type": "wifi",
                "gps_state": "true",
                "disk_space_free_bytes": 123456789,
            },
            media_info={"action": "play", "playback_position": 12.5, "format": "video", "quality": "hd"},
            lifetime_value_change=False,
            page_url="https://example.com/search",
            active_time_on_site_ms=5400,
            **common,
        ),
        "screen_view": make_event(
            "screen_view",
            screen_name="Home",
            activity_type="activity_started",
            custom_attributes={"referrer": "push"},
            custom_flags={"Google.Page": "/home"},
            **common,
        ),
        "commerce_event": make_commerce_event(
            currency_code="USD",
            screen_name="Checkout",
            is_non_interactive=False,
            product_action={
                "action": "purchase",
                "checkout_step": 2,
                "checkout_options": "express",
                "product_action_list": "search results",
                "product_list_source": "search",
                "transaction_id": "T-1001",
                "affiliation": "web-store",
                "total_amount": 129.98,
                "tax_amount": 10.4,
                "shipping_amount": 5.0,
                "coupon_code": "WINTER10",
                "products": [make_product()],
            },
            shopping_cart={"products": [make_product(id="SKU-2", quantity=1)]},
            lifetime_value_change=123,
            custom_attributes={"checkout_flow": "express"},
            **common,
        ),
        "session_start": make_event("session_start", **common),
        "session_end": make_event("session_end", session_duration_ms=59000, **common),
        "application_state_transition": make_event(
            "application_state_transition",
            application_transition_type="application_initialized",
            is_first_run=True,
            is_upgrade=False,
            successfully_closed=True,
            push_notification_payload='{"aps":{"alert":"Hi"}}',
            launch_referral="https://example.com/campaign",
            **common,
        ),
        "first_run": make_event("first_run", **common),
        "uninstall": make_event("uninstall", timestamp_unixtime_ms=TS),
        "opt_out": make_event("opt_out", is_opted_out=True, **common),
        "crash_report": make_event(
            "crash_report",
            class_name="NullPointerException",
            severity="fatal",
            message="boom",
            stack_trace="at com.example.Main.run(Main.java:10)",
            exception_handled=False,
            topmost_context="CheckoutActivity",
            breadcrumbs=[{"label": "Opened cart", "session_number": 3}, "Tapped pay"],
            pl_crash_report_file_base64="UExDUkFTSA==",
            ios_image_base_address=4294967296,
            ios_image_size=1048576,
            session_number=3,
            **common,
        ),
        "breadcrumb": make_event("breadcrumb", label="Opened cart", session_number=3, **common),
        "push_registration": make_event(
            "push_registration", register=True, registration_token="fcm-token-123", **common
        ),
        "push_message": make_event(
            "push_message",
            push_message_type="received",
            push_message_token="apns-token-456",
            push_notification_payload='{"aps":{"alert":"Sale!"}}',
            message="Sale!",
            network="apn",
            application_state="background",
            action_identifier="open",
            push_message_behavior=3,
            **common,
        ),
        "network_performance": make_event(
            "network_performance",
            http_verb="GET",
            url="https://api.example.com/cart",
            time_elapsed=120,
            bytes_in=2048,
            bytes_out=512,
            response_code="200",
            data="eyJvayI6dHJ1ZX0=",
            **common,
        ),
        "profile": make_event(
            "profile",
            previous_mpid=-7636538281262557000,
            current_mpid=8123456789012345678,
            profile_event_type="login",
            **common,
        ),
        "user_attribute_change": make_event(
            "user_attribute_change",
            user_attribute_name="favorite_categories",
            new=["shoes", "bags"],
            old="shoes",
            deleted=False,
            is_new_attribute=False,
            **common,
        ),
        "user_identity_change": make_event(
            "user_identity_change",
            new={
                "identity_type": "customer_id",
                "identity": "123456",
                "timestamp_unixtime_ms": 1558342828608,
                "created_this_batch": True,
            },
            **common,
        ),
        "pre_attribution": make_event("pre_attribution", **common),
        "push_reaction": make_event("push_reaction", **common),
    }


def complete_example_batch() -> dict[str, Any]:
    """The complete example batch of spec §2.20."""
    session = {"session_uuid": SESSION}
    return make_batch(
        [
            make_event(
                "session_start",
                source_message_id="9f0a6c52-2b9d-4c3e-8d7e-1f2a3b4c5d6e",
                timestamp_unixtime_ms=1702300001000,
                **session,
            ),
            make_event(
                "screen_view",
                screen_name="Home",
                source_message_id="3c1b7f1e-8a7a-4a4f-b5f0-6f3a5c2d1e00",
                timestamp_unixtime_ms=1702300002000,
                custom_attributes={"referrer": "push"},
                **session,
            ),
            make_event(
                "custom_event",
                event_name="Search Performed",
                custom_event_type="search",
                source_message_id="b4c7d2a1-0e9f-4c8b-a6d5-3e2f1a0b9c8d",
                timestamp_unixtime_ms=1702300003000,
                custom_attributes={"query": "red shoes", "results": "42"},
                custom_flags={"Google.Category": "search"},
                location={"latitude": 40.7142, "longitude": -74.0064, "accuracy": 50},
                **session,
            ),
            make_commerce_event(
                source_message_id="5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b",
                timestamp_unixtime_ms=1702300004000,
                currency_code="USD",
                product_action={
                    "action": "purchase",
                    "transaction_id": "T-1001",
                    "affiliation": "web-store",
                    "total_amount": 129.98,
                    "tax_amount": 10.4,
                    "shipping_amount": 5.0,
                    "coupon_code": "WINTER10",
                    "products": [
                        {
                            "id": "SKU-1",
                            "name": "Red Shoe",
                            "brand": "Acme",
                            "category": "shoes",
                            "variant": "9",
                            "position": 1,
                            "price": 64.99,
                            "quantity": 2,
                            "total_product_amount": 129.98,
                            "custom_attributes": {"color": "red"},
                        }
                    ],
                },
                custom_attributes={"checkout_flow": "express"},
                **session,
            ),
            make_event(
                "session_end",
                source_message_id="7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d",
                timestamp_unixtime_ms=1702300060000,
                session_duration_ms=59000,
                **session,
            ),
        ],
        schema_version=2,
        environment="production",
        source_request_id="0d3bd0a4-5a7e-4a8f-9d6c-2b1b8e0f6c11",
        mpid=-7636538281262557000,
        mp_deviceid="3fb44a79-df2d-446d-acf1-e87eda854ae1",
        ip="203.0.113.7",
        context={"data_plan": {"plan_id": "web_plan", "plan_version": 3}},
        device_info={
            "platform": "iOS",
            "brand": "iPhone14,2",
            "device_manufacturer": "Apple",
            "os_version": "17.2",
            "device_model": "iPhone14,2",
            "locale_language": "en",
            "locale_country": "US",
            "timezone_offset": -5,
            "ios_advertising_id": "613ff528-afd1-4c1b-9628-e6ed25ece9c0",
            "ios_idfv": "8c61383f-2216-4713-8c1c-1cb0a5d7a4cc",
            "att_authorization_status": "authorized",
            "att_timestamp_unixtime_ms": 1702300000000,
            "limit_ad_tracking": False,
            "is_dst": False,
        },
        application_info={
            "application_name": "Shop",
            "application_version": "4.2.0",
            "application_build_number": "420",
            "package": "com.example.shop",
            "os": "IOS",
        },
        user_identities={
            "customer_id": "cust-1234",
            "email": "jane@example.com",
            "mobile_number": "+15555550100",
            "other_id_2": "loyalty-998877",
        },
        user_attributes={
            "$FirstName": "Jane",
            "$LastName": "Doe",
            "$City": "New York",
            "$State": "NY",
            "$Zip": "10016",
            "$Country": "USA",
            "tier": "gold",
            "favorite_categories": ["shoes", "bags"],
        },
        deleted_user_attributes=["legacy_segment"],
        integration_attributes={"92": {"appsflyer_id_integration_setting": "1558328425529-6235588"}},
        consent_state={
            "gdpr": {
                "marketing": {
                    "consented": True,
                    "document": "privacy_v3",
                    "timestamp_unixtime_ms": 1702300000000,
                    "location": "example.com/signup",
                    "hardware_id": "IDFA:613ff528-afd1-4c1b-9628-e6ed25ece9c0",
                }
            },
            "ccpa": {"data_sale_opt_out": {"consented": False, "timestamp_unixtime_ms": 1702300000000}},
        },
    )
