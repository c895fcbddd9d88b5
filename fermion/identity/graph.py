"""The identity graph of one workspace, as far as one request or micro-batch needs it.

``load`` reads the links of the identities involved and every link of the profiles they reach; the rules in
``decide.py`` change the view in memory and record why; ``save`` writes the difference in a few statements.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Connection, delete, insert, update
from sqlalchemy.dialects import postgresql, sqlite

from fermion.identity.tables import identity_history, identity_links, identity_profiles

Identity = tuple[str, str]  # (canonical type, value)
_T = TypeVar("_T")
_CHUNK = 400


@dataclass(frozen=True)
class Decision:
    """One recorded identity decision: what happened to which profile, by which rule, caused by what."""

    mpid: int
    action: (
        str  # created | identity_added | identity_removed | identity_moved | orphaned | login | logout | …
    )
    rule: str
    cause: str
    identity_type: str | None = None
    identity_value: str | None = None
    other_mpid: int | None = None
    at_ms: int = 0


@dataclass
class GraphView:
    """Links and profiles of one workspace loaded for a decision, and what the decision changed."""

    workspace_id: int
    holders: dict[Identity, set[int]] = field(default_factory=dict)
    identities: dict[int, dict[str, set[str]]] = field(default_factory=dict)
    created_ms: dict[int, int] = field(default_factory=dict)
    orphaned: set[int] = field(default_factory=set)
    new_profiles: dict[int, int] = field(default_factory=dict)
    added: set[tuple[Identity, int]] = field(default_factory=set)
    removed: set[tuple[Identity, int]] = field(default_factory=set)
    new_orphans: set[int] = field(default_factory=set)
    decisions: list[Decision] = field(default_factory=list)

    def exists(self, mpid: int) -> bool:
        """Whether ``mpid`` is a profile of this workspace."""
        return mpid in self.created_ms

    def holders_of(self, identity: Identity) -> set[int]:
        """The profiles that hold ``identity`` (orphaned ones included)."""
        return self.holders.get(identity, set())

    def values(self, mpid: int, identity_type: str) -> set[str]:
        """The values of one identity type a profile holds."""
        return self.identities.get(mpid, {}).get(identity_type, set())

    def create(self, mpid: int, now_ms: int) -> None:
        """A new profile with no identities yet."""
        self.created_ms[mpid] = now_ms
        self.new_profiles[mpid] = now_ms
        self.identities.setdefault(mpid, {})

    def link(self, identity: Identity, mpid: int) -> None:
        """Give ``mpid`` an identity."""
        self.holders.setdefault(identity, set()).add(mpid)
        self.identities.setdefault(mpid, {}).setdefault(identity[0], set()).add(identity[1])
        if (identity, mpid) in self.removed:
            self.removed.discard((identity, mpid))
        else:
            self.added.add((identity, mpid))

    def unlink(self, identity: Identity, mpid: int) -> None:
        """Take an identity from ``mpid``."""
        self.holders.get(identity, set()).discard(mpid)
        self.identities.get(mpid, {}).get(identity[0], set()).discard(identity[1])
        if (identity, mpid) in self.added:
            self.added.discard((identity, mpid))
        else:
            self.removed.add((identity, mpid))

    def orphan(self, mpid: int) -> None:
        """Make a profile unreachable through IDSync (it is kept)."""
        if mpid not in self.orphaned:
            self.orphaned.add(mpid)
            self.new_orphans.add(mpid)

    @property
    def changed(self) -> bool:
        """Whether saving would write anything."""
        return bool(self.new_profiles or self.added or self.removed or self.new_orphans or self.decisions)


def _chunks(items: list[_T]) -> Iterable[list[_T]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def load(
    conn: Connection, workspace_id: int, identities: Iterable[Identity], mpids: Iterable[int]
) -> GraphView:
    """The part of the graph that ``identities`` and ``mpids`` reach."""
    mark = "%s" if conn.dialect.name == "postgresql" else "?"
    return load_with(
        lambda sql, params: list(conn.exec_driver_sql(sql, params)), mark, workspace_id, identities, mpids
    )


def load_with(
    run: Callable[[str, tuple[object, ...]], list[Any]],
    mark: str,
    workspace_id: int,
    identities: Iterable[Identity],
    mpids: Iterable[int],
) -> GraphView:
    """:func:`load` over any way of running driver SQL (``mark`` is the driver's placeholder).

    Hand-written SQL on the driver: this runs for every IDSync request, and building SQLAlchemy expressions
    cost more than the queries themselves.
    """
    view = GraphView(workspace_id)
    reached: set[int] = set(mpids)
    by_type: dict[str, list[str]] = {}
    for identity_type, value in {(t, v) for t, v in identities}:
        by_type.setdefault(identity_type, []).append(value)
    # One indexed lookup per identity type: (type, value) row-value IN lists are not planned on the index.
    for identity_type, values in by_type.items():
        for chunk in _chunks(values):
            sql = (
                f"SELECT mpid FROM identity_links WHERE workspace_id = {mark} AND identity_type = {mark} "
                f"AND identity_value IN ({', '.join([mark] * len(chunk))})"
            )
            rows = run(sql, (workspace_id, identity_type, *chunk))
            reached.update(int(m) for (m,) in rows)
    for reached_chunk in _chunks(list(reached)):
        marks = ", ".join([mark] * len(reached_chunk))
        links = run(
            "SELECT identity_type, identity_value, mpid FROM identity_links "
            f"WHERE workspace_id = {mark} AND mpid IN ({marks})",
            (workspace_id, *reached_chunk),
        )
        for t, v, m in links:
            view.holders.setdefault((t, v), set()).add(int(m))
            view.identities.setdefault(int(m), {}).setdefault(t, set()).add(v)
        profiles = run(
            f"SELECT mpid, created_ms, orphaned FROM identity_profiles WHERE workspace_id = {mark} "
            f"AND mpid IN ({marks})",
            (workspace_id, *reached_chunk),
        )
        for m, created, orphaned in profiles:
            view.created_ms[int(m)] = int(created)
            if orphaned:
                view.orphaned.add(int(m))
    return view


def save(conn: Connection, view: GraphView, now_ms: int) -> None:
    """Write what ``view`` changed, in a handful of statements."""
    ws = view.workspace_id
    insert_for = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    if view.new_profiles:
        conn.execute(
            insert_for(identity_profiles).on_conflict_do_nothing(),
            [
                {"workspace_id": ws, "mpid": m, "created_ms": c, "orphaned": 0}
                for m, c in sorted(view.new_profiles.items())
            ],
        )
    for (identity_type, value), mpid in sorted(view.removed):
        conn.execute(
            delete(identity_links).where(
                identity_links.c.workspace_id == ws,
                identity_links.c.identity_type == identity_type,
                identity_links.c.identity_value == value,
                identity_links.c.mpid == mpid,
            )
        )
    if view.added:
        conn.execute(
            insert_for(identity_links).on_conflict_do_nothing(),
            [
                {"workspace_id": ws, "identity_type": t, "identity_value": v, "mpid": m, "created_ms": now_ms}
                for (t, v), m in sorted(view.added)
            ],
        )
    if view.new_orphans:
        conn.execute(
            update(identity_profiles)
            .where(
                identity_profiles.c.workspace_id == ws, identity_profiles.c.mpid.in_(sorted(view.new_orphans))
            )
            .values(orphaned=1)
        )
    if view.decisions:
        conn.execute(
            insert(identity_history),
            [
                {
                    "workspace_id": ws,
                    "mpid": d.mpid,
                    "at_ms": d.at_ms or now_ms,
                    "action": d.action,
                    "identity_type": d.identity_type,
                    "identity_value": d.identity_value,
                    "other_mpid": d.other_mpid,
                    "rule": d.rule,
                    "cause": d.cause[:200],
                }
                for d in view.decisions
            ],
        )
