"""Builders of data plan documents as mParticle's tools export them (spec §1.1–1.3).

Everything returns plain JSON-able dicts, so the same builders serve unit tests (through ``parse_document``)
and API tests (as request bodies).
"""

from __future__ import annotations

from typing import Any

from fermion.plans.model import MATCH_TYPES, Blocking, PlanVersion, parse_document


def attributes_schema(
    properties: dict[str, Any] | None = None,
    *,
    required: tuple[str, ...] = (),
    additional: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    """An event schema constraining ``data.custom_attributes`` (the layout of spec §1.3).

    ``additional=False`` is the UI's "Disallow additional attributes": unplanned attributes are violations.
    """
    custom_attributes: dict[str, Any] = {
        "additionalProperties": additional,
        "properties": properties or {},
        "required": list(required),
        "type": "object",
        **extra,
    }
    data: dict[str, Any] = {
        "additionalProperties": True,
        "properties": {"custom_attributes": custom_attributes},
        "type": "object",
    }
    if required:
        data["required"] = ["custom_attributes"]
    return {"properties": {"data": data}}


def map_schema(
    properties: dict[str, Any] | None = None,
    *,
    required: tuple[str, ...] = (),
    additional: bool = False,
) -> dict[str, Any]:
    """A schema for a flat map keyed by name: user attributes or user identities."""
    schema: dict[str, Any] = {
        "additionalProperties": additional,
        "properties": properties or {},
        "type": "object",
    }
    if required:
        schema["required"] = list(required)
    return schema


def data_point(
    match_type: str,
    criteria: dict[str, Any] | None = None,
    schema: dict[str, Any] | None = None,
    description: str = "",
) -> dict[str, Any]:
    """One data point: match criteria plus a ``json_schema`` validator."""
    point: dict[str, Any] = {
        "match": {"type": match_type, "criteria": criteria or {}},
        "validator": {"type": "json_schema", "definition": schema if schema is not None else {}},
    }
    if description:
        point["description"] = description
    return point


def custom_event_point(
    name: str = "Purchase", event_type: str = "transaction", schema: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A custom event data point; its schema allows no custom attributes unless given."""
    return data_point(
        "custom_event",
        {"event_name": name, "custom_event_type": event_type},
        schema if schema is not None else attributes_schema(),
    )


def screen_view_point(name: str = "Home", schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """A screen view data point."""
    return data_point(
        "screen_view", {"screen_name": name}, schema if schema is not None else attributes_schema()
    )


def product_action_point(action: str = "purchase", schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """A commerce data point matching one product action."""
    return data_point("product_action", {"action": action}, schema if schema is not None else {})


def promotion_action_point(action: str = "view", schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """A commerce data point matching one promotion action."""
    return data_point("promotion_action", {"action": action}, schema if schema is not None else {})


def product_impression_point(schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """The one data point of all product impression events."""
    return data_point("product_impression", {}, schema if schema is not None else {})


def user_attributes_point(
    properties: dict[str, Any] | None = None, *, required: tuple[str, ...] = (), additional: bool = False
) -> dict[str, Any]:
    """The data point validating a batch's ``user_attributes`` map."""
    return data_point("user_attributes", {}, map_schema(properties, required=required, additional=additional))


def user_identities_point(
    properties: dict[str, Any] | None = None, *, required: tuple[str, ...] = (), additional: bool = False
) -> dict[str, Any]:
    """The data point validating identities, keyed by the names plans use (``customerid``, ``ios_idfa``…)."""
    return data_point("user_identities", {}, map_schema(properties, required=required, additional=additional))


def version_document(*points: dict[str, Any], settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """A version document holding ``points``."""
    document: dict[str, Any] = {"data_points": list(points)}
    if settings is not None:
        document["settings"] = settings
    return document


# Criteria of the match types that need them; every other type matches on its name alone (spec §1.2).
EXAMPLE_CRITERIA: dict[str, dict[str, str]] = {
    "custom_event": {"event_name": "Purchase", "custom_event_type": "transaction"},
    "screen_view": {"screen_name": "Home"},
    "product_action": {"action": "add_to_cart"},
    "promotion_action": {"action": "click"},
    "application_state_transition": {"application_transition_type": "application_initialized"},
}


def every_match_type_document() -> dict[str, Any]:
    """A version document with one data point of every match type the OAS and the TypeScript model list."""
    number = {"type": "string", "pattern": r"^-?\d+(\.\d+)?([eE][+\-]?\d+)?$"}
    points = [
        custom_event_point(
            "Purchase",
            "transaction",
            attributes_schema(
                {
                    "seats": {"type": "string", "enum": ["two seater", "three seater"]},
                    "code": {"type": "string", "pattern": "^[a-zA-Z0-9_]*$"},
                    "score": {"type": "number", "minimum": 0, "maximum": 100},
                    "gift": {"type": "boolean"},
                },
                required=("seats",),
            ),
        ),
        screen_view_point("Home"),
        product_action_point(
            "add_to_cart",
            {
                "properties": {
                    "data": {
                        "properties": {
                            "product_action": {
                                "properties": {
                                    "action": {"const": "add_to_cart"},
                                    "products": {"type": "array", "items": {"type": "object"}},
                                },
                                "required": ["action"],
                            }
                        }
                    }
                }
            },
        ),
        promotion_action_point("click"),
        product_impression_point(
            {"properties": {"data": {"properties": {"product_impressions": {"type": "array"}}}}}
        ),
        user_attributes_point(
            {
                "age": number,
                "vip": {"type": "string", "pattern": "^([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee])$"},
                "birthday": {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"},
                "interests": {"type": "array", "items": {"type": "string"}},
            }
        ),
        user_identities_point(
            {
                "customerid": {"type": "string"},
                "email": {"type": "string", "format": "email"},
                "ios_idfa": {"type": "string"},
            },
            additional=True,
        ),
    ]
    covered = {p["match"]["type"] for p in points}
    for match_type in MATCH_TYPES:
        if match_type not in covered:
            points.append(
                data_point(match_type, EXAMPLE_CRITERIA.get(match_type, {}), {}, f"every {match_type}")
            )
    return version_document(*points)


def plan_version(
    *points: dict[str, Any],
    blocking: Blocking | None = None,
    plan_id: str = "mobile_data_plan",
    version: int = 1,
    environment: str = "production",
) -> PlanVersion:
    """A ``PlanVersion`` whose data points are ``points``, parsed as a write would parse them."""
    document = version_document(*points)
    return PlanVersion(
        workspace_id=1,
        data_plan_id=plan_id,
        version=version,
        description="",
        activated_environment=environment,
        document=document,
        blocking=blocking or Blocking(),
        created_ms=0,
        created_by="test",
        modified_ms=0,
        modified_by="test",
        data_points=parse_document(document),
    )
