"""Identity graph tables: profiles known to IDSync, identity links, the history of every decision, aliases."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, SmallInteger, String, Table, Text

from fermion.store import metadata

identity_settings = Table(
    "identity_settings",
    metadata,
    Column("workspace_id", Integer, primary_key=True, autoincrement=False),
    Column("strategy", String(40), nullable=False),
    Column("login_ids", Text, nullable=False),  # JSON list of identity types
    Column("unique_ids", Text, nullable=False),
    Column("immutable_ids", Text, nullable=False),
    Column("priority", Text, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
)

identity_profiles = Table(
    "identity_profiles",
    metadata,
    Column("workspace_id", Integer, primary_key=True, autoincrement=False),
    Column("mpid", BigInteger, primary_key=True, autoincrement=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("orphaned", SmallInteger, nullable=False, default=0),
)

identity_links = Table(
    "identity_links",
    metadata,
    Column("workspace_id", Integer, primary_key=True, autoincrement=False),
    Column("identity_type", String(60), primary_key=True),
    Column("identity_value", String(512), primary_key=True),
    Column("mpid", BigInteger, primary_key=True, autoincrement=False),
    Column("created_ms", BigInteger, nullable=False),
    # Covering, so that loading a profile's links never falls back to scanning the workspace.
    Index("ix_identity_links_mpid", "workspace_id", "mpid", "identity_type", "identity_value"),
)

identity_history = Table(
    "identity_history",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("workspace_id", Integer, nullable=False),
    Column("mpid", BigInteger, nullable=False),
    Column("at_ms", BigInteger, nullable=False),
    Column("action", String(40), nullable=False),
    Column("identity_type", String(60), nullable=True),
    Column("identity_value", String(512), nullable=True),
    Column("other_mpid", BigInteger, nullable=True),
    Column("rule", Text, nullable=False),
    Column("cause", String(200), nullable=False),
    Index("ix_identity_history_mpid", "workspace_id", "mpid", "id"),
    sqlite_autoincrement=True,
)

alias_requests = Table(
    "alias_requests",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("workspace_id", Integer, nullable=False),
    Column("source_mpid", BigInteger, nullable=False),
    Column("destination_mpid", BigInteger, nullable=False),
    Column("start_ms", BigInteger, nullable=False),
    Column("end_ms", BigInteger, nullable=False),
    Column("requested_ms", BigInteger, nullable=False),
    Column("due_ms", BigInteger, nullable=False),
    Column("status", String(20), nullable=False),  # pending | done | failed
    Column("result", Text, nullable=True),
    Column("request_id", String(100), nullable=True),
    Index("ix_alias_requests_due", "status", "due_ms"),
    sqlite_autoincrement=True,
)
