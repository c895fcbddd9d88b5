"""Audience definitions and what can be read about them: sizes, members, memberships and the change queue.

Creating an audience or changing its criteria queues a backfill (``backfill`` = ``pending``): the worker
evaluates it over the event store and every profile, and replaces its memberships in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import Connection, Engine, and_, delete, func, insert, select, update

from fermion.audiences.criteria import (
    AttributeCriterion,
    Criterion,
    leaves,
    parse_criteria,
    referenced_audiences,
)
from fermion.audiences.tables import audience_changes, audience_memberships, audiences
from fermion.calculated import Catalog
from fermion.clock import Clock
from fermion.errors import BadRequest, Conflict, NotFound
from fermion.store import reading

_encode = msgspec.json.Encoder(order="sorted").encode
_decode = msgspec.json.decode
_DAY_MS = 86_400_000
NAME_LIMIT = 100
TAG_LIMIT = 18
VALUE_TYPES = {
    "count": "number",
    "sum": "number",
    "min": "number",
    "max": "number",
    "average": "number",
    "unique_values_count": "number",
    "first_occurrence_timestamp": "date",
    "last_occurrence_timestamp": "date",
}
"""The type of a calculation's values (the others are strings); a string condition may test any of them."""


@dataclass(frozen=True)
class Audience:
    """A real-time audience with its size, recent adds/drops and freshness."""

    id: int
    workspace_id: int
    name: str
    external_name: str
    tags: list[str]
    definition: dict[str, Any]
    status: str
    revision: int
    created_ms: int
    created_by: str
    modified_ms: int
    modified_by: str
    backfill: str
    backfill_done: int
    backfill_total: int
    evaluated_ms: int | None
    lag_ms: int | None
    size: int = 0
    added_last_24_hours: int = 0
    dropped_last_24_hours: int = 0

    @property
    def backfill_percent(self) -> int:
        """How far the backfill from the event store has got."""
        if self.backfill == "done":
            return 100
        return 0 if self.backfill_total <= 0 else min(99, int(100 * self.backfill_done / self.backfill_total))


@dataclass(frozen=True)
class Membership:
    """One stay of a user in an audience; ``removed_ms`` is None while it lasts."""

    audience_id: int
    audience_name: str
    mpid: int
    added_ms: int
    removed_ms: int | None


@dataclass(frozen=True)
class MembershipChange:
    """One add or delete waiting in the queue the outputs stage delivers from."""

    id: int
    workspace_id: int
    audience_id: int
    mpid: int
    action: str
    at_ms: int
    accepted_ms: int | None
    user_identities: dict[str, str]
    device_identities: dict[str, str]
    user_attributes: dict[str, Any]
    delivered_ms: int | None


class Audiences:
    """Creates, changes, deletes and reads the audiences of a workspace."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        calculated: Catalog,
        *,
        max_per_workspace: int,
        max_window_days: int,
    ) -> None:
        self._engine = engine
        self._calculated = calculated
        self._clock = clock
        self._max = max_per_workspace
        self.max_window_ms = max_window_days * _DAY_MS

    def validate(self, workspace_id: int, criteria: Any, own_id: int | None = None) -> Criterion:
        """The typed criteria; BadRequest naming the bad part, or a reference that breaks nesting."""
        parsed = parse_criteria(criteria, max_window_ms=self.max_window_ms)
        self._check_calculated(workspace_id, parsed)
        for referenced in sorted(referenced_audiences(parsed)):
            if referenced == own_id:
                raise BadRequest(f"criteria: audience {referenced} cannot reference itself")
            try:
                other = self.get(workspace_id, referenced)
            except NotFound as exc:
                raise BadRequest(f"criteria: audience {referenced} does not exist in this workspace") from exc
            other_criteria = parse_criteria(other.definition, max_window_ms=10**15)
            if referenced_audiences(other_criteria):
                raise BadRequest(
                    f"criteria: audience {referenced} references audiences itself; nesting is one level"
                )
        if own_id is not None and referenced_audiences(parsed) and self._referrers(workspace_id, own_id):
            raise BadRequest(
                "criteria: this audience is referenced by others, so it cannot reference audiences"
            )
        return parsed

    def _check_calculated(self, workspace_id: int, criteria: Criterion) -> None:
        """Calculated attribute criteria name an attribute of the workspace and test its values' type."""
        for leaf in leaves(criteria):
            if not isinstance(leaf, AttributeCriterion) or leaf.source != "calculated_attribute":
                continue
            name = leaf.condition.attribute_name
            found = self._calculated.by_name(workspace_id, name)
            if found is None:
                raise BadRequest(
                    f"criteria: there is no calculated attribute named {name!r} in this workspace"
                )
            definition = found.active_definition or found.draft_definition
            kind = self._calculated.validate(definition).calculation_type
            produces = VALUE_TYPES.get(kind, "string")
            if leaf.condition.type not in ("string", produces):
                raise BadRequest(
                    f"criteria: calculated attribute {name!r} ({kind}) has {produces} values; "
                    f"a {leaf.condition.type} condition cannot test it"
                )

    def create(
        self,
        workspace_id: int,
        name: Any,
        criteria: Any,
        external_name: Any = None,
        by: str = "api",
        tags: Any = None,
    ) -> Audience:
        """A new active audience, queued for backfill."""
        name, external = _names(name, external_name)
        checked_tags = _tags(tags)
        self.validate(workspace_id, criteria)
        now = self._clock.now_ms()
        with self._engine.begin() as conn:
            count = conn.execute(
                select(func.count()).where(audiences.c.workspace_id == workspace_id)
            ).scalar()
            if int(count or 0) >= self._max:
                raise BadRequest(f"The workspace has reached its limit of {self._max} audiences.")
            inserted = conn.execute(
                insert(audiences).values(
                    workspace_id=workspace_id,
                    name=name,
                    external_name=external,
                    tags=_encode(checked_tags).decode(),
                    definition=_encode(criteria).decode(),
                    status="active",
                    revision=1,
                    created_ms=now,
                    created_by=by,
                    modified_ms=now,
                    modified_by=by,
                    backfill="pending",
                    backfill_done=0,
                    backfill_total=0,
                )
            ).inserted_primary_key
        assert inserted is not None
        return self.get(workspace_id, int(inserted[0]))

    def change(
        self,
        workspace_id: int,
        audience_id: int,
        *,
        name: Any = None,
        external_name: Any = None,
        criteria: Any = None,
        by: str = "api",
        tags: Any = None,
    ) -> Audience:
        """Rename or retag it, or replace its criteria (backfilled, then swapped in atomically)."""
        current = self.get(workspace_id, audience_id)
        new_name, external = _names(
            current.name if name is None else name,
            current.external_name if external_name is None else external_name,
        )
        values: dict[str, Any] = {
            "name": new_name,
            "external_name": external,
            "modified_ms": self._clock.now_ms(),
            "modified_by": by,
        }
        if tags is not None:
            values["tags"] = _encode(_tags(tags)).decode()
        if criteria is not None:
            self.validate(workspace_id, criteria, own_id=audience_id)
            values.update(
                definition=_encode(criteria).decode(),
                revision=current.revision + 1,
                backfill="pending",
                backfill_done=0,
                backfill_total=0,
            )
        with self._engine.begin() as conn:
            conn.execute(update(audiences).where(_is(workspace_id, audience_id)).values(**values))
        return self.get(workspace_id, audience_id)

    def delete(self, workspace_id: int, audience_id: int) -> None:
        """Delete it with its memberships; Conflict while another audience references it."""
        self.get(workspace_id, audience_id)
        referrers = self._referrers(workspace_id, audience_id)
        if referrers:
            raise Conflict(
                f"Audience {audience_id} is referenced by audience {', '.join(map(str, referrers))}."
            )
        with self._engine.begin() as conn:
            conn.execute(
                delete(audience_memberships).where(audience_memberships.c.audience_id == audience_id)
            )
            conn.execute(delete(audiences).where(_is(workspace_id, audience_id)))

    def get(self, workspace_id: int, audience_id: int) -> Audience:
        """One audience with its size; NotFound when it is not in the workspace."""
        found = self._read(and_(audiences.c.workspace_id == workspace_id, audiences.c.id == audience_id))
        if not found:
            raise NotFound(f"No audience {audience_id} in workspace {workspace_id}.")
        return found[0]

    def in_workspace(self, workspace_id: int) -> list[Audience]:
        """The workspace's audiences, by id."""
        return self._read(audiences.c.workspace_id == workspace_id)

    def _read(self, where: Any) -> list[Audience]:
        m = audience_memberships
        since = self._clock.now_ms() - _DAY_MS
        with reading(self._engine) as conn:
            rows = conn.execute(select(audiences).where(where).order_by(audiences.c.id)).mappings().all()
            ids = [int(r["id"]) for r in rows]
            if not ids:
                return []
            size: dict[int, int] = dict(
                conn.execute(
                    select(m.c.audience_id, func.count())
                    .where(m.c.audience_id.in_(ids), m.c.removed_ms.is_(None))
                    .group_by(m.c.audience_id)
                ).all()
            )
            added: dict[int, int] = dict(
                conn.execute(
                    select(m.c.audience_id, func.count())
                    .where(m.c.audience_id.in_(ids), m.c.added_ms > since)
                    .group_by(m.c.audience_id)
                ).all()
            )
            dropped: dict[int, int] = dict(
                conn.execute(
                    select(m.c.audience_id, func.count())
                    .where(m.c.audience_id.in_(ids), m.c.removed_ms > since)
                    .group_by(m.c.audience_id)
                ).all()
            )
        result = []
        for row in rows:
            values = dict(row)
            values["definition"] = _decode(values["definition"])
            values["tags"] = _decode(values["tags"])
            key = values["id"]
            result.append(
                Audience(
                    **values,
                    size=int(size.get(key, 0)),
                    added_last_24_hours=int(added.get(key, 0)),
                    dropped_last_24_hours=int(dropped.get(key, 0)),
                )
            )
        return result

    def _referrers(self, workspace_id: int, audience_id: int) -> list[int]:
        found = []
        for other in self.in_workspace(workspace_id):
            if other.id == audience_id:
                continue
            criteria = parse_criteria(other.definition, max_window_ms=10**15)
            if audience_id in referenced_audiences(criteria):
                found.append(other.id)
        return found

    def members(
        self,
        workspace_id: int,
        audience_id: int,
        *,
        include_past: bool = False,
        after_mpid: int | None = None,
        limit: int = 1000,
    ) -> list[Membership]:
        """The audience's members (with ``include_past``, every stay with its added/removed times)."""
        audience = self.get(workspace_id, audience_id)
        m = audience_memberships
        query = select(m.c.mpid, m.c.added_ms, m.c.removed_ms).where(m.c.audience_id == audience_id)
        if not include_past:
            query = query.where(m.c.removed_ms.is_(None))
        if after_mpid is not None:
            query = query.where(m.c.mpid > after_mpid)
        query = query.order_by(m.c.mpid, m.c.id).limit(limit)
        with reading(self._engine) as conn:
            rows = conn.execute(query).all()
        return [Membership(audience.id, audience.name, int(r[0]), int(r[1]), r[2]) for r in rows]

    def memberships_of(self, workspace_id: int, mpid: int) -> list[Membership]:
        """The audiences a user is in now."""
        m, a = audience_memberships, audiences
        query = (
            select(m.c.audience_id, a.c.name, m.c.added_ms)
            .join(a, a.c.id == m.c.audience_id)
            .where(m.c.workspace_id == workspace_id, m.c.mpid == mpid, m.c.removed_ms.is_(None))
            .order_by(m.c.audience_id)
        )
        with reading(self._engine) as conn:
            rows = conn.execute(query).all()
        return [Membership(int(r[0]), r[1], mpid, int(r[2]), None) for r in rows]

    def changes(
        self, workspace_id: int, audience_id: int | None = None, after_id: int = 0, limit: int = 1000
    ) -> list[MembershipChange]:
        """Membership changes in the queue, oldest first, after ``after_id``."""
        c = audience_changes
        query = select(c).where(c.c.workspace_id == workspace_id, c.c.id > after_id)
        if audience_id is not None:
            query = query.where(c.c.audience_id == audience_id)
        query = query.order_by(c.c.id).limit(limit)
        with reading(self._engine) as conn:
            rows = conn.execute(query).mappings().all()
        result = []
        for row in rows:
            values = dict(row)
            for key in ("user_identities", "device_identities", "user_attributes"):
                values[key] = _decode(values[key])
            result.append(MembershipChange(**values))
        return result

    def undelivered(self, conn: Connection, limit: int = 1000) -> list[MembershipChange]:
        """The oldest changes not yet taken by the outputs stage, read in the caller's transaction."""
        c = audience_changes
        query = select(c).where(c.c.delivered_ms.is_(None)).order_by(c.c.id).limit(limit)
        if conn.dialect.name == "postgresql":  # concurrent workers take different changes
            query = query.with_for_update(skip_locked=True)
        result = []
        for row in conn.execute(query).mappings().all():
            values = dict(row)
            for key in ("user_identities", "device_identities", "user_attributes"):
                values[key] = _decode(values[key])
            result.append(MembershipChange(**values))
        return result

    def mark_delivered(self, conn: Connection, ids: list[int], now_ms: int) -> None:
        """Mark changes as taken by the outputs stage (in the transaction that queued their deliveries)."""
        c = audience_changes
        for start in range(0, len(ids), 500):
            conn.execute(update(c).where(c.c.id.in_(ids[start : start + 500])).values(delivered_ms=now_ms))


def _is(workspace_id: int, audience_id: int) -> Any:
    return (audiences.c.workspace_id == workspace_id) & (audiences.c.id == audience_id)


def _tags(tags: Any) -> list[str]:
    if tags is None:
        return []
    if not isinstance(tags, list) or not all(isinstance(t, str) and t for t in tags):
        raise BadRequest("tags: a list of non-empty strings")
    for index, tag in enumerate(tags):
        if len(tag) > TAG_LIMIT:
            raise BadRequest(f"tags[{index}]: at most {TAG_LIMIT} characters")
    return list(dict.fromkeys(tags))


def _names(name: Any, external_name: Any) -> tuple[str, str]:
    if not isinstance(name, str) or not name.strip():
        raise BadRequest("name: an audience name is required")
    if len(name) > NAME_LIMIT:
        raise BadRequest(f"name: at most {NAME_LIMIT} characters")
    external = name if external_name in (None, "") else external_name
    if not isinstance(external, str) or len(external) > NAME_LIMIT:
        raise BadRequest(f"external_name: a string of at most {NAME_LIMIT} characters")
    return name.strip(), external.strip()
