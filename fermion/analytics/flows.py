"""User flows (spec §4.4–§4.5): the paths users take after (or before) an anchor event.

Each user's path starts at their first anchor event in the range and follows their next events in time order
(or their previous ones, for ``before``), up to ``max_steps`` nodes and ``max_span_s`` from the anchor. A gap
longer than ``session_gap_s`` ends the path; consecutive repeats collapse into one node when
``collapse_repeats``; excluded events are skipped. Nodes and edges count distinct users; each edge carries the
average time between its two nodes, and each node the users whose path ends there (drop-off).
"""

from __future__ import annotations

from typing import Any

from fermion.analytics.definitions import FlowsQuery
from fermion.analytics.runner import Runner
from fermion.analytics.timeframe import Timeframe


def run_flows(runner: Runner, workspace_id: int, query: FlowsQuery) -> dict[str, Any]:
    """Nodes, edges and drop-offs of the paths from (or to) the anchor event, as a JSON-ready dict."""
    frame = Timeframe.of(query, runner.now_ms())
    source = runner.source(workspace_id)
    sql = runner.sql()
    after = query.direction == "after"
    span = int(query.max_span_s * 1000)
    src = source.cte(sql, frame.from_ms - (0 if after else span), frame.to_ms + (span if after else 0))
    anchor = (
        "anchors AS (SELECT uid, ts, seq FROM (SELECT e.uid, e.ts, e.seq, "
        "row_number() OVER (PARTITION BY e.uid ORDER BY e.ts, e.seq) AS n FROM src e "
        f"WHERE e.name = {sql.text(query.event)} AND {sql.where(query.where)} "
        f"AND e.ts >= {sql.bind(frame.from_ms)} AND e.ts < {sql.bind(frame.to_ms)}) f WHERE n = 1)"
    )
    excluded = ""
    if query.exclude_events:
        names = ", ".join(sql.text(n) for n in query.exclude_events)
        excluded = f" AND (e.name NOT IN ({names}) OR (e.ts = a.ts AND e.seq = a.seq))"
    direction = "ASC" if after else "DESC"
    side = (
        f"(e.ts > a.ts OR (e.ts = a.ts AND e.seq >= a.seq)) AND e.ts <= a.ts + {span}"
        if after
        else f"(e.ts < a.ts OR (e.ts = a.ts AND e.seq <= a.seq)) AND e.ts >= a.ts - {span}"
    )
    gap = "0" if query.session_gap_s is None else str(int(query.session_gap_s * 1000))
    ordered_inner = f"ORDER BY ts {direction}, seq {direction}"
    broken = (
        "0"
        if query.session_gap_s is None
        else f"CASE WHEN abs(ts - lag(ts) OVER (PARTITION BY uid {ordered_inner})) > {gap} THEN 1 ELSE 0 END"
    )
    repeat = (
        f"CASE WHEN name = lag(name) OVER (PARTITION BY uid {ordered_inner}) THEN 1 ELSE 0 END"
        if query.collapse_repeats
        else "0"
    )
    text = (
        f"WITH src AS NOT MATERIALIZED ({src}), {anchor}, "
        "walk AS (SELECT e.uid, e.name, e.ts, e.seq FROM src e "
        f"JOIN anchors a ON e.uid = a.uid AND {side}{excluded}), "
        f"marked AS (SELECT uid, name, ts, seq, {broken} AS brk FROM walk), "
        f"sessions AS (SELECT uid, name, ts, seq, sum(brk) OVER (PARTITION BY uid {ordered_inner} "
        "ROWS UNBOUNDED PRECEDING) AS part FROM marked), "
        f"kept AS (SELECT uid, name, ts, seq, {repeat} AS rep FROM sessions WHERE part = 0), "
        f"steps AS (SELECT uid, name, ts, row_number() OVER (PARTITION BY uid {ordered_inner}) AS depth "
        "FROM kept WHERE rep = 0), "
        "path AS (SELECT uid, name, ts, depth, "
        "lead(name) OVER (PARTITION BY uid ORDER BY depth) AS next_name, "
        "lead(ts) OVER (PARTITION BY uid ORDER BY depth) AS next_ts FROM steps) "
        "SELECT depth, name, next_name, CAST(count(*) AS BIGINT), "
        "CAST(avg(abs(next_ts - ts)) AS DOUBLE PRECISION) "
        f"FROM path WHERE depth <= {int(query.max_steps)} GROUP BY depth, name, next_name"
    )
    rows = runner.run(sql, text)
    nodes: dict[tuple[int, str], dict[str, Any]] = {}
    edges: list[dict[str, Any]] = []
    for depth, name, next_name, users, avg_ms in rows:
        node = nodes.setdefault(
            (int(depth), str(name)), {"depth": int(depth), "event": str(name), "users": 0, "drop_off": 0}
        )
        node["users"] += int(users)
        if int(depth) == query.max_steps:
            continue  # the path goes on beyond what was asked for: neither an edge nor a drop-off
        if next_name is None:
            node["drop_off"] += int(users)
        else:
            edges.append(
                {
                    "from_depth": int(depth),
                    "from": str(name),
                    "to": str(next_name),
                    "users": int(users),
                    "avg_time_s": None if avg_ms is None else round(float(avg_ms) / 1000, 3),
                }
            )
    edges.sort(key=lambda e: (-e["users"], e["from_depth"], e["from"], e["to"]))
    kept_edges = edges[: query.edge_limit]
    return {
        "kind": "flows",
        "event": query.event,
        "direction": query.direction,
        "timezone": query.timezone,
        "from_ms": frame.from_ms,
        "to_ms": frame.to_ms,
        "users": sum(n["users"] for n in nodes.values() if n["depth"] == 1),
        "nodes": sorted(nodes.values(), key=lambda n: (n["depth"], -n["users"], n["event"])),
        "edges": kept_edges,
        "edges_left_off": len(edges) - len(kept_edges),
    }
