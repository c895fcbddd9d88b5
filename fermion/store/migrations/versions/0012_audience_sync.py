"""Outputs: the initial sync of audience connections (a cursor each) and the member index it pages by.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "output_audience_syncs",
        sa.Column("connection_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("audience_id", sa.Integer, nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("after_mpid", sa.BigInteger, nullable=True),
        sa.Column("queued", sa.BigInteger, nullable=False),
        sa.Column("started_ms", sa.BigInteger, nullable=False),
        sa.Column("finished_ms", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_audience_memberships_members", "audience_memberships", ["audience_id", "mpid"])


def downgrade() -> None:
    op.drop_index("ix_audience_memberships_members", "audience_memberships")
    op.drop_table("output_audience_syncs")
