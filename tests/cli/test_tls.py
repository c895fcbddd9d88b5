"""`fermion tls dev-cert` and `fermion serve --tls-cert --tls-key`: a local pair, served over HTTPS."""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from fermion.cli.main import app

FERMION = str(Path(sys.executable).parent / "fermion")


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in list(os.environ):
        if name.startswith("FERMION_"):
            monkeypatch.delenv(name)
    values = {"FERMION_DATA_DIR": str(tmp_path / "data"), "FERMION_LOG_LEVEL": "warning"}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def test_serve_answers_https_with_a_dev_cert(tmp_path: Path, env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["tls", "dev-cert", "--out", str(tmp_path / "tls"), "--json"])
    assert result.exit_code == 0, result.output
    paths = json.loads(result.stdout)
    assert paths["hosts"] == ["localhost", "127.0.0.1", "::1"]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [FERMION, "serve", "--tls-cert", paths["cert"], "--tls-key", paths["key"]]
    server = subprocess.Popen(
        command, env={**os.environ, **env, "FERMION_PORT": str(port)}, stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        while "listening" not in (line := server.stdout.readline()):
            assert line, "serve exited early"
        assert f"https://127.0.0.1:{port}" in line
        for _ in range(100):
            try:
                response = httpx.get(
                    f"https://127.0.0.1:{port}/healthz",
                    verify=ssl.create_default_context(cafile=paths["cert"]),
                )
                break
            except httpx.ConnectError:
                time.sleep(0.1)
        assert response.status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_serve_needs_both_tls_files(tmp_path: Path, env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["serve", "--tls-cert", str(tmp_path / "missing.pem")])
    assert result.exit_code != 0
    assert "--tls-key" in result.output


def test_inputs_origins_sets_shows_and_clears(env: dict[str, str]) -> None:
    runner = CliRunner()
    workspace = json.loads(runner.invoke(app, ["workspaces", "create", "Shop", "--json"]).stdout)
    created = runner.invoke(
        app,
        [
            "inputs",
            "create",
            "--workspace",
            str(workspace["id"]),
            "--name",
            "Web",
            "--platform",
            "web",
            "--json",
        ],
    )
    key = json.loads(created.stdout)["api_key"]
    allow = ["inputs", "origins", key, "--allow", "https://shop.example/", "--allow", "http://127.0.0.1:8000"]
    shown = json.loads(runner.invoke(app, [*allow, "--json"]).stdout)
    assert shown["allowed_origins"] == ["http://127.0.0.1:8000", "https://shop.example"]
    assert json.loads(runner.invoke(app, ["inputs", "origins", key, "--json"]).stdout) == shown
    cleared = json.loads(runner.invoke(app, ["inputs", "origins", key, "--any", "--json"]).stdout)
    assert cleared["allowed_origins"] == []
    bad = runner.invoke(app, ["inputs", "origins", key, "--allow", "shop.example"])
    assert bad.exit_code != 0
