"""IDSync over HTTP as a plain ASGI app: identify, login, logout, search, modify, alias and history.

Paths are served as ``/v1/…`` and under the custom-domain prefix ``/identity/v1/…``; the SDK alias endpoint
also as ``/v1/identity/{key}/Alias`` and ``/webevents/v1/identity/{key}/Alias``. Authentication: HTTP Basic
with an input's key and secret, or ``x-mp-key`` alone for web inputs (the Web SDK sends no secret).
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from typing import Any, Literal

import msgspec

from fermion.errors import BadRequest, ClientError, Forbidden, NotFound, Unauthorized
from fermion.identity import IDSYNC_KEY, IdentityService, decision_json
from fermion.ingest import Authenticator, OriginForbidden, OriginPolicy, Receive, Scope, Send, read_body
from fermion.metrics import Metrics
from fermion.platform import Input

_log = logging.getLogger("fermion.idsync")
_encode = msgspec.json.Encoder().encode
_MAX_BODY = 64 * 1024
_CONTEXT = "fermion:1"
KEY_ONLY_PLATFORMS = ("web", "MobileWeb")

_CALL = re.compile(r"^(?:/identity)?/v1/(identify|login|logout|search)/?$")
_MODIFY = re.compile(r"^(?:/identity)?/v1/([^/]+)/modify/?$")
_HISTORY = re.compile(r"^(?:/identity)?/v1/([^/]+)/history/?$")
_SDK_ALIAS = re.compile(r"^(?:/webevents|/identity)?/v1/identity/([^/]+)/alias/?$", re.IGNORECASE)
_SERVER_ALIAS = re.compile(r"^(?:/identity)?/v1/alias/?$")


class IdentityRequest(msgspec.Struct, kw_only=True):
    """The body of identify, login, logout and search."""

    environment: Literal["production", "development"]
    known_identities: dict[str, Any]
    client_sdk: dict[str, Any] | None = None
    context: str | None = None
    request_id: str | None = None
    request_timestamp_ms: int | None = None
    previous_mpid: int | str | None = None


class IdentityChange(msgspec.Struct, kw_only=True):
    identity_type: str
    old_value: Any = None
    new_value: Any = None


class ModifyRequest(msgspec.Struct, kw_only=True):
    """The body of modify."""

    identity_changes: list[IdentityChange]
    environment: str | None = None
    client_sdk: dict[str, Any] | None = None
    request_id: str | None = None
    request_timestamp_ms: int | None = None


class AliasData(msgspec.Struct, kw_only=True):
    source_mpid: int | str
    destination_mpid: int | str
    start_unixtime_ms: int | None = None
    end_unixtime_ms: int | None = None
    scope: str | None = None
    device_application_stamp: str | None = None


class AliasRequest(msgspec.Struct, kw_only=True):
    """The body the SDKs send to the alias endpoint."""

    data: AliasData
    request_id: str | None = None
    request_type: str | None = None
    environment: str | None = None
    api_key: str | None = None


def route_of(path: str) -> bool:
    """Whether ``path`` is an IDSync path."""
    return any(p.match(path) for p in (_CALL, _MODIFY, _HISTORY, _SDK_ALIAS, _SERVER_ALIAS))


def parse_mpid(value: int | str | None, field: str) -> int | None:
    """An MPID sent as a number or a string; BadRequest when it is not a signed 64-bit integer."""
    if value is None or value == "":
        return None
    try:
        mpid = int(value)
    except (TypeError, ValueError):
        raise BadRequest(f"{field} must be a signed 64-bit integer, as a number or a string.") from None
    if not -(2**63) <= mpid < 2**63:
        raise BadRequest(f"{field} must be a signed 64-bit integer.")
    return mpid


def _error_body(error: ClientError, request_id: str) -> bytes:
    code = {"NOT_FOUND": "NOT_FOUND_ERROR", "BAD_REQUEST": "LOOKUP_ERROR"}.get(error.code, error.code)
    entry = {"code": code, "message": error.message}
    return _encode(
        {
            "errors": [entry],
            "Errors": [entry],
            "ErrorCode": code,
            "StatusCode": error.status,
            "RequestId": request_id,
        }
    )


class IdSyncApi:
    """ASGI handler of the IDSync paths."""

    def __init__(
        self,
        service: IdentityService,
        authenticator: Authenticator,
        metrics: Metrics,
        origins: OriginPolicy | None = None,
    ) -> None:
        self._service = service
        self._auth = authenticator
        self._metrics = metrics
        self._origins = origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope["headers"])
        request_id = uuid.uuid4().hex
        if scope["method"] == "OPTIONS":
            await self._respond(send, 204, b"", headers)
            return
        try:
            if scope["method"] not in ("POST", "GET"):
                raise BadRequest("Use POST.")
            body = await read_body(receive, _MAX_BODY)
            status, payload = await self._dispatch(scope["path"], scope["method"], headers, body, request_id)
        except ClientError as error:
            status, payload = error.status, _error_body(error, request_id)
            if isinstance(error, OriginForbidden):  # no CORS grant: the page at that origin sees nothing
                self._metrics.http_requests.labels(route="idsync", status=str(status)).inc()
                await self._respond(send, status, payload, headers, grant=False)
                return
        except Exception:  # edge guard: a server fault is a 503 the client may retry
            _log.exception("IDSync request failed")
            status = 503
            payload = _encode({"errors": [{"code": "SERVICE_UNAVAILABLE", "message": "Retry later."}]})
        self._metrics.http_requests.labels(route="idsync", status=str(status)).inc()
        await self._respond(send, status, payload, headers)

    async def _respond(
        self, send: Send, status: int, payload: bytes, headers: dict[bytes, bytes], grant: bool = True
    ) -> None:
        origin = headers.get(b"origin", b"*")
        response_headers = [
            (b"content-length", str(len(payload)).encode()),
            (b"access-control-allow-origin", origin),
            (b"access-control-allow-credentials", b"true"),
            (b"access-control-allow-methods", b"POST, GET, OPTIONS"),
            (b"access-control-allow-headers", b"content-type, x-mp-key, authorization, date, x-mp-signature"),
            (b"vary", b"Origin"),
        ]
        if not grant:
            response_headers = [h for h in response_headers if not h[0].startswith(b"access-control-")]
        if payload:
            response_headers.append((b"content-type", b"application/json"))
        await send({"type": "http.response.start", "status": status, "headers": response_headers})
        await send({"type": "http.response.body", "body": payload})

    def _input(self, headers: dict[bytes, bytes], key_in_path: str | None = None) -> Input:
        authorization = headers.get(b"authorization", b"").decode("latin-1")
        if authorization.strip():
            return self._auth.authenticate(authorization)
        key = key_in_path or headers.get(b"x-mp-key", b"").decode("latin-1")
        if not key:
            raise Unauthorized(
                "Send HTTP Basic with the input's key and secret, or x-mp-key for a web input."
            )
        found = self._auth.input_for_key(key)
        if found is None:
            raise Unauthorized("Unknown API key.")
        if found.platform not in KEY_ONLY_PLATFORMS:
            raise Forbidden("This input needs its secret: send HTTP Basic with the key and secret.")
        if self._origins is not None:
            self._origins.check(found, headers.get(b"origin"))
        return found

    async def _dispatch(
        self, path: str, method: str, headers: dict[bytes, bytes], body: bytes, request_id: str
    ) -> tuple[int, bytes]:
        if call := _CALL.match(path):
            source = self._input(headers)
            request = _decode(body, IdentityRequest)
            previous = parse_mpid(request.previous_mpid, "previous_mpid")
            name = call.group(1)
            cause = f"{name} request {request.request_id or request_id}"
            # Most requests only read: answer them on the loop; writes wait for the lock in a thread.
            outcome = self._service.request_if_unchanged(
                source.workspace_id, name, request.known_identities, previous_mpid=previous, cause=cause
            )
            if outcome is None:
                outcome = await asyncio.to_thread(
                    self._service.request_changing,
                    source.workspace_id,
                    name,
                    request.known_identities,
                    previous_mpid=previous,
                    cause=cause,
                )
            return 200, _encode(
                {
                    "context": _CONTEXT,
                    "mpid": str(outcome.mpid),
                    "matched_identities": {IDSYNC_KEY[t]: v for t, v in outcome.matched.items()},
                    "is_ephemeral": False,
                    "is_logged_in": outcome.known,
                }
            )
        if modify := _MODIFY.match(path):
            source = self._input(headers)
            mpid = parse_mpid(modify.group(1), "mpid")
            assert mpid is not None
            changes = _decode(body, ModifyRequest).identity_changes
            moved = await asyncio.to_thread(
                self._service.modify,
                source.workspace_id,
                mpid,
                [(c.identity_type, c.old_value, c.new_value) for c in changes],
                cause=f"modify request {request_id}",
            )
            return 200, _encode(
                {
                    "change_results": [
                        {"identity_type": IDSYNC_KEY[t], "modified_mpid": str(m)} for t, m in moved
                    ]
                }
            )
        if history := _HISTORY.match(path):
            source = self._input(headers)
            mpid = parse_mpid(history.group(1), "mpid")
            assert mpid is not None
            decisions = await asyncio.to_thread(self._service.history, source.workspace_id, mpid)
            if not decisions:
                raise NotFound(f"No identity history for MPID {mpid}.")
            return 200, _encode({"mpid": str(mpid), "decisions": [decision_json(d) for d in decisions]})
        sdk_alias = _SDK_ALIAS.match(path)
        if sdk_alias or _SERVER_ALIAS.match(path):
            source = (
                self._input(headers, sdk_alias.group(1) if sdk_alias else None)
                if sdk_alias
                else (self._auth.authenticate(headers.get(b"authorization", b"").decode("latin-1")))
            )
            alias = _decode(body, AliasRequest)
            source_mpid = parse_mpid(alias.data.source_mpid, "source_mpid")
            destination = parse_mpid(alias.data.destination_mpid, "destination_mpid")
            if source_mpid is None or destination is None:
                raise BadRequest("source_mpid and destination_mpid are required.")
            await asyncio.to_thread(
                self._service.request_alias,
                source.workspace_id,
                source_mpid,
                destination,
                alias.data.start_unixtime_ms,
                alias.data.end_unixtime_ms,
                alias.request_id or request_id,
            )
            return 202, b""
        raise NotFound("Unknown IDSync path.")


def _decode(body: bytes, kind: type[Any]) -> Any:
    try:
        return msgspec.json.decode(body, type=kind)
    except msgspec.DecodeError as exc:
        raise BadRequest(f"Invalid request body: {exc}") from None
