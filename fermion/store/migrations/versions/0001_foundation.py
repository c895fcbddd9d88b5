"""Foundation: tenancy, inbox, partitions, de-duplication keys, minimal profiles.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

INBOX_PARTITIONS = 64


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.Integer, primary_key=True, autoincrement=True)


def upgrade() -> None:
    op.create_table(
        "orgs",
        _id(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "accounts",
        _id(),
        sa.Column("org_id", sa.Integer, sa.ForeignKey("orgs.id"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "workspaces",
        _id(),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "inputs",
        _id(),
        sa.Column("workspace_id", sa.Integer, sa.ForeignKey("workspaces.id"), nullable=False, index=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("platform", sa.String(40), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("api_key", sa.String(64), nullable=False, unique=True),
        sa.Column("secret_hash", sa.String(128), nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("secret_rotated_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "inbox",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
        sa.Column("workspace_id", sa.Integer, nullable=False),
        sa.Column("input_id", sa.Integer, nullable=False),
        sa.Column("partition", sa.SmallInteger, nullable=False),
        sa.Column("user_key", sa.String(300), nullable=False),
        sa.Column("received_ms", sa.BigInteger, nullable=False),
        sa.Column("channel", sa.String(30), nullable=False),
        sa.Column("historical", sa.SmallInteger, nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("status", sa.SmallInteger, nullable=False),
        sa.Column("attempts", sa.SmallInteger, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("parked_ms", sa.BigInteger, nullable=True),
        # AUTOINCREMENT: ids are never reused after the inbox drains, so ids derived from them stay unique.
        sqlite_autoincrement=True,
    )
    op.create_index("ix_inbox_status_id", "inbox", ["status", "id"])
    partitions = op.create_table(
        "inbox_partitions",
        sa.Column("partition", sa.SmallInteger, primary_key=True, autoincrement=False),
        sa.Column("owner", sa.String(80), nullable=True),
        sa.Column("lease_until_ms", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(
        partitions, [{"partition": p, "owner": None, "lease_until_ms": 0} for p in range(INBOX_PARTITIONS)]
    )
    op.create_table(
        "inbox_workers",
        sa.Column("worker_id", sa.String(80), primary_key=True),
        sa.Column("heartbeat_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "source_requests",
        sa.Column("input_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("source_request_id", sa.String(300), primary_key=True),
        sa.Column("received_ms", sa.BigInteger, nullable=False, index=True),
    )
    op.create_table(
        "profiles",
        sa.Column("workspace_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("mpid", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("provisional", sa.SmallInteger, nullable=False),
        sa.Column("user_attributes", sa.Text, nullable=False),
        sa.Column("user_identities", sa.Text, nullable=False),
        sa.Column("device_identities", sa.Text, nullable=False),
        sa.Column("consent_state", sa.Text, nullable=False),
        sa.Column("first_seen_ms", sa.BigInteger, nullable=False),
        sa.Column("last_seen_ms", sa.BigInteger, nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "profile_identities",
        sa.Column("workspace_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("identity_type", sa.String(60), primary_key=True),
        sa.Column("identity_value", sa.String(512), primary_key=True),
        sa.Column("mpid", sa.BigInteger, nullable=False, index=True),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "profile_identities",
        "profiles",
        "source_requests",
        "inbox_workers",
        "inbox_partitions",
        "inbox",
        "inputs",
        "workspaces",
        "accounts",
        "orgs",
    ):
        op.drop_table(table)
