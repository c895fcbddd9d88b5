"""Calculated attribute definitions: the Platform API resource (spec activation §2.5) and its lifecycle.

A definition is created as a draft; activation moves the draft to the active definition, bumps the
revision and asks the worker to calculate it from the event store (``calculation`` = ``pending``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import Connection, Engine, bindparam, delete, func, insert, select, update

from fermion.calculated.definition import Definition, parse_definition
from fermion.calculated.seeding import SeedRequest
from fermion.calculated.tables import calculated_attributes, calculated_seeds
from fermion.clock import Clock
from fermion.errors import BadRequest, NotFound
from fermion.store import reading

_encode = msgspec.json.Encoder(order="sorted").encode
_decode = msgspec.json.decode


@dataclass(frozen=True)
class CalculatedAttribute:
    """One calculated attribute as stored, with its calculation progress and freshness."""

    id: int
    workspace_id: int
    name: str
    description: str | None
    draft_definition: dict[str, Any] | None
    active_definition: dict[str, Any] | None
    revision: int
    created_ms: int
    created_by: str
    modified_ms: int
    modified_by: str
    activated_ms: int | None
    activated_by: str | None
    calculation: str
    calculation_done: int
    calculation_total: int
    calculated_ms: int | None
    evaluated_ms: int | None
    lag_ms: int | None

    @property
    def is_active(self) -> bool:
        """Whether it has an active definition."""
        return self.active_definition is not None

    @property
    def percent_complete(self) -> int:
        """How far its calculation from the event store has got."""
        if self.calculation == "done":
            return 100
        if self.calculation_total <= 0:
            return 0
        return min(99, int(100 * self.calculation_done / self.calculation_total))


def _row(row: Any) -> CalculatedAttribute:
    values = dict(row)
    for key in ("draft_definition", "active_definition"):
        values[key] = None if values[key] is None else _decode(values[key])
    return CalculatedAttribute(**values)


class Catalog:
    """Creates, changes, activates and lists calculated attributes of a workspace."""

    def __init__(self, engine: Engine, clock: Clock, *, retention_days: int, max_active: int) -> None:
        self._engine = engine
        self._clock = clock
        self.retention_days = retention_days
        self._max_active = max_active

    def validate(self, document: Any) -> Definition:
        """The parsed definition, or BadRequest naming what is wrong."""
        return parse_definition(document, retention_days=self.retention_days)

    def create(
        self, workspace_id: int, name: Any, description: Any, draft: Any, by: str = "api"
    ) -> CalculatedAttribute:
        """A new draft; BadRequest for a missing/duplicate name or a bad definition."""
        name = _name(name)
        if draft is None:
            raise BadRequest("Field 'draft_definition' is required.")
        definition = self.validate(draft)
        now = self._clock.now_ms()
        with self._engine.begin() as conn:
            self._unique(conn, workspace_id, name, None)
            inserted = conn.execute(
                insert(calculated_attributes).values(
                    workspace_id=workspace_id,
                    name=name,
                    description=description if isinstance(description, str) else None,
                    draft_definition=_encode(definition.document).decode(),
                    active_definition=None,
                    revision=0,
                    created_ms=now,
                    created_by=by,
                    modified_ms=now,
                    modified_by=by,
                    calculation="none",
                    calculation_done=0,
                    calculation_total=0,
                )
            ).inserted_primary_key
        assert inserted is not None
        return self.get(workspace_id, int(inserted[0]))

    def replace_draft(
        self, workspace_id: int, attribute_id: int, name: Any, description: Any, draft: Any, by: str = "api"
    ) -> CalculatedAttribute:
        """Create or replace the draft definition; the name may change only before activation."""
        current = self.get(workspace_id, attribute_id)
        new_name = current.name if name is None else _name(name)
        if new_name != current.name and current.is_active:
            raise BadRequest(
                "Calculated attribute name cannot be changed once the calculated attribute has been "
                "activated."
            )
        values: dict[str, Any] = {"name": new_name, "modified_ms": self._clock.now_ms(), "modified_by": by}
        if isinstance(description, str):
            values["description"] = description
        if draft is not None:
            values["draft_definition"] = _encode(self.validate(draft).document).decode()
        with self._engine.begin() as conn:
            self._unique(conn, workspace_id, new_name, attribute_id)
            conn.execute(
                update(calculated_attributes).where(_is(workspace_id, attribute_id)).values(**values)
            )
        return self.get(workspace_id, attribute_id)

    def activate(self, workspace_id: int, attribute_id: int, by: str = "api") -> CalculatedAttribute:
        """Make the draft the active definition and queue its calculation from the event store."""
        current = self.get(workspace_id, attribute_id)
        if current.draft_definition is None:
            raise BadRequest("No draft definition was found to activate.")
        now = self._clock.now_ms()
        with self._engine.begin() as conn:
            if not current.is_active and self._count_active(conn, workspace_id) >= self._max_active:
                raise BadRequest("You have reached the account limit on active calculated attributes.")
            conn.execute(
                update(calculated_attributes)
                .where(_is(workspace_id, attribute_id))
                .values(
                    active_definition=_encode(current.draft_definition).decode(),
                    draft_definition=None,
                    revision=current.revision + 1,
                    activated_ms=now,
                    activated_by=by,
                    modified_ms=now,
                    modified_by=by,
                    calculation="pending",
                    calculation_done=0,
                    calculation_total=0,
                    calculated_ms=None,
                    evaluated_ms=None,
                    lag_ms=None,
                )
            )
        return self.get(workspace_id, attribute_id)

    def discard_draft(self, workspace_id: int, attribute_id: int) -> None:
        """Drop the draft definition; NotFound when there is none."""
        if self.get(workspace_id, attribute_id).draft_definition is None:
            raise NotFound(f"Calculated attribute {attribute_id} has no draft definition.")
        with self._engine.begin() as conn:
            conn.execute(
                update(calculated_attributes)
                .where(_is(workspace_id, attribute_id))
                .values(draft_definition=None)
            )

    def delete(self, workspace_id: int, attribute_id: int) -> None:
        """Delete it and its seeds (its values leave profiles at each user's next update)."""
        self.get(workspace_id, attribute_id)
        with self._engine.begin() as conn:
            conn.execute(delete(calculated_seeds).where(calculated_seeds.c.attribute_id == attribute_id))
            conn.execute(delete(calculated_attributes).where(_is(workspace_id, attribute_id)))

    def get(self, workspace_id: int, attribute_id: int) -> CalculatedAttribute:
        """One calculated attribute; NotFound when it is not in the workspace."""
        with reading(self._engine) as conn:
            row = (
                conn.execute(select(calculated_attributes).where(_is(workspace_id, attribute_id)))
                .mappings()
                .first()
            )
        if row is None:
            raise NotFound(f"No calculated attribute {attribute_id} in workspace {workspace_id}.")
        return _row(row)

    def in_workspace(self, workspace_id: int, name: str | None = None) -> list[CalculatedAttribute]:
        """The workspace's calculated attributes, by id; only the one named ``name`` when given."""
        t = calculated_attributes
        query = select(t).where(t.c.workspace_id == workspace_id).order_by(t.c.id)
        if name is not None:
            query = query.where(t.c.name == name)
        with reading(self._engine) as conn:
            return [_row(r) for r in conn.execute(query).mappings()]

    def by_name(self, workspace_id: int, name: str) -> CalculatedAttribute | None:
        """The attribute called ``name`` in the workspace, if any."""
        found = self.in_workspace(workspace_id, name)
        return found[0] if found else None

    def seed(self, workspace_id: int, requests: Sequence[tuple[int, SeedRequest]]) -> None:
        """Store users' seeds, given as (MPID, request); a re-sent seed overwrites, and an active attribute
        is calculated again.

        All or nothing: BadRequest ``<name>: <message>`` when an attribute is unknown, of another
        calculation type, or has a rolling window (which cannot be seeded).
        """
        now = self._clock.now_ms()
        rows: dict[tuple[int, int], dict[str, Any]] = {}
        recalculate: set[int] = set()
        for mpid, request in requests:
            for item in request.items:
                found = self.by_name(workspace_id, item.attribute_name)
                if found is None:
                    raise BadRequest(
                        f"{item.attribute_name}: No matching calculated attribute definition found"
                    )
                definition = self.validate(found.draft_definition or found.active_definition)
                if definition.calculation_type != item.calculation_type:
                    raise BadRequest(
                        f"{item.attribute_name}: calculation_type {item.calculation_type} does not match the "
                        f"definition's {definition.calculation_type}"
                    )
                if definition.period.kind == "within":
                    raise BadRequest(f"{item.attribute_name}: Rolling windows cannot be seeded")
                rows[(found.id, mpid)] = {
                    "attribute_id": found.id,
                    "mpid": mpid,
                    "workspace_id": workspace_id,
                    "cutoff_ms": item.cutoff_ms,
                    "seed": _encode(item.state).decode(),
                    "received_ms": now,
                }
                if found.is_active:
                    recalculate.add(found.id)
        if not rows:
            return
        t, seeds = calculated_attributes, calculated_seeds
        with self._engine.begin() as conn:
            conn.execute(
                delete(seeds).where(seeds.c.attribute_id == bindparam("a"), seeds.c.mpid == bindparam("m")),
                [{"a": a, "m": m} for a, m in sorted(rows)],
            )
            conn.execute(insert(seeds), [rows[key] for key in sorted(rows)])
            if recalculate:
                conn.execute(
                    update(t)
                    .where(t.c.id.in_(sorted(recalculate)))
                    .values(calculation="pending", calculation_done=0, calculation_total=0)
                )

    def _unique(self, conn: Connection, workspace_id: int, name: str, own_id: int | None) -> None:
        t = calculated_attributes
        query = select(t.c.id).where(t.c.workspace_id == workspace_id, t.c.name == name)
        existing = conn.execute(query).scalar()
        if existing is not None and existing != own_id:
            raise BadRequest("Field 'name' must be unique.")

    def _count_active(self, conn: Connection, workspace_id: int) -> int:
        t = calculated_attributes
        query = select(func.count()).where(
            t.c.workspace_id == workspace_id, t.c.active_definition.is_not(None)
        )
        return int(conn.execute(query).scalar() or 0)


def _is(workspace_id: int, attribute_id: int) -> Any:
    t = calculated_attributes
    return (t.c.workspace_id == workspace_id) & (t.c.id == attribute_id)


def _name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise BadRequest("Field 'name' is required.")
    if len(name) > 256:
        raise BadRequest("Field 'name' must be at most 256 characters.")
    return name.strip()
