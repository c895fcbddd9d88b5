"""Outputs and connections after creation: when each was last changed, and an output's fault (a
destination refused its credentials) with the time and reason.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("outputs", sa.Column("updated_ms", sa.BigInteger, nullable=True))
    op.add_column("outputs", sa.Column("faulted_ms", sa.BigInteger, nullable=True))
    op.add_column("outputs", sa.Column("fault_reason", sa.Text, nullable=True))
    op.add_column("output_connections", sa.Column("updated_ms", sa.BigInteger, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("output_connections") as batch:
        batch.drop_column("updated_ms")
    with op.batch_alter_table("outputs") as batch:
        for name in ("fault_reason", "faulted_ms", "updated_ms"):
            batch.drop_column(name)
