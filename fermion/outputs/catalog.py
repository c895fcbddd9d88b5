"""Outputs (a configured integration) and connections (input → output for events, audience → output for
audience memberships), with their settings validated against the integration's schemas."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import Engine, insert, select

from fermion.clock import Clock
from fermion.errors import BadRequest, NotFound
from fermion.outputs.integrations import COMMON_OUTPUT_SETTINGS, integration_named
from fermion.outputs.integrations.base import validate_settings
from fermion.outputs.processing import Processing, parse_processing
from fermion.outputs.tables import connections, outputs
from fermion.store import reading

_encode = msgspec.json.Encoder(order="sorted").encode
_decode = msgspec.json.decode
PROCESSING_KEYS = frozenset(
    {"data_filter", "user_sampling_percent", "forwarding_rules", "rules", "field_transformations",
     "shared_attributes"}
)  # fmt: skip


@dataclass(frozen=True)
class Output:
    """A configured integration of a workspace; ``settings`` include the bulk thresholds."""

    id: int
    workspace_id: int
    name: str
    integration: str
    settings: dict[str, Any]
    created_ms: int

    def public_settings(self) -> dict[str, Any]:
        """The settings with secrets masked, for display."""
        schema = integration_named(self.integration).settings
        return {
            k: ("********" if k in schema and schema[k].secret and v else v) for k, v in self.settings.items()
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

    @property
    def processing(self) -> Processing:
        """The connection's processing steps (parsed on every call: cache it where it is hot)."""
        return parse_processing(self.settings, self.kind)


class Outputs:
    """Creates and reads outputs and connections."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    def create_output(self, workspace_id: int, name: Any, integration: Any, settings: Any) -> Output:
        """A new output; its settings are checked against the integration's schema (a 400 names it)."""
        if not isinstance(name, str) or not name.strip():
            raise BadRequest("name: required")
        if not isinstance(integration, str):
            raise BadRequest("integration: required")
        kind = integration_named(integration)
        schema = {**COMMON_OUTPUT_SETTINGS, **kind.settings}
        checked = validate_settings(schema, settings, "settings")
        if checked.get("bulk_size") is None:
            checked["bulk_size"] = kind.bulk_size
        if checked.get("bulk_wait_s") is None:
            checked["bulk_wait_s"] = kind.bulk_wait_s
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
        settings = settings or {}
        if not isinstance(settings, dict):
            raise BadRequest("settings: an object")
        parse_processing(settings, wanted)
        specific = validate_settings(
            kind.connection_settings,
            {k: v for k, v in settings.items() if k not in PROCESSING_KEYS},
            "settings",
        )
        merged = {**{k: v for k, v in settings.items() if k in PROCESSING_KEYS}, **specific}
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
