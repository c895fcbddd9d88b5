"""Identity strategies and each workspace's identity settings."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite

from fermion.errors import BadRequest
from fermion.identity.names import DEFAULT_PRIORITY, canonical
from fermion.identity.tables import identity_settings

STRATEGIES = ("default", "profile_conversion", "profile_link", "profile_isolation", "best_match")
_STRATEGY_IDS: dict[str, tuple[str, ...]] = {
    "default": ("customer_id",),
    "profile_conversion": ("customer_id",),
    "profile_link": ("customer_id", "email"),
    "profile_isolation": ("customer_id", "email"),
    "best_match": (),
}


@dataclass(frozen=True)
class IdentitySettings:
    """How IDSync decides in one workspace (identity scope: the workspace)."""

    strategy: str = "default"
    login_ids: frozenset[str] = frozenset({"customer_id"})
    unique_ids: frozenset[str] = frozenset({"customer_id"})
    immutable_ids: frozenset[str] = frozenset()
    priority: tuple[str, ...] = DEFAULT_PRIORITY

    @classmethod
    def for_strategy(
        cls,
        strategy: str,
        *,
        login_ids: list[str] | None = None,
        unique_ids: list[str] | None = None,
        immutable_ids: list[str] | None = None,
        priority: list[str] | None = None,
    ) -> IdentitySettings:
        """Settings of ``strategy`` with its defaults; only profile conversion takes other ID sets."""
        if strategy not in STRATEGIES:
            raise BadRequest(f"Identity strategy must be one of {', '.join(STRATEGIES)}, not {strategy!r}.")
        ids = _STRATEGY_IDS[strategy]
        if strategy != "profile_conversion" and (login_ids or unique_ids):
            raise BadRequest(
                f"The {strategy} strategy has fixed login and unique IDs; use profile_conversion."
            )
        login = frozenset(canonical(n) for n in (login_ids if login_ids is not None else ids))
        unique = frozenset(canonical(n) for n in (unique_ids if unique_ids is not None else ids))
        immutable = frozenset(canonical(n) for n in (immutable_ids or ()))
        if not immutable <= (login & unique):
            raise BadRequest("Immutable IDs must also be login IDs and unique IDs.")
        order = tuple(canonical(n) for n in priority) if priority else DEFAULT_PRIORITY
        order = order + tuple(n for n in DEFAULT_PRIORITY if n not in order)
        return cls(strategy, login, unique, immutable, order)


def load_settings(conn: Connection, workspace_id: int) -> IdentitySettings:
    """The workspace's identity settings (the default strategy when none were set)."""
    row = conn.execute(
        select(identity_settings).where(identity_settings.c.workspace_id == workspace_id)
    ).first()
    if row is None:
        return IdentitySettings()
    return IdentitySettings(
        strategy=row.strategy,
        login_ids=frozenset(json.loads(row.login_ids)),
        unique_ids=frozenset(json.loads(row.unique_ids)),
        immutable_ids=frozenset(json.loads(row.immutable_ids)),
        priority=tuple(json.loads(row.priority)),
    )


def save_settings(conn: Connection, workspace_id: int, settings: IdentitySettings, now_ms: int) -> None:
    """Store the workspace's identity settings."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    values = {
        "strategy": settings.strategy,
        "login_ids": json.dumps(sorted(settings.login_ids)),
        "unique_ids": json.dumps(sorted(settings.unique_ids)),
        "immutable_ids": json.dumps(sorted(settings.immutable_ids)),
        "priority": json.dumps(list(settings.priority)),
        "updated_ms": now_ms,
    }
    statement = insert(identity_settings).values(workspace_id=workspace_id, **values)
    conn.execute(statement.on_conflict_do_update(index_elements=["workspace_id"], set_=values))
