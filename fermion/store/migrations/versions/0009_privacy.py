"""Privacy: data subject requests, receipts, callbacks, exports, the audit log and consent history.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "dsr_requests",
        sa.Column("workspace_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("subject_request_id", sa.String(64), primary_key=True),
        sa.Column("regulation", sa.String(8), nullable=False),
        sa.Column("request_type", sa.String(16), nullable=False),
        sa.Column("api_version", sa.String(8), nullable=False),
        sa.Column("submitted_time", sa.String(64), nullable=False),
        sa.Column("received_ms", sa.BigInteger, nullable=False),
        sa.Column("due_ms", sa.BigInteger, nullable=False),
        sa.Column("expected_ms", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("group_id", sa.String(200), nullable=True),
        sa.Column("identities", sa.Text, nullable=False),
        sa.Column("identity_key", sa.String(64), nullable=False),
        sa.Column("skip_waiting_period", sa.Integer, nullable=False),
        sa.Column("callback_urls", sa.Text, nullable=False),
        sa.Column("requested_by", sa.String(200), nullable=False),
        sa.Column("receipts", sa.Text, nullable=False),
        sa.Column("extensions", sa.Text, nullable=False),
        sa.Column("completed_ms", sa.BigInteger, nullable=True),
        sa.Column("results_expire_ms", sa.BigInteger, nullable=True),
        sa.Column("base_url", sa.Text, nullable=False),
    )
    op.create_index("ix_dsr_requests_due", "dsr_requests", ["status", "due_ms"])
    op.create_index("ix_dsr_requests_group", "dsr_requests", ["workspace_id", "group_id"])
    op.create_table(
        "dsr_callbacks",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("workspace_id", sa.Integer, nullable=False),
        sa.Column("subject_request_id", sa.String(64), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("api_version", sa.String(8), nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_ms", sa.BigInteger, nullable=False),
        sa.Column("sent_ms", sa.BigInteger, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_dsr_callbacks_due", "dsr_callbacks", ["sent_ms", "next_ms"])
    op.create_table(
        "dsr_exports",
        sa.Column("workspace_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("subject_request_id", sa.String(64), primary_key=True),
        sa.Column("archive", sa.LargeBinary, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("expires_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "dsr_audit",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("workspace_id", sa.Integer, nullable=False),
        sa.Column("subject_request_id", sa.String(64), nullable=False),
        sa.Column("at_ms", sa.BigInteger, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_dsr_audit_request", "dsr_audit", ["workspace_id", "subject_request_id", "id"])
    op.create_table(
        "consent_history",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("workspace_id", sa.Integer, nullable=False),
        sa.Column("mpid", sa.BigInteger, nullable=False),
        sa.Column("at_ms", sa.BigInteger, nullable=False),
        sa.Column("regulation", sa.String(8), nullable=False),
        sa.Column("purpose", sa.String(200), nullable=False),
        sa.Column("old_state", sa.Text, nullable=True),
        sa.Column("new_state", sa.Text, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_consent_history_profile", "consent_history", ["workspace_id", "mpid", "id"])


def downgrade() -> None:
    op.drop_table("consent_history")
    op.drop_table("dsr_audit")
    op.drop_table("dsr_exports")
    op.drop_table("dsr_callbacks")
    op.drop_table("dsr_requests")
