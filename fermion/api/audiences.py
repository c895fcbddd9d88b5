"""Audiences in the style of the Platform API (spec activation §3.6), behind OAuth Bearer tokens.

mParticle documents listing and deleting audiences (``/v1/workspace/{wsId}/audiences``) but no endpoint to
define one; Fermion adds create/change with a typed criteria document (docs/audiences.md), the members
with their history, the membership-change queue, and each audience's freshness.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Query, Response
from pydantic import BaseModel, Field

from fermion.api.oauth import bearer_grant, granted_workspace
from fermion.audiences import Audience, Membership, MembershipChange
from fermion.calculated import current_lag_ms, iso_ms
from fermion.platform import TokenGrant
from fermion.runtime import Runtime

_EXAMPLE = {
    "name": "Engaged US shoppers",
    "criteria": {
        "type": "group",
        "operator": "and",
        "criteria": [
            {
                "type": "event",
                "event_name": "Product Page",
                "frequency": {"operator": "greater_or_equal", "value": 3},
                "recency": {"within": 7, "unit": "days"},
            },
            {
                "type": "user_attribute",
                "condition": {
                    "type": "string",
                    "attribute_name": "$Country",
                    "operator": "equals",
                    "value": "US",
                },
            },
        ],
    },
}


class Freshness(BaseModel):
    """How current the memberships are."""

    last_evaluated_on: str | None = Field(description="When the audience was last evaluated (ISO-8601 UTC).")
    last_evaluated_ms: int | None
    lag_s: float | None = Field(
        description="Seconds from an event's acceptance to its evaluation: the last batch's, or the age of "
        "the oldest batch still waiting when that is larger."
    )


class Backfill(BaseModel):
    status: str = Field(description="pending, running or done.")
    percent_complete: int


class WorkspaceRef(BaseModel):
    name: str
    id: int
    data_type: str = "workspace"
    created_on: str | None = None


class AudienceBody(BaseModel):
    """An audience with the Platform API's fields, its criteria, backfill progress and freshness."""

    id: int
    name: str
    external_name: str
    tags: list[str]
    size: int
    created_by: str
    created_on: str
    last_modified_by: str
    last_modified_on: str
    is_calculated: bool = Field(description="True when the criteria combine several with boolean logic.")
    added_last_24_hours: int
    dropped_last_24_hours: int
    status: str
    workspaces: list[WorkspaceRef]
    connected_outputs: list[dict[str, Any]]
    data_type: str = "audience"
    criteria: dict[str, Any]
    backfill: Backfill
    freshness: Freshness


class AudienceRequest(BaseModel):
    """A new audience, or the parts of one to change."""

    name: Any = Field(None, description="At most 100 characters.")
    external_name: Any = Field(None, description="Forwarded to outputs; defaults to the name.")
    tags: Any = Field(None, description="Strings of at most 18 characters.")
    criteria: Any = Field(None, description="The criteria document (docs/audiences.md).")


class MemberBody(BaseModel):
    mpid: int
    added_ms: int
    removed_ms: int | None


class ChangeBody(BaseModel):
    id: int
    audience_id: int
    mpid: int
    action: str = Field(description="add or delete.")
    at_ms: int
    accepted_ms: int | None = Field(description="When the batch that caused the change was accepted.")
    user_identities: dict[str, str]
    device_identities: dict[str, str]
    user_attributes: dict[str, Any]
    delivered_ms: int | None


def freshness(evaluated_ms: int | None, lag_ms: int | None, waiting_ms: int) -> Freshness:
    """The freshness of an audience or calculated attribute, given the age of the oldest waiting batch."""
    lag = current_lag_ms(evaluated_ms, lag_ms, waiting_ms)
    return Freshness(
        last_evaluated_on=None if evaluated_ms is None else iso_ms(evaluated_ms),
        last_evaluated_ms=evaluated_ms,
        lag_s=None if lag is None else lag / 1000,
    )


def audience_body(audience: Audience, workspace: WorkspaceRef, waiting_ms: int) -> AudienceBody:
    """The API view of an audience."""
    criteria = audience.definition
    grouped = isinstance(criteria, dict) and len(criteria.get("criteria") or ()) > 1
    return AudienceBody(
        id=audience.id,
        name=audience.name,
        external_name=audience.external_name,
        tags=audience.tags,
        size=audience.size,
        created_by=audience.created_by,
        created_on=iso_ms(audience.created_ms),
        last_modified_by=audience.modified_by,
        last_modified_on=iso_ms(audience.modified_ms),
        is_calculated=grouped,
        added_last_24_hours=audience.added_last_24_hours,
        dropped_last_24_hours=audience.dropped_last_24_hours,
        status=audience.status,
        workspaces=[workspace],
        connected_outputs=[],
        criteria=criteria,
        backfill=Backfill(status=audience.backfill, percent_complete=audience.backfill_percent),
        freshness=freshness(audience.evaluated_ms, audience.lag_ms, waiting_ms),
    )


def _member(m: Membership) -> MemberBody:
    return MemberBody(mpid=m.mpid, added_ms=m.added_ms, removed_ms=m.removed_ms)


def _change(c: MembershipChange) -> ChangeBody:
    return ChangeBody(
        id=c.id,
        audience_id=c.audience_id,
        mpid=c.mpid,
        action=c.action,
        at_ms=c.at_ms,
        accepted_ms=c.accepted_ms,
        user_identities=c.user_identities,
        device_identities=c.device_identities,
        user_attributes=c.user_attributes,
        delivered_ms=c.delivered_ms,
    )


def audiences_router(runtime: Runtime) -> APIRouter:
    """Audience routes under ``/platform/v1/workspace/{workspace_id}/audiences``."""
    router = APIRouter(prefix="/platform/v1/workspace/{workspace_id}", tags=["audiences"])
    grant_of = bearer_grant(runtime.credentials)
    responses: dict[int | str, dict[str, Any]] = {
        400: {"description": "Invalid criteria or fields; the message names the bad part"},
        401: {"description": "Bearer token missing, invalid or expired"},
        403: {"description": "The token is not granted this workspace"},
        404: {"description": "No such audience in the workspace"},
    }

    def workspace(workspace_id: int, grant: TokenGrant = Depends(grant_of)) -> WorkspaceRef:
        found = granted_workspace(runtime, grant, workspace_id)
        return WorkspaceRef(name=found.name, id=found.id)

    def waiting() -> int:
        return runtime.inbox.status().lag_ms

    @router.get("/audiences", response_model=list[AudienceBody], responses=responses)
    def list_audiences(ws: WorkspaceRef = Depends(workspace)) -> list[AudienceBody]:
        """Every audience of the workspace with size, adds/drops in the last 24 h and freshness."""
        lag = waiting()
        return [audience_body(a, ws, lag) for a in runtime.audiences.in_workspace(ws.id)]

    @router.post("/audiences", response_model=AudienceBody, status_code=201, responses=responses)
    def create_audience(
        request: AudienceRequest = Body(..., examples=[_EXAMPLE]), ws: WorkspaceRef = Depends(workspace)
    ) -> AudienceBody:
        """Create a real-time audience; it is backfilled from the event store, then kept up to date."""
        created = runtime.audiences.create(
            ws.id, request.name, request.criteria, request.external_name, tags=request.tags
        )
        return audience_body(created, ws, waiting())

    @router.get("/audiences/{audience_id}", response_model=AudienceBody, responses=responses)
    def get_audience(audience_id: int, ws: WorkspaceRef = Depends(workspace)) -> AudienceBody:
        """One audience."""
        return audience_body(runtime.audiences.get(ws.id, audience_id), ws, waiting())

    @router.put("/audiences/{audience_id}", response_model=AudienceBody, responses=responses)
    def change_audience(
        audience_id: int, request: AudienceRequest = Body(...), ws: WorkspaceRef = Depends(workspace)
    ) -> AudienceBody:
        """Rename or retag it, or replace its criteria (backfilled, then swapped in atomically)."""
        changed = runtime.audiences.change(
            ws.id,
            audience_id,
            name=request.name,
            external_name=request.external_name,
            criteria=request.criteria,
            tags=request.tags,
        )
        return audience_body(changed, ws, waiting())

    @router.delete("/audiences/{audience_id}", status_code=204, responses=responses)
    def delete_audience(audience_id: int, ws: WorkspaceRef = Depends(workspace)) -> Response:
        """Delete it (409 while another audience references it)."""
        runtime.audiences.delete(ws.id, audience_id)
        return Response(status_code=204)

    @router.get("/audiences/{audience_id}/members", response_model=list[MemberBody], responses=responses)
    def members(
        audience_id: int,
        include_past: bool = Query(False, description="Every stay, with its added and removed times."),
        after_mpid: int | None = Query(None, description="Page: members with a larger MPID."),
        limit: int = Query(1000, ge=1, le=10_000),
        ws: WorkspaceRef = Depends(workspace),
    ) -> list[MemberBody]:
        """The audience's members, by MPID."""
        found = runtime.audiences.members(
            ws.id, audience_id, include_past=include_past, after_mpid=after_mpid, limit=limit
        )
        return [_member(m) for m in found]

    @router.get("/audiences/{audience_id}/changes", response_model=list[ChangeBody], responses=responses)
    def audience_changes(
        audience_id: int,
        after_id: int = Query(0, description="Page: changes after this id."),
        limit: int = Query(1000, ge=1, le=10_000),
        ws: WorkspaceRef = Depends(workspace),
    ) -> list[ChangeBody]:
        """The audience's membership changes waiting for the outputs stage, oldest first."""
        runtime.audiences.get(ws.id, audience_id)
        return [_change(c) for c in runtime.audiences.changes(ws.id, audience_id, after_id, limit)]

    @router.get("/audience-changes", response_model=list[ChangeBody], responses=responses)
    def workspace_changes(
        after_id: int = Query(0, description="Page: changes after this id."),
        limit: int = Query(1000, ge=1, le=10_000),
        ws: WorkspaceRef = Depends(workspace),
    ) -> list[ChangeBody]:
        """Every audience's membership changes in the workspace, oldest first."""
        return [_change(c) for c in runtime.audiences.changes(ws.id, None, after_id, limit)]

    return router
