"""A worker killed mid-processing loses nothing and duplicates nothing once another worker takes over."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from fermion.api import create_app
from fermion.runtime import Runtime
from fermion.settings import Settings
from tests.conftest import settings_for
from tests.factories import basic_auth, make_batch, make_event
from tests.pipeline.processes import SpawnWorker, wait_until

BATCHES = 300
EVENTS_PER_BATCH = 10
USERS = 40
BATCHES_PER_REQUEST = 50
# Kill points after a micro-batch commits (seconds): right away, and later into the next micro-batch, where
# its events may be appended but its inbox rows not yet deleted.
KILL_DELAYS = (0.0, 0.008, 0.011)


@pytest.fixture
def crash_settings(request: pytest.FixtureRequest, tmp_path: Path, backend: str) -> Settings:
    if backend == "postgres":
        return settings_for(tmp_path, request.getfixturevalue("postgres_schema_url"))
    return settings_for(tmp_path)


def _accept_batches(runtime: Runtime) -> None:
    """POST every batch through the Events API; some events carry no source_message_id."""
    created = runtime.tenancy.bootstrap()
    assert created is not None
    auth = basic_auth(created.input.api_key, created.api_secret)
    batches = []
    for n in range(BATCHES):
        events = [make_event(event_name=f"b{n}-e{i}") for i in range(EVENTS_PER_BATCH)]
        if n % 7 == 0:
            for event in events:
                del event["data"]["source_message_id"]
        batches.append(
            make_batch(
                events, user_identities={"customer_id": f"crash-{n % USERS}"}, user_attributes={"last": n}
            )
        )
    with TestClient(create_app(runtime), base_url="http://127.0.0.1") as client:
        for start in range(0, BATCHES, BATCHES_PER_REQUEST):
            response = client.post(
                "/v2/bulkevents", json=batches[start : start + BATCHES_PER_REQUEST], headers=auth
            )
            assert response.status_code == 202, response.text


def _expected_uids(runtime: Runtime) -> set[str]:
    """Every accepted event's uid: its source_message_id, or ``inbox:<id>:<index>`` without one."""
    uids: set[str] = set()
    with runtime.engine.connect() as conn:
        for inbox_id, payload in conn.execute(text("SELECT id, payload FROM inbox ORDER BY id")):
            for index, event in enumerate(json.loads(bytes(payload))["events"]):
                uids.add(event["data"].get("source_message_id") or f"inbox:{inbox_id}:{index}")
    return uids


def test_a_killed_worker_loses_and_duplicates_nothing(
    crash_settings: Settings, spawn_worker: SpawnWorker
) -> None:
    runtime = Runtime.open(crash_settings)  # the event store stays closed: the workers own it
    try:
        _accept_batches(runtime)
        expected = _expected_uids(runtime)
        assert len(expected) == BATCHES * EVENTS_PER_BATCH
        assert runtime.inbox.status().depth == BATCHES

        depth = BATCHES
        for delay in KILL_DELAYS:
            # a short lease, so the next worker takes over the dead one's partitions quickly
            victim = spawn_worker(crash_settings, WORKER_BATCH_SIZE=10, WORKER_LEASE_S=1)
            before = depth
            wait_until(
                lambda b=before: runtime.inbox.status().depth < b,
                30,
                victim,
                what="the worker to make progress",
            )
            time.sleep(delay)
            victim.kill()
            depth = runtime.inbox.status().depth
            assert 0 < depth < before, "the worker was not killed mid-processing"

        survivor = spawn_worker(crash_settings, WORKER_BATCH_SIZE=10, WORKER_LEASE_S=1)
        wait_until(lambda: runtime.inbox.status().depth == 0, 60, survivor, what="the inbox to drain")
        assert survivor.stop() == 0, survivor.output()
        assert runtime.inbox.status().parked == 0
        with runtime.engine.connect() as conn:
            owners = conn.execute(
                text("SELECT count(*) FROM inbox_partitions WHERE owner IS NOT NULL")
            ).scalar()
        assert owners == 0  # a clean stop gives every partition back

        stored = runtime.events.tail(0, 2 * BATCHES * EVENTS_PER_BATCH)
        assert runtime.events.count() == BATCHES * EVENTS_PER_BATCH
        assert len(stored) == BATCHES * EVENTS_PER_BATCH
        assert {e.event_uid for e in stored} == expected
        # per-user order held across the crashes: every profile ends with its user's last batch
        for user in range(USERS):
            mpid = runtime.profiles.find_by_identity(1, "customer_id", f"crash-{user}")
            assert mpid is not None
            profile = runtime.profiles.get(1, mpid)
            last = max(n for n in range(BATCHES) if n % USERS == user)
            assert profile is not None and profile.user_attributes == {"last": last}
            # (the order of events inside one batch is checked in test_worker, without crashes)
            names = [e.event_name for e in runtime.events.events_of(1, mpid)]
            batches = [name.split("-")[0] for name in names[::EVENTS_PER_BATCH]]
            assert batches == [f"b{n}" for n in range(user, BATCHES, USERS)]
            assert [name.split("-")[0] for name in names] == [
                b for b in batches for _ in range(EVENTS_PER_BATCH)
            ]
    finally:
        runtime.close()


def test_a_worker_killed_between_storing_events_and_acking_them_replays_nothing_twice(
    postgres_schema_url: str, tmp_path: Path, spawn_worker: SpawnWorker
) -> None:
    """The worst moment to die: the micro-batch's events are in the event store, its inbox rows are not gone.

    The test holds a lock on the profiles table, so the worker appends its events and then waits in its
    state transaction; it is killed there. (On PostgreSQL, where the test can watch both stores.)
    """
    settings = settings_for(tmp_path, postgres_schema_url)
    runtime = Runtime.open(settings)
    try:
        _accept_batches(runtime)
        expected = _expected_uids(runtime)
        with runtime.engine.connect() as blocker:
            blocker.execute(text("LOCK TABLE profiles IN EXCLUSIVE MODE"))  # reads pass, writes wait
            victim = spawn_worker(settings, WORKER_BATCH_SIZE=10, WORKER_LEASE_S=1)
            wait_until(lambda: runtime.events.count() > 0, 30, victim, what="the worker to append events")
            time.sleep(0.2)
            assert runtime.inbox.status().depth == BATCHES  # nothing acked: the worker waits for the lock
            appended = runtime.events.count()
            assert appended == 10 * EVENTS_PER_BATCH  # one micro-batch
            victim.kill()
            blocker.rollback()
        assert runtime.inbox.status().depth == BATCHES

        survivor = spawn_worker(settings, WORKER_BATCH_SIZE=10, WORKER_LEASE_S=1)
        wait_until(lambda: runtime.inbox.status().depth == 0, 60, survivor, what="the inbox to drain")
        assert survivor.stop() == 0, survivor.output()
        stored = runtime.events.tail(0, 2 * BATCHES * EVENTS_PER_BATCH)
        assert len(stored) == runtime.events.count() == BATCHES * EVENTS_PER_BATCH
        assert {e.event_uid for e in stored} == expected
        for user in range(USERS):
            mpid = runtime.profiles.find_by_identity(1, "customer_id", f"crash-{user}")
            assert mpid is not None
            profile = runtime.profiles.get(1, mpid)
            last = max(n for n in range(BATCHES) if n % USERS == user)
            assert profile is not None and profile.user_attributes == {"last": last}
    finally:
        runtime.close()
