"""The device and application a batch comes from (spec §2.9-§2.11).

``platform`` and ``os`` are open strings: sources list different sets and new platforms appear.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

import msgspec

from fermion.schema.attributes import AttributeMap
from fermion.schema.integers import Int64

AttAuthorizationStatus: TypeAlias = Literal["authorized", "denied", "not_determined", "restricted"]

Orientation: TypeAlias = str | Int64
"""Samples show names (``portrait``, ``LandscapeLeft``, ``unknown``) and integers (``6``)."""


class DeviceInfo(msgspec.Struct, omit_defaults=True, kw_only=True):
    """``device_info`` of a batch."""

    brand: str | None = None
    product: str | None = None
    device: str | None = None
    android_uuid: str | None = None
    device_manufacturer: str | None = None
    platform: str | None = None
    os_version: str | None = None
    device_model: str | None = None
    screen_height: Int64 | None = None
    screen_width: Int64 | None = None
    screen_dpi: Int64 | None = None
    device_country: str | None = None
    locale_language: str | None = None
    locale_country: str | None = None
    network_country: str | None = None
    network_carrier: str | None = None
    network_code: str | None = None
    network_mobile_country_code: str | None = None
    timezone_offset: Int64 | None = None
    build_identifier: str | None = None
    http_header_user_agent: str | None = None
    ios_advertising_id: str | None = None
    att_authorization_status: AttAuthorizationStatus | None = None
    att_timestamp_unixtime_ms: Int64 | None = None
    push_token: str | None = None
    cpu_architecture: str | None = None
    is_tablet: bool | None = None
    push_notification_sound_enabled: bool | None = None
    push_notification_vibrate_enabled: bool | None = None
    radio_access_technology: str | None = None
    supports_telephony: bool | None = None
    has_nfc: bool | None = None
    bluetooth_enabled: bool | None = None
    bluetooth_version: str | None = None
    ios_idfv: str | None = None
    android_advertising_id: str | None = None
    build_version_release: str | None = None
    limit_ad_tracking: bool | None = None
    amp_id: str | None = None
    is_dst: bool | None = None
    roku_advertising_id: str | None = None
    roku_publisher_id: str | None = None
    microsoft_advertising_id: str | None = None
    microsoft_publisher_id: str | None = None
    fire_advertising_id: str | None = None


class ApplicationInfo(msgspec.Struct, omit_defaults=True, kw_only=True):
    """``application_info`` of a batch."""

    application_name: str | None = None
    application_version: str | None = None
    application_build_number: str | None = None
    install_referrer: str | None = None
    package: str | None = None
    os: str | None = None
    apple_search_ads_attributes: dict[str, AttributeMap] | None = None
    sideloaded_kits_count: Int64 | None = None


class DeviceCurrentState(msgspec.Struct, omit_defaults=True, kw_only=True):
    """``data.device_current_state`` of an event: the device's state when the event happened."""

    cpu: str | None = None
    system_memory_available_bytes: float | None = None
    system_memory_low: bool | None = None
    system_memory_threshold_bytes: float | None = None
    application_memory_available_bytes: float | None = None
    application_memory_max_bytes: float | None = None
    application_memory_total_bytes: float | None = None
    device_orientation: Orientation | None = None
    status_bar_orientation: Orientation | None = None
    time_since_start_ms: Int64 | None = None
    battery_level: float | None = None
    data_connection_type: str | None = None
    data_connection_type_detail: str | None = None
    gps_state: bool | str | None = None
    total_system_memory_usage_bytes: Int64 | None = None
    disk_space_free_bytes: Int64 | None = None
    external_disk_space_free_bytes: Int64 | None = None
