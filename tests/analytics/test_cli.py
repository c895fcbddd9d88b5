"""`fermion analytics …`: definitions from a file or stdin, tables, --json and --csv, saved analyses."""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fermion.cli.main import app
from fermion.runtime import Runtime
from fermion.settings import Settings
from tests.analytics.conftest import HOUR, journeys

FUNNEL = {
    "steps": [{"event": "A"}, {"event": "B"}],
    "date_range": {"start": "2024-01-01", "end": "2024-01-02"},
}


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A workspace with two users' journeys in the embedded event store."""
    for name in list(os.environ):
        if name.startswith("FERMION_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("FERMION_DATA_DIR", str(tmp_path / "data"))
    runtime = Runtime.open(Settings())
    try:
        created = runtime.tenancy.create_workspace("Shop")
        t0 = 1_704_067_200_000
        events = journeys({1: [("A", t0), ("B", t0 + HOUR)], 2: [("A", t0)]})
        runtime.events.append([replace(e, workspace_id=created.id) for e in events])
    finally:
        runtime.close()
    return str(created.id)


def test_funnel_from_stdin_as_json_csv_and_table(workspace: str) -> None:
    runner = CliRunner()
    as_json = runner.invoke(
        app, ["analytics", "funnel", "-", "--workspace", workspace, "--json"], input=json.dumps(FUNNEL)
    )
    assert as_json.exit_code == 0, as_json.output
    assert [s["count"] for s in json.loads(as_json.stdout)["steps"]] == [2, 1]
    as_csv = runner.invoke(
        app, ["analytics", "funnel", "-", "--workspace", workspace, "--csv"], input=json.dumps(FUNNEL)
    )
    assert [r["count"] for r in csv.DictReader(io.StringIO(as_csv.stdout))] == ["2", "1"]
    table = runner.invoke(
        app, ["analytics", "funnel", "-", "--workspace", workspace], input=json.dumps(FUNNEL)
    )
    assert "50.0%" in table.stdout


def test_segment_from_a_file_and_a_bad_definition(workspace: str, tmp_path: Path) -> None:
    path = tmp_path / "seg.json"
    path.write_text(
        json.dumps(
            {
                "series": [{"event": "A", "measure": "users"}],
                "interval": "full",
                "date_range": FUNNEL["date_range"],
            }
        )
    )
    result = CliRunner().invoke(app, ["analytics", "segment", str(path), "--workspace", workspace, "--json"])
    assert json.loads(result.stdout)["series"][0]["total"] == 2.0
    bad = CliRunner().invoke(
        app, ["analytics", "funnel", "-", "--workspace", workspace], input='{"steps": []}'
    )
    assert bad.exit_code != 0


def test_saved_analysis_round_trip(workspace: str, tmp_path: Path) -> None:
    path = tmp_path / "funnel.json"
    path.write_text(json.dumps(FUNNEL))
    runner = CliRunner()
    created = runner.invoke(
        app,
        [
            "analytics",
            "saved",
            "save",
            "funnel",
            str(path),
            "--name",
            "AB",
            "--workspace",
            workspace,
            "--json",
        ],
    )
    analysis_id = str(json.loads(created.stdout)["id"])
    listed = runner.invoke(app, ["analytics", "saved", "list", "--workspace", workspace, "--json"])
    assert [a["name"] for a in json.loads(listed.stdout)] == ["AB"]
    ran = runner.invoke(app, ["analytics", "saved", "run", analysis_id, "--workspace", workspace, "--json"])
    assert [s["count"] for s in json.loads(ran.stdout)["steps"]] == [2, 1]
    board = runner.invoke(
        app,
        [
            "analytics",
            "dashboards",
            "create",
            "--name",
            "D",
            "--analysis",
            analysis_id,
            "--workspace",
            workspace,
            "--json",
        ],
    )
    board_id = str(json.loads(board.stdout)["id"])
    ran_board = runner.invoke(
        app, ["analytics", "dashboards", "run", board_id, "--workspace", workspace, "--json"]
    )
    assert json.loads(ran_board.stdout)["results"][0]["result"]["kind"] == "funnel"
