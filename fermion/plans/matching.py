"""Which data point an event belongs to: the match keys of spec §1.2, computed the same way for both sides."""

from __future__ import annotations

from typing import Any, Final

from fermion.plans.model import DataPoint
from fermion.schema import (
    ApplicationStateTransitionEvent,
    CommerceEvent,
    CustomEvent,
    Event,
    ScreenViewEvent,
    event_type_of,
)

# Event types a plan can leave unplanned (spec §1.2: custom, screen and commerce events are plannable);
# other events are validated only when a data point names their type.
PLANNABLE: Final = ("custom_event", "screen_view", "commerce_event")
UNKNOWN_KEY: Final = "unknown"


def point_key(point: DataPoint) -> str:
    """The match key of a data point."""
    criteria = point.criteria
    if point.match_type == "custom_event":
        return f"custom_event:{criteria['custom_event_type']}:{criteria['event_name']}"
    if point.match_type == "screen_view":
        return f"screen_view::{criteria['screen_name']}"
    if point.match_type in ("product_action", "promotion_action"):
        return f"{point.match_type}:{criteria['action']}"
    if point.match_type == "application_state_transition":
        return f"application_state_transition:{criteria['application_transition_type']}"
    if point.match_type == "user_identity_chagne":
        return "user_identity_change"
    return point.match_type


def event_key(event: Event) -> str:
    """The match key of an event; ``unknown`` when none can be computed."""
    if isinstance(event, CustomEvent):
        return f"custom_event:{event.data.custom_event_type}:{event.data.event_name}"
    if isinstance(event, ScreenViewEvent):
        return f"screen_view::{event.data.screen_name or ''}"
    if isinstance(event, CommerceEvent):
        data = event.data
        if data.product_action is not None:
            return f"product_action:{data.product_action.action}"
        if data.promotion_action is not None:
            return f"promotion_action:{data.promotion_action.action}"
        if data.product_impressions:
            return "product_impression"
        return UNKNOWN_KEY
    if isinstance(event, ApplicationStateTransitionEvent):
        return f"application_state_transition:{event.data.application_transition_type}"
    kind = event_type_of(event)
    return kind


def unplanned_match(event: Event, key: str) -> tuple[dict[str, Any], str]:
    """The synthesized ``match`` of an unplanned event and the ``key`` its error names."""
    if isinstance(event, CustomEvent):
        criteria = {
            "event_name": event.data.event_name,
            "custom_event_type": str(event.data.custom_event_type),
        }
        return {"type": "custom_event", "criteria": criteria}, event.data.event_name
    if isinstance(event, ScreenViewEvent):
        name = event.data.screen_name or ""
        return {"type": "screen_view", "criteria": {"screen_name": name}}, name
    if key.startswith(("product_action:", "promotion_action:")):
        kind, action = key.split(":", 1)
        return {"type": kind, "criteria": {"action": action}}, "commerce_event"
    if key == "product_impression":
        return {"type": "product_impression", "criteria": {}}, "commerce_event"
    return {"type": "unknown", "criteria": {}}, event_type_of(event)
