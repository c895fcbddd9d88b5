"""Shared fixtures: settings on each backend, a runtime, an in-process client, credentials.

Tests that take the ``backend`` fixture run on the embedded stores (SQLite + DuckDB) and on PostgreSQL.
PostgreSQL tests skip with a message when the server is unreachable, except in CI (``CI=true``), where
they fail instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from starlette.testclient import TestClient

from fermion.api import create_app
from fermion.clock import SystemClock
from fermion.platform import InputCredentials
from fermion.runtime import Runtime
from fermion.settings import Settings
from tests.factories import basic_auth

POSTGRES_URL = os.environ.get("FERMION_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def postgres_available() -> bool:
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The test PostgreSQL server's URL; skips (fails in CI) when it does not answer."""
    if not postgres_available():
        message = f"PostgreSQL is not reachable at {POSTGRES_URL} (set FERMION_TEST_POSTGRES_URL)"
        if IN_CI:
            pytest.fail(message + "; CI must run the PostgreSQL tests")
        pytest.skip(message)
    return POSTGRES_URL


@pytest.fixture
def postgres_schema_url(postgres_url: str) -> Iterator[str]:
    """A URL whose search_path is a fresh schema, dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_url, autocommit=True) as con:
        con.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{postgres_url}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as con:
            con.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture(params=["embedded", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    """Each backend in turn."""
    return str(request.param)


def settings_for(tmp_path: Path, database_url: str = "", **overrides: object) -> Settings:
    """Settings on ``tmp_path``, ignoring the environment; both stores at ``database_url``."""
    values: dict[str, object] = {
        "data_dir": tmp_path / "data",
        "database_url": database_url,
        "event_store_url": database_url,
        "worker_poll_ms": 10,
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings(request: pytest.FixtureRequest, tmp_path: Path, backend: str) -> Settings:
    """Settings for the current backend."""
    if backend == "postgres":
        url = request.getfixturevalue("postgres_schema_url")
        return settings_for(tmp_path, url)
    return settings_for(tmp_path)


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    """An opened runtime on ``settings`` (state migrated)."""
    opened = Runtime.open(settings, SystemClock())
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def credentials(runtime: Runtime) -> InputCredentials:
    """The default workspace's server input with its secret."""
    created = runtime.tenancy.bootstrap()
    assert created is not None
    return created


@pytest.fixture
def auth(credentials: InputCredentials) -> dict[str, str]:
    """The Authorization header of the default input."""
    return basic_auth(credentials.input.api_key, credentials.api_secret)


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    """An in-process HTTP client of the app (lifespan running: group commit started)."""
    with TestClient(create_app(runtime), base_url="http://127.0.0.1") as test_client:
        yield test_client
