"""The user key of a batch: the strongest identifier it carries, which partitions the inbox.

Its MPID, a user identity in priority order, a device identity, the device application stamp, and failing
all, the batch's own bytes. One user's batches share a key and so a partition, and are processed in order.
IDSync decides the MPID later, in the worker.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

USER_IDENTITY_PRIORITY = (
    "customer_id",
    "mobile_number",
    "email",
    "other",
    "facebook",
    "google",
    "twitter",
    "microsoft",
    "yahoo",
    "other_id_2",
    "other_id_3",
    "other_id_4",
    "other_id_5",
    "other_id_6",
    "other_id_7",
    "other_id_8",
    "other_id_9",
    "other_id_10",
    "phone_number_2",
    "phone_number_3",
    "facebook_custom_audience_id",
    "alias",
)
DEVICE_IDENTITY_PRIORITY = (
    "ios_advertising_id",
    "ios_idfv",
    "android_advertising_id",
    "android_uuid",
    "roku_advertising_id",
    "roku_publisher_id",
    "microsoft_publisher_id",
    "microsoft_advertising_id",
    "fire_advertising_id",
    "amp_id",
    "push_token",
)
_ZERO_UUID = "00000000-0000-0000-0000-000000000000"


def user_key_of(
    mpid: int | None,
    user_identities: Mapping[str, str | None],
    device_identities: Mapping[str, str | None],
    mp_deviceid: str | None,
    raw: bytes,
) -> str:
    """The key that names a batch's user (see the module docstring)."""
    if mpid is not None:
        return f"mpid:{mpid}"
    for name in USER_IDENTITY_PRIORITY:
        value = user_identities.get(name)
        if value:
            return f"{name}:{value}"
    for name in DEVICE_IDENTITY_PRIORITY:
        value = device_identities.get(name)
        if value and value != _ZERO_UUID:
            return f"{name}:{value}"
    if mp_deviceid and mp_deviceid != _ZERO_UUID:
        return f"mp_deviceid:{mp_deviceid}"
    return "anonymous:" + hashlib.blake2b(raw, digest_size=12).hexdigest()
