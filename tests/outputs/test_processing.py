"""Per-connection processing: data filter, sampling, forwarding rules, rules, field transformations."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fermion.errors import BadRequest
from fermion.outputs import parse_processing, process_batch, process_membership
from fermion.outputs.retry import RetryPolicy


def _batch() -> dict[str, Any]:
    return {
        "events": [
            {
                "event_type": "custom_event",
                "data": {"event_name": "Viewed", "custom_attributes": {"sku": "A1", "color": "red"}},
            },
            {
                "event_type": "custom_event",
                "data": {"event_name": "Bought", "custom_attributes": {"sku": "B2"}},
            },
            {"event_type": "screen_view", "data": {"screen_name": "Home"}},
        ],
        "user_attributes": {"tier": "gold", "$Age": 40},
        "user_identities": [{"identity_type": "email", "identity": "a@example.com"}],
    }


def _run(
    settings: dict[str, Any], consent: dict[str, Any] | None = None, mpid: int = 7
) -> dict[str, Any] | None:
    return process_batch(parse_processing(settings, "event"), 1, mpid, _batch(), consent or {})


def test_the_data_filter_is_hierarchical() -> None:
    points = [
        {"type": "EventType", "event_type": "screen_view", "enabled": False},
        {"type": "Event", "name": "Bought", "enabled": False},
        {"type": "EventAttribute", "name": "Viewed", "attribute_name": "color", "enabled": False},
        {"type": "UserAttribute", "attribute_name": "$Age", "enabled": False},
    ]
    result = _run({"data_filter": {"data_points": points}})
    assert result is not None
    assert [e["data"]["event_name"] for e in result["events"]] == ["Viewed"]
    assert result["events"][0]["data"]["custom_attributes"] == {"sku": "A1"}
    assert result["user_attributes"] == {"tier": "gold"}


def test_new_data_points_wait_until_enabled_when_the_default_is_off() -> None:
    points = [
        {"type": "EventType", "event_type": "custom_event", "enabled": True},
        {"type": "Event", "name": "Viewed", "enabled": True},
        {"type": "EventAttribute", "name": "Viewed", "attribute_name": "sku", "enabled": True},
    ]
    result = _run({"data_filter": {"send_new_data_points_by_default": False, "data_points": points}})
    assert result is not None
    assert [e["data"]["event_name"] for e in result["events"]] == ["Viewed"]
    assert result["events"][0]["data"]["custom_attributes"] == {"sku": "A1"}
    assert result["user_attributes"] == {} and result["user_identities"] == []


def test_attribute_forwarding_rules_are_exact() -> None:
    only = _run(
        {
            "forwarding_rules": [
                {"type": "attribute", "attribute_name": "sku", "value": "A1", "action": "only_forward"}
            ]
        }
    )
    assert only is not None and [e["data"]["event_name"] for e in only["events"]] == ["Viewed"]
    skip = _run(
        {
            "forwarding_rules": [
                {"type": "attribute", "attribute_name": "sku", "value": "a1", "action": "do_not_forward"}
            ]
        }
    )
    assert skip is not None and len(skip["events"]) == 3  # case-sensitive: nothing matched


@pytest.mark.parametrize(
    ("rule", "consent", "forwarded"),
    [
        ({"regulation": "ccpa", "purpose": "data_sale_opt_out", "action": "do_not_forward"}, {}, True),
        (
            {"regulation": "ccpa", "purpose": "data_sale_opt_out", "action": "do_not_forward"},
            {"ccpa": {"data_sale_opt_out": {"consented": True}}},
            False,
        ),
        ({"regulation": "gdpr", "purpose": "Marketing", "action": "only_forward"}, {}, False),
        (
            {"regulation": "gdpr", "purpose": "marketing", "action": "only_forward"},
            {"gdpr": {"marketing": {"consented": True}}},
            True,
        ),
        (
            {"regulation": "gdpr", "purpose": "marketing", "action": "only_forward", "when": "not_consented"},
            {"gdpr": {"marketing": {"consented": False}}},
            True,
        ),
    ],
)
def test_consent_rules_use_the_stored_state(
    rule: dict[str, Any], consent: dict[str, Any], forwarded: bool
) -> None:
    assert (_run({"forwarding_rules": [{"type": "consent", **rule}]}, consent) is not None) is forwarded


def test_rules_change_drop_and_fail_as_configured() -> None:
    tagged = _run({"rules": [{"function": "tests.outputs.rules:tag", "failure_action": "discard"}]})
    assert tagged is not None and tagged["user_attributes"]["tagged"] is True
    assert _run({"rules": [{"function": "tests.outputs.rules:drop", "failure_action": "proceed"}]}) is None
    assert _run({"rules": [{"function": "tests.outputs.rules:boom", "failure_action": "discard"}]}) is None
    passed = _run({"rules": [{"function": "tests.outputs.rules:boom", "failure_action": "proceed"}]})
    assert passed is not None and passed["user_attributes"] == {"tier": "gold", "$Age": 40}
    late = {"function": "tests.outputs.rules:slow", "failure_action": "discard", "timeout_ms": 50}
    assert _run({"rules": [late]}) is None
    with pytest.raises(BadRequest, match="failure_action"):
        parse_processing({"rules": [{"function": "tests.outputs.rules:tag"}]}, "event")
    with pytest.raises(BadRequest, match="cannot load"):
        parse_processing(
            {"rules": [{"function": "tests.outputs.rules:nope", "failure_action": "discard"}]}, "event"
        )


def test_field_transformations() -> None:
    mappings = [
        {
            "mapping_type": "column",
            "source": "custom_attributes.sku",
            "destination": "data.custom_attributes.product",
        },
        {"mapping_type": "static", "destination": "custom_attributes.origin", "value": "fermion"},
        {"mapping_type": "ignore", "source": "user_attributes.$Age"},
        {"mapping_type": "column", "source": "user_attributes.tier", "destination": "user_attributes.level"},
    ]
    result = _run({"field_transformations": mappings})
    assert result is not None
    assert result["events"][0]["data"]["custom_attributes"] == {
        "color": "red",
        "product": "A1",
        "origin": "fermion",
    }
    assert result["events"][2]["data"]["custom_attributes"] == {"origin": "fermion"}
    assert result["user_attributes"] == {"level": "gold"}
    with pytest.raises(BadRequest, match="static"):
        parse_processing(
            {
                "field_transformations": [
                    {"mapping_type": "static", "source": "x", "destination": "y", "value": "1"}
                ]
            },
            "event",
        )


def test_attribute_sharing_sends_only_chosen_attributes() -> None:
    processing = parse_processing({"shared_attributes": ["tier"]}, "audience")
    change = {"user_attributes": {"tier": "gold", "secret": 1}, "user_identities": {"email": "a@example.com"}}
    result = process_membership(processing, 1, 7, change, {})
    assert result is not None and result["user_attributes"] == {"tier": "gold"}
    nothing = process_membership(parse_processing({}, "audience"), 1, 7, dict(change), {})
    assert nothing is not None and nothing["user_attributes"] == {}


@given(
    st.integers(min_value=0, max_value=100),
    st.lists(st.integers(min_value=1, max_value=2**62), min_size=50, max_size=50, unique=True),
)
def test_sampling_keeps_a_stable_share_of_users(percent: int, mpids: list[int]) -> None:
    processing = parse_processing({"user_sampling_percent": percent}, "event")
    kept = [m for m in mpids if process_batch(processing, 3, m, _batch(), {}) is not None]
    again = [m for m in mpids if process_batch(processing, 3, m, _batch(), {}) is not None]
    assert kept == again
    if percent == 0:
        assert kept == []
    if percent == 100:
        assert kept == mpids


@given(st.integers(min_value=1, max_value=60), st.integers(min_value=0, max_value=10**6))
def test_backoff_grows_within_bounds_and_honours_retry_after(attempt: int, retry_after: int) -> None:
    policy = RetryPolicy(base_ms=1000, max_ms=600_000, window_ms=14_400_000)
    delay = policy.next_attempt_ms(0, attempt, retry_after)
    assert delay >= retry_after
    assert delay <= max(retry_after, min(600_000, 1000 * 2 ** (attempt - 1)))
    assert delay >= min(600_000, 1000 * 2 ** (attempt - 1)) // 2
