"""Calculated attributes and audiences: definitions, per-user state, memberships and their change queue.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "calculated_attributes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("workspace_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("draft_definition", sa.Text, nullable=True),
        sa.Column("active_definition", sa.Text, nullable=True),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("created_by", sa.String(256), nullable=False),
        sa.Column("modified_ms", sa.BigInteger, nullable=False),
        sa.Column("modified_by", sa.String(256), nullable=False),
        sa.Column("activated_ms", sa.BigInteger, nullable=True),
        sa.Column("activated_by", sa.String(256), nullable=True),
        sa.Column("calculation", sa.String(16), nullable=False),
        sa.Column("calculation_done", sa.BigInteger, nullable=False),
        sa.Column("calculation_total", sa.BigInteger, nullable=False),
        sa.Column("calculated_ms", sa.BigInteger, nullable=True),
        sa.Column("evaluated_ms", sa.BigInteger, nullable=True),
        sa.Column("lag_ms", sa.BigInteger, nullable=True),
        sa.UniqueConstraint("workspace_id", "name", name="uq_calculated_attributes_name"),
    )
    op.create_table(
        "calculated_state",
        sa.Column("workspace_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("mpid", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("attribute_values", sa.Text, nullable=False),
        sa.Column("next_expiry_ms", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_calculated_state_expiry", "calculated_state", ["next_expiry_ms"])
    op.create_table(
        "calculated_seeds",
        sa.Column("attribute_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("mpid", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("workspace_id", sa.Integer, nullable=False),
        sa.Column("cutoff_ms", sa.BigInteger, nullable=False),
        sa.Column("seed", sa.Text, nullable=False),
        sa.Column("received_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "audiences",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("workspace_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("external_name", sa.String(100), nullable=False),
        sa.Column("tags", sa.Text, nullable=False),
        sa.Column("definition", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("created_by", sa.String(256), nullable=False),
        sa.Column("modified_ms", sa.BigInteger, nullable=False),
        sa.Column("modified_by", sa.String(256), nullable=False),
        sa.Column("backfill", sa.String(16), nullable=False),
        sa.Column("backfill_done", sa.BigInteger, nullable=False),
        sa.Column("backfill_total", sa.BigInteger, nullable=False),
        sa.Column("evaluated_ms", sa.BigInteger, nullable=True),
        sa.Column("lag_ms", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_audiences_workspace_id", "audiences", ["workspace_id"])
    op.create_table(
        "audience_state",
        sa.Column("workspace_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("mpid", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("matches", sa.Text, nullable=False),
        sa.Column("next_check_ms", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_audience_state_check", "audience_state", ["next_check_ms"])
    op.create_table(
        "audience_memberships",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("workspace_id", sa.Integer, nullable=False),
        sa.Column("audience_id", sa.Integer, nullable=False),
        sa.Column("mpid", sa.BigInteger, nullable=False),
        sa.Column("added_ms", sa.BigInteger, nullable=False),
        sa.Column("removed_ms", sa.BigInteger, nullable=True),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_audience_memberships_user", "audience_memberships", ["workspace_id", "mpid", "removed_ms"]
    )
    op.create_index("ix_audience_memberships_audience", "audience_memberships", ["audience_id", "removed_ms"])
    op.create_table(
        "audience_changes",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("workspace_id", sa.Integer, nullable=False),
        sa.Column("audience_id", sa.Integer, nullable=False),
        sa.Column("mpid", sa.BigInteger, nullable=False),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("at_ms", sa.BigInteger, nullable=False),
        sa.Column("accepted_ms", sa.BigInteger, nullable=True),
        sa.Column("user_identities", sa.Text, nullable=False),
        sa.Column("device_identities", sa.Text, nullable=False),
        sa.Column("user_attributes", sa.Text, nullable=False),
        sa.Column("delivered_ms", sa.BigInteger, nullable=True),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_audience_changes_audience", "audience_changes", ["audience_id", "id"])
    op.create_index("ix_audience_changes_undelivered", "audience_changes", ["delivered_ms", "id"])


def downgrade() -> None:
    for table in (
        "audience_changes",
        "audience_memberships",
        "audience_state",
        "audiences",
        "calculated_seeds",
        "calculated_state",
        "calculated_attributes",
    ):
        op.drop_table(table)
