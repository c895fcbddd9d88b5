"""Explaining schema violations the way mParticle reports them: error types, leniency, nulls, pointers."""

from __future__ import annotations

from typing import Any

import fastjsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fermion.plans.schemas import Violation, compile_schema, error_type_of, explain
from tests.plans.plan_fixtures import attributes_schema, map_schema

NUMBER_TEXT = r"^-?\d+(\.\d+)?([eE][+\-]?\d+)?$"
BOOLEAN_TEXT = "^([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee])$"


def _errors(schema: dict[str, Any], value: Any) -> list[dict[str, Any]]:
    return [v.to_json() for v in explain(schema, value)]


def _one_attribute(schema: dict[str, Any], value: Any) -> list[dict[str, Any]]:
    """Errors of ``{"x": value}`` against a map whose attribute ``x`` has ``schema``."""
    return _errors(map_schema({"x": schema}, additional=True), {"x": value})


# Each failing keyword, a value that fails it, and the error type mParticle's reference validator gives it.
KEYWORD_CASES: list[tuple[str, dict[str, Any], Any, str]] = [
    ("type", {"type": "number"}, "blue", "invalid_value"),
    ("const", {"const": "gold"}, "silver", "invalid_value"),
    ("enum", {"enum": ["two seater", "three seater"]}, "one seater", "invalid_value"),
    ("minimum", {"type": "number", "minimum": 0}, -1, "invalid_value"),
    ("maximum", {"type": "number", "maximum": 100}, 101, "invalid_value"),
    ("exclusiveMinimum", {"type": "number", "exclusiveMinimum": 0}, 0, "invalid_value"),
    ("exclusiveMaximum", {"type": "number", "exclusiveMaximum": 10}, 10, "invalid_value"),
    ("multipleOf", {"type": "number", "multipleOf": 5}, 12, "invalid_value"),
    ("minLength", {"type": "string", "minLength": 3}, "ab", "invalid_value"),
    ("maxLength", {"type": "string", "maxLength": 3}, "abcd", "invalid_value"),
    ("pattern", {"type": "string", "pattern": "^[a-zA-Z0-9_]*$"}, "not ok!", "invalid_value"),
    ("format", {"type": "string", "format": "email"}, "nobody", "invalid_value"),
    ("maxItems", {"type": "array", "maxItems": 1}, ["a", "b"], "unknown"),
    ("minItems", {"type": "array", "minItems": 2}, ["a"], "unknown"),
    ("uniqueItems", {"type": "array", "uniqueItems": True}, ["a", "a"], "unknown"),
    ("maxProperties", {"type": "object", "maxProperties": 1}, {"a": 1, "b": 2}, "unknown"),
    ("minProperties", {"type": "object", "minProperties": 1}, {}, "unknown"),
]


@pytest.mark.parametrize(
    ("keyword", "schema", "value", "error_type"),
    KEYWORD_CASES,
    ids=[case[0] for case in KEYWORD_CASES],
)
def test_each_keyword_has_its_error_type(
    keyword: str, schema: dict[str, Any], value: Any, error_type: str
) -> None:
    (error,) = _one_attribute(schema, value)

    assert error["schema_keyword"] == keyword
    assert error["validation_error_type"] == error_type
    assert error["error_pointer"] == "#/x"


def test_an_unplanned_attribute_is_unplanned_and_named() -> None:
    (error,) = _errors(map_schema({"color": {"type": "string"}}), {"color": "red", "size": "L"})

    assert error == {
        "validation_error_type": "unplanned",
        "key": "size",
        "error_pointer": "#/size",
        "expected": None,
        "actual": "size",
        "schema_keyword": "additionalProperties",
    }


def test_an_extra_array_item_is_unplanned() -> None:
    schema = {"type": "array", "items": [{"type": "string"}], "additionalItems": False}

    (error,) = _one_attribute(schema, ["a", "b"])

    assert error["validation_error_type"] == "unplanned"
    assert error["schema_keyword"] == "additionalItems"
    assert error["error_pointer"] == "#/x/1"


def test_a_missing_required_attribute_names_what_is_expected() -> None:
    (error,) = _errors(map_schema({"plan": {"type": "string"}}, required=("plan",)), {})

    assert error == {
        "validation_error_type": "missing_required",
        "key": "plan",
        "error_pointer": "#",
        "expected": "plan",
        "actual": None,
        "schema_keyword": "required",
    }


def test_an_invalid_value_says_what_was_expected_and_what_came() -> None:
    (error,) = _one_attribute({"type": "string", "enum": ["red", "green"]}, "blue")

    assert error["expected"] == ["red", "green"]
    assert error["actual"] == "blue"
    assert error["key"] == "x"


def test_a_wrong_type_reports_the_types() -> None:
    (error,) = _one_attribute({"type": "number"}, {"nested": 1})

    assert (error["expected"], error["actual"]) == ("number", "object")


@pytest.mark.parametrize(
    ("keyword", "error_type"),
    [
        ("additionalProperties", "unplanned"),
        ("additionalItems", "unplanned"),
        ("required", "missing_required"),
        ("dependencies", "missing_required"),
        ("patternProperties", "invalid_value"),
        ("type", "invalid_value"),
        ("maxItems", "unknown"),
        ("contains", "unknown"),
        ("propertyNames", "unknown"),
    ],
)
def test_the_keyword_mapping_of_the_reference_validator(keyword: str, error_type: str) -> None:
    assert error_type_of(keyword) == error_type


# ---- leniency: 42 is "42", true is "true" ----


@pytest.mark.parametrize(
    ("schema", "value"),
    [
        ({"type": "number"}, "42"),
        ({"type": "number"}, "-0.5"),
        ({"type": "number"}, "1e5"),
        ({"type": "integer"}, "7"),
        ({"type": "string"}, 42),
        ({"type": "string"}, 4.5),
        ({"type": "string"}, True),
        ({"type": "boolean"}, "true"),
        ({"type": "boolean"}, "FALSE"),
        ({"type": "string", "pattern": NUMBER_TEXT}, 42),
        ({"type": "string", "pattern": NUMBER_TEXT}, -3.25),
        ({"type": "string", "pattern": BOOLEAN_TEXT}, True),
        ({"type": "string", "pattern": r"^\d+$"}, 42),
        ({"type": "string", "maxLength": 2}, 42),
        ({"enum": [1, 2, 3]}, "2"),
        ({"enum": ["1", "2"]}, 2),
        ({"enum": [True]}, "true"),
        ({"enum": ["true"]}, True),
        ({"const": 42}, "42"),
        ({"type": "number", "minimum": 0, "maximum": 100}, "50"),
        ({"type": "number", "enum": [1, 2]}, "1.0"),
    ],
)
def test_strings_numbers_and_booleans_are_interchangeable(schema: dict[str, Any], value: Any) -> None:
    assert _one_attribute(schema, value) == []


@pytest.mark.parametrize(
    ("schema", "value", "keyword"),
    [
        ({"type": "number"}, "forty-two", "type"),
        ({"type": "number"}, "0x10", "type"),
        ({"type": "integer"}, "4.5", "type"),
        ({"type": "boolean"}, "yes", "type"),
        ({"type": "boolean"}, 1, "type"),
        ({"type": "number", "maximum": 100}, "150", "maximum"),
        ({"type": "string", "pattern": r"^\d+$"}, 4.5, "pattern"),
        ({"enum": [True]}, 1, "enum"),
        ({"type": "string", "enum": ["red"]}, "Red", "enum"),
    ],
)
def test_leniency_does_not_accept_a_different_value(schema: dict[str, Any], value: Any, keyword: str) -> None:
    assert [e["schema_keyword"] for e in _one_attribute(schema, value)] == [keyword]


# ---- nulls ----


def test_a_null_never_violates() -> None:
    schema = {"type": "number", "minimum": 5, "enum": [5, 6]}

    assert explain(schema, None) == []
    assert _one_attribute(schema, None) == []
    assert _errors(map_schema({}), {"unplanned_but_null": None}) == []
    assert _one_attribute({"type": "array", "items": {"type": "string"}}, ["a", None]) == []


# ---- every violation, where it is ----


def test_every_violation_is_reported_not_just_the_first() -> None:
    schema = map_schema(
        {
            "color": {"type": "string", "enum": ["red", "green"]},
            "score": {"type": "number", "minimum": 0, "maximum": 100},
            "code": {"type": "string", "pattern": "^[A-Z]+$", "maxLength": 3},
        },
        required=("plan",),
    )
    value = {"color": "blue", "score": 101, "code": "abcd", "extra": 1}

    found = {(e["schema_keyword"], e["error_pointer"]) for e in _errors(schema, value)}

    assert found == {
        ("required", "#"),
        ("enum", "#/color"),
        ("maximum", "#/score"),
        ("pattern", "#/code"),
        ("maxLength", "#/code"),
        ("additionalProperties", "#/extra"),
    }


def test_event_attributes_are_pointed_at_under_data_custom_attributes() -> None:
    schema = attributes_schema({"foo": {"type": "number"}, "bar": {"type": "string"}})
    event = {
        "event_type": "custom_event",
        "data": {"event_name": "Purchase", "custom_attributes": {"foo": "x", "bar": "ok", "baz": 1}},
    }

    errors = _errors(schema, event)

    assert [(e["error_pointer"], e["key"]) for e in errors] == [
        ("#/data/custom_attributes/foo", "foo"),
        ("#/data/custom_attributes/baz", "baz"),
    ]
    assert [e["validation_error_type"] for e in errors] == ["invalid_value", "unplanned"]


def test_missing_custom_attributes_point_at_data() -> None:
    schema = attributes_schema({"foo": {"type": "string"}}, required=("foo",))

    (error,) = _errors(schema, {"event_type": "custom_event", "data": {"event_name": "Purchase"}})

    assert (error["error_pointer"], error["key"], error["schema_keyword"]) == (
        "#/data",
        "custom_attributes",
        "required",
    )


def test_array_items_are_pointed_at_by_index() -> None:
    errors = _one_attribute({"type": "array", "items": {"type": "number"}}, [1, "two", 3, "four"])

    assert [e["error_pointer"] for e in errors] == ["#/x/1", "#/x/3"]


@pytest.mark.parametrize(
    ("format_name", "good", "bad"),
    [
        ("email", "ada@example.com", "ada.example.com"),
        ("date", "2024-02-29", "2023-02-29"),
        ("date-time", "2024-01-02T03:04:05Z", "2024-01-02"),
        ("time", "10:20:30", "25:00:00"),
        ("uri", "https://example.com/a", "not a uri"),
        ("ipv4", "10.0.0.1", "10.0.0.256"),
        ("ipv6", "::1", "10.0.0.1"),
        ("uuid", "123e4567-e89b-12d3-a456-426614174000", "123e4567"),
        ("hostname", "example.com", "-bad-.com"),
    ],
)
def test_formats(format_name: str, good: str, bad: str) -> None:
    schema = {"type": "string", "format": format_name}

    assert _one_attribute(schema, good) == []
    assert [e["schema_keyword"] for e in _one_attribute(schema, bad)] == ["format"]


def test_violation_json_is_mparticles_validation_error() -> None:
    violation = Violation("maximum", "#/data/custom_attributes/score", "score", 100, 101)

    assert violation.to_json() == {
        "validation_error_type": "invalid_value",
        "key": "score",
        "error_pointer": "#/data/custom_attributes/score",
        "expected": 100,
        "actual": 101,
        "schema_keyword": "maximum",
    }


def test_a_trailing_newline_does_not_satisfy_an_anchored_pattern() -> None:
    assert [
        e["schema_keyword"] for e in _one_attribute({"type": "string", "pattern": "^[a-z]+$"}, "abc\n")
    ] == ["pattern"]


def test_an_overflowing_number_against_multiple_of_is_a_violation_not_a_crash() -> None:
    errors = _one_attribute({"type": "number", "multipleOf": 3}, "1e400")

    assert errors
    assert {e["validation_error_type"] for e in errors} == {"invalid_value"}


# ---- property: data the strict validator accepts is never explained as a violation ----

NAMES = ("color", "score", "count", "vip", "code", "born", "email", "tags", "other")

FIXED_SCHEMAS: list[dict[str, Any]] = [
    map_schema(
        {
            "color": {"type": "string", "enum": ["red", "green", "1"]},
            "score": {"type": "number", "minimum": 0, "maximum": 100},
            "count": {"type": "integer", "multipleOf": 2},
            "vip": {"type": "boolean"},
        },
    ),
    map_schema(
        {
            "score": {"type": "string", "pattern": NUMBER_TEXT},
            "vip": {"type": "string", "pattern": BOOLEAN_TEXT},
            "born": {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"},
            "email": {"type": "string", "format": "email"},
            "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
        },
        additional=True,
    ),
    map_schema(
        {
            "code": {"type": "string", "minLength": 1, "maxLength": 4, "pattern": "^[a-z0-9]*$"},
            "score": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 10},
            "count": {"const": 3},
            "vip": {"enum": [True, "maybe"]},
        }
    ),
    {"type": "object", "additionalProperties": {"type": ["number", "boolean"]}, "maxProperties": 3},
    {"type": "object", "minProperties": 1, "properties": {"tags": {"type": "array", "uniqueItems": True}}},
]

scalars = st.one_of(
    st.text(max_size=6),
    st.sampled_from(["red", "1", "2", "true", "False", "2024-01-31", "a@b.co", "-1.5e2", "abc", ""]),
    st.integers(min_value=-5, max_value=120),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.booleans(),
)
values = st.one_of(scalars, st.lists(scalars, max_size=3), st.none())


def attribute_maps(schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Flat attribute maps, mostly keyed by the names the schema plans."""
    planned = sorted(schema.get("properties") or ()) or list(NAMES)
    names = st.one_of(
        st.sampled_from(planned), st.sampled_from(planned), st.sampled_from(NAMES), st.text(max_size=3)
    )
    return st.dictionaries(names, values, max_size=5)


def _strict_accepts(schema: dict[str, Any], value: Any) -> bool:
    try:
        compile_schema(schema)(value)
    except fastjsonschema.JsonSchemaValueException:
        return False
    return True


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), schema=st.sampled_from(FIXED_SCHEMAS))
def test_what_the_strict_validator_accepts_explain_never_flags(
    data: st.DataObject, schema: dict[str, Any]
) -> None:
    attributes = data.draw(attribute_maps(schema))
    # The validator strips null attributes before validating (spec §1.3): strictness is judged without them.
    without_nulls = {k: v for k, v in attributes.items() if v is not None}

    if _strict_accepts(schema, without_nulls):
        assert explain(schema, attributes) == []
