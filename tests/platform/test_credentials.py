"""OAuth API clients: secrets stored hashed, tokens signed with one key per store, expiry by the Clock."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine, text

from fermion.clock import FrozenClock
from fermion.errors import NotFound, Unauthorized
from fermion.ids import hash_secret
from fermion.platform import ApiCredentials, Tenancy
from fermion.settings import Settings
from fermion.store import create_state_engine, migrate

NOW = 1_800_000_000_000


@dataclass
class Store:
    """One state store seen by two processes (two engines), with a frozen clock."""

    engine: Engine
    first: ApiCredentials
    second: ApiCredentials
    tenancy: Tenancy
    clock: FrozenClock

    def scalar(self, sql: str) -> object:
        with self.engine.connect() as conn:
            return conn.execute(text(sql)).scalar_one()


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    clock = FrozenClock(NOW)
    engine = create_state_engine(settings.resolved_database_url())
    other = create_state_engine(settings.resolved_database_url())
    migrate(engine)
    tenancy = Tenancy(engine, clock)
    tenancy.bootstrap()
    try:
        yield Store(engine, ApiCredentials(engine, clock), ApiCredentials(other, clock), tenancy, clock)
    finally:
        engine.dispose()
        other.dispose()


def test_the_secret_is_stored_hashed(store: Store) -> None:
    workspace = store.tenancy.create_workspace("Second")
    created = store.first.create([1, workspace.id, 1])
    assert created.client.workspace_ids == (1, workspace.id)
    assert store.second.list_clients() == [created.client]
    stored = store.scalar("SELECT secret_hash FROM api_clients")
    assert stored == hash_secret(created.client_secret) != created.client_secret
    assert store.second.authenticate(created.client.client_id, created.client_secret) == created.client
    assert store.second.authenticate(created.client.client_id, created.client_secret + "x") is None
    assert store.second.authenticate("unknown", created.client_secret) is None


def test_unknown_workspaces_are_refused(store: Store) -> None:
    with pytest.raises(NotFound, match="Workspace 99 does not exist"):
        store.first.create([1, 99])
    assert store.first.list_clients() == []


def test_a_token_from_one_process_is_accepted_by_another(store: Store) -> None:
    client = store.first.create([1]).client
    token = store.first.issue_token(client, "https://api.mparticle.com")
    grant = store.second.verify(token.access_token)
    assert grant.client_id == client.client_id
    assert grant.allows(1) and not grant.allows(2)
    assert grant.expires_ms == NOW + 28_800_000
    assert store.scalar("SELECT count(*) FROM token_signing_keys") == 1


def test_tokens_expire_after_eight_hours(store: Store) -> None:
    token = store.first.issue_token(store.first.create([1]).client)
    assert token.expires_in == 28_800
    store.clock.advance(28_800_000 - 1)
    store.second.verify(token.access_token)
    store.clock.advance(1)
    with pytest.raises(Unauthorized, match="expired"):
        store.second.verify(token.access_token)


def test_tampered_tokens_are_refused(store: Store, tmp_path_factory: pytest.TempPathFactory) -> None:
    client = store.first.create([1]).client
    header, claims, signature = store.first.issue_token(client).access_token.split(".")
    elsewhere = create_state_engine(f"sqlite:///{tmp_path_factory.mktemp('elsewhere') / 'other.db'}")
    try:
        migrate(elsewhere)
        foreign = (
            ApiCredentials(elsewhere, store.clock).issue_token(client).access_token
        )  # another store's key
    finally:
        elsewhere.dispose()
    for bad in (
        "",
        "a.b",
        f"{header}.{claims}",
        f"{header}.{claims}.{signature}.x",
        f"{header}.{claims}X.{signature}",
        f"{header}.{claims}.{signature[:-2]}",
        "e30.e30.",
        foreign,
    ):
        with pytest.raises(Unauthorized):
            store.first.verify(bad)
