"""Klaviyo audience output (spec activation §5.1, speaking the API of §5.3).

Per audience connection, a Klaviyo list named after the audience's external name (found, else created;
its id kept in the output's state). Adds: bulk profile import jobs (≤ 10,000 profiles and ≤ 5 MB) with the
list relationship, then the job is polled and its import errors recorded per profile. Removes: profile ids
by email (``any(email,[…])``, 100 a page), then the list relationship deleted (≤ 1000 a call). Consent
Mapping: subscription jobs (≤ 1000) for purposes mapped to a channel and consented; removal of consent is
not forwarded (as mParticle documents). A 400 naming profiles rejects them with Klaviyo's reason and
retries the rest once.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from fermion.outputs.integrations.base import (
    CREDENTIALS_STATUS,
    CredentialsRefused,
    DeliveryFailed,
    Outcome,
    PartnerErasure,
    Record,
    SendContext,
    Setting,
    call,
    classify_response,
)
from fermion.outputs.integrations.klaviyo_privacy import DOMAIN, FORWARD_SETTING, request_deletion
from fermion.outputs.integrations.klaviyo_profile import (
    ALTERNATE_IDENTIFIERS,
    PHONE_IDENTIFIERS,
    klaviyo_profile,
)

REVISION = "2026-07-15"
MAX_IMPORT_PROFILES = 10_000
MAX_IMPORT_BYTES = 5_000_000
MAX_LIST_CHANGE = 1000
MAX_SUBSCRIBE = 1000
PAGE = 100
_POINTER = re.compile(r"/data/attributes/profiles/data/(\d+)")


def klaviyo_headers(private_key: str, revision: str) -> dict[str, str]:
    """The headers every call carries: private-key auth, the pinned revision, JSON:API media type."""
    return {
        "Authorization": f"Klaviyo-API-Key {private_key}",
        "revision": revision,
        "Content-Type": "application/vnd.api+json",
        "Accept": "application/vnd.api+json",
    }


class KlaviyoErasure:
    """Erasure forwarding, shared by Klaviyo's integrations: data-privacy deletion jobs by the output's email
    identity (``email_identity_type``, else ``email``) and its phone identity."""

    erasure_domain = DOMAIN

    def forward_erasure(
        self,
        settings: dict[str, Any],
        identities: Mapping[str, Sequence[str]],
        http: httpx.Client,
        countries: Sequence[str] = (),
    ) -> PartnerErasure:
        """Delete the person at Klaviyo by the email and phone identities the output sends."""
        return request_deletion(
            http,
            base_url=settings["base_url"],
            headers=klaviyo_headers(settings["private_api_key"], settings["revision"]),
            emails=identities.get(settings.get("email_identity_type") or "email", ()),
            phones=identities.get(settings.get("phone_identifier") or "mobile_number", ()),
            countries=countries,
        )


class KlaviyoAudience(KlaviyoErasure):
    """Keeps a Klaviyo list per audience in step with the audience's members."""

    name = "klaviyo"
    kind = "audience"
    bulk_size = 100
    bulk_wait_s = 16 * 3600
    settings = {
        "private_api_key": Setting("string", required=True, secret=True, description="Private API key"),
        "alternate_identifier": Setting("enum", default="none", choices=ALTERNATE_IDENTIFIERS,
                                        description="identity sent as external_id"),
        "phone_identifier": Setting("enum", default="mobile_number", choices=PHONE_IDENTIFIERS),
        "base_url": Setting("string", default="https://a.klaviyo.com"),
        "revision": Setting("string", default=REVISION),
        "job_poll_attempts": Setting("int", default=20, description="job status polls"),
        "forward_erasure": FORWARD_SETTING,
    }  # fmt: skip
    connection_settings = {
        "property_mapping": Setting("mapping", default={}, description="user attribute → Klaviyo property"),
        "consent_mapping": Setting("mapping", default={}, description="consent purpose → email | sms"),
        "list_name": Setting(
            "string", description="Klaviyo list name (default: the audience's external name)"
        ),
    }

    def send(self, settings: dict[str, Any], records: Sequence[Record], ctx: SendContext) -> list[Outcome]:
        """Adds and removes, per audience connection; a failing group does not fail the others."""
        client = _Client(ctx.http, settings)
        groups: dict[tuple[int, int], list[Record]] = {}
        for record in records:
            groups.setdefault((record.connection_id, int(record.payload["audience_id"])), []).append(record)
        outcomes: list[Outcome] = []
        for (connection_id, audience_id), group in groups.items():
            conn_settings = ctx.connection_settings.get(connection_id, {})
            try:
                name = (
                    conn_settings.get("list_name")
                    or group[0].payload.get("audience_name")
                    or str(audience_id)
                )
                list_id = _list_id(client, ctx, name)
                outcomes += self._send_group(client, settings, conn_settings, list_id, group)
            except CredentialsRefused as exc:  # no group can go: fault the output, keep what was done
                raise exc.with_settled(outcomes) from exc
            except DeliveryFailed as exc:
                status = "retry" if exc.retryable else "dead"
                outcomes += [Outcome(r.id, status, exc.reason, exc.retry_after_ms) for r in group]
        return outcomes

    def _send_group(
        self,
        client: _Client,
        settings: dict[str, Any],
        conn_settings: dict[str, Any],
        list_id: str,
        group: list[Record],
    ) -> list[Outcome]:
        outcomes: list[Outcome] = []
        adds: list[tuple[Record, dict[str, Any], list[str]]] = []
        removes: list[tuple[Record, str]] = []
        for record in group:
            profile, notes = klaviyo_profile(
                record.payload, settings, conn_settings.get("property_mapping") or {}
            )
            if profile is None:
                outcomes.append(Outcome(record.id, "skipped", "; ".join(notes)))
            elif record.payload.get("action") == "add":
                adds.append((record, profile, notes))
            else:
                removes.append((record, profile["email"]))
        for chunk in _chunks(adds):
            outcomes += _import(client, list_id, chunk, settings)
            _subscribe(client, list_id, chunk, conn_settings.get("consent_mapping") or {})
        if removes:
            outcomes += _remove(client, list_id, removes)
        return outcomes


class _Client:
    def __init__(self, http: httpx.Client, settings: dict[str, Any]) -> None:
        self.http = http
        self.base = settings["base_url"].rstrip("/")
        self.headers = klaviyo_headers(settings["private_api_key"], settings["revision"])
        self.poll_attempts = int(settings.get("job_poll_attempts") or 20)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = call(self.http, method, self.base + path, headers=self.headers, **kwargs)
        if response.status_code in CREDENTIALS_STATUS:
            reason = f"Klaviyo refused the key (HTTP {response.status_code}): {response.text[:200]}"
            raise CredentialsRefused(reason)
        return response

    def ok(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self.request(method, path, **kwargs)
        failure = classify_response(response)
        if failure is not None:
            raise failure
        return response


def _list_id(client: _Client, ctx: SendContext, name: str) -> str:
    key = f"list:{name}"
    known = ctx.get_state(key)
    if known:
        return known
    escaped = name.replace('"', '\\"')
    found = (
        client.ok("GET", "/api/lists", params={"filter": f'equals(name,"{escaped}")'}).json().get("data")
        or []
    )
    if found:
        list_id = str(found[0]["id"])
    else:
        body = {"data": {"type": "list", "attributes": {"name": name}}}
        list_id = str(client.ok("POST", "/api/lists", json=body).json()["data"]["id"])
    ctx.set_state(key, list_id)
    return list_id


def _chunks(
    adds: list[tuple[Record, dict[str, Any], list[str]]],
) -> list[list[tuple[Record, dict[str, Any], list[str]]]]:
    """Import chunks within Klaviyo's limits: ≤ 10,000 profiles and ≤ 5 MB each."""
    chunks: list[list[tuple[Record, dict[str, Any], list[str]]]] = []
    current: list[tuple[Record, dict[str, Any], list[str]]] = []
    size = 0
    for add in adds:
        length = len(json.dumps(add[1])) + 64
        if current and (len(current) >= MAX_IMPORT_PROFILES or size + length > MAX_IMPORT_BYTES - 4096):
            chunks.append(current)
            current, size = [], 0
        current.append(add)
        size += length
    if current:
        chunks.append(current)
    return chunks


def _import(
    client: _Client,
    list_id: str,
    chunk: list[tuple[Record, dict[str, Any], list[str]]],
    settings: dict[str, Any],
) -> list[Outcome]:
    """One bulk import job; a 400 naming profiles rejects them and retries the rest once."""
    outcomes: list[Outcome] = []
    pending = list(chunk)
    for _ in range(2):
        body = {"data": {"type": "profile-bulk-import-job", "attributes": {"profiles": {"data": [
            {"type": "profile", "attributes": profile} for _, profile, _ in pending]}},
            "relationships": {"lists": {"data": [{"type": "list", "id": list_id}]}}}}  # fmt: skip
        response = client.request("POST", "/api/profile-bulk-import-jobs", json=body)
        if response.status_code == 400:
            named = _named_in_errors(response)
            if not named:
                break
            for index, reason in named.items():
                if index < len(pending):
                    outcomes.append(Outcome(pending[index][0].id, "rejected", f"Klaviyo: {reason}"))
            pending = [p for i, p in enumerate(pending) if i not in named]
            if not pending:
                return outcomes
            continue
        failure = classify_response(response)
        if failure is not None:
            raise failure
        job_id = str(response.json()["data"]["id"])
        return outcomes + _job_results(client, job_id, pending)
    reason = f"Klaviyo rejected the import: {response.text[:300]}"
    return outcomes + [Outcome(record.id, "rejected", reason) for record, _, _ in pending]


def _named_in_errors(response: httpx.Response) -> dict[int, str]:
    """Profiles a 400 names by pointer (``/data/attributes/profiles/data/<i>/…``), with the reason."""
    try:
        errors = response.json().get("errors") or []
    except ValueError:
        return {}
    named: dict[int, str] = {}
    for error in errors:
        pointer = ((error.get("source") or {}).get("pointer")) or ""
        match = _POINTER.match(pointer)
        if match:
            named[int(match.group(1))] = str(error.get("detail") or error.get("title") or "invalid")
    return named


def _job_results(
    client: _Client, job_id: str, pending: list[tuple[Record, dict[str, Any], list[str]]]
) -> list[Outcome]:
    """Poll the job until it is complete, then reject the profiles its import errors name."""
    status = "queued"
    for attempt in range(client.poll_attempts):
        job = client.ok("GET", f"/api/profile-bulk-import-jobs/{job_id}").json()["data"]
        status = job["attributes"]["status"]
        if status in ("complete", "cancelled"):
            break
        time.sleep(min(0.05 * 2**attempt, 2.0))
    if status == "cancelled":
        raise DeliveryFailed(f"Klaviyo cancelled import job {job_id}", retryable=True)
    if status != "complete":  # the import is idempotent: sending again is safe
        raise DeliveryFailed(f"import job {job_id} still {status}", retryable=True)
    errors: dict[str, str] = {}
    path: str | None = f"/api/profile-bulk-import-jobs/{job_id}/import-errors?page[size]={PAGE}"
    while path:
        page = client.ok("GET", path).json()
        for item in page.get("data") or []:
            attributes = item.get("attributes") or item
            original = attributes.get("original_payload") or {}
            email = (original.get("attributes") or original).get("email")
            if email:
                errors[str(email)] = str(
                    attributes.get("detail") or attributes.get("title") or "import error"
                )
        following = (page.get("links") or {}).get("next")
        path = following.replace(client.base, "") if following else None
    outcomes = []
    for record, profile, notes in pending:
        if profile["email"] in errors:
            outcomes.append(Outcome(record.id, "rejected", f"Klaviyo: {errors[profile['email']]}"))
        else:
            outcomes.append(Outcome(record.id, "delivered", "; ".join([f"import job {job_id}", *notes])))
    return outcomes


def _subscribe(
    client: _Client,
    list_id: str,
    chunk: list[tuple[Record, dict[str, Any], list[str]]],
    mapping: dict[str, str],
) -> None:
    """Subscription jobs for mapped, consented purposes (removal of consent is not forwarded)."""
    if not mapping:
        return
    profiles = []
    for record, profile, _ in chunk:
        gdpr = (record.payload.get("consent_state") or {}).get("gdpr") or {}
        channels = {
            channel for purpose, channel in mapping.items()
            if isinstance(gdpr.get(purpose.lower()), dict) and gdpr[purpose.lower()].get("consented") is True
        }  # fmt: skip
        subscriptions: dict[str, Any] = {}
        if "email" in channels:
            subscriptions["email"] = {"marketing": {"consent": "SUBSCRIBED"}}
        if "sms" in channels and profile.get("phone_number"):
            subscriptions["sms"] = {"marketing": {"consent": "SUBSCRIBED"}}
        if subscriptions:
            attributes = {"email": profile["email"], "subscriptions": subscriptions}
            if "sms" in subscriptions:
                attributes["phone_number"] = profile["phone_number"]
            profiles.append({"type": "profile", "attributes": attributes})
    for start in range(0, len(profiles), MAX_SUBSCRIBE):
        body = {"data": {"type": "profile-subscription-bulk-create-job", "attributes": {
            "custom_source": "Fermion", "profiles": {"data": profiles[start:start + MAX_SUBSCRIBE]}},
            "relationships": {"list": {"data": {"type": "list", "id": list_id}}}}}  # fmt: skip
        client.ok("POST", "/api/profile-subscription-bulk-create-jobs", json=body)


def _remove(client: _Client, list_id: str, removes: list[tuple[Record, str]]) -> list[Outcome]:
    """Find profile ids by email, then delete their list relationship."""
    emails = sorted({email for _, email in removes})
    ids: dict[str, str] = {}
    for start in range(0, len(emails), PAGE):
        quoted = ",".join(json.dumps(e) for e in emails[start : start + PAGE])
        params = {"filter": f"any(email,[{quoted}])", "page[size]": str(PAGE)}
        for item in client.ok("GET", "/api/profiles", params=params).json().get("data") or []:
            ids[str(item["attributes"]["email"])] = str(item["id"])
    found = sorted(set(ids.values()))
    for start in range(0, len(found), MAX_LIST_CHANGE):
        body = {"data": [{"type": "profile", "id": pid} for pid in found[start : start + MAX_LIST_CHANGE]]}
        client.ok("DELETE", f"/api/lists/{list_id}/relationships/profiles", json=body)
    return [
        Outcome(
            record.id,
            "delivered",
            "" if email in ids else "no Klaviyo profile with this email: nothing to remove",
        )
        for record, email in removes
    ]
