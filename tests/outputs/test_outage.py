"""A one-hour Klaviyo outage on a frozen clock loses nothing and does not hold up the webhook; a slow
output does not delay another."""

from __future__ import annotations

import time

from starlette.testclient import TestClient

from fermion.clock import FrozenClock
from fermion.platform import InputCredentials
from fermion.runtime import Runtime
from tests.audiences.conftest import send
from tests.factories import make_batch, make_event
from tests.fakes.klaviyo import FakeKlaviyo
from tests.fakes.webhook import WebhookReceiver
from tests.outputs.conftest import api, deliver, klaviyo_output, run_pipeline

EVERYONE = {
    "type": "user_attribute",
    "condition": {"type": "string", "attribute_name": "plan", "operator": "exists"},
}


def test_an_hour_of_503s_loses_nothing_and_the_webhook_keeps_flowing(
    client: TestClient,
    runtime: Runtime,
    auth: dict[str, str],
    bearer: dict[str, str],
    credentials: InputCredentials,
    klaviyo: FakeKlaviyo,
    receiver: WebhookReceiver,
    clock: FrozenClock,
) -> None:
    audience = api(client, bearer, "POST", "/audiences", {"name": "Planned", "criteria": EVERYONE})
    k = klaviyo_output(client, bearer, klaviyo)
    api(client, bearer, "POST", "/connections", {"output_id": k["id"], "audience_id": audience["id"]})
    w = api(
        client,
        bearer,
        "POST",
        "/outputs",
        {"name": "hook", "integration": "webhook", "settings": {"post_url": receiver.url}},
    )
    api(client, bearer, "POST", "/connections", {"output_id": w["id"], "input_id": credentials.input.id})
    runtime.new_worker().drain()
    klaviyo.fail_with(503)
    users = [f"user{n}@example.com" for n in range(12)]
    for minute, email in enumerate(users):  # one new member every 5 minutes for an hour
        send(
            client,
            auth,
            make_batch([make_event()], user_identities={"email": email}, user_attributes={"plan": "pro"}),
        )
        run_pipeline(runtime)
        assert len(receiver.received) == minute + 1  # the webhook is not held up by Klaviyo
        clock.advance(5 * 60_000)
    assert klaviyo.members("Planned") == []
    assert api(client, bearer, "GET", "/deliveries/dead-letters") == []
    retrying = [
        e
        for e in api(client, bearer, "GET", f"/deliveries/ledger?output_id={k['id']}")
        if e["outcome"] == "retrying"
    ]
    assert retrying and all(e["reason"].startswith("HTTP 503") for e in retrying)

    klaviyo.recover()
    clock.advance(600_000)  # the longest backoff
    deliver(runtime)
    assert sorted(m["email"] for m in klaviyo.members("Planned")) == sorted(users)
    assert api(client, bearer, "GET", "/deliveries/dead-letters") == []
    counts = api(client, bearer, "GET", f"/outputs/{k['id']}")["deliveries"]
    assert counts == {"delivered": len(users)}


def test_a_slow_output_does_not_delay_another(
    client: TestClient,
    runtime: Runtime,
    auth: dict[str, str],
    bearer: dict[str, str],
    credentials: InputCredentials,
    receiver: WebhookReceiver,
) -> None:
    slow = WebhookReceiver().start()
    try:
        for name, url in (("slow", slow.url), ("fast", receiver.url)):
            out = api(
                client,
                bearer,
                "POST",
                "/outputs",
                {"name": name, "integration": "webhook", "settings": {"post_url": url}},
            )
            api(
                client,
                bearer,
                "POST",
                "/connections",
                {"output_id": out["id"], "input_id": credentials.input.id},
            )
        slow.hold.clear()
        send(client, auth, make_batch())
        runtime.new_worker().drain()
        runtime.outputs.runner.tick()
        deadline = time.monotonic() + 10
        while not receiver.received and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(receiver.received) == 1 and slow.received == []
        runtime.outputs.runner.tick()  # the slow output is still in flight: not started twice
        slow.hold.set()
        runtime.outputs.runner.deliver_due()
        deadline = time.monotonic() + 10
        while not slow.received and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(slow.received) == 1
    finally:
        slow.hold.set()
        slow.stop()
