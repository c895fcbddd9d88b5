"""Dry runs: what a version would flag and block on stored events equals what checking them does."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from fermion.plans.dryrun import dry_run
from fermion.plans.model import Blocking
from fermion.plans.validator import CompiledVersion
from fermion.schema import decode_batch
from tests.factories import make_event
from tests.plans.batches import commerce_event, custom_event, screen_view
from tests.plans.plan_fixtures import (
    attributes_schema,
    custom_event_point,
    plan_version,
    product_action_point,
    screen_view_point,
    user_attributes_point,
    user_identities_point,
)

SINCE, UNTIL = 1_700_000_000_000, 1_700_086_400_000

PURCHASE = {
    "type": "custom_event",
    "criteria": {"event_name": "Purchase", "custom_event_type": "transaction"},
}
HOME = {"type": "screen_view", "criteria": {"screen_name": "Home"}}
USER_ATTRIBUTES = {"type": "user_attributes", "criteria": {}}


def _compiled(blocking: Blocking | None = None, *extra: dict[str, Any]) -> CompiledVersion:
    return CompiledVersion(
        plan_version(
            custom_event_point(
                "Purchase",
                "transaction",
                attributes_schema(
                    {"seats": {"type": "string", "enum": ["two", "three"]}, "score": {"type": "number"}},
                    required=("seats",),
                ),
            ),
            screen_view_point("Home"),
            product_action_point("purchase"),
            user_attributes_point({"tier": {"type": "string", "enum": ["gold", "silver"]}}),
            *extra,
            blocking=blocking or Blocking(),
            version=2,
        )
    )


# A pool of stored events, each a different case.
POOL: list[dict[str, Any]] = [
    custom_event("Purchase", "transaction", seats="two", score=5),  # valid
    custom_event("Purchase", "transaction", seats="four"),  # invalid value
    custom_event("Purchase", "transaction", score=1),  # missing required
    custom_event("Purchase", "transaction", seats="two", coupon="X"),  # unplanned attribute
    custom_event("Browse", "navigation"),  # unplanned event
    screen_view("Home"),  # valid
    screen_view("Settings"),  # unplanned screen
    commerce_event("purchase"),  # valid commerce
    commerce_event("refund"),  # unplanned commerce
    make_event("session_start"),  # never planned, never reported
]


def _stored(events: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [(f"event-{i}", "production", json.dumps(e)) for i, e in enumerate(events)]


def _rows(report_json: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {json.dumps(row["match"], sort_keys=True): row for row in report_json["data_points"]}


def _by_check(compiled: CompiledVersion, stored: list[tuple[str, str, str]]) -> dict[str, Any]:
    """What ``check`` says of each event as a batch of its own, tallied like a dry run report."""
    flagged: Counter[str] = Counter()
    blocked: Counter[str] = Counter()
    errors: dict[str, Counter[str]] = {}
    events_flagged = events_blocked = attributes_blocked = 0
    for event_id, _, body in stored:
        batch = decode_batch(f'{{"events": [{body}]}}'.encode()).batch
        verdict = compiled.check(batch, [event_id])
        events_flagged += bool(verdict.results)
        events_blocked += len(verdict.blocked_events)
        stripped = verdict.block_metadata.get("blocked_event_attributes", [])
        attributes_blocked += sum(len(e["event_attributes"]) for e in stripped)
        for result in verdict.results:
            key = json.dumps(result["data"]["match"], sort_keys=True)
            flagged[key] += 1
            blocked[key] += int(verdict.blocked)
            for error in result["data"]["validation_errors"]:
                errors.setdefault(key, Counter())[error["validation_error_type"]] += 1
    return {
        "events_flagged": events_flagged,
        "events_would_block": events_blocked,
        "event_attributes_would_block": attributes_blocked,
        "flagged": dict(flagged),
        "would_block": {k: n for k, n in blocked.items() if n},
        "errors_by_type": {k: dict(c) for k, c in errors.items()},
    }


def _report_tally(report_json: dict[str, Any]) -> dict[str, Any]:
    rows = _rows(report_json)
    return {
        "events_flagged": report_json["events_flagged"],
        "events_would_block": report_json["events_would_block"],
        "event_attributes_would_block": report_json["event_attributes_would_block"],
        "flagged": {k: r["flagged"] for k, r in rows.items() if r["flagged"]},
        "would_block": {k: r["would_block"] for k, r in rows.items() if r["would_block"]},
        "errors_by_type": {k: r["errors_by_type"] for k, r in rows.items() if r["errors_by_type"]},
    }


def test_a_dry_run_reports_what_checking_each_event_reports() -> None:
    compiled = _compiled()
    stored = _stored(POOL)

    report = dry_run(compiled, stored, [], SINCE, UNTIL).to_json()

    assert _report_tally(report) == _by_check(compiled, stored)


def test_a_dry_run_with_blocking_counts_what_would_be_blocked() -> None:
    compiled = _compiled(Blocking(events=True, event_attributes=True))
    stored = _stored(POOL)

    report = dry_run(compiled, stored, [], SINCE, UNTIL).to_json()

    assert _report_tally(report) == _by_check(compiled, stored)
    assert report["events_would_block"] == 3  # Browse, Settings, refund
    assert report["event_attributes_would_block"] == 1  # coupon


@settings(max_examples=60, deadline=None)
@given(picks=st.lists(st.integers(min_value=0, max_value=len(POOL) - 1), max_size=12), block=st.booleans())
def test_dry_run_counts_equal_checks_for_any_mix_of_events(picks: list[int], block: bool) -> None:
    compiled = _compiled(Blocking(events=block, event_attributes=block))
    stored = _stored([POOL[i] for i in picks])

    report = dry_run(compiled, stored, [], SINCE, UNTIL).to_json()

    assert _report_tally(report) == _by_check(compiled, stored)
    assert report["events_checked"] == len(picks)


def test_the_report_rows() -> None:
    report = dry_run(_compiled(Blocking(events=True)), _stored(POOL), [], SINCE, UNTIL).to_json()
    rows = _rows(report)

    assert report["data_plan"] == {"plan_id": "mobile_data_plan", "plan_version": 2}
    assert (report["since_ms"], report["until_ms"]) == (SINCE, UNTIL)
    assert report["events_checked"] == len(POOL)
    assert report["events_flagged"] == 6
    purchase = rows[json.dumps(PURCHASE, sort_keys=True)]
    assert (purchase["planned"], purchase["matched"], purchase["flagged"], purchase["would_block"]) == (
        True,
        4,
        3,
        0,
    )
    assert purchase["errors_by_type"] == {"invalid_value": 1, "missing_required": 1, "unplanned": 1}
    home = rows[json.dumps(HOME, sort_keys=True)]
    assert (home["matched"], home["flagged"]) == (1, 0)
    browse = rows[
        json.dumps(
            {"type": "custom_event", "criteria": {"event_name": "Browse", "custom_event_type": "navigation"}},
            sort_keys=True,
        )
    ]
    assert (browse["planned"], browse["matched"], browse["flagged"], browse["would_block"]) == (
        False,
        1,
        1,
        1,
    )
    assert browse["errors_by_type"] == {"unplanned": 1}


def test_every_data_point_has_a_row_even_without_events() -> None:
    report = dry_run(_compiled(), [], [], SINCE, UNTIL).to_json()

    assert {row["match"]["type"] for row in report["data_points"]} == {
        "custom_event",
        "screen_view",
        "product_action",
        "user_attributes",
    }
    assert all(
        row["planned"] and row["matched"] == 0 and row["flagged"] == 0 for row in report["data_points"]
    )
    assert report["events_checked"] == 0


def test_profiles_are_checked_against_the_user_attributes_point() -> None:
    profiles = [
        ({"tier": "gold"}, {"customer_id": "c-1"}),
        ({"tier": "bronze", "$gender": "f"}, {}),
        ({}, {}),
    ]

    report = dry_run(_compiled(), [], profiles, SINCE, UNTIL).to_json()

    row = _rows(report)[json.dumps(USER_ATTRIBUTES, sort_keys=True)]
    assert report["profiles_checked"] == 3
    assert (row["matched"], row["flagged"]) == (3, 1)
    assert row["errors_by_type"] == {"invalid_value": 1, "unplanned": 1}
    assert report["events_flagged"] == 0


def test_profiles_would_block_unplanned_user_attributes() -> None:
    profiles = [({"tier": "gold", "$gender": "f"}, {})]

    report = dry_run(_compiled(Blocking(user_attributes=True)), [], profiles, SINCE, UNTIL).to_json()

    assert _rows(report)[json.dumps(USER_ATTRIBUTES, sort_keys=True)]["would_block"] == 1


def test_profile_identities_are_checked_against_the_user_identities_point() -> None:
    identities = user_identities_point({"customerid": {"type": "string"}, "email": {"format": "email"}})
    profiles = [({}, {"customer_id": "c-1", "email": "nope"}), ({}, {"customer_id": "c-2"})]

    report = dry_run(_compiled(None, identities), [], profiles, SINCE, UNTIL).to_json()

    row = _rows(report)[json.dumps({"type": "user_identities", "criteria": {}}, sort_keys=True)]
    assert (row["matched"], row["flagged"], row["errors_by_type"]) == (2, 1, {"invalid_value": 1})


def test_events_of_the_development_environment_are_checked_too() -> None:
    stored = [("event-0", "development", json.dumps(custom_event("Browse", "navigation")))]

    report = dry_run(_compiled(), stored, [], SINCE, UNTIL).to_json()

    assert report["events_flagged"] == 1


def test_a_required_identity_does_not_flag_the_events_of_users_who_have_it() -> None:
    required = user_identities_point(
        {"customerid": {"type": "string"}}, required=("customerid",), additional=True
    )
    compiled = _compiled(None, required)
    stored = _stored([custom_event("Purchase", "transaction", seats="two")])

    report = dry_run(compiled, stored, [({}, {"customer_id": "c-1"})], SINCE, UNTIL).to_json()

    assert report["events_flagged"] == 0
    assert (
        _rows(report)[json.dumps({"type": "user_identities", "criteria": {}}, sort_keys=True)]["flagged"] == 0
    )
