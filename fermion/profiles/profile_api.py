"""The Profile API's vocabulary (spec §5): which parts of a profile a caller may ask for, and what the
identity types are called there.

The Profile API names identity types its own way (``facebook_id``, ``google_advertising_id``, §3.5). The spec
names no Profile API type for ``other_id_2``…``other_id_10``, the phone numbers, the Roku, Fire and Microsoft
device ids or the device application stamp; those keep Fermion's own name (docs/profile-api.md).
"""

from __future__ import annotations

from typing import Final

from fermion.errors import BadRequest
from fermion.schema import IDENTITY_ALIASES, IDENTITY_TYPES

PROFILE_API_FIELDS: Final = (
    "device_identities",
    "user_identities",
    "user_attributes",
    "audience_memberships",
    "attribution",
)
"""The parts of a profile ``fields`` may list; the rest of the body is always returned."""

_PROFILE_API_TYPE: Final[dict[str, str]] = {
    "customer_id": "customer_id",
    "email": "email",
    "other": "other",
    "facebook": "facebook_id",
    "google": "google_id",
    "microsoft": "microsoft_id",
    "twitter": "twitter_id",
    "yahoo": "yahoo_id",
    "facebook_custom_audience_id": "facebook_custom_audience_id",
    "ios_advertising_id": "ios_advertising_id",
    "ios_idfa": "ios_advertising_id",
    "ios_idfv": "ios_vendor_id",
    "android_advertising_id": "google_advertising_id",
    "android_aaid": "google_advertising_id",
    "android_uuid": "android_id",
    "push_token": "push_notification_token",
    "amp_id": "amp_id",
}

# A user identity type in any accepted spelling → the name profiles store it under.
_USER_TYPE_BY_NAME: Final[dict[str, str]] = {
    **{name: name for name in IDENTITY_TYPES},
    **IDENTITY_ALIASES,
    **{api: name for name, api in _PROFILE_API_TYPE.items() if name in IDENTITY_TYPES},
}


def parse_fields(text: str) -> frozenset[str]:
    """The parts of a profile named by a ``fields`` query parameter; BadRequest for an unknown or no part."""
    wanted = frozenset(part.strip() for part in text.split(",") if part.strip())
    unknown = sorted(wanted.difference(PROFILE_API_FIELDS))
    if unknown:
        raise BadRequest(
            f"Unknown field {', '.join(unknown)} in `fields`; use a comma-separated subset of "
            f"{', '.join(PROFILE_API_FIELDS)}."
        )
    if not wanted:
        raise BadRequest(f"`fields` must list at least one of {', '.join(PROFILE_API_FIELDS)}.")
    return wanted


def profile_api_type(name: str) -> str:
    """The Profile API's name of a stored identity type (its own name where the spec names none)."""
    return _PROFILE_API_TYPE.get(name, name)


def stored_user_identity_type(name: str) -> str:
    """The stored name of a user identity type given in the Profile API's or the batch's spelling.

    BadRequest for anything else, device identity types included: profiles resolve by user identity.
    """
    found = _USER_TYPE_BY_NAME.get(name)
    if found is None:
        raise BadRequest(
            f"Unknown user identity type {name!r}; use a Profile API type such as customer_id, email, "
            "other or facebook_id, or a batch identity name such as other_id_2."
        )
    return found
