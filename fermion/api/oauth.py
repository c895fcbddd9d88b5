"""OAuth 2 client credentials (spec §5.1): ``POST /oauth/token``, and the Bearer check of the APIs it serves.

The token endpoint answers errors in OAuth 2's format (RFC 6749 §5.2), ``{"error", "error_description"}``,
which OAuth client libraries parse; the APIs behind the Bearer check keep the ``{"errors": [...]}`` bodies of
``api/errors.py``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

import msgspec
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from fermion.errors import Forbidden, Unauthorized
from fermion.platform import ApiCredentials, TokenGrant, Workspace
from fermion.runtime import Runtime

GRANT_TYPE = "client_credentials"
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class TokenRequest(BaseModel):
    """The token request, as JSON or form-encoded; the client may instead authenticate with HTTP Basic."""

    grant_type: str = Field(description="Must be `client_credentials`.")
    client_id: str | None = Field(None, description="Omit when sent as HTTP Basic user name.")
    client_secret: str | None = Field(None, description="Omit when sent as HTTP Basic password.")
    audience: str | None = Field(None, description="Accepted and recorded; e.g. `https://api.mparticle.com`.")


class TokenResponse(BaseModel):
    access_token: str
    expires_in: int = Field(description="Seconds the token is valid: 28800 (8 hours).")
    token_type: str = Field(description="Always `Bearer`.")


class OAuthErrorBody(BaseModel):
    error: str = Field(description="invalid_request, invalid_client or unsupported_grant_type.")
    error_description: str


class _OAuthError(Exception):
    def __init__(self, status: int, error: str, description: str, headers: dict[str, str] | None = None):
        super().__init__(description)
        self.status, self.error, self.description, self.headers = status, error, description, headers

    def response(self) -> Response:
        body = {"error": self.error, "error_description": self.description}
        return JSONResponse(body, status_code=self.status, headers={**_NO_STORE, **(self.headers or {})})


def _params(content_type: str, body: bytes) -> dict[str, str]:
    """The request's parameters from a JSON or form-encoded body."""
    if not body.strip():
        return {}
    if content_type.startswith("application/x-www-form-urlencoded"):
        try:
            return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            raise _OAuthError(400, "invalid_request", "The form body is not UTF-8.") from None
    try:
        decoded = msgspec.json.decode(body)
    except msgspec.DecodeError:
        raise _OAuthError(
            400, "invalid_request", "Send a JSON object or an application/x-www-form-urlencoded body."
        ) from None
    if not isinstance(decoded, dict):
        raise _OAuthError(400, "invalid_request", "The JSON body must be an object.")
    wrong = sorted(k for k, v in decoded.items() if v is not None and not isinstance(v, str))
    if wrong:
        raise _OAuthError(400, "invalid_request", f"{', '.join(wrong)} must be strings.")
    return {k: v for k, v in decoded.items() if isinstance(v, str)}


def _basic(header: str | None) -> tuple[str, str] | None:
    """The client id and secret of HTTP Basic client authentication (RFC 6749 §2.3.1), if used."""
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise _OAuthError(
            401, "invalid_client", "The Basic credentials are not base64.", {"WWW-Authenticate": "Basic"}
        ) from None
    client_id, _, secret = decoded.partition(":")
    return unquote_plus(client_id), unquote_plus(secret)


def _token_request_schema() -> dict[str, Any]:
    schema = TokenRequest.model_json_schema()
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": schema},
                "application/x-www-form-urlencoded": {"schema": schema},
            },
        }
    }


def oauth_router(runtime: Runtime) -> APIRouter:
    """``POST /oauth/token``: client credentials → Bearer token."""
    router = APIRouter(tags=["oauth"])
    credentials = runtime.credentials

    @router.post(
        "/oauth/token",
        response_model=TokenResponse,
        responses={400: {"model": OAuthErrorBody}, 401: {"model": OAuthErrorBody}},
        openapi_extra=_token_request_schema(),
    )
    async def token(request: Request) -> Response:
        """Exchange OAuth client credentials (`fermion credentials create`) for a Bearer token valid 8 hours.

        Client authentication in the body (JSON or form-encoded) or with HTTP Basic.
        """
        try:
            params = _params(request.headers.get("content-type", ""), await request.body())
            grant_type = params.get("grant_type")
            if not grant_type:
                raise _OAuthError(400, "invalid_request", "grant_type is required: client_credentials.")
            if grant_type != GRANT_TYPE:
                raise _OAuthError(
                    400, "unsupported_grant_type", f"Only grant_type {GRANT_TYPE} is supported."
                )
            basic = _basic(request.headers.get("authorization"))
            client_id, secret = basic or (params.get("client_id", ""), params.get("client_secret", ""))
            if not client_id or not secret:
                raise _OAuthError(401, "invalid_client", "client_id and client_secret are required.")
            client = await run_in_threadpool(credentials.authenticate, client_id, secret)
            if client is None:
                challenge = {"WWW-Authenticate": "Basic"} if basic else None
                raise _OAuthError(401, "invalid_client", "Unknown client or wrong secret.", challenge)
        except _OAuthError as error:
            return error.response()
        issued = await run_in_threadpool(credentials.issue_token, client, params.get("audience"))
        body = {"access_token": issued.access_token, "expires_in": issued.expires_in, "token_type": "Bearer"}
        return JSONResponse(body, headers=_NO_STORE)

    return router


def bearer_grant(credentials: ApiCredentials) -> Callable[..., TokenGrant]:
    """A dependency: the grant of the request's Bearer token; 401 when missing, invalid or expired."""
    scheme = HTTPBearer(auto_error=False, description="A token from `POST /oauth/token`.")

    def grant(bearer: HTTPAuthorizationCredentials | None = Depends(scheme)) -> TokenGrant:
        if bearer is None:
            raise HTTPException(
                401,
                "Authorization must be `Bearer <access_token>` from POST /oauth/token.",
                headers={"WWW-Authenticate": "Bearer"},
            )
        try:
            return credentials.verify(bearer.credentials)
        except Unauthorized as error:
            raise HTTPException(
                401, error.message, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
            ) from None

    return grant


def granted_workspace(runtime: Runtime, grant: TokenGrant, workspace_id: int) -> Workspace:
    """The workspace a Bearer token names in a path: 403 when not granted to the token, 404 when gone."""
    if not grant.allows(workspace_id):
        raise Forbidden(f"This token is not granted workspace {workspace_id}.")
    return runtime.tenancy.get_workspace(workspace_id)
