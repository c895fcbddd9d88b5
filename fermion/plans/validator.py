"""A plan version compiled for the pipeline: validates a batch, reports mParticle's results, and blocks.

``CompiledVersion.check`` returns a ``Verdict`` and removes blocked data from the batch in place: blocked
user attributes and identities are deleted from it, blocked event attributes from their events, and blocked
events are listed by index (their positions give events their stable ids, so they are skipped, not removed).
Only unplanned data is ever blocked; invalid data is reported and kept (spec §1.7).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import fastjsonschema
import msgspec

from fermion.errors import BadRequest
from fermion.identity import canonical
from fermion.plans.matching import PLANNABLE, event_key, point_key, unplanned_match
from fermion.plans.model import DataPoint, PlanVersion
from fermion.plans.schemas import Violation, compile_schema, explain
from fermion.schema import Batch, Event, UserIdentities, event_type_of

# Verdict statuses: every processed batch gets one.
VALID: Final = "valid"
INVALID: Final = "invalid"
NOT_VALIDATED: Final = "not_validated"

# Blocked-data categories, as quarantine records and filters name them.
UNPLANNED_EVENT: Final = "unplanned_event"
UNPLANNED_EVENT_ATTRIBUTE: Final = "unplanned_event_attribute"
UNPLANNED_USER_ATTRIBUTE: Final = "unplanned_user_attribute"
UNPLANNED_USER_IDENTITY: Final = "unplanned_user_identity"
BLOCK_REASONS: Final = (
    UNPLANNED_EVENT,
    UNPLANNED_EVENT_ATTRIBUTE,
    UNPLANNED_USER_ATTRIBUTE,
    UNPLANNED_USER_IDENTITY,
)

_EVENT_ATTRIBUTES = "#/data/custom_attributes/"
_DEVICE_FIELDS: Final = (
    "ios_advertising_id",
    "ios_idfv",
    "android_advertising_id",
    "android_uuid",
    "roku_advertising_id",
    "roku_publisher_id",
    "microsoft_publisher_id",
    "microsoft_advertising_id",
    "fire_advertising_id",
    "amp_id",
    "push_token",
)


@dataclass
class Verdict:
    """What validation found in one batch and what it blocked."""

    status: str
    plan_id: str | None = None
    plan_version: int | None = None
    note: str = ""
    results: list[dict[str, Any]] = field(default_factory=list)
    blocked_events: set[int] = field(default_factory=set)
    block_metadata: dict[str, Any] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)

    @property
    def blocked(self) -> bool:
        """Whether anything of the batch was blocked (and so belongs in the quarantine)."""
        return bool(self.reasons)

    @property
    def error_count(self) -> int:
        """How many validation errors the results hold."""
        return sum(len(r["data"]["validation_errors"]) for r in self.results)

    def to_json(self) -> dict[str, Any]:
        """The verdict as the API, the live stream and the quarantine show it."""
        return {
            "status": self.status,
            "data_plan": None
            if self.plan_id is None
            else {"plan_id": self.plan_id, "plan_version": self.plan_version},
            "note": self.note,
            "error_count": self.error_count,
            "results": self.results,
            "blocked": self.reasons,
            "block_metadata": self.block_metadata or None,
        }


def not_validated(note: str, plan_id: str | None = None, plan_version: int | None = None) -> Verdict:
    """The verdict of a batch no active plan version applies to (spec §1.6)."""
    return Verdict(NOT_VALIDATED, plan_id, plan_version, note)


@dataclass(frozen=True)
class _Point:
    point: DataPoint
    schema: dict[str, Any]
    strict: Callable[[Any], Any]

    def violations(self, value: Any) -> list[Violation]:
        try:
            self.strict(value)
        except fastjsonschema.JsonSchemaValueException:
            return explain(self.schema, value)
        return []


def _compiled(point: DataPoint, schema: dict[str, Any] | None = None) -> _Point:
    schema = point.schema if schema is None else schema
    return _Point(point, schema, compile_schema(schema))


def _canonical_name(name: str) -> str:
    try:
        return canonical(name)
    except BadRequest:  # not an identity type: an unplanned name stays as written
        return name


def _canonical_identity_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Identity names in a plan (``customerid``, ``ios_idfa``…) spelt as Fermion's canonical names."""
    renamed = dict(schema)
    if isinstance(schema.get("properties"), dict):
        renamed["properties"] = {_canonical_name(k): v for k, v in schema["properties"].items()}
    if isinstance(schema.get("required"), list):
        renamed["required"] = [_canonical_name(k) for k in schema["required"]]
    return renamed


def _result(match: dict[str, Any], errors: list[dict[str, Any]], event_id: str | None) -> dict[str, Any]:
    data: dict[str, Any] = {"match": match, "validation_errors": errors}
    if event_id is not None:
        data["validated_event_id"] = event_id
    return {"event_type": "validation_result", "data": data}


def _without_nulls(attributes: dict[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (attributes or {}).items() if v is not None}


class CompiledVersion:
    """One plan version's validators, compiled once and reused for every batch."""

    def __init__(self, version: PlanVersion) -> None:
        self.version = version
        self.events: dict[str, _Point] = {}
        self.user_attributes: _Point | None = None
        self.user_identities: _Point | None = None
        for point in version.data_points:  # a later point with the same key wins (spec §1.2)
            if point.match_type == "user_attributes":
                self.user_attributes = _compiled(point)
            elif point.match_type == "user_identities":
                self.user_identities = _compiled(point, _canonical_identity_schema(point.schema))
            else:
                self.events[point_key(point)] = _compiled(point)

    def check(self, batch: Batch, event_ids: Sequence[str], *, user_data: bool = True) -> Verdict:
        """Validate ``batch`` (its events have ids ``event_ids``), blocking what the version blocks.

        ``user_data=False`` checks the events only (a dry run checks users' data on their profiles).
        """
        version = self.version
        verdict = Verdict(VALID, version.data_plan_id, version.version)
        for index, event in enumerate(batch.events or ()):
            self._check_event(batch, index, event, event_ids[index], verdict)
        if user_data and self.user_attributes is not None and batch.user_attributes:
            self._check_user_attributes(batch, self.user_attributes, verdict)
        if user_data and self.user_identities is not None:
            self._check_identities(batch, self.user_identities, verdict)
        if verdict.results:
            verdict.status = INVALID
        if verdict.reasons:
            verdict.block_metadata = {"dto_version": 1, **verdict.block_metadata}
        return verdict

    def _check_event(self, batch: Batch, index: int, event: Event, event_id: str, verdict: Verdict) -> None:
        key = event_key(event)
        point = self.events.get(key)
        if point is None:
            if event_type_of(event) not in PLANNABLE:
                return
            match, name = unplanned_match(event, key)
            error = {
                "validation_error_type": "unplanned",
                "key": name,
                "error_pointer": "#",
                "expected": None,
                "actual": name,
                "schema_keyword": None,
            }
            verdict.results.append(_result(match, [error], event_id))
            if self.version.blocking.events:
                verdict.blocked_events.add(index)
                verdict.block_metadata.setdefault("blocked_event_ids", []).append(event_id)
                _add_reason(verdict, UNPLANNED_EVENT)
            return
        body = msgspec.to_builtins(event)
        data = body.get("data")
        if isinstance(data, dict) and isinstance(data.get("custom_attributes"), dict):
            data["custom_attributes"] = _without_nulls(data["custom_attributes"])
        violations = point.violations(body)
        if not violations:
            return
        verdict.results.append(_result(point.point.match_json(), [v.to_json() for v in violations], event_id))
        if not self.version.blocking.event_attributes:
            return
        unplanned = [
            v.key
            for v in violations
            if v.keyword == "additionalProperties" and v.pointer == f"{_EVENT_ATTRIBUTES}{v.key}"
        ]
        if not unplanned:
            return
        attributes = dict(event.data.custom_attributes or {})
        for name in unplanned:
            attributes.pop(name, None)
        event.data.custom_attributes = attributes or None
        verdict.block_metadata.setdefault("blocked_event_attributes", []).append(
            {"event_id": event_id, "event_attributes": [f"./data/custom_attributes/{n}" for n in unplanned]}
        )
        _add_reason(verdict, UNPLANNED_EVENT_ATTRIBUTE)

    def _check_user_attributes(self, batch: Batch, point: _Point, verdict: Verdict) -> None:
        attributes = _without_nulls(dict(batch.user_attributes or {}))
        if not point.schema:
            error = {
                "validation_error_type": "unknown",
                "key": "user_attributes",
                "error_pointer": "#",
                "expected": None,
                "actual": "Invalid JSON Schema",
                "schema_keyword": None,
            }
            verdict.results.append(_result(point.point.match_json(), [error], None))
            return
        violations = point.violations(attributes)
        if not violations:
            return
        verdict.results.append(_result(point.point.match_json(), [v.to_json() for v in violations], None))
        unplanned = [
            v.key for v in violations if v.keyword == "additionalProperties" and v.pointer == f"#/{v.key}"
        ]
        if self.version.blocking.user_attributes and unplanned:
            kept = {k: v for k, v in (batch.user_attributes or {}).items() if k not in unplanned}
            batch.user_attributes = kept
            verdict.block_metadata["blocked_user_attributes"] = unplanned
            _add_reason(verdict, UNPLANNED_USER_ATTRIBUTE)

    def _check_identities(self, batch: Batch, point: _Point, verdict: Verdict) -> None:
        held = _identities(batch)
        values = {name: value for name, (_, _, value) in held.items()}
        violations = point.violations(values)
        if not violations:
            return
        verdict.results.append(_result(point.point.match_json(), [v.to_json() for v in violations], None))
        unplanned = [
            v.key for v in violations if v.keyword == "additionalProperties" and v.pointer == f"#/{v.key}"
        ]
        if not (self.version.blocking.user_identities and unplanned):
            return
        for name in unplanned:
            kind, field_name, _ = held[name]
            if kind == "user" and batch.user_identities is not None:
                setattr(batch.user_identities, field_name, None)
                verdict.block_metadata.setdefault("blocked_user_identities", []).append(field_name)
            elif kind == "device" and batch.device_info is not None:
                setattr(batch.device_info, field_name, None)
                verdict.block_metadata.setdefault("blocked_device_identities", []).append(field_name)
            elif kind == "stamp":
                batch.mp_deviceid = None
                verdict.block_metadata.setdefault("blocked_device_identities", []).append(field_name)
        _add_reason(verdict, UNPLANNED_USER_IDENTITY)


def _add_reason(verdict: Verdict, reason: str) -> None:
    if reason not in verdict.reasons:
        verdict.reasons.append(reason)


def _identities(batch: Batch) -> dict[str, tuple[str, str, str]]:
    """The batch's identities by canonical name → (kind, the batch's field name, value)."""
    held: dict[str, tuple[str, str, str]] = {}
    users: UserIdentities | None = batch.user_identities
    if users is not None:
        for name, value in msgspec.to_builtins(users).items():
            if isinstance(value, str) and value:
                held[canonical(name)] = ("user", name, value)
    if batch.device_info is not None:
        for name in _DEVICE_FIELDS:
            value = getattr(batch.device_info, name, None)
            if isinstance(value, str) and value:
                held[canonical(name)] = ("device", name, value)
    if batch.mp_deviceid:
        held["device_application_stamp"] = ("stamp", "mp_deviceid", batch.mp_deviceid)
    return held
