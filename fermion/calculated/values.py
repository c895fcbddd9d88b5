"""Calculated attribute values per user, kept up to date incrementally.

One state row per (workspace, MPID) holds every attribute's running state: a micro-batch reads the rows of
the users it touches, folds their new events in and writes them back, inside the pipeline's transaction —
a user's history is never scanned again per event. Windowed ("within the last") attributes keep their
observations in the window; the row's ``next_expiry_ms`` tells the periodic sweep when one leaves it.

The calculation from the event store (on activation) runs in the worker, one attribute at a time, and
replaces that attribute's state for every user in one transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import Connection, Engine, and_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from fermion.calculated.aggregate import fold_all, observations, value_of
from fermion.calculated.definition import Definition, parse_definition
from fermion.calculated.freshness import FreshnessGate
from fermion.calculated.matcher import EventView, MatcherIndex
from fermion.calculated.tables import calculated_attributes, calculated_seeds, calculated_state
from fermion.clock import Clock
from fermion.events import EventStore, StoredEvent
from fermion.store import reading

_encode = msgspec.json.Encoder(order="sorted").encode
_decode = msgspec.json.decode
_log = logging.getLogger("fermion.calculated")
_CHUNK = 500
_PAGE = 5000

AfterBackfill = Callable[[Connection, int, set[int]], None]
"""Called inside the backfill's transaction with the workspace and the users whose values it rewrote."""


@dataclass(frozen=True)
class ActiveAttribute:
    """An active calculated attribute with its parsed definition."""

    id: int
    workspace_id: int
    name: str
    revision: int
    calculation: str
    definition: Definition


def _advance(
    attribute: ActiveAttribute, entry: dict[str, Any] | None, observed: Iterable[tuple[int, Any]], now_ms: int
) -> dict[str, Any] | None:
    """One attribute's state for one user after ``observed``; None when it holds nothing."""
    definition = attribute.definition
    kind, period = definition.calculation_type, definition.period
    if entry is None or entry.get("r") != attribute.revision:
        entry = {"r": attribute.revision}
    cutoff = max(entry.get("c", 0), period.since_ms if period.kind == "since" else 0)
    fresh = [(ts, v) for ts, v in observed if ts >= cutoff]
    if period.kind == "since":
        if fresh:
            entry["s"] = fold_all(kind, fresh, entry.get("s"))
        return entry if entry.get("s") else None
    start = now_ms - period.window_ms
    kept = [item for item in entry.get("e", ()) if item[0] > start]
    kept.extend([ts, v] for ts, v in fresh if ts > start)
    entry["e"] = kept
    return entry if kept or entry.get("b") else None


def _value(attribute: ActiveAttribute, entry: dict[str, Any] | None, now_ms: int) -> str | None:
    if entry is None:
        return None
    kind = attribute.definition.calculation_type
    if attribute.definition.period.kind == "since":
        return value_of(kind, entry.get("s") or {})
    start = now_ms - attribute.definition.period.window_ms
    return value_of(
        kind, fold_all(kind, ((ts, v) for ts, v in entry.get("e", ()) if ts > start), entry.get("b"))
    )


def _expiry(attribute: ActiveAttribute, entry: dict[str, Any] | None) -> int | None:
    if entry is None or attribute.definition.period.kind != "within" or not entry.get("e"):
        return None
    return int(min(ts for ts, _ in entry["e"]) + attribute.definition.period.window_ms)


class CalculatedValues:
    """Updates values from micro-batches, expires windows by the Clock, calculates from the event store."""

    def __init__(self, engine: Engine, clock: Clock, *, retention_days: int) -> None:
        self._engine = engine
        self._clock = clock
        self._retention_days = retention_days
        self._postgres = engine.dialect.name == "postgresql"
        self._insert = postgresql.insert if self._postgres else sqlite.insert
        self._parsed: dict[tuple[int, int], Definition] = {}
        self._freshness = FreshnessGate()

    def active(self, conn: Connection, workspace_id: int | None = None) -> list[ActiveAttribute]:
        """The active attributes (of one workspace, or all), whatever their calculation state."""
        t = calculated_attributes
        query = select(
            t.c.id, t.c.workspace_id, t.c.name, t.c.revision, t.c.calculation, t.c.active_definition
        )
        query = query.where(t.c.active_definition.is_not(None)).order_by(t.c.id)
        if workspace_id is not None:
            query = query.where(t.c.workspace_id == workspace_id)
        found = []
        for row in conn.execute(query):
            key = (int(row.id), int(row.revision))
            definition = self._parsed.get(key)
            if definition is None:
                definition = parse_definition(_decode(row.active_definition), retention_days=10**6)
                self._parsed[key] = definition
            found.append(
                ActiveAttribute(
                    int(row.id),
                    int(row.workspace_id),
                    row.name,
                    int(row.revision),
                    row.calculation,
                    definition,
                )
            )
        return found

    def update(
        self,
        conn: Connection,
        workspace_id: int,
        mpids: Iterable[int],
        events: Sequence[StoredEvent],
        now_ms: int,
        accepted_ms: int | None = None,
    ) -> dict[int, dict[str, str]]:
        """Fold a micro-batch's events into its users' values; returns every touched user's values."""
        mpids = set(mpids)
        attributes = self.active(conn, workspace_id)
        ready = [a for a in attributes if a.calculation == "done"]
        if not attributes:
            return {mpid: {} for mpid in mpids}
        index = MatcherIndex()
        for attribute in ready:
            index.add(attribute.definition.matcher, attribute)
        observed: dict[int, dict[int, list[tuple[int, Any]]]] = {}
        if index:
            for event in events:
                view = EventView(event)
                for attribute in index.matching(view):
                    per_user = observed.setdefault(event.mpid, {})
                    per_user.setdefault(attribute.id, []).extend(observations(attribute.definition, view))
        rows = self._load(conn, workspace_id, mpids)
        result = self._write(conn, workspace_id, attributes, rows, observed, now_ms, only_changed=True)
        if ready and accepted_ms is not None and self._freshness.due(workspace_id, now_ms):
            t = calculated_attributes
            conn.execute(
                update(t)
                .where(t.c.workspace_id == workspace_id, t.c.calculation == "done")
                .values(evaluated_ms=now_ms, lag_ms=max(0, now_ms - accepted_ms))
            )
        return {mpid: result.get(mpid, {}) for mpid in mpids}

    def sweep(self, conn: Connection, now_ms: int, limit: int = 2000) -> dict[int, set[int]]:
        """Expire windowed observations that the Clock has passed; returns the users changed per workspace."""
        t = calculated_state
        due = conn.execute(
            select(t.c.workspace_id, t.c.mpid).where(t.c.next_expiry_ms <= now_ms).limit(limit)
        ).all()
        by_workspace: dict[int, set[int]] = {}
        for workspace_id, mpid in due:
            by_workspace.setdefault(int(workspace_id), set()).add(int(mpid))
        for workspace_id, mpids in by_workspace.items():
            attributes = self.active(conn, workspace_id)
            rows = self._load(conn, workspace_id, mpids)
            self._write(conn, workspace_id, attributes, rows, {}, now_ms, only_changed=False)
        return by_workspace

    def touch_freshness(self, conn: Connection, now_ms: int) -> None:
        """Record that every calculated attribute is up to date with the Clock (the sweep ran)."""
        t = calculated_attributes
        conn.execute(update(t).where(t.c.calculation == "done").values(evaluated_ms=now_ms))

    def _load(self, conn: Connection, workspace_id: int, mpids: Iterable[int]) -> dict[int, dict[str, Any]]:
        t = calculated_state
        ordered = sorted(mpids)
        found: dict[int, dict[str, Any]] = {}
        for start in range(0, len(ordered), _CHUNK):
            chunk = ordered[start : start + _CHUNK]
            query = select(t.c.mpid, t.c.state, t.c.next_expiry_ms).where(
                and_(t.c.workspace_id == workspace_id, t.c.mpid.in_(chunk))
            )
            if self._postgres:  # a worker's batch and another's expiry sweep take a user in turn
                query = query.order_by(t.c.mpid).with_for_update()
            for mpid, state, expiry in conn.execute(query):
                found[int(mpid)] = {"state": _decode(state), "expiry": expiry}
        for mpid in ordered:
            found.setdefault(mpid, {"state": {}, "expiry": None, "new": True})
        return found

    def _write(
        self,
        conn: Connection,
        workspace_id: int,
        attributes: list[ActiveAttribute],
        rows: dict[int, dict[str, Any]],
        observed: dict[int, dict[int, list[tuple[int, Any]]]],
        now_ms: int,
        *,
        only_changed: bool,
        replace: ActiveAttribute | None = None,
    ) -> dict[int, dict[str, str]]:
        """Advance each user's state, upsert the rows that changed; returns values by user."""
        known = {str(a.id) for a in attributes}
        result: dict[int, dict[str, str]] = {}
        writes: list[dict[str, Any]] = []
        for mpid, row in sorted(rows.items()):
            state: dict[str, Any] = row["state"]
            mine = observed.get(mpid, {})
            expiry = row["expiry"]
            stale = expiry is not None and expiry <= now_ms
            changed = bool(mine) or stale or not only_changed or bool(set(state) - known)
            values: dict[str, str] = {}
            next_expiry: int | None = None
            new_state: dict[str, Any] = {}
            for attribute in attributes:
                key = str(attribute.id)
                entry = state.get(key)
                if attribute is replace:
                    entry = row.get("seed")
                    entry = _advance(attribute, entry, mine.get(attribute.id, ()), now_ms)
                elif attribute.calculation == "done" and (changed or entry is not None):
                    entry = (
                        _advance(attribute, entry, mine.get(attribute.id, ()), now_ms) if changed else entry
                    )
                if entry is None:
                    continue
                new_state[key] = entry
                if attribute.calculation != "done" and attribute is not replace:
                    continue
                value = _value(attribute, entry, now_ms)
                if value is not None:
                    values[attribute.name] = value
                expires = _expiry(attribute, entry)
                if expires is not None and (next_expiry is None or expires < next_expiry):
                    next_expiry = expires
            result[mpid] = values
            if not changed and replace is None:
                continue
            if row.get("new") and not new_state:
                continue
            writes.append(
                {
                    "workspace_id": workspace_id,
                    "mpid": mpid,
                    "state": _encode(new_state).decode(),
                    "attribute_values": _encode(values).decode(),
                    "next_expiry_ms": next_expiry,
                }
            )
        if writes:
            upsert = self._insert(calculated_state)
            conn.execute(
                upsert.on_conflict_do_update(
                    index_elements=["workspace_id", "mpid"],
                    set_={
                        "state": upsert.excluded.state,
                        "attribute_values": upsert.excluded.attribute_values,
                        "next_expiry_ms": upsert.excluded.next_expiry_ms,
                    },
                ),
                writes,
            )
        return result

    def values_for(
        self, conn: Connection, workspace_id: int, mpids: Iterable[int]
    ) -> dict[int, dict[str, str]]:
        """The stored values of some users (only attributes that are active and calculated)."""
        names = {a.name for a in self.active(conn, workspace_id) if a.calculation == "done"}
        t = calculated_state
        ordered = sorted(set(mpids))
        found: dict[int, dict[str, str]] = {mpid: {} for mpid in ordered}
        for start in range(0, len(ordered), _CHUNK):
            chunk = ordered[start : start + _CHUNK]
            query = select(t.c.mpid, t.c.attribute_values).where(
                and_(t.c.workspace_id == workspace_id, t.c.mpid.in_(chunk))
            )
            for mpid, values in conn.execute(query):
                found[int(mpid)] = {k: v for k, v in _decode(values).items() if k in names}
        return found

    def values_of(self, workspace_id: int, mpid: int) -> dict[str, str]:
        """One user's calculated attribute values, by attribute name."""
        with reading(self._engine) as conn:
            return self.values_for(conn, workspace_id, [mpid])[mpid]

    def calculate_pending(self, events: EventStore, after: AfterBackfill) -> int:
        """Calculate every attribute waiting for it from the event store; returns how many were done."""
        with reading(self._engine) as conn:
            pending = [a for a in self.active(conn) if a.calculation in ("pending", "running")]
        for attribute in pending:
            self._calculate(events, attribute, after)
        return len(pending)

    def _calculate(self, events: EventStore, attribute: ActiveAttribute, after: AfterBackfill) -> None:
        t = calculated_attributes
        workspace_id = attribute.workspace_id
        mine = (t.c.id == attribute.id) & (t.c.revision == attribute.revision)
        total = events.count(workspace_id)
        with self._engine.begin() as conn:
            conn.execute(update(t).where(mine).values(calculation="running", calculation_total=total))
        definition = attribute.definition
        index = MatcherIndex()
        index.add(definition.matcher, attribute)
        observed: dict[int, dict[int, list[tuple[int, Any]]]] = {}
        after_seq, scanned = 0, 0
        while True:
            page = events.tail(after_seq, _PAGE, workspace_id)
            if not page:
                break
            for event in page:
                view = EventView(event)
                if index.matching(view):
                    per_user = observed.setdefault(event.mpid, {})
                    per_user.setdefault(attribute.id, []).extend(observations(definition, view))
            after_seq, scanned = page[-1].seq, scanned + len(page)
            with self._engine.begin() as conn:
                conn.execute(update(t).where(mine).values(calculation_done=scanned))
        now = self._clock.now_ms()
        with self._engine.begin() as conn:
            if conn.execute(select(t.c.id).where(mine)).first() is None:
                return  # changed or deleted meanwhile: the newer revision calculates again
            seeds = {
                int(mpid): {
                    "r": attribute.revision,
                    "c": int(cutoff),
                    **_seed_entry(definition, _decode(seed)),
                }
                for mpid, cutoff, seed in conn.execute(
                    select(
                        calculated_seeds.c.mpid, calculated_seeds.c.cutoff_ms, calculated_seeds.c.seed
                    ).where(calculated_seeds.c.attribute_id == attribute.id)
                )
            }
            holders = {
                int(m)
                for (m,) in conn.execute(
                    select(calculated_state.c.mpid).where(
                        calculated_state.c.workspace_id == workspace_id,
                        calculated_state.c.state.like(f'%"{attribute.id}":%'),
                    )
                )
            }
            mpids = set(observed) | set(seeds) | holders
            rows = self._load(conn, workspace_id, mpids)
            for mpid, seed in seeds.items():
                rows[mpid]["seed"] = seed
            attributes = [a if a.id != attribute.id else _done(a) for a in self.active(conn, workspace_id)]
            replacing = next(a for a in attributes if a.id == attribute.id)
            self._write(
                conn, workspace_id, attributes, rows, observed, now, only_changed=True, replace=replacing
            )
            conn.execute(
                update(t)
                .where(mine)
                .values(
                    calculation="done",
                    calculation_done=scanned,
                    calculated_ms=now,
                    evaluated_ms=now,
                    lag_ms=0,
                )
            )
            after(conn, workspace_id, mpids)
        _log.info(
            "calculated attribute calculated", extra={"attribute_id": attribute.id, "users": len(mpids)}
        )


def _done(attribute: ActiveAttribute) -> ActiveAttribute:
    return ActiveAttribute(
        attribute.id, attribute.workspace_id, attribute.name, attribute.revision, "done", attribute.definition
    )


def _seed_entry(definition: Definition, seed: dict[str, Any]) -> dict[str, Any]:
    """A seed's state placed where the attribute's kind keeps its base."""
    return {"s": seed} if definition.period.kind == "since" else {"b": seed, "e": []}
