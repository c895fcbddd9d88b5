"""Profile tables: one row per (workspace, MPID), the identities that point at it, and attribute history."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, SmallInteger, String, Table, Text

from fermion.store import metadata

profiles = Table(
    "profiles",
    metadata,
    Column("workspace_id", Integer, primary_key=True, autoincrement=False),
    Column("mpid", BigInteger, primary_key=True, autoincrement=False),
    Column("provisional", SmallInteger, nullable=False, default=0),
    Column("user_attributes", Text, nullable=False),  # JSON object
    Column("user_identities", Text, nullable=False),  # JSON object: identity type → value
    Column("device_identities", Text, nullable=False),  # JSON object: device id type → value
    Column("consent_state", Text, nullable=False),  # JSON object in the batch's consent_state shape
    Column("first_seen_ms", BigInteger, nullable=False),
    Column("last_seen_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
)

profile_identities = Table(
    "profile_identities",
    metadata,
    Column("workspace_id", Integer, primary_key=True, autoincrement=False),
    Column("identity_type", String(60), primary_key=True),
    Column("identity_value", String(512), primary_key=True),
    Column("mpid", BigInteger, nullable=False, index=True),
    Column("updated_ms", BigInteger, nullable=False),
)

profile_attribute_changes = Table(
    "profile_attribute_changes",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("workspace_id", Integer, nullable=False),
    Column("mpid", BigInteger, nullable=False),
    Column("at_ms", BigInteger, nullable=False),  # when the batch that changed it arrived
    Column("name", Text, nullable=False),
    Column("old_value", Text, nullable=True),  # JSON; NULL when the attribute did not exist
    Column("new_value", Text, nullable=True),  # JSON; NULL when the change deleted it
    Column("deleted", SmallInteger, nullable=False),
    Index("ix_profile_attribute_changes_profile", "workspace_id", "mpid", "id"),
    sqlite_autoincrement=True,
)
