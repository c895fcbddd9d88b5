"""`fermion dsr submit|status|list`: data subject requests for operators (the DSR API's rules apply)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import typer

from fermion.cli.output import emit_json, emit_table
from fermion.errors import BadRequest
from fermion.privacy import EXTENSION, DsrRecord, iso, parse_v3
from fermion.runtime import Runtime
from fermion.settings import Settings

app = typer.Typer(
    help="Submit data subject requests and follow them with their receipts.", no_args_is_help=True
)
WORKSPACE = typer.Option(1, "--workspace", help="Workspace id (default 1).")
AS_JSON = typer.Option(False, "--json", help="Print one JSON document.")
_OPENDSR_NAMES = {
    "controller_customer_id",
    "email",
    "android_advertising_id",
    "android_id",
    "fire_advertising_id",
    "ios_advertising_id",
    "ios_vendor_id",
    "microsoft_advertising_id",
    "microsoft_publisher_id",
    "roku_advertising_id",
    "roku_publisher_id",
}


def _body(
    request_type: str,
    regulation: str,
    identities: list[str],
    skip: bool,
    callbacks: list[str],
    group: str | None,
) -> dict[str, Any]:
    standard: dict[str, Any] = {}
    extension: dict[str, Any] = {}
    for item in identities:
        name, sep, value = item.partition("=")
        if not sep:
            raise BadRequest(f"Identities are TYPE=VALUE, not {item!r}.")
        target = standard if name in _OPENDSR_NAMES else extension
        target[name] = {"value": value, "encoding": "raw"}
    return {
        "regulation": regulation,
        "subject_request_id": str(uuid.uuid4()),
        "subject_request_type": request_type,
        "submitted_time": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "subject_identities": standard,
        "status_callback_urls": callbacks,
        "group_id": group,
        "extensions": {EXTENSION: {"skip_waiting_period": skip, "subject_identities": extension}},
    }


def _view(record: DsrRecord) -> dict[str, Any]:
    return record.status_json() | {"identity_types": sorted(record.identities)}


@app.command("submit")
def submit(
    identity: list[str] = typer.Option(
        ..., "--identity", help="TYPE=VALUE, OpenDSR types (email, controller_customer_id, …) or mpid, other…"
    ),
    request_type: str = typer.Option("erasure", "--type", help="erasure, access or portability."),
    regulation: str = typer.Option("gdpr", "--regulation", help="gdpr or ccpa."),
    skip_waiting_period: bool = typer.Option(False, "--skip-waiting-period", help="Run at the next sweep."),
    callback: list[str] = typer.Option([], "--callback", help="A status callback URL (repeatable)."),
    group: str | None = typer.Option(None, "--group", help="A group id relating requests."),
    workspace: int = WORKSPACE,
    as_json: bool = AS_JSON,
) -> None:
    """Submit a request as the DSR API would; the worker carries it out after the waiting period."""
    body = _body(request_type, regulation, identity, skip_waiting_period, callback, group)
    parsed = parse_v3(body)
    runtime = Runtime.open(Settings())
    try:
        record = runtime.privacy.requests.submit(workspace, parsed, "cli", "")
    finally:
        runtime.close()
    if as_json:
        emit_json(_view(record))
    else:
        typer.echo(
            f"Request {record.subject_request_id} {record.status}; expected by {iso(record.expected_ms)}"
        )


@app.command("status")
def status(subject_request_id: str, workspace: int = WORKSPACE, as_json: bool = AS_JSON) -> None:
    """One request: status, receipts per store, partner forwarding, and its audit log."""
    runtime = Runtime.open(Settings())
    try:
        record = runtime.privacy.requests.get(workspace, subject_request_id)
        view = _view(record) | {
            "audit": runtime.privacy.requests.audit_log(workspace, record.subject_request_id)
        }
    finally:
        runtime.close()
    if as_json:
        emit_json(view)
        return
    for key in ("subject_request_id", "subject_request_type", "regulation", "request_status",
                "received_time", "expected_completion_time", "identity_types"):  # fmt: skip
        typer.echo(f"{key}: {view[key]}")
    for receipt in view["receipts"]:
        typer.echo(f"receipt {receipt['store']}: {receipt['status']} ({receipt['deleted']} deleted)")
    for partner in view["extensions"]:
        typer.echo(f"forwarded {partner['name']}: {partner['status']} {partner['status_message']}")
    for line in view["audit"]:
        typer.echo(f"audit {line['at']} {line['actor']} {line['action']}")


@app.command("list")
def list_requests(
    workspace: int = WORKSPACE,
    status_filter: str | None = typer.Option(
        None, "--status", help="pending, in_progress, completed, cancelled."
    ),
    as_json: bool = AS_JSON,
) -> None:
    """Requests of a workspace, oldest first."""
    runtime = Runtime.open(Settings())
    try:
        views = [_view(r) for r in runtime.privacy.requests.all(workspace, status_filter)]
    finally:
        runtime.close()
    if as_json:
        emit_json(views)
    else:
        columns = ["subject_request_id", "subject_request_type", "regulation", "request_status",
                   "received_time", "expected_completion_time"]  # fmt: skip
        emit_table("Data subject requests", views, columns)
