"""Identifiers: API keys and secrets, signed 64-bit ids, and stable hashes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import zlib

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def new_api_key() -> str:
    """A new input API key: 32 lowercase hex characters."""
    return secrets.token_hex(16)


def new_api_secret() -> str:
    """A new input API secret: 43 URL-safe characters (256 bits)."""
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """The stored form of a secret.

    Secrets are 256 random bits, so a plain SHA-256 cannot be brute-forced and keeps the check per request
    cheap (a slow password hash would cap ingest at a few hundred requests per second).
    """
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    """Whether ``secret`` hashes to ``stored_hash``, compared in constant time."""
    return hmac.compare_digest(hash_secret(secret), stored_hash)


def stable_int64(*parts: str) -> int:
    """A signed 64-bit integer derived from ``parts``; equal inputs give equal ids on every machine."""
    digest = hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def new_int64() -> int:
    """A random signed 64-bit id, never zero."""
    while True:
        value = int.from_bytes(secrets.token_bytes(8), "big", signed=True)
        if value != 0:
            return value


def partition_of(key: str, partitions: int) -> int:
    """The inbox partition of a user key (crc32, stable across processes, unlike ``hash()``)."""
    return zlib.crc32(key.encode("utf-8")) % partitions
