"""`fermion audiences …` and `fermion calculated …`: definitions from a file or stdin, JSON output."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from fermion.cli.main import app
from fermion.runtime import Runtime
from fermion.settings import Settings
from tests.audiences.conftest import NOW, process, send, view
from tests.factories import make_batch

AUDIENCE = {"name": "Viewers", "criteria": {"type": "event", "event_name": "View"}}
ATTRIBUTE = {
    "name": "views",
    "description": "Views ever",
    "definition": {
        "datapoint": {"event_name": "View"},
        "calculation_type": "count",
        "time_period": {"type": "since", "date": "2026-01-01"},
    },
}


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's environment pointing at the test's stores."""
    for name in list(os.environ):
        if name.startswith("FERMION_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("FERMION_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("FERMION_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("FERMION_EVENT_STORE_URL", settings.event_store_url)


def _json(*args: str, stdin: str | None = None) -> object:
    result = CliRunner().invoke(app, [*args, "--json"], input=stdin)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_audiences_from_a_file_and_stdin(
    cli_env: None, tmp_path: Path, runtime: Runtime, client: TestClient, auth: dict[str, str]
) -> None:
    path = tmp_path / "audience.json"
    path.write_text(json.dumps(AUDIENCE))
    created = _json("audiences", "create", str(path))
    assert isinstance(created, dict) and created["name"] == "Viewers" and created["backfill"] == "pending"
    second = _json("audiences", "create", "-", stdin=json.dumps({**AUDIENCE, "name": "Again"}))
    assert isinstance(second, dict) and second["id"] == created["id"] + 1

    send(client, auth, make_batch([view("View", NOW)], user_identities={"customer_id": "c1"}))
    process(runtime)

    listed = _json("audiences", "list")
    assert isinstance(listed, list)
    assert [(a["name"], a["size"], a["backfill_percent"]) for a in listed] == [
        ("Viewers", 1, 100),
        ("Again", 1, 100),
    ]
    assert listed[0]["last_evaluated_on"] is not None and listed[0]["lag_s"] == 0.0
    shown = _json("audiences", "show", str(created["id"]))
    assert isinstance(shown, dict) and shown["criteria"] == AUDIENCE["criteria"]
    members = _json("audiences", "members", str(created["id"]))
    mpid = runtime.profiles.find_by_identity(1, "customer_id", "c1")
    assert members == [{"mpid": mpid, "added_ms": NOW, "removed_ms": None}]


def test_a_bad_definition_is_an_error_naming_the_part(cli_env: None, runtime: Runtime) -> None:
    bad = {"name": "x", "criteria": {"type": "event", "event_name": "View", "recency": {"within": 0}}}
    result = CliRunner().invoke(app, ["audiences", "create", "-"], input=json.dumps(bad))
    assert result.exit_code != 0
    assert "criteria.recency.within" in str(result.exception) + result.output


def test_calculated_create_list_show(
    cli_env: None, runtime: Runtime, client: TestClient, auth: dict[str, str]
) -> None:
    created = _json("calculated", "create", "-", stdin=json.dumps(ATTRIBUTE))
    assert isinstance(created, dict) and created["is_active"] and created["calculation"] == "pending"
    draft = _json("calculated", "create", "--draft", "-", stdin=json.dumps({**ATTRIBUTE, "name": "draft"}))
    assert isinstance(draft, dict) and not draft["is_active"] and draft["draft_definition"] is not None

    send(
        client,
        auth,
        make_batch([view("View", NOW), view("View", NOW)], user_identities={"customer_id": "c1"}),
    )
    process(runtime)

    listed = _json("calculated", "list")
    assert isinstance(listed, list)
    assert [(a["name"], a["calculation_percent_complete"]) for a in listed] == [("views", 100), ("draft", 0)]
    shown = _json("calculated", "show", str(created["id"]))
    assert isinstance(shown, dict) and shown["last_evaluated_on"] is not None
    mpid = runtime.profiles.find_by_identity(1, "customer_id", "c1")
    assert mpid is not None
    assert runtime.calculated_values.values_of(1, mpid) == {"views": "2"}
