"""Service limits (spec §6.1): long names are truncated; everything else over a limit is rejected."""

from __future__ import annotations

from typing import Any

import pytest

from fermion.errors import BatchValidationError
from fermion.schema import (
    BatchLimits,
    CommerceEvent,
    CustomEvent,
    ScreenViewEvent,
    apply_limits,
    decode_batch,
)
from tests.factories import make_batch, make_event
from tests.schema.examples import decode, make_commerce_event, raw


def rejection(document: dict[str, Any], **options: Any) -> BatchValidationError:
    with pytest.raises(BatchValidationError) as caught:
        decode(document, **options)
    return caught.value


def test_batch_at_every_limit_is_accepted_unchanged() -> None:
    document = make_batch(
        [
            make_event(
                "custom_event",
                event_name="n" * 256,
                custom_attributes={f"{i:0>256}": "v" * 4096 for i in range(100)},
            )
        ]
        * 1000,
        user_attributes={f"{i:0>256}": ["e" * 512] * 1000 if i == 0 else "v" * 4096 for i in range(100)},
    )
    decoded = decode(document)
    assert decoded.normalised is False
    assert decoded.batch.events is not None and len(decoded.batch.events) == 1000


def test_long_event_names_are_truncated() -> None:
    decoded = decode(
        make_batch(
            [
                make_event("custom_event", event_name="c" * 300),
                make_event("screen_view", screen_name="s" * 257),
                make_commerce_event(event_name="e" * 400),
                make_event("custom_event", event_name="short"),
            ]
        )
    )
    assert decoded.normalised is True
    events = decoded.batch.events
    assert events is not None
    assert isinstance(events[0], CustomEvent) and events[0].data.event_name == "c" * 256
    assert isinstance(events[1], ScreenViewEvent) and events[1].data.screen_name == "s" * 256
    assert isinstance(events[2], CommerceEvent) and events[2].data.event_name == "e" * 256
    assert isinstance(events[3], CustomEvent) and events[3].data.event_name == "short"


def test_long_attribute_names_are_truncated() -> None:
    decoded = decode(
        make_batch(
            [make_event("custom_event", custom_attributes={"a" * 300: 1, "b": "two"})],
            user_attributes={"u" * 260: "gold", "tier": ["x"]},
        )
    )
    assert decoded.normalised is True
    events = decoded.batch.events
    assert events is not None
    assert events[0].data.custom_attributes == {"a" * 256: 1, "b": "two"}
    assert decoded.batch.user_attributes == {"u" * 256: "gold", "tier": ["x"]}


def test_limits_are_configurable() -> None:
    limits = BatchLimits(max_event_name_length=5, max_attribute_name_length=3)
    decoded = decode(
        make_batch([make_event("custom_event", event_name="Signed Up", custom_attributes={"plan": 1})]),
        limits=limits,
    )
    events = decoded.batch.events
    assert events is not None and isinstance(events[0], CustomEvent)
    assert (events[0].data.event_name, events[0].data.custom_attributes) == ("Signe", {"pla": 1})
    with pytest.raises(BatchValidationError):
        decode(make_batch([make_event()] * 3), limits=BatchLimits(max_events_per_batch=2))


@pytest.mark.parametrize("prefix", ["$", "$[2]"])
def test_too_many_events(prefix: str) -> None:
    error = rejection(make_batch([make_event()] * 1001), path=prefix)
    assert error.path == f"{prefix}.events"
    assert "1001 events" in error.message and "limit is 1000" in error.message
    assert "max_events_per_batch" in error.message


def test_too_many_attributes_on_one_event() -> None:
    attributes = {f"k{i}": i for i in range(101)}
    error = rejection(make_batch([make_event(), make_event("screen_view", custom_attributes=attributes)]))
    assert error.path == "$.events[1].data.custom_attributes"
    assert "101 attributes" in error.message and "limit is 100" in error.message


@pytest.mark.parametrize(("name", "path_end"), [("note", ".note"), ("my note", '["my note"]')])
def test_attribute_value_too_long(name: str, path_end: str) -> None:
    document = make_batch([make_event("session_end", custom_attributes={"ok": 1, name: "x" * 4097})])
    error = rejection(document)
    assert error.path == "$.events[0].data.custom_attributes" + path_end
    assert "4097 characters" in error.message and "limit is 4096" in error.message


def test_non_string_attribute_values_have_no_length_limit() -> None:
    decoded = decode(
        make_batch([make_event(custom_attributes={"big": 2**63 - 1, "huge": 1e300, "flag": True})])
    )
    assert decoded.normalised is False


def test_too_many_user_attributes() -> None:
    error = rejection(make_batch(user_attributes={f"a{i}": i for i in range(101)}))
    assert error.path == "$.user_attributes"
    assert "101 user attributes" in error.message and "limit is 100" in error.message


def test_user_attribute_value_too_long() -> None:
    error = rejection(make_batch(user_attributes={"bio": "b" * 4097}))
    assert error.path == "$.user_attributes.bio"
    assert "4097 characters" in error.message


def test_user_attribute_list_too_long() -> None:
    error = rejection(make_batch(user_attributes={"tags": ["t"] * 1001}), path="$[7]")
    assert error.path == "$[7].user_attributes.tags"
    assert "1001 entries" in error.message and "limit is 1000" in error.message


def test_user_attribute_list_entry_too_long() -> None:
    error = rejection(make_batch(user_attributes={"tags": ["a", "b", "c" * 513]}))
    assert error.path == "$.user_attributes.tags[2]"
    assert "513 characters" in error.message and "limit is 512" in error.message


def test_apply_limits_reports_whether_it_changed_the_batch() -> None:
    batch = decode_batch(raw(make_batch([make_event(event_name="x" * 10)]))).batch
    assert apply_limits(batch, BatchLimits(), "$") is False
    assert apply_limits(batch, BatchLimits(max_event_name_length=4), "$") is True
    assert apply_limits(batch, BatchLimits(max_event_name_length=4), "$") is False
