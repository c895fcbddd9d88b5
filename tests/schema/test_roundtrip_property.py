"""Property tests: valid batches survive encode -> decode unchanged."""

from __future__ import annotations

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from fermion.errors import BatchValidationError
from fermion.schema import Batch, decode_batch, encode_batch
from tests.schema.strategies import BATCHES


@settings(max_examples=300, deadline=None)
@given(BATCHES)
def test_batches_round_trip_through_encode_and_decode(batch: Batch) -> None:
    encoded = encode_batch(batch)
    decoded = decode_batch(encoded)
    assert decoded.batch == batch
    assert decoded.mpid == batch.mpid
    assert decoded.normalised is False
    assert encode_batch(decoded.batch) == encoded


@settings(max_examples=200, deadline=None)
@given(BATCHES)
def test_unwrapped_events_decode_like_their_envelopes(batch: Batch) -> None:
    """Stripping the envelope of any event whose type is inferable changes nothing after decoding."""
    document = msgspec.json.decode(encode_batch(batch))
    stripped = []
    for event in document.get("events") or []:
        data = event["data"]
        inferable = (
            event["event_type"] == "custom_event"
            or (event["event_type"] == "screen_view" and "screen_name" in data)
            or (
                event["event_type"] == "commerce_event"
                and data.keys() & {"product_action", "promotion_action", "product_impressions"}
            )
        )
        stripped.append(data if inferable else event)
    document["events"] = stripped if "events" in document else None
    assert decode_batch(msgspec.json.encode(document)).batch == decode_batch(encode_batch(batch)).batch


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
EVENT_KEYS = st.sampled_from(
    ["event_type", "data", "event_name", "custom_event_type", "screen_name", "label", "url"]
)
EVENTISH = st.dictionaries(
    EVENT_KEYS | st.text(max_size=5), JSON | st.sampled_from(["custom_event", "", "x"]), max_size=4
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(st.sampled_from(["events", "mpid", "user_identities", "environment"]), JSON) | JSON,
    st.lists(EVENTISH, max_size=3),
)
def test_any_json_is_decoded_or_rejected_with_a_validation_error(
    document: object, events: list[object]
) -> None:
    for candidate in (document, {"events": events}):
        try:
            decode_batch(msgspec.json.encode(candidate), path="$[0]")
        except BatchValidationError as error:
            assert error.path.startswith("$[0]")
