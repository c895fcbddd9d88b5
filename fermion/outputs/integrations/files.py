"""Files (the shape of S3 and data-lake outputs, spec activation §6.3): outbound batches as newline-delimited
JSON, one batch a line, or Parquet (one row a batch, the batch JSON in a column), in folders by date.

File names follow mParticle's S3 output: ``<prefix>_<UTC timestamp of forwarding>_<5 random digits>.txt``
(``.parquet`` for Parquet). A file is written under a temporary name and renamed, so a reader never sees
half a file; a crash before the rename writes the batches again into a new file.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from fermion.outputs.integrations.base import (
    DeliveryFailed,
    Outcome,
    Record,
    SendContext,
    Setting,
    all_outcomes,
)
from fermion.outputs.integrations.raw_batch import RAW_BATCH_SETTINGS

FOLDER_BY = ("none", "event_time", "upload_time", "event_or_upload_time")


class Files:
    """Writes outbound batches into a directory."""

    name = "files"
    kind = "event"
    bulk_size = 1000
    bulk_wait_s = 60
    settings = {
        "directory": Setting("string", required=True, description="where the files go"),
        "prefix": Setting("string", default="fermion"),
        "format": Setting("enum", default="ndjson", choices=("ndjson", "parquet")),
        "folder_by_date": Setting("enum", default="upload_time", choices=FOLDER_BY),
        "include_system_notifications": Setting(
            "bool", default=True, description="consent changes in system_notifications"
        ),
    }
    connection_settings = RAW_BATCH_SETTINGS  # spec §6.1 "Send …" settings

    def send(self, settings: dict[str, Any], records: Sequence[Record], ctx: SendContext) -> list[Outcome]:
        """One file per date folder for the due batches."""
        now_ms = ctx.now_ms()
        folders: dict[str, list[Record]] = {}
        for record in records:
            folders.setdefault(_folder(settings["folder_by_date"], record.payload, now_ms), []).append(record)
        stamp = datetime.fromtimestamp(now_ms / 1000, UTC).strftime("%Y%m%d%H%M%S%f")
        try:
            for folder, group in folders.items():
                target = Path(settings["directory"]) / folder
                target.mkdir(parents=True, exist_ok=True)
                suffix = "parquet" if settings["format"] == "parquet" else "txt"
                path = target / f"{settings['prefix']}_{stamp}_{random.randint(0, 99999):05d}.{suffix}"
                temporary = path.with_name("." + path.name + ".tmp")
                if settings["format"] == "parquet":
                    table = pa.table({
                        "batch_id": [r.payload.get("batch_id") for r in group],
                        "mpid": [str(r.payload.get("mpid")) for r in group],
                        "batch": [json.dumps(r.payload, separators=(",", ":")) for r in group],
                    })  # fmt: skip
                    pq.write_table(table, temporary)
                else:
                    with temporary.open("w") as handle:
                        for record in group:
                            handle.write(json.dumps(record.payload, separators=(",", ":")) + "\n")
                        handle.flush()
                        os.fsync(handle.fileno())
                temporary.rename(path)
        except OSError as exc:
            raise DeliveryFailed(f"cannot write files: {exc}", retryable=True) from exc
        return all_outcomes(records, "delivered")


def _folder(mode: str, batch: dict[str, Any], now_ms: int) -> str:
    if mode == "none":
        return ""
    events = batch.get("events") or []
    first = (events[0].get("data") or {}).get("timestamp_unixtime_ms") if events else None
    if mode == "event_time":
        if first is None:
            return ""
        at = int(first)
    elif mode == "event_or_upload_time":
        at = int(first) if first is not None else now_ms
    else:
        at = now_ms
    return datetime.fromtimestamp(at / 1000, UTC).strftime("%Y-%m-%d")
