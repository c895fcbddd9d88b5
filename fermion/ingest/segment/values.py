"""Segment values into mParticle values: flattened attributes, lenient ISO-8601 times, UUIDs for ids."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

# Fixed namespace of the UUIDv5s Fermion derives from Segment ids (anonymousId, messageId) that are not UUIDs.
SEGMENT_NAMESPACE = uuid.UUID("5e67e0b1-3c3a-4b8e-9d53-0f3a1c2b7d11")

_ISO = re.compile(
    r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[T ](\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:[.,](\d+))?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2}|[+-]\d{2})?\s*$",
    re.IGNORECASE,
)


def flatten(values: dict[str, Any], *, lists_as_text: bool, prefix: str = "") -> dict[str, Any]:
    """Nested objects become dotted keys (``company.plan``); lists become JSON text for event attributes,
    and stay lists (of scalars) for user attributes."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, lists_as_text=lists_as_text, prefix=f"{name}."))
        elif isinstance(value, list):
            scalars = all(not isinstance(v, dict | list) for v in value)
            flat[name] = value if scalars and not lists_as_text else json.dumps(value, separators=(",", ":"))
        else:
            flat[name] = value
    return flat


def parse_time_ms(value: object) -> int | None:
    """Epoch milliseconds of an ISO-8601 time, read leniently (``2015-2-02T00:30:08.276Z`` is fine); also
    epoch numbers. None when absent or unreadable."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        millis = value if abs(value) > 10_000_000_000 else value * 1000
        return int(millis) if -(2**62) < millis < 2**62 else None
    if not isinstance(value, str):
        return None
    match = _ISO.match(value)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        moment = datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), tzinfo=UTC
        )
    except ValueError:
        return None
    millis = int((fraction or "0")[:3].ljust(3, "0"))
    if zone and zone.upper() != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
        moment -= sign * offset
    return int(moment.timestamp()) * 1000 + millis


def as_uuid(value: str) -> str:
    """``value`` when it is a UUID (lower-cased), else a UUIDv5 of it in Fermion's Segment namespace."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return str(uuid.uuid5(SEGMENT_NAMESPACE, value))
