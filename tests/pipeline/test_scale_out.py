"""Scale-out: workers share the inbox through partition leases, without loss, duplication or overlap."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, text

from fermion.clock import FrozenClock
from fermion.queue import INBOX_PARTITIONS, PartitionLeases
from fermion.runtime import Runtime
from fermion.settings import Settings
from tests.conftest import settings_for
from tests.factories import make_batch, make_event
from tests.pipeline.processes import SpawnWorker, WorkerProcess, wait_until

LEASE_MS = 3_000


def _owners(engine: Engine) -> dict[str, set[int]]:
    """Partition holders as the table says (a lease that ran out still names its last owner)."""
    held: dict[str, set[int]] = {}
    with engine.connect() as conn:
        for partition, owner in conn.execute(text("SELECT partition, owner FROM inbox_partitions")):
            if owner is not None:
                held.setdefault(owner, set()).add(int(partition))
    return held


class _Beliefs:
    """What each worker believes it holds after its last renew, and until when; checks they never overlap."""

    def __init__(self, clock: FrozenClock) -> None:
        self._clock = clock
        self._held: dict[str, tuple[set[int], int]] = {}

    def renew(self, lease: PartitionLeases) -> set[int]:
        held = set(lease.renew())
        self._held[lease.worker_id] = (held, self._clock.now_ms() + LEASE_MS)
        self.check()
        return held

    def check(self) -> None:
        now = self._clock.now_ms()
        valid = [(worker, held) for worker, (held, until) in self._held.items() if until >= now]
        for index, (worker, held) in enumerate(valid):
            for other, other_held in valid[index + 1 :]:
                assert not held & other_held, f"{worker} and {other} both hold {sorted(held & other_held)}"


def test_two_leases_share_the_partitions_and_one_takes_over_when_the_other_stops(runtime: Runtime) -> None:
    clock = FrozenClock(1_700_000_000_000)
    a = PartitionLeases(runtime.engine, clock, "lease-a", LEASE_MS)
    b = PartitionLeases(runtime.engine, clock, "lease-b", LEASE_MS)
    beliefs = _Beliefs(clock)

    assert beliefs.renew(a) == set(range(INBOX_PARTITIONS))  # alone: everything
    assert beliefs.renew(b) == set()  # every partition is leased to a
    clock.advance(LEASE_MS // 3)
    assert len(beliefs.renew(a)) == 32  # a gives back what exceeds its share
    assert len(beliefs.renew(b)) == 32
    previous = None
    for _ in range(6):  # steady state: 32/32, and the same partitions every time
        clock.advance(LEASE_MS // 3)
        held = (beliefs.renew(a), beliefs.renew(b))
        assert held[0] | held[1] == set(range(INBOX_PARTITIONS)) and not held[0] & held[1]
        assert previous is None or held == previous
        previous = held
    assert _owners(runtime.engine) == {"lease-a": previous[0], "lease-b": previous[1]}

    # b stops heart-beating; a keeps its share until b's lease runs out, then takes everything
    stopped_at = clock.now_ms()
    while clock.now_ms() <= stopped_at + LEASE_MS:
        clock.advance(250)
        held_by_a = beliefs.renew(a)
        if clock.now_ms() <= stopped_at + LEASE_MS:
            assert held_by_a == previous[0]
    assert held_by_a == set(range(INBOX_PARTITIONS))
    assert _owners(runtime.engine) == {"lease-a": set(range(INBOX_PARTITIONS))}


def test_a_released_lease_is_free_at_once(runtime: Runtime) -> None:
    clock = FrozenClock(1_700_000_000_000)
    a = PartitionLeases(runtime.engine, clock, "lease-a", LEASE_MS)
    b = PartitionLeases(runtime.engine, clock, "lease-b", LEASE_MS)
    assert len(a.renew()) == INBOX_PARTITIONS
    a.release()
    assert _owners(runtime.engine) == {}
    assert len(b.renew()) == INBOX_PARTITIONS  # a left the live workers too: b's share is everything
    with runtime.engine.connect() as conn:
        assert [w for (w,) in conn.execute(text("SELECT worker_id FROM inbox_workers"))] == ["lease-b"]


def test_three_leases_split_the_partitions_without_overlap(runtime: Runtime) -> None:
    clock = FrozenClock(1_700_000_000_000)
    leases = [PartitionLeases(runtime.engine, clock, f"lease-{n}", LEASE_MS) for n in range(3)]
    beliefs = _Beliefs(clock)
    for _ in range(5):
        for lease in leases:
            beliefs.renew(lease)
        clock.advance(LEASE_MS // 3)
    held = [beliefs.renew(lease) for lease in leases]
    assert sorted(len(h) for h in held) == [20, 22, 22]
    assert set().union(*held) == set(range(INBOX_PARTITIONS))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _processed(port: int) -> float:
    """The fermion_batches_processed_total counter of the worker serving /metrics on ``port``."""
    for line in httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text.splitlines():
        if line.startswith("fermion_batches_processed_total "):
            return float(line.split()[1])
    raise AssertionError("fermion_batches_processed_total is missing from the worker's metrics")


def _enqueue_distinct_users(runtime: Runtime, batches: int, events: int) -> set[str]:
    created = runtime.tenancy.bootstrap()
    assert created is not None
    uids: set[str] = set()
    records = []
    for n in range(batches):
        batch = make_batch([make_event(event_name=f"b{n}-e{i}") for i in range(events)])
        uids.update(e["data"]["source_message_id"] for e in batch["events"])
        records += runtime.acceptor.single(created.input, json.dumps(batch).encode()).records
    for start in range(0, len(records), 100):
        assert all(runtime.inbox.enqueue(records[start : start + 100]))
    return uids


@pytest.fixture
def pg_settings(postgres_schema_url: str, tmp_path: Path) -> Settings:
    return settings_for(tmp_path, postgres_schema_url)


def _start(
    spawn_worker: SpawnWorker, settings: Settings, names: Sequence[str], **env: object
) -> list[WorkerProcess]:
    return [spawn_worker(settings, name, WORKER_BATCH_SIZE=10, WORKER_LEASE_S=1, **env) for name in names]


def test_two_worker_processes_process_one_inbox_exactly_once(
    pg_settings: Settings, spawn_worker: SpawnWorker
) -> None:
    runtime = Runtime.open(pg_settings)
    try:
        ports = [_free_port(), _free_port()]
        workers = [
            spawn_worker(pg_settings, name, WORKER_BATCH_SIZE=10, WORKER_LEASE_S=3, WORKER_METRICS_PORT=port)
            for name, port in zip(("worker-a", "worker-b"), ports, strict=True)
        ]
        wait_until(
            lambda: (
                {k: len(v) for k, v in _owners(runtime.engine).items()} == {"worker-a": 32, "worker-b": 32}
            ),
            30,
            *workers,
            what="both workers to hold 32 partitions",
        )
        sent = _enqueue_distinct_users(runtime, 500, 4)
        seen: dict[str, set[int]] = {}

        def drained() -> bool:
            for owner, partitions in _owners(runtime.engine).items():
                seen.setdefault(owner, set()).update(partitions)
            return runtime.inbox.status().depth == 0

        wait_until(drained, 60, *workers, what="the inbox to drain")
        assert set(seen) == {"worker-a", "worker-b"}
        assert not seen["worker-a"] & seen["worker-b"]  # no partition changed hands while they worked
        processed = [_processed(port) for port in ports]
        assert all(count > 0 for count in processed), processed
        assert sum(processed) == 500
        assert [w.stop() for w in workers] == [0, 0]
        assert _owners(runtime.engine) == {}  # clean stops give every partition back
        with runtime.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM inbox_workers")).scalar() == 0

        assert runtime.inbox.status().parked == 0
        assert runtime.events.count() == 500 * 4
        assert {e.event_uid for e in runtime.events.tail(0, 10_000)} == sent
    finally:
        runtime.close()


def test_a_killed_worker_process_is_replaced_by_the_other(
    pg_settings: Settings, spawn_worker: SpawnWorker
) -> None:
    runtime = Runtime.open(pg_settings)
    try:
        workers = _start(spawn_worker, pg_settings, ["worker-a", "worker-b"])
        wait_until(
            lambda: len(_owners(runtime.engine)) == 2, 30, *workers, what="both workers to hold partitions"
        )
        sent = _enqueue_distinct_users(runtime, 300, 4)
        wait_until(lambda: runtime.inbox.status().depth < 250, 30, *workers, what="processing to start")
        workers[0].kill()
        survivor = workers[1]
        wait_until(
            lambda: runtime.inbox.status().depth == 0, 60, survivor, what="the survivor to drain the inbox"
        )
        assert _owners(runtime.engine) == {"worker-b": set(range(INBOX_PARTITIONS))}
        assert survivor.stop() == 0
        assert runtime.events.count() == 300 * 4
        assert {e.event_uid for e in runtime.events.tail(0, 10_000)} == sent
    finally:
        runtime.close()


def test_a_second_worker_on_the_embedded_store_says_why_it_cannot_start(
    tmp_path: Path, spawn_worker: SpawnWorker
) -> None:
    """DuckDB allows one process: scale-out needs PostgreSQL, and the second worker must say so, not hang."""
    settings = settings_for(tmp_path)
    Runtime.open(settings).close()
    first = spawn_worker(settings)
    wait_until(lambda: "started" in first.output(), 30, first, what="the first worker to start")
    second = spawn_worker(settings)
    assert second.process.wait(timeout=30) != 0
    assert "in use by another process" in second.output()
    assert "PostgreSQL" in second.output()
    first.check_alive()
    assert first.stop() == 0


def test_two_workers_keep_each_users_order_while_they_rebalance(runtime: Runtime) -> None:
    """Two workers start together: partitions move from one to the other mid-way, and no user's batches are
    applied out of order."""
    created = runtime.tenancy.bootstrap()
    assert created is not None
    users, steps = 20, 12
    records = []
    for step in range(1, steps + 1):
        for user in range(users):
            batch = make_batch(
                [make_event(event_name=f"step {step}", timestamp_unixtime_ms=1_700_000_000_000)],
                user_identities={"customer_id": f"rebalance-{user}"},
                user_attributes={"step": step},
            )
            records += runtime.acceptor.single(created.input, json.dumps(batch).encode()).records
    runtime.inbox.enqueue(records)
    runtime.settings.worker_batch_size = 5
    runtime.settings.worker_lease_s = 0.3
    workers = [runtime.new_worker(f"thread-{n}") for n in range(2)]
    threads = [threading.Thread(target=w.run, daemon=True) for w in workers]
    seen: dict[str, set[int]] = {}
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 60
        while runtime.inbox.status().depth > 0:
            for owner, partitions in _owners(runtime.engine).items():
                seen.setdefault(owner, set()).update(partitions)
            assert time.monotonic() < deadline, "the inbox did not drain"
            time.sleep(0.01)
    finally:
        for w in workers:
            w.stop()
        for thread in threads:
            thread.join(timeout=30)
    assert set(seen) == {"thread-0", "thread-1"}
    for user in range(users):
        mpid = runtime.profiles.find_by_identity(1, "customer_id", f"rebalance-{user}")
        assert mpid is not None
        profile = runtime.profiles.get(1, mpid)
        assert profile is not None and profile.user_attributes == {"step": steps}
        names = [e.event_name for e in runtime.events.events_of(1, mpid)]
        assert names == [f"step {step}" for step in range(1, steps + 1)]
    assert runtime.events.count() == users * steps
