"""What a data subject request asks: parsed from the v3 body or the v1/v2 body, checked, identities mapped.

OpenDSR names identities its own way; Fermion keeps mParticle's names (the identity graph's). v3 carries one
identity per type in a dictionary, v1/v2 an array; both carry mParticle-only types in the
``opendsr.mparticle.com`` extension. An ``mpid`` must be the only identity of a request.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from fermion.errors import BadRequest

EXTENSION = "opendsr.mparticle.com"
MAX_IDENTITIES = 50
REGULATIONS = ("gdpr", "ccpa")
REQUEST_TYPES = ("access", "portability", "erasure")

# OpenDSR identity type → mParticle identity type.
OPENDSR_TYPES = {
    "controller_customer_id": "customer_id",
    "email": "email",
    "android_advertising_id": "android_advertising_id",
    "android_id": "android_uuid",
    "fire_advertising_id": "fire_advertising_id",
    "ios_advertising_id": "ios_advertising_id",
    "ios_vendor_id": "ios_idfv",
    "microsoft_advertising_id": "microsoft_advertising_id",
    "microsoft_publisher_id": "microsoft_publisher_id",
    "roku_advertising_id": "roku_advertising_id",
    "roku_publisher_id": "roku_publisher_id",
    "roku_publishing_id": "roku_publisher_id",  # the v3 page's spelling; discovery lists roku_publisher_id
}
# Types only the extension may carry (mParticle's own), with their identity-graph names.
EXTENSION_TYPES = {
    "mpid": "mpid",
    "other": "other",
    **{f"other{n}": f"other_id_{n}" for n in range(2, 11)},
    "other1": "other",
    "mobile_number": "mobile_number",
    "phone_number_2": "phone_number_2",
    "phone_number_3": "phone_number_3",
}
DEVICE_TYPES = frozenset(
    {
        "android_advertising_id",
        "android_uuid",
        "fire_advertising_id",
        "ios_advertising_id",
        "ios_idfv",
        "microsoft_advertising_id",
        "microsoft_publisher_id",
        "roku_advertising_id",
        "roku_publisher_id",
    }
)
DISCOVERY_TYPES = tuple(t for t in OPENDSR_TYPES if t != "roku_publishing_id")


@dataclass(frozen=True)
class SubjectRequest:
    """A checked request: mParticle identity type → value (``mpid`` alone when given)."""

    subject_request_id: str
    regulation: str
    request_type: str
    submitted_time: str
    identities: dict[str, str]
    api_version: str
    callback_urls: tuple[str, ...]
    group_id: str | None
    skip_waiting_period: bool


def _fail(message: str) -> BadRequest:
    return BadRequest(message)


def _text(body: dict[str, Any], name: str, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise _fail(f"{name} is required.")
        return None
    if not isinstance(value, str) or not value:
        raise _fail(f"{name} must be a non-empty string.")
    return value


def _common(body: Any, version: str) -> tuple[str, str, str, str, tuple[str, ...], str | None]:
    if not isinstance(body, dict):
        raise _fail("The request body must be a JSON object.")
    request_id = _text(body, "subject_request_id") or ""
    try:
        if uuid.UUID(request_id).version != 4:
            raise ValueError(request_id)
    except ValueError as exc:
        raise _fail("subject_request_id must be a UUID v4.") from exc
    if version == "1.0":
        regulation = "gdpr"
    else:
        regulation = (_text(body, "regulation") or "").lower()
        if regulation not in REGULATIONS:
            raise _fail(f"Unknown regulation {regulation!r}: use gdpr or ccpa.")
    request_type = _text(body, "subject_request_type") or ""
    if request_type not in REQUEST_TYPES:
        raise _fail(f"Unknown subject_request_type {request_type!r}: use access, portability or erasure.")
    submitted = _text(body, "submitted_time") or ""
    urls = body.get("status_callback_urls") or []
    if not isinstance(urls, list) or not all(isinstance(u, str) and u.startswith("http") for u in urls):
        raise _fail("status_callback_urls must be an array of http(s) URLs.")
    group = _text(body, "group_id", required=False)
    return request_id.lower(), regulation, request_type, submitted, tuple(urls), group


def _add(found: dict[str, str], mparticle_type: str, value: Any, encoding: Any) -> None:
    if encoding not in (None, "raw"):
        raise _fail(f"Identity encoding {encoding!r} is not supported: use raw.")
    if not isinstance(value, (str, int)) or isinstance(value, bool) or str(value) == "":
        raise _fail(f"The {mparticle_type} identity needs a value.")
    if mparticle_type in found:
        raise _fail(f"Only one identity of type {mparticle_type} is allowed.")
    found[mparticle_type] = str(value)


def _checked(found: dict[str, str]) -> dict[str, str]:
    if not found:
        raise _fail("subject_identities must name at least one identity.")
    if len(found) > MAX_IDENTITIES:
        raise _fail(f"At most {MAX_IDENTITIES} identities are allowed.")
    if "mpid" in found:
        if len(found) > 1:
            raise _fail("An mpid must be the only identity of a request.")
        try:
            int(found["mpid"])
        except ValueError as exc:
            raise _fail("An mpid must be a 64-bit integer.") from exc
    return found


def parse_v3(body: Any) -> SubjectRequest:
    """A v3 request (identities as a dictionary, one per type); BadRequest names what is wrong."""
    request_id, regulation, request_type, submitted, urls, group = _common(body, "3.0")
    found: dict[str, str] = {}
    identities = body.get("subject_identities") or {}
    extension = (body.get("extensions") or {}).get(EXTENSION) or {}
    if not isinstance(identities, dict) or not isinstance(extension, dict):
        raise _fail("subject_identities must be an object keyed by identity type.")
    for name, item in identities.items():
        if name not in OPENDSR_TYPES:
            hint = " (an mParticle type: send it in the extension)" if name in EXTENSION_TYPES else ""
            raise _fail(f"Unsupported identity type {name!r}{hint}.")
        if not isinstance(item, dict):
            raise _fail(f"The {name} identity must be an object with value and encoding.")
        _add(found, OPENDSR_TYPES[name], item.get("value"), item.get("encoding"))
    extra = extension.get("subject_identities") or {}
    if not isinstance(extra, dict):
        raise _fail("The extension's subject_identities must be an object keyed by identity type.")
    for name, item in extra.items():
        mapped = EXTENSION_TYPES.get(name) or OPENDSR_TYPES.get(name)
        if mapped is None or not isinstance(item, dict):
            raise _fail(f"Unsupported extension identity {name!r}.")
        _add(found, mapped, item.get("value"), item.get("encoding"))
    skip = extension.get("skip_waiting_period", False)
    if not isinstance(skip, bool):
        raise _fail("skip_waiting_period must be true or false.")
    return SubjectRequest(
        request_id, regulation, request_type, submitted, _checked(found), "3.0", urls, group, skip
    )


def parse_legacy(body: Any, version: str) -> SubjectRequest:
    """A v1 (``1.0``) or v2 (``2.0``) request: identities as an array, MPIDs in the extension."""
    request_id, regulation, request_type, submitted, urls, group = _common(body, version)
    found: dict[str, str] = {}
    items = body.get("subject_identities") or []
    extension = (body.get("extensions") or {}).get(EXTENSION) or {}
    if not isinstance(items, list) or not isinstance(extension, dict):
        raise _fail("subject_identities must be an array of identities.")
    for item in items + list(extension.get("identities") or []):
        if not isinstance(item, dict):
            raise _fail("Each identity must be an object with identity_type and identity_value.")
        name = item.get("identity_type")
        mapped = OPENDSR_TYPES.get(name) or EXTENSION_TYPES.get(name)  # type: ignore[arg-type]
        if mapped is None or mapped == "mpid":
            raise _fail(f"Unsupported identity type {name!r}.")
        _add(found, mapped, item.get("identity_value"), item.get("identity_format"))
    mpids = extension.get("mpids") or []
    if not isinstance(mpids, list):
        raise _fail("The extension's mpids must be an array.")
    if len(mpids) > 1:
        raise _fail("At most one mpid is allowed per request.")
    for mpid in mpids:
        _add(found, "mpid", mpid, None)
    return SubjectRequest(
        request_id, regulation, request_type, submitted, _checked(found), version, urls, group, False
    )
