"""Data plans: plans and versions, per-input default plans, batch verdicts and the quarantine.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _id() -> sa.Column[int]:
    return sa.Column(
        "id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
    )


def upgrade() -> None:
    op.create_table(
        "data_plans",
        sa.Column("workspace_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("data_plan_id", sa.String(200), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("modified_ms", sa.BigInteger, nullable=False),
        sa.Column("modified_by", sa.String(200), nullable=False),
    )
    op.create_table(
        "data_plan_versions",
        sa.Column("workspace_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("data_plan_id", sa.String(200), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("activated_environment", sa.String(20), nullable=False),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("blocking", sa.Text, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("modified_ms", sa.BigInteger, nullable=False),
        sa.Column("modified_by", sa.String(200), nullable=False),
    )
    op.create_table(
        "input_data_plans",
        sa.Column("input_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("workspace_id", sa.Integer, nullable=False),
        sa.Column("data_plan_id", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer, nullable=True),
    )
    op.create_table(
        "batch_verdicts",
        _id(),
        sa.Column("workspace_id", sa.Integer, nullable=False),
        sa.Column("input_id", sa.Integer, nullable=False),
        sa.Column("inbox_id", sa.BigInteger, nullable=False),
        sa.Column("mpid", sa.BigInteger, nullable=False),
        sa.Column("received_ms", sa.BigInteger, nullable=False),
        sa.Column("processed_ms", sa.BigInteger, nullable=False),
        sa.Column("environment", sa.String(20), nullable=False),
        sa.Column("data_plan_id", sa.String(200), nullable=True),
        sa.Column("version", sa.Integer, nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("error_count", sa.Integer, nullable=False),
        sa.Column("blocked", sa.String(200), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_batch_verdicts_workspace", "batch_verdicts", ["workspace_id", "id"])
    op.create_index("ix_batch_verdicts_processed", "batch_verdicts", ["processed_ms"])
    op.create_table(
        "quarantine",
        _id(),
        sa.Column("workspace_id", sa.Integer, nullable=False),
        sa.Column("input_id", sa.Integer, nullable=False),
        sa.Column("inbox_id", sa.BigInteger, nullable=False),
        sa.Column("mpid", sa.BigInteger, nullable=False),
        sa.Column("received_ms", sa.BigInteger, nullable=False),
        sa.Column("quarantined_ms", sa.BigInteger, nullable=False),
        sa.Column("environment", sa.String(20), nullable=False),
        sa.Column("data_plan_id", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("reasons", sa.String(200), nullable=False),
        sa.Column("event_names", sa.Text, nullable=False),
        sa.Column("batch", sa.LargeBinary, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("replay_job", sa.String(40), nullable=True),
        sa.Column("replayed_ms", sa.BigInteger, nullable=True),
        sa.Column("replay_outcome", sa.String(40), nullable=True),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_quarantine_workspace", "quarantine", ["workspace_id", "data_plan_id", "version", "quarantined_ms"]
    )
    op.create_index("ix_quarantine_replay", "quarantine", ["replay_job"])


def downgrade() -> None:
    op.drop_index("ix_quarantine_replay", "quarantine")
    op.drop_index("ix_quarantine_workspace", "quarantine")
    op.drop_index("ix_batch_verdicts_processed", "batch_verdicts")
    op.drop_index("ix_batch_verdicts_workspace", "batch_verdicts")
    for table in ("quarantine", "batch_verdicts", "input_data_plans", "data_plan_versions", "data_plans"):
        op.drop_table(table)
