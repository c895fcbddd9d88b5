"""What the event store keeps for each event."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from fermion.errors import FermionError

COLUMNS = (
    "workspace_id",
    "input_id",
    "event_uid",
    "mpid",
    "event_type",
    "event_name",
    "timestamp_ms",
    "received_ms",
    "session_uuid",
    "session_id",
    "environment",
    "source_message_id",
    "inbox_id",
    "body",
)


def copy_statement(mark: str, insert: str, on_conflict: str) -> str:
    """The aliasing copy: one user's events in a time window inserted again for another user, with new uids.

    ``mark`` is the driver's placeholder; parameters in order: uid prefix, destination MPID, workspace,
    source MPID, start, end. ``insert``/``on_conflict`` spell "skip what exists" in the dialect.
    """
    selected = [f"{mark} || event_uid" if c == "event_uid" else mark if c == "mpid" else c for c in COLUMNS]
    return (
        f"{insert} INTO events ({', '.join(COLUMNS)}) SELECT {', '.join(selected)} FROM events "
        f"WHERE workspace_id = {mark} AND mpid = {mark} AND timestamp_ms BETWEEN {mark} AND {mark} "
        f"ORDER BY timestamp_ms, seq {on_conflict}"
    ).rstrip()


class QueryTimeout(FermionError):
    """A read-only query ran past its time limit and was stopped."""

    code = "QUERY_TIMEOUT"
    status = 504


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One event as stored: the columns queries filter on, plus the full event JSON in ``body``.

    ``event_uid`` is the event's identity for de-duplication within a workspace: its ``source_message_id``
    when the client sent one, otherwise derived from the inbox batch and position (stable across replays).
    ``seq`` is assigned by the store on append (0 before).
    """

    workspace_id: int
    input_id: int
    event_uid: str
    mpid: int
    event_type: str
    event_name: str
    timestamp_ms: int
    received_ms: int
    session_uuid: str | None
    session_id: int | None
    environment: str
    source_message_id: str | None
    inbox_id: int
    body: str
    seq: int = 0


class EventStore(Protocol):
    """The history of events: appended by the pipeline, read by tail, audiences, analytics and privacy."""

    dialect: str

    def append(self, events: list[StoredEvent]) -> int:
        """Store ``events`` in a few set-based statements; events already stored are skipped.

        Returns how many were new.
        """
        ...

    def tail(self, after_seq: int, limit: int = 100, workspace_id: int | None = None) -> list[StoredEvent]:
        """Events stored after ``after_seq``, in storage order."""
        ...

    def last_seq(self) -> int:
        """The sequence number of the newest stored event (0 when empty)."""
        ...

    def count(self, workspace_id: int | None = None) -> int:
        """How many events are stored (in one workspace, or in all)."""
        ...

    def events_of(self, workspace_id: int, mpid: int) -> list[StoredEvent]:
        """Every stored event of one user, oldest first."""
        ...

    def copy_events(
        self,
        workspace_id: int,
        source_mpid: int,
        destination_mpid: int,
        start_ms: int,
        end_ms: int,
        uid_prefix: str,
    ) -> int:
        """Copy one user's events in [start_ms, end_ms] to another user (aliasing); idempotent by new uids.

        Returns how many were new.
        """
        ...

    def delete_events(self, workspace_id: int, event_uids: list[str]) -> int:
        """Remove events by uid (a replay that brings back a fuller copy replaces them); returns how many."""
        ...

    def query(self, sql: str, params: dict[str, Any], timeout_s: float) -> list[tuple[Any, ...]]:
        """Run one read-only SELECT with named parameters (``$name`` in DuckDB, ``%(name)s`` in PostgreSQL).

        Raises :class:`QueryTimeout` when it runs longer than ``timeout_s`` (0 = no limit).
        """
        ...

    def delete_events_of(self, workspace_id: int, mpid: int) -> int:
        """Remove every event of one profile (erasure of a data subject); returns how many."""
        ...

    def close(self) -> None:
        """Release the store's connections and file locks."""
        ...
