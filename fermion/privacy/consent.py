"""Consent history: each change of a profile's consent, per regulation and purpose, as batches apply.

The profile keeps the current ``consent_state`` (profiles context); this keeps how it got there. A purpose
changes when a batch brings a state that differs from the stored one in any field.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from fermion.privacy.consent_rules import consent_notifications
from fermion.privacy.tables import consent_history
from fermion.profiles import ProfileStore, ProfileUpdate
from fermion.store import reading


@dataclass(frozen=True)
class ConsentChange:
    """One change of one purpose: ``old`` is None when the purpose was new to the profile."""

    at_ms: int
    regulation: str
    purpose: str
    old: dict[str, Any] | None
    new: dict[str, Any]


class ConsentHistory:
    """Records and reads consent changes."""

    def __init__(self, engine: Engine, profiles: ProfileStore) -> None:
        self._engine = engine
        self._profiles = profiles

    def record(
        self, conn: Connection, updates: Sequence[ProfileUpdate], now_ms: int
    ) -> list[list[dict[str, Any]]]:
        """Record what ``updates`` change, before the profile store applies them. Returns, per update, its
        consent changes as the system notifications outputs receive (spec activation §7.5)."""
        notes: list[list[dict[str, Any]]] = [[] for _ in updates]
        touched = [u for u in updates if u.consent_state]
        if not touched:
            return notes
        current: dict[tuple[int, int], dict[str, dict[str, Any]]] = {}
        by_workspace: dict[int, set[int]] = {}
        for u in touched:
            by_workspace.setdefault(u.workspace_id, set()).add(u.mpid)
        for workspace_id, mpids in by_workspace.items():
            for mpid, profile in self._profiles.read_many(conn, workspace_id, mpids).items():
                current[(workspace_id, mpid)] = {k: dict(v) for k, v in profile.consent_state.items()}
        rows = []
        for index, u in enumerate(updates):
            if not u.consent_state:
                continue
            state = current.setdefault((u.workspace_id, u.mpid), {})
            notes[index] = consent_notifications(state, u.consent_state)
            for regulation, purposes in u.consent_state.items():
                if not isinstance(purposes, dict):
                    continue
                for purpose, new in purposes.items():
                    old = state.get(regulation, {}).get(purpose)
                    if old == new:
                        continue
                    rows.append(
                        {
                            "workspace_id": u.workspace_id,
                            "mpid": u.mpid,
                            "at_ms": now_ms,
                            "regulation": regulation,
                            "purpose": purpose,
                            "old_state": None if old is None else json.dumps(old, sort_keys=True),
                            "new_state": json.dumps(new, sort_keys=True),
                        }
                    )
                    state.setdefault(regulation, {})[purpose] = new
        if rows:
            conn.execute(insert(consent_history), rows)
        return notes

    def of(self, workspace_id: int, mpid: int) -> list[ConsentChange]:
        """A profile's consent changes, oldest first."""
        query = (
            select(consent_history)
            .where(consent_history.c.workspace_id == workspace_id, consent_history.c.mpid == mpid)
            .order_by(consent_history.c.id)
        )
        with reading(self._engine) as conn:
            return [
                ConsentChange(
                    int(r.at_ms),
                    r.regulation,
                    r.purpose,
                    None if r.old_state is None else json.loads(r.old_state),
                    json.loads(r.new_state),
                )
                for r in conn.execute(query)
            ]
