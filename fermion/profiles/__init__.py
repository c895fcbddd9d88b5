"""Profiles: one per user (MPID) with attributes, identities and consent, applied from batches; the Profile
API's view of them."""

from __future__ import annotations

from fermion.profiles.attributes import (
    RESERVED_USER_ATTRIBUTES,
    canonical_attribute_name,
    canonical_attributes,
)
from fermion.profiles.profile_api import (
    PROFILE_API_FIELDS,
    parse_fields,
    profile_api_type,
    stored_user_identity_type,
)
from fermion.profiles.store import AttributeChange, AttributeValue, Profile, ProfileStore, ProfileUpdate

__all__ = [
    "PROFILE_API_FIELDS",
    "RESERVED_USER_ATTRIBUTES",
    "AttributeChange",
    "AttributeValue",
    "Profile",
    "ProfileStore",
    "ProfileUpdate",
    "canonical_attribute_name",
    "canonical_attributes",
    "parse_fields",
    "profile_api_type",
    "stored_user_identity_type",
]
