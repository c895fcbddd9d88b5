"""Segmentation on hand-built events, on both event stores."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fermion.analytics import Runner, parse_definition, run_segmentation
from fermion.errors import BadRequest
from fermion.events import StoredEvent
from tests.analytics.conftest import DAY, HOUR, T0, journeys, stored

Load = Callable[[list[StoredEvent]], None]
WEEK = {"start": "2024-01-01", "end": "2024-01-07"}


def segment(runner: Runner, **definition: Any) -> dict[str, Any]:
    definition.setdefault("date_range", WEEK)
    return run_segmentation(runner, 1, parse_definition("segmentation", definition))  # type: ignore[arg-type]


def series(result: dict[str, Any], key: str = "A", group: str | None = None) -> dict[str, Any]:
    return next(s for s in result["series"] if s["key"] == key and s["group"] == group)


def test_totals_and_users_per_day_with_a_range_total_that_is_distinct(runner: Runner, load: Load) -> None:
    load(journeys({1: [("buy", T0), ("buy", T0 + HOUR), ("buy", T0 + DAY)], 2: [("buy", T0 + DAY)]}))
    totals = segment(runner, series=[{"event": "buy"}])
    assert series(totals)["values"][:3] == [2.0, 2.0, 0.0]
    assert series(totals)["total"] == 4.0
    users = segment(runner, series=[{"event": "buy", "measure": "users"}])
    assert series(users)["values"][:3] == [1.0, 2.0, 0.0]
    assert series(users)["total"] == 2.0


def test_numeric_measures_ignore_values_that_are_not_numbers(runner: Runner, load: Load) -> None:
    amounts = ["10", "20", "30", "n/a"]
    load([stored(1, "buy", T0 + i, amount=a) for i, a in enumerate(amounts)])
    for measure, expected in [("sum", 60.0), ("avg", 20.0), ("min", 10.0), ("max", 30.0), ("median", 20.0)]:
        result = segment(
            runner, series=[{"event": "buy", "measure": measure, "property": "amount"}], interval="full"
        )
        assert series(result)["total"] == expected, measure


def test_where_clauses_combine_with_and_or(runner: Runner, load: Load) -> None:
    load(
        [
            stored(1, "buy", T0, plan="pro", amount="5"),
            stored(2, "buy", T0, plan="free", amount="50"),
            stored(3, "buy", T0, plan="Pro Max", amount="500"),
            stored(4, "buy", T0),
        ]
    )

    def count(where: dict[str, Any]) -> Any:
        result = segment(runner, series=[{"event": "buy", "where": where}], interval="full")
        return series(result)["total"]

    assert count({"conditions": [{"property": "plan", "operator": "icontains", "value": "PRO"}]}) == 2.0
    assert count({"conditions": [{"property": "plan", "operator": "is_not_set"}]}) == 1.0
    assert count({"conditions": [{"property": "plan", "operator": "is_not", "value": "pro"}]}) == 3.0
    assert count({"conditions": [{"property": "amount", "operator": "between", "value": [10, 100]}]}) == 1.0
    either = {
        "op": "or",
        "conditions": [
            {"property": "amount", "operator": "gt", "value": 100},
            {
                "op": "and",
                "conditions": [
                    {"property": "plan", "operator": "in", "value": ["pro", "free"]},
                    {"property": "amount", "operator": "lt", "value": 10},
                ],
            },
        ],
    }
    assert count(either) == 2.0
    assert count({"conditions": [{"property": "plan", "operator": "regex", "value": "^P"}]}) == 1.0


def test_group_by_keeps_the_top_groups_and_sums_the_rest_as_other(runner: Runner, load: Load) -> None:
    plans = ["a"] * 3 + ["b"] * 2 + ["c"] + ["d"]
    load([stored(i, "buy", T0, plan=p) for i, p in enumerate(plans)] + [stored(99, "buy", T0)])
    result = segment(
        runner, series=[{"event": "buy"}], interval="full", group_by={"property": "plan", "limit": 2}
    )
    totals = {s["group"]: s["total"] for s in result["series"]}
    assert totals == {"a": 3.0, "b": 2.0, "Other": 3.0}


def test_user_counts_within_other_are_distinct(runner: Runner, load: Load) -> None:
    load(
        [
            stored(1, "buy", T0, plan="x"),
            stored(1, "buy", T0 + 1, plan="y"),
            stored(2, "buy", T0, plan="z"),
            stored(3, "buy", T0, plan="z"),
        ]
    )
    result = segment(
        runner,
        series=[{"event": "buy", "measure": "users"}],
        interval="full",
        group_by={"property": "plan", "limit": 1},
    )
    assert {s["group"]: s["total"] for s in result["series"]} == {"z": 2.0, "Other": 1.0}


def test_buckets_follow_the_time_zone_across_a_dst_change(runner: Runner, load: Load) -> None:
    # Europe/Berlin moves to summer time on 2024-03-31 at 01:00 UTC: that local day has 23 hours.
    march_30_utc = 1_711_756_800_000
    half_past = 30 * 60_000
    # 00:30 CET on the 31st, and 00:30 CEST on April 1st (a fixed +01:00 would put it on the 31st)
    load(
        [
            stored(1, "e", march_30_utc + 23 * HOUR + half_past),
            stored(1, "e", march_30_utc + 46 * HOUR + half_past),
        ]
    )
    result = segment(
        runner,
        series=[{"event": "e"}],
        timezone="Europe/Berlin",
        date_range={"start": "2024-03-30", "end": "2024-04-01"},
    )
    assert result["buckets"] == [
        "2024-03-30T00:00:00+01:00",
        "2024-03-31T00:00:00+01:00",
        "2024-04-01T00:00:00+02:00",
    ]
    assert series(result)["values"] == [0.0, 1.0, 1.0]


def test_weeks_and_months(runner: Runner, load: Load) -> None:
    load(journeys({1: [("e", T0), ("e", T0 + 8 * DAY), ("e", T0 + 32 * DAY)]}))
    weeks = segment(
        runner,
        series=[{"event": "e"}],
        interval="week",
        date_range={"start": "2024-01-01", "end": "2024-01-14"},
    )
    assert weeks["buckets"] == ["2024-01-01T00:00:00+00:00", "2024-01-08T00:00:00+00:00"]
    assert series(weeks)["values"] == [1.0, 1.0]
    months = segment(
        runner,
        series=[{"event": "e"}],
        interval="month",
        date_range={"start": "2024-01-01", "end": "2024-02-29"},
    )
    assert series(months)["values"] == [2.0, 1.0]


def test_cumulative_sum_and_cumulative_unique_users(runner: Runner, load: Load) -> None:
    load(journeys({1: [("e", T0), ("e", T0 + DAY)], 2: [("e", T0 + DAY)]}))
    running = segment(runner, series=[{"event": "e", "measure": "users"}], cumulative="sum")
    assert series(running)["values"][:3] == [1.0, 3.0, 3.0]
    unique = segment(runner, series=[{"event": "e", "measure": "users"}], cumulative="unique")
    assert series(unique)["values"][:3] == [1.0, 2.0, 2.0]


def test_for_clauses_check_each_base_event(runner: Runner, load: Load) -> None:
    load(journeys({1: [("view", T0), ("buy", T0 + HOUR), ("buy", T0 + 3 * DAY)], 2: [("buy", T0)]}))
    did = segment(
        runner,
        interval="full",
        series=[{"event": "buy", "behaviors": [{"event": "view", "within_s": 86400}]}],
    )
    assert series(did)["total"] == 1.0
    did_not = segment(
        runner,
        interval="full",
        series=[
            {
                "event": "buy",
                "measure": "users",
                "behaviors": [{"did": False, "event": "view", "within_s": 86400}],
            }
        ],
    )
    assert series(did_not)["total"] == 2.0  # user 1's second purchase had no view in the day before


def test_formulas_divide_series_and_give_null_on_zero(runner: Runner, load: Load) -> None:
    load(journeys({1: [("buy", T0), ("view", T0), ("view", T0 + 1)], 2: [("view", T0 + DAY)]}))
    result = segment(
        runner,
        series=[{"event": "buy"}, {"event": "view"}],
        formulas=[{"name": "rate", "expression": "A / B * 100"}],
    )
    assert series(result, "rate")["values"][:3] == [50.0, 0.0, None]
    with pytest.raises(BadRequest, match="formulas"):
        segment(runner, series=[{"event": "buy"}], formulas=[{"name": "x", "expression": "__import__('os')"}])


def test_an_aliased_user_counts_once(runner: Runner, load: Load, store: Any) -> None:
    load(
        [
            stored(10, "view", T0, uid="anon-1"),
            stored(10, "view", T0 + HOUR, uid="anon-2"),
            stored(20, "buy", T0 + 2 * HOUR),
        ]
    )
    store.copy_events(1, 10, 20, T0 - DAY, T0 + DAY, "alias:1:")
    users = segment(runner, series=[{"event": None, "measure": "users"}, {"event": "view"}], interval="full")
    assert series(users)["total"] == 1.0
    assert series(users, "B")["total"] == 2.0


def test_an_hourly_interval_over_a_quarter_is_rejected(runner: Runner) -> None:
    with pytest.raises(BadRequest, match="interval"):
        segment(runner, series=[{"event": "e"}], interval="hour", date_range={"last": 90})


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    plans=st.lists(
        st.tuples(st.integers(1, 5), st.sampled_from(["a", "b", "c", "d", None]), st.integers(0, 6)),
        min_size=1,
        max_size=25,
    ),
    limit=st.integers(1, 4),
)
def test_totals_equal_the_sum_over_groups_including_other(
    tmp_path_factory: Any, plans: list[tuple[int, str | None, int]], limit: int
) -> None:
    from fermion.clock import FrozenClock
    from fermion.events import open_event_store
    from tests.analytics.conftest import NOW

    store = open_event_store(f"duckdb:///{tmp_path_factory.mktemp('s') / 'e.duckdb'}")
    try:
        store.append([stored(u, "e", T0 + d * DAY, **({"plan": p} if p else {})) for u, p, d in plans])
        runner = Runner(store, "duckdb", FrozenClock(NOW))
        plain = segment(runner, series=[{"event": "e"}])
        grouped = segment(runner, series=[{"event": "e"}], group_by={"property": "plan", "limit": limit})
        assert sum(s["total"] for s in grouped["series"]) == series(plain)["total"] == len(plans)
        for i in range(7):
            assert sum(s["values"][i] for s in grouped["series"]) == series(plain)["values"][i]
    finally:
        store.close()


def test_without_totals_buckets_stay_and_groups_rank_by_their_sum(runner: Runner, load: Load) -> None:
    plans = ["a", "a", "a", "b", "b", "c"]
    load([stored(i, "buy", T0 + i * HOUR, plan=p) for i, p in enumerate(plans)])
    definition = {
        "series": [{"event": "buy", "measure": "users"}],
        "group_by": {"property": "plan", "limit": 2},
    }
    full = segment(runner, **definition)
    bare = segment(runner, **definition, totals=False)
    assert [(s["group"], s["values"]) for s in bare["series"]] == [
        (s["group"], s["values"]) for s in full["series"]
    ]
    assert {s["group"] for s in bare["series"]} == {"a", "b", "Other"}
    assert all(s["total"] is None for s in bare["series"])


def test_user_properties_filter_and_group_from_the_profile_store(store: Any, load: Load) -> None:
    from fermion.clock import FrozenClock
    from tests.analytics.conftest import NOW

    tiers = {1: "gold", 2: "silver", 3: True}
    runner = Runner(
        store, store.dialect, FrozenClock(NOW), user_values=lambda ws, name: tiers if name == "tier" else {}
    )
    load(journeys({1: [("buy", T0)], 2: [("buy", T0), ("buy", T0 + 1)], 3: [("buy", T0)], 4: [("buy", T0)]}))
    gold = segment(
        runner,
        series=[
            {
                "event": "buy",
                "where": {
                    "conditions": [
                        {"property": "tier", "scope": "user", "operator": "exact", "value": "gold"}
                    ]
                },
            }
        ],
        interval="full",
    )
    assert series(gold)["total"] == 1.0
    grouped = segment(
        runner, series=[{"event": "buy"}], interval="full", group_by={"property": "tier", "scope": "user"}
    )
    assert {s["group"]: s["total"] for s in grouped["series"]} == {
        "gold": 1.0,
        "silver": 2.0,
        "true": 1.0,
        "(not defined)": 1.0,
    }


def test_compare_with_the_previous_period(runner: Runner, load: Load) -> None:
    load(
        journeys(
            {1: [("buy", T0 - 3 * DAY), ("buy", T0 + DAY), ("buy", T0 + 2 * DAY)], 2: [("buy", T0 + DAY)]}
        )
    )
    result = segment(runner, series=[{"event": "buy"}], compare=True)
    assert result["previous"]["to_ms"] == result["from_ms"]
    assert series(result)["compare"] == {"previous_total": 1.0, "abs_change": 2.0, "pct_change": 200.0}
    assert sum(series(result)["previous_values"]) == 1.0
