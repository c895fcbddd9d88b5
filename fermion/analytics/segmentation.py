"""Segmentation (spec §1–§2): one series per row × group, per interval bucket, with range totals.

User counts are distinct within each bucket, and the range total is distinct over the whole range (not the
sum of the buckets). Groups are ranked by the first row's range value; the top ``limit`` keep their names and
the rest are computed together as ``Other`` (not re-added), so a total over groups includes ``Other``.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fermion.analytics.definitions import Behavior, DateRange, SegmentationQuery, Series
from fermion.analytics.dialect import Sql
from fermion.analytics.formulas import evaluate
from fermion.analytics.runner import Runner
from fermion.analytics.source import Source
from fermion.analytics.timeframe import Timeframe, resolve_range
from fermion.errors import BadRequest

NOT_DEFINED = "(not defined)"
OTHER = "Other"
_QUANTILES = {"median": 0.5, "p75": 0.75, "p90": 0.9, "p95": 0.95, "p99": 0.99}


def _behavior_sql(sql: Sql, behavior: Behavior, timezone: str, week_start: str, now_ms: int) -> str:
    """SQL: the For clause holds for the current base event ``e``."""
    parts = ["x.uid = e.uid", f"x.name = {sql.text(behavior.event)}", sql.where(behavior.where)]
    if behavior.relation == "absolute":
        assert behavior.absolute is not None
        low, high = resolve_range(behavior.absolute, timezone, week_start, now_ms)
        parts += [f"x.ts >= {sql.bind(low)}", f"x.ts < {sql.bind(high)}"]
    elif behavior.relation == "before":
        parts.append("x.ts < e.ts")
        if behavior.within_s is not None:
            parts.append(f"x.ts >= e.ts - {int(behavior.within_s * 1000)}")
    else:
        parts.append("x.ts > e.ts")
        if behavior.within_s is not None:
            parts.append(f"x.ts <= e.ts + {int(behavior.within_s * 1000)}")
    count = f"(SELECT count(*) FROM src x WHERE {' AND '.join(parts)})"
    if not behavior.did:
        return f"{count} = 0"
    symbol = {"gte": ">=", "gt": ">", "lte": "<=", "lt": "<", "eq": "="}[behavior.count_operator]
    return f"{count} {symbol} {int(behavior.count)}"


def _aggregate(sql: Sql, series: Series) -> str:
    measure = series.measure
    if measure == "total":
        return "CAST(count(*) AS DOUBLE PRECISION)"
    if measure == "users":
        return "CAST(count(DISTINCT uid) AS DOUBLE PRECISION)"
    if measure in _QUANTILES:
        return f"CAST({sql.median('v', _QUANTILES[measure])} AS DOUBLE PRECISION)"
    if measure == "avg" and series.per_user:
        return "CAST(avg(v) AS DOUBLE PRECISION)"
    return f"CAST({measure}(v) AS DOUBLE PRECISION)"


def _group_sql(sql: Sql, query: SegmentationQuery, grouping: list[str] | None) -> str:
    if query.group_by is None:
        return "CAST(NULL AS VARCHAR)"
    raw = f"coalesce({sql.prop(query.group_by.property, 'e', query.group_by.scope)}, {sql.text(NOT_DEFINED)})"
    if grouping is None:
        return raw
    kept = ", ".join(sql.text(g) for g in grouping) or sql.text(OTHER)
    return f"CASE WHEN {raw} IN ({kept}) THEN {raw} ELSE {sql.text(OTHER)} END"


def _matching(
    runner: Runner, sql: Sql, source: Source, query: SegmentationQuery, frame: Timeframe, series: Series
) -> tuple[str, str]:
    """SQL: the ``src`` CTE body and the conditions a base event ``e`` of ``series`` meets."""
    reach = max(
        (
            int(b.within_s * 1000)
            for b in series.behaviors
            if b.within_s is not None and b.relation != "absolute"
        ),
        default=0,
    )
    unbounded = any(b.within_s is None or b.relation == "absolute" for b in series.behaviors)
    src = source.cte(
        sql, None if unbounded else frame.from_ms - reach, None if unbounded else frame.to_ms + reach
    )
    conditions = [f"e.ts >= {sql.bind(frame.from_ms)}", f"e.ts < {sql.bind(frame.to_ms)}"]
    if series.event is not None:
        conditions.append(f"e.name = {sql.text(series.event)}")
    conditions.append(sql.where(series.where))
    conditions += [
        _behavior_sql(sql, b, query.timezone, query.week_start, runner.now_ms()) for b in series.behaviors
    ]
    return src, " AND ".join(conditions)


def _series_rows(
    runner: Runner,
    source: Source,
    query: SegmentationQuery,
    frame: Timeframe,
    series: Series,
    interval: str,
    grouping: list[str] | None,
) -> list[tuple[Any, ...]]:
    """Rows ``(bucket key, group, value)`` of one series; ``grouping`` lists the named groups kept."""
    sql = runner.sql()
    src, conditions = _matching(runner, sql, source, query, frame, series)
    value = "CAST(NULL AS DOUBLE PRECISION)"
    if series.property and series.measure not in ("total", "users"):
        value = sql.number(sql.prop(series.property, "e"))
    rows = (
        f"SELECT {frame.bucket_sql('e.ts', interval)} AS k, {_group_sql(sql, query, grouping)} AS g, "
        f"e.uid AS uid, e.ts AS ts, {value} AS v FROM src e WHERE {conditions}"
    )
    if series.measure == "avg" and series.per_user:
        rows = f"SELECT k, g, uid, min(ts) AS ts, sum(v) AS v FROM ({rows}) r GROUP BY k, g, uid"
    aggregate = _aggregate(sql, series)
    body = f"SELECT k, g, {aggregate} FROM m GROUP BY k, g"
    if (
        series.measure == "users"
        and interval != "full"
        and frame.partitions_distinct(runner.dialect, interval)
    ):
        # the bucket's key is a constant in each part, so the grouping is by group alone
        body = frame.per_bucket(
            f"SELECT {{key}} AS k, g, {aggregate} FROM m WHERE {{bucket}} GROUP BY g", interval
        )
    return runner.run(sql, f"WITH src AS NOT MATERIALIZED ({src}), m AS NOT MATERIALIZED ({rows}) {body}")


def _first_bucket_rows(
    runner: Runner,
    source: Source,
    query: SegmentationQuery,
    frame: Timeframe,
    series: Series,
    grouping: list[str] | None,
) -> list[tuple[Any, ...]]:
    """Cumulative unique users: each user counted once, in the first bucket they appear in (per group)."""
    sql = runner.sql()
    src, conditions = _matching(runner, sql, source, query, frame, series)
    text = (
        f"WITH src AS NOT MATERIALIZED ({src}), "
        f"m AS (SELECT {frame.bucket_sql('e.ts', query.interval)} AS k, "
        f"{_group_sql(sql, query, grouping)} AS g, e.uid AS uid FROM src e WHERE {conditions}), "
        "f AS (SELECT g, uid, min(k) AS k FROM m GROUP BY g, uid) "
        "SELECT k, g, CAST(count(*) AS DOUBLE PRECISION) FROM f GROUP BY k, g"
    )
    return runner.run(sql, text)


def _letter(index: int) -> str:
    return chr(ord("A") + index)


def run_segmentation(runner: Runner, workspace_id: int, query: SegmentationQuery) -> dict[str, Any]:
    """The series of a segmentation query, as a JSON-ready dict (see ``docs/analytics.md``)."""
    if query.cumulative == "unique" and any(s.measure != "users" for s in query.series):
        raise BadRequest("cumulative: unique needs measure users on every series")
    frame = Timeframe.of(query, runner.now_ms())
    keys = frame.keys(query.interval)
    source = runner.source(workspace_id)

    def buckets_of(series: Series, grouping: list[str] | None) -> list[tuple[Any, ...]]:
        if query.cumulative == "unique":
            return _first_bucket_rows(runner, source, query, frame, series, grouping)
        return _series_rows(runner, source, query, frame, series, query.interval, grouping)

    grouping: list[str] | None = None
    reuse_totals: list[tuple[Any, ...]] | None = None  # the first series' rows, when ranking computed them
    reuse_buckets: list[tuple[Any, ...]] | None = None
    if query.group_by is not None:
        rank: dict[Any, float] = defaultdict(float)
        if query.totals:
            reuse_totals = _series_rows(runner, source, query, frame, query.series[0], "full", None)
            for _, g, value in reuse_totals:
                rank[g] += value or 0.0
        else:  # no range totals asked for: rank by the sum of the buckets
            reuse_buckets = buckets_of(query.series[0], None)
            for _, g, value in reuse_buckets:
                rank[g] += value or 0.0
        ordered = sorted(rank, key=lambda g: (-rank[g], str(g)))
        if len(ordered) > query.group_by.limit:
            grouping = [str(g) for g in ordered[: query.group_by.limit]]
            reuse_totals = reuse_buckets = None  # computed again with Other
    position = {k: i for i, k in enumerate(keys)}
    out_series: list[dict[str, Any]] = []
    by_key: dict[str, dict[str | None, tuple[list[float | None], float | None]]] = {}
    for index, series in enumerate(query.series):
        letter = _letter(index)
        first = index == 0
        bucket_rows = reuse_buckets if first and reuse_buckets is not None else buckets_of(series, grouping)
        total_rows: list[tuple[Any, ...]] = []
        if query.totals:
            total_rows = (
                reuse_totals
                if first and reuse_totals is not None
                else _series_rows(runner, source, query, frame, series, "full", grouping)
            )
        totals = {r[1]: r[2] for r in total_rows}
        groups: dict[str | None, list[float | None]] = {}
        empty = 0.0 if series.measure in ("total", "users", "sum") else None
        names = set(totals) | {r[1] for r in bucket_rows}
        for g in sorted(names, key=lambda x: (x == OTHER, str(x))):
            groups[g] = [empty] * len(keys)
        for k, g, value in bucket_rows:
            if int(k) in position:
                groups.setdefault(g, [empty] * len(keys))[position[int(k)]] = _round(value)
        if not groups and query.group_by is None:
            groups[None] = [empty] * len(keys)
        by_key[letter] = {}
        for g, values in groups.items():
            if query.cumulative != "none":
                running, cumulated = 0.0, []
                for v in values:
                    running += v or 0.0
                    cumulated.append(_round(running))
                values = cumulated
            total = (_round(totals.get(g)) if g in totals else empty) if query.totals else None
            by_key[letter][g] = (values, total)
            out_series.append(
                {
                    "key": letter,
                    "name": series.name or series.event or "All events",
                    "measure": series.measure,
                    "group": g,
                    "values": values,
                    "total": total,
                }
            )
    for formula in query.formulas:
        group_names: list[str | None] = []
        for per_group in by_key.values():
            group_names += [g for g in per_group if g not in group_names]
        for g in group_names:
            operands = {
                letter: per_group.get(g, ([0.0] * len(keys), 0.0)) for letter, per_group in by_key.items()
            }
            values = [
                _round(evaluate(formula.expression, {k: v[0][i] for k, v in operands.items()}))
                for i in range(len(keys))
            ]
            total = (
                _round(evaluate(formula.expression, {k: v[1] for k, v in operands.items()}))
                if query.totals
                else None
            )
            out_series.append(
                {
                    "key": formula.name,
                    "name": formula.name,
                    "measure": "formula",
                    "group": g,
                    "values": values,
                    "total": total,
                }
            )
    result = {
        "kind": "segmentation",
        "interval": query.interval,
        "timezone": query.timezone,
        "from_ms": frame.from_ms,
        "to_ms": frame.to_ms,
        "buckets": [frame.start_of(k, query.interval) for k in keys],
        "cumulative": query.cumulative,
        "series": out_series,
    }
    if query.compare:
        _compare(runner, workspace_id, query, frame, result)
    return result


def _compare(
    runner: Runner, workspace_id: int, query: SegmentationQuery, frame: Timeframe, result: dict[str, Any]
) -> None:
    """Spec §1.8: the same query over the period of the same length just before; changes per series."""
    zone = ZoneInfo(query.timezone)
    length = frame.to_ms - frame.from_ms
    previous_range = DateRange(
        start=datetime.fromtimestamp((frame.from_ms - length) / 1000, zone),
        end=datetime.fromtimestamp(frame.from_ms / 1000, zone),
    )
    previous = run_segmentation(
        runner, workspace_id, query.model_copy(update={"date_range": previous_range, "compare": False})
    )
    before = {(s["key"], s["group"]): s for s in previous["series"]}
    result["previous"] = {
        "from_ms": previous["from_ms"],
        "to_ms": previous["to_ms"],
        "buckets": previous["buckets"],
    }
    for series in result["series"]:
        match = before.get((series["key"], series["group"]))
        old_total = match["total"] if match else None
        series["previous_values"] = match["values"] if match else None
        change = None if series["total"] is None or old_total is None else _round(series["total"] - old_total)
        series["compare"] = {
            "previous_total": old_total,
            "abs_change": change,
            "pct_change": None if change is None or not old_total else _round(change / old_total * 100),
        }


def _round(value: Any) -> float | None:
    return None if value is None else round(float(value), 6)
