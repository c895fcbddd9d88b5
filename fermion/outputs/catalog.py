"""Outputs (a configured integration) and connections (input → output for events, audience → output for
audience memberships), with their settings validated against the integration's schemas: created, read,
changed and deleted; an output faulted when its destination refuses the credentials, and resumed.

Deleting an output or a connection that still has queued or dead-lettered records is refused unless
forced; forced, those records are dropped and the ledger says so (nothing goes silently).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import Connection as SqlConnection
from sqlalchemy import Engine, delete, func, insert, select, update

from fermion.clock import Clock
from fermion.errors import BadRequest, Conflict, NotFound
from fermion.outputs.deliveries import Deliveries
from fermion.outputs.integrations import COMMON_OUTPUT_SETTINGS, Integration, integration_named
from fermion.outputs.integrations.base import validate_settings
from fermion.outputs.processing import Processing, parse_processing
from fermion.outputs.tables import connections, deliveries, output_state, outputs
from fermion.store import reading

_encode = msgspec.json.Encoder(order="sorted").encode
_decode = msgspec.json.decode
PROCESSING_KEYS = frozenset(
    {"data_filter", "user_sampling_percent", "forwarding_rules", "rules", "field_transformations",
     "shared_attributes"}
)  # fmt: skip
MASKED = "********"


@dataclass(frozen=True)
class Output:
    """A configured integration of a workspace; ``settings`` include the bulk thresholds."""

    id: int
    workspace_id: int
    name: str
    integration: str
    settings: dict[str, Any]
    created_ms: int
    updated_ms: int | None = None
    faulted_ms: int | None = None
    fault_reason: str | None = None

    @property
    def state(self) -> str:
        """``faulted`` while the destination refuses the credentials (nothing is sent), else ``active``."""
        return "active" if self.faulted_ms is None else "faulted"

    def public_settings(self) -> dict[str, Any]:
        """The settings with secrets masked, for display."""
        schema = integration_named(self.integration).settings
        return {
            k: (MASKED if k in schema and schema[k].secret and v else v) for k, v in self.settings.items()
        }


@dataclass(frozen=True)
class Connection:
    """An input (events) or an audience (memberships) connected to an output, with its settings."""

    id: int
    workspace_id: int
    output_id: int
    kind: str
    input_id: int | None
    audience_id: int | None
    active: bool
    settings: dict[str, Any]
    created_ms: int
    updated_ms: int | None = None

    @property
    def processing(self) -> Processing:
        """The connection's processing steps (parsed on every call: cache it where it is hot)."""
        return parse_processing(self.settings, self.kind)


@dataclass(frozen=True)
class Deleted:
    """What deleting an output or a connection removed: its connections, and the records dropped."""

    id: int
    connections: list[int]
    dropped: int


class Outputs:
    """Creates, reads, changes and deletes outputs and connections; faults and resumes outputs."""

    def __init__(self, engine: Engine, clock: Clock, deliveries: Deliveries) -> None:
        self._engine = engine
        self._clock = clock
        self._deliveries = deliveries

    def create_output(self, workspace_id: int, name: Any, integration: Any, settings: Any) -> Output:
        """A new output; its settings are checked against the integration's schema (a 400 names it)."""
        if not isinstance(name, str) or not name.strip():
            raise BadRequest("name: required")
        if not isinstance(integration, str):
            raise BadRequest("integration: required")
        checked = _output_settings(integration_named(integration), settings)
        now = self._clock.now_ms()
        values = {
            "workspace_id": workspace_id,
            "name": name.strip(),
            "integration": integration,
            "settings": _encode(checked).decode(),
            "created_ms": now,
        }
        with self._engine.begin() as conn:
            new_id = int(conn.execute(insert(outputs).values(values).returning(outputs.c.id)).scalar_one())
        return Output(new_id, workspace_id, name.strip(), integration, checked, now)

    def outputs(self, workspace_id: int | None = None) -> list[Output]:
        """The outputs of a workspace (every workspace when None)."""
        query = select(outputs).order_by(outputs.c.id)
        if workspace_id is not None:
            query = query.where(outputs.c.workspace_id == workspace_id)
        with reading(self._engine) as conn:
            rows = conn.execute(query).mappings().all()
        return [Output(**{**row, "settings": _decode(row["settings"])}) for row in rows]

    def output(self, workspace_id: int, output_id: int) -> Output:
        """One output of the workspace (404 otherwise)."""
        for found in self.outputs(workspace_id):
            if found.id == output_id:
                return found
        raise NotFound(f"No output {output_id} in workspace {workspace_id}.")

    def create_connection(
        self,
        workspace_id: int,
        output_id: int,
        *,
        input_id: int | None = None,
        audience_id: int | None = None,
        settings: Any = None,
        active: bool = True,
    ) -> Connection:
        """Connect an input (event outputs) or an audience (audience outputs) to an output."""
        output = self.output(workspace_id, output_id)
        kind = integration_named(output.integration)
        if (input_id is None) == (audience_id is None):
            raise BadRequest(
                "Give exactly one of input_id (event connection) or audience_id (audience connection)."
            )
        wanted = "event" if input_id is not None else "audience"
        if wanted != kind.kind:
            raise BadRequest(f"{output.integration} is an {kind.kind} output: connect an "
                             f"{'input' if kind.kind == 'event' else 'audience'} to it.")  # fmt: skip
        merged = _connection_settings(kind, wanted, settings or {})
        now = self._clock.now_ms()
        values = {
            "workspace_id": workspace_id,
            "output_id": output_id,
            "kind": wanted,
            "input_id": input_id,
            "audience_id": audience_id,
            "active": active,
            "settings": _encode(merged).decode(),
            "created_ms": now,
        }
        with self._engine.begin() as conn:
            new_id = int(
                conn.execute(insert(connections).values(values).returning(connections.c.id)).scalar_one()
            )
        return Connection(new_id, workspace_id, output_id, wanted, input_id, audience_id, active, merged, now)

    def connections(self, workspace_id: int | None = None, output_id: int | None = None) -> list[Connection]:
        """Connections of a workspace (every workspace when None), optionally of one output."""
        query = select(connections).order_by(connections.c.id)
        if workspace_id is not None:
            query = query.where(connections.c.workspace_id == workspace_id)
        if output_id is not None:
            query = query.where(connections.c.output_id == output_id)
        with reading(self._engine) as conn:
            rows = conn.execute(query).mappings().all()
        return [
            Connection(**{**row, "active": bool(row["active"]), "settings": _decode(row["settings"])})
            for row in rows
        ]

    def connection(self, workspace_id: int, connection_id: int) -> Connection:
        """One connection of the workspace (404 otherwise)."""
        for found in self.connections(workspace_id):
            if found.id == connection_id:
                return found
        raise NotFound(f"No connection {connection_id} in workspace {workspace_id}.")

    def update_output(
        self, workspace_id: int, output_id: int, name: Any = None, settings: Any = None
    ) -> Output:
        """Rename an output and/or change settings: those given are merged over the current ones (``null``
        restores a default; a secret not sent, or sent back masked, keeps its value) and the result is
        checked like a new output's. New settings clear a fault: the next run tries them."""
        current = self.output(workspace_id, output_id)
        values: dict[str, Any] = {}
        if name is not None:
            if not isinstance(name, str) or not name.strip():
                raise BadRequest("name: must not be empty")
            values["name"] = name.strip()
        if settings is not None:
            if not isinstance(settings, dict):
                raise BadRequest("settings: an object of settings")
            kind = integration_named(current.integration)
            given = {
                k: v
                for k, v in settings.items()
                if not (k in kind.settings and kind.settings[k].secret and v == MASKED)
            }
            merged = {k: v for k, v in {**current.settings, **given}.items() if v is not None}
            values["settings"] = _encode(_output_settings(kind, merged)).decode()
            values.update(faulted_ms=None, fault_reason=None)
        if not values:
            return current
        now = self._clock.now_ms()
        with self._engine.begin() as conn:
            if "settings" in values and current.faulted_ms is not None:
                self._deliveries.resume(conn, output_id, current.faulted_ms, now)
            stamp = max(now, (current.updated_ms or 0) + 1)  # strictly increasing: caches compare it
            conn.execute(update(outputs).where(outputs.c.id == output_id).values(updated_ms=stamp, **values))
        return self.output(workspace_id, output_id)

    def delete_output(self, workspace_id: int, output_id: int, *, force: bool = False) -> Deleted:
        """Delete an output with its connections and state. Refused (409) while records are queued or
        dead-lettered for it, unless ``force``: then they are dropped, each recorded in the ledger."""
        self.output(workspace_id, output_id)
        now = self._clock.now_ms()
        d = deliveries.c
        with self._engine.begin() as conn:
            _refuse_unless_forced(conn, d.output_id == output_id, f"Output {output_id}", force)
            dropped = self._deliveries.drop(
                conn, d.output_id == output_id, f"output {output_id} deleted", now
            )
            c = connections.c
            removed = [int(i) for i in conn.execute(select(c.id).where(c.output_id == output_id)).scalars()]
            conn.execute(delete(connections).where(c.output_id == output_id))
            conn.execute(delete(output_state).where(output_state.c.output_id == output_id))
            conn.execute(delete(outputs).where(outputs.c.id == output_id))
        return Deleted(output_id, removed, dropped)

    def update_connection(
        self, workspace_id: int, connection_id: int, *, settings: Any = None, active: Any = None
    ) -> Connection:
        """Change a connection's settings (merged over the current ones, ``null`` removing one, checked
        like a new connection's) and/or switch it on or off: an inactive connection routes nothing."""
        current = self.connection(workspace_id, connection_id)
        values: dict[str, Any] = {}
        if active is not None:
            if not isinstance(active, bool):
                raise BadRequest("active: true or false")
            values["active"] = active
        if settings is not None:
            if not isinstance(settings, dict):
                raise BadRequest("settings: an object")
            kind = integration_named(self.output(workspace_id, current.output_id).integration)
            merged = {k: v for k, v in {**current.settings, **settings}.items() if v is not None}
            values["settings"] = _encode(_connection_settings(kind, current.kind, merged)).decode()
        if values:
            with self._engine.begin() as conn:
                conn.execute(
                    update(connections)
                    .where(connections.c.id == connection_id)
                    .values(updated_ms=max(self._clock.now_ms(), (current.updated_ms or 0) + 1), **values)
                )
        return self.connection(workspace_id, connection_id)

    def delete_connection(self, workspace_id: int, connection_id: int, *, force: bool = False) -> Deleted:
        """Delete a connection. Refused (409) while its records are queued or dead-lettered, unless
        ``force``: then they are dropped, each recorded in the ledger."""
        self.connection(workspace_id, connection_id)
        d = deliveries.c
        with self._engine.begin() as conn:
            _refuse_unless_forced(
                conn, d.connection_id == connection_id, f"Connection {connection_id}", force
            )
            dropped = self._deliveries.drop(
                conn,
                d.connection_id == connection_id,
                f"connection {connection_id} deleted",
                self._clock.now_ms(),
            )
            conn.execute(delete(connections).where(connections.c.id == connection_id))
        return Deleted(connection_id, [connection_id], dropped)

    def mark_faulted(self, output_id: int, reason: str, seen_updated_ms: int | None) -> bool:
        """Fault the output (the destination refused its credentials), unless its settings changed since
        ``seen_updated_ms`` (the refused call used old ones). True when it was faulted now."""
        o = outputs.c
        with self._engine.begin() as conn:
            result = conn.execute(
                update(outputs)
                .where(
                    o.id == output_id,
                    o.faulted_ms.is_(None),
                    o.updated_ms.is_not_distinct_from(seen_updated_ms),
                )
                .values(faulted_ms=self._clock.now_ms(), fault_reason=reason)
            )
        return bool(result.rowcount)

    def resume(self, workspace_id: int, output_id: int) -> Output:
        """Clear the output's fault: its queued records go at the next run, and the time spent faulted
        counts neither against their retry window nor their bulk wait."""
        current = self.output(workspace_id, output_id)
        if current.faulted_ms is not None:
            now = self._clock.now_ms()
            with self._engine.begin() as conn:
                self._deliveries.resume(conn, output_id, current.faulted_ms, now)
                conn.execute(
                    update(outputs)
                    .where(outputs.c.id == output_id)
                    .values(faulted_ms=None, fault_reason=None)
                )
        return self.output(workspace_id, output_id)

    def revision(self, conn: SqlConnection) -> tuple[Any, ...]:
        """What identifies the current connections and outputs, cheaply: it changes whenever one is added,
        changed, switched or deleted (routers compare it to know when to reload)."""
        c, o = connections.c, outputs.c
        found = conn.execute(
            select(c.id, c.output_id, c.active, c.created_ms, c.updated_ms, func.length(c.settings))
        ).all()
        owners = conn.execute(select(o.id, o.updated_ms, func.length(o.settings))).all()
        return (tuple(sorted(tuple(r) for r in found)), tuple(sorted(tuple(r) for r in owners)))


def _output_settings(kind: Integration, settings: Any) -> dict[str, Any]:
    """Output settings checked against the integration's schema, bulk thresholds defaulted."""
    checked = validate_settings({**COMMON_OUTPUT_SETTINGS, **kind.settings}, settings, "settings")
    if checked.get("bulk_size") is None:
        checked["bulk_size"] = kind.bulk_size
    if checked.get("bulk_wait_s") is None:
        checked["bulk_wait_s"] = kind.bulk_wait_s
    return checked


def _connection_settings(kind: Integration, wanted: str, settings: Any) -> dict[str, Any]:
    """Connection settings checked: the processing steps, then the integration's connection settings."""
    if not isinstance(settings, dict):
        raise BadRequest("settings: an object")
    parse_processing(settings, wanted)
    specific = validate_settings(
        kind.connection_settings, {k: v for k, v in settings.items() if k not in PROCESSING_KEYS}, "settings"
    )
    return {**{k: v for k, v in settings.items() if k in PROCESSING_KEYS}, **specific}


def _refuse_unless_forced(conn: SqlConnection, where: Any, what: str, force: bool) -> None:
    d = deliveries.c
    found: dict[str, int] = dict(
        conn.execute(
            select(d.status, func.count()).where(where, d.status.in_(["pending", "dead"])).group_by(d.status)
        ).all()
    )
    pending, dead = found.get("pending", 0), found.get("dead", 0)
    if (pending or dead) and not force:
        raise Conflict(
            f"{what} has {pending} queued and {dead} dead-lettered records. Let them be delivered (switch "
            "its connections off and wait), re-drive or inspect the dead letters, or delete with force=true "
            "to drop them (each is recorded in the delivery ledger as dropped)."
        )
