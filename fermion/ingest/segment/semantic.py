"""Segment's semantic event names (E-commerce v2, mobile lifecycle) and the mParticle event each becomes.

Names match as Segment's own matcher does: case-insensitively, words in either order, spaces and
underscores ignored (``Order Completed`` = ``order_completed`` = ``Completed Order``). Every other name is a
``custom_event`` of type ``other``. The result is an mParticle event envelope ``{event_type, data}``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from fermion.ingest.segment.values import flatten

# Normalised name → (mParticle target, detail): ("commerce", product action | impression | promotion),
# ("custom", custom_event_type) or ("lifecycle", kind).
_NAMES: dict[tuple[str, ...], tuple[str, str]] = {
    ("products", "searched"): ("custom", "search"),
    ("product", "list", "viewed"): ("commerce", "impression"),
    ("product", "category", "viewed"): ("commerce", "impression"),
    ("product", "list", "filtered"): ("commerce", "impression"),
    ("promotion", "viewed"): ("commerce", "promotion:view"),
    ("promotion", "clicked"): ("commerce", "promotion:click"),
    ("product", "clicked"): ("commerce", "click"),
    ("product", "viewed"): ("commerce", "view_detail"),
    ("product", "added"): ("commerce", "add_to_cart"),
    ("product", "removed"): ("commerce", "remove_from_cart"),
    ("cart", "viewed"): ("custom", "navigation"),
    ("checkout", "started"): ("commerce", "checkout"),
    ("started", "order"): ("commerce", "checkout"),
    ("checkout", "step", "viewed"): ("commerce", "checkout"),
    ("checkout", "step", "completed"): ("commerce", "checkout_option"),
    ("payment", "info", "entered"): ("commerce", "checkout_option"),
    ("order", "updated"): ("custom", "transaction"),
    ("order", "completed"): ("commerce", "purchase"),
    ("order", "refunded"): ("commerce", "refund"),
    ("order", "cancelled"): ("custom", "transaction"),
    ("coupon", "entered"): ("custom", "transaction"),
    ("coupon", "applied"): ("custom", "transaction"),
    ("coupon", "denied"): ("custom", "transaction"),
    ("coupon", "removed"): ("custom", "transaction"),
    ("product", "added", "to", "wishlist"): ("commerce", "add_to_wishlist"),
    ("product", "removed", "from", "wishlist"): ("commerce", "remove_from_wish_list"),
    ("wishlist", "product", "added", "to", "cart"): ("commerce", "add_to_cart"),
    ("product", "added", "from", "wishlist", "to", "cart"): ("commerce", "add_to_cart"),
    ("product", "shared"): ("custom", "social"),
    ("cart", "shared"): ("custom", "social"),
    ("product", "reviewed"): ("custom", "user_content"),
    ("application", "installed"): ("lifecycle", "installed"),
    ("application", "updated"): ("lifecycle", "updated"),
    ("application", "opened"): ("lifecycle", "opened"),
    ("application", "foregrounded"): ("lifecycle", "application_foreground"),
    ("application", "backgrounded"): ("lifecycle", "application_background"),
    ("application", "uninstalled"): ("lifecycle", "uninstall"),
    ("application", "crashed"): ("lifecycle", "crash"),
    ("deep", "link", "opened"): ("custom", "navigation"),
    ("deep", "link", "clicked"): ("custom", "navigation"),
    ("install", "attributed"): ("custom", "attribution"),
}


def _forms(words: tuple[str, ...]) -> set[str]:
    """The spellings a name matches: its words joined in order, and with the action word moved first."""
    forms = {"".join(words)}
    if len(words) >= 2:
        forms.add(words[-1] + "".join(words[:-1]))
    return forms


_LOOKUP: dict[str, tuple[str, str]] = {
    form: target for words, target in _NAMES.items() for form in _forms(words)
}
_SEPARATORS = re.compile(r"[\s_]+")

_ORDER_FIELDS = {
    "order_id": "transaction_id",
    "orderId": "transaction_id",
    "affiliation": "affiliation",
    "tax": "tax_amount",
    "shipping": "shipping_amount",
    "coupon": "coupon_code",
}
_PRODUCT_FIELDS = {
    "name": "name",
    "brand": "brand",
    "category": "category",
    "variant": "variant",
    "price": "price",
    "quantity": "quantity",
    "coupon": "coupon_code",
    "position": "position",
}
_PRODUCT_IDS = ("sku", "product_id", "id")
_NON_INTERACTIVE = {"impression", "promotion:view", "promotion:click", "refund"}


@dataclass(frozen=True)
class Semantic:
    """What a track's name means: the target kind and its detail."""

    kind: str
    detail: str


def semantic_of(name: str) -> Semantic:
    """The mParticle target of a track named ``name`` (``custom``/``other`` for names with no meaning)."""
    normalised = _SEPARATORS.sub("", name).lower()
    target = _LOOKUP.get(normalised)
    if target is None and normalised.startswith("video"):
        target = ("custom", "media")  # Segment's video spec: Video Playback Started, Video Ad Completed, …
    return Semantic(*target) if target else Semantic("custom", "other")


def track_event(name: str, properties: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """The mParticle event of a track: ``data`` holds the common fields (time, ids, flags) to extend."""
    meaning = semantic_of(name)
    if meaning.kind == "commerce":
        return {"event_type": "commerce_event", "data": {**data, **_commerce(meaning.detail, properties)}}
    if meaning.kind == "lifecycle":
        return _lifecycle(meaning.detail, properties, data)
    attributes = flatten(properties, lists_as_text=True)
    return {
        "event_type": "custom_event",
        "data": {
            **data,
            "event_name": name,
            "custom_event_type": meaning.detail,
            "custom_attributes": attributes,
        },
    }


def _product(source: dict[str, Any]) -> dict[str, Any]:
    product: dict[str, Any] = {}
    chosen = next((str(source[k]) for k in _PRODUCT_IDS if source.get(k) is not None), None)
    if chosen is not None:
        product["id"] = chosen
    for segment_name, field in _PRODUCT_FIELDS.items():
        if source.get(segment_name) is not None:
            product[field] = source[segment_name]
    if isinstance(product.get("position"), float):
        product["position"] = int(product["position"])
    product.setdefault("quantity", 1)
    if isinstance(product.get("price"), int | float) and isinstance(product["quantity"], int | float):
        product["total_product_amount"] = product["price"] * product["quantity"]
    extra = {
        k: v
        for k, v in source.items()
        if (k not in _PRODUCT_FIELDS and k not in _PRODUCT_IDS) or k == "product_id"
    }
    if "product_id" in extra and str(extra["product_id"]) == chosen:
        del extra["product_id"]
    if extra:
        product["custom_attributes"] = flatten(extra, lists_as_text=True)
    return product


def _products(properties: dict[str, Any]) -> list[dict[str, Any]]:
    listed = properties.get("products")
    if isinstance(listed, list):
        return [_product(p) for p in listed if isinstance(p, dict)]
    if any(properties.get(k) is not None for k in (*_PRODUCT_IDS, "name")):
        return [_product({k: v for k, v in properties.items() if k in _PRODUCT_FIELDS or k in _PRODUCT_IDS})]
    return []


def _commerce(detail: str, properties: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    used = {"products", "currency", *_ORDER_FIELDS}
    if detail == "impression":
        used |= {"list_id", *_PRODUCT_FIELDS, *_PRODUCT_IDS}
        listing = properties.get("list_id") or properties.get("category") or "Product List Viewed"
        data["product_impressions"] = [
            {"product_impression_list": str(listing), "products": _products(properties)}
        ]
    elif detail.startswith("promotion:"):
        used |= {"promotion_id", "name", "creative", "position"}
        promotion = {
            "id": properties.get("promotion_id"),
            "name": properties.get("name"),
            "creative": properties.get("creative"),
            "position": properties.get("position"),
        }
        data["promotion_action"] = {
            "action": detail.split(":")[1],
            "promotions": [{k: str(v) for k, v in promotion.items() if v is not None}],
        }
    else:
        used |= {*_PRODUCT_FIELDS, *_PRODUCT_IDS, "total", "revenue", "value", "step", "list"}
        action: dict[str, Any] = {"action": detail}
        for segment_name, field in _ORDER_FIELDS.items():
            if properties.get(segment_name) is not None:
                action[field] = (
                    str(properties[segment_name]) if field == "transaction_id" else properties[segment_name]
                )
        total = next(
            (properties[k] for k in ("total", "revenue", "value") if properties.get(k) is not None), None
        )
        if isinstance(total, int | float):
            action["total_amount"] = total
        if isinstance(properties.get("step"), int | float):
            action["checkout_step"] = int(properties["step"])
        options = [str(properties[k]) for k in ("shipping_method", "payment_method") if properties.get(k)]
        if detail == "checkout_option" and options:
            action["checkout_options"] = ", ".join(options)
        if properties.get("list") is not None:
            action["product_action_list"] = str(properties["list"])
        products = _products(properties)
        if products:
            action["products"] = products
        data["product_action"] = action
        # Nothing is lost: the amounts mParticle has one field for stay as attributes.
        used -= {"total", "revenue", "value"}
    if isinstance(properties.get("currency"), str):
        data["currency_code"] = properties["currency"].upper()
    if detail in _NON_INTERACTIVE:
        data["is_non_interactive"] = True
    rest = {k: v for k, v in properties.items() if k not in used}
    if rest:
        data["custom_attributes"] = flatten(rest, lists_as_text=True)
    return data


def _lifecycle(kind: str, properties: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    attributes = flatten(properties, lists_as_text=True)
    if kind == "uninstall":
        return {"event_type": "uninstall", "data": {**data, "custom_attributes": attributes}}
    if kind == "crash":
        crash = {
            k: str(properties[k])
            for k in ("message", "class_name", "stack_trace", "severity")
            if properties.get(k)
        }
        return {"event_type": "crash_report", "data": {**data, **crash, "custom_attributes": attributes}}
    transition: dict[str, Any] = {"application_transition_type": "application_initialized"}
    if kind == "installed":
        transition["is_first_run"] = True
    elif kind == "updated":
        transition["is_upgrade"] = True
    elif kind == "opened":
        if properties.get("from_background"):
            transition["application_transition_type"] = "application_foreground"
        if properties.get("url"):
            transition["launch_referral"] = str(properties["url"])
    else:
        transition["application_transition_type"] = kind
    return {
        "event_type": "application_state_transition",
        "data": {**data, **transition, "custom_attributes": attributes},
    }


def as_text(value: Any) -> str:
    """A JSON value as compact JSON text (strings unchanged)."""
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), sort_keys=True)
