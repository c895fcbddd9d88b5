"""CSV export of any analysis result (spec §5.5): one flat table that opens in a spreadsheet.

Segmentation: ``series, name, measure, group, bucket_start, value``. Funnels: one row per group × step.
Retention: one row per cohort × period (or bracket). Flows: one row per edge, then per node.
"""

from __future__ import annotations

import csv
import io
from typing import Any


def _rows(result: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    kind = result.get("kind")
    if kind == "segmentation":
        header = ["series", "name", "measure", "group", "bucket_start", "value"]
        rows = [
            [s["key"], s["name"], s["measure"], s["group"] or "", bucket, value]
            for s in result["series"]
            for bucket, value in zip(result["buckets"], s["values"], strict=True)
        ]
        return header, rows
    if kind == "funnel":
        columns = [
            "step",
            "name",
            "count",
            "conversion_rate",
            "step_conversion_rate",
            "drop_off",
            "avg_time_s",
            "median_time_s",
        ]
        groups = result.get("groups") or [{"group": "", "steps": result["steps"]}]
        rows = [[g["group"], *(step[c] for c in columns)] for g in groups for step in g["steps"]]
        for path in result.get("paths", []):
            for mode in ("inclusive", "exclusive"):
                label = f"path {'-'.join(str(s) for s in path['steps'])} {mode}"
                for step, count in zip(path["steps"], path[mode]["counts"], strict=True):
                    rows.append([label, step, "", count, "", "", "", "", ""])
        for point in result.get("over_time", []):
            rows.append([f"entered {point['bucket']}", 1, "entered", point["entered"], "", "", "", "", ""])
            rows.append(
                [
                    f"entered {point['bucket']}",
                    2,
                    "converted",
                    point["converted"],
                    point["conversion_rate"],
                    "",
                    "",
                    "",
                    "",
                ]
            )
        return ["group", *columns], rows
    if kind == "retention":
        header = ["cohort", "size", "period", "users", "rate", "complete"]
        rows = [
            [
                c["cohort"],
                c["size"],
                v.get("period", "{}-{}".format(*v.get("bracket", ["", ""]))),
                v["users"],
                v["rate"],
                v["complete"],
            ]
            for c in result["cohorts"]
            for v in c["values"]
        ]
        return header, rows
    if kind == "flows":
        header = ["type", "depth", "from", "to", "users", "avg_time_s", "drop_off"]
        rows = [
            ["edge", e["from_depth"], e["from"], e["to"], e["users"], e["avg_time_s"], ""]
            for e in result["edges"]
        ]
        rows += [["node", n["depth"], n["event"], "", n["users"], "", n["drop_off"]] for n in result["nodes"]]
        return header, rows
    raise ValueError(f"no CSV layout for result kind {kind!r}")


def to_csv(result: dict[str, Any]) -> str:
    """The result as CSV text (RFC 4180, CRLF line ends, a header row)."""
    header, rows = _rows(result)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return out.getvalue()
