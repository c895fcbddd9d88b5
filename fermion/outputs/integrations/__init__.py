"""Integrations, one module each: webhook, Klaviyo (audience), Klaviyo events, files."""

from __future__ import annotations

from fermion.errors import BadRequest
from fermion.outputs.integrations.base import (
    CredentialsRefused,
    DeliveryFailed,
    Integration,
    Outcome,
    Record,
    SendContext,
    Setting,
    validate_settings,
)
from fermion.outputs.integrations.files import Files
from fermion.outputs.integrations.klaviyo import KlaviyoAudience
from fermion.outputs.integrations.klaviyo_events import KlaviyoEvents
from fermion.outputs.integrations.webhook import Webhook

INTEGRATIONS: dict[str, Integration] = {
    i.name: i for i in (Webhook(), KlaviyoAudience(), KlaviyoEvents(), Files())
}
COMMON_OUTPUT_SETTINGS = {
    "bulk_size": Setting("int", description="upload when this many records wait (the integration's default)"),
    "bulk_wait_s": Setting("int", description="…or when the oldest has waited this long (seconds)"),
    "timeout_s": Setting("int", default=10, description="time limit of each call to the destination"),
}


def integration_named(name: str) -> Integration:
    """The integration called ``name`` (400 listing the known ones otherwise)."""
    found = INTEGRATIONS.get(name)
    if found is None:
        raise BadRequest(f"integration: unknown {name!r}; known: {', '.join(sorted(INTEGRATIONS))}")
    return found


__all__ = [
    "COMMON_OUTPUT_SETTINGS",
    "INTEGRATIONS",
    "CredentialsRefused",
    "DeliveryFailed",
    "Integration",
    "Outcome",
    "Record",
    "SendContext",
    "Setting",
    "integration_named",
    "validate_settings",
]
