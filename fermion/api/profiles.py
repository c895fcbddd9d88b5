"""The Profile API (spec §5): a profile by MPID or by immutable identity, behind OAuth Bearer tokens.

Checks in order: Bearer token (401), rate limit per OAuth client (429 with ``Retry-After``), the token's
workspaces and the org/account of the path (403), ``fields`` and the body (400), the profile (404).
"""

from __future__ import annotations

import contextlib
from typing import Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query
from pydantic import BaseModel, Field

from fermion.api.oauth import bearer_grant, oauth_router
from fermion.errors import Forbidden, NotFound
from fermion.ids import INT64_MAX, INT64_MIN
from fermion.platform import TokenGrant, Workspace
from fermion.profiles import Profile, parse_fields, profile_api_type, stored_user_identity_type
from fermion.ratelimit import TokenBuckets
from fermion.runtime import Runtime

FIELDS_HELP = (
    "Comma-separated parts of the profile to return: device_identities, user_identities, user_attributes, "
    "audience_memberships, attribution."
)


class Identity(BaseModel):
    type: str = Field(description="Profile API identity type (customer_id, email, google_advertising_id, …).")
    encoding: str = Field(description="Always `none`: values are stored as sent.")
    value: str


class AudienceMembership(BaseModel):
    audience_id: int
    audience_name: str
    expiration_timestamp_ms: int | None


class ProfileBody(BaseModel):
    """A profile; the parts not listed in ``fields`` are left out."""

    mpid: int
    created_timestamp_ms: int = Field(description="When the profile was first seen.")
    last_stored_timestamp_ms: int = Field(description="When the profile was last written.")
    is_opted_out: bool
    limit_ad_tracking: bool | None
    device_identities: list[Identity] | None = None
    user_identities: list[Identity] | None = None
    account_userattributes: dict[str, Any] | None = Field(None, description="Always null.")
    user_attributes: dict[str, Any] | None = None
    audience_memberships: list[AudienceMembership] | None = Field(
        None, description="The real-time audiences the user is in now."
    )
    attribution: dict[str, Any] | None = Field(None, description="Always null: the shape is undocumented.")


class IdentityQuery(BaseModel):
    type: str = Field(description="customer_id, email, other, facebook_id, … (or a batch identity name).")
    value: str


class ResolveRequest(BaseModel):
    environment_type: Literal["development", "production"]
    identity: IdentityQuery


def _identities(stored: dict[str, str]) -> list[Identity]:
    """Sorted by type, as in mParticle's samples, whatever names the store used."""
    named = sorted((profile_api_type(name), value) for name, value in stored.items())
    return [Identity(type=name, encoding="none", value=value) for name, value in named]


def _body(
    profile: Profile,
    fields: frozenset[str],
    calculated: dict[str, str] | None = None,
    memberships: list[AudienceMembership] | None = None,
) -> ProfileBody:
    parts: dict[str, Any] = {}
    if "device_identities" in fields:
        parts["device_identities"] = _identities(profile.device_identities)
    if "user_identities" in fields:
        parts["user_identities"] = _identities(profile.user_identities)
    if "user_attributes" in fields:
        parts["account_userattributes"] = None
        # A calculated attribute wins over a user attribute of the same name (spec activation §2.1).
        parts["user_attributes"] = {**profile.user_attributes, **(calculated or {})}
    if "audience_memberships" in fields:
        parts["audience_memberships"] = memberships or []
    if "attribution" in fields:
        parts["attribution"] = None
    return ProfileBody(
        mpid=profile.mpid,
        created_timestamp_ms=profile.first_seen_ms,
        last_stored_timestamp_ms=profile.updated_ms,
        is_opted_out=False,
        limit_ad_tracking=None,
        **parts,
    )


def profile_api_router(runtime: Runtime) -> APIRouter:
    """The Profile API and the OAuth token endpoint its clients get tokens from."""
    router = APIRouter()
    router.include_router(oauth_router(runtime))
    grant_of = bearer_grant(runtime.credentials)
    rate = runtime.settings.profile_api_rate_per_s
    limiter = TokenBuckets(
        rate, rate, runtime.clock, limit="client", what="Profile API (requests per client)"
    )
    known: dict[int, Workspace] = {}  # a workspace never moves to another org or account
    responses: dict[int | str, dict[str, Any]] = {
        400: {"description": "Unknown `fields`, or a bad path or body"},
        401: {"description": "Bearer token missing, invalid or expired"},
        403: {"description": "The token is not granted this workspace, or org/account do not match it"},
        404: {"description": "No such profile"},
        429: {"description": "Over the client's rate limit; see Retry-After"},
    }

    def activation(profile: Profile) -> tuple[dict[str, str], list[AudienceMembership]]:
        """The user's calculated attribute values and audience memberships."""
        values = runtime.calculated_values.values_of(profile.workspace_id, profile.mpid)
        current = runtime.audiences.memberships_of(profile.workspace_id, profile.mpid)
        ends = runtime.audience_evaluator.expirations(
            profile.workspace_id, profile.mpid, [m.audience_id for m in current]
        )
        memberships = [
            AudienceMembership(
                audience_id=m.audience_id,
                audience_name=m.audience_name,
                expiration_timestamp_ms=ends.get(m.audience_id),
            )
            for m in current
        ]
        return values, memberships

    def workspace(
        org_id: int,
        account_id: int,
        workspace_id: int,
        grant: TokenGrant = Depends(grant_of),
    ) -> Workspace:
        limiter.take(grant.client_id)
        if not grant.allows(workspace_id):
            raise Forbidden(f"This token is not granted workspace {workspace_id}.")
        if workspace_id not in known:
            with contextlib.suppress(NotFound):  # granted once, deleted since: not this token's to see
                known[workspace_id] = runtime.tenancy.get_workspace(workspace_id)
        found = known.get(workspace_id)
        if found is None or found.org_id != org_id or found.account_id != account_id:
            raise Forbidden(f"Workspace {workspace_id} is not in org {org_id}, account {account_id}.")
        return found

    # Registered before the MPID route, whose path pattern also matches /resolve/{org}/{account}/{workspace}.
    @router.post(
        "/userprofile/v1/resolve/{org_id}/{account_id}/{workspace_id}",
        response_model=ProfileBody,
        response_model_exclude_unset=True,
        responses=responses,
        tags=["profile api"],
    )
    def resolve(
        request: ResolveRequest = Body(...),
        fields: str = Query(..., description=FIELDS_HELP),
        found: Workspace = Depends(workspace),
    ) -> ProfileBody:
        """The profile holding a user identity (``customer_id``, ``email``, ``other``, …)."""
        wanted = parse_fields(fields)
        identity_type = stored_user_identity_type(request.identity.type)
        holders = runtime.identity.holders(found.id, identity_type, request.identity.value)
        profile = next(
            (p for p in (runtime.profiles.get(found.id, m) for m in holders) if p is not None), None
        )
        if profile is None:
            raise NotFound(f"No profile in workspace {found.id} has {request.identity.type} of that value.")
        return _body(profile, wanted, *activation(profile))

    def profile_by_mpid(
        mpid: int = Path(..., ge=INT64_MIN, le=INT64_MAX),
        fields: str = Query(..., description=FIELDS_HELP),
        found: Workspace = Depends(workspace),
    ) -> ProfileBody:
        """The profile of an MPID (GET; POST is accepted too, as mParticle's docs heading says)."""
        wanted = parse_fields(fields)
        profile = runtime.profiles.get(found.id, mpid)
        if profile is None:
            raise NotFound(f"No profile with MPID {mpid} in workspace {found.id}.")
        return _body(profile, wanted, *activation(profile))

    for method in ("GET", "POST"):
        router.add_api_route(
            "/userprofile/v1/{org_id}/{account_id}/{workspace_id}/{mpid}",
            profile_by_mpid,
            methods=[method],
            operation_id=f"profile_by_mpid_{method.lower()}",
            response_model=ProfileBody,
            response_model_exclude_unset=True,
            responses=responses,
            tags=["profile api"],
        )

    return router
