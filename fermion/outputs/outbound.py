"""The outbound batch JSON that raw-data outputs receive (spec activation §6.1)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from typing import Any

import msgspec

from fermion.schema import Batch

SCHEMA_VERSION = 2


def outbound_batch(
    batch: Batch,
    *,
    mpid: int,
    inbox_id: int,
    received_ms: int,
    skip: Set[int] = frozenset(),
    include_mp_deviceid: bool = False,
    system_notifications: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """The batch as outputs receive it: ``user_identities`` as an array of typed identities, ``mpid``,
    ``batch_id``, ``timestamp_unixtime_ms`` (receipt), per-event ``message_id``, ``schema_version`` and
    ``system_notifications``. ``skip`` lists events a data plan blocked (by position)."""
    body: dict[str, Any] = msgspec.to_builtins(batch)
    events = body.get("events") or []
    kept = []
    for index, event in enumerate(events):
        if index in skip:
            continue
        data = event.get("data") or {}
        message_id = data.get("source_message_id") or f"{inbox_id}:{index}"
        data.setdefault("event_start_unixtime_ms", data.get("timestamp_unixtime_ms", received_ms))
        event["data"] = data
        event["message_id"] = message_id
        event["message_type"] = event.get("event_type")
        kept.append(event)
    body["events"] = kept
    identities = body.get("user_identities") or {}
    body["user_identities"] = [
        {"identity_type": name, "identity": value, "timestamp_unixtime_ms": received_ms}
        for name, value in identities.items()
        if value is not None
    ]
    if not include_mp_deviceid:
        body.pop("mp_deviceid", None)
    body["mpid"] = str(mpid)
    body["batch_id"] = inbox_id
    body["timestamp_unixtime_ms"] = received_ms
    body["schema_version"] = SCHEMA_VERSION
    body["system_notifications"] = list(system_notifications) or body.get("system_notifications") or []
    return body


def with_consent_events(body: dict[str, Any]) -> dict[str, Any]:
    """The batch for partners without system notifications (spec activation §7.5): each consent change
    becomes a custom event ``Consent Given`` or ``Consent Rejected`` of type ``Consent``."""
    notes = body.get("system_notifications") or []
    if not notes:
        return body
    events = list(body.get("events") or [])
    for index, note in enumerate(notes):
        event = consent_change_event(note)
        event["message_id"] = f"{body.get('batch_id')}:consent:{index}"
        event["message_type"] = "custom_event"
        events.append(event)
    return {**body, "events": events, "system_notifications": []}


def consent_change_event(notification: Mapping[str, Any]) -> dict[str, Any]:
    """The synthetic custom event of one consent change notification; its attributes are strings."""
    data = notification["data"]
    current = data["current"]
    attributes = {
        "consented": str(current.get("consented")).lower(),
        "document": str(current.get("document") or ""),
        "hardware_id": str(current.get("hardware_id") or ""),
        "purpose": str(data["purpose"]),
        "location": str(current.get("location") or ""),
        "regulation": str(current.get("regulation")),
        "timestamp_unixtime_ms": str(current.get("timestamp_unixtime_ms") or ""),
    }
    return {
        "event_type": "custom_event",
        "data": {
            "event_name": "Consent Given" if current.get("consented") else "Consent Rejected",
            "custom_event_type": "Consent",
            "custom_attributes": attributes,
            "timestamp_unixtime_ms": current.get("timestamp_unixtime_ms"),
        },
    }
