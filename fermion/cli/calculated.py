"""`fermion calculated create|list|show`: calculated attributes, their calculation progress and freshness."""

from __future__ import annotations

import json
from typing import Any

import typer

from fermion.calculated import CalculatedAttribute, current_lag_ms, iso_ms
from fermion.cli.audiences import read_definition
from fermion.cli.output import emit_json, emit_table
from fermion.errors import BadRequest
from fermion.runtime import Runtime
from fermion.settings import Settings

app = typer.Typer(
    help="Define calculated attributes and see their progress and freshness.", no_args_is_help=True
)
WORKSPACE = typer.Option(1, "--workspace", help="Workspace id (default 1).")
AS_JSON = typer.Option(False, "--json", help="Print one JSON document.")


def attribute_view(ca: CalculatedAttribute, waiting_ms: int) -> dict[str, Any]:
    """What the CLI shows of a calculated attribute."""
    lag = current_lag_ms(ca.evaluated_ms, ca.lag_ms, waiting_ms)
    return {
        "id": ca.id,
        "name": ca.name,
        "description": ca.description,
        "is_active": ca.is_active,
        "calculation": ca.calculation,
        "calculation_percent_complete": ca.percent_complete,
        "last_evaluated_on": None if ca.evaluated_ms is None else iso_ms(ca.evaluated_ms),
        "lag_s": None if lag is None else lag / 1000,
        "active_definition": ca.active_definition,
        "draft_definition": ca.draft_definition,
    }


@app.command("create")
def create(
    source: str = typer.Argument("-", help="File with {name, description, definition}; - = stdin."),
    workspace: int = WORKSPACE,
    draft: bool = typer.Option(False, "--draft", help="Keep it a draft (do not activate)."),
    as_json: bool = AS_JSON,
) -> None:
    """Create a calculated attribute and activate it (the worker calculates it from the event store)."""
    document = read_definition(source)
    if not isinstance(document, dict):
        raise BadRequest("The calculated attribute must be a JSON object with name and definition.")
    definition = document.get("definition", document.get("draft_definition"))
    runtime = Runtime.open(Settings())
    try:
        created = runtime.calculated.create(
            workspace, document.get("name"), document.get("description"), definition, by="cli"
        )
        if not draft:
            created = runtime.calculated.activate(workspace, created.id, by="cli")
        view = attribute_view(created, runtime.inbox.status().lag_ms)
    finally:
        runtime.close()
    if as_json:
        emit_json(view)
    else:
        typer.echo(f"Calculated attribute {created.id} created: {created.name} ({created.calculation})")


@app.command("list")
def list_attributes(workspace: int = WORKSPACE, as_json: bool = AS_JSON) -> None:
    """List calculated attributes with calculation progress and freshness."""
    runtime = Runtime.open(Settings())
    try:
        waiting = runtime.inbox.status().lag_ms
        views = [attribute_view(ca, waiting) for ca in runtime.calculated.in_workspace(workspace)]
    finally:
        runtime.close()
    if as_json:
        emit_json(views)
    else:
        columns = ["id", "name", "is_active", "calculation_percent_complete", "last_evaluated_on", "lag_s"]
        emit_table("Calculated attributes", views, columns)


@app.command("show")
def show(attribute_id: int, workspace: int = WORKSPACE, as_json: bool = AS_JSON) -> None:
    """Show one calculated attribute with its definitions."""
    runtime = Runtime.open(Settings())
    try:
        view = attribute_view(runtime.calculated.get(workspace, attribute_id), runtime.inbox.status().lag_ms)
    finally:
        runtime.close()
    if as_json:
        emit_json(view)
    else:
        for key, value in view.items():
            typer.echo(f"{key}: {json.dumps(value) if isinstance(value, dict) else value}")
