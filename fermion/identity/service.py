"""IDSync as a service: identify, login, logout, search and modify in one transaction each, batch resolution
for the pipeline, identity settings, and the history that explains every link."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, select

from fermion.clock import Clock
from fermion.errors import BadRequest
from fermion.identity import decide
from fermion.identity.aliasing import Aliases
from fermion.identity.decide import Change, Outcome
from fermion.identity.graph import Decision, GraphView, load, load_with, save
from fermion.identity.names import canonical
from fermion.identity.settings import IdentitySettings, load_settings, save_settings
from fermion.identity.tables import identity_history, identity_links
from fermion.ids import new_int64, stable_int64
from fermion.store import reading

CALLS = ("identify", "login", "logout", "search")
_SETTINGS_CACHE_S = 5.0


def canonical_request(known: Mapping[str, object]) -> dict[str, str]:
    """``known_identities`` with canonical type names; null values dropped, other non-strings rejected."""
    request: dict[str, str] = {}
    for key, value in known.items():
        name = canonical(key)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise BadRequest(f"Identity {key!r} must be a string.")
        request[name] = value
    return request


@dataclass(frozen=True)
class BatchIdentity:
    """What the pipeline knows of one batch's user: its MPID if it sent one, and its identities."""

    key: int  # the inbox id: new profiles get an MPID derived from it, so a replay resolves the same way
    mpid: int | None
    identities: dict[str, str]


@dataclass
class BatchPlan:
    """The MPIDs of a micro-batch's batches and the graph changes to save with them."""

    mpids: dict[int, int] = field(default_factory=dict)  # inbox id → MPID
    views: list[GraphView] = field(default_factory=list)


class IdentityService:
    """IDSync over the state store."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        *,
        alias_delay_ms: int = 86_400_000,
        alias_window_ms: int = 90 * 86_400_000,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._settings: dict[int, tuple[IdentitySettings, float]] = {}
        self.aliases = Aliases(engine, clock, alias_delay_ms, alias_window_ms)

    def request_alias(
        self,
        workspace_id: int,
        source: int,
        destination: int,
        start_ms: int | None,
        end_ms: int | None,
        request_id: str,
    ) -> int:
        """Record an alias request (carried out by the worker once due); returns its id."""
        return self.aliases.request(workspace_id, source, destination, start_ms, end_ms, request_id)

    def settings(self, workspace_id: int) -> IdentitySettings:
        """The workspace's identity settings."""
        with reading(self._engine) as conn:
            return load_settings(conn, workspace_id)

    def _cached_settings(self, conn: Connection, workspace_id: int) -> IdentitySettings:
        """Settings read at most every few seconds: a change made in another process applies within that."""
        now = time.monotonic()
        cached = self._settings.get(workspace_id)
        if cached is not None and cached[1] > now:
            return cached[0]
        found = load_settings(conn, workspace_id)
        self._settings[workspace_id] = (found, now + _SETTINGS_CACHE_S)
        return found

    def configure(self, workspace_id: int, settings: IdentitySettings) -> None:
        """Set the workspace's identity strategy and ID sets."""
        with self._engine.begin() as conn:
            save_settings(conn, workspace_id, settings, self._clock.now_ms())
        self._settings.pop(workspace_id, None)

    def request(
        self,
        workspace_id: int,
        call: str,
        known: Mapping[str, object],
        *,
        previous_mpid: int | None = None,
        cause: str,
    ) -> Outcome:
        """Run ``identify``, ``login``, ``logout`` or ``search`` as one transaction.

        A request that changes nothing (the common identify of a known device) only reads.
        """
        outcome = self.request_if_unchanged(
            workspace_id, call, known, previous_mpid=previous_mpid, cause=cause
        )
        if outcome is not None:
            return outcome
        return self.request_changing(workspace_id, call, known, previous_mpid=previous_mpid, cause=cause)

    def request_changing(
        self,
        workspace_id: int,
        call: str,
        known: Mapping[str, object],
        *,
        previous_mpid: int | None = None,
        cause: str,
    ) -> Outcome:
        """Decide and save a request under the write lock, as one transaction (nothing half-written); for
        requests a read showed to change the graph."""
        request = canonical_request(known)
        with self._engine.begin() as conn:
            settings = load_settings(conn, workspace_id)
            view = load(conn, workspace_id, request.items(), [] if previous_mpid is None else [previous_mpid])
            outcome = self._decide(view, settings, call, request, previous_mpid, cause)
            save(conn, view, self._clock.now_ms())
        return outcome

    def request_if_unchanged(
        self,
        workspace_id: int,
        call: str,
        known: Mapping[str, object],
        *,
        previous_mpid: int | None = None,
        cause: str,
    ) -> Outcome | None:
        """The outcome of a request that changes nothing (reads only, never waits for writers); None when the
        request would change the graph and must go through :meth:`request`."""
        request = canonical_request(known)
        previous = [] if previous_mpid is None else [previous_mpid]
        if self._engine.dialect.name == "sqlite":
            view, settings = self._read_sqlite(workspace_id, request, previous)
        else:
            with reading(self._engine) as conn:
                settings = self._cached_settings(conn, workspace_id)
                view = load(conn, workspace_id, request.items(), previous)
        outcome = self._decide(view, settings, call, request, previous_mpid, cause)
        return None if view.changed else outcome

    def _read_sqlite(
        self, workspace_id: int, request: dict[str, str], previous: list[int]
    ) -> tuple[GraphView, IdentitySettings]:
        """The read of a read-only request straight on a pooled sqlite3 connection, in one read transaction:
        SQLAlchemy's connection and result layer cost more than the three indexed queries."""
        raw = self._engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("BEGIN")
            try:
                settings = self._settings_cache_hit(workspace_id)
                if settings is None:
                    with reading(self._engine) as conn:
                        settings = self._cached_settings(conn, workspace_id)
                view = load_with(
                    lambda sql, params: cursor.execute(sql, params).fetchall(),
                    "?",
                    workspace_id,
                    request.items(),
                    previous,
                )
            finally:
                cursor.execute("COMMIT")
                cursor.close()
        finally:
            raw.close()
        return view, settings

    def _settings_cache_hit(self, workspace_id: int) -> IdentitySettings | None:
        cached = self._settings.get(workspace_id)
        return cached[0] if cached is not None and cached[1] > time.monotonic() else None

    def _decide(
        self,
        view: GraphView,
        settings: IdentitySettings,
        call: str,
        request: dict[str, str],
        previous_mpid: int | None,
        cause: str,
    ) -> Outcome:
        now = self._clock.now_ms()
        if call == "search":
            return decide.search(view, settings, request)
        if call == "logout":
            return decide.logout(view, settings, request, new_mpid=new_int64, cause=cause, now_ms=now)
        if call in ("identify", "login"):
            return decide.identify(
                view,
                settings,
                request,
                call=call,
                previous_mpid=previous_mpid,
                new_mpid=new_int64,
                cause=cause,
                now_ms=now,
            )
        raise BadRequest(f"Unknown IDSync call {call!r}.")

    def modify(
        self, workspace_id: int, mpid: int, changes: Sequence[tuple[str, object, object]], *, cause: str
    ) -> list[tuple[str, int]]:
        """Change a profile's identities; returns (type, MPID that lost it) for every moved unique ID."""
        parsed: list[Change] = []
        for identity_type, old, new in changes:
            for value in (old, new):
                if value is not None and not isinstance(value, str):
                    raise BadRequest(f"identity_changes values of {identity_type!r} must be strings or null.")
            parsed.append(Change(canonical(identity_type), old or None, new or None))  # type: ignore[arg-type]
        identities = [(c.identity_type, v) for c in parsed for v in (c.old_value, c.new_value) if v]
        with self._engine.begin() as conn:
            settings = load_settings(conn, workspace_id)
            view = load(conn, workspace_id, identities, [mpid])
            moved = decide.modify(view, settings, mpid, parsed, cause=cause, now_ms=self._clock.now_ms())
            save(conn, view, self._clock.now_ms())
        return moved

    def plan_batches(
        self, workspace_id: int, batches: Sequence[BatchIdentity], cause_prefix: str
    ) -> BatchPlan:
        """Resolve a micro-batch's batches in order (reads only); save the plan with :meth:`save_plan`."""
        plan = BatchPlan()
        identities = [i for b in batches for i in b.identities.items()]
        mpids = [b.mpid for b in batches if b.mpid is not None]
        now = self._clock.now_ms()
        with reading(self._engine) as conn:
            settings = self._cached_settings(conn, workspace_id)
            view = load(conn, workspace_id, identities, mpids)
        for batch in batches:
            cause = f"{cause_prefix}:{batch.key}"
            derived = stable_int64(str(workspace_id), f"inbox:{batch.key}")
            if batch.mpid is not None:
                if not view.exists(batch.mpid):
                    view.create(batch.mpid, now)
                    view.decisions.append(
                        Decision(
                            batch.mpid, "created", "a batch carried an MPID not seen before", cause, at_ms=now
                        )
                    )
                decide.attach(view, settings, batch.mpid, batch.identities, cause, now)
                plan.mpids[batch.key] = batch.mpid
            elif batch.identities:
                outcome = decide.identify(
                    view,
                    settings,
                    batch.identities,
                    call="identify",
                    previous_mpid=None,
                    new_mpid=_fixed(derived),
                    cause=cause,
                    now_ms=now,
                )
                plan.mpids[batch.key] = outcome.mpid
            else:
                if not view.exists(derived):
                    view.create(derived, now)
                    view.decisions.append(
                        Decision(
                            derived, "created", "a batch carried no identities and no MPID", cause, at_ms=now
                        )
                    )
                plan.mpids[batch.key] = derived
        plan.views.append(view)
        return plan

    def save_plan(self, conn: Connection, plan: BatchPlan) -> None:
        """Write a micro-batch's graph changes inside the caller's transaction."""
        now = self._clock.now_ms()
        for view in plan.views:
            save(conn, view, now)

    def history(self, workspace_id: int, mpid: int, limit: int = 500) -> list[Decision]:
        """Every recorded decision about a profile, oldest first."""
        query = (
            select(identity_history)
            .where(identity_history.c.workspace_id == workspace_id, identity_history.c.mpid == mpid)
            .order_by(identity_history.c.id)
            .limit(limit)
        )
        with reading(self._engine) as conn:
            return [
                Decision(
                    r.mpid,
                    r.action,
                    r.rule,
                    r.cause,
                    r.identity_type,
                    r.identity_value,
                    r.other_mpid,
                    r.at_ms,
                )
                for r in conn.execute(query)
            ]

    def holders(self, workspace_id: int, identity_type: str, value: str) -> list[int]:
        """The profiles that hold an identity."""
        query = select(identity_links.c.mpid).where(
            identity_links.c.workspace_id == workspace_id,
            identity_links.c.identity_type == canonical(identity_type),
            identity_links.c.identity_value == value,
        )
        with reading(self._engine) as conn:
            return sorted(int(m) for (m,) in conn.execute(query))

    def identities(self, workspace_id: int, mpid: int) -> dict[str, list[str]]:
        """A profile's identities, by type."""
        query = select(identity_links.c.identity_type, identity_links.c.identity_value).where(
            identity_links.c.workspace_id == workspace_id, identity_links.c.mpid == mpid
        )
        found: dict[str, list[str]] = {}
        with reading(self._engine) as conn:
            for t, v in conn.execute(query):
                found.setdefault(t, []).append(v)
        return found


def describe(decision: Decision) -> str:
    """One decision in plain words."""
    what = decision.action.replace("_", " ")
    parts = [what]
    if decision.identity_type:
        parts.append(f"{decision.identity_type}={decision.identity_value}")
    if decision.other_mpid is not None:
        parts.append(f"(other profile {decision.other_mpid})")
    return f"{' '.join(parts)} — because {decision.rule} [{decision.cause}]"


def decision_json(decision: Decision) -> dict[str, object]:
    """A decision as a JSON object (MPIDs as strings, as IDSync returns them)."""
    return {
        "mpid": str(decision.mpid),
        "action": decision.action,
        "rule": decision.rule,
        "cause": decision.cause,
        "identity_type": decision.identity_type,
        "identity_value": decision.identity_value,
        "other_mpid": None if decision.other_mpid is None else str(decision.other_mpid),
        "at_ms": decision.at_ms,
        "explanation": describe(decision),
    }


def _fixed(mpid: int) -> decide.NewMpid:
    return lambda: mpid
