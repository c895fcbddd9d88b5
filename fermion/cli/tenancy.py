"""`fermion workspaces …` and `fermion inputs …`."""

from __future__ import annotations

import typer

from fermion.cli.output import emit_json, emit_table, plain
from fermion.platform import Input, InputCredentials
from fermion.runtime import Runtime
from fermion.settings import Settings

workspaces = typer.Typer(help="Create and list workspaces.", no_args_is_help=True)
inputs = typer.Typer(help="Create, list and rotate the credentials of inputs.", no_args_is_help=True)


def _runtime() -> Runtime:
    return Runtime.open(Settings())


def _input_view(found: Input) -> dict[str, object]:
    view = plain(found)
    view.pop("secret_hash", None)
    return dict(view)


def _credentials_view(created: InputCredentials) -> dict[str, object]:
    return {**_input_view(created.input), "api_secret": created.api_secret}


@workspaces.command("create")
def create_workspace(
    name: str = typer.Argument(..., help="The workspace's name."),
    account_id: int = typer.Option(None, "--account", help="Account id (default: the first account)."),
    as_json: bool = typer.Option(False, "--json", help="Print the workspace as JSON."),
) -> None:
    """Create a workspace."""
    runtime = _runtime()
    try:
        workspace = runtime.tenancy.create_workspace(name, account_id)
    finally:
        runtime.close()
    if as_json:
        emit_json(workspace)
    else:
        typer.echo(f"Workspace {workspace.id} created: {workspace.name}")


@workspaces.command("list")
def list_workspaces(as_json: bool = typer.Option(False, "--json", help="Print a JSON list.")) -> None:
    """List workspaces."""
    runtime = _runtime()
    try:
        found = runtime.tenancy.list_workspaces()
    finally:
        runtime.close()
    if as_json:
        emit_json(found)
    else:
        emit_table("Workspaces", [plain(w) for w in found], ["id", "name", "account_id", "org_id"])


@inputs.command("create")
def create_input(
    workspace: int = typer.Option(..., "--workspace", help="Workspace id."),
    name: str = typer.Option(..., "--name", help="The input's name."),
    kind: str = typer.Option("platform", "--kind", help="platform or feed."),
    platform: str = typer.Option(
        "server", "--platform", help="server, web, segment, iOS, Android, … (platform inputs)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the input and its secret as JSON."),
) -> None:
    """Create an input; its API secret is printed once and never again."""
    runtime = _runtime()
    try:
        created = runtime.tenancy.create_input(workspace, name, kind=kind, platform=platform)
    finally:
        runtime.close()
    if as_json:
        emit_json(_credentials_view(created))
    else:
        typer.echo(
            f"Input {created.input.id} created in workspace {workspace}. The secret is shown only once."
        )
        typer.echo(f"API key: {created.input.api_key}")
        typer.echo(f"API secret: {created.api_secret}")


@inputs.command("list")
def list_inputs(
    workspace: int = typer.Option(None, "--workspace", help="Only this workspace's inputs."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list."),
) -> None:
    """List inputs (never their secrets)."""
    runtime = _runtime()
    try:
        found = runtime.tenancy.list_inputs(workspace)
    finally:
        runtime.close()
    views = [_input_view(i) for i in found]
    if as_json:
        emit_json(views)
    else:
        emit_table("Inputs", views, ["id", "workspace_id", "kind", "platform", "name", "api_key"])


@inputs.command("rotate-secret")
def rotate_secret(
    key: str = typer.Argument(..., help="The input's API key or id."),
    as_json: bool = typer.Option(False, "--json", help="Print the input and its new secret as JSON."),
) -> None:
    """Give an input a new secret; the old one stops working."""
    runtime = _runtime()
    try:
        rotated = runtime.tenancy.rotate_secret(key)
    finally:
        runtime.close()
    if as_json:
        emit_json(_credentials_view(rotated))
    else:
        typer.echo(f"API key: {rotated.input.api_key}")
        typer.echo(f"API secret: {rotated.api_secret}")


@inputs.command("origins")
def input_origins(
    key: str = typer.Argument(..., help="The web input's API key or id."),
    allow: list[str] = typer.Option(
        None,
        "--allow",
        help="An origin (https://shop.example) that may use the key; repeat. Replaces the list.",
    ),
    any_origin: bool = typer.Option(False, "--any", help="Clear the list: any origin may use the key."),
    as_json: bool = typer.Option(False, "--json", help="Print the input's origins as JSON."),
) -> None:
    """Show or set which browser origins may use a web input's key (none listed: any)."""
    runtime = _runtime()
    try:
        found = runtime.tenancy.find_input_by_key(key)
        if found is None and key.isdigit():
            found = runtime.tenancy.get_input(int(key))
        if found is None:
            raise typer.BadParameter(f"No input has API key or id {key!r}.")
        if any_origin or allow:
            origins = runtime.tenancy.set_allowed_origins(found.id, [] if any_origin else list(allow))
        else:
            origins = runtime.tenancy.allowed_origins(found.id)
    finally:
        runtime.close()
    if as_json:
        emit_json({"input_id": found.id, "api_key": found.api_key, "allowed_origins": list(origins)})
    else:
        typer.echo("Allowed origins: " + (", ".join(origins) if origins else "any"))
