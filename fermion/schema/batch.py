"""The mParticle inbound batch (spec §2.1) and its batch-level parts.

Unknown keys are ignored everywhere except in ``user_identities`` (see ``identities``).
``environment`` defaults to ``production``, as the spec recommends for a batch that omits it.
"""

from __future__ import annotations

from typing import Any, Literal, TypeAlias

import msgspec

from fermion.schema.attributes import AttributeMap, UserAttributeMap
from fermion.schema.consent import ConsentState
from fermion.schema.device import ApplicationInfo, DeviceInfo
from fermion.schema.events import Event
from fermion.schema.identities import UserIdentities
from fermion.schema.integers import Int64
from fermion.schema.location import Location

Environment: TypeAlias = Literal["development", "production", "unknown"]
SourceRequestId: TypeAlias = str | Int64 | float | bool | None


class DataPlanContext(msgspec.Struct, omit_defaults=True, kw_only=True):
    """The data plan a batch claims to follow; no ``plan_version`` means the latest version."""

    plan_id: str
    plan_version: Int64 | None = None


class BatchContext(msgspec.Struct, omit_defaults=True, kw_only=True):
    """``context``: data plan and batch-level location."""

    data_plan: DataPlanContext | None = None
    location: Location | None = None


class AttributionInfo(msgspec.Struct, omit_defaults=True, kw_only=True):
    """``attribution_info``: all three fields are required when the object is present."""

    service_provider: str
    publisher: str
    campaign: str


class SourceInfo(msgspec.Struct, omit_defaults=True, kw_only=True):
    """``source_info``: set by the server; accepted inbound and ignored by ingestion rules."""

    channel: str | None = None
    partner: str | None = None
    replay_request_id: str | None = None
    replay_job_id: str | None = None
    is_historical: bool | None = None


class Batch(msgspec.Struct, omit_defaults=True, kw_only=True):
    """One mParticle batch: the events of one user on one device, with that user's state."""

    events: list[Event] | None = None
    device_info: DeviceInfo | None = None
    application_info: ApplicationInfo | None = None
    user_attributes: UserAttributeMap | None = None
    deleted_user_attributes: list[str] | None = None
    user_identities: UserIdentities | None = None
    partner_identities: dict[str, str] | None = None
    partner_identity: str | None = None
    integration_attributes: dict[str, AttributeMap] | None = None
    environment: Environment = "production"
    context: BatchContext | None = None
    consent_state: ConsentState | None = None
    source_request_id: SourceRequestId = None
    # Accepted as a number or a decimal string; decode_batch stores the int64 back here.
    mpid: int | str | None = None
    mp_deviceid: str | None = None
    ip: str | None = None
    api_key: str | None = None
    api_keys: list[str] | None = None
    schema_version: Int64 | None = None
    timestamp_unixtime_ms: Int64 | None = None
    batch_id: Int64 | None = None
    source_info: SourceInfo | None = None
    attribution_info: AttributionInfo | None = None
    origin_mpid: Int64 | None = None
    sdk_version: str | None = None
    job_id: str | None = None
    modified: bool | None = None
    unique_id: str | None = None
    system_notifications: list[dict[str, Any]] | None = None
