"""Retention (spec §4.1–§4.3): cohorts by start period, the share of each that returns N periods later.

Periods are calendar buckets in the query's time zone. ``first_time``: a user belongs to the cohort of their
first-ever start event, counted when it falls in the range. ``recurring``: a user belongs to every period of
the range in which they did the start event. Measures: ``n_day`` (returned in period k), ``unbounded``
(returned in period k or later) and ``bracket`` (returned at least once in periods a..b). A cell is
``complete`` once its period has ended.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from fermion.analytics.definitions import RetentionQuery
from fermion.analytics.dialect import Sql
from fermion.analytics.runner import Runner
from fermion.analytics.timeframe import Timeframe

MAX_BITS = 126  # periods that fit one HUGEINT bit mask per user


def _bitmask_sql(
    sql: Sql, query: RetentionQuery, frame: Timeframe, cohort_keys: list[int], src: str, start: str, back: str
) -> str:
    """SQL: cohorts and cells from one row per user (DuckDB), without a row per user and period.

    Each user's periods with a return (and, for recurring cohorts, with a start) become bits of one integer,
    so a single grouping by user replaces the grouping by user and period; cells are bit tests. The same
    rules as :func:`_activity_sql`, which a test holds it to.
    """
    first = cohort_keys[0]
    n = int(query.periods)
    offset = f"CAST({frame.bucket_sql('e.ts', query.period)} - {first} AS INTEGER)"
    bit = f"(CAST(1 AS HUGEINT) << {offset})"
    from_ms, to_ms = sql.bind(frame.from_ms), sql.bind(frame.to_ms)
    returns = (
        f"bit_or(CASE WHEN {back} AND e.ts >= {from_ms} THEN {bit} ELSE CAST(0 AS HUGEINT) END) AS rmask"
    )
    if query.mode == "first_time":
        starts = f"min(CASE WHEN {start} THEN e.ts END) AS fs"
        cohort_of = frame.bucket_sql("fs", query.period)
        cohorts = (
            f"co AS (SELECT uid, rmask, CAST({cohort_of} - {first} AS INTEGER) AS c FROM u "
            f"WHERE fs >= {from_ms} AND fs < {to_ms})"
        )
    else:
        starts = (
            f"bit_or(CASE WHEN {start} AND e.ts >= {from_ms} AND e.ts < {to_ms} THEN {bit} "
            "ELSE CAST(0 AS HUGEINT) END) AS smask"
        )
        cohorts = (
            f"co AS (SELECT u.uid, u.rmask, r.c FROM u, range(0, {len(cohort_keys)}) r(c) "
            "WHERE (u.smask >> CAST(r.c AS INTEGER)) & 1 = 1)"
        )
    head = (
        f"WITH src AS NOT MATERIALIZED ({src}), u AS (SELECT e.uid, {returns}, {starts} FROM src e "
        f"WHERE {start} OR {back} GROUP BY e.uid), {cohorts} "
    )

    def ones(count: str) -> str:
        return f"((CAST(1 AS HUGEINT) << CAST({count} AS INTEGER)) - 1)"

    window = "(rmask >> CAST(c + j AS INTEGER))"
    if query.measure == "bracket":
        filters = ", ".join(
            f"count(*) FILTER (WHERE (rmask >> CAST(c + {int(a)} AS INTEGER)) & {ones(str(b - a + 1))} != 0)"
            for a, b in query.brackets
        )
        body = f"SELECT c + {first}, -1, 0, {filters} FROM co GROUP BY c"
    elif query.measure == "unbounded":  # users whose last return in the window is period j
        test = f"{window} & {ones(f'{n} - j + 1')} = 1"
    else:
        test = f"{window} & 1 = 1"
    if query.measure != "bracket":
        periods = f"range(0, {n + 1}) r(j)"
        body = f"SELECT c + {first}, j, count(*) FILTER (WHERE {test}) FROM co, {periods} GROUP BY c, j"
    pad = "".join(", 0" for _ in query.brackets) if query.measure == "bracket" else ""
    return head + f"SELECT c + {first}, -2, count(*){pad} FROM co GROUP BY c UNION ALL {body}"


def run_retention(
    runner: Runner, workspace_id: int, query: RetentionQuery, force_general: bool = False
) -> dict[str, Any]:
    """The cohort table of a retention query, as a JSON-ready dict."""
    frame = Timeframe.of(query, runner.now_ms())
    cohort_keys = frame.keys(query.period, "period")
    last_key = cohort_keys[-1] + query.periods
    horizon = frame.end_ms_of(last_key, query.period)
    frame = Timeframe.of(query, runner.now_ms(), margin_ms=horizon - frame.to_ms)
    source = runner.source(workspace_id)
    sql = runner.sql()
    lower = None if query.mode == "first_time" else frame.from_ms
    src = source.cte(sql, lower, horizon)
    start = f"e.name = {sql.text(query.start.event)}" if query.start.event else "TRUE"
    start = f"({start} AND {sql.where(query.start.where)})"
    back = f"e.name = {sql.text(query.returning.event)}" if query.returning.event else "TRUE"
    back = f"({back} AND {sql.where(query.returning.where)})"
    if runner.dialect == "duckdb" and last_key - cohort_keys[0] + 1 <= MAX_BITS and not force_general:
        text = _bitmask_sql(sql, query, frame, cohort_keys, src, start, back)
    else:
        text = _activity_sql(runner, sql, query, frame, horizon, src, start, back)
    rows = runner.run(sql, text)
    sizes: dict[int, int] = {}
    cell_users: dict[int, dict[int, int]] = defaultdict(dict)
    bracket_users: dict[int, list[int]] = {}
    for row in rows:
        c, k = int(row[0]), int(row[1])
        if k == -2:
            sizes[c] = int(row[2])
        elif k == -1:
            bracket_users[c] = [int(v) for v in row[3:]]
        else:
            cell_users[c][k] = int(row[2])
    now = runner.now_ms()
    cohorts_out = []
    for c in cohort_keys:
        size = sizes.get(c, 0)
        if query.measure == "bracket":
            values: list[dict[str, Any]] = [
                {
                    "bracket": [a, b],
                    "users": (bracket_users.get(c) or [0] * len(query.brackets))[i],
                    "complete": frame.end_ms_of(c + b, query.period) <= now,
                }
                for i, (a, b) in enumerate(query.brackets)
            ]
        else:
            counts = [cell_users[c].get(k, 0) for k in range(query.periods + 1)]
            if query.measure == "unbounded":
                running = 0
                for k in range(query.periods, -1, -1):
                    running += counts[k]
                    counts[k] = running
            values = [
                {"period": k, "users": counts[k], "complete": frame.end_ms_of(c + k, query.period) <= now}
                for k in range(query.periods + 1)
            ]
        for value in values:
            value["rate"] = round(value["users"] / size, 6) if size else None
        cohorts_out.append({"cohort": frame.start_of(c, query.period), "size": size, "values": values})
    return {
        "kind": "retention",
        "mode": query.mode,
        "measure": query.measure,
        "period": query.period,
        "timezone": query.timezone,
        "from_ms": frame.from_ms,
        "to_ms": frame.to_ms,
        "cohorts": cohorts_out,
        "mean": _means(cohorts_out),
    }


def _means(cohorts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per column: simple mean of the rates and weighted mean (Σ users / Σ size) over complete cells."""
    if not cohorts:
        return []
    means = []
    for i in range(len(cohorts[0]["values"])):
        cells = [(c["values"][i], c["size"]) for c in cohorts if c["size"] and c["values"][i]["complete"]]
        rates = [v["rate"] for v, _ in cells]
        users, sizes = sum(v["users"] for v, _ in cells), sum(s for _, s in cells)
        means.append(
            {
                "column": i,
                "simple": round(sum(rates) / len(rates), 6) if rates else None,
                "weighted": round(users / sizes, 6) if sizes else None,
            }
        )
    return means


def _activity_sql(
    runner: Runner,
    sql: Sql,
    query: RetentionQuery,
    frame: Timeframe,
    horizon: int,
    src: str,
    start: str,
    back: str,
) -> str:
    """SQL: cohorts and cells from one row per user and period with activity (whether they started and/or
    returned in it), counted period by period on DuckDB (see ``Timeframe.per_bucket``), in one grouping on
    PostgreSQL."""
    bucket = frame.bucket_sql("e.ts", query.period)
    events = (
        f"SELECT e.uid AS uid, e.ts AS ts, {bucket} AS k, CASE WHEN {start} THEN 1 ELSE 0 END AS s, "
        f"CASE WHEN {back} THEN 1 ELSE 0 END AS r FROM src e "
        f"WHERE e.ts >= {sql.bind(frame.from_ms)} AND e.ts < {sql.bind(horizon)} AND ({start} OR {back})"
    )
    span = Timeframe(frame.from_ms, horizon, frame.timezone, frame.week_start, frame.offsets)
    grouped = (
        "SELECT uid, k, max(s) AS s, max(r) AS r, min(CASE WHEN s = 1 THEN ts END) AS fs "
        "FROM m {where} GROUP BY uid, k"
    )
    if span.partitions_distinct(runner.dialect, query.period):
        activity = span.per_bucket(grouped.replace("{where}", "WHERE {bucket}"), query.period)
    else:
        activity = grouped.replace("{where}", "")
    to_ms = sql.bind(frame.to_ms)
    if query.mode == "first_time":
        earlier = (
            f"SELECT 1 FROM src e WHERE e.uid = acts.uid AND e.ts < {sql.bind(frame.from_ms)} AND {start}"
        )
        cohorts = (
            f"cohorts AS (SELECT uid, min(k) AS c FROM acts WHERE s = 1 AND NOT EXISTS ({earlier}) "
            f"GROUP BY uid HAVING min(fs) < {to_ms})"
        )
    else:
        cohorts = f"cohorts AS (SELECT DISTINCT uid, k AS c FROM acts WHERE s = 1 AND fs < {to_ms})"
    cells = (
        "cells AS (SELECT co.c, co.uid, a.k - co.c AS k FROM cohorts co JOIN acts a ON a.uid = co.uid "
        f"AND a.r = 1 AND a.k >= co.c AND a.k <= co.c + {int(query.periods)})"
    )
    # DuckDB keeps the activity once; PostgreSQL plans better with it inlined (a materialized CTE has no
    # statistics, and the planner picks a nested loop for the join).
    materialized = "MATERIALIZED" if runner.dialect == "duckdb" else "NOT MATERIALIZED"
    head = (
        f"WITH src AS NOT MATERIALIZED ({src}), m AS NOT MATERIALIZED ({events}), "
        f"acts AS {materialized} ({activity}), {cohorts}, {cells} "
    )
    if query.measure == "bracket":
        filters = ", ".join(
            f"count(DISTINCT uid) FILTER (WHERE k BETWEEN {int(a)} AND {int(b)})" for a, b in query.brackets
        )
        body = f"SELECT c, -1, 0, {filters} FROM cells GROUP BY c"
    elif query.measure == "unbounded":
        body = (
            "SELECT c, mk, count(*) FROM (SELECT c, uid, max(k) AS mk FROM cells GROUP BY c, uid) u "
            "GROUP BY c, mk"
        )
    else:
        body = "SELECT c, k, count(*) FROM cells GROUP BY c, k"  # (c, uid, k) is unique in cells
    pad = "".join(", 0" for _ in query.brackets) if query.measure == "bracket" else ""
    text = head + f"SELECT c, -2, count(*){pad} FROM cohorts GROUP BY c UNION ALL {body}"
    return text
