"""Calculated attribute tables: definitions, one state row per user, and seeds."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text, UniqueConstraint

from fermion.store import metadata

calculated_attributes = Table(
    "calculated_attributes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("workspace_id", Integer, nullable=False),
    Column("name", String(256), nullable=False),
    Column("description", Text, nullable=True),
    Column("draft_definition", Text, nullable=True),  # JSON
    Column("active_definition", Text, nullable=True),  # JSON
    Column("revision", Integer, nullable=False),  # bumped at each activation
    Column("created_ms", BigInteger, nullable=False),
    Column("created_by", String(256), nullable=False),
    Column("modified_ms", BigInteger, nullable=False),
    Column("modified_by", String(256), nullable=False),
    Column("activated_ms", BigInteger, nullable=True),
    Column("activated_by", String(256), nullable=True),
    Column("calculation", String(16), nullable=False),  # none | pending | running | done
    Column("calculation_done", BigInteger, nullable=False),  # events scanned by the backfill
    Column("calculation_total", BigInteger, nullable=False),
    Column("calculated_ms", BigInteger, nullable=True),  # when the backfill finished
    Column("evaluated_ms", BigInteger, nullable=True),  # last time events or the clock updated values
    Column("lag_ms", BigInteger, nullable=True),  # acceptance → evaluation at that time
    UniqueConstraint("workspace_id", "name", name="uq_calculated_attributes_name"),
)

calculated_state = Table(
    "calculated_state",
    metadata,
    Column("workspace_id", Integer, primary_key=True, autoincrement=False),
    Column("mpid", BigInteger, primary_key=True, autoincrement=False),
    Column("state", Text, nullable=False),  # JSON: attribute id → running state or windowed observations
    Column("attribute_values", Text, nullable=False),  # JSON: attribute name → string value
    Column("next_expiry_ms", BigInteger, nullable=True),  # when a windowed observation leaves its window
    Index("ix_calculated_state_expiry", "next_expiry_ms"),
)

calculated_seeds = Table(
    "calculated_seeds",
    metadata,
    Column("attribute_id", Integer, primary_key=True, autoincrement=False),
    Column("mpid", BigInteger, primary_key=True, autoincrement=False),
    Column("workspace_id", Integer, nullable=False),
    Column("cutoff_ms", BigInteger, nullable=False),
    Column("seed", Text, nullable=False),  # JSON: the folded state the seed stands for
    Column("received_ms", BigInteger, nullable=False),
)
