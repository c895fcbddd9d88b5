"""The one place errors become HTTP responses for the framework-routed endpoints."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from fermion.errors import FermionError, RateLimited


def install_error_handlers(app: FastAPI) -> None:
    """Map Fermion errors, validation errors and HTTP errors to ``{"errors": [{code, message}]}`` bodies."""

    @app.exception_handler(FermionError)
    async def _fermion(_: Request, exc: FermionError) -> JSONResponse:
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
        return JSONResponse(
            {"errors": [{"code": exc.code, "message": exc.message}]}, status_code=exc.status, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        messages = "; ".join(
            f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg', '')}" for err in exc.errors()
        )
        return JSONResponse({"errors": [{"code": "BAD_REQUEST", "message": messages}]}, status_code=400)

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        code = {401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}
        return JSONResponse(
            {"errors": [{"code": code.get(exc.status_code, "HTTP_ERROR"), "message": str(exc.detail)}]},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )
