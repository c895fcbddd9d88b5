"""Dry run over the event store: a plan version checked against the events of the last N days."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fermion.clock import Clock
from fermion.events import EventReads
from fermion.plans import CompiledVersion, PlanCatalog, dry_run
from fermion.profiles import ProfileStore

PAGE = 5000


def dry_run_stored(
    catalog: PlanCatalog,
    reads: EventReads,
    profiles: ProfileStore,
    clock: Clock,
    workspace_id: int,
    plan_id: str,
    version: int,
    days: int,
) -> dict[str, Any]:
    """What ``version`` would flag and block on the workspace's events of the last ``days`` days."""
    compiled = CompiledVersion(catalog.get_version(workspace_id, plan_id, version))
    until_ms = clock.now_ms()
    since_ms = until_ms - days * 86_400_000
    mpids: set[int] = set()

    def events() -> Iterator[tuple[str, str, str]]:
        after = 0
        while page := reads.tail(after, PAGE, workspace_id):
            for stored in page:
                if since_ms <= stored.timestamp_ms <= until_ms:
                    mpids.add(stored.mpid)
                    yield stored.event_uid, stored.environment, stored.body
            after = page[-1].seq

    def users() -> Iterator[tuple[dict[str, Any], dict[str, str]]]:
        for mpid in sorted(mpids):
            profile = profiles.get(workspace_id, mpid)
            if profile is not None:
                yield dict(profile.user_attributes), dict(profile.user_identities)

    checked = list(events())  # first, so that the users of the window are known
    return dry_run(compiled, checked, users(), since_ms, until_ms).to_json()
