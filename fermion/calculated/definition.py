"""A calculated attribute's definition (spec activation §2.2–§2.5): what it counts, how, and over when.

Validation errors carry the Platform API's messages. Where the spec's sources disagree, both spellings
are accepted: ``min``/``minimum``, ``max``/``maximum``, ``datapoint``/``data_point``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from fermion.calculated.conditions import Condition, as_ms, parse_condition
from fermion.calculated.matcher import EventMatcher
from fermion.errors import BadRequest

CALCULATION_TYPES: Final = (
    "count",
    "sum",
    "min",
    "max",
    "average",
    "most_frequent",
    "unique_values_count",
    "first_occurrence",
    "last_occurrence",
    "first_occurrence_timestamp",
    "last_occurrence_timestamp",
    "unique_list",
)
CALCULATION_ALIASES: Final = {"minimum": "min", "maximum": "max"}
NEEDS_ATTRIBUTE: Final = frozenset(
    {"sum", "min", "max", "average", "most_frequent", "unique_values_count", "first_occurrence",
     "last_occurrence", "unique_list"}
)  # fmt: skip
EVENT_TYPES: Final = ("custom_event", "screen_view", "commerce_event")
_DAY_MS: Final = 86_400_000
_UNIT_MS: Final = {"days": _DAY_MS, "weeks": 7 * _DAY_MS}


@dataclass(frozen=True)
class TimePeriod:
    """``since`` a start time, or ``within`` the last ``window_ms``."""

    kind: str
    since_ms: int = 0
    window_ms: int = 0


@dataclass(frozen=True)
class Definition:
    """A validated definition; ``document`` is its normalised JSON."""

    calculation_type: str
    matcher: EventMatcher
    attribute_name: str | None
    attribute_category: str
    use_product_quantity: bool
    period: TimePeriod
    document: dict[str, Any]


def calculation_type_of(name: Any) -> str:
    """The API name of a calculation type (aliases resolved); BadRequest when unknown."""
    resolved = CALCULATION_ALIASES.get(name, name) if isinstance(name, str) else None
    if resolved not in CALCULATION_TYPES:
        raise BadRequest("Invalid calculation type")
    return str(resolved)


def parse_definition(document: Any, *, retention_days: int, earliest_ms: int = 0) -> Definition:
    """Validate a definition object; BadRequest with the Platform API's message otherwise."""
    if not isinstance(document, dict):
        raise BadRequest("Field 'draft_definition' is required.")
    if document.get("recipe_type", "event") != "event":
        raise BadRequest("Invalid recipe type")
    calculation = calculation_type_of(document.get("calculation_type"))
    point = document.get("datapoint", document.get("data_point"))
    if not isinstance(point, dict):
        raise BadRequest("Invalid data point: 'datapoint' must be an object")
    if point.get("type", "event") not in ("event", "event_attribute"):
        raise BadRequest("Invalid data point type: only events are supported")
    event_type = point.get("event_type", "custom_event")
    if event_type not in EVENT_TYPES:
        raise BadRequest(f"Invalid data point event type: use one of {', '.join(EVENT_TYPES)}")
    event_name = point.get("event_name")
    if not isinstance(event_name, str) or not event_name:
        if event_type == "custom_event":
            raise BadRequest("Invalid data point custom event name")
        event_name = ""  # any commerce event of the action, or any screen view
    custom_type = point.get("custom_event_type")
    if custom_type is not None and (not isinstance(custom_type, str) or event_type == "screen_view"):
        raise BadRequest("Invalid data point custom event type")
    attribute = point.get("attribute_name")
    if calculation in NEEDS_ATTRIBUTE and (not isinstance(attribute, str) or not attribute):
        raise BadRequest(f"Invalid data point attribute name: {calculation} needs 'attribute_name'")
    category = point.get("attribute_category") or "event_attribute"
    if category not in ("event_attribute", "product_attribute", "promotion_attribute"):
        raise BadRequest("Invalid data point attribute category")
    conditions = document.get("conditions") or []
    if not isinstance(conditions, list):
        raise BadRequest("Invalid condition definition")
    parsed: tuple[Condition, ...] = tuple(
        parse_condition(c, f"conditions[{i}]") for i, c in enumerate(conditions)
    )
    period = _time_period(document.get("time_period"), retention_days, earliest_ms)
    matcher = EventMatcher(
        event_name=event_name or "", event_type=event_type, custom_event_type=custom_type, conditions=parsed
    )
    normalised = {**document, "calculation_type": calculation, "recipe_type": "event", "datapoint": point}
    normalised.pop("data_point", None)
    return Definition(
        calculation_type=calculation,
        matcher=matcher,
        attribute_name=attribute if isinstance(attribute, str) and attribute else None,
        attribute_category=category,
        use_product_quantity=bool(point.get("use_product_quantity")),
        period=period,
        document=normalised,
    )


def _time_period(period: Any, retention_days: int, earliest_ms: int) -> TimePeriod:
    if not isinstance(period, dict):
        raise BadRequest("Invalid time period specification")
    kind = period.get("type")
    if kind == "all":
        raise BadRequest("Field 'time_period.type' = 'all' is not supported.")
    if kind == "since":
        since = as_ms(period.get("date"))
        if since is None or isinstance(period.get("date"), int | float):
            raise BadRequest("Invalid time period specification: 'time_period.date' must be an ISO date")
        if since < earliest_ms:
            raise BadRequest(
                f"'time_period.date' must be on or after the earliest date available of {earliest_ms}"
            )
        return TimePeriod("since", since_ms=since)
    if kind == "within":
        within = period.get("within")
        if not isinstance(within, int) or isinstance(within, bool) or within <= 0:
            raise BadRequest("Invalid 'within' time period specification")
        unit = period.get("within_unit", "days")
        if unit not in _UNIT_MS:
            raise BadRequest("Invalid 'within_unit' time period specification")
        window = within * _UNIT_MS[unit]
        if window > retention_days * _DAY_MS:
            raise BadRequest(
                "The within time period cannot exceed your configured retention period of "
                f"{retention_days} days for Calculated Attributes"
            )
        return TimePeriod("within", window_ms=window)
    raise BadRequest("Invalid 'type' time period specification")
