"""The Calculated Attributes Seeding API's request (spec activation §2.7): historical values per user.

A seed stands for everything before its cutoff date; events on or after the cutoff are folded onto it.
Rolling ("within") windows cannot be seeded, since seeds never decrement.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fermion.calculated.conditions import as_ms, as_number
from fermion.calculated.definition import calculation_type_of
from fermion.errors import BadRequest


@dataclass(frozen=True)
class SeedItem:
    """One attribute's seed: its folded state and the cutoff it stands before."""

    attribute_name: str
    calculation_type: str
    cutoff_ms: int
    state: dict[str, Any]


@dataclass(frozen=True)
class SeedRequest:
    """One user's seeds; the user is named by ``mpid`` or, failing that, by ``identities``."""

    environment: str
    mpid: int | None
    identities: dict[str, str]
    items: tuple[SeedItem, ...]


def parse_seed_request(body: Any) -> SeedRequest:
    """Validate one request object; BadRequest with ``<attribute name>: <message>`` for a bad seed."""
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    environment = body.get("environment")
    if environment not in ("production", "development"):
        raise BadRequest("Field 'environment' must be production or development.")
    mpid = body.get("mpid")
    if mpid is not None and (not isinstance(mpid, int) or isinstance(mpid, bool)):
        try:
            mpid = int(str(mpid))
        except ValueError as exc:
            raise BadRequest("Field 'mpid' must be a number.") from exc
    identities = body.get("identities") or {}
    if not isinstance(identities, dict) or not all(isinstance(v, str) for v in identities.values()):
        raise BadRequest("Field 'identities' must map identity names to strings.")
    if mpid is None and not identities:
        raise BadRequest("One of 'mpid' or 'identities' is required.")
    workspace = (body.get("calculated_attributes") or {}).get("workspace")
    if not isinstance(workspace, list) or not workspace:
        raise BadRequest("Field 'calculated_attributes.workspace' is required.")
    items = tuple(_item(entry) for entry in workspace)
    return SeedRequest(environment, mpid, dict(identities), items)


def _item(entry: Any) -> SeedItem:
    if not isinstance(entry, dict) or not isinstance(entry.get("attribute_name"), str):
        raise BadRequest("Each seed needs an 'attribute_name'.")
    name = entry["attribute_name"]
    try:
        kind = calculation_type_of(entry.get("calculation_type"))
    except BadRequest as exc:
        raise BadRequest(f"{name}: {exc.message}") from exc
    cutoff = as_ms(entry.get("cutoff_date", entry.get("cuttoff_date")))
    if cutoff is None:
        raise BadRequest(f"{name}: 'cutoff_date' must be a date (yyyy-MM-dd)")
    seed = entry.get("seed")
    if not isinstance(seed, dict):
        raise BadRequest(f"{name}: 'seed' must be an object")
    return SeedItem(name, kind, cutoff, _state(name, kind, cutoff, seed))


def _state(name: str, kind: str, cutoff: int, seed: dict[str, Any]) -> dict[str, Any]:
    def number(value: Any) -> float:
        found = as_number(value)
        if found is None:
            raise BadRequest(f"{name}: Seed value must be numeric")
        return found

    if kind == "count":
        return {"n": int(number(seed.get("value")))}
    if kind == "sum":
        return {"s": number(seed.get("value")), "n": 1}
    if kind in ("min", "max"):
        return {"v": number(seed.get("value"))}
    if kind == "average":
        pairs = seed.get("key_value_pairs") or {}
        count = pairs.get("count")
        if not isinstance(count, int) or count <= 0:
            raise BadRequest(f"{name}: Seed count must be a positive integer")
        return {"s": number(pairs.get("sum")), "n": count}
    if kind == "most_frequent":
        pairs = seed.get("key_value_pairs")
        if not isinstance(pairs, dict):
            raise BadRequest(f"{name}: Seed must have 'key_value_pairs'")
        return {"c": {str(k): number(v) for k, v in pairs.items()}}
    if kind in ("unique_list", "unique_values_count"):
        values = seed.get("list")
        if not isinstance(values, list):
            raise BadRequest(f"{name}: Seed must have a 'list'")
        return {"u": list(dict.fromkeys(str(v) for v in values))}
    if kind.endswith("_timestamp"):
        return {"t": int(number(seed.get("value"))), "v": None}
    if seed.get("value") is None:
        raise BadRequest(f"{name}: Seed must have a 'value'")
    return {"t": cutoff - 1, "v": seed["value"]}
