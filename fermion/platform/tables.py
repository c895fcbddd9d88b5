"""Tenancy tables: org → account → workspace, the inputs that send data into a workspace, and API clients."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Integer, String, Table, Text

from fermion.store import metadata

orgs = Table(
    "orgs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("org_id", Integer, ForeignKey("orgs.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
)

workspaces = Table(
    "workspaces",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
)

inputs = Table(
    "inputs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("workspace_id", Integer, ForeignKey("workspaces.id"), nullable=False, index=True),
    Column("kind", String(20), nullable=False),  # platform | feed
    Column("platform", String(40), nullable=False),  # server, web, iOS, Android, … or the feed's partner
    Column("name", String(200), nullable=False),
    Column("api_key", String(64), nullable=False, unique=True),
    Column("secret_hash", String(128), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("secret_rotated_ms", BigInteger, nullable=False),
)

api_clients = Table(
    "api_clients",
    metadata,
    Column("client_id", String(64), primary_key=True),
    Column("secret_hash", String(128), nullable=False),
    Column("workspace_ids", Text, nullable=False),  # JSON list of the workspace ids the client may use
    Column("created_ms", BigInteger, nullable=False),
)

token_signing_keys = Table(
    "token_signing_keys",
    metadata,
    Column("key_id", Integer, primary_key=True, autoincrement=False),
    Column("secret", String(128), nullable=False),  # HMAC-SHA256 key of the Bearer tokens, hex
    Column("created_ms", BigInteger, nullable=False),
)

input_origins = Table(
    "input_origins",
    metadata,
    Column("input_id", Integer, ForeignKey("inputs.id"), primary_key=True),
    Column("origin", String(300), primary_key=True),  # scheme://host[:port], as browsers send Origin
)
