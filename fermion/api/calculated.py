"""Calculated attributes: the Platform API v2 resource (spec activation §2.5, Bearer tokens) and the
Seeding API (§2.7, HTTP Basic with an input's key and secret)."""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any

from fastapi import APIRouter, Body, Depends, Header, Query, Response
from pydantic import BaseModel, Field

from fermion.api.audiences import Freshness, freshness
from fermion.api.oauth import bearer_grant, granted_workspace
from fermion.audiences import calculated_attributes_in
from fermion.calculated import CalculatedAttribute, SeedRequest, iso_ms, parse_seed_request
from fermion.errors import BadRequest, NotFound
from fermion.platform import TokenGrant
from fermion.profiles import ProfileStore, stored_user_identity_type
from fermion.runtime import Runtime

_EXAMPLE = {
    "name": "Product views this week",
    "description": "How often the user opened a product page in the last 7 days",
    "draft_definition": {
        "recipe_type": "event",
        "datapoint": {"type": "event", "event_name": "Product Page", "event_type": "custom_event"},
        "calculation_type": "count",
        "time_period": {"type": "within", "within": 7, "within_unit": "days"},
    },
}


class CalculatedAttributeBody(BaseModel):
    """A calculated attribute as the Platform API shows it, plus its freshness."""

    id: int
    name: str
    description: str | None
    created_by: str
    created_on: str
    last_modified_on: str
    last_modified_by: str
    active_definition: dict[str, Any] | None
    draft_definition: dict[str, Any] | None
    audience_count: int
    activated_on: str | None
    activated_by: str | None
    freshness: Freshness


class CalculatedAttributeRequest(BaseModel):
    name: Any = Field(None, description="Required on create; changeable only before activation.")
    description: Any = None
    draft_definition: Any = Field(None, description="The definition (spec activation §2.5).")


class ActivationBody(BaseModel):
    calculated_attribute_id: int
    is_active: bool
    activated_on: str | None
    activated_by: str | None


class CalculationBody(BaseModel):
    id: int
    name: str
    revision_id: int
    is_calculated: bool
    calculation_percent_complete: int
    estimated_completion_time: str | None
    freshness: Freshness


def calculated_body(ca: CalculatedAttribute, audience_count: int, waiting_ms: int) -> CalculatedAttributeBody:
    """The API view of a calculated attribute."""
    return CalculatedAttributeBody(
        id=ca.id,
        name=ca.name,
        description=ca.description,
        created_by=ca.created_by,
        created_on=iso_ms(ca.created_ms),
        last_modified_on=iso_ms(ca.modified_ms),
        last_modified_by=ca.modified_by,
        active_definition=ca.active_definition,
        draft_definition=ca.draft_definition,
        audience_count=audience_count,
        activated_on=None if ca.activated_ms is None else iso_ms(ca.activated_ms),
        activated_by=ca.activated_by,
        freshness=freshness(ca.evaluated_ms, ca.lag_ms, waiting_ms),
    )


def _audience_count(runtime: Runtime, workspace_id: int, name: str) -> int:
    """How many audiences use the attribute in a criterion."""
    audiences = runtime.audiences.in_workspace(workspace_id)
    return sum(1 for a in audiences if name in calculated_attributes_in(a.definition))


def calculated_router(runtime: Runtime) -> APIRouter:
    """The Platform API v2 calculated attribute resource and the Seeding API."""
    router = APIRouter()
    base = "/platform/v2/workspaces/{workspace_id}/calculatedattributes"
    grant_of = bearer_grant(runtime.credentials)
    catalog = runtime.calculated
    responses: dict[int | str, dict[str, Any]] = {
        400: {"description": "Invalid definition; the message is the Platform API's"},
        401: {"description": "Bearer token missing, invalid or expired"},
        403: {"description": "The token is not granted this workspace"},
        404: {"description": "No such calculated attribute"},
    }
    tags: list[str | Enum] = ["calculated attributes"]

    def workspace(workspace_id: int, grant: TokenGrant = Depends(grant_of)) -> int:
        return granted_workspace(runtime, grant, workspace_id).id

    def body(ca: CalculatedAttribute) -> CalculatedAttributeBody:
        return calculated_body(
            ca, _audience_count(runtime, ca.workspace_id, ca.name), runtime.inbox.status().lag_ms
        )

    @router.get(base, response_model=list[CalculatedAttributeBody], responses=responses, tags=tags)
    def list_attributes(
        name: str | None = Query(None, description="Only the attribute of this name."),
        ws: int = Depends(workspace),
    ) -> list[CalculatedAttributeBody]:
        """The workspace's calculated attributes."""
        return [body(ca) for ca in catalog.in_workspace(ws, name)]

    @router.head(base, status_code=204, responses=responses, tags=tags)
    def exists(name: str = Query(...), ws: int = Depends(workspace)) -> Response:
        """204 when an attribute of that name exists, 404 otherwise."""
        if catalog.by_name(ws, name) is None:
            raise NotFound(f"No calculated attribute named {name!r}.")
        return Response(status_code=204)

    @router.post(base, response_model=int, responses=responses, tags=tags)
    def create(
        request: CalculatedAttributeRequest = Body(..., examples=[_EXAMPLE]), ws: int = Depends(workspace)
    ) -> int:
        """Create a draft; the response body is its id."""
        return catalog.create(ws, request.name, request.description, request.draft_definition).id

    @router.get(
        base + "/{attribute_id}", response_model=CalculatedAttributeBody, responses=responses, tags=tags
    )
    def get(attribute_id: int, ws: int = Depends(workspace)) -> CalculatedAttributeBody:
        """One calculated attribute."""
        return body(catalog.get(ws, attribute_id))

    @router.put(base + "/{attribute_id}", status_code=204, responses=responses, tags=tags)
    def replace(
        attribute_id: int, request: CalculatedAttributeRequest = Body(...), ws: int = Depends(workspace)
    ) -> Response:
        """Create or replace the draft definition (the name changes only before activation)."""
        catalog.replace_draft(ws, attribute_id, request.name, request.description, request.draft_definition)
        return Response(status_code=204)

    @router.delete(base + "/{attribute_id}", status_code=204, responses=responses, tags=tags)
    def delete(attribute_id: int, ws: int = Depends(workspace)) -> Response:
        """Delete it."""
        catalog.delete(ws, attribute_id)
        return Response(status_code=204)

    @router.post(base + "/{attribute_id}/activation", status_code=204, responses=responses, tags=tags)
    def activate(attribute_id: int, ws: int = Depends(workspace)) -> Response:
        """Move the draft to the active definition; it is then calculated from the event store."""
        catalog.activate(ws, attribute_id)
        return Response(status_code=204)

    @router.get(
        base + "/{attribute_id}/activation", response_model=ActivationBody, responses=responses, tags=tags
    )
    def activation(attribute_id: int, ws: int = Depends(workspace)) -> ActivationBody:
        """Whether it is active, since when and by whom."""
        ca = catalog.get(ws, attribute_id)
        return ActivationBody(
            calculated_attribute_id=ca.id,
            is_active=ca.is_active,
            activated_on=None if ca.activated_ms is None else iso_ms(ca.activated_ms),
            activated_by=ca.activated_by,
        )

    @router.delete(base + "/{attribute_id}/draft", status_code=204, responses=responses, tags=tags)
    def discard_draft(attribute_id: int, ws: int = Depends(workspace)) -> Response:
        """Discard the draft definition."""
        catalog.discard_draft(ws, attribute_id)
        return Response(status_code=204)

    @router.get(
        base + "/{attribute_id}/calculation", response_model=CalculationBody, responses=responses, tags=tags
    )
    def calculation(attribute_id: int, ws: int = Depends(workspace)) -> CalculationBody:
        """Progress of its calculation from the event store, and its freshness."""
        ca = catalog.get(ws, attribute_id)
        return CalculationBody(
            id=ca.id,
            name=ca.name,
            revision_id=ca.revision,
            is_calculated=ca.calculation == "done",
            calculation_percent_complete=ca.percent_complete,
            estimated_completion_time=None,
            freshness=freshness(ca.evaluated_ms, ca.lag_ms, runtime.inbox.status().lag_ms),
        )

    seeding = _seeding(runtime)

    @router.post("/v2/calculatedattributes", status_code=202, tags=["calculated attributes seeding"])
    def seed_one(body: Any = Body(...), authorization: str | None = Header(None)) -> Response:
        """Seed one user's calculated attributes (HTTP Basic: an input's key and secret)."""
        seeding(authorization, [body])
        return Response(status_code=202)

    @router.post("/v2/bulkcalculatedattributes", status_code=202, tags=["calculated attributes seeding"])
    def seed_many(body: Any = Body(...), authorization: str | None = Header(None)) -> Response:
        """Seed many users at once; all or nothing."""
        if not isinstance(body, list):
            raise BadRequest("The request body must be a JSON array of seed requests.")
        seeding(authorization, body)
        return Response(status_code=202)

    return router


def _seeding(runtime: Runtime) -> Callable[[str | None, list[Any]], None]:
    """Authenticate with an input's key and secret, validate every request, then store them all."""

    def seed(authorization: str | None, bodies: list[Any]) -> None:
        source = runtime.authenticator.authenticate(authorization)
        requests: list[tuple[int, SeedRequest]] = []
        for body in bodies:
            request = parse_seed_request(body)
            requests.append((_mpid(runtime.profiles, source.workspace_id, request), request))
        runtime.calculated.seed(source.workspace_id, requests)

    return seed


def _mpid(profiles: ProfileStore, workspace_id: int, request: SeedRequest) -> int:
    if request.mpid is not None:
        return request.mpid
    for name, value in request.identities.items():
        try:
            identity_type = stored_user_identity_type(name)
        except BadRequest:
            continue
        found = profiles.find_by_identity(workspace_id, identity_type, value)
        if found is not None:
            return found
    raise BadRequest("No profile holds the identities given; send the user's mpid.")
