"""Database engines, transactions and the migration runner. Owns no business tables.

Contexts declare their tables on :data:`metadata` in their own ``tables.py``; the Alembic migrations in
``store/migrations/versions`` create them.
"""

from __future__ import annotations

from fermion.store.engine import create_state_engine, is_postgres, is_sqlite, normalise_postgres_url, reading
from fermion.store.metadata import metadata
from fermion.store.migrate import migrate

__all__ = [
    "create_state_engine",
    "is_postgres",
    "is_sqlite",
    "metadata",
    "migrate",
    "normalise_postgres_url",
    "reading",
]
