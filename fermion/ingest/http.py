"""The Events API endpoints as a plain ASGI app: the hot path skips the web framework.

``POST /v2/events``, ``/v2/bulkevents`` and ``/v2/bulkevents/historical`` (with or without a trailing slash;
never redirected, since the Node SDK would turn a redirected POST into a GET). A 202 is sent only once the
request's batches are committed to the inbox.
"""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import msgspec

from fermion.errors import BadRequest, BatchValidationError, ClientError, PayloadTooLarge, RateLimited
from fermion.ingest.accept import Accepted, Acceptor
from fermion.ingest.auth import Authenticator
from fermion.metrics import Metrics
from fermion.queue import GroupCommitter
from fermion.ratelimit import TokenBuckets

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

ROUTES = {
    "/v2/events": "events",
    "/v2/bulkevents": "bulkevents",
    "/v2/bulkevents/historical": "historical",
}
_log = logging.getLogger("fermion.ingest")
_ERROR_ENCODER = msgspec.json.Encoder()


def route_of(path: str) -> str | None:
    """The Events API route a request path names, if any."""
    return ROUTES.get(path.rstrip("/") if path != "/" else path)


def error_body(error: ClientError) -> bytes:
    """The Events API error body: ``{"errors": [{"code", "message"}]}`` (plus ``path`` for schema errors)."""
    entry: dict[str, str] = {"code": error.code, "message": error.message}
    if isinstance(error, BatchValidationError):
        entry["path"] = error.path
        entry["message"] = f"{error.message} (at {error.path})"
    return _ERROR_ENCODER.encode({"errors": [entry]})


class EventsApi:
    """ASGI handler of the three Events API routes."""

    def __init__(
        self,
        authenticator: Authenticator,
        acceptor: Acceptor,
        committer: GroupCommitter,
        limiter: TokenBuckets,
        metrics: Metrics,
        max_request_bytes: int,
    ) -> None:
        self._auth = authenticator
        self._acceptor = acceptor
        self._committer = committer
        self._limiter = limiter
        self._metrics = metrics
        self._max = max_request_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = route_of(scope["path"]) or "unknown"
        started = time.perf_counter()
        status, body, extra = 202, b"", []
        try:
            if scope["method"] != "POST":
                status, body = (
                    405,
                    _ERROR_ENCODER.encode(
                        {"errors": [{"code": "METHOD_NOT_ALLOWED", "message": "Use POST."}]}
                    ),
                )
                extra = [(b"allow", b"POST")]
            else:
                accepted, used = await self._handle(route, scope, receive)
                stored = await self._committer.submit(accepted.records)
                self._metrics.batches_accepted.inc(stored)
                self._metrics.batches_duplicate.inc(len(accepted.records) - stored)
                self._metrics.events_accepted.inc(accepted.events)
                self._metrics.accept_seconds.observe(time.perf_counter() - started)
                if used:
                    extra = [(b"x-mp-rate-limit-percentage-used", str(used).encode())]
        except ClientError as error:
            status, body = error.status, error_body(error)
            self._metrics.rejections.labels(reason=error.code).inc()
            if isinstance(error, RateLimited):
                extra = [
                    (b"retry-after", str(error.retry_after).encode()),
                    (b"x-mp-rate-limit-exceeded", error.limit.encode()),
                ]
        except Exception:  # edge guard: a server fault is a 503 the client retries, never a lost 202
            _log.exception("ingest failed", extra={"route": route})
            status = 503
            body = _ERROR_ENCODER.encode(
                {
                    "errors": [
                        {"code": "SERVICE_UNAVAILABLE", "message": "Could not store the request; retry."}
                    ]
                }
            )
            self._metrics.rejections.labels(reason="SERVICE_UNAVAILABLE").inc()
        self._metrics.http_requests.labels(route=route, status=str(status)).inc()
        headers = [(b"content-length", str(len(body)).encode()), *extra]
        if body:
            headers.append((b"content-type", b"application/json"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _handle(self, route: str, scope: Scope, receive: Receive) -> tuple[Accepted, int]:
        headers = dict(scope["headers"])
        source = self._auth.authenticate(headers.get(b"authorization", b"").decode("latin-1"))
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self._max:
            raise PayloadTooLarge(
                f"The request body must be under {self._max} bytes; it has {int(declared)}."
            )
        body = await read_body(receive, self._max)
        if headers.get(b"content-encoding", b"").strip().lower() == b"gzip":
            body = self._gunzip(body)
        if not body.strip():
            raise BadRequest("The request body is empty.")
        if route == "events":
            accepted = self._acceptor.single(source, body)
        else:
            accepted = self._acceptor.bulk(source, body, historical=route == "historical")
        used = self._limiter.take(source.workspace_id, len(accepted.records))
        return accepted, used

    def _gunzip(self, body: bytes) -> bytes:
        return gunzip(body, self._max)


def gunzip(body: bytes, max_bytes: int) -> bytes:
    """A gzip request body inflated; BadRequest when it is not gzip, PayloadTooLarge past ``max_bytes``."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, max_bytes + 1)
    except zlib.error as exc:
        raise BadRequest(f"Content-Encoding is gzip but the body is not valid gzip ({exc}).") from exc
    if len(data) > max_bytes or inflater.unconsumed_tail:
        raise PayloadTooLarge(f"The decompressed request body must be under {max_bytes} bytes.")
    if not inflater.eof:
        raise BadRequest("Content-Encoding is gzip but the body is truncated (no gzip trailer).")
    return data


async def read_body(receive: Receive, max_bytes: int) -> bytes:
    """The whole request body; PayloadTooLarge past ``max_bytes``, BadRequest if the client goes away."""
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise BadRequest("The client disconnected before sending the whole body.")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(f"The request body must be under {max_bytes} bytes.")
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)
