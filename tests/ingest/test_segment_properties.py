"""Any message a sender can post is either mapped to a batch the schema decodes or refused with a client
error: never a server fault (a 503 would make Segment's clients retry it forever)."""

from __future__ import annotations

from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from fermion.errors import ClientError
from fermion.ingest.segment.mapping import TYPES, check, map_message
from fermion.schema import decode_batch

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
SCALAR = st.text(max_size=5) | st.integers()


def keyed(*names: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.sampled_from(names), JSON, max_size=6)


MESSAGES = st.fixed_dictionaries(
    {},
    optional={
        "userId": SCALAR,
        "anonymousId": SCALAR,
        "messageId": SCALAR,
        "event": st.sampled_from(
            ["Order Completed", "Product List Viewed", "Promotion Clicked", "Application Opened", "Played"]
        )
        | SCALAR,
        "properties": keyed(
            "products",
            "order_id",
            "total",
            "currency",
            "step",
            "list",
            "sku",
            "price",
            "quantity",
            "position",
        ),
        "traits": keyed("email", "firstName", "lastName", "address", "company", "name", "phone"),
        "context": keyed(
            "ip",
            "userAgent",
            "locale",
            "app",
            "os",
            "screen",
            "library",
            "traits",
            "page",
            "device",
            "network",
            "campaign",
            "amp",
            "consent",
            "direct",
            "channel",
        ),
        "timestamp": JSON,
        "sentAt": JSON,
        "groupId": SCALAR,
        "previousId": SCALAR,
        "name": SCALAR,
        "category": SCALAR,
        "integrations": st.dictionaries(st.text(max_size=3), JSON, max_size=2),
        "channel": JSON,
    },
)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(TYPES), MESSAGES)
def test_any_message_maps_to_a_valid_batch_or_is_refused(kind: str, message: dict[str, Any]) -> None:
    try:
        check(message, kind)
        mapped = map_message(
            message, kind, received_ms=1_700_000_000_000, environment="production", remote_ip=None
        )
        if mapped.batch is not None:
            decode_batch(msgspec.json.encode(mapped.batch))
    except ClientError:
        pass
