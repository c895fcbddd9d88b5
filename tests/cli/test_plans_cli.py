"""`fermion plans`, `fermion quarantine` and `fermion live` on the embedded store."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from fermion.api import create_app
from fermion.cli.main import app
from fermion.runtime import Runtime
from fermion.settings import Settings
from tests.api.test_data_planning import custom_point
from tests.factories import basic_auth, make_batch, make_event


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("FERMION_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("FERMION_DATA_DIR", str(tmp_path / "data"))


def run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def send(*batches: dict[str, Any]) -> None:
    """Send batches through the Events API of an in-process server on the same data dir, then process them."""
    runtime = Runtime.open(Settings())
    try:
        created = runtime.tenancy.bootstrap()
        source = created.input if created else runtime.tenancy.list_inputs()[0]
        secret = created.api_secret if created else None
        if secret is None:
            secret = runtime.tenancy.rotate_secret(source.api_key).api_secret
        with TestClient(create_app(runtime), base_url="http://127.0.0.1") as client:
            for batch in batches:
                response = client.post("/v2/events", json=batch, headers=basic_auth(source.api_key, secret))
                assert response.status_code == 202, response.text
        runtime.new_worker().drain()
    finally:
        runtime.close()


def test_import_block_quarantine_replay_dry_run_and_live(env: None, tmp_path: Path) -> None:
    export = {
        "data_plan_id": "shop",
        "data_plan_name": "Shop",
        "data_plan_versions": [
            {
                "version": 1,
                "activated_environment": "development",
                "version_document": {"data_points": [custom_point("View")]},
            }
        ],
    }
    path = tmp_path / "shop.json"
    path.write_text(json.dumps(export))
    assert json.loads(run("plans", "import", str(path), "--json")) == {
        "data_plan_id": "shop",
        "versions": [1],
    }
    assert json.loads(run("plans", "block", "shop", "1", "--events", "--json"))["events"] is True
    listed = json.loads(run("plans", "list", "--json"))
    assert listed[0]["blocks"] == "events"

    send(
        make_batch(
            [make_event(event_name="View"), make_event(event_name="Buy")],
            context={"data_plan": {"plan_id": "shop"}},
        )
    )
    records = json.loads(run("quarantine", "list", "--reason", "unplanned_event", "--json"))
    assert [r["event_names"] for r in records] == [["Buy"]]
    shown = json.loads(run("quarantine", "show", str(records[0]["id"])))
    assert shown["batch"]["context"]["data_plan"]["block_metadata"]["blocked_event_ids"]

    dry = json.loads(run("plans", "dry-run", "shop", "1", "--days", "1", "--json"))
    assert dry["events_checked"] == 1 and dry["events_flagged"] == 0  # Buy never reached the store

    version = tmp_path / "v2.json"
    version.write_text(json.dumps({"data_points": [custom_point("View"), custom_point("Buy")]}))
    assert json.loads(run("plans", "import", str(version), "--plan-id", "shop", "--json"))["versions"] == [2]
    run("plans", "activate", "shop", "2", "--environment", "development")
    started = json.loads(run("quarantine", "replay", "--plan", "shop", "--no-wait", "--json"))
    assert started["selected"] == 1
    send()  # the worker processes the replay
    assert (
        json.loads(run("quarantine", "list", "--status", "replayed", "--json"))[0]["replay_outcome"]
        == "stored"
    )

    text = run("live", "--from-start", "--event-name", "Buy", "--limit", "1", "--timeout", "5")
    assert "Buy [BLOCKED]" in text and "unplanned_event" in text and "identity:" in text
    lines = run("live", "--from-start", "--timeout", "2", "--json").splitlines()
    assert [json.loads(line)["verdict"]["status"] for line in lines] == [
        "invalid",
        "valid",
    ]  # the batch, its replay
