"""The ``data`` object of each non-commerce event type (spec §2.3, §2.4, §2.5, §2.7, §2.8).

Every data struct extends ``EventData``, the fields common to all event types. Fields the spec
marks **required** have no default; where sources disagree (⚠ in the spec) the union is accepted.
"""

from __future__ import annotations

from typing import Any, Literal, TypeAlias

import msgspec

from fermion.schema.attributes import AttributeMap, UserAttributeValue
from fermion.schema.device import DeviceCurrentState
from fermion.schema.identities import UserIdentity
from fermion.schema.integers import Int64
from fermion.schema.location import Location

CustomEventType: TypeAlias = Literal[
    "navigation",
    "location",
    "search",
    "transaction",
    "user_content",
    "user_preference",
    "social",
    "other",
    "media",
    "attribution",
    "unknown",
]
ApplicationTransitionType: TypeAlias = Literal[
    "application_initialized", "application_exit", "application_background", "application_foreground"
]
PushMessageType: TypeAlias = Literal["sent", "received", "action"]


class EventSystemNotificationInfo(msgspec.Struct, omit_defaults=True, kw_only=True):
    """Read-only marker on system-generated events, e.g. ``{"type": "gdpr_change"}``."""

    type: str | None = None


class MediaInfo(msgspec.Struct, omit_defaults=True, kw_only=True):
    """PYSDK-only ``data.media_info`` of a custom event (spec §2.19)."""

    action: str | None = None
    channel: str | None = None
    metadata: str | None = None
    timed_metadata: str | None = None
    playback_position: float | None = None
    format: str | None = None
    quality: str | None = None
    playback_rate: float | None = None


class EventData(msgspec.Struct, omit_defaults=True, kw_only=True):
    """Fields common to the ``data`` of every event type.

    Also the whole data of session_start, first_run, uninstall, pre_attribution and push_reaction.
    """

    event_id: Int64 | None = None
    event_num: Int64 | None = None
    source_message_id: str | None = None
    session_id: Int64 | None = None
    session_uuid: str | None = None
    session_start_unixtime_ms: Int64 | None = None
    event_start_unixtime_ms: Int64 | None = None
    timestamp_unixtime_ms: Int64 | None = None
    custom_attributes: AttributeMap | None = None
    custom_flags: dict[str, Any] | None = None
    location: Location | None = None
    device_current_state: DeviceCurrentState | None = None
    is_goal_defined: bool | None = None
    lifetime_value_change: bool | float | None = None
    lifetime_value_attribute_name: str | None = None
    data_connection_type: str | None = None
    view_controller: str | None = None
    is_main_thread: bool | None = None
    canonical_name: str | None = None
    event_system_notification_info: EventSystemNotificationInfo | None = None
    page_url: str | None = None
    active_time_on_site_ms: float | None = None


class CustomEventData(EventData):
    """custom_event: a named app event of one of the custom event types."""

    event_name: str
    custom_event_type: CustomEventType
    media_info: MediaInfo | None = None


class ScreenViewData(EventData):
    """screen_view: a screen or page was shown."""

    screen_name: str | None = None
    activity_type: str | None = None


class SessionEndData(EventData):
    """session_end."""

    session_duration_ms: Int64 | None = None


class ApplicationStateTransitionData(EventData):
    """application_state_transition: install, upgrade, foreground, background, exit."""

    application_transition_type: ApplicationTransitionType
    is_first_run: bool | None = None
    is_upgrade: bool | None = None
    successfully_closed: bool | None = None
    push_notification_payload: str | None = None
    launch_referral: str | None = None


class OptOutData(EventData):
    """opt_out: the user opted out of (or back into) tracking."""

    is_opted_out: bool | None = None


class BreadcrumbData(EventData):
    """breadcrumb: a trail marker; also the element type of a crash report's breadcrumbs."""

    label: str
    session_number: Int64 | None = None


class CrashReportData(EventData):
    """crash_report."""

    class_name: str | None = None
    # OAS lists breadcrumbs as strings, the other sources as breadcrumb data objects.
    breadcrumbs: list[BreadcrumbData | str] | None = None
    severity: str | None = None
    message: str | None = None
    stack_trace: str | None = None
    exception_handled: bool | None = None
    topmost_context: str | None = None
    pl_crash_report_file_base64: str | None = None
    ios_image_base_address: Int64 | None = None
    ios_image_size: Int64 | None = None
    session_number: Int64 | None = None


class PushRegistrationData(EventData):
    """push_registration: a push token was added (register) or removed."""

    register: bool
    registration_token: str


class PushMessageData(EventData):
    """push_message: a push notification was sent, received or acted on."""

    push_message_type: PushMessageType
    push_message_token: str | None = None
    push_notification_payload: str | None = None
    message: str | None = None
    network: str | None = None
    application_state: str | None = None
    action_identifier: str | None = None
    # DOCS: integer bit mask; SCHEMA/OAS: enum string (Received, DirectOpen, ...).
    push_message_behavior: Int64 | str | None = None


class NetworkPerformanceData(EventData):
    """network_performance: one HTTP request made by the app."""

    http_verb: str | None = None
    url: str | None = None
    time_elapsed: Int64 | None = None
    bytes_in: Int64 | None = None
    bytes_out: Int64 | None = None
    # DOCS: string ("200"); SCHEMA/OAS: integer.
    response_code: Int64 | str | None = None
    data: str | None = None


class ProfileData(EventData):
    """profile: signup, login, logout, update or delete of a user profile."""

    # SCHEMA/OAS require the mpids; the official Python SDK sends profile names instead.
    previous_mpid: Int64 | None = None
    current_mpid: Int64 | None = None
    profile_event_type: str | None = None
    profile_name: str | None = None
    previous_profile_name: str | None = None


class UserAttributeChangeData(EventData):
    """user_attribute_change (SDK-generated)."""

    user_attribute_name: str
    new: UserAttributeValue = None
    old: UserAttributeValue = None
    deleted: bool | None = None
    is_new_attribute: bool | None = None


class UserIdentityChangeData(EventData):
    """user_identity_change (SDK-generated)."""

    new: UserIdentity | None = None
    old: UserIdentity | None = None
