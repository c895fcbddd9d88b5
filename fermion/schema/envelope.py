"""Repair of event envelopes, used only when the strict decode of a batch fails.

The official Python SDK, given events in its ``Batch(events=[...])`` constructor, sends each
event's data fields directly, without ``{"event_type": ..., "data": {...}}``. We accept such an
event when its type can be inferred from the fields present (our decision; mParticle's own
handling is undocumented). This module also produces the clear errors for a missing or unknown
``event_type``, which msgspec's tagged-union errors do not give.
"""

from __future__ import annotations

from typing import Any, Final

from fermion.errors import BatchValidationError
from fermion.schema.events import EVENT_TYPES

MISSING_EVENT_TYPE: Final = 'Required event field "event_type" is missing or empty.'

# (fields, event_type, all fields required?) in the order they are tried.
_INFERENCE_RULES: Final[tuple[tuple[tuple[str, ...], str, bool], ...]] = (
    (("product_action", "promotion_action", "product_impressions", "shopping_cart"), "commerce_event", False),
    (("event_name", "custom_event_type"), "custom_event", True),
    (("screen_name",), "screen_view", False),
    (("application_transition_type",), "application_state_transition", False),
    (("session_duration_ms",), "session_end", False),
    (("is_opted_out",), "opt_out", False),
    (("registration_token", "register"), "push_registration", False),
    (("push_message_type",), "push_message", False),
    (("http_verb", "url"), "network_performance", False),
    (("class_name", "stack_trace", "exception_handled", "severity"), "crash_report", False),
    (("label",), "breadcrumb", False),
    (("profile_event_type", "current_mpid"), "profile", False),
    (("user_attribute_name",), "user_attribute_change", False),
)

_KNOWN_EVENT_TYPES: Final = frozenset(EVENT_TYPES)


def infer_event_type(fields: dict[str, Any]) -> str | None:
    """Return the event_type an unwrapped event's data fields imply, or ``None``."""
    for keys, event_type, need_all in _INFERENCE_RULES:
        present = [key in fields for key in keys]
        if all(present) if need_all else any(present):
            return event_type
    return None


def wrap_events(events: list[Any], events_path: str) -> bool:
    """Wrap unwrapped events in place; return whether any event was changed.

    Elements that are not objects, and envelopes whose problems msgspec reports well, are left
    for the strict decode. Raises ``BatchValidationError`` for a missing, empty or unknown
    ``event_type`` and for an unwrapped event whose type cannot be inferred.
    """
    changed = False
    for index, event in enumerate(events):
        if not isinstance(event, dict):
            continue
        event_path = f"{events_path}[{index}]"
        if "event_type" in event or "data" in event:
            _check_event_type(event.get("event_type"), f"{event_path}.event_type")
            continue
        inferred = infer_event_type(event)
        if inferred is None:
            raise BatchValidationError(
                'Event has no "event_type" and its type cannot be inferred from its fields; '
                'send {"event_type": "<type>", "data": {...}}',
                event_path,
            )
        events[index] = {"event_type": inferred, "data": event}
        changed = True
    return changed


def _check_event_type(value: Any, path: str) -> None:
    if value is None or value == "":
        raise BatchValidationError(MISSING_EVENT_TYPE, path)
    if isinstance(value, str) and value not in _KNOWN_EVENT_TYPES:
        raise BatchValidationError(
            f'Unknown event_type "{value}"; allowed values: {", ".join(sorted(_KNOWN_EVENT_TYPES))}',
            path,
        )
