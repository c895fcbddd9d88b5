"""Inbox partition leases: each partition is held by at most one live worker, so per-user order holds.

Workers heartbeat; each takes up to its fair share (partitions ÷ live workers, rounded up) of the partitions
that are free or whose lease ran out, and gives back what exceeds its share so newcomers get work.
"""

from __future__ import annotations

import math

from sqlalchemy import Engine, and_, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from fermion.clock import Clock
from fermion.queue.tables import inbox_partitions, inbox_workers

INBOX_PARTITIONS = 64


class PartitionLeases:
    """Leases inbox partitions to one worker."""

    def __init__(self, engine: Engine, clock: Clock, worker_id: str, lease_ms: int) -> None:
        self._engine = engine
        self._clock = clock
        self.worker_id = worker_id
        self._lease_ms = lease_ms
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        self._postgres = engine.dialect.name == "postgresql"

    def renew(self) -> list[int]:
        """Heartbeat, keep and rebalance this worker's leases; returns the partitions it now holds."""
        now = self._clock.now_ms()
        until = now + self._lease_ms
        me = self.worker_id
        with self._engine.begin() as conn:
            conn.execute(
                self._insert(inbox_workers)
                .values(worker_id=me, heartbeat_ms=now)
                .on_conflict_do_update(index_elements=["worker_id"], set_={"heartbeat_ms": now})
            )
            conn.execute(delete(inbox_workers).where(inbox_workers.c.heartbeat_ms < now - 3 * self._lease_ms))
            live = int(
                conn.execute(
                    select(func.count())
                    .select_from(inbox_workers)
                    .where(inbox_workers.c.heartbeat_ms >= now - self._lease_ms)
                ).scalar_one()
            )
            share = math.ceil(INBOX_PARTITIONS / max(1, live))
            held = sorted(
                int(p)
                for (p,) in conn.execute(
                    update(inbox_partitions)
                    .where(inbox_partitions.c.owner == me)
                    .values(lease_until_ms=until)
                    .returning(inbox_partitions.c.partition)
                )
            )
            if len(held) > share:
                extra = held[share:]
                conn.execute(
                    update(inbox_partitions)
                    .where(inbox_partitions.c.partition.in_(extra), inbox_partitions.c.owner == me)
                    .values(owner=None, lease_until_ms=0)
                )
                held = held[:share]
            elif len(held) < share:
                free = or_(inbox_partitions.c.owner.is_(None), inbox_partitions.c.lease_until_ms < now)
                candidates = (
                    select(inbox_partitions.c.partition)
                    .where(free)
                    .order_by(inbox_partitions.c.partition)
                    .limit(share - len(held))
                )
                if self._postgres:
                    candidates = candidates.with_for_update(skip_locked=True)
                wanted = [int(p) for (p,) in conn.execute(candidates)]
                if wanted:
                    taken = conn.execute(
                        update(inbox_partitions)
                        .where(and_(inbox_partitions.c.partition.in_(wanted), free))
                        .values(owner=me, lease_until_ms=until)
                        .returning(inbox_partitions.c.partition)
                    )
                    held = sorted(held + [int(p) for (p,) in taken])
        return held

    def release(self) -> None:
        """Give back every partition and leave (on a clean stop)."""
        with self._engine.begin() as conn:
            conn.execute(
                update(inbox_partitions)
                .where(inbox_partitions.c.owner == self.worker_id)
                .values(owner=None, lease_until_ms=0)
            )
            conn.execute(delete(inbox_workers).where(inbox_workers.c.worker_id == self.worker_id))
