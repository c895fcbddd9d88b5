"""`fermion dsr submit|status|list --json`: operators submit and follow requests with their receipts."""

from __future__ import annotations

import json
import os

import pytest
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


def test_submit_status_list(cli_env: None, runtime: Runtime) -> None:
    runtime.tenancy.bootstrap()
    created = _json("dsr", "submit", "--identity", "email=cli@example.com", "--identity", "other2=x",
                    "--skip-waiting-period")  # fmt: skip
    assert isinstance(created, dict) and created["request_status"] == "pending"
    assert created["identity_types"] == ["email", "other_id_2"]
    runtime.new_worker().drain()
    shown = _json("dsr", "status", created["subject_request_id"])
    assert isinstance(shown, dict) and shown["request_status"] == "completed"
    assert [a["action"] for a in shown["audit"]] == ["submitted", "in_progress", "completed"]
    assert {r["store"] for r in shown["receipts"]} >= {"inbox", "event_store", "profiles"}
    listed = _json("dsr", "list", "--status", "completed")
    assert isinstance(listed, list) and [r["subject_request_id"] for r in listed] == [
        created["subject_request_id"]
    ]
    bad = CliRunner().invoke(app, ["dsr", "submit", "--identity", "mpid=1", "--identity", "email=a@b.c"])
    assert bad.exit_code != 0 and "only identity" in str(bad.exception)
