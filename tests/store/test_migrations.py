"""The state store's migrations: they create every state table, agree with the declared tables, run twice
harmlessly, and survive two processes starting at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, Engine, inspect, text

import fermion.runtime  # noqa: F401 - imports every context, so that every table is declared on the metadata
from fermion.clock import SystemClock
from fermion.platform import Tenancy
from fermion.settings import Settings
from fermion.store import create_state_engine, metadata, migrate

STATE_TABLES = {
    "orgs", "accounts", "workspaces", "inputs", "inbox", "inbox_partitions", "inbox_workers",
    "source_requests", "profiles", "profile_identities",
}  # fmt: skip


def _schema(engine: Engine) -> dict[str, Any]:
    """Tables with their columns and indexes, the Alembic revision, and the partition rows."""
    inspector = inspect(engine)
    tables = {
        name: (
            [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(name)],
            sorted((i["name"], tuple(i["column_names"])) for i in inspector.get_indexes(name)),
        )
        for name in inspector.get_table_names()
    }
    with engine.connect() as conn:
        revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        partitions = conn.execute(
            text("SELECT partition, owner FROM inbox_partitions ORDER BY partition")
        ).all()
    return {"tables": tables, "revision": revision, "partitions": partitions}


def test_migrating_creates_the_state_tables(settings: Settings) -> None:
    engine = create_state_engine(settings.resolved_database_url())
    try:
        migrate(engine)
        assert set(inspect(engine).get_table_names()) >= STATE_TABLES
        schema = _schema(engine)
        assert len(schema["revision"]) == 1
        assert schema["partitions"] == [(p, None) for p in range(64)]
    finally:
        engine.dispose()


def test_migrating_twice_changes_nothing(settings: Settings) -> None:
    engine = create_state_engine(settings.resolved_database_url())
    try:
        migrate(engine)
        tenancy = Tenancy(engine, SystemClock())
        created = tenancy.bootstrap()
        assert created is not None
        before = _schema(engine)
        migrate(engine)
        assert _schema(engine) == before
        assert tenancy.get_input(created.input.id) == created.input  # data kept
        assert [w.name for w in tenancy.list_workspaces()] == ["Default Workspace"]
    finally:
        engine.dispose()


def test_the_migrated_schema_matches_the_declared_tables(settings: Settings) -> None:
    engine = create_state_engine(settings.resolved_database_url())
    try:
        migrate(engine)
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
        assert set(metadata.tables) >= STATE_TABLES
    finally:
        engine.dispose()


class _Held:
    """An engine stand-in whose transaction stays open: a first process caught in the middle of migrating."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        yield self._conn


def test_two_processes_starting_at_once_on_an_empty_postgres_both_migrate(postgres_schema_url: str) -> None:
    """Every start migrates; M workers and N API processes starting together must not fail on it."""
    first, second = create_state_engine(postgres_schema_url), create_state_engine(postgres_schema_url)
    failures: list[BaseException] = []

    def start_second() -> None:
        try:
            migrate(second)
        except BaseException as exc:  # reported by the assertion below
            failures.append(exc)

    try:
        with first.connect() as conn:
            transaction = conn.begin()
            migrate(_Held(conn))  # type: ignore[arg-type]
            racer = threading.Thread(target=start_second)
            racer.start()
            time.sleep(0.5)  # the second start is now waiting on the first one's uncommitted tables
            transaction.commit()
        racer.join(timeout=30)
        assert not racer.is_alive()
        assert failures == [], f"the second start failed: {failures[0]!r}"
        assert set(inspect(second).get_table_names()) >= STATE_TABLES
    finally:
        first.dispose()
        second.dispose()
