"""Attribute conditions (spec activation §2.4, §3.3): one typed test of one attribute value.

The same condition object filters the events a calculated attribute counts and tests user attributes,
identities and calculated attributes in audience criteria. String matching is case-insensitive; an absent
attribute fails every operator except ``not_exists``.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final

from fermion.errors import BadRequest

CONDITION_TYPES: Final = ("string", "number", "boolean", "date")
_ANY_TYPE: Final = frozenset({"exists", "not_exists", "empty", "equals"})
OPERATORS: Final[dict[str, frozenset[str]]] = {
    "string": _ANY_TYPE | {"in_list", "contains", "not_contains", "pattern", "not_equals"},
    "number": _ANY_TYPE
    | {
        "in_list",
        "not_equals",
        "greater_than",
        "greater_or_equal",
        "less_than",
        "less_than_or_equal",
        "between",
    },
    "boolean": _ANY_TYPE,
    "date": _ANY_TYPE | {"before", "after", "between_dates"},
}
_NO_VALUE: Final = frozenset({"exists", "not_exists", "empty"})
_RANGE: Final = frozenset({"between", "between_dates"})


@dataclass(frozen=True)
class Condition:
    """A parsed condition; ``value``/``values``/``min_value``/``max_value`` hold typed operands."""

    type: str
    operator: str
    attribute_name: str
    value: Any = None
    values: tuple[Any, ...] = ()
    min_value: Any = None
    max_value: Any = None
    raw: tuple[tuple[str, Any], ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The condition as the API shows it."""
        return dict(self.raw)


def parse_condition(document: Any, where: str = "condition", *, needs_name: bool = True) -> Condition:
    """Validate one condition object; BadRequest names ``where`` and the spec's message."""

    def bad(message: str) -> BadRequest:
        return BadRequest(f"{where}: {message}")

    if not isinstance(document, dict):
        raise bad("Invalid condition definition")
    kind = document.get("type")
    if kind not in CONDITION_TYPES:
        raise bad("Invalid condition definition type")
    operator = document.get("operator")
    if operator not in OPERATORS[kind]:
        raise bad(f"Invalid {'numeric' if kind == 'number' else kind} condition operator")
    name = document.get("attribute_name")
    if needs_name and (not isinstance(name, str) or not name):
        raise bad("Condition attribute name must be specified")
    value, values = document.get("value"), document.get("values")
    low, high = document.get("min_value"), document.get("max_value")
    parsed: dict[str, Any] = {}
    if operator == "in_list":
        if not isinstance(values, list) or not values:
            raise bad("In-list condition values must be specified")
        parsed["values"] = tuple(_operand(kind, v, bad, "in-list condition values") for v in values)
    elif values not in (None, []):
        raise bad("Condition values must be empty")
    if operator in _RANGE:
        parsed["min_value"] = _operand(kind, low, bad, "condition minimum value")
        parsed["max_value"] = _operand(kind, high, bad, "condition maximum value")
    else:
        if low is not None:
            raise bad("Condition minimum value must be empty")
        if high is not None:
            raise bad("Condition maximum value must be empty")
    if operator in _NO_VALUE or operator in _RANGE or operator == "in_list":
        if value not in (None, "") and operator in _NO_VALUE:
            raise bad("Condition value must be empty")
    else:
        if value is None or value == "":
            raise bad(f"{kind.capitalize()} condition value must be specified")
        parsed["value"] = _operand(kind, value, bad, "condition value")
        if operator == "pattern":
            parsed["value"] = re.compile(fnmatch.translate(str(value).lower()))
    raw = {
        "type": kind,
        "operator": operator,
        "attribute_name": name,
        "value": value,
        "values": values,
        "min_value": low,
        "max_value": high,
    }
    return Condition(kind, operator, str(name or ""), raw=tuple(raw.items()), **parsed)


def _operand(kind: str, value: Any, bad: Any, what: str) -> Any:
    label = {"number": "numeric", "date": "date", "boolean": "boolean", "string": "string"}[kind]
    if kind == "string":
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise bad(f"Invalid {label} {what}")
        return str(value).lower()
    if kind == "number":
        number = as_number(value)
        if number is None:
            raise bad(f"Invalid {label} {what}")
        return number
    if kind == "boolean":
        flag = as_bool(value)
        if flag is None:
            raise bad(f"Invalid {label} {what}")
        return flag
    day = _as_day(value)
    if day is None:
        raise bad(f"Invalid {label} {what}")
    return day


def as_number(value: Any) -> float | None:
    """A number from a number or a numeric string (``"34.32"`` → 34.32); None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def as_bool(value: Any) -> bool | None:
    """A boolean from a boolean or ``"true"``/``"false"`` in any case; None otherwise."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def as_ms(value: Any) -> int | None:
    """Epoch milliseconds from epoch ms or an ISO-8601 date/time (UTC when no zone); None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return int(parsed.timestamp() * 1000)
    return None


def _as_day(value: Any) -> int | None:
    """The UTC calendar day of ``value`` as the epoch ms of its midnight."""
    ms = as_ms(value)
    if ms is None:
        return None
    day: date = datetime.fromtimestamp(ms / 1000, UTC).date()
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


def holds(condition: Condition, attributes: dict[str, Any]) -> bool:
    """Whether the attribute ``condition`` names passes it; attribute names match case-insensitively."""
    present, value = _lookup(attributes, condition.attribute_name)
    return holds_for(condition, present, value)


def holds_for(condition: Condition, present: bool, value: Any) -> bool:
    """Whether an attribute value (``present`` False when absent) passes ``condition``."""
    op = condition.operator
    if op == "not_exists":
        return not present or value is None
    if not present:
        return False
    if op == "exists":
        return value is not None
    if op == "empty":
        return value is None or value == "" or value == []
    if isinstance(value, list):  # a list attribute passes when one of its entries does
        test = all if op.startswith("not_") else any
        return test(holds_for(condition, True, entry) for entry in value)
    kind = condition.type
    if kind == "string":
        if value is None:
            return False
        return _string(op, str(value).lower(), condition)
    if kind == "number":
        number = as_number(value)
        return number is not None and _number(op, number, condition)
    if kind == "boolean":
        flag = as_bool(value)
        return flag is not None and flag == condition.value
    day = _as_day(value)
    return day is not None and _date(op, day, condition)


def _string(op: str, text: str, c: Condition) -> bool:
    if op == "equals":
        return bool(text == c.value)
    if op == "not_equals":
        return bool(text != c.value)
    if op == "contains":
        return str(c.value) in text
    if op == "not_contains":
        return str(c.value) not in text
    if op == "pattern":
        pattern: re.Pattern[str] = c.value
        return pattern.fullmatch(text) is not None
    return text in c.values  # in_list


def _number(op: str, n: float, c: Condition) -> bool:
    if op == "equals":
        return bool(n == c.value)
    if op == "not_equals":
        return bool(n != c.value)
    if op == "greater_than":
        return bool(n > c.value)
    if op == "greater_or_equal":
        return bool(n >= c.value)
    if op == "less_than":
        return bool(n < c.value)
    if op == "less_than_or_equal":
        return bool(n <= c.value)
    if op == "between":
        return bool(c.min_value <= n <= c.max_value)
    return n in c.values  # in_list


def _date(op: str, day: int, c: Condition) -> bool:
    # Before D excludes D; After D includes D; On D is the whole UTC day; Between includes both ends.
    if op == "before":
        return bool(day < c.value)
    if op == "after":
        return bool(day >= c.value)
    if op == "equals":
        return bool(day == c.value)
    return bool(c.min_value <= day <= c.max_value)


def _lookup(attributes: dict[str, Any], name: str) -> tuple[bool, Any]:
    if name in attributes:
        return True, attributes[name]
    lowered = name.lower()
    for key, value in attributes.items():
        if key.lower() == lowered:
            return True, value
    return False, None
