"""Profile API fixtures: OAuth client credentials, a Bearer token, profiles put in through the pipeline."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from fermion.platform import ApiClientCredentials, InputCredentials, Workspace
from fermion.runtime import Runtime
from fermion.settings import Settings
from tests.factories import make_batch


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The backend's settings without the Profile API rate limit (tests that need it set it)."""
    return settings.model_copy(update={"profile_api_rate_per_s": 0.0})


@pytest.fixture
def workspace(runtime: Runtime, credentials: InputCredentials) -> Workspace:
    """The default workspace (bootstrapped with its server input)."""
    return runtime.tenancy.get_workspace(credentials.input.workspace_id)


@pytest.fixture
def api_client(runtime: Runtime, workspace: Workspace) -> ApiClientCredentials:
    """OAuth client credentials granted the default workspace."""
    return runtime.credentials.create([workspace.id])


def token_of(client: TestClient, api_client: ApiClientCredentials) -> str:
    """A Bearer token for ``api_client`` from ``POST /oauth/token``."""
    response = client.post(
        "/oauth/token",
        json={
            "client_id": api_client.client.client_id,
            "client_secret": api_client.client_secret,
            "audience": "https://api.mparticle.com",
            "grant_type": "client_credentials",
        },
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


@pytest.fixture
def bearer(client: TestClient, api_client: ApiClientCredentials) -> dict[str, str]:
    """The Authorization header of a fresh token of ``api_client``."""
    return {"Authorization": f"Bearer {token_of(client, api_client)}"}


def ingest(client: TestClient, auth: dict[str, str], runtime: Runtime, *batches: dict[str, Any]) -> None:
    """Post ``batches`` one by one through the Events API and process them."""
    for batch in batches:
        response = client.post("/v2/events", json=batch, headers=auth)
        assert response.status_code == 202, response.text
    runtime.new_worker().drain()


def mpid_of(runtime: Runtime, workspace: Workspace, customer_id: str) -> int:
    """The MPID the pipeline gave the user with ``customer_id``."""
    mpid = runtime.profiles.find_by_identity(workspace.id, "customer_id", customer_id)
    assert mpid is not None, f"no profile holds customer_id {customer_id}"
    return mpid


def profile_url(workspace: Workspace, mpid: int | str) -> str:
    """The Profile API URL of ``mpid`` in ``workspace``."""
    return f"/userprofile/v1/{workspace.org_id}/{workspace.account_id}/{workspace.id}/{mpid}"


def resolve_url(workspace: Workspace) -> str:
    """The Profile API resolve URL of ``workspace``."""
    return f"/userprofile/v1/resolve/{workspace.org_id}/{workspace.account_id}/{workspace.id}"


@pytest.fixture
def customer(client: TestClient, auth: dict[str, str], runtime: Runtime, workspace: Workspace) -> int:
    """One user with identities, device ids and attributes in the default workspace; returns its MPID."""
    ingest(
        client,
        auth,
        runtime,
        make_batch(
            user_identities={"customer_id": "cust-1", "email": "ann@example.com"},
            user_attributes={"$firstname": "Ann", "plan": "gold", "tags": ["a", "b"], "vip": None},
            device_info={"android_uuid": "8789c459016a94b0", "android_advertising_id": "481c8a31"},
        ),
    )
    return mpid_of(runtime, workspace, "cust-1")
