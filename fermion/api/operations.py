"""Operations endpoints: health, readiness, Prometheus metrics, and the local admin reads the CLI uses."""

from __future__ import annotations

import contextlib
import hmac
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from fermion.errors import Forbidden, Unauthorized
from fermion.runtime import Runtime


def operations_router(runtime: Runtime) -> APIRouter:
    """Routes for /healthz, /readyz, /metrics and /admin/v1/…"""
    router = APIRouter()

    @router.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @router.get("/readyz", tags=["operations"])
    def readyz() -> Response:
        """The stores answer: 200 when ready to accept and process, 503 with the failing check otherwise."""
        checks: dict[str, str] = {}
        try:
            with runtime.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            checks["state_store"] = "ok"
        except Exception as exc:  # readiness reports, never raises
            checks["state_store"] = f"error: {exc}"
        try:
            runtime.event_reads().last_seq()
            checks["event_store"] = "ok"
        except Exception as exc:  # readiness reports, never raises
            checks["event_store"] = f"error: {exc}"
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks}, status_code=200 if ready else 503
        )

    @router.get("/metrics", tags=["operations"])
    def metrics() -> Response:
        """Prometheus metrics of this process, and of the worker process `fermion serve` started."""
        text = generate_latest(runtime.metrics.registry)
        if runtime.worker_socket is None:
            text += generate_latest(runtime.metrics.worker_registry)
        else:
            with contextlib.suppress(Exception):  # the worker is restarting: serve what this process knows
                text += runtime.local_reads().metrics_text()
        return PlainTextResponse(text, media_type=CONTENT_TYPE_LATEST)

    def check_admin(authorization: str | None) -> None:
        if not authorization or not authorization.lower().startswith("bearer "):
            raise Unauthorized("Admin endpoints need `Authorization: Bearer <data dir admin.token>`.")
        if not hmac.compare_digest(authorization[7:].strip(), runtime.admin_token()):
            raise Forbidden("The admin token is not valid.")

    @router.get("/admin/v1/events", tags=["admin"])
    def tail_events(
        after_seq: int = Query(0, ge=0),
        limit: int = Query(100, ge=1, le=1000),
        workspace_id: int | None = None,
        authorization: str | None = Header(None),
    ) -> dict[str, Any]:
        """Events stored after ``after_seq`` (what `fermion events tail` follows on the embedded store)."""
        check_admin(authorization)
        rows = runtime.event_reads().tail(after_seq, limit, workspace_id)
        return {"events": [asdict(r) for r in rows], "last_seq": rows[-1].seq if rows else after_seq}

    return router
