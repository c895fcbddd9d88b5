"""Date ranges and interval buckets in a query's time zone.

Events are stored in UTC milliseconds. A bucket is an integer key computed in SQL from local time: the UTC
offset is a ``CASE`` over the zone's transitions in the range (DST days have 23 or 25 hours), then hours,
days, weeks and months are counted from the Unix epoch in local time. Python turns keys back into the
local start of each bucket. The same arithmetic runs on DuckDB and PostgreSQL, so both bucket alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from fermion.analytics.definitions import DateRange, TimeSettings
from fermion.errors import BadRequest

HOUR_MS = 3_600_000
DAY_MS = 86_400_000
MAX_BUCKETS = 1000
MAX_HOURLY_DAYS = 31


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _truncate(now: datetime, unit: str, week_start: str) -> datetime:
    if unit == "hour":
        return now.replace(minute=0, second=0, microsecond=0)
    day = now.date()
    if unit == "week":
        shift = day.weekday() if week_start == "monday" else (day.weekday() + 1) % 7
        day = day - timedelta(days=shift)
    elif unit == "month":
        day = day.replace(day=1)
    return _local_midnight(day, now.tzinfo)  # type: ignore[arg-type]


def _step(start: datetime, unit: str, count: int) -> datetime:
    zone = start.tzinfo
    if unit == "hour":
        return (start.astimezone(UTC) + timedelta(hours=count)).astimezone(zone)
    if unit == "month":
        return _local_midnight(_add_months(start.date(), count), zone)  # type: ignore[arg-type]
    days = count * (7 if unit == "week" else 1)
    return _local_midnight(start.date() + timedelta(days=days), zone)  # type: ignore[arg-type]


def resolve_range(date_range: DateRange, timezone: str, week_start: str, now_ms: int) -> tuple[int, int]:
    """``[from_ms, to_ms)`` in UTC for a date range read in ``timezone``."""
    zone = ZoneInfo(timezone)
    if date_range.last is not None:
        now = datetime.fromtimestamp(now_ms / 1000, zone)
        end = _step(_truncate(now, date_range.unit, week_start), date_range.unit, 1)
        start = _step(end, date_range.unit, -date_range.last)
        return _ms(start), _ms(end)

    def moment(value: date | datetime | None, is_end: bool) -> int:
        assert value is not None
        if isinstance(value, datetime):
            return _ms(value if value.tzinfo else value.replace(tzinfo=zone))
        return _ms(_local_midnight(value + timedelta(days=1) if is_end else value, zone))

    start_ms, end_ms = moment(date_range.start, False), moment(date_range.end, True)
    if end_ms <= start_ms:
        raise BadRequest("date_range: end must be after start")
    return start_ms, end_ms


@dataclass(frozen=True)
class Timeframe:
    """The resolved range and bucketing of one query."""

    from_ms: int
    to_ms: int
    timezone: str
    week_start: str
    offsets: tuple[tuple[int, int], ...]  # (UTC ms from which, offset ms), ascending

    @classmethod
    def of(cls, query: TimeSettings, now_ms: int, margin_ms: int = 0) -> Timeframe:
        """The timeframe of ``query``; offsets cover ``margin_ms`` past the end (funnel windows)."""
        start, end = resolve_range(query.date_range, query.timezone, query.week_start, now_ms)
        return cls(
            start, end, query.timezone, query.week_start, _offsets(query.timezone, start, end + margin_ms)
        )

    def local_ms(self, column: str) -> str:
        """SQL: the local wall-clock milliseconds of the UTC ``column``."""
        if len(self.offsets) == 1:
            return f"({column} + {self.offsets[0][1]})"
        cases = " ".join(f"WHEN {column} < {since} THEN {before}" for (since, _), (_, before) in _pairs(self))
        return f"({column} + CASE {cases} ELSE {self.offsets[-1][1]} END)"

    def bucket_sql(self, column: str, interval: str) -> str:
        """SQL: the integer bucket key of ``column`` for ``interval``."""
        local = self.local_ms(column)
        if interval == "full":
            return "CAST(0 AS BIGINT)"
        if interval == "hour":
            return f"CAST(floor({local} / {float(HOUR_MS)}) AS BIGINT)"
        days = f"CAST(floor({local} / {float(DAY_MS)}) AS BIGINT)"
        if interval == "day":
            return days
        if interval == "week":  # 1970-01-01 was a Thursday
            shift = 3 if self.week_start == "monday" else 4
            return f"CAST(floor(({days} + {shift}) / 7.0) AS BIGINT)"
        day = f"(DATE '1970-01-01' + CAST({days} AS INTEGER))"
        return (
            f"(CAST(EXTRACT(YEAR FROM {day}) AS BIGINT) * 12 + CAST(EXTRACT(MONTH FROM {day}) AS BIGINT) - 1)"
        )

    def key_of(self, ms: int, interval: str) -> int:
        """The bucket key of a UTC instant, as :meth:`bucket_sql` computes it."""
        local = ms + self.offset_at(ms)
        if interval == "full":
            return 0
        if interval == "hour":
            return local // HOUR_MS
        days = local // DAY_MS
        if interval == "day":
            return days
        if interval == "week":
            return (days + (3 if self.week_start == "monday" else 4)) // 7
        day = date(1970, 1, 1) + timedelta(days=days)
        return day.year * 12 + day.month - 1

    def offset_at(self, ms: int) -> int:
        offset = self.offsets[0][1]
        for since, value in self.offsets:
            if ms >= since:
                offset = value
        return offset

    def start_of(self, key: int, interval: str) -> str:
        """The local start of bucket ``key``, ISO 8601 with its UTC offset."""
        zone = ZoneInfo(self.timezone)
        if interval == "full":
            return datetime.fromtimestamp(self.from_ms / 1000, zone).isoformat()
        if interval == "hour":
            naive = datetime(1970, 1, 1) + timedelta(hours=key)
            # the UTC instant whose local hour this is (first of a repeated hour)
            guess = _ms(naive.replace(tzinfo=UTC)) - self.offset_at(_ms(naive.replace(tzinfo=UTC)))
            return datetime.fromtimestamp(guess / 1000, zone).isoformat()
        if interval == "day":
            day = date(1970, 1, 1) + timedelta(days=key)
        elif interval == "week":
            day = date(1970, 1, 1) + timedelta(days=key * 7 - (3 if self.week_start == "monday" else 4))
        else:
            day = date(key // 12, key % 12 + 1, 1)
        return _local_midnight(day, zone).isoformat()

    def keys(self, interval: str, field: str = "interval") -> list[int]:
        """Every bucket key of the range, in order; rejects an interval too fine for it."""
        if interval == "full":
            return [0]
        if interval == "hour" and self.to_ms - self.from_ms > MAX_HOURLY_DAYS * DAY_MS:
            raise BadRequest(f"{field}: hour is too fine for a range over {MAX_HOURLY_DAYS} days")
        first, last = self.key_of(self.from_ms, interval), self.key_of(self.to_ms - 1, interval)
        if last - first + 1 > MAX_BUCKETS:
            raise BadRequest(f"{field}: {interval} gives more than {MAX_BUCKETS} buckets over this range")
        return list(range(first, last + 1))

    def partitions_distinct(self, dialect: str, interval: str) -> bool:
        """Whether distinct counts per bucket run bucket by bucket (see :meth:`per_bucket`)."""
        return (
            dialect == "duckdb" and interval in ("day", "week", "month") and len(self.keys(interval)) <= 400
        )

    def per_bucket(self, template: str, interval: str) -> str:
        """SQL: ``template`` once per bucket, ``{bucket}`` replaced by a filter on columns ``ts`` and ``k``
        and ``{key}`` by the bucket's key (a constant: every row the filter keeps has that key).

        DuckDB's hash table for a distinct count over all buckets at once grows past the CPU caches; one small
        table per bucket is several times faster. The time bounds let the scan skip other row groups of the
        time-ordered store. Where the zone's offset does not change near the bucket, the bucket is exactly a
        range of UTC instants (:meth:`exact_bounds`) and the filter is that range alone, so the key need not
        be computed per row; elsewhere the bounds are two hours wider (for zones whose midnight moves) and a
        key test keeps the result exactly that of one grouped query.
        """
        parts = []
        for key in self.keys(interval):
            exact = self.exact_bounds(key, interval)
            if exact is not None:
                bounds = f"ts >= {exact[0]} AND ts < {exact[1]}"
            else:
                low = datetime.fromisoformat(self.start_of(key, interval))
                high = self.end_ms_of(key, interval)
                bounds = f"ts >= {_ms(low) - 2 * HOUR_MS} AND ts < {high + 2 * HOUR_MS} AND k = {key}"
            parts.append(template.replace("{bucket}", bounds).replace("{key}", f"CAST({key} AS BIGINT)"))
        return " UNION ALL ".join(parts)

    def exact_bounds(self, key: int, interval: str) -> tuple[int, int] | None:
        """``[low, high)`` in UTC ms when the instants of bucket ``key`` are exactly that range, else None.

        Holds when no offset change of the timeframe falls within the bucket widened by the spread of the
        offsets and a day: the key is then monotonic in time around the bucket, the instants just outside
        have other keys, and no instant further away can reach back into it.
        """
        low = _ms(datetime.fromisoformat(self.start_of(key, interval)))
        high = self.end_ms_of(key, interval)
        values = [offset for _, offset in self.offsets]
        margin = max(values) - min(values) + DAY_MS
        if any(low - margin <= since <= high + margin for since, _ in self.offsets[1:]):
            return None
        inside = self.key_of(low, interval) == key and self.key_of(high - 1, interval) == key
        if not inside or key in (self.key_of(low - 1, interval), self.key_of(high, interval)):
            return None
        return low, high

    def end_ms_of(self, key: int, interval: str) -> int:
        """The UTC instant where bucket ``key`` ends."""
        start = datetime.fromisoformat(self.start_of(key, interval))
        unit = "day" if interval == "full" else interval
        return _ms(_step(start, unit, 1))


def _pairs(frame: Timeframe) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    return [(frame.offsets[i + 1], frame.offsets[i]) for i in range(len(frame.offsets) - 1)]


def _offsets(timezone: str, start_ms: int, end_ms: int) -> tuple[tuple[int, int], ...]:
    """The zone's UTC offsets over the range: hourly probes, transitions found to the minute by bisection."""
    zone = ZoneInfo(timezone)

    def offset(ms: int) -> int:
        delta = datetime.fromtimestamp(ms / 1000, zone).utcoffset()
        return int(delta.total_seconds() * 1000) if delta is not None else 0

    begin = start_ms - 2 * DAY_MS
    segments = [(begin, offset(begin))]
    if timezone == "UTC":
        return ((begin, 0),)
    probe = begin
    while probe < end_ms + 2 * DAY_MS:
        nxt = probe + HOUR_MS
        if offset(nxt) != segments[-1][1]:
            low, high = probe, nxt
            while high - low > 60_000:
                mid = (low + high) // 2 // 60_000 * 60_000
                if mid <= low:
                    break
                if offset(mid) == segments[-1][1]:
                    low = mid
                else:
                    high = mid
            segments.append((high, offset(nxt)))
        probe = nxt
    return tuple(segments)
