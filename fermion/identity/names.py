"""Identity type names: Fermion's canonical names, the spellings clients send, and IDSync's keys.

User identities keep the batch names (``customer_id``, ``other_id_2``, ``mobile_number``…); device identities
take IDSync's names (``ios_idfa``, ``android_aaid``, ``device_application_stamp``…). Every spelling a client
uses maps to one canonical name.
"""

from __future__ import annotations

from fermion.errors import BadRequest
from fermion.schema import IDENTITY_TYPES

USER_TYPES = IDENTITY_TYPES  # the batch names, in the spec's order
DEVICE_TYPES = (
    "ios_idfa",
    "ios_idfv",
    "android_aaid",
    "android_uuid",
    "push_token",
    "roku_aid",
    "roku_publisher_id",
    "fire_aid",
    "amp_id",
    "microsoft_aid",
    "microsoft_publisher_id",
    "device_application_stamp",
)
ALL_TYPES = USER_TYPES + DEVICE_TYPES

# Spellings clients send → canonical name.
_ALIASES: dict[str, str] = {
    "customerid": "customer_id",
    "facebookcustomaudienceid": "facebook_custom_audience_id",
    "ios_advertising_id": "ios_idfa",
    "android_advertising_id": "android_aaid",
    "roku_advertising_id": "roku_aid",
    "fire_advertising_id": "fire_aid",
    "microsoft_advertising_id": "microsoft_aid",
    "mp_deviceid": "device_application_stamp",
    **{f"other{n}": f"other_id_{n}" for n in range(2, 11)},
}
CANONICAL: dict[str, str] = {**{name: name for name in ALL_TYPES}, **_ALIASES}

# Canonical name → the key IDSync responses use.
IDSYNC_KEY: dict[str, str] = {
    **{name: name for name in ALL_TYPES},
    "customer_id": "customerid",
    "facebook_custom_audience_id": "facebookcustomaudienceid",
    **{f"other_id_{n}": f"other{n}" for n in range(2, 11)},
}

# The default identity priority (hierarchy), then every other type.
_DEFAULT_FIRST = (
    "customer_id",
    "mobile_number",
    "email",
    "other",
    "facebook",
    "google",
    "twitter",
    "microsoft",
    "yahoo",
    "ios_idfa",
    "ios_idfv",
    "android_aaid",
    "android_uuid",
    "roku_aid",
    "roku_publisher_id",
    "microsoft_publisher_id",
    "microsoft_aid",
    "device_application_stamp",
)
DEFAULT_PRIORITY = _DEFAULT_FIRST + tuple(name for name in ALL_TYPES if name not in _DEFAULT_FIRST)


def canonical(name: str) -> str:
    """The canonical name of an identity type in any spelling; BadRequest for an unknown type."""
    found = CANONICAL.get(name)
    if found is None:
        raise BadRequest(f"Unknown identity type {name!r}.")
    return found


def is_device_type(name: str) -> bool:
    """Whether a canonical identity type names a device rather than a user."""
    return name in DEVICE_TYPES
