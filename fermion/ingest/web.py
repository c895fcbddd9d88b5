"""The Web SDK's endpoints as a plain ASGI app: its configuration and its event uploads.

``GET /JS/v2/{key}/config`` and ``POST /v3/JS/{key}/events``, also under the custom-domain prefixes
(``/tags/JS/v2/…``, ``/webevents/v3/JS/…``). The key in the path is a web input's API key (no secret: the
browser cannot keep one); the origins allowed to use it are the input's allow-list. The SDK re-sends a 400
forever, so a batch that can never be processed is accepted (202) and parked with its error by the worker;
the SDK re-sends a batch whose answer it lost, so batches are de-duplicated on ``source_request_id``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import msgspec
from starlette.concurrency import run_in_threadpool

from fermion.errors import ClientError, Forbidden, NotFound, Unauthorized
from fermion.ingest.accept import Acceptor
from fermion.ingest.auth import Authenticator
from fermion.ingest.http import Receive, Scope, Send, error_body, read_body
from fermion.ingest.origins import OriginForbidden, OriginPolicy, cors_headers
from fermion.metrics import Metrics
from fermion.platform import Input
from fermion.queue import GroupCommitter

WEB_PLATFORMS = ("web", "MobileWeb")
CHANNEL_JAVASCRIPT = "javascript"
_CONFIG = re.compile(r"^(?:/tags)?/JS/v2/([^/]+)/config/?$")
_EVENTS = re.compile(r"^(?:/webevents)?/v3/JS/([^/]+)/events/?$")
_log = logging.getLogger("fermion.ingest.web")
_encode = msgspec.json.Encoder().encode

# (workspace, plan id, pinned version or None, environment) → the config's ``dataPlanResult``.
DataPlanLookup = Callable[[int, str, int | None, str], dict[str, Any]]


class _SourceRequest(msgspec.Struct):
    source_request_id: str | int | None = None


def web_route_of(path: str) -> bool:
    """Whether ``path`` is a Web SDK config or events path."""
    return _CONFIG.match(path) is not None or _EVENTS.match(path) is not None


def web_input(authenticator: Authenticator, key: str) -> Input:
    """The web input whose key is in a path: Unauthorized when unknown, Forbidden when not a web input."""
    found = authenticator.input_for_key(key)
    if found is None:
        raise Unauthorized("Unknown API key.")
    if found.platform not in WEB_PLATFORMS:
        raise Forbidden("This key belongs to an input that needs its secret; use a web input's key.")
    return found


class WebSdkApi:
    """ASGI handler of the Web SDK's config and events paths."""

    def __init__(
        self,
        authenticator: Authenticator,
        acceptor: Acceptor,
        committer: GroupCommitter,
        origins: OriginPolicy,
        metrics: Metrics,
        max_request_bytes: int,
        data_plan: DataPlanLookup | None = None,
    ) -> None:
        self._data_plan = data_plan
        self._auth = authenticator
        self._acceptor = acceptor
        self._committer = committer
        self._origins = origins
        self._metrics = metrics
        self._max = max_request_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope["headers"])
        origin = headers.get(b"origin")
        path = scope["path"]
        config = _CONFIG.match(path)
        match = config or _EVENTS.match(path)
        assert match is not None
        route = "web_config" if config else "web_events"
        status, body, grant = 202, b"", True
        try:
            source = web_input(self._auth, match.group(1))
            self._origins.check(source, origin)
            if scope["method"] == "OPTIONS":
                status = 204
            elif config:
                if scope["method"] != "GET":
                    raise NotFound("The configuration is read with GET.")
                status, body = 200, await self._config(source, scope.get("query_string", b""))
            else:
                if scope["method"] != "POST":
                    raise NotFound("Events are sent with POST.")
                await self._events(source, await read_body(receive, self._max))
        except ClientError as error:
            status, body, grant = error.status, error_body(error), not isinstance(error, OriginForbidden)
            self._metrics.rejections.labels(reason=error.code).inc()
        except Exception:  # edge guard: a server fault is a 503 the SDK retries, never a lost 202
            _log.exception("Web SDK request failed", extra={"route": route})
            status, body = 503, b""
        self._metrics.http_requests.labels(route=route, status=str(status)).inc()
        response = [(b"content-length", str(len(body)).encode())]
        if grant:
            response.extend(cors_headers(origin, preflight=scope["method"] == "OPTIONS"))
        if body:
            response.append((b"content-type", b"application/json"))
        await send({"type": "http.response.start", "status": status, "headers": response})
        await send({"type": "http.response.body", "body": body})

    async def _config(self, source: Input, query: bytes) -> bytes:
        config: dict[str, Any] = {
            "appName": source.name,
            "workspaceToken": f"fermion-{source.workspace_id}",
            "kitConfigs": [],
            "pixelConfigs": [],
            "flags": {"eventBatchingIntervalMillis": "0"},
        }
        params = parse_qs(query.decode("latin-1"))
        plan_id = (params.get("plan_id") or [""])[0]
        if plan_id and self._data_plan is not None:
            # The SDK asks with ?plan_id=&plan_version=&env=1 (development) or 0; it blocks by the answer.
            raw_version = (params.get("plan_version") or [""])[0]
            version = int(raw_version) if raw_version.isdigit() else None
            environment = "development" if (params.get("env") or ["0"])[0] == "1" else "production"
            config["dataPlanResult"] = await run_in_threadpool(
                self._data_plan, source.workspace_id, plan_id, version, environment
            )
        return _encode(config)

    async def _events(self, source: Input, raw: bytes) -> None:
        try:
            record, events = self._acceptor.converted(source, raw, channel=CHANNEL_JAVASCRIPT)
        except ClientError as error:
            # Never a 400 here: the SDK would re-send it forever. Keep it; the worker parks it with its error.
            _log.warning("Web SDK batch kept as invalid", extra={"error": error.message})
            self._metrics.rejections.labels(reason=f"web_kept_invalid_{error.code}").inc()
            record, events = (
                self._acceptor.kept_invalid(
                    source, raw, channel=CHANNEL_JAVASCRIPT, source_request_id=_source_request_id(raw)
                ),
                0,
            )
        stored = await self._committer.submit([record])
        self._metrics.batches_accepted.inc(stored)
        self._metrics.batches_duplicate.inc(1 - stored)
        self._metrics.events_accepted.inc(events)


def _source_request_id(raw: bytes) -> str | None:
    try:
        found = msgspec.json.decode(raw, type=_SourceRequest).source_request_id
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    return None if found is None else str(found)
