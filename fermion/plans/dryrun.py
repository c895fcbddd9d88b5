"""Dry run: what a plan version would flag and block on stored data, before it is activated.

Each stored event is validated as a batch of one, exactly as the pipeline validates it, so the counts equal
what activation then does on the same events. User attributes and identities are checked on the profiles of
the users those events belong to.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from fermion.plans.matching import event_key
from fermion.plans.validator import CompiledVersion, Verdict
from fermion.schema import Batch, Event, UserIdentities


@dataclass
class PointReport:
    """The counts of one data point, or of one kind of unplanned event."""

    match: dict[str, Any]
    planned: bool
    matched: int = 0
    flagged: int = 0
    would_block: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The report row as the API shows it."""
        return {
            "match": self.match,
            "planned": self.planned,
            "matched": self.matched,
            "flagged": self.flagged,
            "would_block": self.would_block,
            "errors_by_type": dict(sorted(self.errors.items())),
        }


@dataclass
class DryRunReport:
    """What a version would do to the events of a time window."""

    plan_id: str
    version: int
    since_ms: int
    until_ms: int
    events: int = 0
    events_flagged: int = 0
    events_blocked: int = 0
    attributes_blocked: int = 0
    profiles: int = 0
    points: dict[str, PointReport] = field(default_factory=dict)

    def point(self, match: dict[str, Any], planned: bool) -> PointReport:
        """The row of a match, created on first use."""
        key = json.dumps(match, sort_keys=True)
        if key not in self.points:
            self.points[key] = PointReport(match, planned)
        return self.points[key]

    def to_json(self) -> dict[str, Any]:
        """The report as the API and CLI show it."""
        return {
            "data_plan": {"plan_id": self.plan_id, "plan_version": self.version},
            "since_ms": self.since_ms,
            "until_ms": self.until_ms,
            "events_checked": self.events,
            "events_flagged": self.events_flagged,
            "events_would_block": self.events_blocked,
            "event_attributes_would_block": self.attributes_blocked,
            "profiles_checked": self.profiles,
            "data_points": [self.points[k].to_json() for k in sorted(self.points)],
        }


def _tally(report: DryRunReport, verdict: Verdict, planned: bool, blocked: bool) -> None:
    for result in verdict.results:
        row = report.point(result["data"]["match"], planned)
        row.flagged += 1
        row.would_block += int(blocked)
        for error in result["data"]["validation_errors"]:
            kind = error["validation_error_type"]
            row.errors[kind] = row.errors.get(kind, 0) + 1


def dry_run(
    compiled: CompiledVersion,
    events: Iterable[tuple[str, str, str]],
    profiles: Iterable[tuple[dict[str, Any], dict[str, str]]],
    since_ms: int,
    until_ms: int,
) -> DryRunReport:
    """Validate ``events`` (id, environment, event JSON) and ``profiles`` (attributes, user identities)."""
    version = compiled.version
    report = DryRunReport(version.data_plan_id, version.version, since_ms, until_ms)
    for data_point in version.data_points:
        report.point(data_point.match_json(), planned=True)
    for event_id, environment, body in events:
        event = msgspec.json.decode(body, type=Event)
        point = compiled.events.get(event_key(event))
        if point is not None:
            report.point(point.point.match_json(), planned=True).matched += 1
        batch = Batch(
            events=[event], environment="development" if environment == "development" else "production"
        )
        verdict = compiled.check(batch, [event_id], user_data=False)
        report.events += 1
        report.events_flagged += int(bool(verdict.results))
        report.events_blocked += len(verdict.blocked_events)
        stripped = verdict.block_metadata.get("blocked_event_attributes", [])
        report.attributes_blocked += sum(len(e["event_attributes"]) for e in stripped)
        if point is None and verdict.results:
            report.point(verdict.results[0]["data"]["match"], planned=False).matched += 1
        _tally(report, verdict, planned=point is not None, blocked=bool(verdict.blocked_events or stripped))
    for attributes, identities in profiles:
        report.profiles += 1
        users = msgspec.convert(identities, UserIdentities) if identities else None
        batch = Batch(user_attributes=attributes or None, user_identities=users)
        verdict = compiled.check(batch, [])
        for data_point in version.data_points:
            if data_point.match_type in ("user_attributes", "user_identities"):
                report.point(data_point.match_json(), planned=True).matched += 1
        _tally(report, verdict, planned=True, blocked=verdict.blocked)
    return report
