"""Plan documents as a user writes them: what is accepted, and where a refusal points."""

from __future__ import annotations

from typing import Any

import pytest

from fermion.errors import BadRequest
from fermion.plans.model import (
    MATCH_TYPES,
    Blocking,
    parse_blocking,
    parse_data_point,
    parse_document,
    parse_environment,
    parse_version_number,
)
from tests.plans.plan_fixtures import (
    attributes_schema,
    custom_event_point,
    data_point,
    every_match_type_document,
    plan_version,
    product_impression_point,
    screen_view_point,
    version_document,
)


def _refusal(raw: Any) -> str:
    with pytest.raises(BadRequest) as caught:
        parse_document(raw)
    return str(caught.value)


def test_a_document_with_every_match_type_parses_in_order() -> None:
    document = every_match_type_document()

    points = parse_document(document)

    assert [p.match_type for p in points] == [p["match"]["type"] for p in document["data_points"]]
    assert {p.match_type for p in points} == set(MATCH_TYPES)
    assert {"session_start", "breadcrumb", "application_state_transition"} <= {p.match_type for p in points}


def test_parsed_points_keep_criteria_schema_and_description() -> None:
    by_type = {p.match_type: p for p in parse_document(every_match_type_document())}

    assert by_type["custom_event"].criteria == {"event_name": "Purchase", "custom_event_type": "transaction"}
    assert by_type["screen_view"].criteria == {"screen_name": "Home"}
    assert by_type["product_action"].criteria == {"action": "add_to_cart"}
    assert by_type["promotion_action"].criteria == {"action": "click"}
    assert by_type["application_state_transition"].criteria == {
        "application_transition_type": "application_initialized"
    }
    assert by_type["product_impression"].criteria == {}
    assert by_type["user_attributes"].schema["properties"]["age"]["type"] == "string"
    assert by_type["breadcrumb"].description == "every breadcrumb"


def test_match_json_is_the_match_object_of_validation_results() -> None:
    point = parse_data_point(custom_event_point("Sign Up", "user_preference"), "p")

    assert point.match_json() == {
        "type": "custom_event",
        "criteria": {"event_name": "Sign Up", "custom_event_type": "user_preference"},
    }


def test_the_misspelt_identity_change_type_of_mparticles_model_is_accepted() -> None:
    (point,) = parse_document(version_document(data_point("user_identity_chagne")))

    assert point.match_type == "user_identity_chagne"


def test_an_empty_document_has_no_points() -> None:
    assert parse_document({}) == ()
    assert parse_document(version_document()) == ()


def _point_with_schema(schema: dict[str, Any]) -> dict[str, Any]:
    return product_impression_point(schema)


BAD_POINTS: list[tuple[str, Any, str]] = [
    (
        "unknown match type",
        data_point("custom", {}),
        "version_document.data_points[1].match.type: unknown match type 'custom'",
    ),
    (
        "match without type",
        {"match": {"criteria": {}}, "validator": {"type": "json_schema", "definition": {}}},
        "version_document.data_points[1].match.type: ",
    ),
    (
        "no match at all",
        {"validator": {"type": "json_schema", "definition": {}}},
        "version_document.data_points[1].match: ",
    ),
    (
        "custom event without criteria",
        {"match": {"type": "custom_event"}, "validator": {"type": "json_schema", "definition": {}}},
        "version_document.data_points[1].match.criteria.event_name: required for match type custom_event",
    ),
    (
        "custom event without its type",
        data_point("custom_event", {"event_name": "Purchase"}),
        "version_document.data_points[1].match.criteria.custom_event_type: required",
    ),
    (
        "bad custom event type",
        data_point("custom_event", {"event_name": "Purchase", "custom_event_type": "shopping"}),
        "version_document.data_points[1].match.criteria.custom_event_type: 'shopping' is not one of",
    ),
    (
        "screen view with an empty name",
        data_point("screen_view", {"screen_name": ""}),
        "version_document.data_points[1].match.criteria.screen_name: required",
    ),
    (
        "unknown product action",
        data_point("product_action", {"action": "buy"}),
        "version_document.data_points[1].match.criteria.action: 'buy' is not one of",
    ),
    (
        "unknown promotion action",
        data_point("promotion_action", {"action": "purchase"}),
        "version_document.data_points[1].match.criteria.action: 'purchase' is not one of",
    ),
    (
        "criteria not an object",
        {"match": {"type": "screen_view", "criteria": "Home"}, "validator": {"type": "json_schema"}},
        "version_document.data_points[1].match.criteria: must be an object",
    ),
    (
        "validator missing",
        {"match": {"type": "product_impression", "criteria": {}}},
        "version_document.data_points[1].validator: ",
    ),
    (
        "validator type not json_schema",
        {
            "match": {"type": "product_impression", "criteria": {}},
            "validator": {"type": "xml_schema", "definition": {}},
        },
        "version_document.data_points[1].validator.type: must be `json_schema`",
    ),
    (
        "definition missing",
        {"match": {"type": "product_impression", "criteria": {}}, "validator": {"type": "json_schema"}},
        "version_document.data_points[1].validator.definition: ",
    ),
    (
        "anyOf at the top",
        _point_with_schema({"anyOf": [{"type": "object"}]}),
        "version_document.data_points[1].validator.definition.anyOf: ",
    ),
    (
        "$ref inside an attribute",
        _point_with_schema(attributes_schema({"color": {"$ref": "#/definitions/color"}})),
        "version_document.data_points[1].validator.definition.properties.data.properties"
        ".custom_attributes.properties.color.$ref: ",
    ),
    (
        "oneOf inside array items",
        _point_with_schema({"properties": {"data": {"items": {"oneOf": []}}}}),
        "version_document.data_points[1].validator.definition.properties.data.items.oneOf: ",
    ),
    (
        "patternProperties",
        _point_with_schema({"patternProperties": {"^x": {}}}),
        "version_document.data_points[1].validator.definition.patternProperties: ",
    ),
    (
        "if/then",
        _point_with_schema({"properties": {"data": {"if": {}, "then": {}}}}),
        "version_document.data_points[1].validator.definition.properties.data.if: ",
    ),
    (
        "misspelt type",
        _point_with_schema(attributes_schema({"color": {"type": "strng"}})),
        "version_document.data_points[1].validator.definition.properties.data.properties"
        ".custom_attributes.properties.color.type: 'strng' is not a JSON Schema type",
    ),
    (
        "bad regular expression",
        _point_with_schema(attributes_schema({"code": {"type": "string", "pattern": "^([a-z]$"}})),
        "version_document.data_points[1].validator.definition.properties.data.properties"
        ".custom_attributes.properties.code.pattern: not a valid regular expression",
    ),
    (
        "required not a list",
        _point_with_schema({"required": "custom_attributes"}),
        "version_document.data_points[1].validator.definition.required: must be an array",
    ),
    (
        "enum not a list",
        _point_with_schema(attributes_schema({"size": {"enum": "small"}})),
        "version_document.data_points[1].validator.definition.properties.data.properties"
        ".custom_attributes.properties.size.enum: must be an array",
    ),
    (
        "minimum not a number",
        _point_with_schema(attributes_schema({"score": {"type": "number", "minimum": "0"}})),
        "version_document.data_points[1].validator.definition.properties.data.properties"
        ".custom_attributes.properties.score.minimum: must be a number",
    ),
    (
        "additionalProperties as text",
        _point_with_schema({"additionalProperties": "false"}),
        "version_document.data_points[1].validator.definition.additionalProperties: a schema must be",
    ),
    (
        "a bare type name instead of a schema",
        _point_with_schema(attributes_schema({"color": "string"})),
        "version_document.data_points[1].validator.definition.properties.data.properties"
        ".custom_attributes.properties.color: a schema must be an object",
    ),
    (
        "description not text",
        {**screen_view_point(), "description": 7},
        "version_document.data_points[1].description: must be a string",
    ),
    (
        "data point not an object",
        "screen_view",
        "version_document.data_points[1]: ",
    ),
]


@pytest.mark.parametrize(
    ("bad_point", "message"),
    [pytest.param(point, message, id=name) for name, point, message in BAD_POINTS],
)
def test_a_bad_data_point_is_refused_with_its_path(bad_point: Any, message: str) -> None:
    document = version_document(screen_view_point(), bad_point, screen_view_point("Checkout"))

    assert _refusal(document).startswith(message)


def test_a_data_point_alone_is_refused_with_the_path_it_was_given() -> None:
    with pytest.raises(BadRequest) as caught:
        parse_data_point(data_point("custom", {}), "document.data_points[4]")

    assert str(caught.value).startswith("document.data_points[4].match.type: ")


def test_the_first_bad_point_is_the_one_reported() -> None:
    document = version_document(screen_view_point(), data_point("nope"), data_point("also_nope"))

    assert _refusal(document).startswith("version_document.data_points[1].match.type: ")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (["not", "a", "document"], "version_document: "),
        ({"data_points": {"0": {}}}, "version_document.data_points: must be an array"),
        ({"data_points": [], "settings": "strict"}, "version_document.settings: must be an object"),
        ({"data_points": [], "transformations": []}, "version_document.transformations: must be an object"),
    ],
)
def test_a_malformed_document_is_refused_with_its_path(document: Any, message: str) -> None:
    assert _refusal(document).startswith(message)


def test_a_plan_of_1000_points_is_accepted() -> None:
    points = [screen_view_point(f"Screen {n}") for n in range(1000)]

    assert len(parse_document(version_document(*points))) == 1000


def test_more_than_1000_points_get_mparticles_message() -> None:
    points = [screen_view_point(f"Screen {n}") for n in range(1001)]

    assert _refusal(version_document(*points)) == "Data plan exceeds maximum of 1000 with 1001 data points."


@pytest.mark.parametrize("keyword", ["contains", "propertyNames"])
def test_unsupported_keywords_are_refused_under_any_subschema(keyword: str) -> None:
    document = version_document(
        _point_with_schema({"properties": {"data": {keyword: {"anyOf": [{"type": "string"}]}}}})
    )

    assert _refusal(document).startswith(
        f"version_document.data_points[0].validator.definition.properties.data.{keyword}.anyOf: "
    )


@pytest.mark.parametrize(("keyword", "value"), [("maxLength", -1), ("minItems", 1.5)])
def test_a_length_keyword_must_be_a_non_negative_integer(keyword: str, value: float) -> None:
    document = version_document(
        _point_with_schema(attributes_schema({"code": {"type": "string", keyword: value}}))
    )

    assert _refusal(document).startswith(
        "version_document.data_points[0].validator.definition.properties.data.properties"
        f".custom_attributes.properties.code.{keyword}: "
    )


# ---- blocking ----


def test_the_blocking_object_sets_each_switch() -> None:
    blocking = parse_blocking({"events": True, "user_identities": True}, version_document())

    assert blocking == Blocking(events=True, user_identities=True)
    assert blocking.any()
    assert blocking.to_json() == {
        "events": True,
        "event_attributes": False,
        "user_attributes": False,
        "user_identities": True,
    }


def test_without_a_blocking_object_nothing_is_blocked() -> None:
    blocking = parse_blocking(None, version_document())

    assert blocking == Blocking()
    assert not blocking.any()


def test_validation_actions_of_an_exported_plan_set_blocking() -> None:
    settings = {
        "validation_actions": {
            "event": "drop_event",
            "event_attribute": "drop_attribute",
            "user_attribute": "drop_attribute",
        }
    }

    blocking = parse_blocking(None, version_document(settings=settings))

    assert blocking == Blocking(events=True, event_attributes=True, user_attributes=True)


def test_allow_validation_actions_block_nothing() -> None:
    settings = {
        "validation_actions": {"event": "allow", "event_attribute": "allow", "user_attribute": "allow"}
    }

    assert parse_blocking(None, version_document(settings=settings)) == Blocking()


def test_the_blocking_object_wins_over_validation_actions() -> None:
    settings = {"validation_actions": {"event": "drop_event", "user_attribute": "drop_attribute"}}

    blocking = parse_blocking({"event_attributes": True}, version_document(settings=settings))

    assert blocking == Blocking(event_attributes=True)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"evnts": True}, "blocking.evnts: unknown switch"),
        ({"events": "yes"}, "blocking.events: must be true or false"),
        ({"events": 1}, "blocking.events: must be true or false"),
        ([True], "blocking: must be an object"),
    ],
)
def test_a_bad_blocking_object_is_refused_with_its_path(raw: Any, message: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_blocking(raw, version_document())

    assert str(caught.value).startswith(message)


def test_validation_actions_that_are_not_an_object_are_refused() -> None:
    document = version_document(settings={"validation_actions": ["drop_event"]})

    with pytest.raises(BadRequest) as caught:
        parse_blocking(None, document)

    assert str(caught.value).startswith("version_document.settings.validation_actions: ")


# ---- environment and version number ----


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(None, "none"), ("none", "none"), ("development", "development"), ("production", "production")],
)
def test_environments(raw: Any, expected: str) -> None:
    assert parse_environment(raw) == expected


@pytest.mark.parametrize("raw", ["prod", "Production", "", 1, ["production"]])
def test_an_unknown_environment_is_refused(raw: Any) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_environment(raw)

    assert str(caught.value).startswith("activated_environment: ")


def test_an_environment_error_names_the_given_path() -> None:
    with pytest.raises(BadRequest) as caught:
        parse_environment("staging", "data_plan_versions[2].activated_environment")

    assert str(caught.value).startswith("data_plan_versions[2].activated_environment: 'staging'")


@pytest.mark.parametrize("raw", [1, 2, 2_147_483_647])
def test_version_numbers(raw: int) -> None:
    assert parse_version_number(raw) == raw


@pytest.mark.parametrize("raw", [0, -1, 2_147_483_648, True, "2", 1.0, None])
def test_a_bad_version_number_is_refused(raw: Any) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_version_number(raw)

    assert str(caught.value).startswith("version: must be a positive integer")


@pytest.mark.parametrize(
    ("activated", "environment", "active"),
    [
        ("production", "production", True),
        ("production", "development", True),
        ("development", "development", True),
        ("development", "production", False),
        ("none", "development", False),
        ("none", "production", False),
    ],
)
def test_production_activation_covers_development_too(activated: str, environment: str, active: bool) -> None:
    assert plan_version(environment=activated).active_in(environment) is active


def test_a_document_of_10_mb_or_more_is_refused() -> None:
    with pytest.raises(BadRequest, match=r"^version_document: a plan document must be smaller than 10 MB"):
        parse_document({"data_points": [], "settings": {"note": "x" * 10_000_000}})
