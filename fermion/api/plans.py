"""The Data Planning API (spec §1.8) and Fermion's additions: input default plans, quarantine, dry runs.

Everything sits under ``/platform/v2/workspaces/{workspace_id}`` behind Bearer tokens from ``POST
/oauth/token``. Checks in order: token (401), the client's rate limit (429 with ``Retry-After``), the token's
workspaces (403), the body (400 naming the path of the problem), the plan or version (404 in mParticle's
words).
"""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Any

import msgspec
from fastapi import APIRouter, Body, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from fermion.api.oauth import bearer_grant, granted_workspace
from fermion.errors import BadRequest, FermionError, NotFound
from fermion.pipeline import QuarantineReplayer, dry_run_stored
from fermion.plans import (
    BLOCK_REASONS,
    Blocking,
    CompiledVersion,
    DataPlan,
    PlanVersion,
    QuarantineFilter,
    parse_blocking,
    parse_document,
)
from fermion.platform import TokenGrant
from fermion.ratelimit import TokenBuckets
from fermion.runtime import Runtime
from fermion.schema import decode_batch, encode_batch

BASE = "/platform/v2/workspaces/{workspace_id}"
MAX_DRY_RUN_DAYS = 90


def _iso(ms: int) -> str:
    return (
        dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def version_json(version: PlanVersion, *, with_points: bool = True) -> dict[str, Any]:
    """A version in mParticle's DataPlanVersion shape, plus Fermion's ``blocking`` switches."""
    document = dict(version.document)
    if not with_points:
        document.pop("data_points", None)
    return {
        "data_plan_id": version.data_plan_id,
        "version": version.version,
        "version_description": version.description,
        "activated_environment": version.activated_environment,
        "version_document": document,
        "blocking": version.blocking.to_json(),
        "quarantine_feed_id": None,
        "created_on": _iso(version.created_ms),
        "created_by": version.created_by,
        "last_modified_on": _iso(version.modified_ms),
        "last_modified_by": version.modified_by,
    }


def plan_json(plan: DataPlan, *, with_points: bool = True) -> dict[str, Any]:
    """A plan in mParticle's DataPlan shape."""
    return {
        "data_plan_id": plan.data_plan_id,
        "data_plan_name": plan.name,
        "data_plan_description": plan.description,
        "data_plan_versions": [version_json(v, with_points=with_points) for v in plan.versions],
        "created_on": _iso(plan.created_ms),
        "created_by": plan.created_by,
        "last_modified_on": _iso(plan.modified_ms),
        "last_modified_by": plan.modified_by,
    }


class DefaultPlan(BaseModel):
    plan_id: str = Field(description="The plan of batches from this input that name none.")
    plan_version: int | None = Field(None, description="Pin a version; omit for the latest active one.")


class ReplayRequest(BaseModel):
    ids: list[int] | None = Field(None, description="Quarantine record ids; omit to select by the filters.")
    plan_id: str | None = None
    plan_version: int | None = None
    reason: str | None = Field(None, description=f"One of {', '.join(BLOCK_REASONS)}.")
    since_ms: int | None = None
    until_ms: int | None = None
    limit: int = Field(10_000, ge=1, le=100_000)


class DryRunRequest(BaseModel):
    days: int = Field(7, ge=1, le=MAX_DRY_RUN_DAYS, description="Validate the events of the last N days.")


RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "BadSchema: the body, naming the path of the problem"},
    401: {"description": "Bearer token missing, invalid or expired"},
    403: {"description": "The token is not granted this workspace"},
    404: {"description": "No such plan, version or record"},
    429: {"description": "Over the client's rate limit; see Retry-After"},
}


def data_planning_router(runtime: Runtime) -> APIRouter:
    """The Data Planning API, input default plans, the quarantine and dry runs."""
    router = APIRouter(responses=RESPONSES)
    grant_of = bearer_grant(runtime.credentials)
    rate = runtime.settings.data_planning_rate_per_min / 60
    limiter = TokenBuckets(
        rate,
        runtime.settings.data_planning_rate_per_min,
        runtime.clock,
        limit="client",
        what="Data Planning API",
    )
    catalog = runtime.plans
    replayer = QuarantineReplayer(runtime.quarantine, runtime.acceptor, runtime.inbox, runtime.tenancy)

    def allowed(workspace_id: int, grant: TokenGrant = Depends(grant_of)) -> tuple[int, str]:
        limiter.take(grant.client_id)
        return granted_workspace(runtime, grant, workspace_id).id, f"client_id:{grant.client_id}"

    tags: list[str | Enum] = ["data planning"]

    @router.get(f"{BASE}/plans", tags=tags)
    def list_plans(who: tuple[int, str] = Depends(allowed)) -> list[dict[str, Any]]:
        """Every plan with its versions, without their data points."""
        return [plan_json(p, with_points=False) for p in catalog.list_plans(who[0])]

    @router.post(f"{BASE}/plans", tags=tags)
    def create_plan(
        body: dict[str, Any] = Body(...), who: tuple[int, str] = Depends(allowed)
    ) -> dict[str, Any]:
        """Create a plan, optionally with versions (an mParticle export imports unchanged)."""
        return plan_json(catalog.create_plan(who[0], body, who[1]))

    @router.post(f"{BASE}/plans/validate", tags=tags)
    def validate(body: dict[str, Any] = Body(...), who: tuple[int, str] = Depends(allowed)) -> dict[str, Any]:
        """Validate a batch against a supplied plan document: ``{"document": …, "batch": …}``."""
        document, batch_json = body.get("document"), body.get("batch")
        if document is None or batch_json is None:
            raise BadRequest("A required value was missing.")
        try:
            points = parse_document(document, "document")
        except BadRequest as error:
            raise BadRequest(f"Invalid data plan document. {error.message}") from None
        try:
            batch = decode_batch(msgspec.json.encode(batch_json), path="batch").batch
        except FermionError as error:
            raise BadRequest(f"Invalid Event Batch. {error.message}") from None
        blocking = parse_blocking(None, document) if isinstance(document, dict) else Blocking()
        version = PlanVersion(
            who[0], "validate", 1, "", "production", document, blocking, 0, "", 0, "", points
        )
        ids = [e.data.source_message_id or f"event:{index}" for index, e in enumerate(batch.events or ())]
        verdict = CompiledVersion(version).check(batch, ids)
        kept = [e for index, e in enumerate(batch.events or ()) if index not in verdict.blocked_events]
        batch.events = kept
        return {"results": verdict.results, "batch": msgspec.json.decode(encode_batch(batch))}

    @router.get(f"{BASE}/plans/{{plan_id}}", tags=tags)
    def get_plan(plan_id: str, who: tuple[int, str] = Depends(allowed)) -> dict[str, Any]:
        """One plan with all its versions and data points."""
        return plan_json(catalog.get_plan(who[0], plan_id))  # versions carry their documents

    @router.patch(f"{BASE}/plans/{{plan_id}}", tags=tags)
    def update_plan(
        plan_id: str, body: dict[str, Any] = Body(...), who: tuple[int, str] = Depends(allowed)
    ) -> dict[str, Any]:
        """Change a plan's name or description."""
        return plan_json(catalog.update_plan(who[0], plan_id, body, who[1]))

    @router.delete(f"{BASE}/plans/{{plan_id}}", status_code=204, tags=tags)
    def delete_plan(plan_id: str, who: tuple[int, str] = Depends(allowed)) -> Response:
        """Delete a plan and its versions."""
        catalog.delete_plan(who[0], plan_id)
        return Response(status_code=204)

    @router.post(f"{BASE}/plans/{{plan_id}}/versions", tags=tags)
    def create_version(
        plan_id: str, body: dict[str, Any] = Body(...), who: tuple[int, str] = Depends(allowed)
    ) -> dict[str, Any]:
        """Add a version (the next number when ``version`` is omitted)."""
        return version_json(catalog.create_version(who[0], plan_id, body, who[1]))

    @router.get(f"{BASE}/plans/{{plan_id}}/versions/{{version}}", tags=tags)
    def get_version(plan_id: str, version: int, who: tuple[int, str] = Depends(allowed)) -> dict[str, Any]:
        """One version with its data points."""
        return version_json(catalog.get_version(who[0], plan_id, version))

    @router.patch(f"{BASE}/plans/{{plan_id}}/versions/{{version}}", tags=tags)
    def update_version(
        plan_id: str, version: int, body: dict[str, Any] = Body(...), who: tuple[int, str] = Depends(allowed)
    ) -> dict[str, Any]:
        """Change a version's document, activation, description or blocking."""
        return version_json(catalog.update_version(who[0], plan_id, version, body, who[1]))

    @router.delete(f"{BASE}/plans/{{plan_id}}/versions/{{version}}", status_code=204, tags=tags)
    def delete_version(plan_id: str, version: int, who: tuple[int, str] = Depends(allowed)) -> Response:
        """Delete a version (not the last one, not one active in production)."""
        catalog.delete_version(who[0], plan_id, version)
        return Response(status_code=204)

    @router.post(f"{BASE}/plans/{{plan_id}}/versions/{{version}}/dry-run", tags=tags)
    def dry_run_version(
        plan_id: str,
        version: int,
        body: DryRunRequest = Body(DryRunRequest()),
        who: tuple[int, str] = Depends(allowed),
    ) -> dict[str, Any]:
        """What this version would flag and block on the events stored in the last ``days`` days."""
        return dry_run_stored(
            catalog,
            runtime.event_reads(),
            runtime.profiles,
            runtime.clock,
            who[0],
            plan_id,
            version,
            body.days,
        )

    extra: list[str | Enum] = ["data plans: fermion"]

    @router.get(f"{BASE}/inputs/{{input_id}}/data-plan", tags=extra)
    def get_default(input_id: int, who: tuple[int, str] = Depends(allowed)) -> dict[str, Any]:
        """The plan an input's batches are validated against when they name none."""
        _input_of(runtime, who[0], input_id)
        found = catalog.input_default(who[0], input_id)
        if found is None:
            raise NotFound(f"Input {input_id} has no default data plan.")
        return {"plan_id": found[0], "plan_version": found[1]}

    @router.put(f"{BASE}/inputs/{{input_id}}/data-plan", tags=extra)
    def set_default(
        input_id: int, body: DefaultPlan, who: tuple[int, str] = Depends(allowed)
    ) -> dict[str, Any]:
        """Set an input's default plan (optionally pinned to a version)."""
        _input_of(runtime, who[0], input_id)
        catalog.set_input_default(who[0], input_id, body.plan_id, body.plan_version)
        return {"plan_id": body.plan_id, "plan_version": body.plan_version}

    @router.delete(f"{BASE}/inputs/{{input_id}}/data-plan", status_code=204, tags=extra)
    def clear_default(input_id: int, who: tuple[int, str] = Depends(allowed)) -> Response:
        """Remove an input's default plan."""
        _input_of(runtime, who[0], input_id)
        catalog.set_input_default(who[0], input_id, None, None)
        return Response(status_code=204)

    @router.get(f"{BASE}/quarantine", tags=extra)
    def list_quarantine(
        plan_id: str | None = None,
        plan_version: int | None = None,
        reason: str | None = Query(None, description=f"One of {', '.join(BLOCK_REASONS)}."),
        since_ms: int | None = None,
        until_ms: int | None = None,
        status: str | None = Query(None, description="quarantined, replaying or replayed."),
        after_id: int = 0,
        limit: int = Query(100, ge=1, le=1000),
        who: tuple[int, str] = Depends(allowed),
    ) -> dict[str, Any]:
        """Quarantined batches by plan, version, reason, time and status, oldest first."""
        where = QuarantineFilter(plan_id, plan_version, reason, since_ms, until_ms, status)
        records = runtime.quarantine.find(who[0], where, limit, after_id)
        return {
            "total": runtime.quarantine.count(who[0], where),
            "records": [r.to_json(with_batch=False) for r in records],
            "next_after_id": records[-1].id if len(records) == limit else None,
        }

    @router.get(f"{BASE}/quarantine/{{record_id}}", tags=extra)
    def show_quarantine(record_id: int, who: tuple[int, str] = Depends(allowed)) -> dict[str, Any]:
        """One quarantined batch with its block metadata."""
        return runtime.quarantine.get(who[0], record_id).to_json()

    @router.post(f"{BASE}/quarantine/replay", status_code=202, tags=extra)
    def replay(body: ReplayRequest, who: tuple[int, str] = Depends(allowed)) -> dict[str, Any]:
        """Re-ingest quarantined batches through the pipeline; poll the job for progress."""
        ids = tuple(body.ids) if body.ids is not None else None
        where = QuarantineFilter(
            body.plan_id, body.plan_version, body.reason, body.since_ms, body.until_ms, None, ids
        )
        return replayer.start(who[0], where, body.limit).to_json()

    @router.get(f"{BASE}/quarantine/replays/{{job_id}}", tags=extra)
    def replay_progress(job_id: str, who: tuple[int, str] = Depends(allowed)) -> dict[str, Any]:
        """Progress of a replay job."""
        return replayer.progress(who[0], job_id).to_json()

    return router


def _input_of(runtime: Runtime, workspace_id: int, input_id: int) -> None:
    try:
        found = runtime.tenancy.get_input(input_id)
    except NotFound:
        found = None
    if found is None or found.workspace_id != workspace_id:
        raise NotFound(f"No input {input_id} in workspace {workspace_id}.")
