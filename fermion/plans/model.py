"""Data plans, their versions and data points (spec §1.1–1.2), parsed from mParticle's JSON with error paths.

A plan document is checked once, when it is written: every problem is a ``BadRequest`` whose message starts
with the path of the offending part (``version_document.data_points[3].match.type: …``), so a user can fix
an exported plan without guessing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Final

from fermion.errors import BadRequest
from fermion.plans.schemas import check_schema

# The Data Planning OAS ``MatchType`` enum, then the types the TypeScript model adds (spec §1.2).
OAS_MATCH_TYPES: Final = (
    "unknown",
    "screen_view",
    "custom_event",
    "user_attributes",
    "user_identities",
    "product_action",
    "promotion_action",
    "product_impression",
)
MODEL_MATCH_TYPES: Final = (
    "session_start",
    "session_end",
    "crash_report",
    "opt_out",
    "first_run",
    "application_state_transition",
    "network_performance",
    "breadcrumb",
    "profile",
    "commerce",
    "user_attribute_change",
    "user_identity_change",
    "user_identity_chagne",  # sic: the model's own spelling, accepted so its exports import
    "uninstall",
    "media",
)
MATCH_TYPES: Final = OAS_MATCH_TYPES + MODEL_MATCH_TYPES

CUSTOM_EVENT_TYPES: Final = (
    "unknown",
    "navigation",
    "location",
    "search",
    "transaction",
    "user_content",
    "user_preference",
    "social",
    "other",
    "media",
)
PRODUCT_ACTIONS: Final = (
    "add_to_cart",
    "remove_from_cart",
    "checkout",
    "checkout_option",
    "click",
    "view_detail",
    "purchase",
    "refund",
    "add_to_wishlist",
    "remove_from_wish_list",
)
PROMOTION_ACTIONS: Final = ("view", "click")
ENVIRONMENTS: Final = ("none", "development", "production")
MAX_DATA_POINTS: Final = 1000
MAX_DOCUMENT_BYTES: Final = 10_000_000  # "uploaded plan JSON < 10 MB" (spec §1.8)

# Required criteria per match type: name → allowed values (None: any non-empty string).
_CRITERIA: Final[dict[str, dict[str, tuple[str, ...] | None]]] = {
    "custom_event": {"event_name": None, "custom_event_type": CUSTOM_EVENT_TYPES},
    "screen_view": {"screen_name": None},
    "product_action": {"action": PRODUCT_ACTIONS},
    "promotion_action": {"action": PROMOTION_ACTIONS},
    "application_state_transition": {"application_transition_type": None},
}


@dataclass(frozen=True)
class DataPoint:
    """Match criteria plus the JSON Schema that matched data must satisfy."""

    match_type: str
    criteria: dict[str, str]
    schema: dict[str, Any]
    description: str = ""

    def match_json(self) -> dict[str, Any]:
        """The ``match`` object, as validation results carry it."""
        return {"type": self.match_type, "criteria": dict(self.criteria)}


@dataclass(frozen=True)
class Blocking:
    """Which unplanned data a version blocks (spec §1.7); all off by default."""

    events: bool = False
    event_attributes: bool = False
    user_attributes: bool = False
    user_identities: bool = False

    def any(self) -> bool:
        """Whether anything is blocked at all."""
        return self.events or self.event_attributes or self.user_attributes or self.user_identities

    def to_json(self) -> dict[str, bool]:
        """The ``blocking`` object of a version."""
        return {
            "events": self.events,
            "event_attributes": self.event_attributes,
            "user_attributes": self.user_attributes,
            "user_identities": self.user_identities,
        }


@dataclass(frozen=True)
class PlanVersion:
    """One version of a plan: its document, its activation and what it blocks."""

    workspace_id: int
    data_plan_id: str
    version: int
    description: str
    activated_environment: str
    document: dict[str, Any]
    blocking: Blocking
    created_ms: int
    created_by: str
    modified_ms: int
    modified_by: str
    data_points: tuple[DataPoint, ...] = field(default=(), compare=False)

    def active_in(self, environment: str) -> bool:
        """``production`` means "production and development"; ``none`` is a draft."""
        if self.activated_environment == "production":
            return True
        return self.activated_environment == "development" and environment == "development"


@dataclass(frozen=True)
class DataPlan:
    """A named plan and its versions."""

    workspace_id: int
    data_plan_id: str
    name: str
    description: str
    created_ms: int
    created_by: str
    modified_ms: int
    modified_by: str
    versions: tuple[PlanVersion, ...] = ()


def _fail(path: str, message: str) -> BadRequest:
    return BadRequest(f"{path}: {message}")


def parse_data_point(raw: object, path: str) -> DataPoint:
    """One data point; raises ``BadRequest`` naming the path of the first problem."""
    if not isinstance(raw, dict):
        raise _fail(path, "a data point must be an object")
    match = raw.get("match")
    if not isinstance(match, dict):
        raise _fail(f"{path}.match", "required, an object with `type` and `criteria`")
    match_type = match.get("type")
    if match_type not in MATCH_TYPES:
        raise _fail(
            f"{path}.match.type", f"unknown match type {match_type!r}; known: {', '.join(MATCH_TYPES)}"
        )
    criteria_raw = match.get("criteria", {})
    if criteria_raw is None:
        criteria_raw = {}
    if not isinstance(criteria_raw, dict):
        raise _fail(f"{path}.match.criteria", "must be an object")
    criteria: dict[str, str] = {}
    for name, allowed in _CRITERIA.get(match_type, {}).items():
        value = criteria_raw.get(name)
        where = f"{path}.match.criteria.{name}"
        if not isinstance(value, str) or not value:
            raise _fail(where, f"required for match type {match_type}, a non-empty string")
        if allowed is not None and value not in allowed:
            raise _fail(where, f"{value!r} is not one of {', '.join(allowed)}")
        criteria[name] = value
    validator = raw.get("validator")
    if not isinstance(validator, dict):
        raise _fail(f"{path}.validator", "required, an object with `type` and `definition`")
    if validator.get("type") != "json_schema":
        raise _fail(f"{path}.validator.type", "must be `json_schema`")
    definition = validator.get("definition")
    if not isinstance(definition, dict):
        raise _fail(f"{path}.validator.definition", "required, a JSON Schema object")
    check_schema(definition, f"{path}.validator.definition")
    description = raw.get("description") or ""
    if not isinstance(description, str):
        raise _fail(f"{path}.description", "must be a string")
    return DataPoint(match_type, criteria, definition, description)


def parse_document(raw: object, path: str = "version_document") -> tuple[DataPoint, ...]:
    """The data points of a version document, checked; at most 1,000 per plan (spec §1.8)."""
    if not isinstance(raw, dict):
        raise _fail(path, "must be an object with `data_points`")
    size = len(json.dumps(raw))
    if size >= MAX_DOCUMENT_BYTES:
        raise _fail(path, f"a plan document must be smaller than 10 MB; this one has {size} bytes")
    points = raw.get("data_points", [])
    if not isinstance(points, list):
        raise _fail(f"{path}.data_points", "must be an array")
    if len(points) > MAX_DATA_POINTS:
        raise BadRequest(
            f"Data plan exceeds maximum of {MAX_DATA_POINTS} with {len(points)} data points.",
        )
    for key in ("settings", "transformations"):
        if key in raw and raw[key] is not None and not isinstance(raw[key], dict):
            raise _fail(f"{path}.{key}", "must be an object")
    return tuple(parse_data_point(p, f"{path}.data_points[{i}]") for i, p in enumerate(points))


def parse_blocking(raw: object, document: dict[str, Any], path: str = "blocking") -> Blocking:
    """A version's blocking switches: the ``blocking`` object, else the document's validation actions.

    ``version_document.settings.validation_actions`` (mParticle's model: ``event: drop_event``,
    ``event_attribute``/``user_attribute: drop_attribute``) is honoured so exported plans keep their setting.
    """
    if raw is None:
        settings = document.get("settings") or {}
        if not isinstance(settings, dict):
            raise _fail("version_document.settings", "must be an object")
        actions = settings.get("validation_actions") or {}
        if not isinstance(actions, dict):
            raise _fail("version_document.settings.validation_actions", "must be an object")
        return Blocking(
            events=actions.get("event") == "drop_event",
            event_attributes=actions.get("event_attribute") == "drop_attribute",
            user_attributes=actions.get("user_attribute") == "drop_attribute",
            user_identities=actions.get("user_identity") == "drop_attribute",
        )
    if not isinstance(raw, dict):
        raise _fail(path, "must be an object of booleans")
    known = set(Blocking().to_json())
    for key, value in raw.items():
        if key not in known:
            raise _fail(f"{path}.{key}", f"unknown switch; known: {', '.join(sorted(known))}")
        if not isinstance(value, bool):
            raise _fail(f"{path}.{key}", "must be true or false")
    return Blocking(**raw)


def parse_environment(raw: object, path: str = "activated_environment") -> str:
    """``none``, ``development`` or ``production``; absent means a draft."""
    if raw is None:
        return "none"
    if raw not in ENVIRONMENTS:
        raise _fail(path, f"{raw!r} is not one of {', '.join(ENVIRONMENTS)}")
    return str(raw)


def parse_version_number(raw: object, path: str = "version") -> int:
    """A positive integer version."""
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1 or raw > 2_147_483_647:
        raise _fail(path, "must be a positive integer")
    return raw
