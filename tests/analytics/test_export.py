"""CSV export: every kind of result becomes one flat table with a header row."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import pytest

from fermion.analytics import Runner, parse_definition, run_query, to_csv
from fermion.events import StoredEvent
from tests.analytics.conftest import HOUR, T0, journeys

RANGE = {"start": "2024-01-01", "end": "2024-01-02"}
CASES: list[tuple[str, dict[str, Any], list[str], int]] = [
    (
        "segmentation",
        {"series": [{"event": "A"}], "date_range": RANGE},
        ["series", "name", "measure", "group", "bucket_start", "value"],
        2,
    ),
    (
        "funnel",
        {"steps": [{"event": "A"}, {"event": "B"}], "date_range": RANGE, "over_time": "day"},
        [
            "group",
            "step",
            "name",
            "count",
            "conversion_rate",
            "step_conversion_rate",
            "drop_off",
            "avg_time_s",
            "median_time_s",
        ],
        6,
    ),
    (
        "retention",
        {"start": {"event": "A"}, "returning": {"event": "B"}, "periods": 1, "date_range": RANGE},
        ["cohort", "size", "period", "users", "rate", "complete"],
        4,
    ),
    (
        "flows",
        {"event": "A", "date_range": RANGE, "session_gap_s": 7200},
        ["type", "depth", "from", "to", "users", "avg_time_s", "drop_off"],
        3,
    ),
]


@pytest.mark.parametrize(("kind", "definition", "header", "rows"), CASES, ids=[c[0] for c in CASES])
def test_every_result_exports_as_a_flat_csv_table(
    runner: Runner,
    load: Callable[[list[StoredEvent]], None],
    kind: str,
    definition: dict[str, Any],
    header: list[str],
    rows: int,
) -> None:
    load(journeys({1: [("A", T0), ("B", T0 + HOUR)], 2: [("A", T0)]}))
    text = to_csv(run_query(runner, 1, parse_definition(kind, definition)))
    table = list(csv.reader(io.StringIO(text)))
    assert table[0] == header
    assert len(table) - 1 == rows
    assert all(len(row) == len(header) for row in table)
