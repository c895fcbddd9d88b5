"""Funnels (spec §3, the specification of §3.11): counts, conversion and step times per step.

Two paths give the same answer. The general path fetches each unit's step and exclusion events (every event
for strict order) and runs :mod:`funnel_kernel` on them; it handles every option. The plain case that most
funnels are (sequential order, unlimited or whole-funnel window, no exclusions, tracking properties,
breakdown or conversion over time) runs on DuckDB as one statement: per entry event, each later step is the
earliest matching event after the previous one (an ASOF join), which is the kernel's rule for that case.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from itertools import combinations
from typing import Any

from fermion.analytics.definitions import Exclusion, FunnelQuery
from fermion.analytics.dialect import Sql
from fermion.analytics.funnel_kernel import INFINITE, Ev, Outcome, Rules, evaluate_unit
from fermion.analytics.runner import Deadline, Runner
from fermion.analytics.segmentation import NOT_DEFINED, OTHER
from fermion.analytics.source import Source
from fermion.analytics.timeframe import Timeframe


def rules_of(query: FunnelQuery, frame: Timeframe) -> Rules:
    """The kernel's settings for ``query`` over ``frame``."""
    window = query.window
    return Rules(
        steps=len(query.steps),
        order=query.order,
        entry_from=frame.from_ms,
        entry_to=frame.to_ms,
        window=window.kind,
        window_ms=INFINITE if window.seconds is None else window.seconds * 1000,
        per_step_ms=tuple(INFINITE if s is None else s * 1000 for s in window.per_step_seconds or ()),
        flexible_ms=int(query.flexible_limit_s * 1000) if query.order == "flexible" else 0,
        exclusions=tuple((e.from_step, e.to_step) for e in query.exclusions),
    )


def _reach_ms(query: FunnelQuery, frame: Timeframe) -> int | None:
    """How far past the entry range later steps may happen (None: no limit)."""
    window = query.window
    if window.kind == "entry_date_range":
        return 0
    if window.kind == "whole_funnel" and window.seconds is not None:
        return int(window.seconds * 1000) + 1
    if window.kind == "per_step" and all(s is not None for s in window.per_step_seconds or ()):
        return int(sum(s or 0 for s in window.per_step_seconds or ()) * 1000) + 1
    return None


def _fast_path_applies(runner: Runner, query: FunnelQuery) -> bool:
    return (
        runner.dialect == "duckdb"
        and query.order == "sequential"
        and query.window.kind in ("unlimited", "whole_funnel")
        and not query.exclusions
        and not query.tracking_properties
        and query.breakdown is None
        and query.over_time is None
    )


def _held(sql: Sql, query: FunnelQuery, held: str | list[str], steps: list[str]) -> str:
    """SQL: the value of a tracking property on the event; per-step names apply to the step the event matches
    first (exclusion events take the name of the step they follow)."""
    if isinstance(held, str):
        return sql.prop(held, "e")
    cases = [
        f"WHEN {condition} THEN {sql.prop(name, 'e')}" for condition, name in zip(steps, held, strict=True)
    ]
    cases += [
        f"WHEN e.name = {sql.text(x.event)} THEN {sql.prop(held[x.from_step - 1], 'e')}"
        for x in query.exclusions
    ]
    return f"(CASE {' '.join(cases)} END)"


def _fetch(runner: Runner, source: Source, query: FunnelQuery, frame: Timeframe) -> list[tuple[Any, ...]]:
    sql = runner.sql()
    reach = _reach_ms(query, frame)
    lower = frame.from_ms - (int(query.flexible_limit_s * 1000) if query.order == "flexible" else 0)
    upper = None if reach is None else frame.to_ms + reach
    src = source.cte(sql, lower, upper)
    steps = [f"(e.name = {sql.text(s.event)} AND {sql.where(s.where)})" for s in query.steps]
    exclusions = [f"(e.name = {sql.text(x.event)} AND {sql.where(x.where)})" for x in query.exclusions]
    flags = [f"CASE WHEN {c} THEN 1 ELSE 0 END" for c in steps + exclusions]
    tracking = [_held(sql, query, held, steps) for held in query.tracking_properties]
    value = (
        "CAST(NULL AS VARCHAR)"
        if query.breakdown is None
        else sql.prop(query.breakdown.property, "e", query.breakdown.scope)
    )
    keep = "TRUE" if query.order == "strict" else " OR ".join(steps + exclusions)
    columns = ", ".join(["e.uid", "e.ts", value, *tracking, *flags])
    order = "e.uid, " + "".join(f"{t}, " for t in tracking) + "e.ts, e.seq"
    text = f"WITH src AS NOT MATERIALIZED ({src}) SELECT {columns} FROM src e WHERE {keep} ORDER BY {order}"
    return runner.run(sql, text)


def _units(query: FunnelQuery, rows: list[tuple[Any, ...]]) -> dict[tuple[Any, ...], list[Ev]]:
    """Events per unit: the user, or (user, tracking values) when properties are held constant."""
    n, m, t = len(query.steps), len(query.exclusions), len(query.tracking_properties)
    units: dict[tuple[Any, ...], list[Ev]] = defaultdict(list)
    for row in rows:
        uid, ts, value = row[0], int(row[1]), row[2]
        held = tuple(row[3 : 3 + t])
        flags = row[3 + t :]
        if t and any(v is None for v in held):
            if query.order != "strict":
                continue
            held = ()  # unrelated events still break a strict funnel of every tuple of the user
        steps = tuple(bool(f) for f in flags[:n])
        units[(int(uid), *held)].append(Ev(ts, steps, tuple(bool(f) for f in flags[n : n + m]), value))
    if t and query.order == "strict":
        # spread each user's tuple-less events into every tuple of that user
        loose = {k[0]: v for k, v in units.items() if len(k) == 1}
        for key in [k for k in units if len(k) > 1]:
            units[key] = sorted(units[key] + loose.get(key[0], []), key=lambda e: e.ts)
        for key in [k for k in units if len(k) == 1]:
            del units[key]
    return units


def _best(outcomes: list[Outcome]) -> Outcome | None:
    """A user's result over their tracking tuples: furthest clean result first."""
    if not outcomes:
        return None
    return max(outcomes, key=lambda o: (not o.excluded, o.depth, -(o.times[0] if o.times else 0)))


def _labelled_outcomes(
    query: FunnelQuery, rules: Rules, units: dict[tuple[Any, ...], list[Ev]], deadline: Deadline
) -> list[tuple[str | None, Outcome]]:
    """(group, outcome) per counted unit; a unit may fall in several groups with step attribution."""
    labelled: list[tuple[tuple[Any, ...], str | None, Outcome]] = []
    breakdown = query.breakdown
    for key, events in deadline.watch(units.items()):
        if breakdown is None or breakdown.attribution != "step":
            outcome = evaluate_unit(rules, events)
            if outcome is None:
                continue
            label = None
            if breakdown is not None:
                valued = [e for e in events if any(e.steps) and e.value is not None]
                chosen = (
                    valued[0] if breakdown.attribution == "first_touch" else (valued[-1] if valued else None)
                )
                label = chosen.value if chosen is not None else NOT_DEFINED
            labelled.append((key, label, outcome))
            continue
        k = breakdown.step - 1
        values = sorted({e.value if e.value is not None else NOT_DEFINED for e in events if e.steps[k]})
        if not values:
            outcome = evaluate_unit(rules, events)
            if outcome is not None:
                labelled.append((key, NOT_DEFINED, outcome))
            continue
        for v in values:
            restricted = [
                e
                if not e.steps[k] or (e.value if e.value is not None else NOT_DEFINED) == v
                else Ev(
                    e.ts, tuple(False if i == k else s for i, s in enumerate(e.steps)), e.exclusions, e.value
                )
                for e in events
            ]
            outcome = evaluate_unit(rules, restricted)
            if outcome is not None:
                labelled.append((key, v, outcome))
    if query.tracking_properties and query.count_by == "users":
        per_user: dict[tuple[int, str | None], list[Outcome]] = defaultdict(list)
        for key, label, outcome in labelled:
            per_user[(key[0], label)].append(outcome)
        chosen_list = [(label, _best(o)) for (_, label), o in per_user.items()]
        return [(label, o) for label, o in chosen_list if o is not None and not o.excluded]
    return [(label, o) for _, label, o in labelled if not o.excluded]


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None


def _mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 3) if values else None


def _steps_table(
    query: FunnelQuery, counts: list[int], gaps: list[list[float]], totals: list[float]
) -> dict[str, Any]:
    steps = []
    for i, step in enumerate(query.steps):
        count = counts[i]
        previous = counts[i - 1] if i else count
        steps.append(
            {
                "step": i + 1,
                "event": step.event,
                "name": step.name or step.event,
                "count": count,
                "conversion_rate": round(count / counts[0], 6) if counts[0] else None,
                "step_conversion_rate": round(count / previous, 6) if previous else None,
                "drop_off": previous - count,
                "drop_off_rate": round((previous - count) / previous, 6) if previous else None,
                "avg_time_s": _mean(gaps[i]) if i else None,
                "median_time_s": _median(gaps[i]) if i else None,
            }
        )
    return {
        "steps": steps,
        "total_conversion_rate": round(counts[-1] / counts[0], 6) if counts[0] else None,
        "avg_conversion_time_s": _mean(totals),
        "median_conversion_time_s": _median(totals),
    }


def histogram(
    bins: int, low_ms: int | None, high_ms: int | None, counts: dict[int, int]
) -> list[dict[str, Any]]:
    """Equal-width bins from the fastest to the slowest conversion; ``counts`` by bin index."""
    if low_ms is None or high_ms is None:
        return []
    width = (high_ms - low_ms) / bins
    return [
        {
            "from_s": round((low_ms + i * width) / 1000, 3),
            "to_s": round((low_ms + (i + 1) * width) / 1000, 3),
            "users": counts.get(i, 0),
        }
        for i in range(bins)
    ]


def _bin(bins: int, low_ms: int, high_ms: int, value_ms: int) -> int:
    """The bin of ``value_ms`` (integer arithmetic, as the SQL of the single-statement path does)."""
    return 0 if high_ms == low_ms else min(bins - 1, (value_ms - low_ms) * bins // (high_ms - low_ms))


def _aggregate(query: FunnelQuery, outcomes: list[Outcome]) -> dict[str, Any]:
    n = len(query.steps)
    counts = [sum(1 for o in outcomes if o.depth >= k) for k in range(1, n + 1)]
    gaps: list[list[float]] = [[] for _ in range(n)]
    totals: list[float] = []
    for o in outcomes:
        for k in range(1, min(o.depth, len(o.times))):
            gaps[k].append((o.times[k] - o.times[k - 1]) / 1000)
        if o.depth == n and len(o.times) == n and n > 1:
            totals.append((o.times[-1] - o.times[0]) / 1000)
    table = _steps_table(query, counts, gaps, totals)
    bins = query.time_to_convert_bins
    if bins is not None:
        spans = [o.times[-1] - o.times[0] for o in outcomes if o.depth == n and len(o.times) == n and n > 1]
        low, high = (min(spans), max(spans)) if spans else (None, None)
        binned: dict[int, int] = defaultdict(int)
        for span in spans:
            binned[_bin(bins, min(spans), max(spans), span)] += 1
        table["time_to_convert"] = histogram(bins, low, high, binned)
    return table


def _fast(runner: Runner, source: Source, query: FunnelQuery, frame: Timeframe) -> dict[str, Any]:
    """The plain funnel in one DuckDB statement (same rules as the kernel for this case)."""
    sql: Sql = runner.sql()
    n = len(query.steps)
    reach = _reach_ms(query, frame)
    src = source.cte(sql, frame.from_ms, None if reach is None else frame.to_ms + reach)
    limit = None if query.window.kind == "unlimited" else (query.window.seconds or 0) * 1000
    parts = [f"src AS NOT MATERIALIZED ({src})"]
    for i, step in enumerate(query.steps, start=1):
        extra = f" AND e.ts < {sql.bind(frame.to_ms)}" if i == 1 else ""
        parts.append(
            f"s{i} AS (SELECT e.uid, e.ts FROM src e WHERE e.name = {sql.text(step.event)} AND "
            f"{sql.where(step.where)}{extra})"
        )
    # Attempts still alive after step i-1 look up step i; the others stop at depth i-1 (and skip the join).
    parts.append("a1 AS (SELECT uid, ts AS t1 FROM s1)")
    carried = "t1"
    stopped = []
    for i in range(2, n + 1):
        within = f"raw{i} IS NOT NULL" + ("" if limit is None else f" AND raw{i} - t1 <= {limit!r}")
        parts.append(
            f"j{i} AS (SELECT a.*, s{i}.ts AS raw{i} FROM a{i - 1} a ASOF LEFT JOIN s{i} "
            f"ON a.uid = s{i}.uid AND s{i}.ts > a.t{i - 1})"
        )
        parts.append(f"a{i} AS (SELECT uid, {carried}, raw{i} AS t{i} FROM j{i} WHERE {within})")
        padding = "".join(f", CAST(NULL AS BIGINT) AS t{k}" for k in range(i, n + 1))
        stopped.append(f"SELECT uid, {i - 1} AS depth, {carried}{padding} FROM j{i} WHERE NOT ({within})")
        carried += f", t{i}"
    times = ", ".join(f"t{i}" for i in range(1, n + 1))
    stopped.append(f"SELECT uid, {n} AS depth, {times} FROM a{n}")
    parts.append(f"d AS ({' UNION ALL '.join(stopped)})")
    bins = query.time_to_convert_bins if n > 1 else None
    parts.append(
        f"b AS {'MATERIALIZED ' if bins else ''}(SELECT uid, max(depth) AS depth, "
        f"arg_min([{times}], ({n + 1} - depth) * 10000000000000 + t1) AS ts "
        "FROM d GROUP BY uid)"
    )
    selects = [f"count(*) FILTER (WHERE depth >= {k})" for k in range(1, n + 1)]
    for k in range(2, n + 1):
        gap = f"(ts[{k}] - ts[{k - 1}]) / 1000.0"
        selects += [f"avg({gap}) FILTER (WHERE depth >= {k})", f"median({gap}) FILTER (WHERE depth >= {k})"]
    total = f"(ts[{n}] - ts[1]) / 1000.0"
    selects += [f"avg({total}) FILTER (WHERE depth = {n})", f"median({total}) FILTER (WHERE depth = {n})"]
    tail: list[str] = []
    histogram_rows: list[dict[str, Any]] = []
    if bins:
        parts.append(f"tt AS (SELECT ts[{n}] - ts[1] AS t FROM b WHERE depth = {n})")
        parts.append("mm AS (SELECT min(t) AS lo, max(t) AS hi FROM tt)")
        parts.append(
            "hist AS (SELECT CASE WHEN hi = lo THEN 0 "
            f"ELSE least({bins - 1}, ((t - lo) * {bins}) // (hi - lo)) END AS i, count(*) AS c "
            "FROM tt, mm GROUP BY i)"
        )
        tail = ["(SELECT lo FROM mm)", "(SELECT hi FROM mm)", "(SELECT list([i, c]) FROM hist)"]
    text = "WITH " + ", ".join(parts) + " SELECT " + ", ".join(selects + tail) + " FROM b"
    row = runner.run(sql, text)[0]
    if bins:
        low, high, pairs = row[-3], row[-2], row[-1]
        row = row[:-3]
        binned = {int(i): int(c) for i, c in pairs or []}
        histogram_rows = histogram(
            bins, None if low is None else int(low), None if high is None else int(high), binned
        )
    counts = [int(v) for v in row[:n]]
    result = _steps_table(query, counts, [[] for _ in range(n)], [])
    for k in range(2, n + 1):
        avg, median = row[n + 2 * (k - 2)], row[n + 2 * (k - 2) + 1]
        result["steps"][k - 1]["avg_time_s"] = None if avg is None else round(float(avg), 3)
        result["steps"][k - 1]["median_time_s"] = None if median is None else round(float(median), 3)
    if n > 1:
        result["avg_conversion_time_s"] = None if row[-2] is None else round(float(row[-2]), 3)
        result["median_conversion_time_s"] = None if row[-1] is None else round(float(row[-1]), 3)
    if query.time_to_convert_bins is not None:
        result["time_to_convert"] = histogram_rows if bins else []
    return result


def _multipath(runner: Runner, workspace_id: int, query: FunnelQuery, force_kernel: bool) -> dict[str, Any]:
    """Optional steps: the required steps as the funnel, and one funnel per combination of optional steps.

    A path is counted inclusively (users who did its steps) and exclusively (who also did none of the
    optional steps off the path between entering and converting: those act as whole-funnel exclusions).
    """
    optional = [i for i, s in enumerate(query.steps) if s.optional]

    def plain(taken: tuple[int, ...], exclusive: bool) -> FunnelQuery:
        kept = [
            s.model_copy(update={"optional": False})
            for i, s in enumerate(query.steps)
            if not s.optional or i in taken
        ]
        exclusions = [
            Exclusion(event=query.steps[i].event, where=query.steps[i].where, from_step=1, to_step=len(kept))
            for i in optional
            if exclusive and i not in taken
        ]
        return query.model_copy(update={"steps": kept, "exclusions": exclusions})

    result = run_funnel(runner, workspace_id, plain((), False), force_kernel)
    paths = []
    for size in range(len(optional) + 1):
        for taken in combinations(optional, size):
            numbers = [i + 1 for i, s in enumerate(query.steps) if not s.optional or i in taken]
            entry: dict[str, Any] = {"steps": numbers}
            for mode in ("inclusive", "exclusive"):
                path = run_funnel(runner, workspace_id, plain(taken, mode == "exclusive"), force_kernel)
                entry[mode] = {
                    "counts": [s["count"] for s in path["steps"]],
                    "conversion_rate": path["total_conversion_rate"],
                }
            paths.append(entry)
    return {**result, "paths": paths}


def run_funnel(
    runner: Runner, workspace_id: int, query: FunnelQuery, force_kernel: bool = False
) -> dict[str, Any]:
    """The funnel's steps (and groups, and conversion over time), as a JSON-ready dict."""
    if any(s.optional for s in query.steps):
        return _multipath(runner, workspace_id, query, force_kernel)
    frame = Timeframe.of(
        query, runner.now_ms(), margin_ms=_reach_ms(query, Timeframe.of(query, runner.now_ms())) or 0
    )
    source = runner.source(workspace_id)
    head = {
        "kind": "funnel",
        "order": query.order,
        "window": query.window.kind,
        "timezone": query.timezone,
        "from_ms": frame.from_ms,
        "to_ms": frame.to_ms,
    }
    if query.over_time is not None:
        frame.keys(query.over_time, "over_time")
    if not force_kernel and _fast_path_applies(runner, query):
        return {**head, **_fast(runner, source, query, frame)}
    rules = rules_of(query, frame)
    units = _units(query, _fetch(runner, source, query, frame))
    deadline = runner.deadline()
    labelled = _labelled_outcomes(query, rules, units, deadline)
    result: dict[str, Any] = {**head, **_aggregate(query, [o for _, o in labelled])}
    if query.breakdown is not None:
        firsts: dict[str, int] = defaultdict(int)
        for label, _ in labelled:
            firsts[str(label)] += 1
        ranked = sorted(firsts, key=lambda g: (-firsts[g], g))
        kept = set(ranked[: query.breakdown.limit])
        grouped: dict[str, list[Outcome]] = defaultdict(list)
        for label, outcome in labelled:
            grouped[str(label) if str(label) in kept else OTHER].append(outcome)
        order = [g for g in ranked if g in kept] + ([OTHER] if OTHER in grouped and OTHER not in kept else [])
        result["groups"] = [{"group": g, **_aggregate(query, grouped[g])} for g in order]
    if query.over_time is not None:
        result["over_time"] = _over_time(query, frame, rules, units, deadline)
    return result


def _over_time(
    query: FunnelQuery,
    frame: Timeframe,
    rules: Rules,
    units: dict[tuple[Any, ...], list[Ev]],
    deadline: Deadline,
) -> list[dict[str, Any]]:
    """Per entry interval: users who entered in it, and those of them whose attempt from it converted."""
    interval = query.over_time or "day"
    keys = frame.keys(interval, "over_time")
    entered: dict[int, int] = defaultdict(int)
    converted: dict[int, int] = defaultdict(int)
    n = len(query.steps)
    for events in deadline.watch(units.values()):
        buckets = sorted(
            {
                frame.key_of(e.ts, interval)
                for e in events
                if e.steps[0] and frame.from_ms <= e.ts < frame.to_ms
            }
        )
        for key in buckets:
            start, end = frame.from_ms, frame.to_ms
            limited = [
                e
                if not e.steps[0] or frame.key_of(e.ts, interval) == key
                else Ev(e.ts, (False, *e.steps[1:]), e.exclusions, e.value)
                for e in events
            ]
            outcome = evaluate_unit(
                Rules(**{**rules.__dict__, "entry_from": start, "entry_to": end}), limited
            )
            if outcome is None or outcome.excluded:
                continue
            entered[key] += 1
            if outcome.depth == n:
                converted[key] += 1
    return [
        {
            "bucket": frame.start_of(k, interval),
            "entered": entered[k],
            "converted": converted[k],
            "conversion_rate": round(converted[k] / entered[k], 6) if entered[k] else None,
        }
        for k in keys
    ]
