"""Events: one tagged Struct per ``event_type``, each wrapping its ``data`` (spec §2.2).

On the wire an event is ``{"event_type": "<type>", "data": {...}}``; ``Event`` is the msgspec
tagged union of all event types, dispatched on ``event_type``. ``data`` may be omitted for types
whose data has no required field.
"""

from __future__ import annotations

from typing import Final, TypeAlias, get_args

import msgspec

from fermion.schema.commerce import CommerceEventData
from fermion.schema.event_data import (
    ApplicationStateTransitionData,
    BreadcrumbData,
    CrashReportData,
    CustomEventData,
    EventData,
    NetworkPerformanceData,
    OptOutData,
    ProfileData,
    PushMessageData,
    PushRegistrationData,
    ScreenViewData,
    SessionEndData,
    UserAttributeChangeData,
    UserIdentityChangeData,
)


class _Envelope(msgspec.Struct, tag_field="event_type", omit_defaults=True, kw_only=True):
    """Shared configuration of the event structs: ``event_type`` is the tag."""


class CustomEvent(_Envelope, tag="custom_event"):
    data: CustomEventData


class ScreenViewEvent(_Envelope, tag="screen_view"):
    data: ScreenViewData = msgspec.field(default_factory=ScreenViewData)


class CommerceEvent(_Envelope, tag="commerce_event"):
    data: CommerceEventData = msgspec.field(default_factory=CommerceEventData)


class SessionStartEvent(_Envelope, tag="session_start"):
    data: EventData = msgspec.field(default_factory=EventData)


class SessionEndEvent(_Envelope, tag="session_end"):
    data: SessionEndData = msgspec.field(default_factory=SessionEndData)


class ApplicationStateTransitionEvent(_Envelope, tag="application_state_transition"):
    data: ApplicationStateTransitionData


class FirstRunEvent(_Envelope, tag="first_run"):
    data: EventData = msgspec.field(default_factory=EventData)


class UninstallEvent(_Envelope, tag="uninstall"):
    data: EventData = msgspec.field(default_factory=EventData)


class OptOutEvent(_Envelope, tag="opt_out"):
    data: OptOutData = msgspec.field(default_factory=OptOutData)


class CrashReportEvent(_Envelope, tag="crash_report"):
    data: CrashReportData = msgspec.field(default_factory=CrashReportData)


class BreadcrumbEvent(_Envelope, tag="breadcrumb"):
    data: BreadcrumbData


class PushRegistrationEvent(_Envelope, tag="push_registration"):
    data: PushRegistrationData


class PushMessageEvent(_Envelope, tag="push_message"):
    data: PushMessageData


class NetworkPerformanceEvent(_Envelope, tag="network_performance"):
    data: NetworkPerformanceData = msgspec.field(default_factory=NetworkPerformanceData)


class ProfileEvent(_Envelope, tag="profile"):
    data: ProfileData = msgspec.field(default_factory=ProfileData)


class UserAttributeChangeEvent(_Envelope, tag="user_attribute_change"):
    data: UserAttributeChangeData


class UserIdentityChangeEvent(_Envelope, tag="user_identity_change"):
    data: UserIdentityChangeData = msgspec.field(default_factory=UserIdentityChangeData)


class PreAttributionEvent(_Envelope, tag="pre_attribution"):
    data: EventData = msgspec.field(default_factory=EventData)


class PushReactionEvent(_Envelope, tag="push_reaction"):
    data: EventData = msgspec.field(default_factory=EventData)


Event: TypeAlias = (
    CustomEvent
    | ScreenViewEvent
    | CommerceEvent
    | SessionStartEvent
    | SessionEndEvent
    | ApplicationStateTransitionEvent
    | FirstRunEvent
    | UninstallEvent
    | OptOutEvent
    | CrashReportEvent
    | BreadcrumbEvent
    | PushRegistrationEvent
    | PushMessageEvent
    | NetworkPerformanceEvent
    | ProfileEvent
    | UserAttributeChangeEvent
    | UserIdentityChangeEvent
    | PreAttributionEvent
    | PushReactionEvent
)
"""Any inbound event; ``event_type_of`` gives its ``event_type``."""

EVENT_TYPES: Final[tuple[str, ...]] = tuple(str(member.__struct_config__.tag) for member in get_args(Event))
"""Every accepted ``event_type`` value."""

_PRODUCT_ACTION_NAMES: Final[dict[str, str]] = {
    "add_to_cart": "AddToCart",
    "remove_from_cart": "RemoveFromCart",
    "checkout": "Checkout",
    "checkout_option": "CheckoutOption",
    "click": "Click",
    "view_detail": "ViewDetail",
    "purchase": "Purchase",
    "refund": "Refund",
    "add_to_wishlist": "AddToWishlist",
    "remove_from_wish_list": "RemoveFromWishlist",
}
_PROMOTION_ACTION_NAMES: Final[dict[str, str]] = {"view": "PromotionView", "click": "PromotionClick"}


def event_type_of(event: Event) -> str:
    """Return the ``event_type`` of an event (its tag), e.g. ``"custom_event"``."""
    return str(event.__struct_config__.tag)


def event_name_of(event: Event) -> str:
    """Return the name an event is known by in audiences, analytics and outputs.

    custom_event: ``event_name``; screen_view: ``screen_name`` (or ``""``); commerce_event:
    ``"eCommerce - <Action>"`` from the product action, else ``"eCommerce - PromotionView"`` /
    ``"eCommerce - PromotionClick"``, else ``"eCommerce - Impression"``; any other type: its event_type.
    """
    if isinstance(event, CustomEvent):
        return event.data.event_name
    if isinstance(event, ScreenViewEvent):
        return event.data.screen_name or ""
    if isinstance(event, CommerceEvent):
        return _commerce_event_name(event.data)
    return event_type_of(event)


def _commerce_event_name(data: CommerceEventData) -> str:
    if data.product_action is not None:
        return "eCommerce - " + _PRODUCT_ACTION_NAMES[data.product_action.action]
    if data.promotion_action is not None:
        return "eCommerce - " + _PROMOTION_ACTION_NAMES[data.promotion_action.action]
    if data.product_impressions is not None:
        return "eCommerce - Impression"
    # A cart-only commerce event has no derived name; fall back to what the client sent.
    return data.event_name or "commerce_event"
