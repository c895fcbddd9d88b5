"""The audience criteria model (spec activation §3.3) as typed JSON, with validation that names the bad part.

A criterion is a group or a leaf::

    {"type": "group", "operator": "and" | "or" | "exclude", "criteria": [...]}
    {"type": "event", "event_name": "Product Page", "event_type": "custom_event",
     "custom_event_type": "navigation", "conditions": [<condition>, ...],
     "frequency": {"operator": "greater_or_equal", "value": 3},
     "recency": {"within": 7, "unit": "days"}}
    {"type": "user_attribute", "condition": <condition>}
    {"type": "identity", "identity_type": "email", "operator": "exists"}
    {"type": "calculated_attribute", "name": "LTV", "condition": <condition without attribute_name>}
    {"type": "audience_membership", "audience_id": 5, "operator": "member" | "not_member"}

``exclude`` is true when its first criterion is and none of the others are. A group may hold groups of
leaves: one level of nesting. An event criterion without frequency or recency means "more than 0 events
in the last 30 days".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from fermion.calculated import Condition, EventMatcher, parse_condition
from fermion.errors import BadRequest

GROUP_OPERATORS: Final = ("and", "or", "exclude")
FREQUENCY_OPERATORS: Final = (
    "greater_than",
    "greater_or_equal",
    "less_than",
    "less_than_or_equal",
    "equals",
    "between",
)
UNITS_MS: Final = {"minutes": 60_000, "hours": 3_600_000, "days": 86_400_000, "weeks": 604_800_000}
EVENT_TYPES: Final = ("custom_event", "screen_view", "commerce_event")
LEAF_TYPES: Final = ("event", "user_attribute", "identity", "calculated_attribute", "audience_membership")
DEFAULT_WINDOW_MS: Final = 30 * 86_400_000


@dataclass(frozen=True)
class EventCriterion:
    """How many matching events in the last ``window_ms``."""

    matcher: EventMatcher
    operator: str
    value: int
    max_value: int
    window_ms: int

    def passes(self, count: int) -> bool:
        """Whether ``count`` matching events in the window meet the frequency."""
        op, v = self.operator, self.value
        if op == "greater_than":
            return count > v
        if op == "greater_or_equal":
            return count >= v
        if op == "less_than":
            return count < v
        if op == "less_than_or_equal":
            return count <= v
        if op == "equals":
            return count == v
        return v <= count <= self.max_value


@dataclass(frozen=True)
class AttributeCriterion:
    """A condition on a user attribute (``source`` = ``user_attribute``), identity or calculated attribute."""

    source: str
    condition: Condition


@dataclass(frozen=True)
class MembershipCriterion:
    """Membership of another audience (which must not itself reference audiences)."""

    audience_id: int
    member: bool


Leaf = EventCriterion | AttributeCriterion | MembershipCriterion


@dataclass(frozen=True)
class Group:
    """``and``, ``or`` or ``exclude`` over criteria."""

    operator: str
    criteria: tuple[Group | Leaf, ...]


Criterion = Group | Leaf


def parse_criteria(document: Any, *, max_window_ms: int) -> Criterion:
    """The typed criteria of a JSON document; BadRequest naming the bad part (``criteria.criteria[1]...``)."""
    return _parse(document, "criteria", 0, max_window_ms)


def _parse(document: Any, where: str, depth: int, max_window_ms: int) -> Criterion:
    if not isinstance(document, dict):
        raise BadRequest(f"{where}: must be an object")
    kind = document.get("type", "group" if "criteria" in document else None)
    if kind == "group":
        if depth > 1:
            raise BadRequest(f"{where}: groups nest one level only")
        operator = document.get("operator", "and")
        if operator not in GROUP_OPERATORS:
            raise BadRequest(
                f"{where}.operator: unknown operator {operator!r}; use {', '.join(GROUP_OPERATORS)}"
            )
        children = document.get("criteria")
        if not isinstance(children, list) or not children:
            raise BadRequest(f"{where}.criteria: must be a non-empty list")
        if operator == "exclude" and len(children) < 2:
            raise BadRequest(f"{where}.criteria: exclude needs a criterion and at least one to exclude")
        return Group(
            operator,
            tuple(
                _parse(c, f"{where}.criteria[{i}]", depth + 1, max_window_ms) for i, c in enumerate(children)
            ),
        )
    if kind == "event":
        return _event(document, where, max_window_ms)
    if kind == "user_attribute":
        return AttributeCriterion(
            "user_attribute", parse_condition(document.get("condition"), f"{where}.condition")
        )
    if kind == "calculated_attribute":
        name = document.get("name")
        if not isinstance(name, str) or not name:
            raise BadRequest(f"{where}.name: the calculated attribute's name is required")
        condition = document.get("condition")
        if isinstance(condition, dict):
            condition = {**condition, "attribute_name": name}
        return AttributeCriterion("calculated_attribute", parse_condition(condition, f"{where}.condition"))
    if kind == "identity":
        identity_type = document.get("identity_type")
        if not isinstance(identity_type, str) or not identity_type:
            raise BadRequest(f"{where}.identity_type: required (email, customer_id, …)")
        condition = {k: v for k, v in document.items() if k in ("operator", "value", "values")}
        return AttributeCriterion(
            "identity",
            parse_condition({**condition, "type": "string", "attribute_name": identity_type}, where),
        )
    if kind == "audience_membership":
        audience_id = document.get("audience_id")
        if not isinstance(audience_id, int) or isinstance(audience_id, bool):
            raise BadRequest(f"{where}.audience_id: must be an audience id")
        operator = document.get("operator", "member")
        if operator not in ("member", "not_member"):
            raise BadRequest(f"{where}.operator: unknown operator {operator!r}; use member or not_member")
        return MembershipCriterion(audience_id, operator == "member")
    raise BadRequest(f"{where}.type: unknown criterion type {kind!r}; use group or {', '.join(LEAF_TYPES)}")


def _event(document: dict[str, Any], where: str, max_window_ms: int) -> EventCriterion:
    name = document.get("event_name", "")  # may be empty for a commerce action or any screen view
    event_type = document.get("event_type", "custom_event")
    if event_type not in EVENT_TYPES:
        raise BadRequest(
            f"{where}.event_type: unknown event type {event_type!r}; use {', '.join(EVENT_TYPES)}"
        )
    if not isinstance(name, str) or (not name and event_type == "custom_event"):
        raise BadRequest(f"{where}.event_name: required for custom events")
    custom_type = document.get("custom_event_type")
    if custom_type is not None and not isinstance(custom_type, str):
        raise BadRequest(f"{where}.custom_event_type: must be a string")
    conditions = document.get("conditions") or []
    if not isinstance(conditions, list):
        raise BadRequest(f"{where}.conditions: must be a list")
    parsed = tuple(parse_condition(c, f"{where}.conditions[{i}]") for i, c in enumerate(conditions))
    frequency = document.get("frequency") or {"operator": "greater_than", "value": 0}
    if not isinstance(frequency, dict):
        raise BadRequest(f"{where}.frequency: must be an object")
    operator = frequency.get("operator", "greater_than")
    if operator not in FREQUENCY_OPERATORS:
        raise BadRequest(
            f"{where}.frequency.operator: unknown operator {operator!r}; use {', '.join(FREQUENCY_OPERATORS)}"
        )
    value: Any = frequency.get("value", frequency.get("min_value", 0))
    high: Any = frequency.get("max_value", 0)
    for field, number in (("value", value), ("max_value", high)):
        if not isinstance(number, int) or isinstance(number, bool) or number < 0:
            raise BadRequest(f"{where}.frequency.{field}: must be a whole number ≥ 0")
    if operator == "between" and high < value:
        raise BadRequest(f"{where}.frequency.max_value: must be ≥ value")
    recency = document.get("recency") or {"within": 30, "unit": "days"}
    if not isinstance(recency, dict):
        raise BadRequest(f"{where}.recency: must be an object")
    within, unit = recency.get("within"), recency.get("unit", "days")
    if unit not in UNITS_MS:
        raise BadRequest(f"{where}.recency.unit: unknown unit {unit!r}; use {', '.join(UNITS_MS)}")
    if not isinstance(within, int) or isinstance(within, bool) or within <= 0:
        raise BadRequest(f"{where}.recency.within: must be a whole number > 0")
    window = within * UNITS_MS[unit]
    if window > max_window_ms:
        raise BadRequest(
            f"{where}.recency: {within} {unit} is beyond the real-time audience window of "
            f"{max_window_ms // 86_400_000} days"
        )
    matcher = EventMatcher(name, event_type, custom_type, parsed)
    return EventCriterion(matcher, operator, value, high, window)


def leaves(criterion: Criterion) -> list[Leaf]:
    """Every leaf of a criterion tree."""
    if isinstance(criterion, Group):
        return [leaf for child in criterion.criteria for leaf in leaves(child)]
    return [criterion]


def event_criteria(criterion: Criterion) -> list[EventCriterion]:
    """The event criteria of a tree."""
    return [leaf for leaf in leaves(criterion) if isinstance(leaf, EventCriterion)]


def calculated_attributes_in(document: Any) -> set[str]:
    """The calculated attributes a stored criteria document names."""
    criteria = parse_criteria(document, max_window_ms=10**15)
    return {
        leaf.condition.attribute_name
        for leaf in leaves(criteria)
        if isinstance(leaf, AttributeCriterion) and leaf.source == "calculated_attribute"
    }


def referenced_audiences(criterion: Criterion) -> set[int]:
    """The audiences a tree's membership criteria name."""
    return {leaf.audience_id for leaf in leaves(criterion) if isinstance(leaf, MembershipCriterion)}
