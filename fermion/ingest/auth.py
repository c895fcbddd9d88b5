"""HTTP Basic authentication of Events API requests with an input's API key and secret."""

from __future__ import annotations

import base64
import binascii
import threading
import time

from fermion.errors import Forbidden, Unauthorized
from fermion.ids import secret_matches
from fermion.platform import Input, Tenancy

_CACHE_SECONDS = 5.0


def parse_basic(header: str | None) -> tuple[str, str]:
    """The (key, secret) of an ``Authorization: Basic`` header; Unauthorized when absent or unusable.

    ``Basic Og==`` (an empty key and secret, what the Python SDK sends without credentials) and an empty
    header (what the Node SDK sends) are both "missing".
    """
    if not header or not header.strip():
        raise Unauthorized(
            "Authorization header is missing: send HTTP Basic with the input's key and secret."
        )
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise Unauthorized("Authorization must be HTTP Basic with the input's API key and secret.")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise Unauthorized("Authorization header is not valid base64 of key:secret.") from exc
    key, sep, secret = decoded.partition(":")
    if not sep or not key or not secret:
        raise Unauthorized("Authorization header lacks the API key or the API secret.")
    return key, secret


class Authenticator:
    """Finds the input of an API key (cached for a few seconds) and checks its secret."""

    def __init__(self, tenancy: Tenancy) -> None:
        self._tenancy = tenancy
        self._cache: dict[str, tuple[Input | None, float]] = {}
        self._lock = threading.Lock()

    def input_for_key(self, api_key: str) -> Input | None:
        """The input with ``api_key``, from the cache when fresh."""
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(api_key)
        if cached is not None and cached[1] > now:
            return cached[0]
        found = self._tenancy.find_input_by_key(api_key)
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[api_key] = (found, now + _CACHE_SECONDS)
        return found

    def forget(self, api_key: str) -> None:
        """Drop a cached input (after its secret was rotated in this process)."""
        with self._lock:
            self._cache.pop(api_key, None)

    def authenticate(self, header: str | None) -> Input:
        """The input an Authorization header proves; Unauthorized (401) or Forbidden (403) otherwise."""
        key, secret = parse_basic(header)
        found = self.input_for_key(key)
        if found is None or not secret_matches(secret, found.secret_hash):
            raise Forbidden("The API key and secret are not valid.")
        return found
