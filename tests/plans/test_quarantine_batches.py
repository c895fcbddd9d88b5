"""Quarantined batches and the batches that replay them: what is kept, and how it is addressed."""

from __future__ import annotations

import json
from typing import Any

from fermion.plans.model import Blocking
from fermion.plans.quarantine import (
    QuarantineRecord,
    blocked_event_names,
    event_id_of,
    quarantined_batch,
    replay_batch,
    replayed_record_id,
)
from fermion.plans.validator import CompiledVersion, Verdict
from fermion.schema import decode_batch
from tests.factories import make_batch
from tests.plans.batches import commerce_event, custom_event, screen_view
from tests.plans.plan_fixtures import (
    attributes_schema,
    custom_event_point,
    plan_version,
    user_attributes_point,
)

INBOX_ID = 77
JOB = "job-1"


def _without_message_id(event: dict[str, Any]) -> dict[str, Any]:
    event["data"].pop("source_message_id")
    return event


def _events() -> list[dict[str, Any]]:
    """Planned, unplanned, planned with an unplanned attribute, and unplanned without a message id."""
    return [
        custom_event("Purchase", "transaction", seats="two"),
        custom_event("Browse", "navigation"),
        custom_event("Purchase", "transaction", seats="two", coupon="X1"),
        _without_message_id(custom_event("Share", "social")),
    ]


def _quarantine(raw: dict[str, Any], blocking: Blocking | None = None) -> tuple[dict[str, Any], Verdict]:
    """Run ``raw`` through a plan as the pipeline does; the quarantined batch and the verdict."""
    version = plan_version(
        custom_event_point("Purchase", "transaction", attributes_schema({"seats": {"type": "string"}})),
        user_attributes_point({"tier": {}}),
        blocking=blocking or Blocking(events=True, event_attributes=True, user_attributes=True),
        version=3,
    )
    payload = json.dumps(raw).encode()
    batch = decode_batch(payload).batch
    ids = [event_id_of(e, INBOX_ID, i) for i, e in enumerate(raw.get("events") or [])]
    verdict = CompiledVersion(version).check(batch, ids)
    return quarantined_batch(payload, verdict), verdict


def _record(batch: dict[str, Any], mpid: int = 4242, record_id: int = 9) -> QuarantineRecord:
    return QuarantineRecord(
        id=record_id,
        workspace_id=1,
        input_id=2,
        inbox_id=INBOX_ID,
        mpid=mpid,
        received_ms=1_700_000_000_000,
        quarantined_ms=1_700_000_000_100,
        environment="development",
        data_plan_id="mobile_data_plan",
        version=3,
        reasons=("unplanned_event",),
        event_names=("Browse",),
        status="replaying",
        replay_job=JOB,
        replayed_ms=None,
        replay_outcome=None,
        batch=batch,
    )


def _replayed(raw: dict[str, Any], **record: Any) -> dict[str, Any]:
    quarantined, _ = _quarantine(raw)
    result: dict[str, Any] = json.loads(replay_batch(_record(quarantined, **record), JOB))
    return result


# ---- event ids ----


def test_an_event_id_is_its_source_message_id_else_its_inbox_position() -> None:
    assert event_id_of({"data": {"source_message_id": "m-1"}}, 5, 0) == "m-1"
    assert event_id_of({"data": {}}, 5, 2) == "inbox:5:2"
    assert event_id_of({"event_type": "session_start"}, 5, 3) == "inbox:5:3"


# ---- the quarantined batch ----


def test_the_quarantined_batch_is_the_original_with_the_plan_and_block_metadata() -> None:
    raw = make_batch(_events(), user_attributes={"tier": "gold", "$gender": "f"})

    quarantined, verdict = _quarantine(raw)

    plan = quarantined["context"]["data_plan"]
    assert plan["plan_id"] == "mobile_data_plan"
    assert plan["plan_version"] == 3
    assert plan["block_metadata"] == verdict.block_metadata
    assert plan["block_metadata"]["dto_version"] == 1
    assert plan["block_metadata"]["blocked_event_ids"] == [
        raw["events"][1]["data"]["source_message_id"],
        "inbox:77:3",
    ]
    # What was blocked is still in the quarantined copy: it holds the batch as received.
    assert quarantined["events"] == raw["events"]
    assert quarantined["user_attributes"] == {"tier": "gold", "$gender": "f"}
    assert {k: v for k, v in quarantined.items() if k != "context"} == raw


def test_the_quarantined_batch_keeps_the_rest_of_the_context() -> None:
    location = {"city_name": "Lyon", "country_code": "FR"}
    raw = make_batch(_events(), context={"location": location, "data_plan": {"plan_id": "mobile_data_plan"}})

    quarantined, _ = _quarantine(raw)

    assert quarantined["context"]["location"] == location
    assert quarantined["context"]["data_plan"]["plan_version"] == 3


def test_a_null_context_gets_one() -> None:
    quarantined, _ = _quarantine(make_batch(_events(), context=None))

    assert quarantined["context"]["data_plan"]["plan_id"] == "mobile_data_plan"


# ---- the replay batch ----


def test_a_replay_keeps_only_blocked_events_and_events_that_lost_attributes() -> None:
    raw = make_batch(_events())

    replayed = _replayed(raw)

    assert [(e["data"]["event_name"], e["data"].get("custom_attributes")) for e in replayed["events"]] == [
        ("Browse", None),
        ("Purchase", {"seats": "two", "coupon": "X1"}),
        ("Share", None),
    ]


def test_replayed_events_keep_their_original_ids() -> None:
    raw = make_batch(_events())

    replayed = _replayed(raw)

    assert [e["data"]["source_message_id"] for e in replayed["events"]] == [
        raw["events"][1]["data"]["source_message_id"],
        raw["events"][2]["data"]["source_message_id"],
        f"inbox:{INBOX_ID}:3",
    ]


def test_a_replay_is_addressed_to_the_plan_not_to_the_blocking_version() -> None:
    replayed = _replayed(make_batch(_events()))

    assert replayed["context"]["data_plan"] == {"plan_id": "mobile_data_plan"}


def test_a_replay_names_its_record_and_job() -> None:
    replayed = _replayed(make_batch(_events(), source_info={"channel": "native"}), record_id=31)

    assert replayed["source_request_id"] == f"quarantine:31:{JOB}"
    assert replayed["source_info"] == {
        "channel": "native",
        "replay_request_id": "quarantine:31",
        "replay_job_id": JOB,
    }
    assert replayed_record_id(replayed["source_info"]["replay_request_id"]) == 31


def test_a_replay_goes_to_the_records_user_when_the_batch_named_none() -> None:
    replayed = _replayed(make_batch(_events()), mpid=4242)

    assert replayed["mpid"] == 4242


def test_a_replay_keeps_the_mpid_the_batch_named() -> None:
    replayed = _replayed(make_batch(_events(), mpid=111), mpid=4242)

    assert replayed["mpid"] == 111


def test_a_replay_drops_the_batch_id_and_keeps_user_data() -> None:
    raw = make_batch(_events(), batch_id=123456, user_attributes={"tier": "gold", "$gender": "f"})

    replayed = _replayed(raw)

    assert "batch_id" not in replayed
    assert replayed["user_attributes"] == {"tier": "gold", "$gender": "f"}
    assert replayed["user_identities"] == raw["user_identities"]
    assert replayed["environment"] == "development"


def test_a_replay_batch_is_a_valid_batch() -> None:
    quarantined, _ = _quarantine(make_batch(_events()))

    batch = decode_batch(replay_batch(_record(quarantined), JOB)).batch

    assert [e.data.source_message_id for e in batch.events or ()][-1] == f"inbox:{INBOX_ID}:3"
    assert batch.source_info is not None and batch.source_info.replay_job_id == JOB


def test_a_record_blocked_for_user_attributes_only_replays_no_events() -> None:
    raw = make_batch([custom_event("Purchase", "transaction", seats="two")], user_attributes={"$gender": "f"})

    replayed = _replayed(raw)

    assert replayed["events"] == []
    assert replayed["user_attributes"] == {"$gender": "f"}


def test_replay_does_not_change_the_record() -> None:
    quarantined, _ = _quarantine(make_batch(_events(), batch_id=5))
    record = _record(quarantined)
    before = json.dumps(record.batch, sort_keys=True)

    replay_batch(record, JOB)

    assert json.dumps(record.batch, sort_keys=True) == before


def test_only_quarantine_replay_ids_name_a_record() -> None:
    assert replayed_record_id("quarantine:12") == 12
    assert replayed_record_id("quarantine:twelve") is None
    assert replayed_record_id("something-else:12") is None
    assert replayed_record_id(None) is None


def test_blocked_events_are_listed_by_name() -> None:
    raw = make_batch([*_events(), screen_view("Settings"), commerce_event("refund")])

    quarantined, verdict = _quarantine(raw)

    assert blocked_event_names(quarantined, verdict) == ["Browse", "Share", "Settings", "commerce_event"]
