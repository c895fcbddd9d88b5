"""Every criterion kind and operator, evaluated in real time and by backfill over the same events."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from fermion.platform import Workspace
from fermion.runtime import Runtime
from tests.audiences.conftest import NOW, mpid_of, process, send, view
from tests.factories import make_batch

HOUR = 3_600_000


def _event(name: str, operator: str = "greater_than", value: int = 0, **extra: Any) -> dict[str, Any]:
    return {"type": "event", "event_name": name, "frequency": {"operator": operator, "value": value}, **extra}


def _attribute(name: str, operator: str, **operands: Any) -> dict[str, Any]:
    condition = {"type": "string", "attribute_name": name, "operator": operator, **operands}
    return {"type": "user_attribute", "condition": condition}


def _group(operator: str, *criteria: dict[str, Any]) -> dict[str, Any]:
    return {"type": "group", "operator": operator, "criteria": list(criteria)}


CALCULATED = {
    "recipe_type": "event",
    "datapoint": {"type": "event", "event_name": "View"},
    "calculation_type": "count",
    "time_period": {"type": "since", "date": "2026-01-01"},
}
AUDIENCES: dict[str, tuple[dict[str, Any], set[str]]] = {
    "default view": ({"type": "event", "event_name": "View"}, {"u1", "u2"}),
    "views >= 3": (_event("View", "greater_or_equal", 3), {"u1"}),
    "views < 2": (_event("View", "less_than", 2), {"u2", "u3"}),
    "views == 1": (_event("View", "equals", 1), {"u2"}),
    "views 1..2": (
        {
            "type": "event",
            "event_name": "View",
            "frequency": {"operator": "between", "value": 1, "max_value": 2},
        },
        {"u2"},
    ),
    "views > 1": (_event("View", "greater_than", 1), {"u1"}),
    "views <= 1": (_event("View", "less_than_or_equal", 1), {"u2", "u3"}),
    "CA or buyer": (_group("or", _attribute("$Country", "equals", value="ca"), _event("Buy")), {"u1", "u2"}),
    "viewers not buyers": (_group("exclude", _event("View"), _event("Buy")), {"u2"}),
    "has email": ({"type": "identity", "identity_type": "email", "operator": "exists"}, {"u1"}),
    "customer pattern": (
        {"type": "identity", "identity_type": "customer_id", "operator": "pattern", "value": "U?"},
        {"u1", "u2", "u3"},
    ),
    "nested": (
        _group(
            "and",
            _attribute("$Country", "equals", value="US"),
            _group(
                "or",
                _event("View", "greater_or_equal", 3),
                {"type": "identity", "identity_type": "email", "operator": "not_exists"},
            ),
        ),
        {"u1", "u3"},
    ),
    "calculated views >= 3": (
        {
            "type": "calculated_attribute",
            "name": "view count",
            "condition": {"type": "number", "operator": "greater_or_equal", "value": 3},
        },
        {"u1"},
    ),
    "home page views": (
        _event(
            "View",
            conditions=[{"type": "string", "attribute_name": "page", "operator": "equals", "value": "home"}],
        ),
        {"u1"},
    ),
    "viewed in the last hour": (
        {"type": "event", "event_name": "View", "recency": {"within": 1, "unit": "hours"}},
        {"u1"},
    ),
}


def _define(runtime: Runtime, workspace: Workspace) -> dict[str, int]:
    created = runtime.calculated.create(workspace.id, "view count", None, CALCULATED)
    runtime.calculated.activate(workspace.id, created.id)
    ids = {
        name: runtime.audiences.create(workspace.id, name, criteria).id
        for name, (criteria, _) in AUDIENCES.items()
    }
    member = {"type": "audience_membership", "audience_id": ids["has email"]}
    ids["member of has email"] = runtime.audiences.create(workspace.id, "member of has email", member).id
    not_member = {**member, "operator": "not_member"}
    ids["not in has email"] = runtime.audiences.create(workspace.id, "not in has email", not_member).id
    return ids


def _send(client: TestClient, auth: dict[str, str]) -> None:
    send(
        client,
        auth,
        make_batch(
            [view("View", NOW, page="home"), view("View", NOW), view("View", NOW), view("Buy", NOW)],
            user_identities={"customer_id": "u1", "email": "u1@example.com"},
            user_attributes={"$Country": "US"},
        ),
        make_batch([view("View", NOW - 2 * HOUR)], user_identities={"customer_id": "u2"},
                   user_attributes={"$Country": "CA"}),
        make_batch([], user_identities={"customer_id": "u3"}, user_attributes={"$Country": "US"}),
    )  # fmt: skip


@pytest.mark.parametrize("path", ["real time", "backfill"])
def test_memberships_of_every_criterion(
    path: str, client: TestClient, runtime: Runtime, workspace: Workspace, auth: dict[str, str]
) -> None:
    if path == "real time":
        ids = _define(runtime, workspace)
        process(runtime)
        _send(client, auth)
        process(runtime)
    else:
        _send(client, auth)
        process(runtime)
        ids = _define(runtime, workspace)
        process(runtime)
    names = {mpid_of(runtime, workspace, u): u for u in ("u1", "u2", "u3")}
    expected = {name: members for name, (_, members) in AUDIENCES.items()}
    expected |= {"member of has email": {"u1"}, "not in has email": {"u2", "u3"}}
    found = {
        name: {names[m.mpid] for m in runtime.audiences.members(workspace.id, audience_id)}
        for name, audience_id in ids.items()
    }
    assert found == expected
    for audience in runtime.audiences.in_workspace(workspace.id):
        assert audience.backfill == "done" and audience.size == len(expected[audience.name])
