"""Profiles: one per user (MPID) with attributes, identities and consent, applied from batches."""

from __future__ import annotations

from fermion.profiles.store import AttributeValue, Profile, ProfileStore, ProfileUpdate

__all__ = ["AttributeValue", "Profile", "ProfileStore", "ProfileUpdate"]
