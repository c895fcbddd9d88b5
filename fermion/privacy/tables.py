"""Privacy tables: data subject requests, receipts, callbacks, exports, the audit log, consent history."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, LargeBinary, String, Table, Text

from fermion.store import metadata

# One row per data subject request. The subject's identities are kept only while the request needs them:
# completing or cancelling it replaces their values with their types.
dsr_requests = Table(
    "dsr_requests",
    metadata,
    Column("workspace_id", Integer, primary_key=True, autoincrement=False),
    Column("subject_request_id", String(64), primary_key=True),
    Column("regulation", String(8), nullable=False),
    Column("request_type", String(16), nullable=False),  # erasure | access | portability
    Column("api_version", String(8), nullable=False),
    Column("submitted_time", String(64), nullable=False),
    Column("received_ms", BigInteger, nullable=False),
    Column("due_ms", BigInteger, nullable=False),  # when the waiting period ends
    Column("expected_ms", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),  # pending | in_progress | completed | cancelled
    Column("group_id", String(200), nullable=True),
    Column("identities", Text, nullable=False),  # JSON: mParticle identity type → value ("" once redacted)
    Column("identity_key", String(64), nullable=False),  # digest of type, identities: finds in-flight twins
    Column("skip_waiting_period", Integer, nullable=False),
    Column("callback_urls", Text, nullable=False),  # JSON list
    Column("requested_by", String(200), nullable=False),  # the input key or operator that asked
    Column("receipts", Text, nullable=False),  # JSON list of receipts, one per store
    Column("extensions", Text, nullable=False),  # JSON list: forwarding status per partner
    # JSON: the identities still to forward to outputs that asked to be retried; cleared on completion
    Column("forward_order", Text, nullable=True),
    Column("completed_ms", BigInteger, nullable=True),
    Column("results_expire_ms", BigInteger, nullable=True),
    Column("base_url", Text, nullable=False),  # where the request came in: results and certificate URLs
    Index("ix_dsr_requests_due", "status", "due_ms"),
    Index("ix_dsr_requests_group", "workspace_id", "group_id"),
)

# Status callbacks waiting to be POSTed (signed) to a controller's URLs; retried with backoff.
dsr_callbacks = Table(
    "dsr_callbacks",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("workspace_id", Integer, nullable=False),
    Column("subject_request_id", String(64), nullable=False),
    Column("url", Text, nullable=False),
    Column("api_version", String(8), nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_ms", BigInteger, nullable=False),
    Column("sent_ms", BigInteger, nullable=True),
    Column("last_error", Text, nullable=True),
    Index("ix_dsr_callbacks_due", "sent_ms", "next_ms"),
    sqlite_autoincrement=True,
)

# Access and portability results: one JSON archive per request, until it expires.
dsr_exports = Table(
    "dsr_exports",
    metadata,
    Column("workspace_id", Integer, primary_key=True, autoincrement=False),
    Column("subject_request_id", String(64), primary_key=True),
    Column("archive", LargeBinary, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("expires_ms", BigInteger, nullable=False),
)

# Who asked, when, what was done: never the subject's identities, attributes or events.
dsr_audit = Table(
    "dsr_audit",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("workspace_id", Integer, nullable=False),
    Column("subject_request_id", String(64), nullable=False),
    Column("at_ms", BigInteger, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(40), nullable=False),
    Column("detail", Text, nullable=False),  # JSON without personal data (identity types, counts, stores)
    Index("ix_dsr_audit_request", "workspace_id", "subject_request_id", "id"),
    sqlite_autoincrement=True,
)

# Every change of a profile's consent, per (regulation, purpose).
consent_history = Table(
    "consent_history",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("workspace_id", Integer, nullable=False),
    Column("mpid", BigInteger, nullable=False),
    Column("at_ms", BigInteger, nullable=False),
    Column("regulation", String(8), nullable=False),
    Column("purpose", String(200), nullable=False),
    Column("old_state", Text, nullable=True),  # JSON; NULL when the purpose was new
    Column("new_state", Text, nullable=False),  # JSON
    Index("ix_consent_history_profile", "workspace_id", "mpid", "id"),
    sqlite_autoincrement=True,
)
