"""Output tables: outputs, connections, the per-output delivery queue, the delivery ledger, output state."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, String, Table, Text

from fermion.store import metadata

_ID = BigInteger().with_variant(Integer, "sqlite")

outputs = Table(
    "outputs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("workspace_id", Integer, nullable=False, index=True),
    Column("name", String(256), nullable=False),
    Column("integration", String(64), nullable=False),
    Column("settings", Text, nullable=False),  # JSON, validated against the integration's schema
    Column("created_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=True),  # last change of name or settings
    Column("faulted_ms", BigInteger, nullable=True),  # set while the destination refuses the credentials
    Column("fault_reason", Text, nullable=True),
)

connections = Table(
    "output_connections",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("workspace_id", Integer, nullable=False, index=True),
    Column("output_id", Integer, nullable=False, index=True),
    Column("kind", String(16), nullable=False),  # event | audience
    Column("input_id", Integer, nullable=True),  # event connections
    Column("audience_id", Integer, nullable=True),  # audience connections
    Column("active", Boolean, nullable=False),
    Column("settings", Text, nullable=False),  # JSON: filter, sampling, rules, transformations, sharing
    Column("created_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=True),  # last change of settings or status
)

deliveries = Table(
    "output_deliveries",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("output_id", Integer, nullable=False),
    Column("connection_id", Integer, nullable=False),
    Column("workspace_id", Integer, nullable=False),
    Column("mpid", BigInteger, nullable=True),
    Column("kind", String(16), nullable=False),  # batch | membership
    Column("payload", Text, nullable=False),  # JSON sent; empty when payload_id is set
    Column("payload_id", BigInteger, nullable=True),  # a payload several connections share
    Column("status", String(12), nullable=False),  # pending | delivered | rejected | skipped | dead
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_ms", BigInteger, nullable=False),
    Column("lease_until_ms", BigInteger, nullable=True),
    Column("created_ms", BigInteger, nullable=False),
    Column("finished_ms", BigInteger, nullable=True),
    Column("last_error", Text, nullable=True),
    Index("ix_output_deliveries_due", "output_id", "status", "next_attempt_ms"),
    Index("ix_output_deliveries_user", "workspace_id", "mpid"),
    sqlite_autoincrement=True,
)

payloads = Table(
    "output_payloads",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("payload", Text, nullable=False),
    sqlite_autoincrement=True,
)

ledger = Table(
    "output_ledger",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("delivery_id", BigInteger, nullable=False),
    Column("output_id", Integer, nullable=False),
    Column("workspace_id", Integer, nullable=False),
    Column("mpid", BigInteger, nullable=True),
    Column("at_ms", BigInteger, nullable=False),
    Column(
        "outcome", String(16), nullable=False
    ),  # queued | delivered | rejected | skipped | retrying | dead_lettered | redriven | faulted | dropped
    Column("attempt", Integer, nullable=False),
    Column("next_attempt_ms", BigInteger, nullable=True),
    Column("reason", Text, nullable=True),
    Index("ix_output_ledger_output", "output_id", "at_ms"),
    Index("ix_output_ledger_user", "workspace_id", "mpid", "at_ms"),
    sqlite_autoincrement=True,
)

output_state = Table(
    "output_state",
    metadata,
    Column("output_id", Integer, primary_key=True, autoincrement=False),
    Column("key", String(256), primary_key=True),
    Column("value", Text, nullable=False),
)

audience_syncs = Table(
    "output_audience_syncs",
    metadata,
    Column("connection_id", Integer, primary_key=True, autoincrement=False),
    Column("audience_id", Integer, nullable=False),
    Column("status", String(8), nullable=False),  # running | done
    Column("after_mpid", BigInteger, nullable=True),  # the last member queued (members are paged by MPID)
    Column("queued", BigInteger, nullable=False),  # members sent to the connection's processing so far
    Column("started_ms", BigInteger, nullable=False),
    Column("finished_ms", BigInteger, nullable=True),
)
