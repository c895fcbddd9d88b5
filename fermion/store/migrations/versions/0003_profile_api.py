"""Profile API: OAuth API clients, the token signing key, and the history of user attribute changes.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_clients",
        sa.Column("client_id", sa.String(64), primary_key=True),
        sa.Column("secret_hash", sa.String(128), nullable=False),
        sa.Column("workspace_ids", sa.Text, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "token_signing_keys",
        sa.Column("key_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("secret", sa.String(128), nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "profile_attribute_changes",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
        sa.Column("workspace_id", sa.Integer, nullable=False),
        sa.Column("mpid", sa.BigInteger, nullable=False),
        sa.Column("at_ms", sa.BigInteger, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("old_value", sa.Text, nullable=True),
        sa.Column("new_value", sa.Text, nullable=True),
        sa.Column("deleted", sa.SmallInteger, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_profile_attribute_changes_profile", "profile_attribute_changes", ["workspace_id", "mpid", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_profile_attribute_changes_profile", "profile_attribute_changes")
    for table in ("profile_attribute_changes", "token_signing_keys", "api_clients"):
        op.drop_table(table)
