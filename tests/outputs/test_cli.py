"""`fermion outputs|connections create|list|show` and `fermion deliveries ledger|dead-letters|redrive`."""

from __future__ import annotations

import json

from starlette.testclient import TestClient
from typer.testing import CliRunner

from fermion.cli.main import app
from fermion.platform import InputCredentials
from fermion.runtime import Runtime
from tests.audiences.conftest import send
from tests.factories import make_batch
from tests.fakes.webhook import WebhookReceiver
from tests.outputs.conftest import deliver, run_pipeline


def _json(*args: str, stdin: str | None = None) -> object:
    result = CliRunner().invoke(app, [*args, "--json"], input=stdin)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_outputs_connections_and_deliveries(
    cli_env: None, runtime: Runtime, client: TestClient, auth: dict[str, str],
    credentials: InputCredentials, receiver: WebhookReceiver,
) -> None:  # fmt: skip
    body = {
        "name": "hook",
        "integration": "webhook",
        "settings": {"post_url": receiver.url, "authorization_header": "s3cret"},
    }
    output = _json("outputs", "create", "-", stdin=json.dumps(body))
    assert isinstance(output, dict) and output["settings"]["authorization_header"] == "********"
    connection = _json(
        "connections",
        "create",
        "-",
        stdin=json.dumps({"output_id": output["id"], "input_id": credentials.input.id}),
    )
    assert isinstance(connection, dict) and connection["kind"] == "event"
    assert [o["id"] for o in _json("outputs", "list")] == [output["id"]]  # type: ignore[union-attr]
    assert _json("connections", "show", str(connection["id"]))["output_id"] == output["id"]  # type: ignore[index]

    receiver.fail_with(422)
    send(client, auth, make_batch())
    run_pipeline(runtime)
    [letter] = _json("deliveries", "dead-letters", "--output", str(output["id"]))  # type: ignore[misc]
    assert "HTTP 422" in letter["last_error"] and letter["payload"]["schema_version"] == 2
    [entry] = _json("deliveries", "ledger", "--mpid", letter["mpid"])  # type: ignore[misc]
    assert entry["outcome"] == "dead_lettered"
    receiver.recover()
    assert _json("deliveries", "redrive", "--output", str(output["id"])) == {"redriven": 1}
    deliver(runtime)
    assert len(receiver.received) == 1
    outcomes = [e["outcome"] for e in _json("deliveries", "ledger")]  # type: ignore[union-attr]
    assert outcomes[0] == "delivered" and "redriven" in outcomes

    bad = CliRunner().invoke(
        app, ["outputs", "create", "-"], input=json.dumps({"name": "x", "integration": "webhook"})
    )
    assert bad.exit_code != 0
