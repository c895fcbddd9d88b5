"""A compiled plan version checking batches: mParticle's validation results, verdicts, and blocking."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fermion.plans.model import Blocking, PlanVersion
from fermion.plans.validator import INVALID, VALID, CompiledVersion, Verdict
from fermion.schema import Batch, encode_batch
from tests.factories import make_event
from tests.plans.batches import commerce_event, custom_event, decoded, event_ids, screen_view
from tests.plans.plan_fixtures import (
    attributes_schema,
    custom_event_point,
    data_point,
    plan_version,
    product_action_point,
    product_impression_point,
    promotion_action_point,
    screen_view_point,
    user_attributes_point,
    user_identities_point,
)

NUMBER_TEXT = r"^-?\d+(\.\d+)?([eE][+\-]?\d+)?$"


def _purchase_point(**extra: Any) -> dict[str, Any]:
    """Purchase (transaction): a required seat choice, a score, and no other attributes."""
    return custom_event_point(
        "Purchase",
        "transaction",
        attributes_schema(
            {
                "seats": {"type": "string", "enum": ["two seater", "three seater"]},
                "score": {"type": "number", "minimum": 0, "maximum": 100},
            },
            required=("seats",),
            **extra,
        ),
    )


def _check(version: PlanVersion, batch: Batch) -> Verdict:
    return CompiledVersion(version).check(batch, event_ids(batch))


def _errors(verdict: Verdict) -> list[dict[str, Any]]:
    return [e for r in verdict.results for e in r["data"]["validation_errors"]]


def _error_types(verdict: Verdict) -> list[str]:
    return [e["validation_error_type"] for e in _errors(verdict)]


def _purchase(**attributes: Any) -> dict[str, Any]:
    return custom_event("Purchase", "transaction", **attributes)


# ---- one batch per validation error type ----


def test_a_planned_valid_event_produces_no_result() -> None:
    verdict = _check(plan_version(_purchase_point()), decoded([_purchase(seats="two seater", score=50)]))

    assert verdict.results == []
    assert verdict.status == VALID
    assert verdict.error_count == 0
    assert (verdict.plan_id, verdict.plan_version) == ("mobile_data_plan", 1)


def test_an_unplanned_event_gets_one_unplanned_error_and_a_synthesized_match() -> None:
    batch = decoded([_purchase(seats="two seater"), custom_event("Browse", "navigation", page="home")])

    verdict = _check(plan_version(_purchase_point()), batch)

    assert verdict.status == INVALID
    assert verdict.results == [
        {
            "event_type": "validation_result",
            "data": {
                "match": {
                    "type": "custom_event",
                    "criteria": {"event_name": "Browse", "custom_event_type": "navigation"},
                },
                "validation_errors": [
                    {
                        "validation_error_type": "unplanned",
                        "key": "Browse",
                        "error_pointer": "#",
                        "expected": None,
                        "actual": "Browse",
                        "schema_keyword": None,
                    }
                ],
                "validated_event_id": "event-1",
            },
        }
    ]


def test_a_planned_name_with_another_custom_event_type_is_unplanned() -> None:
    verdict = _check(plan_version(_purchase_point()), decoded([custom_event("Purchase", "other")]))

    assert _error_types(verdict) == ["unplanned"]
    assert verdict.results[0]["data"]["match"]["criteria"]["custom_event_type"] == "other"


def test_a_missing_required_attribute_is_missing_required_only() -> None:
    verdict = _check(plan_version(_purchase_point()), decoded([_purchase(score=10)]))

    assert _error_types(verdict) == ["missing_required"]
    (error,) = _errors(verdict)
    assert (error["key"], error["expected"], error["error_pointer"]) == (
        "seats",
        "seats",
        "#/data/custom_attributes",
    )
    assert verdict.results[0]["data"]["match"] == {
        "type": "custom_event",
        "criteria": {"event_name": "Purchase", "custom_event_type": "transaction"},
    }
    assert verdict.status == INVALID


def test_an_out_of_range_attribute_is_invalid_value_only() -> None:
    verdict = _check(plan_version(_purchase_point()), decoded([_purchase(seats="two seater", score=150)]))

    (error,) = _errors(verdict)
    assert error["validation_error_type"] == "invalid_value"
    assert (error["key"], error["schema_keyword"], error["actual"]) == ("score", "maximum", 150)
    assert error["error_pointer"] == "#/data/custom_attributes/score"


def test_a_keyword_outside_the_mapping_is_unknown_only() -> None:
    version = plan_version(_purchase_point(maxProperties=1))

    verdict = _check(version, decoded([_purchase(seats="two seater", score=1)]))

    assert _error_types(verdict) == ["unknown"]
    assert _errors(verdict)[0]["schema_keyword"] == "maxProperties"


def test_an_unplanned_attribute_is_unplanned_only() -> None:
    verdict = _check(plan_version(_purchase_point()), decoded([_purchase(seats="two seater", coupon="X1")]))

    (error,) = _errors(verdict)
    assert (error["validation_error_type"], error["key"]) == ("unplanned", "coupon")
    assert error["error_pointer"] == "#/data/custom_attributes/coupon"


def test_each_event_gets_its_own_result_with_its_id() -> None:
    batch = decoded([_purchase(seats="one seater"), _purchase(seats="two seater"), _purchase()])

    verdict = _check(plan_version(_purchase_point()), batch)

    assert [r["data"]["validated_event_id"] for r in verdict.results] == ["event-0", "event-2"]
    assert verdict.error_count == 2


def test_event_attributes_are_lenient_about_strings_and_numbers() -> None:
    verdict = _check(plan_version(_purchase_point()), decoded([_purchase(seats="two seater", score="50")]))

    assert verdict.status == VALID


def test_null_attributes_never_violate() -> None:
    batch = decoded([_purchase(seats="two seater", score=None, unplanned_but_null=None)])

    assert _check(plan_version(_purchase_point()), batch).results == []


def test_the_later_of_two_points_with_the_same_key_wins() -> None:
    loose = custom_event_point("Purchase", "transaction", attributes_schema(additional=True))
    version = plan_version(loose, _purchase_point())

    verdict = _check(version, decoded([_purchase(seats="two seater", coupon="X1")]))

    assert _error_types(verdict) == ["unplanned"]


# ---- which events are validated ----


def test_events_a_plan_cannot_plan_are_not_reported_without_a_point() -> None:
    batch = decoded([make_event("session_start"), make_event("session_end"), _purchase(seats="two seater")])

    verdict = _check(plan_version(_purchase_point()), batch)

    assert verdict.results == []
    assert verdict.status == VALID


def test_a_session_start_point_validates_session_starts() -> None:
    point = data_point("session_start", {}, attributes_schema({"source": {"type": "string"}}))
    batch = decoded([make_event("session_start", custom_attributes={"source": "push", "campaign": "x"})])

    verdict = _check(plan_version(point), batch)

    assert verdict.results[0]["data"]["match"] == {"type": "session_start", "criteria": {}}
    assert [e["key"] for e in _errors(verdict)] == ["campaign"]


def test_a_planned_screen_view_is_validated() -> None:
    point = screen_view_point(
        "Home", attributes_schema({"tab": {"type": "string", "enum": ["feed", "search"]}})
    )

    valid = _check(plan_version(point), decoded([screen_view("Home", tab="feed")]))
    invalid = _check(plan_version(point), decoded([screen_view("Home", tab="profile")]))

    assert valid.results == []
    assert _error_types(invalid) == ["invalid_value"]
    assert invalid.results[0]["data"]["match"] == {"type": "screen_view", "criteria": {"screen_name": "Home"}}


def test_an_unplanned_screen_view_is_named_by_its_screen() -> None:
    verdict = _check(plan_version(screen_view_point("Home")), decoded([screen_view("Settings")]))

    (result,) = verdict.results
    assert result["data"]["match"] == {"type": "screen_view", "criteria": {"screen_name": "Settings"}}
    assert result["data"]["validation_errors"][0]["key"] == "Settings"
    assert result["data"]["validation_errors"][0]["validation_error_type"] == "unplanned"


# ---- commerce: product action, then promotion action, then impressions ----

_NEVER = {"properties": {"data": {"required": ["never_sent"]}}}


def _commerce_plan() -> PlanVersion:
    """Every commerce point flags what it matches, so the result's match tells which point was used."""
    return plan_version(
        product_action_point("purchase", _NEVER),
        promotion_action_point("view", _NEVER),
        product_impression_point(_NEVER),
    )


@pytest.mark.parametrize(
    ("event", "match"),
    [
        (
            commerce_event("purchase", "view", impressions=True),
            {"type": "product_action", "criteria": {"action": "purchase"}},
        ),
        (
            commerce_event(None, "view", impressions=True),
            {"type": "promotion_action", "criteria": {"action": "view"}},
        ),
        (commerce_event(None, None, impressions=True), {"type": "product_impression", "criteria": {}}),
    ],
    ids=["product action first", "then promotion action", "then impressions"],
)
def test_commerce_events_match_by_precedence(event: dict[str, Any], match: dict[str, Any]) -> None:
    verdict = _check(_commerce_plan(), decoded([event]))

    (result,) = verdict.results
    assert result["data"]["match"] == match
    assert _error_types(verdict) == ["missing_required"]


def test_an_unplanned_product_action_is_unplanned_even_with_planned_impressions() -> None:
    version = plan_version(product_impression_point(), promotion_action_point("view"))

    verdict = _check(version, decoded([commerce_event("add_to_cart", "view", impressions=True)]))

    (result,) = verdict.results
    assert result["data"]["match"] == {"type": "product_action", "criteria": {"action": "add_to_cart"}}
    assert _error_types(verdict) == ["unplanned"]
    assert result["data"]["validation_errors"][0]["key"] == "commerce_event"


def test_a_planned_commerce_event_with_a_valid_product_action_passes() -> None:
    schema = {
        "properties": {
            "data": {
                "properties": {
                    "product_action": {
                        "properties": {
                            "products": {
                                "type": "array",
                                "items": {"properties": {"price": {"type": "number", "minimum": 0}}},
                            }
                        },
                        "required": ["products"],
                    }
                }
            }
        }
    }
    version = plan_version(product_action_point("purchase", schema))

    assert _check(version, decoded([commerce_event("purchase")])).results == []


# ---- user attributes ----


def _profile_point() -> dict[str, Any]:
    return user_attributes_point(
        {
            "age": {"type": "string", "pattern": NUMBER_TEXT},
            "tier": {"type": "string", "enum": ["gold", "silver"]},
            "interests": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
        }
    )


def test_valid_user_attributes_produce_no_result() -> None:
    batch = decoded(user_attributes={"age": 42, "tier": "gold", "interests": ["golf"]})

    assert _check(plan_version(_profile_point()), batch).results == []


@pytest.mark.parametrize(
    ("attributes", "error_type", "key"),
    [
        ({"age": 30, "$gender": "f"}, "unplanned", "$gender"),
        ({"age": "thirty"}, "invalid_value", "age"),
        ({"interests": ["golf", "chess", "go"]}, "unknown", "interests"),
    ],
)
def test_user_attribute_errors(attributes: dict[str, Any], error_type: str, key: str) -> None:
    verdict = _check(plan_version(_profile_point()), decoded(user_attributes=attributes))

    (result,) = verdict.results
    assert result["data"]["match"] == {"type": "user_attributes", "criteria": {}}
    assert "validated_event_id" not in result["data"]
    assert [(e["validation_error_type"], e["key"]) for e in result["data"]["validation_errors"]] == [
        (error_type, key)
    ]
    assert verdict.status == INVALID


def test_a_required_user_attribute_that_is_missing() -> None:
    point = user_attributes_point({"tier": {"type": "string"}}, required=("tier",))

    verdict = _check(plan_version(point), decoded(user_attributes={"tier": None, "age": 3}))

    assert sorted(_error_types(verdict)) == ["missing_required", "unplanned"]


def test_user_attributes_are_not_validated_without_a_user_attributes_point() -> None:
    batch = decoded([_purchase(seats="two seater")], user_attributes={"anything": "goes"})

    assert _check(plan_version(_purchase_point()), batch).results == []


def test_an_empty_user_attributes_schema_is_reported_as_invalid_json_schema() -> None:
    verdict = _check(plan_version(data_point("user_attributes", {}, {})), decoded(user_attributes={"a": 1}))

    assert _errors(verdict) == [
        {
            "validation_error_type": "unknown",
            "key": "user_attributes",
            "error_pointer": "#",
            "expected": None,
            "actual": "Invalid JSON Schema",
            "schema_keyword": None,
        }
    ]


# ---- user identities: plan names (customerid, ios_idfa) against batch names ----


def _identities_point(**kwargs: Any) -> dict[str, Any]:
    return user_identities_point(
        {"customerid": {"type": "string"}, "email": {"type": "string", "format": "email"}, "ios_idfa": {}},
        **kwargs,
    )


def test_identities_named_as_in_plans_match_the_batch_names() -> None:
    batch = decoded(
        user_identities={"customer_id": "c-1", "email": "ada@example.com"},
        device_info={"ios_advertising_id": "IDFA-1"},
    )

    assert _check(plan_version(_identities_point()), batch).results == []


def test_an_unplanned_identity_is_unplanned() -> None:
    batch = decoded(user_identities={"customer_id": "c-1", "other_id_2": "o-2"})

    verdict = _check(plan_version(_identities_point()), batch)

    (result,) = verdict.results
    assert result["data"]["match"] == {"type": "user_identities", "criteria": {}}
    assert [(e["validation_error_type"], e["key"]) for e in _errors(verdict)] == [("unplanned", "other_id_2")]


def test_an_unplanned_device_identity_is_unplanned() -> None:
    batch = decoded(user_identities={"customer_id": "c-1"}, device_info={"android_advertising_id": "AAID"})

    verdict = _check(plan_version(_identities_point()), batch)

    assert [(e["validation_error_type"], e["key"]) for e in _errors(verdict)] == [
        ("unplanned", "android_aaid")
    ]


def test_an_invalid_identity_is_invalid_value() -> None:
    batch = decoded(user_identities={"customer_id": "c-1", "email": "not-an-email"})

    verdict = _check(plan_version(_identities_point()), batch)

    assert [(e["validation_error_type"], e["schema_keyword"]) for e in _errors(verdict)] == [
        ("invalid_value", "format")
    ]


def test_a_required_identity_that_is_missing() -> None:
    batch = decoded(user_identities={"email": "ada@example.com"})

    verdict = _check(plan_version(_identities_point(required=("customerid",))), batch)

    assert _error_types(verdict) == ["missing_required"]


def test_a_required_identity_given_under_the_batch_name_is_present() -> None:
    batch = decoded(user_identities={"customer_id": "c-1"})

    assert _check(plan_version(_identities_point(required=("customerid",))), batch).results == []


# ---- blocking ----


def _everything_unplanned() -> Batch:
    """A batch with one of each kind of unplanned data, and planned data beside it."""
    return decoded(
        [
            _purchase(seats="two seater", coupon="X1"),
            custom_event("Browse", "navigation"),
            screen_view("Settings"),
        ],
        user_attributes={"tier": "gold", "$gender": "f"},
        user_identities={"customer_id": "c-1", "other_id_2": "o-2"},
        device_info={"ios_advertising_id": "IDFA-1", "android_advertising_id": "AAID-1"},
    )


def _full_plan(blocking: Blocking) -> PlanVersion:
    return plan_version(
        _purchase_point(),
        user_attributes_point({"tier": {"type": "string"}}),
        user_identities_point({"customerid": {"type": "string"}, "ios_idfa": {"type": "string"}}),
        blocking=blocking,
    )


def _as_json(batch: Batch) -> dict[str, Any]:
    return msgspec.json.decode(encode_batch(batch))


def test_with_blocking_off_nothing_is_removed() -> None:
    batch = _everything_unplanned()
    before = _as_json(batch)

    verdict = _check(_full_plan(Blocking()), batch)

    assert sorted(set(_error_types(verdict))) == ["unplanned"]
    assert _as_json(batch) == before
    assert verdict.blocked_events == set()
    assert verdict.block_metadata == {}
    assert not verdict.blocked
    assert verdict.to_json()["block_metadata"] is None


def test_with_all_blocking_on_every_unplanned_thing_is_removed() -> None:
    batch = _everything_unplanned()

    verdict = _check(_full_plan(Blocking(True, True, True, True)), batch)

    assert verdict.blocked_events == {1, 2}
    assert len(batch.events or ()) == 3  # blocked events keep their places (and so their ids)
    assert batch.events is not None
    assert batch.events[0].data.custom_attributes == {"seats": "two seater"}
    assert batch.user_attributes == {"tier": "gold"}
    assert batch.user_identities is not None and batch.user_identities.customer_id == "c-1"
    assert batch.user_identities.other_id_2 is None
    assert batch.device_info is not None and batch.device_info.ios_advertising_id == "IDFA-1"
    assert batch.device_info.android_advertising_id is None
    assert verdict.block_metadata == {
        "dto_version": 1,
        "blocked_event_ids": ["event-1", "event-2"],
        "blocked_event_attributes": [
            {"event_id": "event-0", "event_attributes": ["./data/custom_attributes/coupon"]}
        ],
        "blocked_user_attributes": ["$gender"],
        "blocked_user_identities": ["other_id_2"],
        "blocked_device_identities": ["android_advertising_id"],
    }
    assert verdict.blocked
    assert verdict.status == INVALID


def test_blocked_data_is_still_reported() -> None:
    verdict = _check(_full_plan(Blocking(True, True, True, True)), _everything_unplanned())

    assert sorted(e["key"] for e in _errors(verdict)) == [
        "$gender",
        "Browse",
        "Settings",
        "android_aaid",
        "coupon",
        "other_id_2",
    ]


def _kept(batch: Batch, verdict: Verdict) -> dict[str, Any]:
    """What of the batch's unplanned data survived the check."""
    assert batch.events is not None and batch.user_identities is not None and batch.device_info is not None
    return {
        "events": sorted({0, 1, 2} - verdict.blocked_events),
        "event_attributes": "coupon" in (batch.events[0].data.custom_attributes or {}),
        "user_attributes": "$gender" in (batch.user_attributes or {}),
        "user_identities": (batch.user_identities.other_id_2, batch.device_info.android_advertising_id),
    }


NOTHING_BLOCKED = {
    "events": [0, 1, 2],
    "event_attributes": True,
    "user_attributes": True,
    "user_identities": ("o-2", "AAID-1"),
}
BLOCKED = {
    "events": [0],
    "event_attributes": False,
    "user_attributes": False,
    "user_identities": (None, None),
}
METADATA_KEYS = {
    "events": {"blocked_event_ids"},
    "event_attributes": {"blocked_event_attributes"},
    "user_attributes": {"blocked_user_attributes"},
    "user_identities": {"blocked_user_identities", "blocked_device_identities"},
}
REASONS = {
    "events": "unplanned_event",
    "event_attributes": "unplanned_event_attribute",
    "user_attributes": "unplanned_user_attribute",
    "user_identities": "unplanned_user_identity",
}


@pytest.mark.parametrize("category", ["events", "event_attributes", "user_attributes", "user_identities"])
def test_each_blocking_switch_blocks_only_its_category(category: str) -> None:
    batch = _everything_unplanned()

    verdict = _check(_full_plan(Blocking(**{category: True})), batch)

    assert _kept(batch, verdict) == {**NOTHING_BLOCKED, category: BLOCKED[category]}
    assert set(verdict.block_metadata) == {"dto_version", *METADATA_KEYS[category]}
    assert verdict.reasons == [REASONS[category]]


def test_invalid_data_is_never_blocked() -> None:
    batch = decoded(
        [_purchase(seats="one seater", score=500), _purchase(score=1)],
        user_attributes={"tier": 7.5},
        user_identities={"customer_id": "c-1"},
        device_info={"ios_advertising_id": "IDFA"},
    )
    before = _as_json(batch)
    version = plan_version(
        _purchase_point(),
        user_attributes_point({"tier": {"type": "string", "enum": ["gold"]}}),
        user_identities_point({"customerid": {"type": "string", "minLength": 5}, "ios_idfa": {}}),
        blocking=Blocking(True, True, True, True),
    )

    verdict = _check(version, batch)

    assert set(_error_types(verdict)) == {"invalid_value", "missing_required"}
    assert _as_json(batch) == before
    assert verdict.blocked_events == set()
    assert verdict.block_metadata == {}
    assert not verdict.blocked


def test_a_stripped_event_with_no_attributes_left_has_none() -> None:
    point = custom_event_point("Purchase", "transaction", attributes_schema({}))
    batch = decoded([_purchase(coupon="X1")])

    _check(plan_version(point, blocking=Blocking(event_attributes=True)), batch)

    assert batch.events is not None and not batch.events[0].data.custom_attributes


def test_an_unplanned_event_attribute_with_a_slash_in_its_name_is_blocked() -> None:
    batch = decoded([_purchase(seats="two seater", **{"utm/source": "mail"})])

    verdict = _check(plan_version(_purchase_point(), blocking=Blocking(event_attributes=True)), batch)

    assert batch.events is not None and batch.events[0].data.custom_attributes == {"seats": "two seater"}
    assert verdict.block_metadata["blocked_event_attributes"] == [
        {"event_id": "event-0", "event_attributes": ["./data/custom_attributes/utm/source"]}
    ]


def test_an_unplanned_user_attribute_with_a_slash_in_its_name_is_blocked() -> None:
    batch = decoded(user_attributes={"tier": "gold", "page/last": "/home"})
    version = plan_version(user_attributes_point({"tier": {}}), blocking=Blocking(user_attributes=True))

    verdict = _check(version, batch)

    assert batch.user_attributes == {"tier": "gold"}
    assert verdict.block_metadata["blocked_user_attributes"] == ["page/last"]


def test_an_overflowing_numeric_string_is_reported_not_a_crash() -> None:
    point = user_attributes_point({"seats": {"type": "number", "multipleOf": 2}})

    verdict = _check(plan_version(point), decoded(user_attributes={"seats": "1e400"}))

    assert _error_types(verdict) == ["invalid_value"]


# ---- property: blocking removes exactly the unplanned attributes ----

_PLANNED = ("seats", "score")
_attribute_names = st.one_of(
    st.sampled_from(_PLANNED), st.text(alphabet="abcxyz_$ .-", min_size=1, max_size=5)
)
_attribute_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-1000, max_value=1000),
    st.sampled_from(["two seater", "three seater", "150", "x", ""]),
)


@settings(max_examples=150, deadline=None)
@given(attributes=st.dictionaries(_attribute_names, _attribute_values, max_size=6))
def test_blocking_removes_exactly_the_unplanned_attributes(attributes: dict[str, Any]) -> None:
    batch = decoded([_purchase(**attributes)])
    version = plan_version(_purchase_point(), blocking=Blocking(event_attributes=True))

    verdict = _check(version, batch)

    unplanned = sorted(k for k, v in attributes.items() if k not in _PLANNED and v is not None)
    kept = {k: v for k, v in attributes.items() if k in _PLANNED or v is None}
    assert batch.events is not None
    assert (batch.events[0].data.custom_attributes or {}) == kept
    stripped = verdict.block_metadata.get("blocked_event_attributes", [])
    assert sorted(
        a.removeprefix("./data/custom_attributes/") for e in stripped for a in e["event_attributes"]
    ) == (unplanned)
    assert verdict.blocked_events == set()
