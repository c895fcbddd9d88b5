"""Every calculation type and date range against hand-computed values, incrementally and by backfill."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from fermion.calculated import iso_ms
from fermion.clock import FrozenClock
from fermion.platform import Workspace
from fermion.runtime import Runtime
from tests.audiences.conftest import DAY, NOW, mpid_of, process, send, view
from tests.factories import make_batch

# Purchases of user "buyer": (timestamp, amount, item). Within 7 days of NOW: the last three.
PURCHASES = [
    (NOW - 10 * DAY, "10", "b"),
    (NOW - 5 * DAY, 20.5, "a"),
    (NOW - DAY, 4, "b"),
    (NOW - DAY + 1000, "x", "c"),  # not a number: numeric calculations skip it
]
SINCE = {"type": "since", "date": "2026-12-01T00:00:00"}  # before every purchase (NOW is 2027-01-15)
WITHIN = {"type": "within", "within": 7, "within_unit": "days"}


def _definition(kind: str, attribute: str | None, period: dict[str, Any], **extra: Any) -> dict[str, Any]:
    point: dict[str, Any] = {"type": "event", "event_name": "Purchase", "event_type": "custom_event"}
    if attribute:
        point["attribute_name"] = attribute
    return {
        "recipe_type": "event",
        "datapoint": point,
        "calculation_type": kind,
        "time_period": period,
        **extra,
    }


ATTRIBUTE = {
    "count": None,
    "sum": "amount",
    "min": "amount",
    "max": "amount",
    "average": "amount",
    "most_frequent": "item",
    "unique_values_count": "item",
    "first_occurrence": "item",
    "last_occurrence": "item",
    "first_occurrence_timestamp": None,
    "last_occurrence_timestamp": None,
    "unique_list": "item",
}
EXPECTED_SINCE = {
    "count": "4",
    "sum": "34.5",
    "min": "4",
    "max": "20.5",
    "average": "11.5",
    "most_frequent": "b",
    "unique_values_count": "3",
    "first_occurrence": "b",
    "last_occurrence": "c",
    "first_occurrence_timestamp": iso_ms(NOW - 10 * DAY),
    "last_occurrence_timestamp": iso_ms(NOW - DAY + 1000),
    "unique_list": '"a","b","c"',
}
EXPECTED_WITHIN = {
    "count": "3",
    "sum": "24.5",
    "min": "4",
    "max": "20.5",
    "average": "12.25",
    "most_frequent": "a",  # a, b and c once each: the tie goes to the first alphabetically
    "unique_values_count": "3",
    "first_occurrence": "a",
    "last_occurrence": "c",
    "first_occurrence_timestamp": iso_ms(NOW - 5 * DAY),
    "last_occurrence_timestamp": iso_ms(NOW - DAY + 1000),
    "unique_list": '"a","b","c"',
}
# Four days on, the purchase of NOW - 5 days has left the 7-day window.
EXPECTED_WITHIN_LATER = {
    "count": "2",
    "sum": "4",
    "min": "4",
    "max": "4",
    "average": "4",
    "most_frequent": "b",
    "unique_values_count": "2",
    "first_occurrence": "b",
    "last_occurrence": "c",
    "first_occurrence_timestamp": iso_ms(NOW - DAY),
    "last_occurrence_timestamp": iso_ms(NOW - DAY + 1000),
    "unique_list": '"b","c"',
}
OTHERS = {
    "count weeks": (_definition("count", None, {"type": "within", "within": 1, "within_unit": "weeks"}), "3"),
    "count since a week ago": (_definition("count", None, {"type": "since", "date": "2027-01-08"}), "3"),
    "big purchases": (
        _definition(
            "count",
            None,
            SINCE,
            conditions=[
                {"type": "number", "operator": "greater_than", "attribute_name": "amount", "value": "5"}
            ],
        ),
        "2",
    ),
    "a or c": (
        _definition(
            "count",
            None,
            SINCE,
            conditions=[
                {"type": "string", "operator": "in_list", "attribute_name": "item", "values": ["A", "c"]}
            ],
        ),
        "2",
    ),
    "minimum alias": (_definition("minimum", "amount", SINCE), "4"),
}


def _define_all(runtime: Runtime, workspace: Workspace) -> None:
    definitions = {f"{k} since": _definition(k, ATTRIBUTE[k], SINCE) for k in ATTRIBUTE}
    definitions |= {f"{k} within": _definition(k, ATTRIBUTE[k], WITHIN) for k in ATTRIBUTE}
    definitions |= {name: definition for name, (definition, _) in OTHERS.items()}
    for name, definition in definitions.items():
        created = runtime.calculated.create(workspace.id, name, None, definition)
        runtime.calculated.activate(workspace.id, created.id)


def _send_purchases(client: TestClient, auth: dict[str, str]) -> None:
    for at, amount, item in PURCHASES:
        events = [view("Purchase", at, amount=amount, item=item), view("Other", at, amount=1000, item="z")]
        send(client, auth, make_batch(events, user_identities={"customer_id": "buyer"}))


@pytest.mark.parametrize("path", ["incremental", "backfill"])
def test_every_calculation_and_date_range(
    path: str,
    client: TestClient,
    runtime: Runtime,
    workspace: Workspace,
    auth: dict[str, str],
    clock: FrozenClock,
) -> None:
    if path == "incremental":
        _define_all(runtime, workspace)
        process(runtime)
        _send_purchases(client, auth)
        process(runtime)
    else:
        _send_purchases(client, auth)
        process(runtime)
        _define_all(runtime, workspace)
        process(runtime)
    mpid = mpid_of(runtime, workspace, "buyer")
    values = runtime.calculated_values.values_of(workspace.id, mpid)

    assert {k: values.get(f"{k} since") for k in ATTRIBUTE} == EXPECTED_SINCE
    assert {k: values.get(f"{k} within") for k in ATTRIBUTE} == EXPECTED_WITHIN
    assert {name: values.get(name) for name in OTHERS} == {name: v for name, (_, v) in OTHERS.items()}
    for attribute in runtime.calculated.in_workspace(workspace.id):
        assert attribute.calculation == "done" and attribute.percent_complete == 100

    clock.set(NOW + 4 * DAY)
    process(runtime)  # no new events: the periodic sweep expires the window
    values = runtime.calculated_values.values_of(workspace.id, mpid)
    assert {k: values.get(f"{k} within") for k in ATTRIBUTE} == EXPECTED_WITHIN_LATER
    assert {k: values.get(f"{k} since") for k in ATTRIBUTE} == EXPECTED_SINCE

    clock.set(NOW + 6 * DAY + 1000)
    process(runtime)
    values = runtime.calculated_values.values_of(workspace.id, mpid)
    assert {k: values.get(f"{k} within") for k in ATTRIBUTE} == dict.fromkeys(ATTRIBUTE)


def _purchase(action: str, total: float, products: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "event_type": "commerce_event",
        "data": {"product_action": {"action": action, "total_amount": total, "products": products}},
    }


def test_commerce_products_and_quantities(
    client: TestClient, runtime: Runtime, workspace: Workspace, auth: dict[str, str]
) -> None:
    def commerce(
        kind: str, attribute: str | None, category: str = "product_attribute", **point: Any
    ) -> dict[str, Any]:
        datapoint = {
            "event_type": "commerce_event",
            "custom_event_type": "purchase",
            "attribute_category": category,
        }
        if attribute:
            datapoint["attribute_name"] = attribute
        return {"datapoint": {**datapoint, **point}, "calculation_type": kind, "time_period": SINCE}

    definitions = {
        "spend": commerce("sum", "price", use_product_quantity=True),
        "average price": commerce("average", "price", use_product_quantity=True),
        "top brand": commerce("most_frequent", "brand", use_product_quantity=True),
        "first brand": commerce("first_occurrence", "brand"),
        "last brand": commerce("last_occurrence", "brand"),
        "purchases": commerce("count", None),
        "order totals": commerce("sum", "total_amount", "event_attribute"),
    }
    for name, definition in definitions.items():
        runtime.calculated.activate(
            workspace.id, runtime.calculated.create(workspace.id, name, None, definition).id
        )
    buyers = {"type": "event", "event_type": "commerce_event", "custom_event_type": "purchase",
              "frequency": {"operator": "greater_or_equal", "value": 2}}  # fmt: skip
    audience = runtime.audiences.create(workspace.id, "repeat buyers", buyers)
    process(runtime)
    events = [
        _purchase("purchase", 25, [{"id": "1", "price": 10, "quantity": 2, "brand": "x"},
                                   {"id": "2", "price": 5, "quantity": 1, "brand": "y"}]),
        _purchase("purchase", 20, [{"id": "3", "price": 20, "quantity": 1, "brand": "y"}]),
        _purchase("add_to_cart", 100, [{"id": "4", "price": 100, "quantity": 1, "brand": "z"}]),
    ]  # fmt: skip
    send(client, auth, make_batch(events, user_identities={"customer_id": "shopper"}))
    process(runtime)

    mpid = mpid_of(runtime, workspace, "shopper")
    assert runtime.calculated_values.values_of(workspace.id, mpid) == {
        "spend": "45",  # 10 × 2 + 5 + 20
        "average price": "11.25",  # 45 over 4 items
        "top brand": "x",  # x twice (quantity 2), y twice: the tie goes to x
        "first brand": "x",
        "last brand": "y",
        "purchases": "2",
        "order totals": "45",
    }
    assert [m.mpid for m in runtime.audiences.members(workspace.id, audience.id)] == [mpid]
