"""Outputs, connections, the delivery ledger and dead letters, in the style of the Platform API, behind
OAuth Bearer tokens (docs/outputs.md): created, listed, shown, changed and deleted; faulted outputs
resumed."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from fermion.api.oauth import bearer_grant, granted_workspace
from fermion.errors import Forbidden
from fermion.outputs import Connection, DeadLetter, Deleted, LedgerEntry, Output
from fermion.platform import TokenGrant
from fermion.runtime import Runtime


class OutputRequest(BaseModel):
    """A new output: a name, an integration (webhook, klaviyo, klaviyo_events, files) and its settings."""

    name: str
    integration: str
    settings: dict[str, Any] = Field(default_factory=dict)


class OutputBody(BaseModel):
    id: int
    name: str
    integration: str
    data_type: str = "output"
    settings: dict[str, Any] = Field(description="Secrets masked.")
    created_ms: int
    updated_ms: int | None = Field(description="Last change of name or settings.")
    state: str = Field(description="active, or faulted: the destination refused the credentials and "
                       "nothing is sent until a resume or new settings.")  # fmt: skip
    faulted_ms: int | None = Field(description="When the output faulted.")
    fault_reason: str | None = Field(description="Why: the destination's answer.")
    deliveries: dict[str, int] = Field(description="Records by status: pending, delivered, rejected, …")


class OutputUpdate(BaseModel):
    """Changes to an output: a new name and/or settings merged over the current ones."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    settings: dict[str, Any] | None = Field(
        default=None,
        description="Settings to change, merged over the current ones and checked against the "
        "integration's schema; null restores a setting's default; a secret not sent (or sent back "
        "masked) keeps its value. New settings clear a fault.",
    )


class ConnectionRequest(BaseModel):
    """Connect an input (event outputs) or an audience (audience outputs) to an output."""

    output_id: int
    input_id: int | None = None
    audience_id: int | None = None
    active: bool = True
    settings: dict[str, Any] = Field(
        default_factory=dict,
        description="data_filter, user_sampling_percent, forwarding_rules, rules, field_transformations, "
        "shared_attributes, and the integration's connection settings.",
    )


class SyncBody(BaseModel):
    status: str = Field(description="running | done")
    queued: int = Field(description="members queued as adds so far")
    started_ms: int
    finished_ms: int | None


class ConnectionBody(BaseModel):
    id: int
    output_id: int
    kind: str
    input_id: int | None
    audience_id: int | None
    active: bool
    settings: dict[str, Any]
    created_ms: int
    updated_ms: int | None
    initial_sync: SyncBody | None = Field(
        default=None,
        description="Audience connections: their initial sync (null until the worker starts it).",
    )


class ConnectionUpdate(BaseModel):
    """Changes to a connection: settings merged over the current ones, and/or switching it on or off."""

    model_config = ConfigDict(extra="forbid")

    active: bool | None = Field(default=None, description="false: the connection routes nothing.")
    settings: dict[str, Any] | None = Field(
        default=None,
        description="Settings to change (top-level keys replace the current ones; null removes one), "
        "checked like a new connection's.",
    )


class DeletedBody(BaseModel):
    id: int
    deleted_connections: list[int] = Field(description="Connections deleted with it.")
    dropped_records: int = Field(
        description="Queued or dead-lettered records dropped (force=true), each in the ledger as dropped."
    )


class LedgerBody(BaseModel):
    delivery_id: int
    output_id: int
    mpid: str | None
    at_ms: int
    outcome: str = Field(
        description="queued, delivered, rejected, skipped, retrying, dead_lettered, redriven"
    )
    attempt: int
    next_attempt_ms: int | None
    reason: str | None


class DeadLetterBody(BaseModel):
    id: int
    output_id: int
    connection_id: int
    mpid: str | None
    attempts: int
    created_ms: int
    finished_ms: int | None
    last_error: str | None
    payload: dict[str, Any]


class RedriveRequest(BaseModel):
    ids: list[int] | None = Field(
        default=None, description="Dead letters to re-drive; all of the output's when absent."
    )


class RedriveBody(BaseModel):
    redriven: int


def output_body(runtime: Runtime, output: Output) -> OutputBody:
    """The API view of an output."""
    counts = runtime.outputs.deliveries.counts(output.id)
    return OutputBody(
        id=output.id,
        name=output.name,
        integration=output.integration,
        settings=output.public_settings(),
        created_ms=output.created_ms,
        updated_ms=output.updated_ms,
        state=output.state,
        faulted_ms=output.faulted_ms,
        fault_reason=output.fault_reason,
        deliveries=counts,
    )


def connection_body(connection: Connection, sync: Any = None) -> ConnectionBody:
    """The API view of a connection (with its initial sync's progress when given)."""
    return ConnectionBody(
        initial_sync=None
        if sync is None
        else SyncBody(
            status=sync.status, queued=sync.queued, started_ms=sync.started_ms, finished_ms=sync.finished_ms
        ),
        id=connection.id,
        output_id=connection.output_id,
        kind=connection.kind,
        input_id=connection.input_id,
        audience_id=connection.audience_id,
        active=connection.active,
        settings=connection.settings,
        created_ms=connection.created_ms,
        updated_ms=connection.updated_ms,
    )


def deleted_body(deleted: Deleted) -> DeletedBody:
    """The API view of a deletion."""
    return DeletedBody(
        id=deleted.id, deleted_connections=deleted.connections, dropped_records=deleted.dropped
    )


def ledger_body(entry: LedgerEntry) -> LedgerBody:
    """The API view of a ledger entry (MPIDs as strings, as mParticle writes them)."""
    return LedgerBody(
        delivery_id=entry.delivery_id,
        output_id=entry.output_id,
        mpid=None if entry.mpid is None else str(entry.mpid),
        at_ms=entry.at_ms,
        outcome=entry.outcome,
        attempt=entry.attempt,
        next_attempt_ms=entry.next_attempt_ms,
        reason=entry.reason,
    )


def dead_letter_body(letter: DeadLetter) -> DeadLetterBody:
    """The API view of a dead letter."""
    return DeadLetterBody(
        id=letter.id,
        output_id=letter.output_id,
        connection_id=letter.connection_id,
        mpid=None if letter.mpid is None else str(letter.mpid),
        attempts=letter.attempts,
        created_ms=letter.created_ms,
        finished_ms=letter.finished_ms,
        last_error=letter.last_error,
        payload=letter.payload,
    )


def outputs_router(runtime: Runtime) -> APIRouter:
    """The outputs routes under ``/platform/v1/workspace/{workspace_id}``."""
    router = APIRouter(prefix="/platform/v1/workspace/{workspace_id}", tags=["outputs"])
    grant_of = bearer_grant(runtime.credentials)
    responses: dict[int | str, dict[str, Any]] = {
        400: {"description": "Invalid settings; the message names the bad one"},
        401: {"description": "Bearer token missing, invalid or expired"},
        403: {"description": "The token is not granted this workspace"},
        404: {"description": "No such output or connection in the workspace"},
    }
    deleting = {
        **responses,
        409: {"description": "Records are still queued or dead-lettered; force=true drops them"},
    }
    force_query = Query(
        False,
        description="Drop the queued and dead-lettered records (each recorded in the ledger as dropped).",
    )

    def workspace(workspace_id: int, grant: TokenGrant = Depends(grant_of)) -> int:
        return granted_workspace(runtime, grant, workspace_id).id

    @router.get("/outputs", response_model=list[OutputBody], responses=responses)
    def list_outputs(ws: int = Depends(workspace)) -> list[OutputBody]:
        """Every output of the workspace with its records by status."""
        return [output_body(runtime, o) for o in runtime.outputs.outputs.outputs(ws)]

    @router.post("/outputs", response_model=OutputBody, status_code=201, responses=responses)
    def create_output(request: OutputRequest = Body(...), ws: int = Depends(workspace)) -> OutputBody:
        """Configure an integration; its settings are checked against the integration's schema."""
        created = runtime.outputs.outputs.create_output(
            ws, request.name, request.integration, request.settings
        )
        return output_body(runtime, created)

    @router.get("/outputs/{output_id}", response_model=OutputBody, responses=responses)
    def get_output(output_id: int, ws: int = Depends(workspace)) -> OutputBody:
        """One output."""
        return output_body(runtime, runtime.outputs.outputs.output(ws, output_id))

    @router.patch("/outputs/{output_id}", response_model=OutputBody, responses=responses)
    def update_output(
        output_id: int, request: OutputUpdate = Body(...), ws: int = Depends(workspace)
    ) -> OutputBody:
        """Rename an output or change its settings (merged, re-checked; new settings clear a fault)."""
        changed = runtime.outputs.outputs.update_output(ws, output_id, request.name, request.settings)
        return output_body(runtime, changed)

    @router.delete("/outputs/{output_id}", response_model=DeletedBody, responses=deleting)
    def delete_output(output_id: int, force: bool = force_query, ws: int = Depends(workspace)) -> DeletedBody:
        """Delete an output and its connections; refused while records are queued or dead-lettered for
        it, unless force=true."""
        return deleted_body(runtime.outputs.outputs.delete_output(ws, output_id, force=force))

    @router.post("/outputs/{output_id}/resume", response_model=OutputBody, responses=responses)
    def resume_output(output_id: int, ws: int = Depends(workspace)) -> OutputBody:
        """Clear a fault: the output's queued records are sent at the next delivery run."""
        return output_body(runtime, runtime.outputs.outputs.resume(ws, output_id))

    @router.get("/connections", response_model=list[ConnectionBody], responses=responses)
    def list_connections(ws: int = Depends(workspace)) -> list[ConnectionBody]:
        """Every connection of the workspace."""
        return [connection_body(c) for c in runtime.outputs.outputs.connections(ws)]

    @router.post("/connections", response_model=ConnectionBody, status_code=201, responses=responses)
    def create_connection(
        request: ConnectionRequest = Body(...), ws: int = Depends(workspace)
    ) -> ConnectionBody:
        """Connect an input or an audience to an output, with its processing settings."""
        if request.audience_id is not None:
            runtime.audiences.get(ws, request.audience_id)
        if request.input_id is not None and runtime.tenancy.get_input(request.input_id).workspace_id != ws:
            raise Forbidden(f"Input {request.input_id} is not in workspace {ws}.")
        created = runtime.outputs.outputs.create_connection(
            ws,
            request.output_id,
            input_id=request.input_id,
            audience_id=request.audience_id,
            settings=request.settings,
            active=request.active,
        )
        return connection_body(created)

    @router.get("/connections/{connection_id}", response_model=ConnectionBody, responses=responses)
    def get_connection(connection_id: int, ws: int = Depends(workspace)) -> ConnectionBody:
        """One connection."""
        found = runtime.outputs.outputs.connection(ws, connection_id)
        return connection_body(found, runtime.outputs.router.sync_status(found.id))

    @router.patch("/connections/{connection_id}", response_model=ConnectionBody, responses=responses)
    def update_connection(
        connection_id: int, request: ConnectionUpdate = Body(...), ws: int = Depends(workspace)
    ) -> ConnectionBody:
        """Change a connection's settings (merged, re-checked) or switch it on or off."""
        changed = runtime.outputs.outputs.update_connection(
            ws, connection_id, settings=request.settings, active=request.active
        )
        return connection_body(changed)

    @router.delete("/connections/{connection_id}", response_model=DeletedBody, responses=deleting)
    def delete_connection(
        connection_id: int, force: bool = force_query, ws: int = Depends(workspace)
    ) -> DeletedBody:
        """Delete a connection; refused while its records are queued or dead-lettered, unless force=true."""
        return deleted_body(runtime.outputs.outputs.delete_connection(ws, connection_id, force=force))

    @router.get("/deliveries/ledger", response_model=list[LedgerBody], responses=responses)
    def ledger(
        output_id: int | None = Query(None, description="Only this output."),
        mpid: int | None = Query(None, description="Only this user."),
        since_ms: int | None = Query(None, description="From this time (inclusive)."),
        until_ms: int | None = Query(None, description="Until this time (exclusive)."),
        limit: int = Query(1000, ge=1, le=10_000),
        ws: int = Depends(workspace),
    ) -> list[LedgerBody]:
        """What happened to each record, newest first: per output, per user, per time range."""
        found = runtime.outputs.deliveries.ledger(
            ws, output_id=output_id, mpid=mpid, since_ms=since_ms, until_ms=until_ms, limit=limit
        )
        return [ledger_body(e) for e in found]

    @router.get("/deliveries/dead-letters", response_model=list[DeadLetterBody], responses=responses)
    def dead_letters(
        output_id: int | None = Query(None, description="Only this output."),
        limit: int = Query(1000, ge=1, le=10_000),
        ws: int = Depends(workspace),
    ) -> list[DeadLetterBody]:
        """Records that failed permanently or ran out of retries, with their payloads."""
        return [dead_letter_body(d) for d in runtime.outputs.deliveries.dead_letters(ws, output_id, limit)]

    @router.post("/outputs/{output_id}/dead-letters/redrive", response_model=RedriveBody, responses=responses)
    def redrive(
        output_id: int, request: RedriveRequest = Body(RedriveRequest()), ws: int = Depends(workspace)
    ) -> RedriveBody:
        """Queue the output's dead letters (or those listed) again, with a fresh retry window."""
        runtime.outputs.outputs.output(ws, output_id)
        return RedriveBody(redriven=runtime.outputs.deliveries.redrive(ws, output_id, request.ids))

    return router
