"""Runs due data subject requests and sends their status callbacks; called from the worker loop.

It runs where the event store is open for writing (the worker process): erasure deletes events, access
reads them. Each request moves ``pending`` → ``in_progress`` (a callback) → ``completed`` (a callback) once
every internal store and every registered output has reported done or a recorded failure.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
from sqlalchemy import Engine, delete, select, update

from fermion.clock import Clock
from fermion.events import EventStore
from fermion.privacy.erasure import erase
from fermion.privacy.export import build_archive
from fermion.privacy.forwarding import FAILED, SKIPPED, ErasureForwarder, ForwardOutcome, order_for
from fermion.privacy.requests import COMPLETED, IN_PROGRESS, DsrRecord, DsrRequests
from fermion.privacy.signing import ProcessorSigner
from fermion.privacy.stores import Subject, find_subject
from fermion.privacy.tables import dsr_callbacks, dsr_exports

_log = logging.getLogger(__name__)
_RETRY_MS = (60_000, 300_000, 900_000, 3_600_000)
_MAX_ATTEMPTS = 10
ACTOR = "fermion"


class DsrOrchestrator:
    """Carries out due requests and delivers callbacks."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        requests: DsrRequests,
        signer: ProcessorSigner,
        results_ttl_ms: int,
        forwarders: list[ErasureForwarder] | None = None,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._requests = requests
        self._signer = signer
        self._results_ttl_ms = results_ttl_ms
        self.forwarders: list[ErasureForwarder] = list(forwarders or [])

    def run_due(self, events: EventStore) -> int:
        """Carry out every due request, send due callbacks, drop expired archives; the requests run."""
        ran = 0
        for record in self._requests.due():
            self.carry_out(record, events)
            ran += 1
        self.send_callbacks()
        self._drop_expired_exports()
        return ran

    def carry_out(self, record: DsrRecord, events: EventStore) -> DsrRecord:
        """Run one request to completion (unless another worker started it first)."""
        with self._engine.begin() as conn:
            if record.status != IN_PROGRESS:
                if not self._requests.claim(conn, record):
                    return record
                record = self._requests.transition(conn, record, IN_PROGRESS, ACTOR, {})
            subject = find_subject(conn, record.workspace_id, record.identities)
        now = self._clock.now_ms()
        changes: dict[str, object] = {}
        if record.request_type == "erasure":
            receipts = erase(self._engine, events, subject, now)
            extensions = self._forward(record, subject)
            changes = {
                "receipts": json.dumps([r.to_json() for r in receipts]),
                "extensions": json.dumps(extensions),
            }
        else:
            archive = build_archive(self._engine, events, subject, record.subject_request_id)
            expires = now + self._results_ttl_ms
            if subject.mpids:
                with self._engine.begin() as conn:
                    conn.execute(delete(dsr_exports).where(*_export_key(record)))
                    conn.execute(
                        dsr_exports.insert().values(
                            workspace_id=record.workspace_id,
                            subject_request_id=record.subject_request_id,
                            archive=archive,
                            created_ms=now,
                            expires_ms=expires,
                        )
                    )
            changes = {
                "results_expire_ms": expires,
                "receipts": json.dumps(
                    [
                        {
                            "store": "access_archive",
                            "status": "done",
                            "deleted": 0,
                            "at_ms": now,
                            "message": f"{len(subject.mpids)} profile(s) exported",
                        }
                    ]
                ),
            }
        with self._engine.begin() as conn:
            return self._requests.transition(conn, record, COMPLETED, ACTOR, changes)

    def _forward(self, record: DsrRecord, subject: Subject) -> list[dict[str, str]]:
        order = order_for(subject, record.identities, record.subject_request_id, record.regulation)
        statuses = []
        for forwarder in self.forwarders:
            if record.api_version != "3.0":
                outcome = ForwardOutcome("not_sent", "Requests through the v1/v2 API are not forwarded.")
            elif not order.identities and list(record.identities) == ["mpid"]:
                outcome = ForwardOutcome(SKIPPED, "The MPID matched no profile.")
            else:
                try:
                    outcome = forwarder.forward_erasure(order)
                except Exception as exc:  # a forwarder bug must not stop the erasure; recorded as failed
                    outcome = ForwardOutcome(FAILED, type(exc).__name__)
            statuses.append(
                {
                    "domain": forwarder.domain,
                    "name": forwarder.name,
                    "status": outcome.status,
                    "status_message": outcome.message,
                }
            )
        return statuses

    def send_callbacks(self) -> int:
        """POST due callbacks, signed; failures retry with backoff. Returns how many were delivered."""
        now = self._clock.now_ms()
        query = (
            select(dsr_callbacks)
            .where(dsr_callbacks.c.sent_ms.is_(None), dsr_callbacks.c.next_ms <= now)
            .where(dsr_callbacks.c.attempts < _MAX_ATTEMPTS)
            .order_by(dsr_callbacks.c.id)
            .limit(100)
        )
        with self._engine.connect() as conn:
            due = list(conn.execute(query))
        sent = 0
        for row in due:
            body = bytes(row.body)
            prefix = "OpenGDPR" if row.api_version == "1.0" else "OpenDSR"
            headers = {"Content-Type": "application/json", **self._signer.headers(body, prefix)}
            error: str | None = None
            try:
                response = httpx.post(row.url, content=body, headers=headers, timeout=10.0)
                if response.status_code >= 300:
                    error = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                error = type(exc).__name__
            attempts = int(row.attempts) + 1
            values: dict[str, object] = {"attempts": attempts, "last_error": error}
            if error is None:
                values["sent_ms"] = self._clock.now_ms()
                sent += 1
            else:
                values["next_ms"] = now + _RETRY_MS[min(attempts, len(_RETRY_MS)) - 1]
                _log.warning("DSR callback failed", extra={"callback_id": row.id, "error": error})
            with self._engine.begin() as conn:
                conn.execute(update(dsr_callbacks).where(dsr_callbacks.c.id == row.id).values(**values))
        return sent

    def export(self, workspace_id: int, subject_request_id: str) -> tuple[bytes | None, int | None]:
        """An access archive and when it expires (``(None, None)`` when nothing was exported)."""
        with self._engine.connect() as conn:
            row = conn.execute(
                select(dsr_exports.c.archive, dsr_exports.c.expires_ms).where(
                    dsr_exports.c.workspace_id == workspace_id,
                    dsr_exports.c.subject_request_id == subject_request_id,
                )
            ).first()
        return (bytes(row.archive), int(row.expires_ms)) if row is not None else (None, None)

    def _drop_expired_exports(self) -> None:
        with self._engine.begin() as conn:
            conn.execute(delete(dsr_exports).where(dsr_exports.c.expires_ms <= self._clock.now_ms()))


def _export_key(record: DsrRecord) -> tuple[Any, Any]:
    return (
        dsr_exports.c.workspace_id == record.workspace_id,
        dsr_exports.c.subject_request_id == record.subject_request_id,
    )
