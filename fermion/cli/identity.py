"""`fermion identity …`: explain identity decisions, show and set a workspace's identity strategy."""

from __future__ import annotations

import typer

from fermion.cli.output import emit_json
from fermion.errors import BadRequest, NotFound
from fermion.identity import STRATEGIES, IdentitySettings, decision_json, describe
from fermion.runtime import Runtime
from fermion.settings import Settings

app = typer.Typer(help="Explain identity decisions; show and set identity strategies.", no_args_is_help=True)
strategy = typer.Typer(help="Show and set a workspace's identity strategy.", no_args_is_help=True)
app.add_typer(strategy, name="strategy")


def _mpids(runtime: Runtime, workspace: int, subject: str) -> list[int]:
    if subject.startswith("mpid:"):
        subject = subject[5:]
    if subject.lstrip("-").isdigit():
        return [int(subject)]
    identity_type, sep, value = subject.partition(":")
    if not sep:
        raise BadRequest("Give an MPID or an identity as TYPE:VALUE, for example customer_id:ABC123.")
    found = runtime.identity.holders(workspace, identity_type, value)
    if not found:
        raise NotFound(f"No profile holds {identity_type} {value!r}.")
    return found


@app.command("explain")
def explain(
    subject: str = typer.Argument(
        ..., help="An MPID (mpid:-123 for negative ones), or an identity as TYPE:VALUE (customer_id:ABC123)."
    ),
    workspace: int = typer.Option(1, "--workspace", help="Workspace id."),
    as_json: bool = typer.Option(False, "--json", help="Print the decisions as JSON."),
) -> None:
    """Why a profile has the identities it has: every decision, with its rule and cause."""
    runtime = Runtime.open(Settings())
    try:
        report = []
        for mpid in _mpids(runtime, workspace, subject):
            decisions = runtime.identity.history(workspace, mpid)
            identities = runtime.identity.identities(workspace, mpid)
            report.append((mpid, identities, decisions))
    finally:
        runtime.close()
    if as_json:
        emit_json(
            [
                {
                    "mpid": str(mpid),
                    "identities": identities,
                    "decisions": [decision_json(d) for d in decisions],
                }
                for mpid, identities, decisions in report
            ]
        )
        return
    for mpid, identities, decisions in report:
        typer.echo(f"Profile {mpid}")
        for identity_type, values in sorted(identities.items()):
            typer.echo(f"  holds {identity_type}: {', '.join(values)}")
        if not decisions:
            typer.echo("  no recorded decisions")
        for decision in decisions:
            typer.echo(f"  - {describe(decision)}")


@strategy.command("show")
def show(
    workspace: int = typer.Option(1, "--workspace", help="Workspace id."),
    as_json: bool = typer.Option(False, "--json", help="Print the settings as JSON."),
) -> None:
    """The workspace's identity strategy, login, unique and immutable IDs and priority."""
    runtime = Runtime.open(Settings())
    try:
        current = runtime.identity.settings(workspace)
    finally:
        runtime.close()
    view = {
        "workspace_id": workspace,
        "strategy": current.strategy,
        "login_ids": sorted(current.login_ids),
        "unique_ids": sorted(current.unique_ids),
        "immutable_ids": sorted(current.immutable_ids),
        "priority": list(current.priority),
    }
    if as_json:
        emit_json(view)
    else:
        for key, value in view.items():
            typer.echo(f"{key}: {value}")


@strategy.command("set")
def set_strategy(
    name: str = typer.Argument(..., help=f"One of {', '.join(STRATEGIES)}."),
    workspace: int = typer.Option(1, "--workspace", help="Workspace id."),
    login_ids: str = typer.Option(None, "--login-ids", help="Comma-separated (profile_conversion only)."),
    unique_ids: str = typer.Option(None, "--unique-ids", help="Comma-separated (profile_conversion only)."),
    immutable_ids: str = typer.Option(
        None, "--immutable-ids", help="Comma-separated; must be login and unique."
    ),
    priority: str = typer.Option(None, "--priority", help="Comma-separated identity types, highest first."),
    as_json: bool = typer.Option(False, "--json", help="Print the new settings as JSON."),
) -> None:
    """Set the workspace's identity strategy."""

    def split(value: str | None) -> list[str] | None:
        return None if value is None else [v.strip() for v in value.split(",") if v.strip()]

    settings = IdentitySettings.for_strategy(
        name,
        login_ids=split(login_ids),
        unique_ids=split(unique_ids),
        immutable_ids=split(immutable_ids),
        priority=split(priority),
    )
    runtime = Runtime.open(Settings())
    try:
        runtime.tenancy.get_workspace(workspace)
        runtime.identity.configure(workspace, settings)
    finally:
        runtime.close()
    if as_json:
        emit_json(
            {
                "workspace_id": workspace,
                "strategy": settings.strategy,
                "login_ids": sorted(settings.login_ids),
                "unique_ids": sorted(settings.unique_ids),
                "immutable_ids": sorted(settings.immutable_ids),
                "priority": list(settings.priority),
            }
        )
    else:
        typer.echo(f"Workspace {workspace} now uses the {settings.strategy} identity strategy.")
