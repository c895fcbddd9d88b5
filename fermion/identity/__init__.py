"""Identity: who each batch belongs to. Until IDSync lands, a provisional resolver keyed on identities."""

from __future__ import annotations

from fermion.identity import tables as _tables  # noqa: F401  (registers the identity tables)
from fermion.identity.provisional import (
    DEVICE_IDENTITY_PRIORITY,
    USER_IDENTITY_PRIORITY,
    mpid_for,
    user_key_of,
)

__all__ = ["DEVICE_IDENTITY_PRIORITY", "USER_IDENTITY_PRIORITY", "mpid_for", "user_key_of"]
