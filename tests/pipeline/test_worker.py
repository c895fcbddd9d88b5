"""The pipeline worker: idempotent replays, per-user order, parking, MPIDs, profile state and feed inputs."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import text
from starlette.testclient import TestClient

from fermion.pipeline import SOURCE_FEED_ATTRIBUTE, Worker
from fermion.platform import Input, InputCredentials
from fermion.queue import InboxRecord
from fermion.runtime import Runtime
from tests.factories import basic_auth, make_batch, make_event


def _enqueue(runtime: Runtime, source: Input, batch: dict[str, Any]) -> list[bool]:
    """Put one batch into the inbox the way ingest does (same user key and partition)."""
    accepted = runtime.acceptor.single(source, json.dumps(batch).encode())
    return runtime.inbox.enqueue(accepted.records)


def _poison(runtime: Runtime, source: Input, partition: int) -> InboxRecord:
    """An inbox record whose payload is not JSON: processing it fails."""
    return InboxRecord(
        workspace_id=source.workspace_id,
        input_id=source.id,
        partition=partition,
        user_key=f"customer_id:poison-{partition}",
        received_ms=runtime.clock.now_ms(),
        channel="server_to_server",
        historical=False,
        payload=b'{"events": [',
        source_request_id=None,
    )


def _uids(runtime: Runtime, workspace_id: int = 1) -> list[str]:
    return [e.event_uid for e in runtime.events.tail(0, 100_000, workspace_id)]


def test_a_batch_enqueued_twice_is_stored_once(
    runtime: Runtime, credentials: InputCredentials, worker: Worker
) -> None:
    batch = make_batch(
        [
            make_event(event_name="A"),
            make_event(event_name="B"),
            make_event("screen_view", screen_name="Home"),
        ],
        user_attributes={"plan": "pro"},
    )
    sent = {e["data"]["source_message_id"] for e in batch["events"]}
    assert _enqueue(runtime, credentials.input, batch) == [True]
    assert _enqueue(runtime, credentials.input, batch) == [True]  # no source_request_id: both are accepted
    worker.drain()
    assert sorted(_uids(runtime)) == sorted(sent)
    assert runtime.events.count(1) == 3
    # and once more, in a later micro-batch
    _enqueue(runtime, credentials.input, batch)
    assert worker.tick().events_stored == 0
    assert runtime.inbox.status().depth == 0
    assert runtime.events.count(1) == 3


def test_a_batch_posted_twice_over_http_is_stored_once(
    runtime: Runtime, client: TestClient, auth: dict[str, str], worker: Worker
) -> None:
    batch = make_batch([make_event(event_name=f"E{i}") for i in range(5)])
    for _ in range(2):
        assert client.post("/v2/events", json=batch, headers=auth).status_code == 202
        worker.drain()
    assert sorted(_uids(runtime)) == sorted(e["data"]["source_message_id"] for e in batch["events"])


def test_replaying_an_inbox_row_after_a_crash_stores_nothing_twice(
    runtime: Runtime, credentials: InputCredentials, worker: Worker
) -> None:
    """A crash after the events were appended but before the inbox row was deleted replays the row."""
    events = [make_event(event_name=f"E{i}") for i in range(4)]
    for event in events:
        del event["data"]["source_message_id"]  # uids come from the inbox row: inbox:<id>:<index>
    _enqueue(runtime, credentials.input, make_batch(events, user_identities={"customer_id": "crash-1"}))
    with runtime.engine.connect() as conn:
        row = dict(conn.execute(text("SELECT * FROM inbox")).mappings().one())
    worker.drain()
    first = _uids(runtime)
    assert sorted(first) == sorted(f"inbox:{row['id']}:{i}" for i in range(4))

    with runtime.engine.begin() as conn:  # the row comes back exactly as it was before the crash
        conn.execute(
            text(f"INSERT INTO inbox ({', '.join(row)}) VALUES ({', '.join(':' + c for c in row)})"), row
        )
    result = worker.tick()
    assert (result.claimed, result.processed, result.events_stored) == (1, 1, 0)
    assert _uids(runtime) == first
    assert runtime.inbox.status().depth == 0


def test_one_users_batches_are_applied_in_order(
    runtime: Runtime, client: TestClient, auth: dict[str, str]
) -> None:
    steps = 12
    for step in range(1, steps + 1):
        batch = make_batch(
            [make_event(event_name=f"step {step}")],
            user_identities={"customer_id": "ordered"},
            user_attributes={"step": step},
        )
        assert client.post("/v2/events", json=batch, headers=auth).status_code == 202
    # other users' batches in between, and micro-batches smaller than the backlog
    for _ in range(5):
        assert client.post("/v2/events", json=make_batch(), headers=auth).status_code == 202
    runtime.settings.worker_batch_size = 4
    runtime.new_worker().drain()

    mpid = runtime.profiles.find_by_identity(1, "customer_id", "ordered")
    assert mpid is not None
    profile = runtime.profiles.get(1, mpid)
    assert profile is not None and profile.user_attributes == {"step": steps}
    stored = runtime.events.events_of(1, mpid)
    assert [e.event_name for e in stored] == [f"step {s}" for s in range(1, steps + 1)]
    assert [e.seq for e in stored] == sorted(e.seq for e in stored)


def test_a_failing_batch_is_parked_and_the_others_are_stored(
    runtime: Runtime, credentials: InputCredentials, worker: Worker
) -> None:
    source = credentials.input
    good_before = make_batch([make_event(event_name="before")])
    good_after = make_batch([make_event(event_name="after")])
    _enqueue(runtime, source, good_before)
    poison = _poison(runtime, source, 7)
    runtime.inbox.enqueue([poison])
    _enqueue(runtime, source, good_after)

    result = worker.tick()  # all three in one micro-batch
    assert (result.claimed, result.processed, result.parked, result.events_stored) == (3, 2, 1, 2)
    assert sorted(e.event_name for e in runtime.events.tail(0, 100, 1)) == ["after", "before"]
    status = runtime.inbox.status()
    assert (status.depth, status.parked) == (0, 1)
    [parked] = runtime.inbox.parked()
    assert parked.workspace_id == source.workspace_id and parked.input_id == source.id
    assert parked.attempts == 1
    assert "BatchValidationError" in parked.error and "Malformed JSON" in parked.error

    assert runtime.inbox.replay_parked() == 1
    status = runtime.inbox.status()
    assert (status.depth, status.parked) == (1, 0)
    assert runtime.inbox.parked() == []
    # still poison: parked again, with its attempts counted
    assert worker.tick().parked == 1
    [again] = runtime.inbox.parked()
    assert again.id == parked.id and again.attempts == 2
    assert runtime.events.count(1) == 2


def test_replay_parked_by_id_requeues_only_those(
    runtime: Runtime, credentials: InputCredentials, worker: Worker
) -> None:
    source = credentials.input
    runtime.inbox.enqueue([_poison(runtime, source, n) for n in range(3)])
    worker.drain()
    ids = [p.id for p in runtime.inbox.parked()]
    assert len(ids) == 3
    assert runtime.inbox.replay_parked([ids[1]]) == 1
    assert [p.id for p in runtime.inbox.parked()] == [ids[0], ids[2]]
    assert runtime.inbox.status().depth == 1


def test_batches_with_the_same_login_id_resolve_to_one_mpid(
    runtime: Runtime, client: TestClient, auth: dict[str, str], worker: Worker
) -> None:
    first = make_batch(
        [make_event(event_name="one")], user_identities={"customer_id": "same", "email": "a@x.io"}
    )
    second = make_batch(
        [make_event(event_name="two")], user_identities={"customer_id": "same", "email": "b@x.io"}
    )
    other = make_batch([make_event(event_name="three")], user_identities={"customer_id": "different"})
    for batch in (first, second, other):
        assert client.post("/v2/events", json=batch, headers=auth).status_code == 202
    worker.drain()

    by_name = {e.event_name: e.mpid for e in runtime.events.tail(0, 100, 1)}
    assert by_name["one"] == by_name["two"] != by_name["three"]
    mpid = by_name["one"]
    assert runtime.profiles.find_by_identity(1, "customer_id", "same") == mpid
    assert runtime.profiles.find_by_identity(1, "email", "b@x.io") == mpid
    profile = runtime.profiles.get(1, mpid)
    assert profile is not None and not profile.provisional
    assert profile.user_identities == {"customer_id": "same", "email": "b@x.io"}
    # IDSync keeps both emails on the profile (email is not a unique ID under the default strategy).
    assert runtime.identity.identities(1, mpid) == {"customer_id": ["same"], "email": ["a@x.io", "b@x.io"]}


def test_the_same_identities_in_another_workspace_get_another_mpid(
    runtime: Runtime, client: TestClient, auth: dict[str, str], worker: Worker
) -> None:
    workspace = runtime.tenancy.create_workspace("Second")
    second = runtime.tenancy.create_input(workspace.id, "Second server input")
    batch = make_batch(user_identities={"customer_id": "shared"})
    assert client.post("/v2/events", json=batch, headers=auth).status_code == 202
    other_auth = basic_auth(second.input.api_key, second.api_secret)
    assert (
        client.post(
            "/v2/events", json=make_batch(user_identities={"customer_id": "shared"}), headers=other_auth
        ).status_code
        == 202
    )
    worker.drain()
    here = runtime.profiles.find_by_identity(1, "customer_id", "shared")
    there = runtime.profiles.find_by_identity(workspace.id, "customer_id", "shared")
    assert here is not None and there is not None and here != there
    assert [e.mpid for e in runtime.events.tail(0, 100, workspace.id)] == [there]


def test_an_explicit_mpid_is_used_and_the_profile_is_not_provisional(
    runtime: Runtime, client: TestClient, auth: dict[str, str], worker: Worker
) -> None:
    mpid = -8_480_396_284_395_817_533
    batch = make_batch(
        [make_event(event_name="known")],
        mpid=str(mpid),
        user_identities={"customer_id": "known-user"},
    )
    assert client.post("/v2/events", json=batch, headers=auth).status_code == 202
    worker.drain()
    [stored] = runtime.events.tail(0, 100, 1)
    assert stored.mpid == mpid
    profile = runtime.profiles.get(1, mpid)
    assert profile is not None and not profile.provisional
    assert runtime.profiles.find_by_identity(1, "customer_id", "known-user") == mpid


def test_deleted_user_attributes_are_removed(
    runtime: Runtime, client: TestClient, auth: dict[str, str], worker: Worker
) -> None:
    identities = {"customer_id": "attrs"}
    batches = [
        make_batch(user_identities=identities, user_attributes={"a": 1, "b": "two", "c": ["x", "y"]}),
        make_batch(user_identities=identities, deleted_user_attributes=["a", "c", "never-set"]),
        make_batch(user_identities=identities, user_attributes={"d": True}),
    ]
    for batch in batches:
        assert client.post("/v2/events", json=batch, headers=auth).status_code == 202
    worker.drain()
    mpid = runtime.profiles.find_by_identity(1, "customer_id", "attrs")
    assert mpid is not None
    profile = runtime.profiles.get(1, mpid)
    assert profile is not None and profile.user_attributes == {"b": "two", "d": True}


def test_deleting_an_attribute_in_a_later_micro_batch_removes_it(
    runtime: Runtime, client: TestClient, auth: dict[str, str], worker: Worker
) -> None:
    identities = {"customer_id": "attrs-later"}
    post = client.post(
        "/v2/events", json=make_batch(user_identities=identities, user_attributes={"gone": 1}), headers=auth
    )
    assert post.status_code == 202
    worker.drain()
    post = client.post(
        "/v2/events",
        json=make_batch(user_identities=identities, deleted_user_attributes=["gone"]),
        headers=auth,
    )
    assert post.status_code == 202
    worker.drain()
    mpid = runtime.profiles.find_by_identity(1, "customer_id", "attrs-later")
    assert mpid is not None
    profile = runtime.profiles.get(1, mpid)
    assert profile is not None and profile.user_attributes == {}


def test_consent_state_is_kept_on_the_profile(
    runtime: Runtime, client: TestClient, auth: dict[str, str], worker: Worker
) -> None:
    identities = {"customer_id": "consenting"}
    marketing = {
        "consented": True,
        "document": "v1",
        "timestamp_unixtime_ms": 1_700_000_000_000,
        "location": "example.com",
        "hardware_id": "hw-1",
    }
    batches = [
        make_batch(
            user_identities=identities,
            consent_state={
                "gdpr": {"marketing": marketing},
                "ccpa": {
                    "data_sale_opt_out": {"consented": False, "timestamp_unixtime_ms": 1_700_000_000_000}
                },
            },
        ),
        make_batch(
            user_identities=identities,
            consent_state={
                "gdpr": {"analytics": {"consented": False, "timestamp_unixtime_ms": 1_700_000_000_500}},
            },
        ),
    ]
    for batch in batches:
        assert client.post("/v2/events", json=batch, headers=auth).status_code == 202
    worker.drain()
    mpid = runtime.profiles.find_by_identity(1, "customer_id", "consenting")
    assert mpid is not None
    profile = runtime.profiles.get(1, mpid)
    assert profile is not None
    assert profile.consent_state == {
        "gdpr": {
            "marketing": marketing,
            "analytics": {"consented": False, "timestamp_unixtime_ms": 1_700_000_000_500},
        },
        "ccpa": {"data_sale_opt_out": {"consented": False, "timestamp_unixtime_ms": 1_700_000_000_000}},
    }

    withdrawn = make_batch(
        user_identities=identities,
        consent_state={
            "gdpr": {"marketing": {"consented": False, "timestamp_unixtime_ms": 1_700_000_001_000}},
        },
    )
    assert client.post("/v2/events", json=withdrawn, headers=auth).status_code == 202
    worker.drain()
    profile = runtime.profiles.get(1, mpid)
    assert profile is not None
    assert profile.consent_state["gdpr"]["marketing"] == {
        "consented": False,
        "timestamp_unixtime_ms": 1_700_000_001_000,
    }
    assert profile.consent_state["gdpr"]["analytics"]["consented"] is False
    assert profile.consent_state["ccpa"]["data_sale_opt_out"]["consented"] is False


def test_events_of_a_feed_input_carry_the_feed_name(
    runtime: Runtime, client: TestClient, auth: dict[str, str], worker: Worker
) -> None:
    feed = runtime.tenancy.create_input(1, "Partner Feed", kind="feed", platform="server")
    feed_auth = basic_auth(feed.input.api_key, feed.api_secret)
    from_feed = make_batch(
        [
            make_event(event_name="with attrs", custom_attributes={"color": "red"}),
            make_event(event_name="without attrs"),
            make_event("screen_view", screen_name="Home"),
        ],
        user_identities={"customer_id": "fed"},
    )
    assert client.post("/v2/events", json=from_feed, headers=feed_auth).status_code == 202
    from_server = make_batch(
        [make_event(event_name="server", custom_attributes={"color": "blue"})],
        user_identities={"customer_id": "fed"},
    )
    assert client.post("/v2/events", json=from_server, headers=auth).status_code == 202
    worker.drain()

    stored = {e.event_name: e for e in runtime.events.tail(0, 100, 1)}
    assert stored["with attrs"].input_id == feed.input.id
    attributes = {name: json.loads(e.body)["data"].get("custom_attributes") for name, e in stored.items()}
    assert attributes["with attrs"] == {"color": "red", SOURCE_FEED_ATTRIBUTE: "Partner Feed"}
    assert attributes["without attrs"] == {SOURCE_FEED_ATTRIBUTE: "Partner Feed"}
    assert attributes["Home"] == {SOURCE_FEED_ATTRIBUTE: "Partner Feed"}
    assert attributes["server"] == {"color": "blue"}
    assert SOURCE_FEED_ATTRIBUTE == "mParticle Source Feed"


def test_events_of_a_batch_are_stored_in_the_order_sent(
    runtime: Runtime, client: TestClient, auth: dict[str, str]
) -> None:
    """Events without timestamps share their batch's arrival time; their order in the batch must survive.

    The events differ in size, as real ones do (the pad is random hex, so that it does not compress).
    """
    users, per_batch = 30, 10
    batches = [
        make_batch(
            [
                make_event(
                    event_name=f"u{user}-e{i}",
                    custom_attributes={"pad": uuid.uuid4().hex * ((user + i * 7) % 40)},
                )
                for i in range(per_batch)
            ],
            user_identities={"customer_id": f"in-order-{user}"},
        )
        for user in range(users)
    ]
    for start in range(0, users, 10):
        response = client.post("/v2/bulkevents", json=batches[start : start + 10], headers=auth)
        assert response.status_code == 202, response.text
    runtime.settings.worker_batch_size = 10
    runtime.new_worker().drain()  # three micro-batches
    for user in range(users):
        mpid = runtime.profiles.find_by_identity(1, "customer_id", f"in-order-{user}")
        assert mpid is not None
        names = [e.event_name for e in runtime.events.events_of(1, mpid)]
        assert names == [f"u{user}-e{i}" for i in range(per_batch)]
    tailed = [e.event_name for e in runtime.events.tail(0, 1000, 1)]
    assert tailed == [f"u{user}-e{i}" for user in range(users) for i in range(per_batch)]
