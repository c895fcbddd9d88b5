"""The Segment-compatible Tracking API as a plain ASGI app.

``POST /v1/batch`` and ``/v1/b`` (many messages), ``/v1/identify|track|page|screen|group|alias`` and the short
paths analytics.js calls (``/v1/i``, ``/v1/t``, ``/v1/p``, ``/v1/s``, ``/v1/g``, ``/v1/a``). The write key is
the API key of an input of platform ``segment``, sent as the Basic auth user name or as ``writeKey`` in the
body. Answers are Segment's: ``200 {"success": true}`` (never 202: RudderStack's client re-sends on it), and
errors as ``{"code", "message"}``. Each message becomes one mParticle batch in the inbox, de-duplicated on its
``messageId``; in a batch request a bad message is dropped (logged and counted) and the rest is accepted.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import re
from typing import Any
from urllib.parse import parse_qs

import msgspec

from fermion.clock import Clock
from fermion.errors import ClientError, NotFound, PayloadTooLarge, RateLimited, Unauthorized
from fermion.identity import IdentityService
from fermion.ingest.accept import Acceptor
from fermion.ingest.auth import Authenticator
from fermion.ingest.http import Receive, Scope, Send, gunzip, read_body
from fermion.ingest.origins import cors_headers
from fermion.ingest.pixel import GIF
from fermion.ingest.segment.mapping import InvalidMessage, Mapped, check, map_message, message_type
from fermion.ingest.segment.values import as_uuid
from fermion.metrics import Metrics
from fermion.platform import Input
from fermion.queue import GroupCommitter, InboxRecord
from fermion.ratelimit import TokenBuckets

SEGMENT_PLATFORM = "segment"
MAX_BATCH_BYTES = 500 * 1024
MAX_MESSAGE_BYTES = 32 * 1024
MAX_MESSAGES = 2500
_PATHS = {
    "batch": None,
    "b": None,
    "identify": "identify",
    "i": "identify",
    "track": "track",
    "t": "track",
    "page": "page",
    "p": "page",
    "screen": "screen",
    "s": "screen",
    "group": "group",
    "g": "group",
    "alias": "alias",
    "a": "alias",
}
_PATH = re.compile(r"^/v1/([a-z]+)/?$")
_PIXEL = re.compile(r"^/v1/pixel/(identify|track|page|screen|group|alias)/?$")
_CODES = {401: "invalid_write_key", 413: "payload_too_large", 429: "rate_limited"}
_log = logging.getLogger("fermion.ingest.segment")
_encode = msgspec.json.Encoder().encode
_SUCCESS = b'{"success":true}'


def segment_route_of(scope: Scope) -> bool:
    """Whether a request is for the Tracking API.

    ``/v1/identify`` and ``/v1/alias`` are also IDSync paths: a preflight, a request with ``x-mp-key`` or
    with a Basic key *and secret* is IDSync's (Segment's Basic auth has an empty password).
    """
    if _PIXEL.match(scope["path"]) is not None:
        return True
    match = _PATH.match(scope["path"])
    if match is None or match.group(1) not in _PATHS:
        return False
    if match.group(1) not in ("identify", "alias"):
        return True
    headers = dict(scope["headers"])
    if scope["method"] == "OPTIONS" or b"x-mp-key" in headers:
        return False
    user_and_secret = headers.get(b"authorization", b"").decode("latin-1").strip().partition(" ")[2]
    try:
        secret = base64.b64decode(user_and_secret, validate=True).decode("utf-8").partition(":")[2]
    except (binascii.Error, UnicodeDecodeError):
        return True
    return not secret


def segment_error_body(error: ClientError) -> bytes:
    """Segment's error body, ``{"code": "...", "message": "..."}``."""
    code = error.code if isinstance(error, InvalidMessage) else _CODES.get(error.status, "bad_request")
    return _encode({"code": code, "message": error.message})


class SegmentApi:
    """ASGI handler of the Tracking API paths."""

    def __init__(
        self,
        authenticator: Authenticator,
        acceptor: Acceptor,
        committer: GroupCommitter,
        identity: IdentityService,
        limiter: TokenBuckets,
        metrics: Metrics,
        clock: Clock,
    ) -> None:
        self._auth = authenticator
        self._acceptor = acceptor
        self._committer = committer
        self._identity = identity
        self._limiter = limiter
        self._metrics = metrics
        self._clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        pixel = _PIXEL.match(scope["path"])
        if pixel is not None:
            await self._pixel(pixel.group(1), scope, send)
            return
        headers = dict(scope["headers"])
        status, body, extra = 200, _SUCCESS, []
        if scope["method"] == "OPTIONS":
            await _respond(send, 204, b"", headers, [])
            return
        try:
            if scope["method"] != "POST":
                raise NotFound("The Tracking API takes POST.")
            match = _PATH.match(scope["path"])
            assert match is not None
            await self._handle(_PATHS[match.group(1)], scope, headers, receive)
        except ClientError as error:
            status, body = error.status, segment_error_body(error)
            self._metrics.rejections.labels(reason=f"segment_{error.code}").inc()
            if isinstance(error, RateLimited):
                extra = [(b"retry-after", str(error.retry_after).encode())]
                extra.append((b"x-ratelimit-reset", str(error.retry_after).encode()))
        except Exception:  # edge guard: a server fault is a 503 the clients retry, never a lost 200
            _log.exception("Segment ingest failed")
            status, body = 503, _encode({"code": "unavailable", "message": "Could not store the request."})
        self._metrics.http_requests.labels(route="segment", status=str(status)).inc()
        await _respond(send, status, body, headers, extra)

    async def _handle(
        self, single: str | None, scope: Scope, headers: dict[bytes, bytes], receive: Receive
    ) -> None:
        limit = MAX_BATCH_BYTES if single is None else MAX_MESSAGE_BYTES
        raw = await read_body(receive, limit)
        if headers.get(b"content-encoding", b"").strip().lower() == b"gzip":
            raw = gunzip(raw, limit)
        try:
            parsed = msgspec.json.decode(raw)
        except msgspec.DecodeError as exc:
            raise InvalidMessage(f"The body is not valid JSON: {exc}", "invalid_json") from None
        if not isinstance(parsed, dict):
            raise InvalidMessage("The body must be a JSON object.", "invalid_json")
        await self._accept(single, parsed, headers, scope)

    async def _pixel(self, kind: str, scope: Scope, send: Send) -> None:
        """Segment's Tracking Pixel API: always a 200 with a 1×1 GIF, even on error (as Segment answers)."""
        try:
            message = pixel_message(parse_qs(scope.get("query_string", b"").decode("latin-1")))
            message["type"] = kind
            await self._accept(kind, message, {}, scope)
        except ClientError as error:
            self._metrics.rejections.labels(reason=f"segment_pixel_{error.code}").inc()
        except Exception:  # edge guard: the pixel answers its GIF whatever happens
            _log.exception("Segment pixel failed")
        self._metrics.http_requests.labels(route="segment_pixel", status="200").inc()
        headers = [(b"content-type", b"image/gif"), (b"content-length", str(len(GIF)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": GIF})

    async def _accept(
        self, single: str | None, parsed: dict[str, Any], headers: dict[bytes, bytes], scope: Scope
    ) -> None:
        source = self._input(headers, parsed)
        received = self._clock.now_ms()
        client = scope.get("client")
        remote_ip = client[0] if client else None
        mapped: list[Mapped] = []
        if single is not None:
            parsed.setdefault("type", single)
            kind = message_type(parsed)
            check(parsed, kind)
            mapped.append(
                map_message(parsed, kind, received_ms=received, environment="production", remote_ip=remote_ip)
            )
        else:
            mapped = self._batch(parsed, received, remote_ip)
        records: list[InboxRecord] = []
        events = 0
        for item in mapped:
            if item.batch is None:
                continue
            try:
                record, count = self._acceptor.converted(
                    source, _encode(item.batch), channel=item.batch["source_info"]["channel"]
                )
            except ClientError as error:
                if single is not None:
                    raise
                self._dropped(item.message_id, error)
                continue
            records.append(record)
            events += count
        self._limiter.take(source.workspace_id, max(len(records), 1))
        for item in mapped:
            if item.previous_id is not None and item.user_id is not None:
                try:
                    await asyncio.to_thread(self._alias, source, item)
                except ClientError as error:  # e.g. a re-sent alias: the rest of the request still counts
                    if single is not None:
                        raise
                    self._dropped(item.message_id, error)
        stored = await self._committer.submit(records)
        self._metrics.batches_accepted.inc(stored)
        self._metrics.batches_duplicate.inc(len(records) - stored)
        self._metrics.events_accepted.inc(events)

    def _batch(self, parsed: dict[str, Any], received: int, remote_ip: str | None) -> list[Mapped]:
        messages = parsed.get("batch")
        if not isinstance(messages, list):
            raise InvalidMessage("A batch request needs a batch array.", "invalid_batch")
        if len(messages) > MAX_MESSAGES:
            raise InvalidMessage(f"A batch holds at most {MAX_MESSAGES} messages.", "too_many_messages")
        shared_context = parsed.get("context") if isinstance(parsed.get("context"), dict) else None
        shared_integrations = (
            parsed.get("integrations") if isinstance(parsed.get("integrations"), dict) else None
        )
        mapped: list[Mapped] = []
        for index, message in enumerate(messages):
            message_id = str(message.get("messageId", index)) if isinstance(message, dict) else str(index)
            try:
                if not isinstance(message, dict):
                    raise InvalidMessage("A batch entry must be a JSON object.", "invalid_message")
                if len(_encode(message)) > MAX_MESSAGE_BYTES:
                    raise PayloadTooLarge(f"A message must be under {MAX_MESSAGE_BYTES} bytes.")
                if shared_context:
                    message["context"] = {**shared_context, **(message.get("context") or {})}
                if shared_integrations:
                    message["integrations"] = {**shared_integrations, **(message.get("integrations") or {})}
                if "sentAt" not in message and parsed.get("sentAt"):
                    message["sentAt"] = parsed["sentAt"]
                kind = message_type(message)
                check(message, kind)
                mapped.append(
                    map_message(
                        message, kind, received_ms=received, environment="production", remote_ip=remote_ip
                    )
                )
            except ClientError as error:
                self._dropped(message_id, error)
        return mapped

    def _dropped(self, message_id: str, error: ClientError) -> None:
        _log.warning("Segment message dropped", extra={"message_id": message_id, "error": error.message})
        self._metrics.rejections.labels(reason=f"segment_message_{error.code}").inc()

    def _input(self, headers: dict[bytes, bytes], parsed: dict[str, Any]) -> Input:
        authorization = headers.get(b"authorization", b"").decode("latin-1")
        if authorization.strip().lower().startswith("bearer"):
            raise Unauthorized("OAuth Bearer tokens are not supported: send the write key with Basic auth.")
        from_header = _basic_user(authorization)
        in_body = parsed.get("writeKey")
        if not isinstance(in_body, str) or not in_body:
            first = (parsed.get("batch") or [None])[0] if isinstance(parsed.get("batch"), list) else None
            in_body = first.get("writeKey") if isinstance(first, dict) else None
        if from_header and isinstance(in_body, str) and in_body and in_body != from_header:
            raise Unauthorized("The write key in the Authorization header and in the body differ.")
        key = from_header or in_body
        if not isinstance(key, str) or not key:
            raise Unauthorized("Send the write key as the Basic auth user name or as writeKey in the body.")
        found = self._auth.input_for_key(key)
        if found is None or found.platform != SEGMENT_PLATFORM:
            raise Unauthorized("Unknown write key: it must be the API key of a segment input.")
        return found

    def _alias(self, source: Input, item: Mapped) -> None:
        """Segment's alias as an mParticle alias request: previousId's MPID (as an anonymousId, else as a user
        id) into userId's. Either user is created when not seen yet: the messages that name them may still be
        on their way through the pipeline."""
        assert item.previous_id is not None and item.user_id is not None
        workspace = source.workspace_id
        cause = f"segment alias {item.message_id}"
        previous: int | None = None
        for name, value in (
            ("device_application_stamp", as_uuid(item.previous_id)),
            ("customerid", item.previous_id),
        ):
            try:
                previous = self._identity.request(workspace, "search", {name: value}, cause=cause).mpid
                break
            except NotFound:
                continue
        if previous is None:
            known = {"device_application_stamp": as_uuid(item.previous_id)}
            previous = self._identity.request(workspace, "identify", known, cause=cause).mpid
        target = self._identity.request(workspace, "identify", {"customerid": item.user_id}, cause=cause).mpid
        if previous != target:
            self._identity.request_alias(
                workspace, previous, target, None, None, f"segment:{item.message_id}"
            )


def pixel_message(query: dict[str, list[str]]) -> dict[str, Any]:
    """The message of a pixel request: ``data`` as base64 (or plain) JSON, else the flat query keys
    (``properties.subject=…``) as a nested object."""
    data = query.get("data", [""])[0]
    if data:
        padded = data + "=" * (-len(data) % 4)
        candidates: list[bytes] = [data.encode()]
        with contextlib.suppress(binascii.Error, ValueError):
            candidates.insert(0, base64.urlsafe_b64decode(padded.replace("+", "-").replace("/", "_")))
        for candidate in candidates:
            try:
                found = msgspec.json.decode(candidate)
            except msgspec.DecodeError:
                continue
            if isinstance(found, dict):
                return found
        raise InvalidMessage("data is neither base64 JSON nor JSON.", "invalid_json")
    message: dict[str, Any] = {}
    for key, values in query.items():
        *parents, leaf = key.split(".")
        target = message
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = values[0]
    return message


def _basic_user(header: str) -> str | None:
    """The user name of a Basic header (the write key); a key encoded without its colon is tolerated."""
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthorized("Authorization is not valid base64.") from None
    return decoded.partition(":")[0] or None


async def _respond(
    send: Send, status: int, body: bytes, headers: dict[bytes, bytes], extra: list[tuple[bytes, bytes]]
) -> None:
    response = [
        (b"content-length", str(len(body)).encode()),
        *cors_headers(headers.get(b"origin"), preflight=status == 204),
        *extra,
    ]
    if body:
        response.append((b"content-type", b"application/json"))
    await send({"type": "http.response.start", "status": status, "headers": response})
    await send({"type": "http.response.body", "body": body})
