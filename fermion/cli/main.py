"""The `fermion` command."""

from __future__ import annotations

import sys

import typer

from fermion import __version__
from fermion.cli import analytics as analytics_cli
from fermion.cli import audiences as audiences_cli
from fermion.cli import calculated as calculated_cli
from fermion.cli import credentials, identity, pipeline, plans, serve, tenancy, tls
from fermion.cli import dsr as dsr_cli
from fermion.cli import outputs as outputs_cli
from fermion.errors import FermionError

app = typer.Typer(
    help="Fermion: an open-source customer data platform, wire-compatible with mParticle's HTTP APIs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("serve")(serve.serve)
app.command("api")(serve.api)
app.command("worker")(serve.worker)
app.command("migrate")(serve.migrate)
app.add_typer(tenancy.workspaces, name="workspaces")
app.add_typer(tenancy.inputs, name="inputs")
app.add_typer(pipeline.inbox, name="inbox")
app.add_typer(pipeline.events, name="events")
app.add_typer(identity.app, name="identity")
app.add_typer(credentials.app, name="credentials")
app.add_typer(plans.plans, name="plans")
app.add_typer(plans.quarantine, name="quarantine")
app.command("live")(plans.live)
app.add_typer(tls.app, name="tls")
app.add_typer(audiences_cli.app, name="audiences")
app.add_typer(calculated_cli.app, name="calculated")
app.add_typer(analytics_cli.app, name="analytics")
app.add_typer(outputs_cli.outputs, name="outputs")
app.add_typer(outputs_cli.connections, name="connections")
app.add_typer(outputs_cli.deliveries, name="deliveries")
app.add_typer(dsr_cli.app, name="dsr")


@app.command("version")
def version() -> None:
    """Print Fermion's version."""
    typer.echo(__version__)


def main() -> None:
    """Entry point: run a command; Fermion errors print their message and exit non-zero."""
    try:
        app()
    except FermionError as error:
        typer.echo(f"Error: {error.message}", err=True)
        sys.exit(2)
