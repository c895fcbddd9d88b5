"""Segment messages into mParticle batches: semantic names, times, traits and the batch schema."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from fermion.ingest.segment.mapping import map_message
from fermion.ingest.segment.semantic import semantic_of
from fermion.ingest.segment.values import as_uuid, parse_time_ms
from fermion.schema import decode_batch

RECEIVED = 1_714_564_900_000


def mapped(message: dict[str, Any]) -> dict[str, Any]:
    batch = map_message(
        message, message["type"], received_ms=RECEIVED, environment="production", remote_ip="198.51.100.1"
    ).batch
    assert batch is not None
    decode_batch(msgspec.json.encode(batch))  # every mapped batch is a valid mParticle batch
    return batch


@pytest.mark.parametrize("name", ["Order Completed", "order_completed", "Completed Order", "ORDERCOMPLETED"])
def test_semantic_names_match_like_segments_matcher(name: str) -> None:
    assert (semantic_of(name).kind, semantic_of(name).detail) == ("commerce", "purchase")


def test_other_names_are_custom_events_of_type_other() -> None:
    assert (semantic_of("Played Song").kind, semantic_of("Played Song").detail) == ("custom", "other")
    assert (semantic_of("Video Playback Started").kind, semantic_of("Video Playback Started").detail) == (
        "custom",
        "media",
    )


def test_timestamps_are_read_leniently() -> None:
    assert parse_time_ms("2015-2-02T00:30:08.276Z") == 1_422_837_008_276
    assert parse_time_ms("2024-05-01T14:00:00+02:00") == 1_714_564_800_000
    assert parse_time_ms("not a time") is None


def test_event_time_corrects_the_device_clock_skew() -> None:
    message = {
        "type": "track",
        "event": "x",
        "userId": "u",
        "timestamp": "2024-05-01T12:00:00Z",
        "sentAt": "2024-05-01T12:00:10Z",
    }
    assert mapped(message)["events"][0]["data"]["timestamp_unixtime_ms"] == RECEIVED - 10_000


def test_the_worked_example_of_the_mapping() -> None:
    message = {
        "type": "track",
        "event": "Order Completed",
        "messageId": "0d9c1a52-4f1e-4c55-9a3c-5c1f0a7f2b11",
        "userId": "u-1001",
        "anonymousId": "6f0e5d3c-2b1a-4c9d-8e7f-102938475601",
        "timestamp": "2024-05-01T12:00:00.000Z",
        "context": {"ip": "203.0.113.7", "library": {"name": "analytics-python", "version": "2.3.0"}},
        "properties": {
            "order_id": "ord-77",
            "affiliation": "Web Store",
            "subtotal": 40,
            "total": 47.5,
            "revenue": 40,
            "shipping": 5,
            "tax": 2.5,
            "coupon": "SPRING",
            "currency": "usd",
            "products": [
                {
                    "product_id": "p-1",
                    "sku": "SKU-1",
                    "name": "Mug",
                    "brand": "Acme",
                    "category": "Kitchen",
                    "price": 20,
                    "quantity": 2,
                }
            ],
        },
    }
    batch = mapped(message)
    assert (batch["ip"], batch["mp_deviceid"]) == ("203.0.113.7", message["anonymousId"])
    assert batch["user_identities"] == {"customer_id": "u-1001"}
    assert batch["source_info"] == {"channel": "server_to_server"}
    (event,) = batch["events"]
    data = event["data"]
    assert event["event_type"] == "commerce_event"
    assert (data["timestamp_unixtime_ms"], data["currency_code"]) == (1_714_564_800_000, "USD")
    assert data["product_action"] == {
        "action": "purchase",
        "transaction_id": "ord-77",
        "affiliation": "Web Store",
        "total_amount": 47.5,
        "tax_amount": 2.5,
        "shipping_amount": 5,
        "coupon_code": "SPRING",
        "products": [
            {
                "id": "SKU-1",
                "name": "Mug",
                "brand": "Acme",
                "category": "Kitchen",
                "price": 20,
                "quantity": 2,
                "total_product_amount": 40,
                "custom_attributes": {"product_id": "p-1"},
            }
        ],
    }
    assert data["custom_attributes"] == {"subtotal": 40, "total": 47.5, "revenue": 40}
    assert data["custom_flags"]["Segment.event"] == "Order Completed"


def test_null_traits_delete_and_email_is_an_identity() -> None:
    batch = mapped({"type": "identify", "userId": "u", "traits": {"email": "a@example.com", "plan": None}})
    assert batch["user_identities"] == {"customer_id": "u", "email": "a@example.com"}
    assert batch["deleted_user_attributes"] == ["plan"]
    assert batch["events"] == []


def test_rudderstack_identify_traits_in_context_are_read() -> None:
    batch = mapped({"type": "identify", "userId": "u", "context": {"traits": {"tier": "gold"}}})
    assert batch["user_attributes"] == {"tier": "gold"}


def test_non_uuid_ids_become_stable_uuids() -> None:
    assert as_uuid("ajs-123") == as_uuid("ajs-123") != as_uuid("ajs-124")
    page = mapped({"type": "page", "anonymousId": "ajs-123", "messageId": "ajs-m", "name": None})
    assert page["mp_deviceid"] == as_uuid("ajs-123")
    assert page["events"][0]["data"]["screen_name"] == "PageView"
    assert page["events"][0]["data"]["custom_flags"]["Segment.messageId"] == "ajs-m"


def test_mobile_context_fills_device_info_and_campaigns_become_utm_attributes() -> None:
    idfv = "1b6f2a52-7c3e-4f4e-9a53-3a2f0c1d2e3f"
    context = {
        "library": {"name": "analytics-swift"},
        "os": {"name": "iOS", "version": "17.4"},
        "device": {
            "id": idfv,
            "advertisingId": "00000000-0000-0000-0000-000000000000",
            "model": "iPhone16,2",
        },
        "network": {"carrier": "Telia"},
        "campaign": {"source": "newsletter", "name": "spring"},
        "app": {"name": "Shop", "version": "2.1"},
    }
    batch = mapped({"type": "track", "event": "Opened", "anonymousId": "a", "context": context})
    assert batch["source_info"] == {"channel": "native"}
    assert batch["device_info"] == {
        "os_version": "17.4",
        "platform": "iOS",
        "device_model": "iPhone16,2",
        "ios_idfv": idfv,
        "network_carrier": "Telia",
    }
    assert batch["application_info"] == {
        "os": "IOS",
        "application_name": "Shop",
        "application_version": "2.1",
    }
    attributes = batch["events"][0]["data"]["custom_attributes"]
    assert attributes == {"utm_source": "newsletter", "utm_campaign": "spring"}


def test_consent_preferences_become_gdpr_consent() -> None:
    context = {"consent": {"categoryPreferences": {"Advertising": False, "Analytics": True}}}
    message = {"type": "track", "event": "x", "userId": "u", "timestamp": "2024-05-01T12:00:00Z"}
    batch = mapped({**message, "context": context})
    assert batch["consent_state"] == {
        "gdpr": {
            "advertising": {"consented": False, "timestamp_unixtime_ms": 1_714_564_800_000},
            "analytics": {"consented": True, "timestamp_unixtime_ms": 1_714_564_800_000},
        }
    }
