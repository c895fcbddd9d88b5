"""Which stored events a calculated attribute or an audience event criterion looks at, and their values.

An event's body is decoded only when a matcher with the event's name needs its attributes, so the
hot path stays a dictionary lookup for most events.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import msgspec

from fermion.calculated.conditions import Condition, holds
from fermion.events import StoredEvent

_decode = msgspec.json.decode


class EventView:
    """A stored event with its body decoded on first need."""

    __slots__ = ("_attributes", "_data", "event")

    def __init__(self, event: StoredEvent) -> None:
        self.event = event
        self._data: dict[str, Any] | None = None
        self._attributes: dict[str, Any] | None = None

    @property
    def data(self) -> dict[str, Any]:
        """The event's ``data`` object."""
        if self._data is None:
            try:
                body = _decode(self.event.body)
                self._data = body.get("data") or {} if isinstance(body, dict) else {}
            except msgspec.DecodeError:
                self._data = {}
        return self._data

    def attributes(self) -> dict[str, Any]:
        """The event's custom attributes (for commerce events, the transaction fields too)."""
        if self._attributes is not None:
            return self._attributes
        data = self.data
        found = dict(data.get("custom_attributes") or {})
        action = data.get("product_action")
        if isinstance(action, dict):
            for key, value in action.items():
                if key != "products" and not isinstance(value, dict | list):
                    found.setdefault(key, value)
        self._attributes = found
        return found

    def custom_event_type(self) -> str | None:
        """``custom_event_type`` of a custom event, or the product/promotion action of a commerce event."""
        data = self.data
        if isinstance(data.get("custom_event_type"), str):
            return str(data["custom_event_type"])
        for key in ("product_action", "promotion_action"):
            action = data.get(key)
            if isinstance(action, dict) and isinstance(action.get("action"), str):
                return str(action["action"])
        return None

    def products(self) -> list[dict[str, Any]]:
        """The products of a commerce event's product action (or its impressions)."""
        action = self.data.get("product_action")
        if isinstance(action, dict) and isinstance(action.get("products"), list):
            return [p for p in action["products"] if isinstance(p, dict)]
        return []

    def promotions(self) -> list[dict[str, Any]]:
        """The promotions of a commerce event's promotion action."""
        action = self.data.get("promotion_action")
        if isinstance(action, dict) and isinstance(action.get("promotions"), list):
            return [p for p in action["promotions"] if isinstance(p, dict)]
        return []


@dataclass(frozen=True)
class EventMatcher:
    """Events of one name (case-insensitive) and type, optionally of a custom type, passing conditions."""

    event_name: str
    event_type: str | None = None
    custom_event_type: str | None = None
    conditions: tuple[Condition, ...] = ()

    @cached_property
    def key(self) -> str:
        """A short stable id of what this matcher selects: equal matchers share state."""
        document = [
            self.event_name.lower(),
            self.event_type,
            (self.custom_event_type or "").lower() or None,
            [c.to_json() for c in self.conditions],
        ]
        text = json.dumps(document, sort_keys=True, default=str)
        return hashlib.sha1(text.encode()).hexdigest()[:16]

    def matches(self, view: EventView) -> bool:
        """Whether the event is one this matcher selects (the caller has matched the name already)."""
        event = view.event
        if self.event_type is not None and event.event_type != self.event_type:
            return False
        if (
            self.custom_event_type
            and (view.custom_event_type() or "").lower() != self.custom_event_type.lower()
        ):
            return False
        if self.conditions:
            attributes = view.attributes()
            return all(holds(c, attributes) for c in self.conditions)
        return True


class MatcherIndex:
    """Matchers by lower-cased event name, so each event is tested only against matchers of its name.

    A matcher without a name (a commerce action, any screen view) is tested against every event.
    """

    def __init__(self) -> None:
        self._by_name: dict[str, list[tuple[EventMatcher, Any]]] = {}
        self._any: list[tuple[EventMatcher, Any]] = []

    def add(self, matcher: EventMatcher, target: Any) -> None:
        """Register ``target`` to receive the events ``matcher`` selects."""
        if matcher.event_name:
            self._by_name.setdefault(matcher.event_name.lower(), []).append((matcher, target))
        else:
            self._any.append((matcher, target))

    def __bool__(self) -> bool:
        return bool(self._by_name or self._any)

    def matching(self, view: EventView) -> list[Any]:
        """The targets whose matcher selects this event."""
        candidates = self._by_name.get(view.event.event_name.lower())
        if self._any:
            candidates = [*(candidates or ()), *self._any]
        if not candidates:
            return []
        return [target for matcher, target in candidates if matcher.matches(view)]
