"""The verdict log: one row per processed batch with its verdict, read by the API and the live stream.

Rows are written in the pipeline's state transaction, so a batch's verdict exists exactly when the batch was
processed. They are kept for ``verdict_retention_hours`` and purged by the worker.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select

from fermion.plans.tables import batch_verdicts
from fermion.store import reading


@dataclass(frozen=True)
class VerdictRecord:
    """What the pipeline records of one processed batch."""

    workspace_id: int
    input_id: int
    inbox_id: int
    mpid: int
    received_ms: int
    environment: str
    data_plan_id: str | None
    version: int | None
    status: str
    error_count: int
    blocked: tuple[str, ...]
    summary: dict[str, Any]


@dataclass(frozen=True)
class FeedFilter:
    """Live stream filters; ``None`` means any."""

    input_id: int | None = None
    environment: str | None = None
    mpid: int | None = None
    event_name: str | None = None

    def admits(self, entry: dict[str, Any]) -> bool:
        """Whether a feed entry passes the filters not done in SQL (the event name)."""
        if self.event_name is None:
            return True
        return any(e.get("event_name") == self.event_name for e in entry.get("events", ()))


class VerdictLog:
    """Writes and reads processed-batch verdicts."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def record(self, conn: Connection, records: list[VerdictRecord], processed_ms: int) -> None:
        """Add the verdicts of a micro-batch inside the pipeline's transaction."""
        if not records:
            return
        conn.execute(
            insert(batch_verdicts),
            [
                {
                    "workspace_id": r.workspace_id,
                    "input_id": r.input_id,
                    "inbox_id": r.inbox_id,
                    "mpid": r.mpid,
                    "received_ms": r.received_ms,
                    "processed_ms": processed_ms,
                    "environment": r.environment,
                    "data_plan_id": r.data_plan_id,
                    "version": r.version,
                    "status": r.status,
                    "error_count": r.error_count,
                    "blocked": ",".join(r.blocked),
                    "summary": json.dumps(r.summary, separators=(",", ":")),
                }
                for r in records
            ],
        )

    def since(
        self, workspace_id: int, after_id: int, where: FeedFilter | None = None, limit: int = 100
    ) -> tuple[list[dict[str, Any]], int]:
        """Feed entries after ``after_id``, oldest first, and the id to continue from."""
        where = where or FeedFilter()
        c = batch_verdicts.c
        query = select(batch_verdicts).where(c.workspace_id == workspace_id, c.id > after_id)
        if where.input_id is not None:
            query = query.where(c.input_id == where.input_id)
        if where.environment is not None:
            query = query.where(c.environment == where.environment)
        if where.mpid is not None:
            query = query.where(c.mpid == where.mpid)
        query = query.order_by(c.id).limit(limit)
        with reading(self._engine) as conn:
            rows = conn.execute(query).all()
        entries = []
        for row in rows:
            entry = {"id": row.id, "processed_ms": row.processed_ms, **json.loads(row.summary)}
            entries.append(entry)
        next_after = rows[-1].id if rows else after_id
        return [e for e in entries if where.admits(e)], next_after

    def last_id(self, workspace_id: int) -> int:
        """The newest entry's id (0 when none): where a live stream that wants only new batches starts."""
        c = batch_verdicts.c
        with reading(self._engine) as conn:
            found = conn.execute(
                select(c.id).where(c.workspace_id == workspace_id).order_by(c.id.desc()).limit(1)
            ).scalar()
        return int(found or 0)

    def counts(self, workspace_id: int, since_ms: int = 0) -> dict[str, int]:
        """Processed batches per verdict status since ``since_ms``."""
        c = batch_verdicts.c
        query = (
            select(c.status, func.count())
            .where(c.workspace_id == workspace_id, c.processed_ms >= since_ms)
            .group_by(c.status)
        )
        with reading(self._engine) as conn:
            return {status: int(n) for status, n in conn.execute(query)}

    def purge(self, before_ms: int) -> int:
        """Forget verdicts processed before ``before_ms``."""
        with self._engine.begin() as conn:
            return conn.execute(
                delete(batch_verdicts).where(batch_verdicts.c.processed_ms < before_ms)
            ).rowcount
