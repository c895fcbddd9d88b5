"""The ASGI application: the Events API on a plain ASGI path, everything else on FastAPI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from fermion import __version__
from fermion.api.analytics import analytics_router
from fermion.api.audiences import audiences_router
from fermion.api.calculated import calculated_router
from fermion.api.dsr import dsr_router
from fermion.api.errors import install_error_handlers
from fermion.api.idsync import IdSyncApi
from fermion.api.idsync import route_of as is_idsync_path
from fermion.api.live import live_stream_router
from fermion.api.operations import operations_router
from fermion.api.outputs import outputs_router
from fermion.api.plans import data_planning_router
from fermion.api.profiles import profile_api_router
from fermion.ingest import (
    EventsApi,
    OriginPolicy,
    PixelApi,
    Receive,
    Scope,
    SegmentApi,
    Send,
    WebSdkApi,
    pixel_route_of,
    route_of,
    segment_route_of,
    web_route_of,
)
from fermion.queue import Inbox
from fermion.runtime import Runtime


class FermionApp:
    """Dispatches Events API requests to the hot path and the rest to FastAPI."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.events_api = EventsApi(
            runtime.authenticator,
            runtime.acceptor,
            runtime.committer,
            runtime.limiter,
            runtime.metrics,
            runtime.settings.max_request_bytes,
        )
        self.origins = OriginPolicy(runtime.tenancy)
        self.idsync = IdSyncApi(runtime.identity, runtime.authenticator, runtime.metrics, self.origins)
        self.framework = _framework(runtime)
        self.segment = SegmentApi(
            runtime.authenticator,
            runtime.acceptor,
            runtime.committer,
            runtime.identity,
            runtime.limiter,
            runtime.metrics,
            runtime.clock,
        )
        self.web_sdk = WebSdkApi(
            runtime.authenticator,
            runtime.acceptor,
            runtime.committer,
            self.origins,
            runtime.metrics,
            runtime.settings.max_request_bytes,
            data_plan=runtime.plans.sdk_data_plan,
        )
        self.pixel = PixelApi(
            runtime.authenticator, runtime.acceptor, runtime.committer, self.origins, runtime.metrics
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and route_of(scope["path"]) is not None:
            await self.events_api(scope, receive, send)
        elif scope["type"] == "http" and web_route_of(scope["path"]):
            await self.web_sdk(scope, receive, send)
        elif scope["type"] == "http" and pixel_route_of(scope["path"]):
            await self.pixel(scope, receive, send)
        elif scope["type"] == "http" and segment_route_of(scope):
            await self.segment(scope, receive, send)
        elif scope["type"] == "http" and is_idsync_path(scope["path"]):
            await self.idsync(scope, receive, send)
        else:
            await self.framework(scope, receive, send)


def _framework(runtime: Runtime) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        runtime.committer.start()
        try:
            yield
        finally:
            runtime.committer.stop()

    app = FastAPI(
        title="Fermion",
        version=__version__,
        description="An open-source customer data platform, wire-compatible with mParticle's HTTP APIs.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(operations_router(runtime))
    app.include_router(profile_api_router(runtime))
    app.include_router(data_planning_router(runtime))
    app.include_router(live_stream_router(runtime))
    app.include_router(audiences_router(runtime))
    app.include_router(calculated_router(runtime))
    app.include_router(analytics_router(runtime))
    app.include_router(outputs_router(runtime))
    app.include_router(dsr_router(runtime))
    runtime.metrics.add_gauges(lambda: _inbox_gauges(runtime.inbox))
    runtime.metrics.add_gauges(lambda: _output_gauges(runtime))
    return app


def _inbox_gauges(inbox: Inbox) -> list[tuple[str, str, float]]:
    status = inbox.status()
    return [
        ("fermion_inbox_depth", "Batches waiting in the inbox", float(status.depth)),
        ("fermion_inbox_parked", "Batches parked after a processing error", float(status.parked)),
        ("fermion_processing_lag_seconds", "Age of the oldest waiting batch", status.lag_ms / 1000),
    ]


def _output_gauges(runtime: Runtime) -> list[tuple[str, str, float]]:
    faulted = sum(1 for o in runtime.outputs.outputs.outputs() if o.state == "faulted")
    return [
        ("fermion_outputs_faulted", "Outputs faulted: their destination refused the credentials", faulted)
    ]


def create_app(runtime: Runtime) -> FermionApp:
    """The ASGI app of one Fermion process."""
    return FermionApp(runtime)
