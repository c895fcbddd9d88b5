"""User flows on hand-built journeys, on both event stores."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fermion.analytics import Runner, parse_definition, run_flows
from fermion.events import StoredEvent
from tests.analytics.conftest import DAY, HOUR, MINUTE, T0, journeys

Load = Callable[[list[StoredEvent]], None]


def flows(runner: Runner, **definition: Any) -> dict[str, Any]:
    definition.setdefault("date_range", {"start": "2024-01-01", "end": "2024-01-03"})
    definition.setdefault("event", "home")
    return run_flows(runner, 1, parse_definition("flows", definition))  # type: ignore[arg-type]


def edges(result: dict[str, Any]) -> set[tuple[int, str, str, int]]:
    return {(e["from_depth"], e["from"], e["to"], e["users"]) for e in result["edges"]}


JOURNEYS = {
    1: [("home", T0), ("search", T0 + MINUTE), ("search", T0 + 2 * MINUTE), ("buy", T0 + 3 * MINUTE)],
    2: [("home", T0), ("search", T0 + MINUTE), ("home", T0 + 2 * MINUTE)],
    3: [("ad", T0), ("home", T0 + MINUTE), ("buy", T0 + 2 * HOUR)],
    4: [("search", T0 + DAY)],
}


def test_paths_after_the_anchor_collapse_repeats_and_end_at_a_session_gap(runner: Runner, load: Load) -> None:
    load(journeys(JOURNEYS))
    result = flows(runner)
    assert result["users"] == 3
    assert edges(result) == {(1, "home", "search", 2), (2, "search", "buy", 1), (2, "search", "home", 1)}
    first = next(n for n in result["nodes"] if n["depth"] == 1)
    assert (first["event"], first["users"], first["drop_off"]) == ("home", 3, 1)
    search_to_buy = next(e for e in result["edges"] if e["to"] == "buy")
    assert search_to_buy["avg_time_s"] == 120


def test_repeats_kept_and_no_session_gap(runner: Runner, load: Load) -> None:
    load(journeys(JOURNEYS))
    result = flows(runner, collapse_repeats=False, session_gap_s=None, max_steps=3)
    assert edges(result) == {
        (1, "home", "search", 2),
        (1, "home", "buy", 1),
        (2, "search", "search", 1),
        (2, "search", "home", 1),
    }


def test_paths_before_an_event(runner: Runner, load: Load) -> None:
    load(journeys(JOURNEYS))
    result = flows(runner, event="buy", direction="before", session_gap_s=None)
    assert edges(result) == {
        (1, "buy", "search", 1),
        (1, "buy", "home", 1),
        (2, "search", "home", 1),
        (2, "home", "ad", 1),
    }


def test_excluded_events_are_skipped(runner: Runner, load: Load) -> None:
    load(journeys(JOURNEYS))
    result = flows(runner, exclude_events=["search"])
    assert (1, "home", "buy", 1) in edges(result)
