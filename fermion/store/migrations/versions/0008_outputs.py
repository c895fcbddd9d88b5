"""Outputs and connections, the per-output delivery queue, the delivery ledger and output state.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "outputs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("workspace_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("integration", sa.String(64), nullable=False),
        sa.Column("settings", sa.Text, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_outputs_workspace_id", "outputs", ["workspace_id"])
    op.create_table(
        "output_connections",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("workspace_id", sa.Integer, nullable=False),
        sa.Column("output_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("input_id", sa.Integer, nullable=True),
        sa.Column("audience_id", sa.Integer, nullable=True),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("settings", sa.Text, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_output_connections_workspace_id", "output_connections", ["workspace_id"])
    op.create_index("ix_output_connections_output_id", "output_connections", ["output_id"])
    op.create_table(
        "output_deliveries",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("output_id", sa.Integer, nullable=False),
        sa.Column("connection_id", sa.Integer, nullable=False),
        sa.Column("workspace_id", sa.Integer, nullable=False),
        sa.Column("mpid", sa.BigInteger, nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("payload_id", sa.BigInteger, nullable=True),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_ms", sa.BigInteger, nullable=False),
        sa.Column("lease_until_ms", sa.BigInteger, nullable=True),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("finished_ms", sa.BigInteger, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_output_deliveries_due", "output_deliveries", ["output_id", "status", "next_attempt_ms"]
    )
    op.create_index("ix_output_deliveries_user", "output_deliveries", ["workspace_id", "mpid"])
    op.create_table(
        "output_payloads",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("payload", sa.Text, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "output_ledger",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("delivery_id", sa.BigInteger, nullable=False),
        sa.Column("output_id", sa.Integer, nullable=False),
        sa.Column("workspace_id", sa.Integer, nullable=False),
        sa.Column("mpid", sa.BigInteger, nullable=True),
        sa.Column("at_ms", sa.BigInteger, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("next_attempt_ms", sa.BigInteger, nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_output_ledger_output", "output_ledger", ["output_id", "at_ms"])
    op.create_index("ix_output_ledger_user", "output_ledger", ["workspace_id", "mpid", "at_ms"])
    op.create_table(
        "output_state",
        sa.Column("output_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("key", sa.String(256), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    tables = ("output_state", "output_ledger", "output_payloads", "output_deliveries", "output_connections")
    for name in (*tables, "outputs"):
        op.drop_table(name)
