"""Which browser origins may use a web input's key, and the CORS headers that say so.

An input with no listed origins may be used from any origin. A request from an origin not listed gets a 403
without any ``Access-Control-Allow-Origin``, so the browser shows the page nothing. Requests without an
``Origin`` header (servers, tests) are not browsers' and pass.
"""

from __future__ import annotations

import threading
import time

from fermion.errors import Forbidden
from fermion.platform import Input, Tenancy

_CACHE_SECONDS = 5.0
CORS_ALLOW_HEADERS = b"content-type, content-encoding, x-mp-key, authorization, date, x-mp-signature"


class OriginForbidden(Forbidden):
    """A browser origin not on the input's allow-list: answered 403 with no CORS grant."""


class OriginPolicy:
    """Checks a request's ``Origin`` against its input's allow-list (read at most every few seconds)."""

    def __init__(self, tenancy: Tenancy) -> None:
        self._tenancy = tenancy
        self._cache: dict[int, tuple[tuple[str, ...], float]] = {}
        self._lock = threading.Lock()

    def allowed(self, source: Input) -> tuple[str, ...]:
        """The input's allowed origins (empty: any)."""
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(source.id)
        if cached is not None and cached[1] > now:
            return cached[0]
        origins = self._tenancy.allowed_origins(source.id)
        with self._lock:
            self._cache[source.id] = (origins, now + _CACHE_SECONDS)
        return origins

    def check(self, source: Input, origin: bytes | None) -> None:
        """Forbidden when a browser at ``origin`` may not use ``source``'s key."""
        if not origin:
            return
        allowed = self.allowed(source)
        if allowed and origin.decode("latin-1").rstrip("/").lower() not in allowed:
            raise OriginForbidden(f"The origin {origin.decode('latin-1')} may not use this key.")


def cors_headers(origin: bytes | None, *, preflight: bool = False) -> list[tuple[bytes, bytes]]:
    """The CORS grant of a response to ``origin`` (echoed, with credentials, as the Web SDK needs)."""
    headers = [
        (b"access-control-allow-origin", origin or b"*"),
        (b"vary", b"Origin"),
    ]
    if origin:
        headers.append((b"access-control-allow-credentials", b"true"))
    if preflight:
        headers.append((b"access-control-allow-methods", b"GET, POST, OPTIONS"))
        headers.append((b"access-control-allow-headers", CORS_ALLOW_HEADERS))
        headers.append((b"access-control-max-age", b"600"))
    return headers
