"""`fermion credentials …`: OAuth client credentials for the Profile API."""

from __future__ import annotations

import typer

from fermion.cli.output import emit_json, emit_table
from fermion.platform import ApiClient
from fermion.runtime import Runtime
from fermion.settings import Settings

app = typer.Typer(
    help="Create and list OAuth client credentials (POST /oauth/token → Bearer token).", no_args_is_help=True
)


def _view(client: ApiClient) -> dict[str, object]:
    return {
        "client_id": client.client_id,
        "workspace_ids": list(client.workspace_ids),
        "created_ms": client.created_ms,
    }


@app.command("create")
def create(
    workspace: list[int] = typer.Option(..., "--workspace", help="A workspace the client may use; repeat."),
    as_json: bool = typer.Option(False, "--json", help="Print the client id, secret and workspaces as JSON."),
) -> None:
    """Create OAuth client credentials; the secret is printed once and never again."""
    runtime = Runtime.open(Settings())
    try:
        created = runtime.credentials.create(workspace)
    finally:
        runtime.close()
    if as_json:
        emit_json(
            {
                "client_id": created.client.client_id,
                "client_secret": created.client_secret,
                "workspace_ids": list(created.client.workspace_ids),
            }
        )
    else:
        workspaces = ", ".join(map(str, created.client.workspace_ids))
        typer.echo(f"Credentials created for workspace {workspaces}. The secret is shown only once.")
        typer.echo(f"Client ID: {created.client.client_id}")
        typer.echo(f"Client secret: {created.client_secret}")


@app.command("list")
def list_credentials(as_json: bool = typer.Option(False, "--json", help="Print a JSON list.")) -> None:
    """List OAuth client credentials (never their secrets)."""
    runtime = Runtime.open(Settings())
    try:
        found = runtime.credentials.list_clients()
    finally:
        runtime.close()
    views = [_view(c) for c in found]
    if as_json:
        emit_json(views)
    else:
        emit_table("API credentials", views, ["client_id", "workspace_ids", "created_ms"])
