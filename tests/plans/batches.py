"""Batches as the pipeline sees them (decoded ``Batch`` structs), built from ``tests.factories``."""

from __future__ import annotations

import json
from typing import Any

from fermion.schema import Batch, decode_batch
from tests.factories import make_batch, make_event


def decoded(events: list[dict[str, Any]] | None = None, **fields: Any) -> Batch:
    """``make_batch(...)`` decoded exactly as ingestion decodes it; no events unless given."""
    return decode_batch(json.dumps(make_batch(events or [], **fields)).encode()).batch


def custom_event(
    name: str = "Purchase", event_type: str = "transaction", **attributes: Any
) -> dict[str, Any]:
    """A custom event with ``attributes`` as its custom attributes (none when empty)."""
    data: dict[str, Any] = {"event_name": name, "custom_event_type": event_type}
    if attributes:
        data["custom_attributes"] = attributes
    return make_event("custom_event", **data)


def screen_view(name: str = "Home", **attributes: Any) -> dict[str, Any]:
    """A screen view with ``attributes`` as its custom attributes."""
    data: dict[str, Any] = {"screen_name": name}
    if attributes:
        data["custom_attributes"] = attributes
    return make_event("screen_view", **data)


def commerce_event(
    product_action: str | None = None,
    promotion_action: str | None = None,
    impressions: bool = False,
) -> dict[str, Any]:
    """A commerce event with any of a product action, a promotion action and product impressions."""
    data: dict[str, Any] = {}
    if product_action is not None:
        data["product_action"] = {"action": product_action, "products": [{"id": "sku-1", "price": 9.5}]}
    if promotion_action is not None:
        data["promotion_action"] = {"action": promotion_action, "promotions": [{"id": "promo-1"}]}
    if impressions:
        data["product_impressions"] = [{"product_impression_list": "shelf", "products": [{"id": "sku-2"}]}]
    return make_event("commerce_event", **data)


def event_ids(batch: Batch) -> list[str]:
    """Stable ids for a batch's events, by position."""
    return [f"event-{index}" for index in range(len(batch.events or ()))]
