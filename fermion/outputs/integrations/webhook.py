"""Webhook (spec activation §6.2): POSTs outbound batch JSON (§6.1) to a URL.

One POST per batch by default, as received; with ``send_as_batch`` the due batches go together as a JSON
array. ``authorization_header`` is sent verbatim as ``Authorization``; ``headers`` adds more.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fermion.outputs.integrations.base import (
    CredentialsRefused,
    DeliveryFailed,
    Outcome,
    Record,
    SendContext,
    Setting,
    all_outcomes,
    call,
    classify_response,
)
from fermion.outputs.integrations.raw_batch import RAW_BATCH_SETTINGS


class Webhook:
    """The webhook event output."""

    name = "webhook"
    kind = "event"
    bulk_size = 100
    bulk_wait_s = 0
    settings = {
        "post_url": Setting("string", required=True, description="http(s) URL the batches are POSTed to"),
        "authorization_header": Setting(
            "string", secret=True, description="sent as the Authorization header"
        ),
        "headers": Setting("mapping", default={}, description="more headers to send"),
        "include_mp_deviceid": Setting("bool", default=False),
        "send_as_batch": Setting("bool", default=False, description="POST the due batches as one JSON array"),
        "include_system_notifications": Setting(
            "bool", default=True, description="consent changes in system_notifications"
        ),
    }
    connection_settings = RAW_BATCH_SETTINGS  # spec §6.1 "Send …" settings

    def send(self, settings: dict[str, Any], records: Sequence[Record], ctx: SendContext) -> list[Outcome]:
        """POST each batch (or all of them as one array); a failure of a call is that call's records'."""
        url = settings["post_url"]
        if not url.startswith(("http://", "https://")):
            raise DeliveryFailed(f"post_url is not an http(s) URL: {url}", retryable=False)
        headers = {"Content-Type": "application/json", **(settings.get("headers") or {})}
        if settings.get("authorization_header"):
            headers["Authorization"] = settings["authorization_header"]
        if settings.get("send_as_batch"):
            response = call(ctx.http, "POST", url, json=[r.payload for r in records], headers=headers)
            failure = classify_response(response)
            if failure is not None:
                raise failure
            return all_outcomes(records, "delivered")
        outcomes = []
        for record in records:
            try:
                response = call(ctx.http, "POST", url, json=record.payload, headers=headers)
                failure = classify_response(response)
            except DeliveryFailed as exc:
                failure = exc
            if failure is None:
                outcomes.append(Outcome(record.id, "delivered"))
            elif isinstance(failure, CredentialsRefused):  # the output faults; this and the rest wait
                raise failure.with_settled(outcomes)
            elif failure.retryable:
                outcomes.append(Outcome(record.id, "retry", failure.reason, failure.retry_after_ms))
                # the destination is struggling: leave the rest for the next attempt instead of hammering it
                outcomes += [
                    Outcome(r.id, "retry", "not attempted: an earlier call failed")
                    for r in records[len(outcomes) :]
                ]
                return outcomes
            else:  # a permanent refusal goes to the dead-letter store, to be re-driven once fixed
                outcomes.append(Outcome(record.id, "dead", failure.reason))
        return outcomes
