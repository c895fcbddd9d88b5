"""Where Fermion holds a subject: finding their profiles, and each state store's rows of them.

The privacy context reaches other contexts' tables through the shared ``metadata`` by name, read and delete
only: one place lists every store that can hold a person, so that erasure, access and the completeness
test walk the same list. A table added elsewhere that holds a person must be added here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Table, delete, or_, select

from fermion.identity import canonical
from fermion.store import metadata

# State tables keyed by (workspace_id, mpid), in the order erasure empties them.
MPID_TABLES = (
    "profile_attribute_changes",
    "profile_identities",
    "profiles",
    "identity_links",
    "identity_history",
    "identity_profiles",
    "calculated_state",
    "audience_state",
    "audience_memberships",
    "audience_changes",
    "batch_verdicts",
    "quarantine",
    "consent_history",
    "output_deliveries",
    "output_ledger",
)


def table(name: str) -> Table:
    """A state table by name (the owning context's module registered it on the shared metadata)."""
    return metadata.tables[name]


@dataclass
class Subject:
    """The profiles a request matched and every identity value they hold, for matching and forwarding."""

    workspace_id: int
    mpids: set[int] = field(default_factory=set)
    identities: dict[str, set[str]] = field(default_factory=dict)
    countries: set[str] = field(default_factory=set)  # ``$country`` of the profiles: formats phone numbers

    def values(self) -> set[str]:
        """Every identity value of the subject."""
        return {v for values in self.identities.values() for v in values if v}

    def add(self, identity_type: str, value: str) -> None:
        """Record an identity value of the subject."""
        self.identities.setdefault(identity_type, set()).add(value)


def find_subject(conn: Connection, workspace_id: int, identities: dict[str, str]) -> Subject:
    """The profiles the request's identities resolve to, and all identities those profiles hold.

    An ``mpid`` names its profile directly; other identities resolve through the identity graph and the
    profile identity index, like IDSync lookups do.
    """
    subject = Subject(workspace_id)
    for identity_type, value in identities.items():
        if identity_type == "mpid":
            subject.mpids.add(int(value))
            continue
        subject.add(identity_type, value)
        links = table("identity_links")
        found = conn.execute(
            select(links.c.mpid).where(
                links.c.workspace_id == workspace_id,
                links.c.identity_type == canonical(identity_type),
                links.c.identity_value == value,
            )
        )
        subject.mpids.update(int(m) for (m,) in found)
        index = table("profile_identities")
        found = conn.execute(
            select(index.c.mpid).where(
                index.c.workspace_id == workspace_id,
                index.c.identity_type == identity_type,
                index.c.identity_value == value,
            )
        )
        subject.mpids.update(int(m) for (m,) in found)
    if subject.mpids:
        _enrich(conn, subject)
    return subject


def _enrich(conn: Connection, subject: Subject) -> None:
    links = table("identity_links")
    for identity_type, value in conn.execute(
        select(links.c.identity_type, links.c.identity_value).where(
            links.c.workspace_id == subject.workspace_id, links.c.mpid.in_(subject.mpids)
        )
    ):
        subject.add(str(identity_type), str(value))
    profiles = table("profiles")
    for users, devices, attributes in conn.execute(
        select(profiles.c.user_identities, profiles.c.device_identities, profiles.c.user_attributes).where(
            profiles.c.workspace_id == subject.workspace_id, profiles.c.mpid.in_(subject.mpids)
        )
    ):
        for name, value in {**json.loads(users), **json.loads(devices)}.items():
            if isinstance(value, str):
                subject.add(name, value)
        for name, value in json.loads(attributes).items():
            if name.lower() == "$country" and isinstance(value, str) and value:
                subject.countries.add(value)


def rows_of(conn: Connection, name: str, subject: Subject) -> list[dict[str, Any]]:
    """The rows of one (workspace, MPID) table that belong to the subject."""
    t = table(name)
    query = select(t).where(t.c.workspace_id == subject.workspace_id, _of_subject(t, subject))
    return [dict(row._mapping) for row in conn.execute(query)]


def delete_shared_payloads(conn: Connection, subject: Subject) -> int:
    """Delete the outbound payloads of the subject's deliveries (connections share one per batch)."""
    deliveries, payloads = table("output_deliveries"), table("output_payloads")
    ids = select(deliveries.c.payload_id).where(
        deliveries.c.workspace_id == subject.workspace_id,
        deliveries.c.mpid.in_(sorted(subject.mpids) or [0]),
        deliveries.c.payload_id.is_not(None),
    )
    result = conn.execute(delete(payloads).where(payloads.c.id.in_(ids)))
    return int(result.rowcount or 0)


def delete_rows(conn: Connection, name: str, subject: Subject) -> int:
    """Delete the subject's rows of one (workspace, MPID) table; the number deleted."""
    t = table(name)
    result = conn.execute(delete(t).where(t.c.workspace_id == subject.workspace_id, _of_subject(t, subject)))
    return int(result.rowcount or 0)


def _of_subject(t: Table, subject: Subject) -> Any:
    mpids = sorted(subject.mpids) or [0]
    clause: Any = t.c.mpid.in_(mpids)
    if t.name == "identity_links":
        # A link of one of the subject's identity values to any profile is theirs too.
        for identity_type, values in subject.identities.items():
            clause = or_(
                clause,
                (t.c.identity_type == canonical(identity_type)) & t.c.identity_value.in_(sorted(values)),
            )
    if t.name == "identity_history":
        clause = or_(clause, t.c.other_mpid.in_(mpids))
    return clause


def alias_rows(conn: Connection, subject: Subject, *, remove: bool) -> int:
    """Alias requests from or to the subject's profiles (deleted when ``remove``); their number."""
    t = table("alias_requests")
    mpids = sorted(subject.mpids) or [0]
    where = (t.c.workspace_id == subject.workspace_id) & (
        t.c.source_mpid.in_(mpids) | t.c.destination_mpid.in_(mpids)
    )
    if remove:
        return int(conn.execute(delete(t).where(where)).rowcount or 0)
    return len(conn.execute(select(t.c.id).where(where)).all())


def batch_mentions(payload: bytes, subject: Subject) -> bool:
    """Whether a batch (JSON bytes) is of the subject: its MPID, or any identity value, anywhere in it."""
    values = subject.values()
    try:
        batch = json.loads(payload)
    except ValueError:  # an undecodable parked batch: match on the bytes
        text = payload.decode("utf-8", "replace")
        return any(v in text for v in values) or any(str(m) in text for m in subject.mpids)
    if isinstance(batch, dict):
        mpid = batch.get("mpid")
        if mpid is not None and str(mpid) in {str(m) for m in subject.mpids}:
            return True
    return any(leaf in values for leaf in _strings(batch))


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def inbox_rows(conn: Connection, subject: Subject) -> list[tuple[int, bytes]]:
    """The inbox batches (pending or parked) of the subject: id and payload."""
    t = table("inbox")
    rows = conn.execute(select(t.c.id, t.c.payload).where(t.c.workspace_id == subject.workspace_id))
    return [(int(i), bytes(p)) for i, p in rows if batch_mentions(bytes(p), subject)]


def delete_inbox_rows(conn: Connection, ids: list[int]) -> int:
    """Delete inbox batches by id."""
    if not ids:
        return 0
    t = table("inbox")
    return int(conn.execute(delete(t).where(t.c.id.in_(ids))).rowcount or 0)
