"""The durable per-output delivery queue, the dead-letter store and the delivery ledger.

A delivery is one record for one output: an outbound batch or a membership change. Retry is data on the
row (``attempts``, ``next_attempt_ms``); a claimed row carries a lease, so a worker that dies mid-send
leaves it to be claimed again when the lease passes. Every outcome is appended to the ledger.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    and_,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)

from fermion.clock import Clock
from fermion.outputs.integrations.base import Outcome, Record
from fermion.outputs.retry import RetryPolicy
from fermion.outputs.tables import deliveries, ledger, payloads
from fermion.store import is_postgres, reading

_encode = msgspec.json.encode
_decode = msgspec.json.decode
FINAL = {"delivered": "delivered", "rejected": "rejected", "skipped": "skipped"}
PURGEABLE = tuple(FINAL.values())
_ENQUEUED = (
    "output_id", "connection_id", "workspace_id", "mpid", "kind", "payload", "payload_id", "status",
    "attempts", "next_attempt_ms", "created_ms",
)  # fmt: skip
_ENQUEUE_SQL = f"INSERT INTO {deliveries.name} ({', '.join(_ENQUEUED)}) VALUES ({{marks}})"


@dataclass(frozen=True)
class NewDelivery:
    """A record to queue for an output."""

    output_id: int
    connection_id: int
    workspace_id: int
    mpid: int | None
    kind: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class LedgerEntry:
    """One outcome of one record: queued, delivered, rejected, skipped, retrying, dead_lettered, redriven."""

    delivery_id: int
    output_id: int
    workspace_id: int
    mpid: int | None
    at_ms: int
    outcome: str
    attempt: int
    next_attempt_ms: int | None
    reason: str | None


@dataclass(frozen=True)
class DeadLetter:
    """A record that failed permanently or ran out of retries, with its payload, until re-driven."""

    id: int
    output_id: int
    connection_id: int
    mpid: int | None
    attempts: int
    created_ms: int
    finished_ms: int | None
    last_error: str | None
    payload: dict[str, Any]


class Deliveries:
    """Queues records, claims the due ones of an output, settles outcomes, keeps the ledger."""

    def __init__(self, engine: Engine, clock: Clock, policy: RetryPolicy, lease_ms: int) -> None:
        self._engine = engine
        self._clock = clock
        self.policy = policy
        self._lease_ms = lease_ms
        self._skip_locked = is_postgres(str(engine.url))

    def enqueue(self, conn: Connection, records: Sequence[NewDelivery], now_ms: int) -> None:
        """Queue ``records`` inside the caller's transaction (a replay queues nothing twice)."""
        if not records:
            return
        # A payload several connections share is encoded and stored once (output_payloads).
        uses: dict[int, int] = {}
        for r in records:
            uses[id(r.payload)] = uses.get(id(r.payload), 0) + 1
        encoded: dict[int, str] = {}
        shared: list[dict[str, Any]] = []
        for r in records:
            if id(r.payload) not in encoded:
                encoded[id(r.payload)] = _encode(r.payload).decode()
                if uses[id(r.payload)] > 1:
                    shared.append(r.payload)
        stored: dict[int, int] = {}
        if shared:
            ids = (
                conn.execute(
                    insert(payloads).returning(payloads.c.id, sort_by_parameter_order=True),
                    [{"payload": encoded[id(p)]} for p in shared],
                )
                .scalars()
                .all()
            )
            stored = {id(p): int(i) for p, i in zip(shared, ids, strict=True)}
        # the hot path of routing: straight to the driver's executemany (no per-row parameter processing)
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        conn.exec_driver_sql(
            _ENQUEUE_SQL.format(marks=", ".join([mark] * len(_ENQUEUED))),
            [
                (
                    r.output_id, r.connection_id, r.workspace_id, r.mpid, r.kind,
                    "" if id(r.payload) in stored else encoded[id(r.payload)], stored.get(id(r.payload)),
                    "pending", 0, now_ms, now_ms,
                )
                for r in records
            ],
        )  # fmt: skip

    def claim(self, output_id: int, bulk_size: int, bulk_wait_ms: int) -> list[Record]:
        """Lease the output's due records when a bulk threshold is reached: ``bulk_size`` records waiting,
        the oldest waiting ``bulk_wait_ms``, or a retry due. Empty otherwise."""
        now = self._clock.now_ms()
        d = deliveries.c
        due = and_(
            d.output_id == output_id,
            d.status == "pending",
            d.next_attempt_ms <= now,
            or_(d.lease_until_ms.is_(None), d.lease_until_ms < now),
        )
        with self._engine.begin() as conn:
            count, oldest, retries = conn.execute(
                select(func.count(), func.min(d.created_ms), func.max(d.attempts)).where(due)
            ).one()
            if not count:
                return []
            if count < bulk_size and (oldest or now) > now - bulk_wait_ms and not retries:
                return []
            body = func.coalesce(payloads.c.payload, d.payload)
            query = (
                select(d.id, d.connection_id, d.mpid, d.attempts, body)
                .select_from(deliveries.outerjoin(payloads, payloads.c.id == d.payload_id))
                .where(due)
                .order_by(d.id)
            )
            query = query.limit(max(1, bulk_size))
            if self._skip_locked:
                query = query.with_for_update(skip_locked=True, of=deliveries)
            rows = conn.execute(query).all()
            if rows:
                conn.execute(
                    update(deliveries)
                    .where(d.id.in_([r[0] for r in rows]))
                    .values(lease_until_ms=now + self._lease_ms)
                )
        return [Record(int(r[0]), int(r[1]), r[2], int(r[3]), _decode(r[4])) for r in rows]

    def settle(self, output_id: int, records: Sequence[Record], outcomes: Sequence[Outcome]) -> None:
        """Record what happened: final outcomes end the record; retries are scheduled with backoff, or
        dead-lettered once the retry window is spent; every outcome goes to the ledger."""
        now = self._clock.now_ms()
        by_id = {r.id: r for r in records}
        d = deliveries.c
        with self._engine.begin() as conn:
            info = {
                int(row[0]): (int(row[1]), row[2], int(row[3]))
                for row in conn.execute(
                    select(d.id, d.created_ms, d.mpid, d.workspace_id).where(d.id.in_(list(by_id)))
                )
            }
            entries = []
            groups: dict[tuple[tuple[str, Any], ...], list[int]] = {}
            for outcome in outcomes:
                record = by_id[outcome.record_id]
                if record.id not in info:  # dropped meanwhile (its output or connection deleted, erasure)
                    continue
                created_ms, mpid, workspace_id = info[record.id]
                attempt = record.attempts + 1
                values: dict[str, Any] = {"lease_until_ms": None, "last_error": outcome.reason or None}
                next_ms: int | None = None
                if outcome.status in FINAL:
                    values.update(status=FINAL[outcome.status], finished_ms=now)
                    entry = outcome.status
                elif outcome.status == "retry":
                    next_ms = self.policy.next_attempt_ms(now, attempt, outcome.retry_after_ms)
                    if self.policy.exhausted(created_ms, next_ms):
                        values.update(status="dead", finished_ms=now)
                        values["last_error"] = f"retries exhausted: {outcome.reason}"
                        entry, next_ms = "dead_lettered", None
                    else:
                        values.update(next_attempt_ms=next_ms)
                        entry = "retrying"
                else:  # dead: a permanent failure of the whole call
                    values.update(status="dead", finished_ms=now)
                    entry = "dead_lettered"
                groups.setdefault(tuple(sorted(values.items())), []).append(record.id)
                entries.append(
                    {
                        "delivery_id": record.id,
                        "output_id": output_id,
                        "workspace_id": workspace_id,
                        "mpid": mpid,
                        "at_ms": now,
                        "outcome": entry,
                        "attempt": attempt,
                        "next_attempt_ms": next_ms,
                        "reason": values["last_error"],
                    }
                )
            for key, ids in groups.items():  # set-based: one statement per distinct outcome
                for start in range(0, len(ids), 5000):
                    conn.execute(
                        update(deliveries)
                        .where(d.id.in_(ids[start : start + 5000]))
                        .values(attempts=d.attempts + 1, **dict(key))
                    )
            if entries:
                conn.execute(insert(ledger), entries)

    def hold(self, output_id: int, records: Sequence[Record], reason: str) -> None:
        """Keep ``records`` queued while their output is faulted: the attempt is counted and written to the
        ledger as ``faulted``, but the record is neither retried on a schedule nor dead-lettered."""
        if not records:
            return
        now = self._clock.now_ms()
        d = deliveries.c
        ids = [r.id for r in records]
        with self._engine.begin() as conn:
            rows = conn.execute(
                select(d.id, d.mpid, d.workspace_id, d.attempts).where(d.id.in_(ids), d.status == "pending")
            ).all()
            if not rows:
                return
            conn.execute(
                update(deliveries)
                .where(d.id.in_([r[0] for r in rows]))
                .values(attempts=d.attempts + 1, next_attempt_ms=now, lease_until_ms=None, last_error=reason)
            )
            conn.execute(
                insert(ledger),
                [
                    {"delivery_id": r[0], "output_id": output_id, "workspace_id": r[2], "mpid": r[1],
                     "at_ms": now, "outcome": "faulted", "attempt": int(r[3]) + 1, "next_attempt_ms": None,
                     "reason": reason}
                    for r in rows
                ],
            )  # fmt: skip

    def resume(self, conn: Connection, output_id: int, faulted_ms: int, now_ms: int) -> None:
        """After a fault, inside the caller's transaction: the time the output spent faulted counts neither
        against its records' retry window nor against their bulk wait."""
        d = deliveries.c
        conn.execute(
            update(deliveries)
            .where(d.output_id == output_id, d.status == "pending")
            .values(
                created_ms=case(
                    (d.created_ms < faulted_ms, d.created_ms + (now_ms - faulted_ms)), else_=now_ms
                )
            )
        )

    def drop(self, conn: Connection, where: ColumnElement[bool], reason: str, now_ms: int) -> int:
        """Inside the caller's transaction, remove the records ``where`` selects (an output's or a
        connection's): those still queued or dead-lettered are written to the ledger as ``dropped`` with
        ``reason`` (finished ones already are in it). The number dropped."""
        d = deliveries.c
        chosen = and_(where, d.status.in_(["pending", "dead"]))
        rows = conn.execute(select(d.id, d.output_id, d.workspace_id, d.mpid, d.attempts).where(chosen)).all()
        if rows:
            conn.execute(
                insert(ledger),
                [
                    {"delivery_id": r[0], "output_id": r[1], "workspace_id": r[2], "mpid": r[3],
                     "at_ms": now_ms, "outcome": "dropped", "attempt": int(r[4]), "next_attempt_ms": None,
                     "reason": reason}
                    for r in rows
                ],
            )  # fmt: skip
        payload_ids = (
            conn.execute(select(d.payload_id).where(where, d.payload_id.is_not(None)).distinct())
            .scalars()
            .all()
        )
        conn.execute(delete(deliveries).where(where))
        if payload_ids:  # a payload other connections still use stays
            still = select(d.payload_id).where(d.payload_id.in_(payload_ids))
            conn.execute(delete(payloads).where(payloads.c.id.in_(payload_ids), payloads.c.id.not_in(still)))
        return len(rows)

    def purge(self, finished_before_ms: int, ledger_before_ms: int, chunk: int = 5000) -> tuple[int, int]:
        """Purge finished records (delivered, rejected, skipped) older than ``finished_before_ms`` with the
        payloads only they used, and ledger entries older than ``ledger_before_ms`` whose record has left
        the queue (a queued or dead-lettered record keeps its history). Returns (records, ledger entries)."""
        d, p, lg = deliveries.c, payloads.c, ledger.c
        records = entries = 0
        while True:
            with self._engine.begin() as conn:
                rows = conn.execute(
                    select(d.id, d.payload_id)
                    .where(d.status.in_(PURGEABLE), d.finished_ms < finished_before_ms)
                    .limit(chunk)
                ).all()
                if not rows:
                    break
                conn.execute(delete(deliveries).where(d.id.in_([r[0] for r in rows])))
                shared = sorted({int(r[1]) for r in rows if r[1] is not None})
                if shared:
                    still = select(d.payload_id).where(d.payload_id.in_(shared))
                    conn.execute(delete(payloads).where(p.id.in_(shared), p.id.not_in(still)))
                records += len(rows)
            if len(rows) < chunk:
                break
        while True:
            with self._engine.begin() as conn:
                ids = [
                    int(r[0])
                    for r in conn.execute(
                        select(lg.id)
                        .where(lg.at_ms < ledger_before_ms)
                        .where(~select(d.id).where(d.id == lg.delivery_id).exists())
                        .limit(chunk)
                    )
                ]
                if ids:
                    conn.execute(delete(ledger).where(lg.id.in_(ids)))
            entries += len(ids)
            if len(ids) < chunk:
                break
        return records, entries

    def ledger(
        self,
        workspace_id: int,
        *,
        output_id: int | None = None,
        mpid: int | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int = 1000,
    ) -> list[LedgerEntry]:
        """Outcomes, newest first, per output, per user and per time range; records still waiting for a
        first attempt appear as ``queued``."""
        entries: list[LedgerEntry] = []
        lc, d = ledger.c, deliveries.c
        query = select(ledger).where(lc.workspace_id == workspace_id)
        waiting = select(d.id, d.output_id, d.workspace_id, d.mpid, d.created_ms, d.next_attempt_ms).where(
            d.workspace_id == workspace_id, d.status == "pending", d.attempts == 0
        )
        if output_id is not None:
            query, waiting = query.where(lc.output_id == output_id), waiting.where(d.output_id == output_id)
        if mpid is not None:
            query, waiting = query.where(lc.mpid == mpid), waiting.where(d.mpid == mpid)
        if since_ms is not None:
            query, waiting = query.where(lc.at_ms >= since_ms), waiting.where(d.created_ms >= since_ms)
        if until_ms is not None:
            query, waiting = query.where(lc.at_ms < until_ms), waiting.where(d.created_ms < until_ms)
        with reading(self._engine) as conn:
            for row in conn.execute(query.order_by(lc.id.desc()).limit(limit)).mappings():
                entries.append(LedgerEntry(**{k: v for k, v in row.items() if k != "id"}))
            for w in conn.execute(waiting.order_by(d.id.desc()).limit(limit)):
                entries.append(
                    LedgerEntry(
                        int(w[0]), int(w[1]), int(w[2]), w[3], int(w[4]), "queued", 0, int(w[5]), None
                    )
                )
        entries.sort(key=lambda e: (e.at_ms, e.delivery_id), reverse=True)
        return entries[:limit]

    def dead_letters(
        self, workspace_id: int, output_id: int | None = None, limit: int = 1000
    ) -> list[DeadLetter]:
        """Records in the dead-letter store, oldest first."""
        d = deliveries.c
        query = (
            select(deliveries, payloads.c.payload.label("shared_payload"))
            .select_from(deliveries.outerjoin(payloads, payloads.c.id == d.payload_id))
            .where(d.workspace_id == workspace_id, d.status == "dead")
        )
        if output_id is not None:
            query = query.where(d.output_id == output_id)
        with reading(self._engine) as conn:
            rows = conn.execute(query.order_by(d.id).limit(limit)).mappings().all()
        return [
            DeadLetter(
                int(r["id"]), int(r["output_id"]), int(r["connection_id"]), r["mpid"], int(r["attempts"]),
                int(r["created_ms"]), r["finished_ms"], r["last_error"],
                _decode(r["shared_payload"] or r["payload"]),
            )
            for r in rows
        ]  # fmt: skip

    def redrive(
        self, workspace_id: int, output_id: int | None = None, ids: Sequence[int] | None = None
    ) -> int:
        """Queue dead letters again (all of an output, or the ``ids`` given) with a fresh retry window."""
        now = self._clock.now_ms()
        d = deliveries.c
        where = and_(d.workspace_id == workspace_id, d.status == "dead")
        if output_id is not None:
            where = and_(where, d.output_id == output_id)
        if ids is not None:
            where = and_(where, d.id.in_(list(ids)))
        with self._engine.begin() as conn:
            rows = conn.execute(select(d.id, d.output_id, d.mpid, d.attempts).where(where)).all()
            if not rows:
                return 0
            conn.execute(
                update(deliveries)
                .where(d.id.in_([r[0] for r in rows]))
                .values(status="pending", attempts=0, next_attempt_ms=now, created_ms=now, finished_ms=None,
                        lease_until_ms=None)
            )  # fmt: skip
            conn.execute(
                insert(ledger),
                [
                    {"delivery_id": r[0], "output_id": r[1], "workspace_id": workspace_id, "mpid": r[2],
                     "at_ms": now, "outcome": "redriven", "attempt": int(r[3]), "next_attempt_ms": now,
                     "reason": None}
                    for r in rows
                ],
            )  # fmt: skip
        return len(rows)

    def counts(self, output_id: int) -> dict[str, int]:
        """Records of an output by status."""
        d = deliveries.c
        with reading(self._engine) as conn:
            rows = conn.execute(
                select(d.status, func.count()).where(d.output_id == output_id).group_by(d.status)
            ).all()
        return {str(status): int(n) for status, n in rows}
