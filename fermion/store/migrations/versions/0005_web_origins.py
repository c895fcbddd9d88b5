"""Web inputs: the origins allowed to use an input's key from a browser (none listed = any origin).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "input_origins",
        sa.Column("input_id", sa.Integer, sa.ForeignKey("inputs.id"), primary_key=True),
        sa.Column("origin", sa.String(300), primary_key=True),
    )


def downgrade() -> None:
    op.drop_table("input_origins")
