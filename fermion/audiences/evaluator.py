"""The real-time evaluator: memberships of the users a micro-batch touches, window expiry, backfill.

Per workspace, one state row per user holds the timestamps of their events that some audience's event
criterion selects, keyed by the criterion's matcher (equal matchers share one list) and kept only as long
as the longest window that uses it. Evaluating a user reads that row, their profile and calculated values,
tests every audience, and writes membership changes with their history and the change queue — inside the
caller's transaction. ``next_check_ms`` is when an event leaves a window; the periodic sweep re-evaluates
those users, so members leave when a window passes even without new events.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import Connection, Engine, and_, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from fermion.audiences.criteria import (
    AttributeCriterion,
    Criterion,
    EventCriterion,
    Group,
    MembershipCriterion,
    event_criteria,
    parse_criteria,
    referenced_audiences,
)
from fermion.audiences.tables import audience_changes, audience_memberships, audience_state, audiences
from fermion.calculated import CalculatedValues, EventMatcher, EventView, FreshnessGate, MatcherIndex, holds
from fermion.clock import Clock
from fermion.events import EventStore, StoredEvent
from fermion.profiles import Profile, ProfileStore
from fermion.store import reading

_encode = msgspec.json.Encoder(order="sorted").encode
_decode = msgspec.json.decode
_log = logging.getLogger("fermion.audiences")
_CHUNK = 500
_PAGE = 5000


@dataclass(frozen=True)
class Compiled:
    """An audience ready to test: its criteria parsed, its event criteria keyed."""

    id: int
    workspace_id: int
    revision: int
    backfill: str
    criterion: Criterion
    keyed: tuple[tuple[EventCriterion, str], ...]
    nested: bool


@dataclass(frozen=True)
class MemberSnapshot:
    """What a membership message carries of a member: identities and the user and calculated attributes to
    share, as they are when the message is made (spec activation §3.7)."""

    mpid: int
    user_identities: dict[str, str]
    device_identities: dict[str, str]
    user_attributes: dict[str, Any]


def _snapshot(mpid: int, profile: Profile | None, values: dict[str, str]) -> MemberSnapshot:
    if profile is None:
        return MemberSnapshot(mpid, {}, {}, dict(values))
    return MemberSnapshot(
        mpid,
        dict(profile.user_identities),
        dict(profile.device_identities),
        {**profile.user_attributes, **values},
    )


@dataclass
class _User:
    """What one user's criteria are tested against."""

    profile: Profile | None
    values: dict[str, str]
    matches: dict[str, list[int]]
    members: set[int]
    now_ms: int


def _holds(criterion: Criterion, user: _User) -> bool:
    if isinstance(criterion, Group):
        results = (_holds(child, user) for child in criterion.criteria)
        if criterion.operator == "and":
            return all(results)
        if criterion.operator == "or":
            return any(results)
        first, *rest = criterion.criteria
        return _holds(first, user) and not any(_holds(child, user) for child in rest)
    if isinstance(criterion, EventCriterion):
        start = user.now_ms - criterion.window_ms
        count = sum(1 for ts in user.matches.get(criterion.matcher.key, ()) if ts > start)
        return criterion.passes(count)
    if isinstance(criterion, MembershipCriterion):
        return (criterion.audience_id in user.members) == criterion.member
    assert isinstance(criterion, AttributeCriterion)
    if criterion.source == "calculated_attribute":
        return holds(criterion.condition, user.values)
    profile = user.profile
    if profile is None:
        return holds(criterion.condition, {})
    if criterion.source == "user_attribute":
        return holds(criterion.condition, profile.user_attributes)
    return holds(criterion.condition, {**profile.device_identities, **profile.user_identities})


class AudienceEvaluator:
    """Keeps memberships true as events arrive and as time passes."""

    def __init__(
        self, engine: Engine, clock: Clock, profiles: ProfileStore, calculated: CalculatedValues
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._profiles = profiles
        self._calculated = calculated
        self._postgres = engine.dialect.name == "postgresql"
        self._insert = postgresql.insert if self._postgres else sqlite.insert
        self._parsed: dict[tuple[int, int], Compiled] = {}
        self._freshness = FreshnessGate()

    def compiled(self, conn: Connection, workspace_id: int | None = None) -> list[Compiled]:
        """The audiences (of one workspace, or all): first those without audience criteria."""
        a = audiences
        query = select(a.c.id, a.c.workspace_id, a.c.revision, a.c.backfill, a.c.definition).order_by(a.c.id)
        if workspace_id is not None:
            query = query.where(a.c.workspace_id == workspace_id)
        found = []
        for row in conn.execute(query):
            key = (int(row.id), int(row.revision))
            compiled = self._parsed.get(key)
            if compiled is None:
                criterion = parse_criteria(_decode(row.definition), max_window_ms=10**15)
                keyed = tuple((c, c.matcher.key) for c in event_criteria(criterion))
                nested = bool(referenced_audiences(criterion))
                compiled = Compiled(key[0], int(row.workspace_id), key[1], "", criterion, keyed, nested)
                self._parsed[key] = compiled
            found.append(
                Compiled(
                    compiled.id,
                    compiled.workspace_id,
                    compiled.revision,
                    row.backfill,
                    compiled.criterion,
                    compiled.keyed,
                    compiled.nested,
                )
            )
        return sorted(found, key=lambda c: (c.nested, c.id))

    def evaluate(
        self,
        conn: Connection,
        workspace_id: int,
        mpids: Iterable[int],
        events: Sequence[StoredEvent],
        now_ms: int,
        *,
        accepted_ms: int | None = None,
        values: dict[int, dict[str, str]] | None = None,
        replace: dict[str, dict[int, list[int]]] | None = None,
    ) -> int:
        """Evaluate every ready audience for ``mpids`` after ``events``; returns how many memberships changed.

        ``replace`` (backfill) sets the timestamps of some matcher keys outright instead of adding to them.
        """
        mpids = sorted(set(mpids))
        every = self.compiled(conn, workspace_id)
        if not every or not mpids:
            return 0
        ready = [c for c in every if c.backfill == "done"]
        retention: dict[str, int] = {}
        matchers: dict[str, EventMatcher] = {}
        for compiled in ready:
            for criterion, key in compiled.keyed:
                retention[key] = max(retention.get(key, 0), criterion.window_ms)
                matchers[key] = criterion.matcher
        in_use = {key for c in every for _, key in c.keyed}
        new_matches = self._match(events, matchers)
        changed = 0
        for start in range(0, len(mpids), _CHUNK):
            chunk = mpids[start : start + _CHUNK]
            changed += self._evaluate_chunk(
                conn,
                workspace_id,
                chunk,
                ready,
                retention,
                in_use,
                new_matches,
                now_ms,
                accepted_ms,
                values,
                replace,
            )
        if ready and accepted_ms is not None and self._freshness.due(workspace_id, now_ms):
            conn.execute(
                update(audiences)
                .where(audiences.c.workspace_id == workspace_id, audiences.c.backfill == "done")
                .values(evaluated_ms=now_ms, lag_ms=max(0, now_ms - accepted_ms))
            )
        return changed

    def _match(
        self, events: Sequence[StoredEvent], matchers: dict[str, EventMatcher]
    ) -> dict[int, dict[str, list[int]]]:
        found: dict[int, dict[str, list[int]]] = {}
        if not matchers or not events:
            return found
        index = MatcherIndex()
        for key, matcher in matchers.items():
            index.add(matcher, key)
        for event in events:
            for key in index.matching(EventView(event)):
                found.setdefault(event.mpid, {}).setdefault(key, []).append(event.timestamp_ms)
        return found

    def _evaluate_chunk(
        self,
        conn: Connection,
        workspace_id: int,
        mpids: list[int],
        ready: list[Compiled],
        retention: dict[str, int],
        in_use: set[str],
        new_matches: dict[int, dict[str, list[int]]],
        now_ms: int,
        accepted_ms: int | None,
        values: dict[int, dict[str, str]] | None,
        replace: dict[str, dict[int, list[int]]] | None,
    ) -> int:
        s = audience_state
        query = select(s.c.mpid, s.c.matches, s.c.next_check_ms).where(
            and_(s.c.workspace_id == workspace_id, s.c.mpid.in_(mpids))
        )
        if self._postgres:  # a worker's batch and another's expiry sweep take a user in turn
            query = query.order_by(s.c.mpid).with_for_update()
        stored: dict[int, tuple[dict[str, list[int]], Any]] = {
            int(mpid): (_decode(matches), check) for mpid, matches, check in conn.execute(query)
        }
        profiles = self._profiles.read_many(conn, workspace_id, mpids)
        if values is None or any(m not in values for m in mpids):
            values = self._calculated.values_for(conn, workspace_id, mpids)
        m = audience_memberships
        current: dict[int, set[int]] = {}
        for audience_id, mpid in conn.execute(
            select(m.c.audience_id, m.c.mpid).where(
                m.c.workspace_id == workspace_id, m.c.mpid.in_(mpids), m.c.removed_ms.is_(None)
            )
        ):
            current.setdefault(int(mpid), set()).add(int(audience_id))
        ready_ids = {c.id for c in ready}
        state_rows: list[dict[str, Any]] = []
        adds: list[tuple[int, int]] = []
        removes: list[tuple[int, int]] = []
        for mpid in mpids:
            matches, _ = stored.get(mpid, ({}, None))
            matches = self._advance(
                mpid, matches, new_matches.get(mpid, {}), retention, in_use, now_ms, replace
            )
            was = current.get(mpid, set())
            user = _User(profiles.get(mpid), values.get(mpid, {}), matches, set(was - ready_ids), now_ms)
            for compiled in ready:
                if _holds(compiled.criterion, user):
                    user.members.add(compiled.id)
            now_in = user.members & ready_ids
            adds.extend((a, mpid) for a in sorted(now_in - was))
            removes.extend((a, mpid) for a in sorted((was & ready_ids) - now_in))
            if matches or mpid in stored:
                state_rows.append(
                    {
                        "workspace_id": workspace_id,
                        "mpid": mpid,
                        "matches": _encode(matches).decode(),
                        "next_check_ms": _next_check(ready, matches, now_ms),
                    }
                )
        if state_rows:
            upsert = self._insert(audience_state)
            conn.execute(
                upsert.on_conflict_do_update(
                    index_elements=["workspace_id", "mpid"],
                    set_={"matches": upsert.excluded.matches, "next_check_ms": upsert.excluded.next_check_ms},
                ),
                state_rows,
            )
        if adds or removes:
            self._record(conn, workspace_id, adds, removes, profiles, values, now_ms, accepted_ms)
        return len(adds) + len(removes)

    @staticmethod
    def _advance(
        mpid: int,
        matches: dict[str, list[int]],
        new: dict[str, list[int]],
        retention: dict[str, int],
        in_use: set[str],
        now_ms: int,
        replace: dict[str, dict[int, list[int]]] | None,
    ) -> dict[str, list[int]]:
        result: dict[str, list[int]] = {}
        for key in set(matches) | set(new) | set(replace or ()):
            if key not in in_use:
                continue
            stamps = list(matches.get(key, ()))
            if replace is not None and key in replace:
                stamps = list(replace[key].get(mpid, ()))
            stamps.extend(new.get(key, ()))
            window = retention.get(key)
            if window is not None:
                stamps = [ts for ts in stamps if ts > now_ms - window]
            if stamps:
                result[key] = sorted(stamps)
        return result

    def _record(
        self,
        conn: Connection,
        workspace_id: int,
        adds: list[tuple[int, int]],
        removes: list[tuple[int, int]],
        profiles: dict[int, Profile],
        values: dict[int, dict[str, str]],
        now_ms: int,
        accepted_ms: int | None,
    ) -> None:
        m = audience_memberships
        if adds:
            conn.execute(
                insert(m),
                [
                    {
                        "workspace_id": workspace_id,
                        "audience_id": a,
                        "mpid": u,
                        "added_ms": now_ms,
                        "removed_ms": None,
                    }
                    for a, u in adds
                ],
            )
        if removes:
            conn.execute(
                update(m)
                .where(
                    m.c.audience_id == bindparam("a"), m.c.mpid == bindparam("u"), m.c.removed_ms.is_(None)
                )
                .values(removed_ms=now_ms),
                [{"a": a, "u": u} for a, u in removes],
            )
        rows = []
        for action, pairs in (("add", adds), ("delete", removes)):
            for audience_id, mpid in pairs:
                snapshot = _snapshot(mpid, profiles.get(mpid), values.get(mpid, {}))
                rows.append(
                    {
                        "workspace_id": workspace_id,
                        "audience_id": audience_id,
                        "mpid": mpid,
                        "action": action,
                        "at_ms": now_ms,
                        "accepted_ms": accepted_ms,
                        "user_identities": _encode(snapshot.user_identities).decode(),
                        "device_identities": _encode(snapshot.device_identities).decode(),
                        "user_attributes": _encode(snapshot.user_attributes).decode(),
                        "delivered_ms": None,
                    }
                )
        conn.execute(insert(audience_changes), rows)

    def member_snapshots(
        self, conn: Connection, workspace_id: int, audience_id: int, after_mpid: int | None, limit: int
    ) -> list[MemberSnapshot]:
        """The audience's current members after ``after_mpid`` (by MPID), with their identities and attributes
        as they are now, read in the caller's transaction (an initial sync of a connection pages with it).

        On PostgreSQL their membership rows are locked without waiting (a row another transaction is changing
        fails the call, to be tried again): a member leaving meanwhile then commits its delete change after
        whatever the caller queues for it, so the delete is routed last."""
        m = audience_memberships
        query = (
            select(m.c.mpid)
            .where(m.c.audience_id == audience_id, m.c.removed_ms.is_(None))
            .order_by(m.c.mpid)
            .limit(limit)
        )
        if after_mpid is not None:
            query = query.where(m.c.mpid > after_mpid)
        if self._postgres:
            query = query.with_for_update(nowait=True)
        mpids = list(dict.fromkeys(int(r[0]) for r in conn.execute(query)))
        if not mpids:
            return []
        profiles = self._profiles.read_many(conn, workspace_id, mpids)
        values = self._calculated.values_for(conn, workspace_id, mpids)
        return [_snapshot(mpid, profiles.get(mpid), values.get(mpid, {})) for mpid in mpids]

    def expirations(self, workspace_id: int, mpid: int, audience_ids: Iterable[int]) -> dict[int, int | None]:
        """When each of a user's memberships ends if nothing else happens: the first time an event leaving
        an event criterion's window makes the criteria false; None when no window ends it.

        Only audience event windows are considered (calculated attribute windows and other audiences'
        memberships are taken as they are now). Computed on request, never on the pipeline's path.
        """
        now = self._clock.now_ms()
        wanted = set(audience_ids)
        with reading(self._engine) as conn:
            audiences_now = [c for c in self.compiled(conn, workspace_id) if c.id in wanted]
            row = conn.execute(
                select(audience_state.c.matches).where(
                    audience_state.c.workspace_id == workspace_id, audience_state.c.mpid == mpid
                )
            ).scalar()
            profile = self._profiles.read_many(conn, workspace_id, [mpid]).get(mpid)
            values = self._calculated.values_for(conn, workspace_id, [mpid])[mpid]
        matches: dict[str, list[int]] = _decode(row) if row else {}
        result: dict[int, int | None] = {}
        for compiled in audiences_now:
            moments = sorted(
                {
                    ts + c.window_ms
                    for c, key in compiled.keyed
                    for ts in matches.get(key, ())
                    if ts + c.window_ms > now
                }
            )
            result[compiled.id] = None
            for moment in moments[:200]:
                user = _User(profile, values, matches, set(wanted), moment)
                if not _holds(compiled.criterion, user):
                    result[compiled.id] = moment
                    break
        return result

    def sweep(self, conn: Connection, now_ms: int, limit: int = 2000) -> dict[int, set[int]]:
        """The users whose next window change has come, per workspace (evaluate them next)."""
        s = audience_state
        due: dict[int, set[int]] = {}
        for workspace_id, mpid in conn.execute(
            select(s.c.workspace_id, s.c.mpid).where(s.c.next_check_ms <= now_ms).limit(limit)
        ):
            due.setdefault(int(workspace_id), set()).add(int(mpid))
        return due

    def touch_freshness(self, conn: Connection, now_ms: int) -> None:
        """Record that every ready audience has been evaluated as of ``now_ms`` (the sweep ran)."""
        conn.execute(update(audiences).where(audiences.c.backfill == "done").values(evaluated_ms=now_ms))

    def backfill_pending(self, events: EventStore) -> int:
        """Backfill every audience waiting for it; returns how many were done."""
        with reading(self._engine) as conn:
            pending = [c for c in self.compiled(conn) if c.backfill in ("pending", "running")]
        for compiled in pending:
            self._backfill(events, compiled)
        return len(pending)

    def _backfill(self, events: EventStore, audience: Compiled) -> None:
        a = audiences
        workspace_id = audience.workspace_id
        mine = (a.c.id == audience.id) & (a.c.revision == audience.revision)
        total = events.count(workspace_id)
        with self._engine.begin() as conn:
            conn.execute(
                update(a).where(mine).values(backfill="running", backfill_total=total, backfill_done=0)
            )
            others = [c for c in self.compiled(conn, workspace_id) if c.backfill == "done"]
        retention: dict[str, int] = {}
        matchers: dict[str, EventMatcher] = {}
        for compiled in [*others, audience]:
            for criterion, key in compiled.keyed:
                retention[key] = max(retention.get(key, 0), criterion.window_ms)
        for criterion, key in audience.keyed:
            matchers[key] = criterion.matcher
        now = self._clock.now_ms()
        replace: dict[str, dict[int, list[int]]] = {key: {} for key in matchers}
        after_seq, scanned = 0, 0
        while matchers:
            page = events.tail(after_seq, _PAGE, workspace_id)
            if not page:
                break
            for mpid, found in self._match(page, matchers).items():
                for key, stamps in found.items():
                    replace[key].setdefault(mpid, []).extend(ts for ts in stamps if ts > now - retention[key])
            after_seq, scanned = page[-1].seq, scanned + len(page)
            with self._engine.begin() as conn:
                conn.execute(update(a).where(mine).values(backfill_done=scanned))
        with self._engine.begin() as conn:
            if conn.execute(update(a).where(mine).values(backfill="done")).rowcount == 0:
                return  # changed or deleted meanwhile: the newer revision is backfilled next
            mpids = set(self._profiles.mpids_of(conn, workspace_id))
            for per_user in replace.values():
                mpids.update(per_user)
            self.evaluate(conn, workspace_id, mpids, [], now, replace=replace)
            conn.execute(update(a).where(mine).values(backfill_done=total, evaluated_ms=now, lag_ms=0))
        _log.info("audience backfilled", extra={"audience_id": audience.id, "users": len(mpids)})


def _next_check(ready: list[Compiled], matches: dict[str, list[int]], now_ms: int) -> int | None:
    """The earliest time an event leaves the window of a criterion that counts it."""
    best: int | None = None
    for compiled in ready:
        for criterion, key in compiled.keyed:
            start = now_ms - criterion.window_ms
            for ts in matches.get(key, ()):
                if ts > start:
                    leaves_at = ts + criterion.window_ms
                    if best is None or leaves_at < best:
                        best = leaves_at
                    break
    return best
