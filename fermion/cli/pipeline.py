"""`fermion inbox …` and `fermion events tail`."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from typing import Any

import httpx
import typer

from fermion.cli.output import emit_json, emit_table, plain
from fermion.errors import ConfigurationError
from fermion.events import StoredEvent
from fermion.runtime import Runtime
from fermion.settings import Settings

inbox = typer.Typer(help="Inspect the inbox: depth, lag and parked batches.", no_args_is_help=True)
events = typer.Typer(help="Read the event store.", no_args_is_help=True)


@inbox.command("status")
def status(
    parked: int = typer.Option(20, "--parked", help="How many parked batches to list."),
    as_json: bool = typer.Option(False, "--json", help="Print status and parked batches as JSON."),
) -> None:
    """Inbox depth, processing lag and the parked batches with their errors."""
    runtime = Runtime.open(Settings())
    try:
        current = runtime.inbox.status()
        parked_items = runtime.inbox.parked(parked)
    finally:
        runtime.close()
    if as_json:
        emit_json({**plain(current), "parked_batches": plain(parked_items)})
        return
    typer.echo(f"depth: {current.depth}  parked: {current.parked}  lag: {current.lag_ms / 1000:.1f} s")
    if parked_items:
        emit_table(
            "Parked batches",
            [plain(p) for p in parked_items],
            ["id", "workspace_id", "input_id", "attempts", "error"],
        )


@inbox.command("replay")
def replay(
    ids: list[int] = typer.Argument(None, help="Parked batch ids (default: all parked batches)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Put parked batches back in line for processing (after fixing their cause)."""
    runtime = Runtime.open(Settings())
    try:
        count = runtime.inbox.replay_parked(ids or None)
    finally:
        runtime.close()
    if as_json:
        emit_json({"replayed": count})
    else:
        typer.echo(f"{count} batch(es) queued again.")


class _Reader:
    """Reads the event store directly, or through the running server when it holds the embedded store."""

    def __init__(self, settings: Settings) -> None:
        self._runtime = Runtime.open(settings)
        self._url = f"http://{settings.host}:{settings.port}/admin/v1/events"
        self._remote = False
        try:
            self._runtime.events.last_seq()
        except ConfigurationError:
            self._remote = True

    def last_seq(self) -> int:
        if self._remote:
            return self._fetch(0, 1, None, latest=True)[1]
        return self._runtime.events.last_seq()

    def read(self, after: int, limit: int, workspace: int | None) -> list[dict[str, Any]]:
        if self._remote:
            return self._fetch(after, limit, workspace)[0]
        return [_event_view(e) for e in self._runtime.events.tail(after, limit, workspace)]

    def _fetch(
        self, after: int, limit: int, workspace: int | None, latest: bool = False
    ) -> tuple[list[dict[str, Any]], int]:
        params: dict[str, Any] = {"after_seq": after, "limit": limit}
        if workspace is not None:
            params["workspace_id"] = workspace
        headers = {"Authorization": f"Bearer {self._runtime.admin_token()}"}
        if latest:  # walk to the end quickly
            last = after
            while True:
                params["after_seq"], params["limit"] = last, 1000
                body = httpx.get(self._url, params=params, headers=headers, timeout=10).json()
                if not body["events"]:
                    return [], last
                last = body["last_seq"]
        response = httpx.get(self._url, params=params, headers=headers, timeout=10)
        response.raise_for_status()
        body = response.json()
        return [_event_view_dict(e) for e in body["events"]], body["last_seq"]

    def close(self) -> None:
        self._runtime.close()


def _event_view(event: StoredEvent) -> dict[str, Any]:
    return _event_view_dict(asdict(event))


def _event_view_dict(event: dict[str, Any]) -> dict[str, Any]:
    view = dict(event)
    if isinstance(view.get("body"), str):
        view["body"] = json.loads(view["body"])
    return view


@events.command("tail")
def tail(
    follow: bool = typer.Option(
        True, "--follow/--no-follow", help="Keep printing new events as they arrive."
    ),
    last: int = typer.Option(10, "--last", help="Start with this many of the newest events."),
    workspace: int = typer.Option(None, "--workspace", help="Only this workspace's events."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per event (JSON lines)."),
    interval: float = typer.Option(0.5, "--interval", help="Seconds between polls when following."),
) -> None:
    """Print the newest stored events, then follow new ones."""
    reader = _Reader(Settings())
    try:
        after = max(0, reader.last_seq() - last)
        while True:
            rows = reader.read(after, 500, workspace)
            for row in rows:
                after = max(after, int(row["seq"]))
                if as_json:
                    print(json.dumps(row), flush=True)
                else:
                    typer.echo(
                        f"{row['seq']:>8}  ws={row['workspace_id']}  mpid={row['mpid']}  "
                        f"{row['event_type']:<16} {row['event_name']!s:<30} ts={row['timestamp_ms']}"
                    )
            if not follow and len(rows) < 500:
                return
            if len(rows) < 500:
                time.sleep(interval)
    except KeyboardInterrupt:
        return
    finally:
        reader.close()
