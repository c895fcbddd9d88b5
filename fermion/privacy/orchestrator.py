"""Runs due data subject requests and sends their status callbacks; called from the worker loop.

It runs where the event store is open for writing (the worker process): erasure deletes events, access
reads them. Each request moves ``pending`` → ``in_progress`` (a callback) → ``completed`` (a callback) once
every internal store and every output that forwards erasures has reported done or a recorded failure.

An erasure deletes inside Fermion first (a receipt per store), then asks each partner. A partner that fails
for a while (timeouts, 429, 5xx) is retried with backoff, honouring Retry-After, for up to
``forward_window_ms``; meanwhile the request stays ``in_progress``, keeps the identities to forward (and
nothing else) and shows the partner ``pending``. After the window the partner's failure is recorded.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import Engine, delete, select, update

from fermion.clock import Clock
from fermion.events import EventStore
from fermion.privacy.erasure import erase
from fermion.privacy.export import build_archive
from fermion.privacy.forwarding import (
    FAILED,
    PENDING,
    SKIPPED,
    ErasureForwarder,
    ErasureOrder,
    ForwardOutcome,
    order_for,
    order_from_json,
    order_json,
)
from fermion.privacy.requests import COMPLETED, IN_PROGRESS, DsrRecord, DsrRequests
from fermion.privacy.signing import ProcessorSigner
from fermion.privacy.stores import Subject, find_subject
from fermion.privacy.tables import dsr_callbacks, dsr_exports

_log = logging.getLogger(__name__)
_RETRY_MS = (60_000, 300_000, 900_000, 3_600_000)
_MAX_ATTEMPTS = 10
_FORWARD_RETRY_MS = (30_000, 120_000, 600_000, 1_800_000, 3_600_000)
FORWARD_WINDOW_MS = 24 * 3_600_000
ACTOR = "fermion"
OUTPUT_RECEIPT = "output:"


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
        forwarder_source: Callable[[int], list[ErasureForwarder]] | None = None,
        forward_window_ms: int = FORWARD_WINDOW_MS,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._requests = requests
        self._signer = signer
        self._results_ttl_ms = results_ttl_ms
        self.forwarders: list[ErasureForwarder] = list(forwarders or [])
        self.forwarder_source = forwarder_source
        self.forward_window_ms = forward_window_ms

    def forwarders_for(self, workspace_id: int) -> list[ErasureForwarder]:
        """The partners an erasure of the workspace goes to: registered ones, then its outputs."""
        found = list(self.forwarders)
        if self.forwarder_source is not None:
            found += self.forwarder_source(workspace_id)
        return found

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
            changes, pending = self._erase(record, subject, events, now)
            if pending:
                with self._engine.begin() as conn:
                    return self._requests.progress(conn, record, ACTOR, changes)
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

    def _erase(
        self, record: DsrRecord, subject: Subject, events: EventStore, now: int
    ) -> tuple[dict[str, object], bool]:
        """Delete inside Fermion (once), then ask the partners still to answer. Returns the request's
        changes and whether a partner is pending (the request then stays open until its next try)."""
        internal = [r for r in record.receipts if not str(r.get("store", "")).startswith(OUTPUT_RECEIPT)]
        previous: dict[str, dict[str, Any]] = {}
        if not internal or record.forward_order is None:  # the first run, or one a crash interrupted
            internal = [r.to_json() for r in erase(self._engine, events, subject, now)]
            order = order_for(subject, record.identities, record.subject_request_id, record.regulation)
        else:
            order = order_from_json(
                record.workspace_id, record.subject_request_id, record.regulation, record.forward_order
            )
            previous = {str(e.get("key")): e for e in record.extensions}
        statuses = self._forward(record, order, previous, now)
        pending = [e for e in statuses if e["status"] == PENDING]
        receipts = internal + [_output_receipt(e, now) for e in statuses]
        changes: dict[str, object] = {"receipts": json.dumps(receipts), "extensions": json.dumps(statuses)}
        if pending:
            changes["forward_order"] = order_json(order)
            changes["due_ms"] = min(int(e["next_ms"]) for e in pending)
        return changes, bool(pending)

    def _forward(
        self, record: DsrRecord, order: ErasureOrder, previous: dict[str, dict[str, Any]], now: int
    ) -> list[dict[str, Any]]:
        """Each partner's status; those that answered for good before keep their answer."""
        statuses: list[dict[str, Any]] = []
        seen: set[str] = set()
        for forwarder in self.forwarders_for(record.workspace_id):
            key = str(getattr(forwarder, "key", f"{forwarder.domain}/{forwarder.name}"))
            seen.add(key)
            before = previous.get(key)
            if previous and before is None:
                continue  # an output added since the erasure began: not part of this request
            if before is not None and before["status"] != PENDING:
                statuses.append(before)
                continue
            outcome = self._ask(record, order, forwarder)
            attempts = int(before["attempts"]) + 1 if before else 1
            first_ms = int(before["first_ms"]) if before else now
            entry: dict[str, Any] = {
                "domain": forwarder.domain,
                "name": forwarder.name,
                "status": outcome.status,
                "status_message": outcome.message,
                "key": key,
                "attempts": attempts,
                "first_ms": first_ms,
                "at_ms": now,
            }
            if outcome.status == PENDING:
                if now - first_ms >= self.forward_window_ms:
                    entry["status"] = FAILED
                    entry["status_message"] = f"gave up after {attempts} attempts: {outcome.message}"
                else:
                    wait = _FORWARD_RETRY_MS[min(attempts, len(_FORWARD_RETRY_MS)) - 1]
                    entry["next_ms"] = now + max(wait, outcome.retry_after_ms or 0)
            statuses.append(entry)
        for key, before in previous.items():
            if key not in seen and before["status"] == PENDING:  # the output was deleted meanwhile
                statuses.append({**before, "status": FAILED, "status_message": "the output was deleted"})
        return statuses

    def _ask(self, record: DsrRecord, order: ErasureOrder, forwarder: ErasureForwarder) -> ForwardOutcome:
        if record.api_version != "3.0":
            return ForwardOutcome("not_sent", "Requests through the v1/v2 API are not forwarded.")
        if not order.identities and list(record.identities) == ["mpid"]:
            return ForwardOutcome(SKIPPED, "The MPID matched no profile.")
        try:
            return forwarder.forward_erasure(order)
        except Exception as exc:  # a forwarder bug must not stop the erasure; recorded as failed
            _log.exception("erasure forwarding failed", extra={"partner": forwarder.name})
            return ForwardOutcome(FAILED, type(exc).__name__)

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


def _output_receipt(entry: dict[str, Any], now: int) -> dict[str, Any]:
    """A partner's answer as a receipt: ``done`` (sent, or nothing to send), ``failed`` or ``pending``."""
    status = entry["status"]
    message = f"{entry['domain']}: {status}"
    if entry["status_message"]:
        message += f" ({entry['status_message']})"
    return {
        "store": f"{OUTPUT_RECEIPT}{entry['name']}",
        "status": status if status in (FAILED, PENDING) else "done",
        "deleted": 0,
        "at_ms": entry.get("at_ms", now),
        "message": message,
    }


def _export_key(record: DsrRecord) -> tuple[Any, Any]:
    return (
        dsr_exports.c.workspace_id == record.workspace_id,
        dsr_exports.c.subject_request_id == record.subject_request_id,
    )
