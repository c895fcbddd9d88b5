"""Webhook output end to end: an mParticle batch in → the outbound batch JSON at the receiver; failures
retried as data, permanent ones dead-lettered and re-driven; the ledger tells what happened."""

from __future__ import annotations

from starlette.testclient import TestClient

from fermion.clock import FrozenClock
from fermion.platform import InputCredentials
from fermion.runtime import Runtime
from tests.audiences.conftest import mpid_of, send
from tests.factories import make_batch, make_event
from tests.fakes.webhook import WebhookReceiver
from tests.outputs.conftest import api, deliver, run_pipeline


def _webhook(
    client: TestClient, bearer: dict[str, str], receiver: WebhookReceiver, input_id: int, **conn: object
) -> int:
    output = api(client, bearer, "POST", "/outputs", {"name": "hook", "integration": "webhook",
                 "settings": {"post_url": receiver.url, "authorization_header": "Basic abc"}})  # fmt: skip
    api(
        client,
        bearer,
        "POST",
        "/connections",
        {"output_id": output["id"], "input_id": input_id, "settings": conn},
    )
    return int(output["id"])


def test_a_batch_reaches_the_webhook_as_outbound_json(
    client: TestClient, runtime: Runtime, auth: dict[str, str], bearer: dict[str, str],
    credentials: InputCredentials, receiver: WebhookReceiver,
) -> None:  # fmt: skip
    output_id = _webhook(client, bearer, receiver, credentials.input.id)
    batch = make_batch(
        [make_event(event_name="Viewed", custom_attributes={"sku": "A1"})],
        user_identities={"customer_id": "c-1", "email": "a@example.com"},
        user_attributes={"tier": "gold"},
    )
    send(client, auth, batch)
    run_pipeline(runtime)
    assert len(receiver.received) == 1
    body = receiver.received[0]
    assert receiver.headers[0]["authorization"] == "Basic abc"
    assert {"identity_type": "email", "identity": "a@example.com"}.items() <= body["user_identities"][
        1
    ].items() or any(
        i["identity_type"] == "email" and i["identity"] == "a@example.com" for i in body["user_identities"]
    )
    assert body["schema_version"] == 2 and body["mpid"] == str(
        mpid_of(runtime, runtime.tenancy.get_workspace(1), "c-1")
    )
    assert body["events"][0]["data"]["custom_attributes"] == {"sku": "A1"}
    assert body["events"][0]["message_id"] == batch["events"][0]["data"]["source_message_id"]
    assert body["user_attributes"] == {"tier": "gold"}
    ledger = api(client, bearer, "GET", f"/deliveries/ledger?output_id={output_id}")
    assert [e["outcome"] for e in ledger] == ["delivered"]


def test_failures_retry_then_dead_letter_and_redrive(
    client: TestClient, runtime: Runtime, auth: dict[str, str], bearer: dict[str, str],
    credentials: InputCredentials, receiver: WebhookReceiver, clock: FrozenClock,
) -> None:  # fmt: skip
    output_id = _webhook(client, bearer, receiver, credentials.input.id)
    receiver.fail_next(1, 503, retry_after="120")
    send(client, auth, make_batch(user_identities={"customer_id": "c-2"}))
    run_pipeline(runtime)
    assert receiver.received == []
    [entry] = api(client, bearer, "GET", "/deliveries/ledger")
    assert entry["outcome"] == "retrying" and entry["attempt"] == 1
    assert entry["next_attempt_ms"] >= clock.now_ms() + 120_000  # Retry-After honoured
    deliver(runtime)
    assert receiver.received == []  # not due yet: retry is data, not a sleep
    clock.advance(121_000)
    deliver(runtime)
    assert len(receiver.received) == 1

    receiver.fail_with(400)
    send(client, auth, make_batch(user_identities={"customer_id": "c-3"}))
    run_pipeline(runtime)
    mpid = mpid_of(runtime, runtime.tenancy.get_workspace(1), "c-3")
    mine = api(client, bearer, "GET", f"/deliveries/ledger?mpid={mpid}")
    assert [e["outcome"] for e in mine] == ["dead_lettered"] and "HTTP 400" in mine[0]["reason"]

    receiver.fail_with(500)
    send(client, auth, make_batch(user_identities={"customer_id": "c-4"}))
    run_pipeline(runtime)
    for _ in range(40):  # well past the 4 h window with the backoff capped at 10 min
        clock.advance(600_000)
        deliver(runtime)
    letters = api(client, bearer, "GET", f"/deliveries/dead-letters?output_id={output_id}")
    assert len(letters) == 2 and "HTTP 400" in letters[0]["last_error"]
    assert "retries exhausted" in letters[1]["last_error"]
    receiver.recover()
    redriven = api(client, bearer, "POST", f"/outputs/{output_id}/dead-letters/redrive", {})
    assert redriven == {"redriven": 2}
    deliver(runtime)
    assert len(receiver.received) == 3
    assert api(client, bearer, "GET", f"/deliveries/dead-letters?output_id={output_id}") == []
