"""Retention on hand-built journeys, on both event stores."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fermion.analytics import Runner, parse_definition, run_retention
from fermion.events import StoredEvent
from tests.analytics.conftest import DAY, HOUR, T0, journeys

Load = Callable[[list[StoredEvent]], None]


def retention(runner: Runner, **definition: Any) -> dict[str, Any]:
    definition.setdefault("date_range", {"start": "2024-01-01", "end": "2024-01-03"})
    definition.setdefault("start", {"event": "signup"})
    definition.setdefault("returning", {"event": "open"})
    definition.setdefault("period", "day")
    definition.setdefault("periods", 3)
    return run_retention(runner, 1, parse_definition("retention", definition))  # type: ignore[arg-type]


def users(result: dict[str, Any], cohort: int) -> list[int]:
    return [v["users"] for v in result["cohorts"][cohort]["values"]]


JOURNEYS = {
    1: [("signup", T0 + HOUR), ("open", T0 + DAY + HOUR), ("open", T0 + 3 * DAY)],
    2: [("signup", T0 + 2 * HOUR), ("open", T0 + 2 * DAY)],
    3: [("signup", T0 + DAY), ("open", T0 + DAY + HOUR), ("signup", T0 + 2 * DAY)],
}


def test_n_day_retention_counts_returns_per_period(runner: Runner, load: Load) -> None:
    load(journeys(JOURNEYS))
    result = retention(runner)
    assert [c["size"] for c in result["cohorts"]] == [2, 1, 0]
    assert users(result, 0) == [0, 1, 1, 1]
    assert users(result, 1) == [1, 0, 0, 0]
    assert result["cohorts"][0]["values"][1]["rate"] == 0.5


def test_recurring_puts_a_user_in_every_start_period(runner: Runner, load: Load) -> None:
    load(journeys(JOURNEYS))
    result = retention(runner, mode="recurring")
    assert [c["size"] for c in result["cohorts"]] == [2, 1, 1]


def test_unbounded_counts_a_return_in_the_period_or_later(runner: Runner, load: Load) -> None:
    load(journeys(JOURNEYS))
    assert users(retention(runner, measure="unbounded"), 0) == [2, 2, 2, 1]


def test_brackets_count_any_return_in_the_range_of_periods(runner: Runner, load: Load) -> None:
    load(journeys(JOURNEYS))
    result = retention(runner, measure="bracket", brackets=[[1, 1], [1, 3]])
    assert [v["users"] for v in result["cohorts"][0]["values"]] == [1, 2]


def test_weekly_cohorts_mark_periods_that_have_not_ended(runner: Runner, load: Load) -> None:
    load(journeys(JOURNEYS))
    result = retention(
        runner, period="week", periods=8, date_range={"start": "2024-01-01", "end": "2024-01-07"}
    )
    values = result["cohorts"][0]["values"]
    assert values[0]["users"] == 3
    assert [v["complete"] for v in values] == [True, True, True, True, False, False, False, False, False]
