"""Finished records and old ledger entries are purged; queued and dead-lettered ones keep their history."""

from __future__ import annotations

from sqlalchemy import func, select

from fermion.clock import FrozenClock
from fermion.outputs import NewDelivery
from fermion.outputs.integrations.base import Outcome
from fermion.outputs.tables import deliveries, ledger, payloads
from fermion.runtime import Runtime

DAY = 86_400_000


def _count(runtime: Runtime, table: object, **where: object) -> int:
    query = select(func.count()).select_from(table)  # type: ignore[arg-type]
    for name, value in where.items():
        query = query.where(getattr(table.c, name) == value)  # type: ignore[attr-defined]
    with runtime.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def test_finished_records_go_after_the_retention_and_queued_ones_stay(
    runtime: Runtime, clock: FrozenClock
) -> None:
    services = runtime.outputs
    output = services.outputs.create_output(1, "hook", "webhook", {"post_url": "http://127.0.0.1:9/x"})
    connection = services.outputs.create_connection(1, output.id, input_id=1)
    shared = {"events": [], "mpid": "1"}
    records = [NewDelivery(output.id, connection.id, 1, mpid, "batch", shared) for mpid in (1, 2, 3)]
    with runtime.engine.begin() as conn:
        services.deliveries.enqueue(conn, records, clock.now_ms())
    claimed = services.deliveries.claim(output.id, 10, 0)
    outcomes = [
        Outcome(claimed[0].id, "delivered"),
        Outcome(claimed[1].id, "dead", "HTTP 400"),
        Outcome(claimed[2].id, "retry", "HTTP 503"),
    ]
    services.deliveries.settle(output.id, claimed, outcomes)

    clock.advance(DAY)
    assert services.purge(clock.now_ms()) == (0, 0)  # younger than the retention: all kept
    clock.advance(7 * DAY)
    assert services.purge(clock.now_ms()) == (1, 0)
    assert _count(runtime, deliveries) == 2  # the dead letter and the retrying record stay
    assert _count(runtime, payloads) == 1  # still used by the two that stay
    assert _count(runtime, ledger, mpid=1) == 1  # the delivered record's history outlives it…
    clock.advance(30 * DAY)
    assert services.purge(clock.now_ms()) == (0, 1)  # …for the ledger retention
    assert _count(runtime, ledger, mpid=1) == 0
    assert _count(runtime, ledger, mpid=2) == 1 and _count(runtime, ledger, mpid=3) == 1
