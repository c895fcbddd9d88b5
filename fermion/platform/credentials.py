"""OAuth client credentials for the Profile API (and later the Platform and Data Planning APIs).

A client is a ``client_id`` with a hashed ``client_secret`` and the workspaces it is granted. It trades its
credentials for a Bearer token (OAuth 2 client credentials grant). Tokens are stateless: a JWT signed with
HMAC-SHA256 under a key kept in the state store, so every process on one store accepts the tokens any of them
issued and nothing is written per token. Like mParticle's, a token cannot be revoked; it expires.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import msgspec
from sqlalchemy import Engine, select
from sqlalchemy.dialects import postgresql, sqlite

from fermion.clock import Clock
from fermion.errors import BadRequest, NotFound, Unauthorized
from fermion.ids import hash_secret, new_api_key, new_api_secret, secret_matches
from fermion.platform.tables import api_clients, token_signing_keys, workspaces
from fermion.store import reading

TOKEN_TTL_S = 28_800
"""Lifetime of a Bearer token: 8 hours, like mParticle's (``expires_in: 28800``)."""

_KEY_ID = 1
_ISSUER = "fermion"


@dataclass(frozen=True)
class ApiClient:
    """OAuth client credentials without their secret: who may call the APIs, for which workspaces."""

    client_id: str
    workspace_ids: tuple[int, ...]
    created_ms: int


@dataclass(frozen=True)
class ApiClientCredentials:
    """A new client with its secret, returned once: on creation."""

    client: ApiClient
    client_secret: str


@dataclass(frozen=True)
class AccessToken:
    """What ``POST /oauth/token`` answers."""

    access_token: str
    expires_in: int
    token_type: str = "Bearer"


@dataclass(frozen=True)
class TokenGrant:
    """What a valid Bearer token says: the client that holds it, its workspaces, and when it expires."""

    client_id: str
    workspace_ids: frozenset[int]
    expires_ms: int

    def allows(self, workspace_id: int) -> bool:
        """Whether the token was issued for ``workspace_id``."""
        return workspace_id in self.workspace_ids


class _Header(msgspec.Struct):
    alg: str
    kid: str = ""


class _Claims(msgspec.Struct):
    sub: str
    exp: int
    workspace_ids: list[int]


_encode = msgspec.json.Encoder(order="deterministic").encode


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class ApiCredentials:
    """Creates and lists OAuth clients, and issues and checks their Bearer tokens."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        self._key: bytes | None = None
        self._key_lock = threading.Lock()

    def create(self, workspace_ids: Sequence[int]) -> ApiClientCredentials:
        """A new client granted ``workspace_ids``; its secret is returned only here and stored hashed."""
        wanted = tuple(dict.fromkeys(workspace_ids))
        if not wanted:
            raise BadRequest("API credentials need at least one workspace.")
        secret = new_api_secret()
        client = ApiClient(client_id=new_api_key(), workspace_ids=wanted, created_ms=self._clock.now_ms())
        with self._engine.begin() as conn:
            found = set(conn.execute(select(workspaces.c.id).where(workspaces.c.id.in_(wanted))).scalars())
            missing = [w for w in wanted if w not in found]
            if missing:
                raise NotFound(f"Workspace {', '.join(map(str, missing))} does not exist.")
            conn.execute(
                api_clients.insert().values(
                    client_id=client.client_id,
                    secret_hash=hash_secret(secret),
                    workspace_ids=_encode(list(wanted)).decode(),
                    created_ms=client.created_ms,
                )
            )
        return ApiClientCredentials(client, secret)

    def list_clients(self) -> list[ApiClient]:
        """Every client, oldest first (never their secrets)."""
        query = select(api_clients.c.client_id, api_clients.c.workspace_ids, api_clients.c.created_ms)
        with reading(self._engine) as conn:
            rows = conn.execute(query.order_by(api_clients.c.created_ms, api_clients.c.client_id)).all()
        return [ApiClient(row[0], tuple(msgspec.json.decode(row[1], type=list[int])), row[2]) for row in rows]

    def authenticate(self, client_id: str, client_secret: str) -> ApiClient | None:
        """The client whose id and secret these are, or None."""
        query = select(api_clients).where(api_clients.c.client_id == client_id)
        with reading(self._engine) as conn:
            row = conn.execute(query).mappings().first()
        if row is None or not secret_matches(client_secret, row["secret_hash"]):
            return None
        workspace_ids = tuple(msgspec.json.decode(row["workspace_ids"], type=list[int]))
        return ApiClient(row["client_id"], workspace_ids, int(row["created_ms"]))

    def issue_token(self, client: ApiClient, audience: str | None = None) -> AccessToken:
        """A Bearer token for ``client``, valid for ``TOKEN_TTL_S`` seconds from now (by the Clock)."""
        issued_s = self._clock.now_ms() // 1000
        header = {"alg": "HS256", "typ": "JWT", "kid": str(_KEY_ID)}
        claims = {
            "iss": _ISSUER,
            "sub": client.client_id,
            "aud": audience,
            "iat": issued_s,
            "exp": issued_s + TOKEN_TTL_S,
            "workspace_ids": list(client.workspace_ids),
        }
        signing_input = f"{_b64(_encode(header))}.{_b64(_encode(claims))}"
        return AccessToken(f"{signing_input}.{_b64(self._sign(signing_input))}", TOKEN_TTL_S)

    def verify(self, token: str) -> TokenGrant:
        """What ``token`` grants; Unauthorized when it is malformed, not signed by this store, or expired."""
        parts = token.split(".")
        if len(parts) != 3:
            raise Unauthorized("The access token is malformed.")
        try:
            header = msgspec.json.decode(_unb64(parts[0]), type=_Header)
            signature = _unb64(parts[2])
        except (msgspec.DecodeError, binascii.Error, ValueError):
            raise Unauthorized("The access token is malformed.") from None
        expected = self._sign(f"{parts[0]}.{parts[1]}")
        signed = header.alg == "HS256" and header.kid == str(_KEY_ID)
        if not signed or not hmac.compare_digest(signature, expected):
            raise Unauthorized("The access token was not issued by this server.")
        try:
            claims = msgspec.json.decode(_unb64(parts[1]), type=_Claims)
        except (msgspec.DecodeError, binascii.Error, ValueError):
            raise Unauthorized("The access token is malformed.") from None
        expires_ms = claims.exp * 1000
        if self._clock.now_ms() >= expires_ms:
            raise Unauthorized("The access token has expired; request a new one from /oauth/token.")
        return TokenGrant(claims.sub, frozenset(claims.workspace_ids), expires_ms)

    def _sign(self, signing_input: str) -> bytes:
        return hmac.new(self._signing_key(), signing_input.encode("ascii"), hashlib.sha256).digest()

    def _signing_key(self) -> bytes:
        """The store's signing key, created by whichever process needs it first (once per store)."""
        if self._key is None:
            with self._key_lock:
                if self._key is None:
                    self._key = self._load_or_create_key()
        return self._key

    def _load_or_create_key(self) -> bytes:
        query = select(token_signing_keys.c.secret).where(token_signing_keys.c.key_id == _KEY_ID)
        with self._engine.begin() as conn:
            found = conn.execute(query).scalar()
            if found is None:
                # Processes starting together race here; the one whose row lands first wins for all.
                conn.execute(
                    self._insert(token_signing_keys)
                    .values(key_id=_KEY_ID, secret=secrets.token_hex(32), created_ms=self._clock.now_ms())
                    .on_conflict_do_nothing(index_elements=["key_id"])
                )
                found = conn.execute(query).scalar_one()
        return bytes.fromhex(found)
