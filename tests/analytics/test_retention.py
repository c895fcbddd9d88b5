"""Retention on hand-built journeys, on both event stores."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fermion.analytics import Runner, parse_definition, run_retention
from fermion.clock import FrozenClock
from fermion.events import StoredEvent, open_event_store
from tests.analytics.conftest import DAY, HOUR, NOW, T0, journeys, stored

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


@pytest.mark.parametrize("mode", ["first_time", "recurring"])
@pytest.mark.parametrize("measure", ["n_day", "unbounded", "bracket"])
@pytest.mark.parametrize("period", ["day", "week"])
def test_the_bit_mask_and_the_activity_rows_agree(
    tmp_path: Path, mode: str, measure: str, period: str
) -> None:
    rng = random.Random(f"{mode}{measure}{period}")
    store = open_event_store(f"duckdb:///{tmp_path / 'e.duckdb'}")
    try:
        store.append(
            [
                stored(
                    rng.randint(1, 30),
                    rng.choice(["signup", "open", "other"]),
                    T0 + rng.randint(-5 * DAY, 40 * DAY),
                )
                for _ in range(400)
            ]
        )
        runner = Runner(store, "duckdb", FrozenClock(NOW), timeout_s=0)
        query = parse_definition(
            "retention",
            {
                "start": {"event": "signup"},
                "returning": {"event": "open"},
                "mode": mode,
                "measure": measure,
                "brackets": [[0, 0], [1, 3]] if measure == "bracket" else [],
                "period": period,
                "periods": 4,
                "date_range": {"start": "2024-01-01", "end": "2024-01-20"},
                "timezone": "Asia/Kolkata",
            },
        )
        bits = run_retention(runner, 1, query)  # type: ignore[arg-type]
        rows = run_retention(runner, 1, query, force_general=True)  # type: ignore[arg-type]
        assert bits == rows
        assert any(c["size"] for c in bits["cohorts"])
    finally:
        store.close()
