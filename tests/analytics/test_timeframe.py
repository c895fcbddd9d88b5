"""Buckets as exact UTC ranges: the per-bucket filters that stand in for the bucket key."""

from __future__ import annotations

import pytest

from fermion.analytics.definitions import DateRange, TimeSettings
from fermion.analytics.timeframe import DAY_MS, Timeframe

QUARTER_HOUR = 900_000

# UTC; Berlin's DST at 01:00 UTC; Santiago and Havana change at local midnight; Lord Howe by half an hour;
# Apia skipped 2011-12-30 entirely.
CASES = [
    ("UTC", "2024-01-01", "2024-03-30"),
    ("Europe/Berlin", "2024-02-15", "2024-05-15"),
    ("America/Santiago", "2024-03-01", "2024-05-31"),
    ("America/Havana", "2024-02-20", "2024-04-20"),
    ("Australia/Lord_Howe", "2024-03-01", "2024-05-01"),
    ("Pacific/Apia", "2011-12-01", "2012-01-31"),
]


@pytest.mark.parametrize("interval", ["day", "week", "month"])
@pytest.mark.parametrize(("zone", "start", "end"), CASES)
def test_exact_bounds_hold_exactly_the_instants_with_the_bucket_key(
    zone: str, start: str, end: str, interval: str
) -> None:
    settings = TimeSettings(date_range=DateRange(start=start, end=end), timezone=zone)  # type: ignore[arg-type]
    frame = Timeframe.of(settings, 0)
    probes = range(frame.from_ms - 40 * DAY_MS, frame.to_ms + 40 * DAY_MS, QUARTER_HOUR)
    keyed = [(ms, frame.key_of(ms, interval)) for ms in probes]
    exact = 0
    for key in frame.keys(interval):
        bounds = frame.exact_bounds(key, interval)
        if bounds is None:
            continue
        exact += 1
        low, high = bounds
        assert frame.key_of(low, interval) == key and frame.key_of(high - 1, interval) == key
        assert frame.key_of(low - 1, interval) != key and frame.key_of(high, interval) != key
        assert all((k == key) == (low <= ms < high) for ms, k in keyed)
    if zone == "UTC" or interval == "day":
        assert exact > 0  # most buckets take the exact filter; those near an offset change do not


def test_per_bucket_filters_on_time_alone_where_the_bucket_is_exact() -> None:
    dates = DateRange(start="2024-03-29", end="2024-04-03")  # type: ignore[arg-type]
    settings = TimeSettings(date_range=dates, timezone="Europe/Berlin")
    frame = Timeframe.of(settings, 0)
    parts = frame.per_bucket("SELECT {key} AS k FROM m WHERE {bucket}", "day").split(" UNION ALL ")
    assert len(parts) == 6
    # the 23-hour 2024-03-31 and the days within a day of its change keep the key test
    assert ["k = " in p for p in parts] == [False, True, True, True, False, False]
    utc = Timeframe.of(settings.model_copy(update={"timezone": "UTC"}), 0)
    day = utc.per_bucket("SELECT {key} AS k FROM m WHERE {bucket}", "day").split(" UNION ALL ")[0]
    assert day == "SELECT CAST(19811 AS BIGINT) AS k FROM m WHERE ts >= 1711670400000 AND ts < 1711756800000"
