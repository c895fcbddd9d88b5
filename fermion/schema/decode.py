"""Decoding and encoding of batches: the entry points ingest and the pipeline call.

``decode_batch`` first tries the strict typed decode of the whole batch (the fast path). Only when
that fails does it decode leniently to repair unwrapped events (see ``envelope``) or to explain
the failure; every failure becomes a ``BatchValidationError`` with the path of the bad field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, get_args

import msgspec

from fermion.errors import BatchValidationError
from fermion.schema.batch import Batch, Environment
from fermion.schema.commerce import ProductActionType, PromotionActionType
from fermion.schema.device import AttAuthorizationStatus
from fermion.schema.envelope import wrap_events
from fermion.schema.event_data import ApplicationTransitionType, CustomEventType, PushMessageType
from fermion.schema.events import Event, event_name_of, event_type_of
from fermion.schema.identities import parse_mpid, resolve_identity_aliases, unknown_identity_message
from fermion.schema.limits import BatchLimits, apply_limits
from fermion.schema.location import LocationSource
from fermion.schema.paths import child_path, rebase

__all__ = [
    "DecodedBatch",
    "decode_batch",
    "encode_batch",
    "encode_event",
    "event_name_of",
    "event_type_of",
    "split_bulk",
]

_BATCH_DECODER: Final = msgspec.json.Decoder(Batch)
_DOCUMENT_DECODER: Final = msgspec.json.Decoder(dict[str, Any])
_BULK_DECODER: Final = msgspec.json.Decoder(list[msgspec.Raw])
_ENCODER: Final = msgspec.json.Encoder()
_DEFAULT_LIMITS: Final = BatchLimits()

_UNKNOWN_FIELD: Final = "Object contains unknown field `"
_INVALID_ENUM: Final = "Invalid enum value "
# Allowed values of each closed enum, by the last one or two segments of its path.
_ENUM_VALUES: Final[dict[str, tuple[str, ...]]] = {
    "environment": get_args(Environment),
    "custom_event_type": get_args(CustomEventType),
    "product_action.action": get_args(ProductActionType),
    "promotion_action.action": get_args(PromotionActionType),
    "application_transition_type": get_args(ApplicationTransitionType),
    "push_message_type": get_args(PushMessageType),
    "location_source": get_args(LocationSource),
    "att_authorization_status": get_args(AttAuthorizationStatus),
}


@dataclass(frozen=True, slots=True)
class DecodedBatch:
    """A decoded batch, its mpid as int64, and whether decoding changed what the client sent.

    When ``normalised`` is true, store ``encode_batch(batch)`` rather than the original bytes.
    """

    batch: Batch
    mpid: int | None
    normalised: bool


def decode_batch(raw: bytes, *, path: str = "$", limits: BatchLimits | None = None) -> DecodedBatch:
    """Decode and validate one batch, normalising what the project accepts beyond the schema.

    ``path`` is the batch's JSON path in the request (``$[3]`` for the fourth batch of a bulk
    request); error paths start with it. ``limits`` defaults to mParticle's (``BatchLimits()``).
    Raises ``BatchValidationError``.
    """
    normalised = False
    try:
        batch = _BATCH_DECODER.decode(raw)
    except msgspec.ValidationError as error:
        batch = _decode_repaired(raw, error, path)
        normalised = True
    except msgspec.DecodeError as error:
        raise BatchValidationError(f"Malformed JSON: {error}", path) from error
    if batch.user_identities is not None and resolve_identity_aliases(batch.user_identities, path):
        normalised = True
    mpid = parse_mpid(batch.mpid, path)
    batch.mpid = mpid
    if apply_limits(batch, limits or _DEFAULT_LIMITS, path):
        normalised = True
    return DecodedBatch(batch=batch, mpid=mpid, normalised=normalised)


def split_bulk(raw: bytes) -> list[bytes]:
    """Split a bulk request body (a JSON array of batches) into the raw bytes of each batch."""
    try:
        items = _BULK_DECODER.decode(raw)
    except msgspec.ValidationError as error:
        raise BatchValidationError("Request body must be a JSON array of batches", "$") from error
    except msgspec.DecodeError as error:
        raise BatchValidationError(f"Malformed JSON: {error}", "$") from error
    return [bytes(item) for item in items]


def encode_batch(batch: Batch) -> bytes:
    """Encode a batch as mParticle JSON, omitting unset fields; ``decode_batch`` reads it back."""
    return _ENCODER.encode(batch)


def encode_event(event: Event) -> bytes:
    """Encode one event as its ``{"event_type": ..., "data": {...}}`` envelope."""
    return _ENCODER.encode(event)


def _decode_repaired(raw: bytes, error: msgspec.ValidationError, path: str) -> Batch:
    """Wrap unwrapped events and decode again, or raise the error that explains the failure."""
    try:
        document = _DOCUMENT_DECODER.decode(raw)
    except msgspec.DecodeError:
        raise _translate(error, path) from error
    events = document.get("events")
    if not isinstance(events, list) or not wrap_events(events, f"{path}.events"):
        raise _translate(error, path) from error
    try:
        return _BATCH_DECODER.decode(_ENCODER.encode(document))
    except msgspec.ValidationError as second:
        raise _translate(second, path) from second


def _translate(error: msgspec.ValidationError, path: str) -> BatchValidationError:
    """Turn msgspec's ``"<message> - at `$.a.b`"`` into our error, rebased onto ``path``."""
    text = str(error)
    message, separator, located = text.rpartition(" - at `")
    if not separator:
        message, located = text, "$`"
    field_path = located[:-1]
    full_path = rebase(field_path, path)
    if message.startswith(_UNKNOWN_FIELD) and field_path.endswith(".user_identities"):
        key = message[len(_UNKNOWN_FIELD) : -1]
        return BatchValidationError(unknown_identity_message(key), child_path(full_path, key))
    if message.startswith(_INVALID_ENUM):
        segments = field_path.split(".")
        allowed = _ENUM_VALUES.get(".".join(segments[-2:])) or _ENUM_VALUES.get(segments[-1])
        if allowed:
            message = f"{message}; allowed values: {', '.join(allowed)}"
    return BatchValidationError(message, full_path)
