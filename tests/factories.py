"""Small builders of test data: batches, events and credentials."""

from __future__ import annotations

import base64
import uuid
from typing import Any


def make_event(event_type: str = "custom_event", **data: Any) -> dict[str, Any]:
    """One event envelope; custom events get a name and type unless given."""
    if event_type == "custom_event":
        data.setdefault("event_name", "Test Event")
        data.setdefault("custom_event_type", "other")
    data.setdefault("source_message_id", str(uuid.uuid4()))
    return {"event_type": event_type, "data": data}


def make_batch(events: list[dict[str, Any]] | None = None, **fields: Any) -> dict[str, Any]:
    """One batch with a customer id and one custom event unless given."""
    batch: dict[str, Any] = {
        "environment": "development",
        "events": events if events is not None else [make_event()],
    }
    batch.setdefault("user_identities", {"customer_id": f"customer-{uuid.uuid4().hex[:8]}"})
    batch.update(fields)
    return batch


def basic_auth(key: str, secret: str) -> dict[str, str]:
    """The Authorization header of an input's key and secret."""
    token = base64.b64encode(f"{key}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {token}"}
