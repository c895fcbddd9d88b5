"""`fermion outputs create|list|show|update|delete|resume`, `fermion connections
create|list|show|update|delete` and `fermion deliveries ledger|dead-letters|redrive`."""

from __future__ import annotations

import json
from typing import Any

import typer

from fermion.cli.audiences import read_definition
from fermion.cli.output import emit_json, emit_table
from fermion.errors import BadRequest
from fermion.outputs import Connection, Deleted, Output
from fermion.runtime import Runtime
from fermion.settings import Settings

outputs = typer.Typer(help="Configure outputs: integrations with their settings.", no_args_is_help=True)
connections = typer.Typer(help="Connect inputs and audiences to outputs.", no_args_is_help=True)
deliveries = typer.Typer(
    help="What happened to forwarded records; dead letters and redrive.", no_args_is_help=True
)
WORKSPACE = typer.Option(1, "--workspace", help="Workspace id (default 1).")
AS_JSON = typer.Option(False, "--json", help="Print one JSON document.")


def _output_view(runtime: Runtime, output: Output) -> dict[str, Any]:
    return {
        "id": output.id,
        "name": output.name,
        "integration": output.integration,
        "settings": output.public_settings(),
        "created_ms": output.created_ms,
        "updated_ms": output.updated_ms,
        "state": output.state,
        "faulted_ms": output.faulted_ms,
        "fault_reason": output.fault_reason,
        "deliveries": runtime.outputs.deliveries.counts(output.id),
    }


def _connection_view(connection: Connection) -> dict[str, Any]:
    return {
        "id": connection.id,
        "output_id": connection.output_id,
        "kind": connection.kind,
        "input_id": connection.input_id,
        "audience_id": connection.audience_id,
        "active": connection.active,
        "settings": connection.settings,
        "created_ms": connection.created_ms,
        "updated_ms": connection.updated_ms,
    }


def _deleted_view(deleted: Deleted) -> dict[str, Any]:
    return {"id": deleted.id, "deleted_connections": deleted.connections, "dropped_records": deleted.dropped}


def _changes(source: str | None) -> dict[str, Any]:
    """The changes document of an update command (none without a file)."""
    if source is None:
        return {}
    document = read_definition(source)
    if not isinstance(document, dict):
        raise BadRequest("The changes must be a JSON object.")
    return document


FORCE = typer.Option(
    False, "--force", help="Drop queued and dead-lettered records (each recorded in the ledger as dropped)."
)


def _show(view: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(view)
    else:
        for key, value in view.items():
            typer.echo(f"{key}: {json.dumps(value) if isinstance(value, dict | list) else value}")


@outputs.command("create")
def create_output(
    source: str = typer.Argument("-", help="File with {name, integration, settings}; - = stdin."),
    workspace: int = WORKSPACE,
    as_json: bool = AS_JSON,
) -> None:
    """Create an output; settings are checked against the integration's schema."""
    document = read_definition(source)
    if not isinstance(document, dict):
        raise BadRequest("The output must be a JSON object with name, integration and settings.")
    runtime = Runtime.open(Settings())
    try:
        created = runtime.outputs.outputs.create_output(
            workspace, document.get("name"), document.get("integration"), document.get("settings")
        )
        view = _output_view(runtime, created)
    finally:
        runtime.close()
    if as_json:
        emit_json(view)
    else:
        typer.echo(f"Output {created.id} created: {created.name} ({created.integration})")


@outputs.command("list")
def list_outputs(workspace: int = WORKSPACE, as_json: bool = AS_JSON) -> None:
    """List outputs with their records by status."""
    runtime = Runtime.open(Settings())
    try:
        views = [_output_view(runtime, o) for o in runtime.outputs.outputs.outputs(workspace)]
    finally:
        runtime.close()
    if as_json:
        emit_json(views)
    else:
        emit_table("Outputs", views, ["id", "name", "integration", "state", "fault_reason", "deliveries"])


@outputs.command("show")
def show_output(output_id: int, workspace: int = WORKSPACE, as_json: bool = AS_JSON) -> None:
    """Show one output (secrets masked)."""
    runtime = Runtime.open(Settings())
    try:
        view = _output_view(runtime, runtime.outputs.outputs.output(workspace, output_id))
    finally:
        runtime.close()
    _show(view, as_json)


@outputs.command("update")
def update_output(
    output_id: int,
    source: str | None = typer.Argument(None, help="File with {name, settings} to change; - = stdin."),
    name: str | None = typer.Option(None, "--name", help="A new name."),
    workspace: int = WORKSPACE,
    as_json: bool = AS_JSON,
) -> None:
    """Rename an output or change settings (merged over the current ones; new settings clear a fault)."""
    document = _changes(source)
    unknown = sorted(set(document) - {"name", "settings"})
    if unknown:
        raise BadRequest(f"{unknown[0]}: cannot be changed; an output's name and settings can.")
    runtime = Runtime.open(Settings())
    try:
        changed = runtime.outputs.outputs.update_output(
            workspace, output_id, name if name is not None else document.get("name"), document.get("settings")
        )
        view = _output_view(runtime, changed)
    finally:
        runtime.close()
    _show(view, as_json)


@outputs.command("delete")
def delete_output(
    output_id: int, force: bool = FORCE, workspace: int = WORKSPACE, as_json: bool = AS_JSON
) -> None:
    """Delete an output and its connections (refused while records wait for it, unless --force)."""
    runtime = Runtime.open(Settings())
    try:
        deleted = runtime.outputs.outputs.delete_output(workspace, output_id, force=force)
    finally:
        runtime.close()
    if as_json:
        emit_json(_deleted_view(deleted))
    else:
        typer.echo(
            f"Output {output_id} deleted with connections {deleted.connections or 'none'}; "
            f"{deleted.dropped} records dropped"
        )


@outputs.command("resume")
def resume_output(output_id: int, workspace: int = WORKSPACE, as_json: bool = AS_JSON) -> None:
    """Clear an output's fault: its queued records are sent at the next delivery run."""
    runtime = Runtime.open(Settings())
    try:
        view = _output_view(runtime, runtime.outputs.outputs.resume(workspace, output_id))
    finally:
        runtime.close()
    _show(view, as_json)


@connections.command("create")
def create_connection(
    source: str = typer.Argument(
        "-", help="File with {output_id, input_id | audience_id, active, settings}; - = stdin."
    ),
    workspace: int = WORKSPACE,
    as_json: bool = AS_JSON,
) -> None:
    """Connect an input (event outputs) or an audience (audience outputs) to an output."""
    document = read_definition(source)
    if not isinstance(document, dict) or not isinstance(document.get("output_id"), int):
        raise BadRequest("The connection must be a JSON object with output_id and input_id or audience_id.")
    runtime = Runtime.open(Settings())
    try:
        created = runtime.outputs.outputs.create_connection(
            workspace,
            document["output_id"],
            input_id=document.get("input_id"),
            audience_id=document.get("audience_id"),
            settings=document.get("settings"),
            active=bool(document.get("active", True)),
        )
    finally:
        runtime.close()
    if as_json:
        emit_json(_connection_view(created))
    else:
        typer.echo(f"Connection {created.id} created ({created.kind} → output {created.output_id})")


@connections.command("list")
def list_connections(workspace: int = WORKSPACE, as_json: bool = AS_JSON) -> None:
    """List connections."""
    runtime = Runtime.open(Settings())
    try:
        views = [_connection_view(c) for c in runtime.outputs.outputs.connections(workspace)]
    finally:
        runtime.close()
    if as_json:
        emit_json(views)
    else:
        emit_table("Connections", views, ["id", "output_id", "kind", "input_id", "audience_id", "active"])


@connections.command("show")
def show_connection(connection_id: int, workspace: int = WORKSPACE, as_json: bool = AS_JSON) -> None:
    """Show one connection with its settings."""
    runtime = Runtime.open(Settings())
    try:
        found = runtime.outputs.outputs.connection(workspace, connection_id)
        view = _connection_view(found)
        sync = runtime.outputs.router.sync_status(found.id)
        if sync is not None:
            view["initial_sync"] = {
                "status": sync.status,
                "queued": sync.queued,
                "started_ms": sync.started_ms,
                "finished_ms": sync.finished_ms,
            }
    finally:
        runtime.close()
    _show(view, as_json)


@connections.command("update")
def update_connection(
    connection_id: int,
    source: str | None = typer.Argument(None, help="File with {settings, active} to change; - = stdin."),
    active: bool | None = typer.Option(None, "--active/--inactive", help="Switch the connection on or off."),
    workspace: int = WORKSPACE,
    as_json: bool = AS_JSON,
) -> None:
    """Change a connection's settings (merged, re-checked) or switch it on or off."""
    document = _changes(source)
    unknown = sorted(set(document) - {"settings", "active"})
    if unknown:
        raise BadRequest(f"{unknown[0]}: cannot be changed; a connection's settings and active can.")
    runtime = Runtime.open(Settings())
    try:
        changed = runtime.outputs.outputs.update_connection(
            workspace,
            connection_id,
            settings=document.get("settings"),
            active=active if active is not None else document.get("active"),
        )
    finally:
        runtime.close()
    _show(_connection_view(changed), as_json)


@connections.command("delete")
def delete_connection(
    connection_id: int, force: bool = FORCE, workspace: int = WORKSPACE, as_json: bool = AS_JSON
) -> None:
    """Delete a connection (refused while its records wait, unless --force)."""
    runtime = Runtime.open(Settings())
    try:
        deleted = runtime.outputs.outputs.delete_connection(workspace, connection_id, force=force)
    finally:
        runtime.close()
    if as_json:
        emit_json(_deleted_view(deleted))
    else:
        typer.echo(f"Connection {connection_id} deleted; {deleted.dropped} records dropped")


@deliveries.command("ledger")
def ledger(
    workspace: int = WORKSPACE,
    output: int | None = typer.Option(None, "--output", help="Only this output."),
    mpid: int | None = typer.Option(None, "--mpid", help="Only this user."),
    since_ms: int | None = typer.Option(None, "--since-ms", help="From this time (ms, inclusive)."),
    until_ms: int | None = typer.Option(None, "--until-ms", help="Until this time (ms, exclusive)."),
    limit: int = typer.Option(100, "--limit"),
    as_json: bool = AS_JSON,
) -> None:
    """What happened to each record: delivered, rejected, skipped, retrying, dead-lettered (newest first)."""
    runtime = Runtime.open(Settings())
    try:
        found = runtime.outputs.deliveries.ledger(
            workspace, output_id=output, mpid=mpid, since_ms=since_ms, until_ms=until_ms, limit=limit
        )
    finally:
        runtime.close()
    views = [{**e.__dict__, "mpid": None if e.mpid is None else str(e.mpid)} for e in found]
    if as_json:
        emit_json(views)
    else:
        columns = [
            "at_ms",
            "output_id",
            "delivery_id",
            "mpid",
            "outcome",
            "attempt",
            "next_attempt_ms",
            "reason",
        ]
        emit_table("Delivery ledger", views, columns)


@deliveries.command("dead-letters")
def dead_letters(
    workspace: int = WORKSPACE,
    output: int | None = typer.Option(None, "--output", help="Only this output."),
    limit: int = typer.Option(100, "--limit"),
    as_json: bool = AS_JSON,
) -> None:
    """List dead letters with their last error (and payload with --json)."""
    runtime = Runtime.open(Settings())
    try:
        found = runtime.outputs.deliveries.dead_letters(workspace, output, limit)
    finally:
        runtime.close()
    views = [{**d.__dict__, "mpid": None if d.mpid is None else str(d.mpid)} for d in found]
    if as_json:
        emit_json(views)
    else:
        emit_table("Dead letters", views, ["id", "output_id", "mpid", "attempts", "last_error"])


@deliveries.command("redrive")
def redrive(
    workspace: int = WORKSPACE,
    output: int | None = typer.Option(None, "--output", help="Only this output's dead letters."),
    ids: list[int] = typer.Option([], "--id", help="Only these dead letters (repeatable)."),
    as_json: bool = AS_JSON,
) -> None:
    """Queue dead letters again with a fresh retry window."""
    runtime = Runtime.open(Settings())
    try:
        count = runtime.outputs.deliveries.redrive(workspace, output, ids or None)
    finally:
        runtime.close()
    if as_json:
        emit_json({"redriven": count})
    else:
        typer.echo(f"{count} dead letters queued again")
