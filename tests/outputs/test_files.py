"""The files output: NDJSON or Parquet, in date folders, named like mParticle's S3 files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pyarrow.parquet as pq

from fermion.outputs import integration_named
from fermion.outputs.integrations import COMMON_OUTPUT_SETTINGS, Record, SendContext, validate_settings

DAY_MS = 1_800_000_000_000  # 2027-01-15 UTC


def _send(settings: dict[str, object], records: list[Record]) -> None:
    files = integration_named("files")
    checked = validate_settings({**COMMON_OUTPUT_SETTINGS, **files.settings}, settings, "settings")
    with httpx.Client() as http:
        outcomes = files.send(
            checked, records, SendContext(http, lambda: DAY_MS, {}, lambda k: None, lambda k, v: None)
        )
    assert {o.status for o in outcomes} == {"delivered"}


def _record(n: int, at_ms: int) -> Record:
    body = {
        "batch_id": n,
        "mpid": str(n),
        "events": [{"event_type": "custom_event", "data": {"timestamp_unixtime_ms": at_ms}}],
    }
    return Record(n, 1, n, 0, body)


def test_ndjson_by_event_date_and_parquet(tmp_path: Path) -> None:
    _send({"directory": str(tmp_path / "nd"), "prefix": "shop", "folder_by_date": "event_time"},
          [_record(1, DAY_MS), _record(2, DAY_MS - 86_400_000)])  # fmt: skip
    folders = sorted(p.name for p in (tmp_path / "nd").iterdir())
    assert folders == ["2027-01-14", "2027-01-15"]
    [file] = list((tmp_path / "nd" / "2027-01-15").iterdir())
    assert re.fullmatch(r"shop_\d{20}_\d{5}\.txt", file.name)
    assert [json.loads(line)["batch_id"] for line in file.read_text().splitlines()] == [1]

    _send({"directory": str(tmp_path / "pq"), "format": "parquet"}, [_record(3, DAY_MS), _record(4, DAY_MS)])
    [file] = list((tmp_path / "pq").rglob("*.parquet"))
    table = pq.read_table(file).to_pylist()
    assert [json.loads(row["batch"])["batch_id"] for row in table] == [3, 4]
