"""`fermion plans …`, `fermion quarantine …` and `fermion live`: data plans from the command line."""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, Progress, TextColumn

from fermion.cli.output import console, emit_json, emit_table
from fermion.errors import BadRequest, ConfigurationError, NotFound
from fermion.events import socket_path_for
from fermion.pipeline import QuarantineReplayer, dry_run_stored
from fermion.plans import FeedFilter, PlanVersion, QuarantineFilter
from fermion.runtime import Runtime
from fermion.settings import Settings

plans = typer.Typer(help="Import, inspect, activate and dry-run data plans.", no_args_is_help=True)
quarantine = typer.Typer(help="List, inspect and replay data blocked by data plans.", no_args_is_help=True)
ACTOR = "cli"
WORKSPACE = typer.Option(1, "--workspace", help="Workspace id.")
AS_JSON = typer.Option(False, "--json", help="Print exactly one JSON document.")


def _read_json(source: str) -> Any:
    text = sys.stdin.read() if source == "-" else Path(source).read_text()
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise BadRequest(f"{source}: not JSON ({error})") from None


def _version_row(v: PlanVersion) -> dict[str, Any]:
    blocked = [k for k, on in v.blocking.to_json().items() if on]
    return {
        "plan": v.data_plan_id,
        "version": v.version,
        "active in": v.activated_environment,
        "data points": len(v.document.get("data_points") or []),
        "blocks": ", ".join(blocked) or "-",
        "description": v.description,
    }


@plans.command("import")
def import_plan(
    source: str = typer.Argument(
        ..., help="A JSON file exported from mParticle (plan, version or document), or -."
    ),
    plan_id: str = typer.Option(None, "--plan-id", help="The plan to add a version or document to."),
    workspace: int = WORKSPACE,
    as_json: bool = AS_JSON,
) -> None:
    """Import a data plan as mParticle exports it: a whole plan, one version, or a version document."""
    document = _read_json(source)
    if not isinstance(document, dict):
        raise BadRequest(f"{source}: a data plan export is a JSON object")
    runtime = Runtime.open(Settings())
    try:
        if "data_plan_versions" in document or (
            "data_plan_name" in document and "version_document" not in document
        ):
            created: Any = runtime.plans.create_plan(workspace, document, ACTOR)
            result = {"data_plan_id": created.data_plan_id, "versions": [v.version for v in created.versions]}
        else:
            version = document if "version_document" in document else {"version_document": document}
            target = plan_id or version.get("data_plan_id")
            if not isinstance(target, str) or not target:
                raise BadRequest("This file holds a version, not a plan: name its plan with --plan-id.")
            version = {k: v for k, v in version.items() if k not in ("data_plan_id", "data_plan_name")}
            try:
                runtime.plans.get_plan(workspace, target)
            except NotFound:
                runtime.plans.create_plan(
                    workspace, {"data_plan_id": target, "data_plan_name": target}, ACTOR
                )
            added = runtime.plans.create_version(workspace, target, version, ACTOR)
            result = {"data_plan_id": added.data_plan_id, "versions": [added.version]}
    finally:
        runtime.close()
    if as_json:
        emit_json(result)
    else:
        typer.echo(
            f"Imported plan {result['data_plan_id']} version(s) {', '.join(map(str, result['versions']))}."
        )


@plans.command("list")
def list_plans(workspace: int = WORKSPACE, as_json: bool = AS_JSON) -> None:
    """Every plan and version of a workspace."""
    runtime = Runtime.open(Settings())
    try:
        found = runtime.plans.list_plans(workspace)
    finally:
        runtime.close()
    rows = [_version_row(v) for p in found for v in p.versions]
    if as_json:
        emit_json(rows)
    else:
        emit_table(
            "Data plans", rows, ["plan", "version", "active in", "data points", "blocks", "description"]
        )


@plans.command("show")
def show_plan(
    plan_id: str = typer.Argument(...),
    version: int = typer.Option(None, "--version", help="One version (default: the newest)."),
    workspace: int = WORKSPACE,
    as_json: bool = AS_JSON,
) -> None:
    """A plan version's data points and blocking switches."""
    runtime = Runtime.open(Settings())
    try:
        plan = runtime.plans.get_plan(workspace, plan_id)
        number = version if version is not None else max(v.version for v in plan.versions)
        found = runtime.plans.get_version(workspace, plan_id, number)
    finally:
        runtime.close()
    if as_json:
        emit_json(
            {**_version_row(found), "version_document": found.document, "blocking": found.blocking.to_json()}
        )
        return
    emit_table(f"{plan.name} ({plan_id})", [_version_row(found)], list(_version_row(found)))
    points = [
        {"match": p.match_type, "criteria": json.dumps(p.criteria), "description": p.description}
        for p in found.data_points
    ]
    emit_table("Data points", points, ["match", "criteria", "description"])


@plans.command("activate")
def activate(
    plan_id: str = typer.Argument(...),
    version: int = typer.Argument(...),
    environment: str = typer.Option("production", "--environment", help="development, production or none."),
    workspace: int = WORKSPACE,
    as_json: bool = AS_JSON,
) -> None:
    """Activate a version in development, in production (and development), or make it a draft (none)."""
    runtime = Runtime.open(Settings())
    try:
        found = runtime.plans.update_version(
            workspace, plan_id, version, {"activated_environment": environment}, ACTOR
        )
    finally:
        runtime.close()
    if as_json:
        emit_json(_version_row(found))
    else:
        typer.echo(f"{plan_id} version {version} is active in: {found.activated_environment}.")


@plans.command("block")
def block(
    plan_id: str = typer.Argument(...),
    version: int = typer.Argument(...),
    events: bool = typer.Option(None, "--events/--no-events", help="Block unplanned events."),
    event_attributes: bool = typer.Option(None, "--event-attributes/--no-event-attributes"),
    user_attributes: bool = typer.Option(None, "--user-attributes/--no-user-attributes"),
    user_identities: bool = typer.Option(None, "--user-identities/--no-user-identities"),
    workspace: int = WORKSPACE,
    as_json: bool = AS_JSON,
) -> None:
    """Switch blocking of unplanned data per category on a version."""
    runtime = Runtime.open(Settings())
    try:
        current = runtime.plans.get_version(workspace, plan_id, version).blocking.to_json()
        wanted = {
            "events": events,
            "event_attributes": event_attributes,
            "user_attributes": user_attributes,
            "user_identities": user_identities,
        }
        current.update({k: v for k, v in wanted.items() if v is not None})
        found = runtime.plans.update_version(workspace, plan_id, version, {"blocking": current}, ACTOR)
    finally:
        runtime.close()
    if as_json:
        emit_json(found.blocking.to_json())
    else:
        typer.echo(f"{plan_id} version {version} blocks: {_version_row(found)['blocks']}.")


@plans.command("default")
def default_plan(
    input_id: int = typer.Argument(..., help="The input whose batches name no plan."),
    plan_id: str = typer.Argument(None, help="The plan (omit with --clear)."),
    version: int = typer.Option(None, "--version", help="Pin a version (default: the latest active)."),
    clear: bool = typer.Option(False, "--clear", help="Remove the input's default plan."),
    workspace: int = WORKSPACE,
) -> None:
    """Set the plan an input's batches are validated against when they name none."""
    runtime = Runtime.open(Settings())
    try:
        if runtime.tenancy.get_input(input_id).workspace_id != workspace:
            raise NotFound(f"No input {input_id} in workspace {workspace}.")
        runtime.plans.set_input_default(workspace, input_id, None if clear else plan_id, version)
    finally:
        runtime.close()
    typer.echo(f"Input {input_id}: " + ("no default plan." if clear else f"default plan {plan_id}."))


@plans.command("dry-run")
def dry_run(
    plan_id: str = typer.Argument(...),
    version: int = typer.Argument(...),
    days: int = typer.Option(7, "--days", min=1, max=90, help="Check the events of the last N days."),
    workspace: int = WORKSPACE,
    as_json: bool = AS_JSON,
) -> None:
    """What a (draft) version would flag and block on stored events, per data point, before activating it."""
    settings = Settings()
    runtime = Runtime.open(settings)
    try:
        try:
            runtime.events.last_seq()
        except ConfigurationError:  # the running server holds the embedded event store: read through it
            runtime.worker_socket = socket_path_for(settings.data_dir)
        report = dry_run_stored(
            runtime.plans,
            runtime.event_reads(),
            runtime.profiles,
            runtime.clock,
            workspace,
            plan_id,
            version,
            days,
        )
    finally:
        runtime.close()
    if as_json:
        emit_json(report)
        return
    typer.echo(
        f"{report['events_checked']} events checked: {report['events_flagged']} flagged, "
        f"{report['events_would_block']} would be blocked, {report['event_attributes_would_block']} event "
        f"attribute(s) would be removed; {report['profiles_checked']} profiles checked."
    )
    rows = [
        {
            "match": f"{p['match']['type']} {json.dumps(p['match']['criteria'])}",
            "planned": "yes" if p["planned"] else "NO",
            "matched": p["matched"],
            "flagged": p["flagged"],
            "would block": p["would_block"],
            "errors": ", ".join(f"{k}: {n}" for k, n in p["errors_by_type"].items()),
        }
        for p in report["data_points"]
    ]
    emit_table("Per data point", rows, ["match", "planned", "matched", "flagged", "would block", "errors"])


@quarantine.command("list")
def list_quarantine(
    plan_id: str = typer.Option(None, "--plan"),
    version: int = typer.Option(None, "--version"),
    reason: str = typer.Option(None, "--reason", help="unplanned_event, unplanned_event_attribute, …"),
    since_hours: float = typer.Option(
        None, "--since-hours", help="Only what was quarantined in the last N hours."
    ),
    status: str = typer.Option(None, "--status", help="quarantined, replaying or replayed."),
    limit: int = typer.Option(100, "--limit"),
    workspace: int = WORKSPACE,
    as_json: bool = AS_JSON,
) -> None:
    """Quarantined batches by plan, version, reason, time and status."""
    runtime = Runtime.open(Settings())
    try:
        since = None if since_hours is None else runtime.clock.now_ms() - int(since_hours * 3_600_000)
        where = QuarantineFilter(plan_id, version, reason, since, None, status)
        records = runtime.quarantine.find(workspace, where, limit)
    finally:
        runtime.close()
    rows = [r.to_json(with_batch=False) for r in records]
    if as_json:
        emit_json(rows)
        return
    table = [
        {
            **r,
            "when": dt.datetime.fromtimestamp(r["quarantined_ms"] / 1000, tz=dt.UTC).strftime(
                "%Y-%m-%d %H:%M:%S"
            ),
            "plan": f"{r['data_plan']['plan_id']} v{r['data_plan']['plan_version']}",
            "reasons": ", ".join(r["reasons"]),
            "events": ", ".join(r["event_names"]) or "-",
        }
        for r in rows
    ]
    emit_table("Quarantine", table, ["id", "when", "plan", "mpid", "reasons", "events", "status"])


@quarantine.command("show")
def show_quarantine(record_id: int = typer.Argument(...), workspace: int = WORKSPACE) -> None:
    """One quarantined batch, as JSON, with its block metadata."""
    runtime = Runtime.open(Settings())
    try:
        emit_json(runtime.quarantine.get(workspace, record_id).to_json())
    finally:
        runtime.close()


@quarantine.command("replay")
def replay(
    ids: list[int] = typer.Argument(None, help="Record ids (default: everything the filters select)."),
    plan_id: str = typer.Option(None, "--plan"),
    version: int = typer.Option(None, "--version"),
    reason: str = typer.Option(None, "--reason"),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Show progress until the pipeline is done."),
    timeout_s: float = typer.Option(300.0, "--timeout", help="Stop waiting after this many seconds."),
    workspace: int = WORKSPACE,
    as_json: bool = AS_JSON,
) -> None:
    """Re-ingest quarantined data through the pipeline, after the plan was fixed, with progress."""
    runtime = Runtime.open(Settings())
    try:
        replayer = QuarantineReplayer(runtime.quarantine, runtime.acceptor, runtime.inbox, runtime.tenancy)
        where = QuarantineFilter(plan_id, version, reason, None, None, None, tuple(ids) if ids else None)
        progress = replayer.start(workspace, where)
        if wait and progress.selected:
            deadline = time.monotonic() + timeout_s
            with Progress(
                TextColumn("replaying"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total}"),
                console=console,
                disable=as_json,
                transient=as_json,
            ) as bar:
                task = bar.add_task("replay", total=progress.selected)
                while not progress.done and time.monotonic() < deadline:
                    time.sleep(0.25)
                    progress = replayer.progress(workspace, progress.job_id)
                    bar.update(task, completed=progress.selected - progress.pending)
    finally:
        runtime.close()
    if as_json:
        emit_json(progress.to_json())
    else:
        typer.echo(
            f"Replay {progress.job_id}: {progress.selected} selected, {progress.stored} stored, "
            f"{progress.quarantined_again} quarantined again, {progress.pending} pending."
        )


def _line(entry: dict[str, Any]) -> str:
    when = dt.datetime.fromtimestamp(entry["processed_ms"] / 1000, tz=dt.UTC).strftime("%H:%M:%S")
    verdict = entry["verdict"]
    plan = verdict["data_plan"]
    names = (
        ", ".join(f"{e['event_name']}{' [BLOCKED]' if e['blocked'] else ''}" for e in entry["events"])
        or "(no events)"
    )
    decisions = entry["identity"]["decisions"]
    identity = "; ".join(d["explanation"] for d in decisions) if decisions else "matched an existing profile"
    head = f"{when} input {entry['input_id']} {entry['environment'][:4]} mpid {entry['mpid']}: {names}"
    status = (
        verdict["status"]
        if plan is None
        else f"{verdict['status']} ({plan['plan_id']} v{plan['plan_version']})"
    )
    lines = [head, f"    plan: {status}" + (f" — {verdict['note']}" if verdict["note"] else "")]
    for result in verdict["results"]:
        for error in result["data"]["validation_errors"]:
            lines.append(
                f"    {error['validation_error_type']}: {error['key']} at {error['error_pointer']}"
                + (
                    f" (expected {error['expected']}, got {error['actual']})"
                    if error["expected"] is not None
                    else ""
                )
            )
    if verdict["blocked"]:
        lines.append(f"    blocked: {', '.join(verdict['blocked'])} → quarantine")
    lines.append(f"    identity: {identity}")
    return "\n".join(lines)


def live(
    input_id: int = typer.Option(None, "--input", help="Only batches from this input."),
    environment: str = typer.Option(None, "--environment", help="development or production."),
    mpid: int = typer.Option(None, "--mpid", help="Only this user's batches."),
    event_name: str = typer.Option(None, "--event-name", help="Only batches holding an event of this name."),
    from_start: bool = typer.Option(
        False, "--from-start", help="Begin with everything retained, not only new."
    ),
    limit: int = typer.Option(None, "--limit", help="Stop after this many batches."),
    timeout_s: float = typer.Option(None, "--timeout", help="Stop after this many seconds."),
    workspace: int = WORKSPACE,
    as_json: bool = typer.Option(False, "--json", help="One JSON document per line (JSON Lines)."),
) -> None:
    """Watch batches as the pipeline processes them: events, identity decision, plan verdict, blocking."""
    settings = Settings()
    runtime = Runtime.open(settings)
    where = FeedFilter(input_id, environment, mpid, event_name)
    cursor = 0 if from_start else runtime.verdicts.last_id(workspace)
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    shown = 0
    try:
        while deadline is None or time.monotonic() < deadline:
            entries, cursor = runtime.verdicts.since(workspace, cursor, where, 200)
            for entry in entries:
                print(json.dumps(entry) if as_json else _line(entry), flush=True)
                shown += 1
                if limit is not None and shown >= limit:
                    return
            if not entries:
                time.sleep(settings.live_stream_poll_ms / 1000)
    except KeyboardInterrupt:
        pass
    finally:
        runtime.close()
