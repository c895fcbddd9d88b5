"""One Segment message → one mParticle batch, following the mapping of docs/migrating-from-segment.md.

identify → user identities and user attributes (no event); track → a custom, commerce or lifecycle event;
page and screen → ``screen_view``; group → ``group.*`` user attributes; alias → an alias request between the
two users' MPIDs (returned to the caller, who resolves them). Every message keeps its raw Segment ids and
whatever has no mParticle field in ``custom_flags`` under ``Segment.*`` keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fermion.errors import BadRequest
from fermion.ingest.segment.semantic import as_text, track_event
from fermion.ingest.segment.values import as_uuid, flatten, parse_time_ms

TYPES = ("identify", "track", "page", "screen", "group", "alias")
_RESERVED_TRAITS = {
    "firstName": "$FirstName",
    "first_name": "$FirstName",
    "lastName": "$LastName",
    "last_name": "$LastName",
    "age": "$Age",
    "gender": "$Gender",
    "phone": "$Mobile",
}
_ADDRESS = {
    "street": "$Address",
    "city": "$City",
    "state": "$State",
    "postalCode": "$Zip",
    "postal_code": "$Zip",
    "country": "$Country",
}
_CHANNELS = {"server": "server_to_server", "browser": "javascript", "mobile": "native"}
_NATIVE_LIBRARIES = (
    "analytics-ios",
    "analytics-android",
    "analytics-swift",
    "analytics-kotlin",
    "analytics-react",
)
# Context fields with an mParticle home; everything else is kept as JSON in ``Segment.context``.
_MAPPED_CONTEXT = {
    "ip",
    "userAgent",
    "locale",
    "app",
    "os",
    "screen",
    "library",
    "traits",
    "page",
    "channel",
    "device",
    "network",
    "campaign",
    "amp",
    "consent",
}
_PLATFORMS = {
    "ios": ("iOS", "IOS"),
    "iphone os": ("iOS", "IOS"),
    "android": ("Android", "Android"),
    "tvos": ("tvOS", "TVOS"),
}
_CAMPAIGN = {
    "source": "utm_source",
    "medium": "utm_medium",
    "name": "utm_campaign",
    "term": "utm_term",
    "content": "utm_content",
}
_ZERO_ID = "00000000-0000-0000-0000-000000000000"


def object_at(container: dict[str, Any], key: str) -> dict[str, Any]:
    """``container[key]`` when it is an object, else an empty one (senders put odd things in places)."""
    value = container.get(key)
    return value if isinstance(value, dict) else {}


class InvalidMessage(BadRequest):
    """A message that breaks one of Segment's rules; ``code`` is the error name of Segment's body."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Mapped:
    """A message as an mParticle batch (JSON-ready), or as an alias request (previous_id → user_id)."""

    message_id: str
    batch: dict[str, Any] | None = None
    previous_id: str | None = None
    user_id: str | None = None


def message_type(message: dict[str, Any]) -> str:
    """The message's ``type`` (``action`` is its legacy spelling); BadRequest when neither is a known type."""
    kind = message.get("type") or message.get("action")
    if kind not in TYPES:
        raise InvalidMessage(f"type must be one of {', '.join(TYPES)}; got {kind!r}.", "invalid_type")
    return str(kind)


_SCALAR_FIELDS = ("userId", "anonymousId", "messageId", "event", "groupId", "previousId", "name", "category")
_OBJECT_FIELDS = ("properties", "traits", "context", "integrations")


def check(message: dict[str, Any], kind: str) -> None:
    """Segment's per-message rules: a user or anonymous id (alias: both ids); an event name on track; ids and
    names are strings or numbers, ``properties``, ``traits``, ``context`` and ``integrations`` objects."""
    for field in _SCALAR_FIELDS:
        value = message.get(field)
        if value is not None and (isinstance(value, bool) or not isinstance(value, str | int | float)):
            raise InvalidMessage(f"{field} must be a string.", "invalid_message")
    for field in _OBJECT_FIELDS:
        if message.get(field) is not None and not isinstance(message[field], dict):
            raise InvalidMessage(f"{field} must be an object.", "invalid_message")
    if kind == "alias":
        if not message.get("previousId") or not message.get("userId"):
            raise InvalidMessage("An alias needs previousId and userId.", "missing_previous_id")
    elif not message.get("userId") and not message.get("anonymousId"):
        raise InvalidMessage("Every message needs userId or anonymousId.", "no_user_anon_id")
    if kind == "track" and not message.get("event"):
        raise InvalidMessage("A track message needs an event name.", "missing_event")
    if kind == "group" and message.get("groupId") in (None, ""):
        raise InvalidMessage("A group message needs a groupId.", "missing_group_id")


def map_message(
    message: dict[str, Any], kind: str, *, received_ms: int, environment: str, remote_ip: str | None
) -> Mapped:
    """The mParticle form of one checked Segment message."""
    message_id = str(message.get("messageId") or "")
    if kind == "alias":
        return Mapped(message_id, previous_id=str(message["previousId"]), user_id=str(message["userId"]))
    context = object_at(message, "context")
    batch: dict[str, Any] = {
        "schema_version": 2,
        "environment": environment,
        "timestamp_unixtime_ms": received_ms,
        "source_info": {"channel": _channel(message, context)},
        "events": [],
    }
    if message_id:
        batch["source_request_id"] = f"segment:{message_id}"
    user_id, anonymous_id = message.get("userId"), message.get("anonymousId")
    identities: dict[str, str] = {}
    if user_id not in (None, ""):
        identities["customer_id"] = str(user_id)
    if anonymous_id not in (None, ""):
        batch["mp_deviceid"] = as_uuid(str(anonymous_id))
    _map_context(batch, context, remote_ip)

    data: dict[str, Any] = {"timestamp_unixtime_ms": _event_time(message, received_ms)}
    flags: dict[str, str] = {}
    if message_id:
        data["source_message_id"] = as_uuid(message_id)
        if data["source_message_id"] != message_id.lower():
            flags["Segment.messageId"] = message_id
    if anonymous_id not in (None, ""):
        flags["Segment.anonymousId"] = str(anonymous_id)
    for name, value in (("integrations", message.get("integrations")), ("library", context.get("library"))):
        if value:
            flags[f"Segment.{name}"] = as_text(value)
    rest = {k: v for k, v in context.items() if k not in _MAPPED_CONTEXT}
    if rest:
        flags["Segment.context"] = as_text(rest)
    if flags:
        data["custom_flags"] = flags

    properties = object_at(message, "properties")
    if kind == "identify":
        traits = {**object_at(context, "traits"), **object_at(message, "traits")}
        _map_traits(batch, identities, traits)
    elif kind == "group":
        group_traits = object_at(message, "traits")
        attributes = {"group.id": str(message["groupId"])}
        attributes.update(flatten(group_traits or {}, lists_as_text=False, prefix="group."))
        batch["user_attributes"] = attributes
    elif kind == "track":
        batch["events"] = [track_event(str(message["event"]), properties, data)]
        data = batch["events"][0]["data"]
        data.setdefault("custom_flags", {})["Segment.event"] = str(message["event"])
    else:
        batch["events"] = [_screen_view(kind, message, properties, context, data)]
    consent = _consent(context, data["timestamp_unixtime_ms"])
    if consent:
        batch["consent_state"] = {"gdpr": consent}
    utm = campaign_attributes(context)
    for event in batch["events"] if utm else ():
        attributes = event["data"].setdefault("custom_attributes", {})
        for key, value in utm.items():
            attributes.setdefault(key, value)
    if identities:
        batch["user_identities"] = identities
    return Mapped(message_id, batch=batch)


def _channel(message: dict[str, Any], context: dict[str, Any]) -> str:
    named = message.get("channel") or context.get("channel")
    if isinstance(named, str) and named in _CHANNELS:
        return _CHANNELS[named]
    library_info = context.get("library")
    library = str(library_info.get("name", "")) if isinstance(library_info, dict) else ""
    if library.startswith("analytics.js") or library == "analytics-next":
        return "javascript"
    if library.startswith(_NATIVE_LIBRARIES):
        return "native"
    return "server_to_server"


def _event_time(message: dict[str, Any], received_ms: int) -> int:
    """Segment's skew correction: receivedAt − (sentAt − timestamp); else the timestamp; else receipt."""
    timestamp = parse_time_ms(message.get("timestamp"))
    if timestamp is None:
        timestamp = parse_time_ms(message.get("originalTimestamp"))
    if timestamp is None:
        return received_ms
    sent = parse_time_ms(message.get("sentAt"))
    return timestamp if sent is None else received_ms - (sent - timestamp)


def _map_context(batch: dict[str, Any], context: dict[str, Any], remote_ip: str | None) -> None:
    ip = context.get("ip")
    if not ip and (context.get("direct") or batch["source_info"]["channel"] != "server_to_server"):
        ip = remote_ip
    if isinstance(ip, str) and ip:
        batch["ip"] = ip
    device: dict[str, Any] = {}
    if isinstance(context.get("userAgent"), str):
        device["http_header_user_agent"] = context["userAgent"]
    if isinstance(context.get("locale"), str):
        language, _, country = context["locale"].replace("_", "-").partition("-")
        device["locale_language"] = language
        if country:
            device["locale_country"] = country
    os = object_at(context, "os")
    if isinstance(os, dict) and os.get("version"):
        device["os_version"] = str(os["version"])
    screen = object_at(context, "screen")
    for side in ("width", "height"):
        if isinstance(screen, dict) and isinstance(screen.get(side), int):
            device[f"screen_{side}"] = screen[side]
    _map_device(batch, device, context)
    if device:
        batch["device_info"] = device
    app = object_at(context, "app")
    if isinstance(app, dict) and app:
        names = {
            "name": "application_name",
            "version": "application_version",
            "build": "application_build_number",
        }
        batch.setdefault("application_info", {}).update(
            {names[k]: str(v) for k, v in app.items() if k in names and v is not None}
        )
        if app.get("namespace"):
            batch["application_info"]["package"] = str(app["namespace"])


def _map_device(batch: dict[str, Any], device: dict[str, Any], context: dict[str, Any]) -> None:
    """``context.device``, ``os.name``, ``network`` and ``amp`` into ``device_info``: platform-specific ids by
    the OS the message names; ids that are all zeros are dropped."""
    found = object_at(context, "device")
    os_name = str(object_at(context, "os").get("name", "")).lower()
    platform = _PLATFORMS.get(os_name)
    if platform is not None:
        device["platform"] = platform[0]
        batch.setdefault("application_info", {})["os"] = platform[1]
    for segment_name, field in (
        ("manufacturer", "device_manufacturer"),
        ("model", "device_model"),
        ("name", "device"),
        ("token", "push_token"),
    ):
        if isinstance(found.get(segment_name), str) and found[segment_name]:
            device[field] = found[segment_name]
    ios = platform is not None and platform[0] in ("iOS", "tvOS")
    android = platform is not None and platform[0] == "Android"
    advertising = found.get("advertisingId")
    if isinstance(advertising, str) and advertising and advertising != _ZERO_ID and (ios or android):
        device["ios_advertising_id" if ios else "android_advertising_id"] = advertising
    device_id = found.get("id")
    if isinstance(device_id, str) and device_id:
        if ios and as_uuid(device_id) == device_id.lower():
            device["ios_idfv"] = device_id
        elif android:
            device["android_uuid"] = device_id
    if isinstance(found.get("adTrackingEnabled"), bool):
        device["limit_ad_tracking"] = not found["adTrackingEnabled"]
    network = object_at(context, "network")
    if isinstance(network.get("carrier"), str):
        device["network_carrier"] = network["carrier"]
    if isinstance(network.get("bluetooth"), bool):
        device["bluetooth_enabled"] = network["bluetooth"]
    amp = object_at(context, "amp")
    if isinstance(amp, dict) and isinstance(amp.get("id"), str):
        device["amp_id"] = amp["id"]


def _consent(context: dict[str, Any], at_ms: int) -> dict[str, dict[str, Any]]:
    """``context.consent.categoryPreferences`` as GDPR consent, one purpose per category (lower case)."""
    consent = object_at(context, "consent")
    preferences = consent.get("categoryPreferences")
    if not isinstance(preferences, dict):
        return {}
    return {
        str(category).lower(): {"consented": value, "timestamp_unixtime_ms": at_ms}
        for category, value in preferences.items()
        if isinstance(value, bool)
    }


def campaign_attributes(context: dict[str, Any]) -> dict[str, Any]:
    """``context.campaign`` as ``utm_*`` event attributes (mParticle has no UTM field)."""
    campaign = object_at(context, "campaign")
    return {_CAMPAIGN[k]: v for k, v in campaign.items() if k in _CAMPAIGN and v is not None}


def _map_traits(batch: dict[str, Any], identities: dict[str, str], traits: dict[str, Any]) -> None:
    attributes: dict[str, Any] = {}
    deleted: list[str] = []
    for key, value in traits.items():
        if key == "email":
            if value:
                identities["email"] = str(value)
            continue
        if key == "address" and isinstance(value, dict):
            for part, attribute in _ADDRESS.items():
                if part in value:
                    attributes[attribute] = value[part]
            continue
        name = _RESERVED_TRAITS.get(key, key)
        if isinstance(value, dict):
            attributes.update(flatten(value, lists_as_text=False, prefix=f"{name}."))
        else:
            attributes[name] = value
    if "name" not in attributes and attributes.get("$FirstName") and attributes.get("$LastName"):
        attributes["name"] = f"{attributes['$FirstName']} {attributes['$LastName']}"
    for key in [k for k, v in attributes.items() if v is None]:
        # Segment's null clears a trait; mParticle's null user attribute would be a tag.
        del attributes[key]
        deleted.append(key)
    if attributes:
        batch["user_attributes"] = attributes
    if deleted:
        batch["deleted_user_attributes"] = deleted


def _screen_view(
    kind: str,
    message: dict[str, Any],
    properties: dict[str, Any],
    context: dict[str, Any],
    data: dict[str, Any],
) -> dict[str, Any]:
    attributes = dict(properties)
    if message.get("category") is not None:
        attributes.setdefault("category", message["category"])
    page = object_at(context, "page")
    if kind == "page" and isinstance(page, dict):
        for key in ("url", "path", "title", "referrer", "search"):
            if key in page:
                attributes.setdefault(key, page[key])
    name = message.get("name") or message.get("category") or ("PageView" if kind == "page" else "Screen")
    view: dict[str, Any] = {
        **data,
        "screen_name": str(name),
        "custom_attributes": flatten(attributes, lists_as_text=True),
    }
    if kind == "page" and isinstance(attributes.get("url"), str):
        view["page_url"] = attributes["url"]
    return {"event_type": "screen_view", "data": view}
