"""Erasure at Klaviyo: one data-privacy deletion job per identifier (spec activation §8.5).

Klaviyo deletes every profile that matches the single identifier a job names (``email``, ``phone_number``
or ``id``; naming several is an error), asynchronously, and answers 202. Fermion asks once per email and
once per phone number it knows of the person, so a profile Klaviyo holds under either is deleted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from fermion.outputs.integrations.base import (
    DeliveryFailed,
    PartnerErasure,
    Setting,
    call,
    classify_response,
)
from fermion.outputs.integrations.klaviyo_profile import e164

DOMAIN = "klaviyo.com"
FORWARD_SETTING = Setting(
    "bool", default=True, description="Data Subject Request Forwarding for Erasure (data-privacy deletion)"
)


def request_deletion(
    http: httpx.Client,
    *,
    base_url: str,
    headers: Mapping[str, str],
    emails: Sequence[str],
    phones: Sequence[str],
    countries: Sequence[str] = (),
) -> PartnerErasure:
    """Submit a deletion job per identifier; the first failure decides (a retry repeats them all, which
    Klaviyo treats as the same deletion)."""
    identifiers = [{"email": e} for e in sorted(set(emails))]
    numbers = {_formatted(p, countries) for p in phones} - {None}
    identifiers += [{"phone_number": n} for n in sorted(n for n in numbers if n)]
    if not identifiers:
        return PartnerErasure("skipped", "no email or phone number to identify the person at Klaviyo")
    url = base_url.rstrip("/") + "/api/data-privacy-deletion-jobs"
    for identifier in identifiers:
        body: dict[str, Any] = {
            "data": {
                "type": "data-privacy-deletion-job",
                "attributes": {"profile": {"data": {"type": "profile", "attributes": identifier}}},
            }
        }
        try:
            response = call(http, "POST", url, json=body, headers=dict(headers))
        except DeliveryFailed as exc:
            return PartnerErasure("retry", exc.reason, exc.retry_after_ms)
        if response.status_code in (401, 403):
            return PartnerErasure("failed", f"Klaviyo refused the key (HTTP {response.status_code})")
        failure = classify_response(response)
        if failure is not None:
            status = "retry" if failure.retryable else "failed"
            reason = _reason(response)
            for value in identifier.values():
                reason = reason.replace(value, "[redacted]")
            return PartnerErasure(status, reason, failure.retry_after_ms)
    kinds = {next(iter(i)) for i in identifiers}
    what = " and ".join(
        f"{sum(1 for i in identifiers if kind in i)} {kind.replace('_', ' ')}(s)" for kind in sorted(kinds)
    )
    return PartnerErasure("sent", f"deletion requested by {what}")


def _formatted(number: str, countries: Sequence[str]) -> str | None:
    """The number in E.164: as given when it has a country code, else in the first of ``countries`` where
    it is valid (as the audience output formats it with ``$country``)."""
    for country in (None, *countries):
        found = e164(number, country)
        if found:
            return found
    return None


def _reason(response: httpx.Response) -> str:
    """Klaviyo's error detail (never the identifier itself: the status is kept after the erasure)."""
    try:
        errors = response.json().get("errors") or []
        detail = errors[0].get("detail") or errors[0].get("title") if errors else None
    except (ValueError, AttributeError):
        detail = None
    return f"HTTP {response.status_code}" + (f": {detail}" if detail else "")
