"""Rules that connections in the tests reference by dotted path."""

from __future__ import annotations

import time
from typing import Any


def tag(batch: dict[str, Any]) -> dict[str, Any]:
    batch["user_attributes"] = {**(batch.get("user_attributes") or {}), "tagged": True}
    return batch


def drop(batch: dict[str, Any]) -> None:
    return None


def boom(batch: dict[str, Any]) -> dict[str, Any]:
    raise ValueError("rule failed")


def slow(batch: dict[str, Any]) -> dict[str, Any]:
    time.sleep(0.5)
    return batch
