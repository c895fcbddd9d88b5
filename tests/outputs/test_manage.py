"""Outputs and connections after creation: settings changed (merged, re-checked, secrets kept),
connections switched off and on, deletes refused while records wait and forced deletes recorded in the
ledger; the same through `fermion outputs|connections update|delete`."""

from __future__ import annotations

import json
from typing import Any

from starlette.testclient import TestClient
from typer.testing import CliRunner

from fermion.cli.main import app
from fermion.clock import FrozenClock
from fermion.platform import InputCredentials
from fermion.runtime import Runtime
from tests.audiences.conftest import send
from tests.factories import make_batch, make_event
from tests.fakes.webhook import WebhookReceiver
from tests.outputs.conftest import api, deliver, run_pipeline

BASE = "/platform/v1/workspace/1"


def _webhook(
    client: TestClient, bearer: dict[str, str], receiver: WebhookReceiver, input_id: int
) -> tuple[int, int]:
    output = api(client, bearer, "POST", "/outputs", {"name": "hook", "integration": "webhook",
                 "settings": {"post_url": receiver.url, "authorization_header": "Basic abc"}})  # fmt: skip
    connection = api(
        client, bearer, "POST", "/connections", {"output_id": output["id"], "input_id": input_id}
    )
    return int(output["id"]), int(connection["id"])


def _error(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    [error] = response.json()["errors"]
    return str(error["message"])


def _batch(sku: str) -> dict[str, Any]:
    return make_batch([make_event(event_name="Viewed", custom_attributes={"sku": sku, "card": "4111"})])


def test_output_settings_are_merged_rechecked_and_secrets_kept(
    client: TestClient, runtime: Runtime, auth: dict[str, str], bearer: dict[str, str],
    credentials: InputCredentials, receiver: WebhookReceiver,
) -> None:  # fmt: skip
    output_id, _ = _webhook(client, bearer, receiver, credentials.input.id)
    changed = api(client, bearer, "PATCH", f"/outputs/{output_id}",
                  {"name": "Renamed", "settings": {"headers": {"X-Team": "growth"}}})  # fmt: skip
    assert changed["name"] == "Renamed" and changed["updated_ms"] is not None
    assert changed["settings"]["authorization_header"] == "********"  # kept, still masked
    assert changed["settings"]["post_url"] == receiver.url and changed["settings"]["bulk_size"] == 100
    # the masked value sent back (a GET edited and PATCHed whole) keeps the secret too
    whole = {**changed["settings"], "bulk_size": 5}
    assert (
        api(client, bearer, "PATCH", f"/outputs/{output_id}", {"settings": whole})["settings"]["bulk_size"]
        == 5
    )
    assert (
        api(client, bearer, "PATCH", f"/outputs/{output_id}", {"settings": {"bulk_size": None}})["settings"][
            "bulk_size"
        ]
        == 100
    )  # null restores the integration's default

    send(client, auth, _batch("A1"))
    run_pipeline(runtime)
    assert receiver.headers[0]["authorization"] == "Basic abc" and receiver.headers[0]["x-team"] == "growth"

    patch = f"{BASE}/outputs/{output_id}"
    assert "settings.post_url" in _error(
        client.patch(patch, json={"settings": {"post_url": 5}}, headers=bearer), 400
    )
    assert "settings.nope: unknown setting" in _error(
        client.patch(patch, json={"settings": {"nope": 1}}, headers=bearer), 400
    )
    assert "integration" in _error(client.patch(patch, json={"integration": "files"}, headers=bearer), 400)
    assert "name" in _error(client.patch(patch, json={"name": " "}, headers=bearer), 400)
    assert "No output 99" in _error(
        client.patch(f"{BASE}/outputs/99", json={"name": "x"}, headers=bearer), 404
    )
    assert api(client, bearer, "GET", f"/outputs/{output_id}")["settings"]["post_url"] == receiver.url


def test_connection_switched_off_routes_nothing_and_new_settings_apply(
    client: TestClient, runtime: Runtime, auth: dict[str, str], bearer: dict[str, str],
    credentials: InputCredentials, receiver: WebhookReceiver,
) -> None:  # fmt: skip
    output_id, connection_id = _webhook(client, bearer, receiver, credentials.input.id)
    send(client, auth, _batch("before"))
    run_pipeline(runtime)  # the worker's router has loaded the connection
    assert api(client, bearer, "PATCH", f"/connections/{connection_id}", {"active": False})["active"] is False

    send(client, auth, _batch("while-off"))
    run_pipeline(runtime)
    assert [b["events"][0]["data"]["custom_attributes"]["sku"] for b in receiver.received] == ["before"]
    assert api(client, bearer, "GET", f"/outputs/{output_id}")["deliveries"] == {"delivered": 1}

    data_filter = {"data_points": [{"type": "EventAttribute", "name": "Viewed", "attribute_name": "card",
                                    "enabled": False}]}  # fmt: skip
    changed = api(client, bearer, "PATCH", f"/connections/{connection_id}",
                  {"active": True, "settings": {"data_filter": data_filter}})  # fmt: skip
    assert changed["active"] is True and changed["settings"]["data_filter"] == data_filter
    send(client, auth, _batch("after"))
    run_pipeline(runtime)
    last = receiver.received[-1]["events"][0]["data"]["custom_attributes"]
    assert last == {"sku": "after"}  # the filter added while running applies to the next batch

    patch = f"{BASE}/connections/{connection_id}"
    assert "user_sampling_percent" in _error(
        client.patch(patch, json={"settings": {"user_sampling_percent": 500}}, headers=bearer), 400
    )
    assert "output_id" in _error(client.patch(patch, json={"output_id": 2}, headers=bearer), 400)
    assert "active" in _error(client.patch(patch, json={"active": "maybe"}, headers=bearer), 400)
    cleared = api(
        client, bearer, "PATCH", f"/connections/{connection_id}", {"settings": {"data_filter": None}}
    )
    assert "data_filter" not in cleared["settings"]


def test_deletes_are_refused_while_records_wait_and_forced_ones_are_in_the_ledger(
    client: TestClient, runtime: Runtime, auth: dict[str, str], bearer: dict[str, str],
    credentials: InputCredentials, receiver: WebhookReceiver,
) -> None:  # fmt: skip
    output_id, connection_id = _webhook(client, bearer, receiver, credentials.input.id)
    receiver.fail_with(422)
    send(client, auth, _batch("dead"))
    run_pipeline(runtime)
    receiver.fail_with(503)
    send(client, auth, _batch("retrying"))
    run_pipeline(runtime)
    assert api(client, bearer, "GET", f"/outputs/{output_id}")["deliveries"] == {"dead": 1, "pending": 1}

    refused = client.delete(f"{BASE}/connections/{connection_id}", headers=bearer)
    assert refused.json()["errors"][0]["code"] == "CONFLICT"
    message = _error(refused, 409)
    assert "1 queued and 1 dead-lettered" in message and "force=true" in message
    assert "1 queued" in _error(client.delete(f"{BASE}/outputs/{output_id}", headers=bearer), 409)
    assert api(client, bearer, "GET", f"/connections/{connection_id}")["id"] == connection_id  # untouched

    deleted = api(client, bearer, "DELETE", f"/outputs/{output_id}?force=true")
    assert deleted == {"id": output_id, "deleted_connections": [connection_id], "dropped_records": 2}
    ledger = api(client, bearer, "GET", f"/deliveries/ledger?output_id={output_id}")
    dropped = [e for e in ledger if e["outcome"] == "dropped"]
    assert len(dropped) == 2 and {e["reason"] for e in dropped} == {f"output {output_id} deleted"}
    assert _error(client.get(f"{BASE}/outputs/{output_id}", headers=bearer), 404)
    assert _error(client.get(f"{BASE}/connections/{connection_id}", headers=bearer), 404)
    assert api(client, bearer, "GET", "/deliveries/dead-letters") == []

    receiver.recover()
    send(client, auth, _batch("after"))
    run_pipeline(runtime)  # the worker notices the deleted connection: nothing is queued for it
    assert receiver.received == []
    assert api(client, bearer, "GET", f"/deliveries/ledger?output_id={output_id}") == ledger


def test_a_connection_without_waiting_records_is_deleted_and_its_output_kept(
    client: TestClient, runtime: Runtime, auth: dict[str, str], bearer: dict[str, str],
    credentials: InputCredentials, receiver: WebhookReceiver,
) -> None:  # fmt: skip
    output_id, connection_id = _webhook(client, bearer, receiver, credentials.input.id)
    send(client, auth, _batch("one"))
    run_pipeline(runtime)
    deleted = api(client, bearer, "DELETE", f"/connections/{connection_id}")
    assert deleted == {"id": connection_id, "deleted_connections": [connection_id], "dropped_records": 0}
    send(client, auth, _batch("two"))
    run_pipeline(runtime)
    assert len(receiver.received) == 1
    assert api(client, bearer, "GET", f"/outputs/{output_id}")["name"] == "hook"
    assert api(client, bearer, "GET", "/connections") == []
    deliver(runtime)


def test_the_new_routes_are_documented(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    output = paths["/platform/v1/workspace/{workspace_id}/outputs/{output_id}"]
    assert {"get", "patch", "delete"} <= set(output)
    assert "409" in output["delete"]["responses"]
    assert "force" in [p["name"] for p in output["delete"]["parameters"]]
    connection = paths["/platform/v1/workspace/{workspace_id}/connections/{connection_id}"]
    assert {"get", "patch", "delete"} <= set(connection)
    assert "post" in paths["/platform/v1/workspace/{workspace_id}/outputs/{output_id}/resume"]


def _cli(*args: str, stdin: str | None = None, code: int = 0) -> Any:
    result = CliRunner().invoke(app, [*args, "--json"], input=stdin)
    assert result.exit_code == code, result.output
    return json.loads(result.stdout) if code == 0 else result.output


def test_update_and_delete_from_the_cli(
    cli_env: None, runtime: Runtime, client: TestClient, auth: dict[str, str],
    credentials: InputCredentials, receiver: WebhookReceiver,
) -> None:  # fmt: skip
    body = {"name": "hook", "integration": "webhook", "settings": {"post_url": receiver.url,
            "authorization_header": "s3cret"}}  # fmt: skip
    output = _cli("outputs", "create", "-", stdin=json.dumps(body))
    link = {"output_id": output["id"], "input_id": credentials.input.id}
    connection = _cli("connections", "create", "-", stdin=json.dumps(link))
    changed = _cli("outputs", "update", str(output["id"]), "-", "--name", "Renamed",
                   stdin=json.dumps({"settings": {"send_as_batch": True}}))  # fmt: skip
    assert changed["name"] == "Renamed" and changed["settings"]["send_as_batch"] is True
    assert changed["settings"]["authorization_header"] == "********" and changed["state"] == "active"
    off = _cli("connections", "update", str(connection["id"]), "--inactive")
    assert off["active"] is False

    receiver.fail_with(503)
    _cli("connections", "update", str(connection["id"]), "--active")
    send(client, auth, make_batch())
    run_pipeline(runtime)
    assert receiver.received == []
    refused = CliRunner().invoke(app, ["connections", "delete", str(connection["id"])])
    assert refused.exit_code != 0
    assert _cli("connections", "delete", str(connection["id"]), "--force") == {
        "id": connection["id"], "deleted_connections": [connection["id"]], "dropped_records": 1,
    }  # fmt: skip
    [entry] = [e for e in _cli("deliveries", "ledger") if e["outcome"] == "dropped"]
    assert entry["reason"] == f"connection {connection['id']} deleted"
    assert _cli("outputs", "delete", str(output["id"])) == {
        "id": output["id"], "deleted_connections": [], "dropped_records": 0,
    }  # fmt: skip
    assert _cli("outputs", "list") == []


def test_a_forced_delete_keeps_the_payload_another_connection_shares(
    client: TestClient, runtime: Runtime, auth: dict[str, str], bearer: dict[str, str],
    credentials: InputCredentials, receiver: WebhookReceiver, clock: FrozenClock,
) -> None:  # fmt: skip
    other = WebhookReceiver().start()
    try:
        _, first = _webhook(client, bearer, receiver, credentials.input.id)
        second_output, _ = _webhook(client, bearer, other, credentials.input.id)
        receiver.fail_with(503)
        other.fail_with(503)
        send(client, auth, _batch("shared"))
        run_pipeline(runtime)  # both connections forward the batch unchanged: one stored payload
        assert api(client, bearer, "DELETE", f"/connections/{first}?force=true")["dropped_records"] == 1
        other.recover()
        clock.advance(3_600_000)
        deliver(runtime)
        [body] = other.received
        assert body["events"][0]["data"]["custom_attributes"]["sku"] == "shared"
        assert api(client, bearer, "GET", f"/outputs/{second_output}")["deliveries"] == {"delivered": 1}
    finally:
        other.stop()
