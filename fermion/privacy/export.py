"""Access and portability: one JSON archive of everything Fermion holds about a subject.

The archive holds, per matched profile, its state rows (profile, identity links and history, attribute
changes, calculated values, audience memberships and changes, consent history, verdicts, quarantine
records) and its events; plus the subject's batches still in the inbox. Deliveries join when outputs keep a
ledger.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from sqlalchemy import Engine

from fermion.events import EventStore
from fermion.privacy.stores import MPID_TABLES, Subject, inbox_rows, rows_of


def _plain(value: Any) -> Any:
    if isinstance(value, (bytes, memoryview)):
        raw = bytes(value)
        try:
            return raw.decode()
        except UnicodeDecodeError:
            return base64.b64encode(raw).decode()
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def build_archive(engine: Engine, events: EventStore, subject: Subject, subject_request_id: str) -> bytes:
    """The JSON archive of the subject (UTF-8 bytes)."""
    with engine.connect() as conn:
        stores = {
            name: [{k: _plain(v) for k, v in row.items()} for row in rows_of(conn, name, subject)]
            for name in MPID_TABLES
        }
        pending = [_plain(payload) for _, payload in inbox_rows(conn, subject)]
    stored = [
        json.loads(event.body) | {"mpid": str(event.mpid), "event_uid": event.event_uid}
        for mpid in sorted(subject.mpids)
        for event in events.events_of(subject.workspace_id, mpid)
    ]
    archive = {
        "subject_request_id": subject_request_id,
        "controller_id": str(subject.workspace_id),
        "mpids": [str(m) for m in sorted(subject.mpids)],
        "identities": {name: sorted(values) for name, values in sorted(subject.identities.items())},
        "stores": stores,
        "events": stored,
        "inbox_batches": pending,
        "deliveries": stores.get("output_ledger", []),  # what happened to each of their records
    }
    return json.dumps(archive, sort_keys=True, default=str).encode()
