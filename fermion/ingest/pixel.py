"""The Pixel Service: ``GET /v1/{web key}/Pixel?…`` turns query parameters into a batch and answers a 1×1 GIF.

For e-mail opens and pages without JavaScript. Parameters follow mParticle's abbreviated event model: ``dt``
(``AppEvent`` | ``ScreenView``), ``n`` name, ``et`` custom event type, ``ct`` time (epoch ms), ``dbg``
(development), ``attrs_k``/``attrs_v``, ``flags_k``/``flags_v``, ``ua_k``/``ua_v`` user attributes,
``ui_t``/``ui_v`` user identities, ``lc`` ``[lat,long]``, ``av`` app version, ``amp_id``, ``hn`` page URL,
``ttl`` title, ``path``. Key/value lists may repeat the parameter or hold a JSON array.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from typing import Any
from urllib.parse import parse_qs

import msgspec

from fermion.errors import ClientError
from fermion.ingest.accept import Acceptor
from fermion.ingest.auth import Authenticator
from fermion.ingest.http import Receive, Scope, Send
from fermion.ingest.origins import OriginPolicy
from fermion.ingest.web import CHANNEL_JAVASCRIPT, web_input
from fermion.metrics import Metrics
from fermion.queue import GroupCommitter

_PATH = re.compile(r"^/v1/([^/]+)/pixel/?$", re.IGNORECASE)
GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
_EVENT_TYPES = {
    "unknown": "other",
    "navigation": "navigation",
    "location": "location",
    "search": "search",
    "transaction": "transaction",
    "usercontent": "user_content",
    "userpreference": "user_preference",
    "social": "social",
    "other": "other",
    "media": "media",
}
_IDENTITIES = {"customerid": "customer_id", "customer_id": "customer_id", "otherid": "other"}
_log = logging.getLogger("fermion.ingest.pixel")
_encode = msgspec.json.Encoder().encode


def pixel_route_of(path: str) -> bool:
    """Whether ``path`` is the Pixel Service path."""
    return _PATH.match(path) is not None


def _values(query: dict[str, list[str]], name: str) -> list[str]:
    found = query.get(name, [])
    if len(found) == 1 and found[0].startswith("["):
        try:
            parsed = json.loads(found[0])
        except json.JSONDecodeError:
            return found
        return (
            [v if isinstance(v, str) else json.dumps(v) for v in parsed]
            if isinstance(parsed, list)
            else found
        )
    return found


def _pairs(query: dict[str, list[str]], prefix: str, key_suffix: str = "k") -> dict[str, str]:
    """``{prefix}_k`` (or ``_t``) and ``{prefix}_v`` zipped into a map."""
    keys = _values(query, f"{prefix}_{key_suffix}")
    return dict(zip(keys, _values(query, f"{prefix}_v"), strict=False))


def batch_of(query: dict[str, list[str]]) -> dict[str, Any]:
    """The mParticle batch a pixel's query parameters describe."""
    first = {k: v[0] for k, v in query.items() if v}
    data: dict[str, Any] = {}
    if first.get("ct", "").isdigit():
        data["timestamp_unixtime_ms"] = int(first["ct"])
    attributes: dict[str, Any] = dict(_pairs(query, "attrs"))
    for name, key in (("ttl", "title"), ("path", "path")):
        if first.get(name):
            attributes.setdefault(key, first[name])
    if attributes:
        data["custom_attributes"] = attributes
    flags = _pairs(query, "flags")
    if flags:
        data["custom_flags"] = flags
    if first.get("hn"):
        data["page_url"] = first["hn"]
    if first.get("lc"):
        try:
            latitude, longitude = json.loads(first["lc"])
            data["location"] = {"latitude": float(latitude), "longitude": float(longitude)}
        except (ValueError, TypeError):
            pass
    name = first.get("n") or "Pixel"
    if first.get("dt", "AppEvent").lower() in ("screenview", "v"):
        event = {"event_type": "screen_view", "data": {**data, "screen_name": name}}
    else:
        kind = _EVENT_TYPES.get(first.get("et", "").lower(), "other")
        event = {
            "event_type": "custom_event",
            "data": {**data, "event_name": name, "custom_event_type": kind},
        }
    batch: dict[str, Any] = {
        "environment": "development" if first.get("dbg", "").lower() == "true" else "production",
        "events": [event],
    }
    user_attributes = _pairs(query, "ua")
    if user_attributes:
        batch["user_attributes"] = user_attributes
    identities = {_IDENTITIES.get(t.lower(), t.lower()): v for t, v in _pairs(query, "ui", "t").items() if v}
    if identities:
        batch["user_identities"] = identities
    if first.get("av"):
        batch["application_info"] = {"application_version": first["av"]}
    if first.get("amp_id"):
        batch["device_info"] = {"amp_id": first["amp_id"]}
    return batch


class PixelApi:
    """ASGI handler of the Pixel Service path."""

    def __init__(
        self,
        authenticator: Authenticator,
        acceptor: Acceptor,
        committer: GroupCommitter,
        origins: OriginPolicy,
        metrics: Metrics,
    ) -> None:
        self._auth = authenticator
        self._acceptor = acceptor
        self._committer = committer
        self._origins = origins
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        status = 200
        match = _PATH.match(scope["path"])
        assert match is not None
        try:
            source = web_input(self._auth, match.group(1))
            self._origins.check(source, dict(scope["headers"]).get(b"origin"))
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
            raw = _encode(batch_of(query))
            try:
                record, events = self._acceptor.converted(source, raw, channel=CHANNEL_JAVASCRIPT)
            except ClientError as error:  # kept and parked like a Web SDK batch, never lost silently
                _log.warning("pixel kept as invalid", extra={"error": error.message})
                record = self._acceptor.kept_invalid(
                    source, raw, channel=CHANNEL_JAVASCRIPT, source_request_id=None
                )
                events = 0
            await self._committer.submit([record])
            self._metrics.events_accepted.inc(events)
        except ClientError as error:
            status = error.status
            self._metrics.rejections.labels(reason=f"pixel_{error.code}").inc()
        except Exception:  # edge guard: a server fault is a 503
            _log.exception("pixel failed")
            status = 503
        self._metrics.http_requests.labels(route="pixel", status=str(status)).inc()
        headers = [
            (b"content-type", b"image/gif"),
            (b"content-length", str(len(GIF)).encode()),
            (b"cache-control", b"no-store"),
        ]
        if status != 403:
            headers.append((b"access-control-allow-origin", b"*"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": GIF})
