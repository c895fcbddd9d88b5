"""The `fermion` commands: --json prints one document; serve prints credentials and tail shows events."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from fermion.cli.main import app
from fermion.runtime import Runtime
from fermion.settings import Settings
from tests.factories import basic_auth, make_batch, make_event

FERMION = str(Path(sys.executable).parent / "fermion")


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {"FERMION_DATA_DIR": str(tmp_path / "data"), "FERMION_LOG_LEVEL": "warning"}
    for name in list(os.environ):
        if name.startswith("FERMION_"):
            monkeypatch.delenv(name)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def run_json(*args: str) -> object:
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_workspaces_and_inputs(env: dict[str, str]) -> None:
    workspace = run_json("workspaces", "create", "Shop")
    assert isinstance(workspace, dict) and workspace["name"] == "Shop"
    listed = run_json("workspaces", "list")
    assert [w["name"] for w in listed] == ["Shop"]  # type: ignore[union-attr,index]

    created = run_json("inputs", "create", "--workspace", str(workspace["id"]), "--name", "Backend")
    assert isinstance(created, dict) and created["api_secret"] and created["api_key"]
    inputs = run_json("inputs", "list")
    assert isinstance(inputs, list) and len(inputs) == 1
    assert "api_secret" not in inputs[0] and "secret_hash" not in inputs[0]

    rotated = run_json("inputs", "rotate-secret", created["api_key"])
    assert isinstance(rotated, dict) and rotated["api_secret"] != created["api_secret"]


def test_bad_input_kind_is_a_clear_error(env: dict[str, str]) -> None:
    run_json("workspaces", "create", "Shop")
    result = CliRunner().invoke(
        app, ["inputs", "create", "--workspace", "1", "--name", "x", "--kind", "nope"]
    )
    assert result.exit_code != 0
    assert "kind must be one of" in str(result.exception) or "kind must be one of" in result.output


def test_inbox_status_json(env: dict[str, str]) -> None:
    status = run_json("inbox", "status")
    assert status == {"depth": 0, "parked": 0, "oldest_pending_ms": None, "lag_ms": 0, "parked_batches": []}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    """A running `fermion serve`: its process, URL, environment and input credentials."""

    process: subprocess.Popen[str]
    url: str
    env: dict[str, str]
    headers: dict[str, str]


@contextmanager
def serving(env: dict[str, str]) -> Iterator[Served]:
    """Start `fermion serve` on a free port, read the credentials it prints, wait until it answers."""
    port = _free_port()
    full_env = {**os.environ, **env, "FERMION_PORT": str(port)}
    server = subprocess.Popen([FERMION, "serve"], env=full_env, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        lines: dict[str, str] = {}
        while "API secret" not in lines:
            line = server.stdout.readline()
            assert line, "serve exited before printing credentials"
            if ": " in line:
                name, value = line.rstrip("\n").split(": ", 1)
                lines[name] = value
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                httpx.get(f"{url}/healthz")
                break
            except httpx.ConnectError:
                time.sleep(0.1)
        yield Served(server, url, full_env, basic_auth(lines["API key"], lines["API secret"]))
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_serve_prints_credentials_accepts_and_tail_shows(env: dict[str, str]) -> None:
    with serving(env) as served:
        batch = make_batch([make_event(event_name="Tail Me")], user_identities={"customer_id": "tail-1"})
        response = httpx.post(f"{served.url}/v2/events", json=batch, headers=served.headers)
        assert response.status_code == 202
        found: list[dict[str, object]] = []
        for _ in range(50):
            tail = subprocess.run(
                [FERMION, "events", "tail", "--no-follow", "--json"],
                env=served.env,
                capture_output=True,
                text=True,
            )
            assert tail.returncode == 0, tail.stderr
            found = [json.loads(line) for line in tail.stdout.splitlines() if line.strip()]
            if found:
                break
            time.sleep(0.1)
        assert [e["event_name"] for e in found] == ["Tail Me"]


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def test_serve_restarts_a_dead_worker_process_and_loses_nothing(env: dict[str, str]) -> None:
    with serving(env) as served:
        workers = _children(served.process.pid)
        assert workers, "serve started no worker process"
        for pid in workers:
            os.kill(pid, 9)
        sent = [make_event(event_name=f"after crash {i}") for i in range(5)]
        response = httpx.post(f"{served.url}/v2/events", json=make_batch(sent), headers=served.headers)
        assert response.status_code == 202
        stored = 0.0
        for _ in range(300):
            metrics = httpx.get(f"{served.url}/metrics").text
            found = [ln for ln in metrics.splitlines() if ln.startswith("fermion_events_stored_total ")]
            stored = float(found[0].split()[1]) if found else 0.0
            if stored >= 5:
                break
            time.sleep(0.1)
        assert stored == 5
        assert httpx.get(f"{served.url}/readyz").status_code == 200


def test_identity_strategy_and_explain(env: dict[str, str]) -> None:
    run_json("workspaces", "create", "Shop")
    shown = run_json("identity", "strategy", "set", "profile_link", "--workspace", "1")
    assert isinstance(shown, dict) and shown["login_ids"] == ["customer_id", "email"]
    assert run_json("identity", "strategy", "show", "--workspace", "1") == shown
    bad = CliRunner().invoke(app, ["identity", "strategy", "set", "nonsense"])
    assert bad.exit_code != 0

    runtime = Runtime.open(Settings())
    try:
        anonymous = runtime.identity.request(1, "identify", {"ios_idfv": "d-1"}, cause="test identify")
        known = runtime.identity.request(
            1, "login", {"customerid": "k-1", "ios_idfv": "d-1"}, cause="test login"
        )
    finally:
        runtime.close()
    explained = run_json("identity", "explain", "customer_id:k-1")
    assert isinstance(explained, list) and explained[0]["mpid"] == str(known.mpid)
    actions = [d["action"] for d in explained[0]["decisions"]]
    assert actions[0] == "created" and "linked_from" in actions
    text = CliRunner().invoke(app, ["identity", "explain", f"mpid:{anonymous.mpid}"])
    assert text.exit_code == 0 and "created" in text.output and "ios_idfv" in text.output
