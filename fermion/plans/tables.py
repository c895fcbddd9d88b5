"""Data plan tables: plans and versions, per-input default plans, batch verdicts, and the quarantine."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, LargeBinary, String, Table, Text

from fermion.store import metadata

data_plans = Table(
    "data_plans",
    metadata,
    Column("workspace_id", Integer, primary_key=True, autoincrement=False),
    Column("data_plan_id", String(200), primary_key=True),
    Column("name", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("modified_ms", BigInteger, nullable=False),
    Column("modified_by", String(200), nullable=False),
)

data_plan_versions = Table(
    "data_plan_versions",
    metadata,
    Column("workspace_id", Integer, primary_key=True, autoincrement=False),
    Column("data_plan_id", String(200), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("description", Text, nullable=False),
    Column("activated_environment", String(20), nullable=False),
    Column("document", Text, nullable=False),  # the version document as sent (JSON)
    Column("blocking", Text, nullable=False),  # JSON object of the four switches
    Column("created_ms", BigInteger, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("modified_ms", BigInteger, nullable=False),
    Column("modified_by", String(200), nullable=False),
)

# The plan a batch from an input is validated against when it names none.
input_data_plans = Table(
    "input_data_plans",
    metadata,
    Column("input_id", Integer, primary_key=True, autoincrement=False),
    Column("workspace_id", Integer, nullable=False),
    Column("data_plan_id", String(200), nullable=False),
    Column("version", Integer, nullable=True),  # None: the latest version active in the batch's environment
)

# One row per processed batch: its validation verdict and a summary, read by the API and the live stream.
batch_verdicts = Table(
    "batch_verdicts",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("workspace_id", Integer, nullable=False),
    Column("input_id", Integer, nullable=False),
    Column("inbox_id", BigInteger, nullable=False),
    Column("mpid", BigInteger, nullable=False),
    Column("received_ms", BigInteger, nullable=False),
    Column("processed_ms", BigInteger, nullable=False),
    Column("environment", String(20), nullable=False),
    Column("data_plan_id", String(200), nullable=True),
    Column("version", Integer, nullable=True),
    Column("status", String(20), nullable=False),
    Column("error_count", Integer, nullable=False),
    Column("blocked", String(200), nullable=False),  # comma-separated block reasons, "" when none
    Column("summary", Text, nullable=False),  # JSON: events, identity decision, results, block metadata
    Index("ix_batch_verdicts_workspace", "workspace_id", "id"),
    Index("ix_batch_verdicts_processed", "processed_ms"),
    sqlite_autoincrement=True,
)

# Blocked data, never dropped: the original batch with its block metadata, until replayed.
quarantine = Table(
    "quarantine",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("workspace_id", Integer, nullable=False),
    Column("input_id", Integer, nullable=False),
    Column("inbox_id", BigInteger, nullable=False),
    Column("mpid", BigInteger, nullable=False),
    Column("received_ms", BigInteger, nullable=False),
    Column("quarantined_ms", BigInteger, nullable=False),
    Column("environment", String(20), nullable=False),
    Column("data_plan_id", String(200), nullable=False),
    Column("version", Integer, nullable=False),
    Column("reasons", String(200), nullable=False),  # comma-separated block reasons
    Column("event_names", Text, nullable=False),  # JSON array of the blocked events' names
    Column("batch", LargeBinary, nullable=False),  # original batch JSON with context.data_plan.block_metadata
    Column("status", String(20), nullable=False),  # quarantined | replaying | replayed
    Column("replay_job", String(40), nullable=True),
    Column("replayed_ms", BigInteger, nullable=True),
    Column("replay_outcome", String(40), nullable=True),  # stored | quarantined again
    Index("ix_quarantine_workspace", "workspace_id", "data_plan_id", "version", "quarantined_ms"),
    Index("ix_quarantine_replay", "replay_job"),
    sqlite_autoincrement=True,
)
