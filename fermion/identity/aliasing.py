"""Aliasing: copy a source profile's events in a window to a destination profile, after a delay.

Requests are validated and recorded at once (202); the worker carries them out once due, so that late events
are included. Only events are copied, and the destination takes the source's first-seen time; identities,
attributes, calculated attributes and consent are not copied.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Engine, and_, insert, or_, select, update

from fermion.clock import Clock
from fermion.errors import BadRequest
from fermion.identity.graph import Decision, GraphView, save
from fermion.identity.tables import alias_requests, identity_profiles
from fermion.store import reading


@dataclass(frozen=True)
class AliasJob:
    """One alias request waiting to be carried out."""

    id: int
    workspace_id: int
    source_mpid: int
    destination_mpid: int
    start_ms: int
    end_ms: int


class Aliases:
    """Records alias requests under the documented rules and hands due ones to the worker."""

    def __init__(self, engine: Engine, clock: Clock, delay_ms: int, max_window_ms: int) -> None:
        self._engine = engine
        self._clock = clock
        self._delay_ms = delay_ms
        self._max_window_ms = max_window_ms

    def request(
        self,
        workspace_id: int,
        source: int,
        destination: int,
        start_ms: int | None,
        end_ms: int | None,
        request_id: str,
    ) -> int:
        """Validate and record an alias request; returns its id. BadRequest names the broken rule."""
        now = self._clock.now_ms()
        if source == destination:
            raise BadRequest("source_mpid and destination_mpid must differ.")
        end = end_ms if end_ms is not None else now
        start = start_ms if start_ms is not None else end - self._max_window_ms
        start = max(start, now - self._max_window_ms)  # the look-back window, as the SDKs clamp it
        if end <= start:
            raise BadRequest("Invalid time range: end_unixtime_ms must be later than start_unixtime_ms.")
        with self._engine.begin() as conn:
            existing = {
                int(m)
                for (m,) in conn.execute(
                    select(identity_profiles.c.mpid).where(
                        identity_profiles.c.workspace_id == workspace_id,
                        identity_profiles.c.mpid.in_([source, destination]),
                    )
                )
            }
            for mpid, role in ((source, "source"), (destination, "destination")):
                if mpid not in existing:
                    raise BadRequest(f"The {role} MPID {mpid} does not exist.")
            self._check_rules(conn, workspace_id, source, destination, start, end)
            alias_id = conn.execute(
                insert(alias_requests).values(
                    workspace_id=workspace_id,
                    source_mpid=source,
                    destination_mpid=destination,
                    start_ms=start,
                    end_ms=end,
                    requested_ms=now,
                    due_ms=now + self._delay_ms,
                    status="pending",
                    request_id=request_id[:100],
                )
            ).inserted_primary_key
            assert alias_id is not None
            view = GraphView(workspace_id)
            cause = f"alias request {request_id}"
            view.decisions += [
                Decision(
                    source,
                    "alias_requested",
                    f"events from {start} to {end} will be copied to {destination}",
                    cause,
                    other_mpid=destination,
                    at_ms=now,
                ),
                Decision(
                    destination,
                    "alias_requested",
                    f"will receive the events of {source} from {start} to {end}",
                    cause,
                    other_mpid=source,
                    at_ms=now,
                ),
            ]
            save(conn, view, now)
        return int(alias_id[0])

    def _check_rules(
        self, conn: Connection, workspace_id: int, source: int, destination: int, start: int, end: int
    ) -> None:
        ws = alias_requests.c.workspace_id == workspace_id
        live = alias_requests.c.status != "failed"
        overlap = conn.execute(
            select(alias_requests.c.id).where(
                ws,
                live,
                alias_requests.c.source_mpid == source,
                alias_requests.c.start_ms < end,
                alias_requests.c.end_ms > start,
            )
        ).first()
        if overlap is not None:
            raise BadRequest(
                "The source was already the source of an alias request with an overlapping window."
            )
        if conn.execute(
            select(alias_requests.c.id).where(ws, live, alias_requests.c.destination_mpid == source)
        ).first():
            raise BadRequest("The source was the destination of an earlier alias request.")
        if conn.execute(
            select(alias_requests.c.id).where(ws, live, alias_requests.c.source_mpid == destination)
        ).first():
            raise BadRequest("The destination was the source of an earlier alias request.")

    def due(self, limit: int = 100) -> list[AliasJob]:
        """Pending alias requests whose delay has passed, oldest first."""
        query = (
            select(
                alias_requests.c.id,
                alias_requests.c.workspace_id,
                alias_requests.c.source_mpid,
                alias_requests.c.destination_mpid,
                alias_requests.c.start_ms,
                alias_requests.c.end_ms,
            )
            .where(
                and_(alias_requests.c.status == "pending", alias_requests.c.due_ms <= self._clock.now_ms())
            )
            .order_by(alias_requests.c.id)
            .limit(limit)
        )
        with reading(self._engine) as conn:
            return [AliasJob(*(int(v) for v in row)) for row in conn.execute(query)]

    def complete(self, conn: Connection, job: AliasJob, copied: int) -> None:
        """Mark an alias request done and record it on both profiles, inside the caller's transaction."""
        now = self._clock.now_ms()
        conn.execute(
            update(alias_requests)
            .where(alias_requests.c.id == job.id, or_(alias_requests.c.status == "pending"))
            .values(status="done", result=f"{copied} events copied")
        )
        view = GraphView(job.workspace_id)
        cause = f"alias {job.id}"
        view.decisions += [
            Decision(
                job.source_mpid,
                "aliased_to",
                f"{copied} events copied",
                cause,
                other_mpid=job.destination_mpid,
                at_ms=now,
            ),
            Decision(
                job.destination_mpid,
                "merged_from",
                f"{copied} events copied",
                cause,
                other_mpid=job.source_mpid,
                at_ms=now,
            ),
        ]
        save(conn, view, now)
