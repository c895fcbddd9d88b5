"""The "Send …" connection settings of raw-batch outputs (spec activation §6.1): which event types, and which
parts of the outbound batch, an event connection of a webhook or files output forwards.

Event types no setting names (``opt_out``, ``breadcrumb``, ``profile``, ``pre_attribution``) are always
sent. The settings shape the outbound batch before the connection's processing steps, so rules and field
transformations see what will be sent; whether a batch left without events is sent is decided last, after
the data filter and the rules have had their say.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fermion.outputs.integrations.base import Setting

EVENT_TYPE_SETTINGS: dict[str, tuple[tuple[str, ...], bool]] = {
    "send_lifecycle_events": (
        ("session_start", "session_end", "application_state_transition", "first_run", "uninstall"),
        True,
    ),
    "send_screen_views": (("screen_view",), True),
    "send_crash_events": (("crash_report",), True),
    "send_network_performance_events": (("network_performance",), True),
    "send_custom_events": (("custom_event",), True),
    "send_push_registrations_and_receipts": (("push_registration", "push_message", "push_reaction"), True),
    "send_commerce_events": (("commerce_event",), True),
    "include_user_attribute_change_events": (("user_attribute_change",), False),
    "include_user_identity_change_events": (("user_identity_change",), False),
}
"""Each event-type setting: the ``event_type`` values it switches, and its default."""

METADATA = ("application_info", "device_info", "source_info")

RAW_BATCH_SETTINGS: dict[str, Setting] = {
    **{
        name: Setting("bool", default=default, description=f"forward {', '.join(types)} events")
        for name, (types, default) in EVENT_TYPE_SETTINGS.items()
    },
    "include_location_information": Setting("bool", default=True, description="events' data.location"),
    "include_metadata": Setting("bool", default=True, description=", ".join(METADATA)),
    "send_batches_without_events": Setting("bool", default=True),
    "include_event_batch_location": Setting("bool", default=False, description="context.location"),
}
"""The connection settings every raw-batch integration takes, with the defaults spec §6.1 gives."""


@dataclass(frozen=True)
class SendSettings:
    """A connection's "Send …" settings, parsed once; hashable, so connections alike share one payload."""

    dropped_types: frozenset[str]
    include_location: bool
    include_metadata: bool
    send_without_events: bool
    include_batch_location: bool

    @classmethod
    def of(cls, settings: Mapping[str, Any]) -> SendSettings:
        """From a connection's settings; a setting not stored (a connection saved before it existed) takes
        its default."""

        def on(name: str) -> bool:
            value = settings.get(name)
            return bool(RAW_BATCH_SETTINGS[name].default if value is None else value)

        dropped = frozenset(
            t for name, (types, _) in EVENT_TYPE_SETTINGS.items() if not on(name) for t in types
        )
        return cls(
            dropped,
            on("include_location_information"),
            on("include_metadata"),
            on("send_batches_without_events"),
            on("include_event_batch_location"),
        )

    def shape(self, batch: dict[str, Any]) -> dict[str, Any]:
        """The outbound batch as this connection sends it: a new top-level dict (nested values the settings
        do not change are shared with ``batch``, which is left as it was)."""
        shaped = dict(batch)
        events = []
        for event in batch.get("events") or []:
            if event.get("event_type") in self.dropped_types:
                continue
            data = event.get("data")
            if not self.include_location and isinstance(data, dict) and "location" in data:
                event = {**event, "data": {k: v for k, v in data.items() if k != "location"}}
            events.append(event)
        shaped["events"] = events
        if not self.include_metadata:
            for key in METADATA:
                shaped.pop(key, None)
        context = batch.get("context")
        if not self.include_batch_location and isinstance(context, dict) and "location" in context:
            rest = {k: v for k, v in context.items() if k != "location"}
            if rest:
                shaped["context"] = rest
            else:
                shaped.pop("context")
        return shaped

    def sends(self, batch: dict[str, Any]) -> bool:
        """Whether a batch (after the connection's processing) is sent at all."""
        return self.send_without_events or bool(batch.get("events"))


def send_settings_of(
    connection_settings: Mapping[str, Setting], settings: Mapping[str, Any]
) -> SendSettings | None:
    """The parsed "Send …" settings of a connection whose integration takes them; None otherwise."""
    if not RAW_BATCH_SETTINGS.keys() <= connection_settings.keys():
        return None
    return SendSettings.of(settings)
