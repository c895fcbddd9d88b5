"""The calculations of spec activation §2.2 as folds over (timestamp, value) observations.

A ``since`` attribute keeps a running state per user; a ``within`` attribute keeps its observations in the
window and folds them when its value is read, so a value leaves the window exactly when the Clock passes
it. Both paths use the same fold, which is why backfill and incremental processing agree.
Values are strings, as mParticle stores them: numbers plain, timestamps ISO-8601 UTC, lists
comma-separated and quoted, sorted alphabetically.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Final

from fermion.calculated.conditions import as_number
from fermion.calculated.definition import Definition
from fermion.calculated.matcher import EventView

DISTINCT_CAP: Final = 100  # most_frequent and unique_list stop collecting new values after 100
NUMERIC: Final = frozenset({"sum", "min", "max", "average"})


def observations(definition: Definition, view: EventView) -> list[tuple[int, Any]]:
    """What one matching event contributes: (timestamp, value) pairs; none when it lacks the attribute."""
    ts = view.event.timestamp_ms
    name = definition.attribute_name
    kind = definition.calculation_type
    if name is None:
        return [(ts, None)]
    if definition.attribute_category == "event_attribute":
        attributes = view.attributes()
        if name not in attributes:
            return []
        return [(ts, attributes[name])]
    items = view.products() if definition.attribute_category == "product_attribute" else view.promotions()
    found: list[tuple[int, Any]] = []
    for item in items:
        value = item.get(name, (item.get("custom_attributes") or {}).get(name))
        if value is None:
            continue
        weight = as_number(item.get("quantity")) if definition.use_product_quantity else None
        if weight is not None and kind in ("sum", "average"):
            number = as_number(value)
            value = None if number is None else [number * weight, weight]
        elif weight is not None and kind == "most_frequent":
            value = [value, weight]
        found.append((ts, value))
    return found


def fold(kind: str, state: dict[str, Any], ts: int, value: Any) -> None:
    """Add one observation to a running ``state`` of calculation ``kind``."""
    if kind == "count":
        state["n"] = state.get("n", 0) + 1
    elif kind in NUMERIC:
        weight = 1.0
        if isinstance(value, list):  # (value × quantity, quantity) from a product with use_product_quantity
            value, weight = value
        number = as_number(value)
        if number is None:
            return
        if kind in ("sum", "average"):
            state["s"] = state.get("s", 0.0) + number
            state["n"] = state.get("n", 0.0) + weight
        elif kind == "min":
            state["v"] = number if "v" not in state else min(state["v"], number)
        else:
            state["v"] = number if "v" not in state else max(state["v"], number)
    elif kind == "most_frequent":
        weight = 1.0
        if isinstance(value, list):
            value, weight = value[0], as_number(value[1]) or 1.0
        key = _text(value)
        counts = state.setdefault("c", {})
        if key in counts or len(counts) < DISTINCT_CAP:
            counts[key] = counts.get(key, 0) + weight
    elif kind in ("unique_list", "unique_values_count"):
        seen = state.setdefault("u", [])
        key = _text(value)
        if key not in seen and (kind == "unique_values_count" or len(seen) < DISTINCT_CAP):
            seen.append(key)
    elif kind.startswith("first_occurrence"):
        if "t" not in state or ts < state["t"]:  # an earlier tie keeps the value seen first
            state["t"], state["v"] = ts, value
    elif "t" not in state or ts >= state["t"]:  # last_occurrence*: a tie takes the value seen last
        state["t"], state["v"] = ts, value


def fold_all(
    kind: str, observed: Iterable[tuple[int, Any]], state: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Fold many observations, in order, onto ``state`` (a copy of a seed) or a new state."""
    folded: dict[str, Any] = dict(state or {})
    for ts, value in observed:
        fold(kind, folded, ts, value)
    return folded


def value_of(kind: str, state: dict[str, Any]) -> str | None:
    """The attribute's value for a folded state; None when there is nothing to show."""
    if not state:
        return None
    if kind == "count":
        return str(state.get("n", 0))
    if kind in ("sum", "average"):
        if not state.get("n"):
            return None
        return _number(state["s"] if kind == "sum" else state["s"] / state["n"])
    if kind in ("min", "max"):
        return _number(state["v"]) if "v" in state else None
    if kind == "most_frequent":
        counts: dict[str, float] = state.get("c") or {}
        if not counts:
            return None
        return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[0][0]
    if kind == "unique_values_count":
        return str(len(state.get("u") or ()))
    if kind == "unique_list":
        values = state.get("u") or []
        return ",".join(f'"{v}"' for v in sorted(values)) if values else None
    if "t" not in state:
        return None
    if kind.endswith("_timestamp"):
        return iso_ms(state["t"])
    return None if state.get("v") is None else _text(state["v"])


def iso_ms(ms: int) -> str:
    """ISO-8601 UTC with milliseconds, ``Z`` suffix."""
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _number(value: float) -> str:
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
