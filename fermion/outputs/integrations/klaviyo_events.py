"""Klaviyo events output (spec activation §5.2): each event of a batch becomes a Klaviyo event
(``POST /api/events``) with the user's email or phone, ``$``-special attributes and ``unique_id`` set to
the event's message id (Klaviyo de-duplicates on it, so a re-send is harmless)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from fermion.outputs.integrations.base import (
    CredentialsRefused,
    DeliveryFailed,
    Outcome,
    Record,
    SendContext,
    Setting,
    call,
    classify_response,
)
from fermion.outputs.integrations.klaviyo import REVISION, KlaviyoErasure, klaviyo_headers
from fermion.outputs.integrations.klaviyo_privacy import FORWARD_SETTING
from fermion.outputs.integrations.klaviyo_profile import PHONE_IDENTIFIERS, e164

_PROFILE_SPECIALS = {
    "$first_name": "first_name",
    "$firstname": "first_name",  # mParticle's reserved $FirstName
    "$last_name": "last_name",
    "$lastname": "last_name",
    "$image": "image",
}
_LOCATION_SPECIALS = {
    "$city": "city",
    "$region": "region",
    "$state": "region",
    "$country": "country",
    "$zip": "zip",
}


class KlaviyoEvents(KlaviyoErasure):
    """Forwards events to Klaviyo as metrics on the user's profile."""

    name = "klaviyo_events"
    kind = "event"
    raw_batches = False  # consent changes arrive as "Consent Given" / "Consent Rejected" events
    bulk_size = 100
    bulk_wait_s = 0
    settings = {
        "public_api_key": Setting("string", required=True),
        "private_api_key": Setting("string", required=True, secret=True, description="needs events:write"),
        "email_identity_type": Setting("string", default="email"),
        "phone_identifier": Setting("enum", default="mobile_number", choices=PHONE_IDENTIFIERS),
        "base_url": Setting("string", default="https://a.klaviyo.com"),
        "revision": Setting("string", default=REVISION),
        "forward_erasure": FORWARD_SETTING,
    }
    connection_settings: dict[str, Setting] = {}

    def send(self, settings: dict[str, Any], records: Sequence[Record], ctx: SendContext) -> list[Outcome]:
        """One Create Event call per event; a batch is delivered when all its events are."""
        base = settings["base_url"].rstrip("/")
        headers = klaviyo_headers(settings["private_api_key"], settings["revision"])
        outcomes: list[Outcome] = []
        for record in records:
            bodies, reason = event_bodies(record.payload, settings)
            if not bodies:
                outcomes.append(Outcome(record.id, "skipped", reason))
                continue
            try:
                for body in bodies:
                    failure = classify_response(
                        call(ctx.http, "POST", f"{base}/api/events", json=body, headers=headers)
                    )
                    if failure is not None:
                        raise failure
                outcomes.append(Outcome(record.id, "delivered"))
            except CredentialsRefused as exc:  # the output faults; this record and the rest wait
                raise exc.with_settled(outcomes) from exc
            except DeliveryFailed as exc:
                outcomes.append(
                    Outcome(
                        record.id, "retry" if exc.retryable else "rejected", exc.reason, exc.retry_after_ms
                    )
                )
        return outcomes


def event_bodies(batch: dict[str, Any], settings: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    """The Create Event bodies of an outbound batch, or none with the reason."""
    identities = {i["identity_type"]: i["identity"] for i in batch.get("user_identities") or []}
    attributes = batch.get("user_attributes") or {}
    lowered = {k.lower(): v for k, v in attributes.items()}
    profile: dict[str, Any] = {}
    if identities.get(settings.get("email_identity_type") or "email"):
        profile["email"] = identities[settings.get("email_identity_type") or "email"]
    phone = identities.get(settings.get("phone_identifier") or "mobile_number")
    if phone:
        formatted = e164(str(phone), lowered.get("$country"))
        if formatted:
            profile["phone_number"] = formatted
    if not profile:
        return [], "no email or valid phone number: Klaviyo needs one"
    for name, target in _PROFILE_SPECIALS.items():
        if name in lowered:
            profile[target] = lowered[name]
    location = {target: lowered[name] for name, target in _LOCATION_SPECIALS.items() if name in lowered}
    if location:
        profile["location"] = location
    bodies = []
    for event in batch.get("events") or []:
        data = event.get("data") or {}
        name = data.get("event_name") or data.get("screen_name") or event.get("event_type")
        properties = dict(data.get("custom_attributes") or {})
        body: dict[str, Any] = {
            "properties": {k: v for k, v in properties.items() if k not in ("$event_id", "$value")},
            "time": datetime.fromtimestamp(
                int(data.get("timestamp_unixtime_ms") or batch["timestamp_unixtime_ms"]) / 1000, UTC
            ).isoformat(),
            "unique_id": str(properties.get("$event_id") or event.get("message_id")),
            "metric": {"data": {"type": "metric", "attributes": {"name": str(name)[:127]}}},
            "profile": {"data": {"type": "profile", "attributes": profile}},
        }
        if "$value" in properties:
            body["value"] = properties["$value"]
        bodies.append({"data": {"type": "event", "attributes": body}})
    if not bodies:
        return [], "no events in the batch"
    return bodies, ""
