"""Identity: IDSync's identity graph, strategies and decisions, and the user key that partitions the inbox."""

from __future__ import annotations

from fermion.identity.aliasing import Aliases, AliasJob
from fermion.identity.decide import Outcome
from fermion.identity.graph import Decision
from fermion.identity.names import ALL_TYPES, IDSYNC_KEY, canonical
from fermion.identity.service import (
    CALLS,
    BatchIdentity,
    BatchPlan,
    IdentityService,
    canonical_request,
    decision_json,
    describe,
)
from fermion.identity.settings import STRATEGIES, IdentitySettings
from fermion.identity.userkey import DEVICE_IDENTITY_PRIORITY, USER_IDENTITY_PRIORITY, user_key_of

__all__ = [
    "ALL_TYPES",
    "CALLS",
    "DEVICE_IDENTITY_PRIORITY",
    "IDSYNC_KEY",
    "STRATEGIES",
    "USER_IDENTITY_PRIORITY",
    "AliasJob",
    "Aliases",
    "BatchIdentity",
    "BatchPlan",
    "Decision",
    "IdentityService",
    "IdentitySettings",
    "Outcome",
    "canonical",
    "canonical_request",
    "decision_json",
    "describe",
    "user_key_of",
]
