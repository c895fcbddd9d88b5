"""The profile store: one profile per (workspace, MPID) with its attributes, identities and consent.

Every change of a user attribute (set to a different value, or deleted) is recorded in
``profile_attribute_changes`` in the same transaction as the profile, so the history never disagrees with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
from sqlalchemy import Connection, Engine, and_, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from fermion.profiles.attributes import canonical_attribute_name, canonical_attributes
from fermion.profiles.tables import profile_attribute_changes, profile_identities, profiles
from fermion.store import reading

AttributeValue = str | int | float | bool | None | list[str | int | float | bool | None]
_encode = msgspec.json.Encoder(order="sorted").encode
_decode = msgspec.json.decode
_ABSENT = object()


@dataclass(frozen=True)
class ProfileUpdate:
    """What one batch tells about its user, applied in inbox order."""

    workspace_id: int
    mpid: int
    seen_ms: int
    user_attributes: dict[str, AttributeValue] = field(default_factory=dict)
    deleted_user_attributes: tuple[str, ...] = ()
    user_identities: dict[str, str] = field(default_factory=dict)
    device_identities: dict[str, str] = field(default_factory=dict)
    consent_state: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Profile:
    """A stored profile."""

    workspace_id: int
    mpid: int
    provisional: bool  # resolved before IDSync existed (a derived MPID); every profile IDSync makes is not
    user_attributes: dict[str, AttributeValue]
    user_identities: dict[str, str]
    device_identities: dict[str, str]
    consent_state: dict[str, dict[str, Any]]
    first_seen_ms: int
    last_seen_ms: int
    updated_ms: int = 0  # when the store last wrote it


@dataclass(frozen=True)
class AttributeChange:
    """One change of a user attribute: ``old_value`` is None when it was new, ``new_value`` when deleted."""

    at_ms: int
    name: str
    old_value: AttributeValue
    new_value: AttributeValue
    deleted: bool


def _merge_consent(current: dict[str, dict[str, Any]], incoming: dict[str, dict[str, Any]]) -> None:
    for regulation, purposes in incoming.items():
        current.setdefault(regulation, {}).update(purposes)


class ProfileStore:
    """Reads profiles and applies batches to them, a micro-batch at a time."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    def apply(self, conn: Connection, updates: Sequence[ProfileUpdate], now_ms: int) -> None:
        """Apply ``updates`` in order inside the caller's transaction.

        One read, two upserts and one insert of attribute changes in all. Reserved attribute names are stored
        in canonical casing (``$firstname`` sets ``$FirstName``); only real changes enter the history.
        """
        if not updates:
            return
        keys = {(u.workspace_id, u.mpid) for u in updates}
        current = self._load(conn, keys)
        touched: dict[tuple[int, int], Profile] = {}
        identity_rows: dict[tuple[int, str, str], int] = {}
        changes: list[dict[str, Any]] = []
        for u in updates:
            key = (u.workspace_id, u.mpid)
            old = touched.get(key) or current.get(key)
            attributes = dict(old.user_attributes) if old else {}
            _apply_attributes(u, attributes, changes)
            consent = {k: dict(v) for k, v in old.consent_state.items()} if old else {}
            _merge_consent(consent, u.consent_state)
            touched[key] = Profile(
                workspace_id=u.workspace_id,
                mpid=u.mpid,
                provisional=old.provisional if old else False,
                user_attributes=attributes,
                user_identities={**(old.user_identities if old else {}), **u.user_identities},
                device_identities={**(old.device_identities if old else {}), **u.device_identities},
                consent_state=consent,
                first_seen_ms=min(old.first_seen_ms, u.seen_ms) if old else u.seen_ms,
                last_seen_ms=max(old.last_seen_ms, u.seen_ms) if old else u.seen_ms,
                updated_ms=now_ms,
            )
            for name, value in u.user_identities.items():
                identity_rows[(u.workspace_id, name, value)] = u.mpid
        rows = [
            {
                "workspace_id": p.workspace_id,
                "mpid": p.mpid,
                "provisional": int(p.provisional),
                "user_attributes": _encode(p.user_attributes).decode(),
                "user_identities": _encode(p.user_identities).decode(),
                "device_identities": _encode(p.device_identities).decode(),
                "consent_state": _encode(p.consent_state).decode(),
                "first_seen_ms": p.first_seen_ms,
                "last_seen_ms": p.last_seen_ms,
                "updated_ms": now_ms,
            }
            for _, p in sorted(touched.items())  # one lock order for every writer: no deadlocks
        ]
        upsert = self._insert(profiles)
        conn.execute(
            upsert.on_conflict_do_update(
                index_elements=["workspace_id", "mpid"],
                set_={
                    name: upsert.excluded[name] for name in rows[0] if name not in ("workspace_id", "mpid")
                },
            ),
            rows,
        )
        if changes:
            conn.execute(insert(profile_attribute_changes), changes)
        if identity_rows:
            upsert_identity = self._insert(profile_identities)
            conn.execute(
                upsert_identity.on_conflict_do_update(
                    index_elements=["workspace_id", "identity_type", "identity_value"],
                    set_={
                        "mpid": upsert_identity.excluded.mpid,
                        "updated_ms": upsert_identity.excluded.updated_ms,
                    },
                ),
                [
                    {
                        "workspace_id": w,
                        "identity_type": t,
                        "identity_value": v,
                        "mpid": m,
                        "updated_ms": now_ms,
                    }
                    for (w, t, v), m in sorted(identity_rows.items())
                ],
            )

    def _load(self, conn: Connection, keys: set[tuple[int, int]]) -> dict[tuple[int, int], Profile]:
        by_workspace: dict[int, list[int]] = {}
        for workspace_id, mpid in keys:
            by_workspace.setdefault(workspace_id, []).append(mpid)
        found: dict[tuple[int, int], Profile] = {}
        for workspace_id, mpids in by_workspace.items():
            for start in range(0, len(mpids), 500):
                chunk = mpids[start : start + 500]
                query = select(profiles).where(
                    and_(profiles.c.workspace_id == workspace_id, profiles.c.mpid.in_(chunk))
                )
                for row in conn.execute(query).mappings():
                    profile = _profile(row)
                    found[(profile.workspace_id, profile.mpid)] = profile
        return found

    def read_many(self, conn: Connection, workspace_id: int, mpids: Iterable[int]) -> dict[int, Profile]:
        """The profiles of ``mpids`` read inside the caller's transaction (so it sees its own writes)."""
        found = self._load(conn, {(workspace_id, mpid) for mpid in mpids})
        return {mpid: profile for (_, mpid), profile in found.items()}

    def mpids_of(self, conn: Connection, workspace_id: int) -> list[int]:
        """Every MPID with a profile in the workspace, ascending."""
        query = (
            select(profiles.c.mpid).where(profiles.c.workspace_id == workspace_id).order_by(profiles.c.mpid)
        )
        return [int(mpid) for mpid in conn.execute(query).scalars()]

    def adopt_first_seen(self, conn: Connection, workspace_id: int, destination: int, source: int) -> None:
        """After an alias of ``source`` into ``destination``, inside the caller's transaction.

        The destination was first seen when the source was, if that is earlier (its ``created_timestamp_ms``
        in the Profile API). Idempotent.
        """
        source_first = conn.execute(
            select(profiles.c.first_seen_ms).where(
                profiles.c.workspace_id == workspace_id, profiles.c.mpid == source
            )
        ).scalar()
        if source_first is None:
            return
        conn.execute(
            update(profiles)
            .where(
                profiles.c.workspace_id == workspace_id,
                profiles.c.mpid == destination,
                profiles.c.first_seen_ms > source_first,
            )
            .values(first_seen_ms=source_first)
        )

    def get(self, workspace_id: int, mpid: int) -> Profile | None:
        """The profile of ``mpid`` in ``workspace_id``, if any."""
        with reading(self._engine) as conn:
            return self._load(conn, {(workspace_id, mpid)}).get((workspace_id, mpid))

    def find_by_identity(self, workspace_id: int, identity_type: str, value: str) -> int | None:
        """The MPID that holds a user identity, if any."""
        query = select(profile_identities.c.mpid).where(
            profile_identities.c.workspace_id == workspace_id,
            profile_identities.c.identity_type == identity_type,
            profile_identities.c.identity_value == value,
        )
        with reading(self._engine) as conn:
            found = conn.execute(query).scalar()
        return None if found is None else int(found)

    def attribute_values(self, workspace_id: int, name: str) -> dict[int, AttributeValue]:
        """Every profile's value of the user attribute ``name`` in ``workspace_id``, by MPID (analytics)."""
        wanted = canonical_attribute_name(name)
        query = select(profiles.c.mpid, profiles.c.user_attributes).where(
            profiles.c.workspace_id == workspace_id
        )
        values: dict[int, AttributeValue] = {}
        with reading(self._engine) as conn:
            for mpid, attributes in conn.execute(query):
                found = _decode(attributes).get(wanted)
                if found is not None:
                    values[int(mpid)] = found
        return values

    def attribute_history(self, workspace_id: int, mpid: int, limit: int = 100) -> list[AttributeChange]:
        """The latest ``limit`` changes of the user attributes of ``mpid``, newest first."""
        t = profile_attribute_changes
        query = (
            select(t.c.at_ms, t.c.name, t.c.old_value, t.c.new_value, t.c.deleted)
            .where(t.c.workspace_id == workspace_id, t.c.mpid == mpid)
            .order_by(t.c.id.desc())
            .limit(limit)
        )
        with reading(self._engine) as conn:
            rows = conn.execute(query).all()
        return [
            AttributeChange(
                at_ms=int(at_ms),
                name=name,
                old_value=None if old is None else _decode(old),
                new_value=None if new is None else _decode(new),
                deleted=bool(deleted),
            )
            for at_ms, name, old, new, deleted in rows
        ]


def _apply_attributes(
    update: ProfileUpdate, attributes: dict[str, AttributeValue], changes: list[dict[str, Any]]
) -> None:
    """Delete then set ``update``'s attributes in ``attributes``, appending a history row per real change."""

    def change(name: str, old: object, new: object) -> None:
        changes.append(
            {
                "workspace_id": update.workspace_id,
                "mpid": update.mpid,
                "at_ms": update.seen_ms,
                "name": name,
                "old_value": None if old is _ABSENT else _encode(old).decode(),
                "new_value": None if new is _ABSENT else _encode(new).decode(),
                "deleted": int(new is _ABSENT),
            }
        )

    for sent in update.deleted_user_attributes:
        name = canonical_attribute_name(sent)
        if name in attributes:
            change(name, attributes.pop(name), _ABSENT)
    for sent, value in update.user_attributes.items():
        name = canonical_attribute_name(sent)
        old = attributes.get(name, _ABSENT)
        # == alone would take 1, 1.0 and True for one value; their JSON tells them apart.
        if old is _ABSENT or old != value or _encode(old) != _encode(value):
            change(name, old, value)
        attributes[name] = value


def _profile(row: Any) -> Profile:
    return Profile(
        workspace_id=int(row["workspace_id"]),
        mpid=int(row["mpid"]),
        provisional=bool(row["provisional"]),
        user_attributes=canonical_attributes(_decode(row["user_attributes"])),
        user_identities=_decode(row["user_identities"]),
        device_identities=_decode(row["device_identities"]),
        consent_state=_decode(row["consent_state"]),
        first_seen_ms=int(row["first_seen_ms"]),
        last_seen_ms=int(row["last_seen_ms"]),
        updated_ms=int(row["updated_ms"]),
    )
