"""Identity graph: settings per workspace, profiles, links, decision history, alias requests.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _autoid() -> sa.Column[int]:
    return sa.Column(
        "id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
    )


def upgrade() -> None:
    op.create_table(
        "identity_settings",
        sa.Column("workspace_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("strategy", sa.String(40), nullable=False),
        sa.Column("login_ids", sa.Text, nullable=False),
        sa.Column("unique_ids", sa.Text, nullable=False),
        sa.Column("immutable_ids", sa.Text, nullable=False),
        sa.Column("priority", sa.Text, nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "identity_profiles",
        sa.Column("workspace_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("mpid", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("orphaned", sa.SmallInteger, nullable=False),
    )
    op.create_table(
        "identity_links",
        sa.Column("workspace_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("identity_type", sa.String(60), primary_key=True),
        sa.Column("identity_value", sa.String(512), primary_key=True),
        sa.Column("mpid", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
    )
    op.create_index(
        "ix_identity_links_mpid",
        "identity_links",
        ["workspace_id", "mpid", "identity_type", "identity_value"],
    )
    op.create_table(
        "identity_history",
        _autoid(),
        sa.Column("workspace_id", sa.Integer, nullable=False),
        sa.Column("mpid", sa.BigInteger, nullable=False),
        sa.Column("at_ms", sa.BigInteger, nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("identity_type", sa.String(60), nullable=True),
        sa.Column("identity_value", sa.String(512), nullable=True),
        sa.Column("other_mpid", sa.BigInteger, nullable=True),
        sa.Column("rule", sa.Text, nullable=False),
        sa.Column("cause", sa.String(200), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_identity_history_mpid", "identity_history", ["workspace_id", "mpid", "id"])
    op.create_table(
        "alias_requests",
        _autoid(),
        sa.Column("workspace_id", sa.Integer, nullable=False),
        sa.Column("source_mpid", sa.BigInteger, nullable=False),
        sa.Column("destination_mpid", sa.BigInteger, nullable=False),
        sa.Column("start_ms", sa.BigInteger, nullable=False),
        sa.Column("end_ms", sa.BigInteger, nullable=False),
        sa.Column("requested_ms", sa.BigInteger, nullable=False),
        sa.Column("due_ms", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("result", sa.Text, nullable=True),
        sa.Column("request_id", sa.String(100), nullable=True),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_alias_requests_due", "alias_requests", ["status", "due_ms"])


def downgrade() -> None:
    for table in (
        "alias_requests",
        "identity_history",
        "identity_links",
        "identity_profiles",
        "identity_settings",
    ):
        op.drop_table(table)
