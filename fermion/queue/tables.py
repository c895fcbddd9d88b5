"""Durable queue tables: the inbox, its partition leases, and the source_request_id de-duplication keys."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, LargeBinary, SmallInteger, String, Table, Text

from fermion.store import metadata

# One row per accepted batch, committed before the 202. Deleted once processed; parked rows stay with
# their error until replayed.
inbox = Table(
    "inbox",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("workspace_id", Integer, nullable=False),
    Column("input_id", Integer, nullable=False),
    Column("partition", SmallInteger, nullable=False),
    Column("user_key", String(300), nullable=False),
    Column("received_ms", BigInteger, nullable=False),
    Column("channel", String(30), nullable=False),
    Column("historical", SmallInteger, nullable=False, default=0),
    Column("payload", LargeBinary, nullable=False),
    Column("status", SmallInteger, nullable=False, default=0),  # 0 pending, 1 parked
    Column("attempts", SmallInteger, nullable=False, default=0),
    Column("error", Text, nullable=True),
    Column("parked_ms", BigInteger, nullable=True),
    Index("ix_inbox_status_id", "status", "id"),
    sqlite_autoincrement=True,  # ids are never reused: event uids and new MPIDs derive from them
)

# Which worker holds which inbox partition, until when. One holder per partition keeps per-user order.
inbox_partitions = Table(
    "inbox_partitions",
    metadata,
    Column("partition", SmallInteger, primary_key=True, autoincrement=False),
    Column("owner", String(80), nullable=True),
    Column("lease_until_ms", BigInteger, nullable=False, default=0),
)

# Live workers, so that partitions are shared fairly.
inbox_workers = Table(
    "inbox_workers",
    metadata,
    Column("worker_id", String(80), primary_key=True),
    Column("heartbeat_ms", BigInteger, nullable=False),
)

# source_request_id values already accepted, per input (mParticle keeps them 30–60 days).
source_requests = Table(
    "source_requests",
    metadata,
    Column("input_id", Integer, primary_key=True, autoincrement=False),
    Column("source_request_id", String(300), primary_key=True),
    Column("received_ms", BigInteger, nullable=False, index=True),
)
