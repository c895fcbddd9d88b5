"""Every condition operator of every type (spec activation §2.4, §3.3), and the validation messages."""

from __future__ import annotations

from typing import Any

import pytest

from fermion.calculated import OPERATORS, holds, parse_condition
from fermion.errors import BadRequest


def _c(kind: str, operator: str, **operands: Any) -> Any:
    return parse_condition({"type": kind, "operator": operator, "attribute_name": "a", **operands})


CASES: list[tuple[str, str, dict[str, Any], Any, bool]] = [
    # string: case-insensitive
    ("string", "equals", {"value": "US"}, "us", True),
    ("string", "equals", {"value": "US"}, "USA", False),
    ("string", "not_equals", {"value": "US"}, "CA", True),
    ("string", "not_equals", {"value": "US"}, "Us", False),
    ("string", "contains", {"value": "ROD"}, "product page", True),
    ("string", "contains", {"value": "cart"}, "product page", False),
    ("string", "not_contains", {"value": "cart"}, "product page", True),
    ("string", "not_contains", {"value": "page"}, "product page", False),
    ("string", "pattern", {"value": "prod*pa?e"}, "Product Page", True),
    ("string", "pattern", {"value": "prod?page"}, "Product Page", False),
    ("string", "in_list", {"values": ["US", "CA"]}, "ca", True),
    ("string", "in_list", {"values": ["US", "CA"]}, "MX", False),
    ("string", "exists", {}, "", True),
    ("string", "empty", {}, "", True),
    ("string", "empty", {}, "x", False),
    ("string", "equals", {"value": "b"}, ["a", "B"], True),  # a list attribute passes when one entry does
    # number: numeric strings are numbers
    ("number", "equals", {"value": 3}, "3.0", True),
    ("number", "not_equals", {"value": 3}, 4, True),
    ("number", "greater_than", {"value": 3}, 3, False),
    ("number", "greater_than", {"value": 3}, 3.5, True),
    ("number", "greater_or_equal", {"value": 3}, 3, True),
    ("number", "less_than", {"value": 3}, 2, True),
    ("number", "less_than", {"value": 3}, 3, False),
    ("number", "less_than_or_equal", {"value": 3}, 3, True),
    ("number", "between", {"min_value": 1, "max_value": 3}, 3, True),
    ("number", "between", {"min_value": 1, "max_value": 3}, 3.1, False),
    ("number", "in_list", {"values": ["1", 2]}, 2, True),
    ("number", "in_list", {"values": ["1", 2]}, 5, False),
    ("number", "greater_than", {"value": 3}, "many", False),
    ("number", "exists", {}, 0, True),
    ("number", "empty", {}, None, True),
    # boolean
    ("boolean", "equals", {"value": True}, "TRUE", True),
    ("boolean", "equals", {"value": "false"}, True, False),
    ("boolean", "exists", {}, False, True),
    ("boolean", "empty", {}, False, False),
    # date: Before excludes the day, After includes it, On is the whole UTC day, Between both ends
    ("date", "before", {"value": "2026-03-10"}, "2026-03-09T23:59:59Z", True),
    ("date", "before", {"value": "2026-03-10"}, "2026-03-10T00:00:00Z", False),
    ("date", "after", {"value": "2026-03-10"}, "2026-03-10T00:00:00Z", True),
    ("date", "after", {"value": "2026-03-10"}, "2026-03-09T23:59:59Z", False),
    ("date", "equals", {"value": "2026-03-10"}, 1773187199000, True),  # 2026-03-10T23:59:59Z in ms
    (
        "date",
        "between_dates",
        {"min_value": "2026-03-01", "max_value": "2026-03-10"},
        "2026-03-10T22:00:00",
        True,
    ),
    ("date", "between_dates", {"min_value": "2026-03-01", "max_value": "2026-03-10"}, "2026-03-11", False),
    ("date", "exists", {}, "2026-03-10", True),
    ("date", "empty", {}, "", True),
]


@pytest.mark.parametrize(("kind", "operator", "operands", "value", "expected"), CASES)
def test_operator(kind: str, operator: str, operands: dict[str, Any], value: Any, expected: bool) -> None:
    assert holds(_c(kind, operator, **operands), {"A": value}) is expected


def test_every_operator_of_every_type_is_covered() -> None:
    covered = {(kind, operator) for kind, operator, *_ in CASES} | {(k, "not_exists") for k in OPERATORS}
    assert covered == {(kind, op) for kind, ops in OPERATORS.items() for op in ops}


@pytest.mark.parametrize("kind", sorted(OPERATORS))
def test_an_absent_attribute_fails_everything_but_not_exists(kind: str) -> None:
    assert holds(_c(kind, "not_exists"), {}) is True
    assert holds(_c(kind, "not_exists"), {"a": "x"}) is False
    assert holds(_c(kind, "exists"), {}) is False
    if kind == "string":
        assert holds(_c(kind, "not_equals", value="x"), {}) is False


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"type": "text", "operator": "equals"}, "Invalid condition definition type"),
        (
            {"type": "string", "operator": "greater_than", "attribute_name": "a", "value": "1"},
            "Invalid string condition operator",
        ),
        (
            {"type": "number", "operator": "contains", "attribute_name": "a", "value": 1},
            "Invalid numeric condition operator",
        ),
        (
            {"type": "boolean", "operator": "in_list", "attribute_name": "a"},
            "Invalid boolean condition operator",
        ),
        (
            {"type": "date", "operator": "greater_than", "attribute_name": "a"},
            "Invalid date condition operator",
        ),
        (
            {"type": "string", "operator": "equals", "value": "x"},
            "Condition attribute name must be specified",
        ),
        (
            {"type": "string", "operator": "in_list", "attribute_name": "a"},
            "In-list condition values must be specified",
        ),
        (
            {"type": "string", "operator": "equals", "attribute_name": "a"},
            "String condition value must be specified",
        ),
        (
            {"type": "number", "operator": "equals", "attribute_name": "a", "value": "ten"},
            "Invalid numeric condition value",
        ),
        (
            {
                "type": "number",
                "operator": "between",
                "attribute_name": "a",
                "min_value": "x",
                "max_value": 2,
            },
            "Invalid numeric condition minimum value",
        ),
        (
            {
                "type": "number",
                "operator": "between",
                "attribute_name": "a",
                "min_value": 1,
                "max_value": None,
            },
            "Invalid numeric condition maximum value",
        ),
        (
            {"type": "boolean", "operator": "equals", "attribute_name": "a", "value": "yes"},
            "Invalid boolean condition value",
        ),
        (
            {"type": "date", "operator": "before", "attribute_name": "a", "value": "soon"},
            "Invalid date condition value",
        ),
        (
            {"type": "string", "operator": "exists", "attribute_name": "a", "value": "x"},
            "Condition value must be empty",
        ),
        (
            {"type": "string", "operator": "equals", "attribute_name": "a", "value": "x", "values": ["y"]},
            "Condition values must be empty",
        ),
        (
            {"type": "number", "operator": "equals", "attribute_name": "a", "value": 1, "min_value": 0},
            "Condition minimum value must be empty",
        ),
    ],
)
def test_bad_conditions_name_the_problem(document: dict[str, Any], message: str) -> None:
    with pytest.raises(BadRequest) as raised:
        parse_condition(document, "conditions[2]")
    assert raised.value.message == f"conditions[2]: {message}"
