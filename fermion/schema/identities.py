"""User identities and the mParticle ID (spec §3.1, §2.1 ``mpid``).

``user_identities`` is the one object in a batch whose unknown keys are rejected rather than
ignored: an identity sent under a misspelt name would otherwise be silently lost.
"""

from __future__ import annotations

import re
from typing import Final

import msgspec

from fermion.errors import BatchValidationError
from fermion.schema.integers import INT64_MAX, INT64_MIN, Int64

IDENTITY_TYPES: Final[tuple[str, ...]] = (
    "customer_id",
    "email",
    "other",
    "other_id_2",
    "other_id_3",
    "other_id_4",
    "other_id_5",
    "other_id_6",
    "other_id_7",
    "other_id_8",
    "other_id_9",
    "other_id_10",
    "mobile_number",
    "phone_number_2",
    "phone_number_3",
    "facebook",
    "twitter",
    "google",
    "microsoft",
    "yahoo",
    "facebook_custom_audience_id",
    "alias",
)
"""Every identity name a batch's ``user_identities`` may carry, in spec order."""

IDENTITY_ALIASES: Final[dict[str, str]] = {"customerid": "customer_id"}
"""Input-only spellings and the identity they mean (the official Python SDK sends ``customerid``)."""

_MPID_TEXT = re.compile(r"-?[0-9]+")


class UserIdentities(msgspec.Struct, omit_defaults=True, kw_only=True, forbid_unknown_fields=True):
    """``user_identities`` of a batch: identity name -> value.

    ``customerid`` is accepted on input only; decoding moves it to ``customer_id``, so it is
    always ``None`` on a decoded batch.
    """

    customer_id: str | None = None
    email: str | None = None
    other: str | None = None
    other_id_2: str | None = None
    other_id_3: str | None = None
    other_id_4: str | None = None
    other_id_5: str | None = None
    other_id_6: str | None = None
    other_id_7: str | None = None
    other_id_8: str | None = None
    other_id_9: str | None = None
    other_id_10: str | None = None
    mobile_number: str | None = None
    phone_number_2: str | None = None
    phone_number_3: str | None = None
    facebook: str | None = None
    twitter: str | None = None
    google: str | None = None
    microsoft: str | None = None
    yahoo: str | None = None
    facebook_custom_audience_id: str | None = None
    alias: str | None = None
    customerid: str | None = None


class UserIdentity(msgspec.Struct, omit_defaults=True, kw_only=True):
    """One identity as outbound JSON and ``user_identity_change`` events carry it."""

    identity_type: str
    identity: str | None = None
    timestamp_unixtime_ms: Int64 | None = None
    created_this_batch: bool | None = None


def identities_of(identities: UserIdentities | None) -> dict[str, str]:
    """Return the identities that are set, as identity name -> value, in spec order."""
    if identities is None:
        return {}
    found: dict[str, str] = {}
    for name in IDENTITY_TYPES:
        value = getattr(identities, name)
        if value is not None:
            found[name] = value
    return found


def unknown_identity_message(key: str) -> str:
    """The error message for an identity name outside §3.1."""
    return f'"{key}" is not a known identity type; known identity types: {", ".join(IDENTITY_TYPES)}'


def resolve_identity_aliases(identities: UserIdentities, path: str) -> bool:
    """Move ``customerid`` to ``customer_id``; return whether anything changed.

    Raises ``BatchValidationError`` at ``<path>.user_identities.customerid`` when both are sent
    with different values.
    """
    alias = identities.customerid
    if alias is None:
        return False
    if identities.customer_id is not None and identities.customer_id != alias:
        raise BatchValidationError(
            '"customerid" and "customer_id" are both set and differ; send only "customer_id"',
            f"{path}.user_identities.customerid",
        )
    identities.customer_id = alias
    identities.customerid = None
    return True


def parse_mpid(value: int | str | None, path: str) -> int | None:
    """Normalise a batch ``mpid`` (JSON number or decimal string) to a signed 64-bit int.

    Raises ``BatchValidationError`` at ``<path>.mpid`` for non-numeric text or values outside int64.
    """
    if value is None:
        return None
    if isinstance(value, str):
        if _MPID_TEXT.fullmatch(value) is None:
            raise BatchValidationError(f'mpid "{value}" is not a signed 64-bit integer', f"{path}.mpid")
        if len(value.lstrip("-").lstrip("0")) > 19:  # beyond int64, and int() of huge text is slow
            raise BatchValidationError(
                f"mpid {value} is outside the signed 64-bit integer range", f"{path}.mpid"
            )
        value = int(value)
    if not INT64_MIN <= value <= INT64_MAX:
        raise BatchValidationError(f"mpid {value} is outside the signed 64-bit integer range", f"{path}.mpid")
    return value
