"""`fermion credentials create|list --json`: one JSON document each; the secret is shown once and works."""

from __future__ import annotations

import json
import os

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from fermion.cli.main import app
from fermion.runtime import Runtime
from fermion.settings import Settings


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's environment pointing at the test's stores (either backend)."""
    for name in list(os.environ):
        if name.startswith("FERMION_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("FERMION_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("FERMION_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("FERMION_EVENT_STORE_URL", settings.event_store_url)


def _json(*args: str) -> object:
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_create_and_list(cli_env: None, runtime: Runtime, client: TestClient) -> None:
    runtime.tenancy.bootstrap()
    second = runtime.tenancy.create_workspace("Second")

    created = _json("credentials", "create", "--workspace", "1", "--workspace", str(second.id))

    assert isinstance(created, dict)
    assert set(created) == {"client_id", "client_secret", "workspace_ids"}
    assert created["workspace_ids"] == [1, second.id]
    listed = _json("credentials", "list")
    assert isinstance(listed, list) and len(listed) == 1
    assert listed[0]["client_id"] == created["client_id"]
    assert listed[0]["workspace_ids"] == [1, second.id]
    assert "client_secret" not in listed[0] and created["client_secret"] not in json.dumps(listed)

    token = client.post(
        "/oauth/token",
        json={
            "client_id": created["client_id"],
            "client_secret": created["client_secret"],
            "grant_type": "client_credentials",
        },
    )
    assert token.status_code == 200 and token.json()["expires_in"] == 28800


def test_create_needs_existing_workspaces(cli_env: None, runtime: Runtime) -> None:
    runtime.tenancy.bootstrap()
    result = CliRunner().invoke(app, ["credentials", "create", "--workspace", "77", "--json"])
    assert result.exit_code != 0
    assert "Workspace 77 does not exist" in str(result.exception)
    missing = CliRunner().invoke(app, ["credentials", "create", "--json"])
    assert missing.exit_code != 0 and "--workspace" in missing.output
    assert _json("credentials", "list") == []
