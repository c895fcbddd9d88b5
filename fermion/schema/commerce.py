"""The ``data`` of a ``commerce_event`` and its parts (spec §2.6)."""

from __future__ import annotations

from typing import Literal, TypeAlias

import msgspec

from fermion.schema.attributes import AttributeMap
from fermion.schema.event_data import EventData
from fermion.schema.integers import Int64

ProductActionType: TypeAlias = Literal[
    "add_to_cart",
    "remove_from_cart",
    "checkout",
    "checkout_option",
    "click",
    "view_detail",
    "purchase",
    "refund",
    "add_to_wishlist",
    "remove_from_wish_list",
]
PromotionActionType: TypeAlias = Literal["view", "click"]


class Product(msgspec.Struct, omit_defaults=True, kw_only=True):
    """One product in a product action, impression or shopping cart."""

    id: str | None = None
    name: str | None = None
    brand: str | None = None
    category: str | None = None
    variant: str | None = None
    position: Int64 | None = None
    price: float | None = None
    quantity: float | None = None
    coupon_code: str | None = None
    added_to_cart_time_ms: Int64 | None = None
    total_product_amount: float | None = None
    custom_attributes: AttributeMap | None = None


class ProductAction(msgspec.Struct, omit_defaults=True, kw_only=True):
    """What the user did with products: add to cart, purchase, refund, ..."""

    action: ProductActionType
    checkout_step: Int64 | None = None
    checkout_options: str | None = None
    product_action_list: str | None = None
    product_list_source: str | None = None
    transaction_id: str | None = None
    affiliation: str | None = None
    total_amount: float | None = None
    tax_amount: float | None = None
    shipping_amount: float | None = None
    coupon_code: str | None = None
    products: list[Product] | None = None


class Promotion(msgspec.Struct, omit_defaults=True, kw_only=True):
    """One internal promotion (banner, offer)."""

    id: str | None = None
    name: str | None = None
    creative: str | None = None
    # The spec says string; SDKs build positions from numbers, so both are accepted.
    position: str | Int64 | None = None


class PromotionAction(msgspec.Struct, omit_defaults=True, kw_only=True):
    """Promotions the user viewed or clicked."""

    action: PromotionActionType
    promotions: list[Promotion] | None = None


class ProductImpression(msgspec.Struct, omit_defaults=True, kw_only=True):
    """Products the user saw in a named list."""

    product_impression_list: str | None = None
    products: list[Product] | None = None


class ShoppingCart(msgspec.Struct, omit_defaults=True, kw_only=True):
    """The user's current cart."""

    products: list[Product] | None = None


class CommerceEventData(EventData):
    """commerce_event: product-based, promotion-based or impression-based (not enforced, as SCHEMA)."""

    product_action: ProductAction | None = None
    promotion_action: PromotionAction | None = None
    product_impressions: list[ProductImpression] | None = None
    shopping_cart: ShoppingCart | None = None
    currency_code: str | None = None
    screen_name: str | None = None
    is_non_interactive: bool | None = None
    event_name: str | None = None
    custom_event_type: str | None = None
