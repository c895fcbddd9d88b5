"""`fermion audiences create|list|show|members`: real-time audiences, their members and freshness."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from fermion.audiences import Audience
from fermion.calculated import current_lag_ms, iso_ms
from fermion.cli.output import emit_json, emit_table
from fermion.errors import BadRequest
from fermion.runtime import Runtime
from fermion.settings import Settings

app = typer.Typer(
    help="Define real-time audiences and see their members and freshness.", no_args_is_help=True
)
WORKSPACE = typer.Option(1, "--workspace", help="Workspace id (default 1).")
AS_JSON = typer.Option(False, "--json", help="Print one JSON document.")


def read_definition(source: str) -> Any:
    """The JSON document in the file ``source``, or on stdin when it is ``-``."""
    text = sys.stdin.read() if source == "-" else Path(source).read_text()
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadRequest(f"The definition is not valid JSON: {exc}") from exc


def audience_view(audience: Audience, waiting_ms: int) -> dict[str, Any]:
    """What the CLI shows of an audience (the API's fields)."""
    lag = current_lag_ms(audience.evaluated_ms, audience.lag_ms, waiting_ms)
    return {
        "id": audience.id,
        "name": audience.name,
        "external_name": audience.external_name,
        "tags": audience.tags,
        "size": audience.size,
        "added_last_24_hours": audience.added_last_24_hours,
        "dropped_last_24_hours": audience.dropped_last_24_hours,
        "status": audience.status,
        "backfill": audience.backfill,
        "backfill_percent": audience.backfill_percent,
        "last_evaluated_on": None if audience.evaluated_ms is None else iso_ms(audience.evaluated_ms),
        "lag_s": None if lag is None else lag / 1000,
        "criteria": audience.definition,
    }


@app.command("create")
def create(
    source: str = typer.Argument(
        "-", help="File with the audience JSON ({name, external_name, criteria}); - = stdin."
    ),
    workspace: int = WORKSPACE,
    as_json: bool = AS_JSON,
) -> None:
    """Create an audience; the worker backfills it from the event store, then keeps it up to date."""
    document = read_definition(source)
    if not isinstance(document, dict):
        raise BadRequest("The audience definition must be a JSON object with name and criteria.")
    runtime = Runtime.open(Settings())
    try:
        created = runtime.audiences.create(
            workspace,
            document.get("name"),
            document.get("criteria"),
            document.get("external_name"),
            by="cli",
            tags=document.get("tags"),
        )
        view = audience_view(created, runtime.inbox.status().lag_ms)
    finally:
        runtime.close()
    if as_json:
        emit_json(view)
    else:
        typer.echo(f"Audience {created.id} created: {created.name} (backfill pending)")


@app.command("list")
def list_audiences(workspace: int = WORKSPACE, as_json: bool = AS_JSON) -> None:
    """List audiences with size, adds/drops in 24 h, backfill progress and freshness."""
    runtime = Runtime.open(Settings())
    try:
        waiting = runtime.inbox.status().lag_ms
        views = [audience_view(a, waiting) for a in runtime.audiences.in_workspace(workspace)]
    finally:
        runtime.close()
    if as_json:
        emit_json(views)
    else:
        columns = ["id", "name", "size", "added_last_24_hours", "dropped_last_24_hours", "backfill_percent",
                   "last_evaluated_on", "lag_s"]  # fmt: skip
        emit_table("Audiences", views, columns)


@app.command("show")
def show(audience_id: int, workspace: int = WORKSPACE, as_json: bool = AS_JSON) -> None:
    """Show one audience with its criteria and freshness."""
    runtime = Runtime.open(Settings())
    try:
        view = audience_view(runtime.audiences.get(workspace, audience_id), runtime.inbox.status().lag_ms)
    finally:
        runtime.close()
    if as_json:
        emit_json(view)
    else:
        for key, value in view.items():
            typer.echo(f"{key}: {json.dumps(value) if isinstance(value, dict) else value}")


@app.command("members")
def members(
    audience_id: int,
    workspace: int = WORKSPACE,
    include_past: bool = typer.Option(
        False, "--include-past", help="Every stay, with added and removed times."
    ),
    limit: int = typer.Option(1000, "--limit", help="At most this many."),
    as_json: bool = AS_JSON,
) -> None:
    """List an audience's members (MPIDs, with when they joined and left)."""
    runtime = Runtime.open(Settings())
    try:
        found = runtime.audiences.members(workspace, audience_id, include_past=include_past, limit=limit)
    finally:
        runtime.close()
    views = [{"mpid": m.mpid, "added_ms": m.added_ms, "removed_ms": m.removed_ms} for m in found]
    if as_json:
        emit_json(views)
    else:
        emit_table(f"Members of audience {audience_id}", views, ["mpid", "added_ms", "removed_ms"])
