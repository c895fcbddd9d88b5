"""Audience and calculated attribute fixtures: a runtime on a frozen clock, Bearer tokens, ingest helpers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from fermion.clock import FrozenClock
from fermion.platform import InputCredentials, Workspace
from fermion.runtime import Runtime
from fermion.settings import Settings
from tests.api.conftest import token_of

NOW = 1_800_000_000_000
DAY = 86_400_000


@pytest.fixture
def clock() -> FrozenClock:
    """The clock every test here runs on; tests move it, never sleep."""
    return FrozenClock(NOW)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The backend's settings without the Profile API rate limit."""
    return settings.model_copy(update={"profile_api_rate_per_s": 0.0})


@pytest.fixture
def runtime(settings: Settings, clock: FrozenClock) -> Iterator[Runtime]:
    """An opened runtime on the frozen clock."""
    opened = Runtime.open(settings, clock)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def workspace(runtime: Runtime, credentials: InputCredentials) -> Workspace:
    """The default workspace."""
    return runtime.tenancy.get_workspace(credentials.input.workspace_id)


def bearer_for(client: TestClient, runtime: Runtime, workspace: Workspace) -> dict[str, str]:
    """A fresh Bearer token header granted ``workspace`` (tokens expire as the clock moves)."""
    return {"Authorization": f"Bearer {token_of(client, runtime.credentials.create([workspace.id]))}"}


@pytest.fixture
def bearer(client: TestClient, runtime: Runtime, workspace: Workspace) -> dict[str, str]:
    """A Bearer token header granted the default workspace."""
    return bearer_for(client, runtime, workspace)


def send(client: TestClient, auth: dict[str, str], *batches: dict[str, Any]) -> None:
    """Post batches through the Events API."""
    for batch in batches:
        response = client.post("/v2/events", json=batch, headers=auth)
        assert response.status_code == 202, response.text


def process(runtime: Runtime) -> None:
    """Run a fresh worker until the inbox is empty (its first pass also backfills and expires windows)."""
    runtime.new_worker().drain()


def view(name: str, at_ms: int | None = None, **attributes: Any) -> dict[str, Any]:
    """A custom event named ``name`` at ``at_ms`` with custom attributes."""
    data: dict[str, Any] = {"event_name": name, "custom_event_type": "navigation"}
    if at_ms is not None:
        data["timestamp_unixtime_ms"] = at_ms
    if attributes:
        data["custom_attributes"] = attributes
    return {"event_type": "custom_event", "data": data}


def mpid_of(runtime: Runtime, workspace: Workspace, customer_id: str) -> int:
    """The MPID of the user with ``customer_id``."""
    mpid = runtime.profiles.find_by_identity(workspace.id, "customer_id", customer_id)
    assert mpid is not None
    return mpid
