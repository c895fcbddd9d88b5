"""Audience tables: definitions, per-user event state, membership history and the change queue."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text

from fermion.store import metadata

audiences = Table(
    "audiences",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("workspace_id", Integer, nullable=False, index=True),
    Column("name", String(100), nullable=False),
    Column("external_name", String(100), nullable=False),
    Column("tags", Text, nullable=False),  # JSON list of strings
    Column("definition", Text, nullable=False),  # JSON criteria
    Column("status", String(16), nullable=False),  # active
    Column("revision", Integer, nullable=False),  # bumped at each definition change
    Column("created_ms", BigInteger, nullable=False),
    Column("created_by", String(256), nullable=False),
    Column("modified_ms", BigInteger, nullable=False),
    Column("modified_by", String(256), nullable=False),
    Column("backfill", String(16), nullable=False),  # pending | running | done
    Column("backfill_done", BigInteger, nullable=False),
    Column("backfill_total", BigInteger, nullable=False),
    Column("evaluated_ms", BigInteger, nullable=True),  # last evaluation by a batch, the sweep or a backfill
    Column("lag_ms", BigInteger, nullable=True),  # acceptance → evaluation at that time
)

audience_state = Table(
    "audience_state",
    metadata,
    Column("workspace_id", Integer, primary_key=True, autoincrement=False),
    Column("mpid", BigInteger, primary_key=True, autoincrement=False),
    Column("matches", Text, nullable=False),  # JSON: event matcher key → timestamps of matching events
    Column("next_check_ms", BigInteger, nullable=True),  # when an event leaves a criterion's window
    Index("ix_audience_state_check", "next_check_ms"),
)

audience_memberships = Table(
    "audience_memberships",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("workspace_id", Integer, nullable=False),
    Column("audience_id", Integer, nullable=False),
    Column("mpid", BigInteger, nullable=False),
    Column("added_ms", BigInteger, nullable=False),
    Column("removed_ms", BigInteger, nullable=True),  # NULL while a member
    Index("ix_audience_memberships_user", "workspace_id", "mpid", "removed_ms"),
    Index("ix_audience_memberships_audience", "audience_id", "removed_ms"),
    Index("ix_audience_memberships_members", "audience_id", "mpid"),  # an initial sync pages by MPID
    sqlite_autoincrement=True,
)

audience_changes = Table(
    "audience_changes",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("workspace_id", Integer, nullable=False),
    Column("audience_id", Integer, nullable=False),
    Column("mpid", BigInteger, nullable=False),
    Column("action", String(8), nullable=False),  # add | delete
    Column("at_ms", BigInteger, nullable=False),
    Column("accepted_ms", BigInteger, nullable=True),  # when the batch that caused it was accepted
    Column("user_identities", Text, nullable=False),  # JSON
    Column("device_identities", Text, nullable=False),  # JSON
    Column("user_attributes", Text, nullable=False),  # JSON: user and calculated attributes to share
    Column("delivered_ms", BigInteger, nullable=True),  # set by the outputs stage
    Index("ix_audience_changes_audience", "audience_id", "id"),
    Index("ix_audience_changes_undelivered", "delivered_ms", "id"),
    sqlite_autoincrement=True,
)
