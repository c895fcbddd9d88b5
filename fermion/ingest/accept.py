"""From a request body to inbox records: decode, check limits and rules, key each batch by its user."""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from fermion.clock import Clock
from fermion.errors import BadRequest, BatchValidationError, Forbidden, PayloadTooLarge
from fermion.identity import DEVICE_IDENTITY_PRIORITY, user_key_of
from fermion.ids import partition_of
from fermion.platform import Input
from fermion.queue import INBOX_PARTITIONS, InboxRecord
from fermion.schema import Batch, BatchLimits, decode_batch, encode_batch, split_bulk
from fermion.schema import identities_of as user_identities_of
from fermion.settings import Settings

CHANNEL_S2S = "server_to_server"


@dataclass(frozen=True)
class Accepted:
    """The inbox records of one request and how many events they hold."""

    records: list[InboxRecord]
    events: int


def limits_from(settings: Settings) -> BatchLimits:
    """The batch limits configured in ``settings``."""
    return BatchLimits(
        max_events_per_batch=settings.max_events_per_batch,
        max_event_name_length=settings.max_event_name_length,
        max_attribute_name_length=settings.max_attribute_name_length,
        max_attribute_value_length=settings.max_attribute_value_length,
        max_attributes_per_event=settings.max_attributes_per_event,
        max_user_attributes=settings.max_user_attributes,
        max_user_attribute_list_length=settings.max_user_attribute_list_length,
        max_user_attribute_list_entry_length=settings.max_user_attribute_list_entry_length,
    )


def identities_of(batch: Batch) -> tuple[dict[str, str], dict[str, str]]:
    """The batch's user identities and device identities, as name → value (set values only)."""
    devices: dict[str, str] = {}
    if batch.device_info is not None:
        for name in DEVICE_IDENTITY_PRIORITY:
            value = getattr(batch.device_info, name, None)
            if isinstance(value, str) and value:
                devices[name] = value
    return {k: v for k, v in user_identities_of(batch.user_identities).items() if v}, devices


def _reject_nul(value: object, path: str) -> None:
    """NUL characters cannot be stored by every backend (PostgreSQL text and JSONB refuse them): reject them
    with the path of the first one, rather than accept a batch that could never be processed."""
    if isinstance(value, str):
        if "\x00" in value:
            raise BatchValidationError("Strings must not contain the NUL character (\\u0000).", path)
    elif isinstance(value, dict):
        for key, item in value.items():
            _reject_nul(key, f"{path}.{key}")
            _reject_nul(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _reject_nul(item, f"{path}[{index}]")


class Acceptor:
    """Turns Events API request bodies into inbox records, or raises the client error saying why not."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self._settings = settings
        self._limits = limits_from(settings)
        self._clock = clock

    def single(self, source: Input, body: bytes) -> Accepted:
        """``POST /v2/events``: the body is one batch."""
        if len(body) > self._settings.max_batch_bytes:
            raise PayloadTooLarge(
                f"A batch must not exceed {self._settings.max_batch_bytes} bytes; this one has {len(body)}."
            )
        now = self._clock.now_ms()
        record, events = self._record(source, body, "$", historical=False, now=now)
        return Accepted([record], events)

    def bulk(self, source: Input, body: bytes, *, historical: bool) -> Accepted:
        """``POST /v2/bulkevents[/historical]``: the body is a JSON array of batches."""
        parts = split_bulk(body)
        if not parts:
            raise BadRequest("The request holds no batches.")
        if len(parts) > self._settings.max_batches_per_request:
            raise BadRequest(
                f"A bulk request may hold at most {self._settings.max_batches_per_request} batches; "
                f"this one has {len(parts)}."
            )
        now = self._clock.now_ms()
        records: list[InboxRecord] = []
        events = 0
        for index, raw in enumerate(parts):
            if len(raw) > self._settings.max_batch_bytes:
                raise PayloadTooLarge(
                    f"Batch $[{index}] has {len(raw)} bytes; a batch must not exceed "
                    f"{self._settings.max_batch_bytes}."
                )
            record, count = self._record(source, raw, f"$[{index}]", historical=historical, now=now)
            records.append(record)
            events += count
        return Accepted(records, events)

    def converted(self, source: Input, raw: bytes, *, channel: str) -> tuple[InboxRecord, int]:
        """One batch another wire format was translated into (Segment, the Web SDK), from ``channel``."""
        return self._record(source, raw, "$", historical=False, now=self._clock.now_ms(), channel=channel)

    def kept_invalid(
        self, source: Input, raw: bytes, *, channel: str, source_request_id: str | None
    ) -> InboxRecord:
        """A batch that cannot be processed, kept as sent for a client that would re-send a 400 forever (the
        Web SDK): the worker parks it with its error, where ``fermion inbox status`` shows it."""
        user_key = user_key_of(None, {}, {}, None, raw)
        return InboxRecord(
            workspace_id=source.workspace_id,
            input_id=source.id,
            partition=partition_of(f"{source.workspace_id}:{user_key}", INBOX_PARTITIONS),
            user_key=user_key,
            received_ms=self._clock.now_ms(),
            channel=channel,
            historical=False,
            payload=raw,
            source_request_id=source_request_id,
        )

    def _record(
        self, source: Input, raw: bytes, path: str, *, historical: bool, now: int, channel: str = CHANNEL_S2S
    ) -> tuple[InboxRecord, int]:
        decoded = decode_batch(raw, path=path, limits=self._limits)
        if b"\\u0000" in raw:
            _reject_nul(msgspec.json.decode(raw), path)
        batch = decoded.batch
        if batch.api_key is not None and batch.api_key != source.api_key:
            raise Forbidden(
                f"{path}.api_key names another input than the credentials of this request; "
                "send each input's data with its own key and secret."
            )
        if historical:
            self._check_historical(batch, path, now)
        users, devices = identities_of(batch)
        user_key = user_key_of(decoded.mpid, users, devices, batch.mp_deviceid, raw)
        srid = batch.source_request_id
        payload = encode_batch(batch) if decoded.normalised else raw
        record = InboxRecord(
            workspace_id=source.workspace_id,
            input_id=source.id,
            partition=partition_of(f"{source.workspace_id}:{user_key}", INBOX_PARTITIONS),
            user_key=user_key,
            received_ms=now,
            channel=channel,
            historical=historical,
            payload=payload,
            source_request_id=None if srid is None else str(srid),
        )
        return record, len(batch.events or ())

    def _check_historical(self, batch: Batch, path: str, now: int) -> None:
        min_age_ms = self._settings.historical_min_age_hours * 3_600_000
        if not batch.events:
            raise BatchValidationError("A historical batch must hold at least one event.", f"{path}.events")
        for index, event in enumerate(batch.events):
            ts = event.data.timestamp_unixtime_ms
            where = f"{path}.events[{index}].data.timestamp_unixtime_ms"
            if ts is None:
                raise BatchValidationError(
                    "Every event of a historical batch needs timestamp_unixtime_ms.", where
                )
            if ts > now - min_age_ms:
                raise BatchValidationError(
                    "Events sent to /v2/bulkevents/historical must be at least "
                    f"{self._settings.historical_min_age_hours} hours old; newer go to /v2/bulkevents.",
                    where,
                )
