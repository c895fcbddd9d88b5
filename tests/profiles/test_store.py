"""Profiles: reserved attribute names in any casing are one attribute; attribute changes are recorded."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.sql import Insert
from starlette.testclient import TestClient

from fermion.profiles import AttributeChange, AttributeValue, ProfileUpdate, canonical_attribute_name
from fermion.runtime import Runtime
from tests.factories import make_batch

WS = 1
MPID = 4242


def _update(
    seen_ms: int,
    attributes: dict[str, AttributeValue] | None = None,
    deleted: tuple[str, ...] = (),
    mpid: int = MPID,
) -> ProfileUpdate:
    return ProfileUpdate(
        workspace_id=WS,
        mpid=mpid,
        seen_ms=seen_ms,
        user_attributes=attributes or {},
        deleted_user_attributes=deleted,
    )


def _apply(runtime: Runtime, *updates: ProfileUpdate) -> None:
    with runtime.engine.begin() as conn:
        runtime.profiles.apply(conn, list(updates), now_ms=9_000)


def _attributes(runtime: Runtime, mpid: int = MPID) -> dict[str, Any]:
    profile = runtime.profiles.get(WS, mpid)
    assert profile is not None
    return profile.user_attributes


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("$firstname", "$FirstName"),
        ("$FIRSTNAME", "$FirstName"),
        ("$age", "$Age"),
        ("$zip", "$Zip"),
        ("$Mobile", "$Mobile"),
        ("$country", "$Country"),
        ("$shoe_size", "$shoe_size"),
        ("firstname", "firstname"),
        ("Plan", "Plan"),
    ],
)
def test_reserved_names_take_the_sdk_casing(sent: str, stored: str) -> None:
    assert canonical_attribute_name(sent) == stored


def test_reserved_attributes_in_any_casing_are_one_attribute(runtime: Runtime) -> None:
    _apply(runtime, _update(1, {"$firstname": "Ann", "$city": "Oslo", "plan": "gold", "Plan": "silver"}))
    _apply(runtime, _update(2, {"$FirstName": "Bo", "$CITY": "Oslo"}))
    assert _attributes(runtime) == {"$FirstName": "Bo", "$City": "Oslo", "plan": "gold", "Plan": "silver"}
    _apply(runtime, _update(3, deleted=("$firstNAME",)))
    assert _attributes(runtime) == {"$City": "Oslo", "plan": "gold", "Plan": "silver"}


def test_reserved_casing_through_the_pipeline(
    client: TestClient, auth: dict[str, str], runtime: Runtime
) -> None:
    for attributes in ({"$firstname": "Ann", "$lastname": "Lee"}, {"$FirstName": "Anna"}):
        batch = make_batch(user_identities={"customer_id": "casing"}, user_attributes=attributes)
        assert client.post("/v2/events", json=batch, headers=auth).status_code == 202
    runtime.new_worker().drain()
    mpid = runtime.profiles.find_by_identity(WS, "customer_id", "casing")
    assert mpid is not None
    assert _attributes(runtime, mpid) == {"$FirstName": "Anna", "$LastName": "Lee"}
    names = [c.name for c in runtime.profiles.attribute_history(WS, mpid, 10)]
    assert sorted(names) == ["$FirstName", "$FirstName", "$LastName"]


def test_history_records_only_real_changes(runtime: Runtime) -> None:
    _apply(runtime, _update(1, {"plan": "gold", "score": 1, "vip": None}))
    _apply(runtime, _update(2, {"plan": "gold", "score": 1, "vip": None}))  # the same again: no change
    _apply(runtime, _update(3, {"plan": "platinum", "score": 1.5}))
    _apply(runtime, _update(4, {"score": 1.5, "flag": True}))
    _apply(runtime, _update(5, {"flag": 1}))  # equal in Python, another value in JSON
    _apply(runtime, _update(6, deleted=("vip", "never-set")))
    _apply(runtime, _update(7, {"tags": ["a", "b"]}))
    _apply(runtime, _update(8, {"tags": ["a", "b"]}))

    history = runtime.profiles.attribute_history(WS, MPID, 100)

    assert history == [
        AttributeChange(7, "tags", None, ["a", "b"], False),
        AttributeChange(6, "vip", None, None, True),
        AttributeChange(5, "flag", True, 1, False),
        AttributeChange(4, "flag", None, True, False),
        AttributeChange(3, "score", 1, 1.5, False),
        AttributeChange(3, "plan", "gold", "platinum", False),
        AttributeChange(1, "vip", None, None, False),
        AttributeChange(1, "score", None, 1, False),
        AttributeChange(1, "plan", None, "gold", False),
    ]
    assert runtime.profiles.attribute_history(WS, MPID, 2) == history[:2]
    assert runtime.profiles.attribute_history(WS, MPID + 1, 10) == []


def test_a_micro_batch_writes_its_changes_in_one_statement(runtime: Runtime) -> None:
    inserts: list[Any] = []

    def count(_conn: Any, clause: Any, multiparams: Any, params: Any, options: Any) -> None:
        if isinstance(clause, Insert) and clause.table.name == "profile_attribute_changes":
            inserts.append(multiparams)

    event.listen(runtime.engine, "before_execute", count)
    try:
        updates = [_update(i, {"step": i, f"only_{i}": "x"}, mpid=MPID + i % 3) for i in range(30)]
        _apply(runtime, *updates)
        _apply(runtime, *[_update(99, {"step": 27 + k}, mpid=MPID + k) for k in range(3)])  # no change
    finally:
        event.remove(runtime.engine, "before_execute", count)

    assert len(inserts) == 1
    total = sum(len(runtime.profiles.attribute_history(WS, MPID + k, 1000)) for k in range(3))
    assert total == 60  # each update: a new `only_i` and another `step`


def test_stored_lowercase_reserved_names_read_canonical(runtime: Runtime) -> None:
    _apply(runtime, _update(1, {"plan": "gold"}))
    with runtime.engine.begin() as conn:  # a row as an older release wrote it, before canonical casing
        conn.execute(
            text("UPDATE profiles SET user_attributes = :a"),
            {"a": '{"$firstname":"Old","$FirstName":"New","plan":"gold"}'},
        )
    assert _attributes(runtime) == {"$FirstName": "New", "plan": "gold"}
    _apply(runtime, _update(2, {"$FIRSTNAME": "Newer"}))
    assert _attributes(runtime) == {"$FirstName": "Newer", "plan": "gold"}
    assert runtime.profiles.attribute_history(WS, MPID, 1) == [
        AttributeChange(2, "$FirstName", "New", "Newer", False)
    ]


def test_an_alias_destination_adopts_the_earlier_first_seen(runtime: Runtime) -> None:
    _apply(runtime, _update(500, {"a": 1}, mpid=1), _update(100, {"b": 1}, mpid=2), _update(900, mpid=3))
    for source in (2, 3, 404):  # earlier, later, no such profile
        with runtime.engine.begin() as conn:
            runtime.profiles.adopt_first_seen(conn, WS, 1, source)
    destination = runtime.profiles.get(WS, 1)
    assert destination is not None and destination.first_seen_ms == 100
