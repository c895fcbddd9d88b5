"""Funnels: the worked examples of spec §3.11 as acceptance tests, on both event stores."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from fermion.analytics import Runner, parse_definition, run_funnel
from fermion.errors import BadRequest
from fermion.events import StoredEvent
from tests.analytics.conftest import DAY, HOUR, MINUTE, T0, journeys

RANGE = {"start": "2024-01-01", "end": "2024-01-10"}
Load = Callable[[list[StoredEvent]], None]


def funnel(runner: Runner, **definition: Any) -> dict[str, Any]:
    definition.setdefault("date_range", RANGE)
    query = parse_definition("funnel", definition)
    return run_funnel(runner, 1, query)  # type: ignore[arg-type]


def counts(result: dict[str, Any]) -> list[int]:
    return [s["count"] for s in result["steps"]]


AB = [{"event": "A"}, {"event": "B"}]
ONE_DAY = {"kind": "whole_funnel", "seconds": 86_400}


@pytest.mark.parametrize("force_kernel", [False, True])
def test_a_later_attempt_converts_when_the_first_ran_out_of_window(
    runner: Runner, load: Load, force_kernel: bool
) -> None:
    load(journeys({1: [("A", T0), ("A", T0 + 30 * HOUR), ("B", T0 + 40 * HOUR)]}))
    query = parse_definition("funnel", {"steps": AB, "window": ONE_DAY, "date_range": RANGE})
    result = run_funnel(runner, 1, query, force_kernel=force_kernel)  # type: ignore[arg-type]
    assert counts(result) == [1, 1]
    assert result["steps"][1]["avg_time_s"] == 10 * 3600


def test_sequential_needs_a_later_timestamp_and_ties_convert_when_allowed(runner: Runner, load: Load) -> None:
    load(journeys({1: [("A", T0 + 10 * HOUR), ("B", T0 + 10 * HOUR)]}))
    assert counts(funnel(runner, steps=AB)) == [1, 0]
    assert counts(funnel(runner, steps=AB, order="ordered_allow_ties")) == [1, 1]


def test_strict_order_is_broken_by_any_event_in_between(runner: Runner, load: Load) -> None:
    load(journeys({1: [("A", T0), ("X", T0 + MINUTE), ("B", T0 + 2 * MINUTE)]}))
    assert counts(funnel(runner, steps=AB, order="strict")) == [1, 0]
    assert counts(funnel(runner, steps=AB, order="sequential")) == [1, 1]


EXCLUDE_E = [{"event": "E", "from_step": 1, "to_step": 2}]


def test_an_exclusion_between_the_steps_removes_the_user_entirely(runner: Runner, load: Load) -> None:
    load(journeys({1: [("A", T0), ("E", T0 + HOUR), ("B", T0 + 2 * HOUR)], 2: [("A", T0), ("B", T0 + HOUR)]}))
    assert counts(funnel(runner, steps=AB, window=ONE_DAY, exclusions=EXCLUDE_E)) == [1, 1]


def test_a_clean_later_attempt_converts_despite_an_exclusion(runner: Runner, load: Load) -> None:
    load(journeys({1: [("A", T0), ("E", T0 + HOUR), ("A", T0 + 3 * HOUR), ("B", T0 + 4 * HOUR)]}))
    assert counts(funnel(runner, steps=AB, window=ONE_DAY, exclusions=EXCLUDE_E)) == [1, 1]


def test_an_exclusion_after_the_step_was_reached_changes_nothing(runner: Runner, load: Load) -> None:
    load(journeys({1: [("A", T0), ("B", T0 + HOUR), ("E", T0 + 2 * HOUR)]}))
    assert counts(funnel(runner, steps=AB, window=ONE_DAY, exclusions=EXCLUDE_E)) == [1, 1]


def test_unordered_counts_distinct_steps_inside_one_window(runner: Runner, load: Load) -> None:
    load(journeys({1: [("B", T0), ("A", T0 + 30 * MINUTE)], 2: [("B", T0), ("A", T0 + 2 * HOUR)]}))
    result = funnel(runner, steps=AB, order="unordered", window={"kind": "whole_funnel", "seconds": 3600})
    assert counts(result) == [2, 1]


def test_step_counts_conversion_and_times(runner: Runner, load: Load) -> None:
    load(
        journeys(
            {
                1: [("A", T0), ("B", T0 + HOUR), ("C", T0 + 3 * HOUR)],
                2: [("A", T0), ("B", T0 + 3 * HOUR)],
                3: [("A", T0)],
                4: [("B", T0), ("C", T0 + HOUR)],
            }
        )
    )
    result = funnel(runner, steps=[{"event": "A"}, {"event": "B"}, {"event": "C"}])
    assert counts(result) == [3, 2, 1]
    assert result["steps"][1]["median_time_s"] == 2 * 3600
    assert result["steps"][2]["conversion_rate"] == pytest.approx(1 / 3, abs=1e-6)
    assert result["steps"][2]["step_conversion_rate"] == 0.5
    assert result["avg_conversion_time_s"] == 3 * 3600


def test_entry_needs_the_first_step_inside_the_date_range(runner: Runner, load: Load) -> None:
    load(journeys({1: [("A", T0 - DAY), ("B", T0 + HOUR)], 2: [("A", T0 + 9 * DAY), ("B", T0 + 12 * DAY)]}))
    assert counts(funnel(runner, steps=AB)) == [1, 1]
    assert counts(funnel(runner, steps=AB, window={"kind": "entry_date_range"})) == [1, 0]


def test_per_step_filters_and_breakdown_by_first_touch(runner: Runner, load: Load) -> None:
    load(
        journeys(
            {
                1: [("A", T0, {"plan": "pro"}), ("B", T0 + HOUR, {"ok": "1"})],
                2: [("A", T0, {"plan": "free"}), ("B", T0 + HOUR, {"ok": "0"})],
                3: [("A", T0, {"plan": "pro"})],
            }
        )
    )
    steps = [
        {"event": "A"},
        {"event": "B", "where": {"conditions": [{"property": "ok", "operator": "exact", "value": "1"}]}},
    ]
    result = funnel(runner, steps=steps, breakdown={"property": "plan"})
    assert counts(result) == [3, 1]
    assert {g["group"]: counts(g) for g in result["groups"]} == {"pro": [2, 1], "free": [1, 0]}


def test_tracking_property_holds_the_session_constant(runner: Runner, load: Load) -> None:
    load(journeys({1: [("A", T0, {"sid": "s1"}), ("B", T0 + HOUR, {"sid": "s2"})]}))
    assert counts(funnel(runner, steps=AB)) == [1, 1]
    assert counts(funnel(runner, steps=AB, tracking_properties=["sid"])) == [1, 0]


def test_conversion_over_time_counts_a_user_in_each_entry_interval(runner: Runner, load: Load) -> None:
    load(
        journeys({1: [("A", T0), ("B", T0 + HOUR), ("A", T0 + DAY), ("B", T0 + DAY + HOUR)], 2: [("A", T0)]})
    )
    result = funnel(runner, steps=AB, over_time="day")
    first, second = result["over_time"][:2]
    assert (first["entered"], first["converted"], second["entered"], second["converted"]) == (2, 1, 1, 1)


@pytest.mark.parametrize(
    ("definition", "field"),
    [
        ({"steps": []}, "steps"),
        ({"steps": AB, "window": {"kind": "whole_funnel", "seconds": -1}}, "window.seconds"),
        (
            {
                "steps": [
                    {
                        "event": "A",
                        "where": {"conditions": [{"property": "x", "operator": "near", "value": 1}]},
                    }
                ]
            },
            "operator",
        ),
    ],
)
def test_invalid_definitions_name_the_field(definition: dict[str, Any], field: str) -> None:
    with pytest.raises(BadRequest, match=field):
        parse_definition("funnel", definition)


def test_optional_steps_give_one_path_per_combination(runner: Runner, load: Load) -> None:
    load(
        journeys(
            {
                1: [("A", T0), ("B", T0 + HOUR), ("C", T0 + 2 * HOUR)],
                2: [("A", T0), ("C", T0 + HOUR)],
                3: [("A", T0)],
            }
        )
    )
    result = funnel(runner, steps=[{"event": "A"}, {"event": "B", "optional": True}, {"event": "C"}])
    assert counts(result) == [3, 2]
    paths = {tuple(p["steps"]): p for p in result["paths"]}
    assert paths[(1, 3)]["inclusive"]["counts"] == [3, 2]
    assert paths[(1, 3)]["exclusive"]["counts"] == [2, 1]
    assert paths[(1, 2, 3)]["inclusive"]["counts"] == [3, 1, 1]
    assert paths[(1, 2, 3)]["exclusive"]["counts"] == [3, 1, 1]


def test_optional_steps_are_never_first_or_last() -> None:
    with pytest.raises(BadRequest, match="optional"):
        parse_definition("funnel", {"steps": [{"event": "A", "optional": True}, {"event": "B"}]})


def test_flexible_order_lets_a_step_precede_the_previous_one_by_the_limit(runner: Runner, load: Load) -> None:
    load(journeys({1: [("B", T0 + 10 * HOUR), ("A", T0 + 10 * HOUR + 5_000)]}))
    assert counts(funnel(runner, steps=AB)) == [1, 0]
    assert counts(funnel(runner, steps=AB, order="flexible", flexible_limit_s=10)) == [1, 1]
    assert counts(funnel(runner, steps=AB, order="flexible", flexible_limit_s=2)) == [1, 0]


def test_per_step_windows_limit_each_gap(runner: Runner, load: Load) -> None:
    load(journeys({1: [("A", T0), ("B", T0 + 2 * HOUR), ("C", T0 + 30 * HOUR)]}))
    steps = [{"event": "A"}, {"event": "B"}, {"event": "C"}]
    window = {"kind": "per_step", "per_step_seconds": [3 * 3600, None]}
    assert counts(funnel(runner, steps=steps, window=window)) == [1, 1, 1]
    window = {"kind": "per_step", "per_step_seconds": [3600, None]}
    assert counts(funnel(runner, steps=steps, window=window)) == [1, 0, 0]
    window = {"kind": "per_step", "per_step_seconds": [3 * 3600, 86_400]}
    assert counts(funnel(runner, steps=steps, window=window)) == [1, 1, 0]


def test_step_attribution_can_put_a_user_in_several_groups(runner: Runner, load: Load) -> None:
    load(
        journeys(
            {
                1: [
                    ("A", T0, {"device": "web"}),
                    ("B", T0 + HOUR, {"device": "ios"}),
                    ("B", T0 + 2 * HOUR, {"device": "web"}),
                ]
            }
        )
    )
    result = funnel(runner, steps=AB, breakdown={"property": "device", "attribution": "step", "step": 2})
    assert {g["group"]: counts(g) for g in result["groups"]} == {"ios": [1, 1], "web": [1, 1]}


def test_pairs_count_each_tracking_value_separately(runner: Runner, load: Load) -> None:
    load(
        journeys(
            {
                1: [
                    ("A", T0, {"sid": "s1"}),
                    ("B", T0 + HOUR, {"sid": "s1"}),
                    ("A", T0 + DAY, {"sid": "s2"}),
                    ("B", T0 + DAY + HOUR, {"sid": "s2"}),
                ]
            }
        )
    )
    assert counts(funnel(runner, steps=AB, tracking_properties=["sid"])) == [1, 1]
    assert counts(funnel(runner, steps=AB, tracking_properties=["sid"], count_by="pairs")) == [2, 2]


def test_time_to_convert_histogram(runner: Runner, load: Load) -> None:
    load(journeys({u: [("A", T0), ("B", T0 + u * HOUR)] for u in range(1, 5)}))
    result = funnel(runner, steps=AB, time_to_convert_bins=3)
    assert [(b["from_s"], b["users"]) for b in result["time_to_convert"]] == [
        (3600, 1),
        (7200, 1),
        (10800, 2),
    ]


def test_tracking_properties_can_be_named_per_step(runner: Runner, load: Load) -> None:
    load(
        journeys(
            {
                1: [("A", T0, {"session": "s1"}), ("B", T0 + HOUR, {"cookie": "s1"})],
                2: [("A", T0, {"session": "s2"}), ("B", T0 + HOUR, {"cookie": "other"})],
            }
        )
    )
    result = funnel(runner, steps=AB, tracking_properties=[["session", "cookie"]])
    assert counts(result) == [2, 1]
    with pytest.raises(BadRequest, match="one per step"):
        parse_definition("funnel", {"steps": AB, "tracking_properties": [["session"]]})
