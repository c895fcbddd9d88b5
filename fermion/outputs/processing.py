"""Per-connection processing, in the documented order (spec activation §4.2; docs/outputs.md):

data filter → user sampling → forwarding rules (attribute, consent, logged in) → rules → field
transformations → (audience connections) user attribute sharing.

Each step takes the outbound document and returns it changed, or None when nothing is to be forwarded.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from fermion.errors import BadRequest
from fermion.ids import stable_int64

RULE_TIMEOUT_MS = 200
FAILURE_ACTIONS = ("discard", "proceed")
FORWARDING_ACTIONS = ("only_forward", "do_not_forward")
CONSENT_WHEN = ("consented", "not_consented", "present")
MAPPING_TYPES = ("column", "static", "ignore")
DATA_POINT_TYPES = ("EventType", "Event", "EventAttribute", "UserAttribute", "UserIdentity")
_BATCH_ROOTS = ("user_attributes", "user_identities", "device_info", "application_info", "context")

_rules_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="fermion-rules")
_callables: dict[str, Callable[[dict[str, Any]], Any]] = {}


@dataclass(frozen=True)
class Processing:
    """The processing settings every connection has, checked once when the connection is saved."""

    send_new_data_points: bool
    data_points: dict[tuple[str, ...], bool]
    sampling_percent: int
    forwarding_rules: tuple[dict[str, Any], ...]
    rules: tuple[dict[str, Any], ...]
    transformations: tuple[dict[str, Any], ...]
    shared_attributes: frozenset[str] | None  # audience connections; None on event connections


def parse_processing(settings: dict[str, Any], kind: str) -> Processing:
    """The processing part of a connection's settings; a 400 names the bad part."""
    data_filter = settings.get("data_filter") or {}
    if not isinstance(data_filter, dict):
        raise BadRequest("data_filter: an object")
    points: dict[tuple[str, ...], bool] = {}
    for index, point in enumerate(data_filter.get("data_points") or []):
        points[_point_key(point, f"data_filter.data_points[{index}]")] = bool(point.get("enabled", True))
    percent = settings.get("user_sampling_percent", 100)
    if not isinstance(percent, int) or not 0 <= percent <= 100:
        raise BadRequest("user_sampling_percent: an integer from 0 to 100")
    forwarding = [
        _forwarding_rule(r, f"forwarding_rules[{i}]")
        for i, r in enumerate(_list(settings, "forwarding_rules"))
    ]
    rules = [_rule(r, f"rules[{i}]") for i, r in enumerate(_list(settings, "rules"))]
    transformations = [
        _mapping(m, f"field_transformations[{i}]")
        for i, m in enumerate(_list(settings, "field_transformations"))
    ]
    shared = settings.get("shared_attributes")
    if kind == "audience":
        if shared is not None and (
            not isinstance(shared, list) or not all(isinstance(s, str) for s in shared)
        ):
            raise BadRequest("shared_attributes: a list of user attribute names")
        shared_set: frozenset[str] | None = frozenset(shared or ())
    else:
        shared_set = None
    return Processing(
        bool(data_filter.get("send_new_data_points_by_default", True)),
        points,
        percent,
        tuple(forwarding),
        tuple(rules),
        tuple(transformations),
        shared_set,
    )


def _list(settings: dict[str, Any], name: str) -> list[Any]:
    value = settings.get(name) or []
    if not isinstance(value, list):
        raise BadRequest(f"{name}: a list")
    return value


def _point_key(point: Any, where: str) -> tuple[str, ...]:
    if not isinstance(point, dict) or point.get("type") not in DATA_POINT_TYPES:
        raise BadRequest(f"{where}.type: one of {', '.join(DATA_POINT_TYPES)}")
    kind = point["type"]
    event_type = str(point.get("event_type") or "custom_event")
    if kind == "EventType":
        return (kind, event_type)
    if kind == "Event":
        return (kind, event_type, _text(point, "name", where))
    if kind == "EventAttribute":
        return (kind, event_type, _text(point, "name", where), _text(point, "attribute_name", where))
    return (kind, str(point.get("attribute_name") or _text(point, "name", where)))


def _text(value: dict[str, Any], key: str, where: str) -> str:
    found = value.get(key)
    if not isinstance(found, str) or not found:
        raise BadRequest(f"{where}.{key}: required")
    return found


def _forwarding_rule(rule: Any, where: str) -> dict[str, Any]:
    if not isinstance(rule, dict):
        raise BadRequest(f"{where}: an object")
    kind = rule.get("type")
    if kind == "logged_in":
        return {"type": kind}
    if rule.get("action") not in FORWARDING_ACTIONS:
        raise BadRequest(f"{where}.action: one of {', '.join(FORWARDING_ACTIONS)}")
    if kind == "attribute":
        return {
            **rule,
            "attribute_name": _text(rule, "attribute_name", where),
            "value": str(rule.get("value")),
        }
    if kind == "consent":
        if rule.get("regulation") not in ("gdpr", "ccpa"):
            raise BadRequest(f"{where}.regulation: gdpr or ccpa")
        if rule.get("when", "consented") not in CONSENT_WHEN:
            raise BadRequest(f"{where}.when: one of {', '.join(CONSENT_WHEN)}")
        return {
            **rule,
            "purpose": _text(rule, "purpose", where).lower(),
            "when": rule.get("when", "consented"),
        }
    raise BadRequest(f"{where}.type: attribute, consent or logged_in")


def _rule(rule: Any, where: str) -> dict[str, Any]:
    if not isinstance(rule, dict):
        raise BadRequest(f"{where}: an object")
    target = _text(rule, "function", where)
    if rule.get("failure_action") not in FAILURE_ACTIONS:
        raise BadRequest(f"{where}.failure_action: required, discard or proceed")
    timeout = rule.get("timeout_ms", RULE_TIMEOUT_MS)
    if not isinstance(timeout, int) or timeout <= 0:
        raise BadRequest(f"{where}.timeout_ms: a positive integer")
    try:
        load_callable(target)
    except (ImportError, AttributeError, ValueError) as exc:
        raise BadRequest(f"{where}.function: cannot load {target!r}: {exc}") from exc
    return {"function": target, "failure_action": rule["failure_action"], "timeout_ms": timeout}


def _mapping(mapping: Any, where: str) -> dict[str, Any]:
    """A field transformation mapping, checked as activation-addendum A2.2 says."""
    if not isinstance(mapping, dict) or mapping.get("mapping_type") not in MAPPING_TYPES:
        raise BadRequest(f"{where}.mapping_type: one of {', '.join(MAPPING_TYPES)}")
    kind, source, destination = mapping["mapping_type"], mapping.get("source"), mapping.get("destination")
    if kind == "static" and (
        source is not None or not isinstance(destination, str) or "value" not in mapping
    ):
        raise BadRequest(f"{where}: a static mapping has a destination and a value, and no source")
    if kind == "ignore" and (destination is not None or not isinstance(source, str)):
        raise BadRequest(f"{where}: an ignore mapping has a source and no destination")
    if kind == "column" and not (isinstance(source, str) and isinstance(destination, str)):
        raise BadRequest(f"{where}: a column mapping has a source and a destination")
    return dict(mapping)


def load_callable(target: str) -> Callable[[dict[str, Any]], Any]:
    """The function named ``package.module:function`` (or ``package.module.function``)."""
    found = _callables.get(target)
    if found is None:
        module_name, _, attribute = target.partition(":") if ":" in target else target.rpartition(".")
        if not module_name or not attribute:
            raise ValueError("write it as package.module:function")
        found = getattr(importlib.import_module(module_name), attribute)
        if not callable(found):
            raise ValueError("not callable")
        _callables[target] = found
    return found


def process_batch(
    processing: Processing, connection_id: int, mpid: int, batch: dict[str, Any], consent: dict[str, Any]
) -> dict[str, Any] | None:
    """An outbound batch through an event connection's steps; None when nothing is forwarded."""
    _filter_batch(processing, batch)
    if not sampled(processing, connection_id, mpid) or not _user_rules_pass(processing, batch, consent):
        return None
    _attribute_rules(processing, batch)
    for rule in processing.rules:
        changed = _run_rule(rule, batch)
        if changed is None:
            return None
        batch = changed
    for mapping in processing.transformations:
        _transform(mapping, batch)
    return batch


def process_membership(
    processing: Processing, connection_id: int, mpid: int, change: dict[str, Any], consent: dict[str, Any]
) -> dict[str, Any] | None:
    """A membership change through an audience connection's steps; None when nothing is forwarded."""
    if not sampled(processing, connection_id, mpid):
        return None
    shared = processing.shared_attributes or frozenset()
    attributes = {k: v for k, v in change.get("user_attributes", {}).items() if k in shared}
    change["user_attributes"] = {
        k: v for k, v in attributes.items() if _enabled(processing, ("UserAttribute", k))
    }
    change["user_identities"] = {
        k: v
        for k, v in change.get("user_identities", {}).items()
        if _enabled(processing, ("UserIdentity", k))
    }
    if not _user_rules_pass(processing, {"user_identities": change["user_identities"]}, consent):
        return None
    for mapping in processing.transformations:
        _transform(mapping, change)
    return change


def is_trivial(processing: Processing) -> bool:
    """True when an event connection's steps change nothing: its batches can share one payload."""
    return (
        processing.send_new_data_points
        and not processing.data_points
        and processing.sampling_percent >= 100
        and not processing.forwarding_rules
        and not processing.rules
        and not processing.transformations
    )


def sampled(processing: Processing, connection_id: int, mpid: int) -> bool:
    """User sampling: the same users are always in the sample (all their data, not a share of events)."""
    if processing.sampling_percent >= 100:
        return True
    return stable_int64(str(connection_id), str(mpid)) % 100 < processing.sampling_percent


def _enabled(processing: Processing, key: tuple[str, ...]) -> bool:
    return processing.data_points.get(key, processing.send_new_data_points)


def _filter_batch(processing: Processing, batch: dict[str, Any]) -> None:
    """The data filter: event types, events, event attributes, user attributes and identities switched off
    are removed; switching a type or an event off removes what is below it."""
    if not processing.data_points and processing.send_new_data_points:
        return
    kept = []
    for event in batch.get("events") or []:
        event_type = str(event.get("event_type"))
        data = event.get("data") or {}
        name = str(data.get("event_name") or data.get("screen_name") or "")
        if not _enabled(processing, ("EventType", event_type)) or not _enabled(
            processing, ("Event", event_type, name)
        ):
            continue
        attributes = data.get("custom_attributes")
        if isinstance(attributes, dict):
            data["custom_attributes"] = {
                k: v
                for k, v in attributes.items()
                if _enabled(processing, ("EventAttribute", event_type, name, k))
            }
        kept.append(event)
    batch["events"] = kept
    attributes = batch.get("user_attributes")
    if isinstance(attributes, dict):
        batch["user_attributes"] = {
            k: v for k, v in attributes.items() if _enabled(processing, ("UserAttribute", k))
        }
    identities = batch.get("user_identities")
    if isinstance(identities, list):
        batch["user_identities"] = [
            i for i in identities if _enabled(processing, ("UserIdentity", str(i.get("identity_type"))))
        ]


def _user_rules_pass(processing: Processing, batch: dict[str, Any], consent: dict[str, Any]) -> bool:
    """Consent and logged-in forwarding rules, evaluated per person against the stored consent state."""
    for rule in processing.forwarding_rules:
        if rule["type"] == "logged_in" and not batch.get("user_identities"):
            return False
        if rule["type"] == "consent":
            state = (consent.get(rule["regulation"]) or {}).get(rule["purpose"])
            if rule["when"] == "present":
                holds = state is not None
            else:
                consented = bool(state.get("consented")) if isinstance(state, dict) else None
                holds = consented is True if rule["when"] == "consented" else consented is False
            if (rule["action"] == "only_forward") != holds:
                return False
    return True


def _attribute_rules(processing: Processing, batch: dict[str, Any]) -> None:
    """Attribute forwarding rules per event: exact, case-sensitive; an absent attribute does not match."""
    for rule in processing.forwarding_rules:
        if rule["type"] != "attribute":
            continue
        keep_matching = rule["action"] == "only_forward"
        batch["events"] = [
            event
            for event in batch.get("events") or []
            if _matches(event, rule["attribute_name"], rule["value"]) == keep_matching
        ]


def _matches(event: dict[str, Any], name: str, value: str) -> bool:
    attributes = (event.get("data") or {}).get("custom_attributes") or {}
    return name in attributes and str(attributes[name]) == value


def _run_rule(rule: dict[str, Any], batch: dict[str, Any]) -> dict[str, Any] | None:
    """A rule with its time limit; an error or timeout discards the batch or lets it pass unchanged."""
    function = load_callable(rule["function"])
    future = _rules_pool.submit(function, _copy(batch))
    try:
        result = future.result(timeout=rule["timeout_ms"] / 1000)
        if result is None or isinstance(result, dict):
            return result
        raise TypeError("a rule returns a batch (dict) or None")
    except (FutureTimeout, Exception):  # the rule's failure action decides, as mParticle documents
        return None if rule["failure_action"] == "discard" else batch


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _transform(mapping: dict[str, Any], document: dict[str, Any]) -> None:
    """One field transformation: ``column`` moves a field, ``static`` writes a value, ``ignore`` drops one.
    Paths under user_attributes, user_identities, device_info… are batch-level; others are per event
    (``event_type`` on the event, the rest inside ``data``; a ``data.`` prefix is allowed)."""
    kind, source, destination = mapping["mapping_type"], mapping.get("source"), mapping.get("destination")
    targets = [document]
    path_of = source or destination or ""
    if path_of.split(".")[0] not in _BATCH_ROOTS and "events" in document:
        targets = list(document.get("events") or [])
    for target in targets:
        if kind == "static":
            _set(target, str(destination), mapping["value"])
        elif kind == "ignore":
            _pop(target, str(source))
        else:
            found, value = _pop(target, str(source))
            if found:
                _set(target, str(destination), value)


def _steps(target: dict[str, Any], path: str) -> list[str]:
    parts = path.split(".")
    if (
        "events" not in target
        and parts[0] not in _BATCH_ROOTS
        and parts != ["event_type"]
        and parts[0] != "data"
    ) and "data" in target:
        parts = ["data", *parts]
    return parts


def _pop(target: dict[str, Any], path: str) -> tuple[bool, Any]:
    parts = _steps(target, path)
    node: Any = target
    for part in parts[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
    if parts[:1] == ["user_identities"] and isinstance(node, list):
        for index, identity in enumerate(node):
            if identity.get("identity_type") == parts[-1]:
                return True, node.pop(index)["identity"]
        return False, None
    if isinstance(node, dict) and parts[-1] in node:
        return True, node.pop(parts[-1])
    return False, None


def _set(target: dict[str, Any], path: str, value: Any) -> None:
    parts = _steps(target, path)
    node: Any = target
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict | list):
            node[part] = {}
        node = node[part]
    if isinstance(node, list):  # outbound user_identities
        node.append({"identity_type": parts[-1], "identity": value})
    else:
        node[parts[-1]] = value
