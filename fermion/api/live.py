"""The live stream (spec §1.9): a workspace's batches as they are processed, as server-sent events.

Each ``batch`` event carries the batch's events, its MPID and identity decisions, and its data-plan verdict
(results and anything blocked). Filters: input, environment, MPID, event name. Without ``after_id`` the
stream starts with the next processed batch; ``after_id=0`` replays what is retained first.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from fermion.api.oauth import bearer_grant, granted_workspace
from fermion.errors import BadRequest
from fermion.plans import FeedFilter
from fermion.platform import TokenGrant
from fermion.runtime import Runtime

HEARTBEAT_S = 15.0


def live_stream_router(runtime: Runtime) -> APIRouter:
    """``GET /platform/v2/workspaces/{workspace_id}/livestream``."""
    router = APIRouter()
    grant_of = bearer_grant(runtime.credentials)
    poll_s = runtime.settings.live_stream_poll_ms / 1000

    @router.get(
        "/platform/v2/workspaces/{workspace_id}/livestream",
        tags=["live stream"],
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}, "description": "`batch` events, JSON data"}},
    )
    async def live_stream(
        workspace_id: int,
        input_id: int | None = None,
        environment: str | None = Query(None, description="development or production"),
        mpid: int | None = None,
        event_name: str | None = None,
        after_id: int | None = Query(None, description="Start after this entry; 0 for everything retained."),
        limit: int | None = Query(None, ge=1, description="Close the stream after this many batches."),
        timeout_s: float | None = Query(None, gt=0, description="Close the stream after this many seconds."),
        grant: TokenGrant = Depends(grant_of),
    ) -> StreamingResponse:
        """Processed batches with their validation results and identity decisions, as they happen."""
        await run_in_threadpool(granted_workspace, runtime, grant, workspace_id)
        if environment not in (None, "development", "production"):
            raise BadRequest("environment: must be development or production")
        where = FeedFilter(input_id, environment, mpid, event_name)
        start = (
            after_id
            if after_id is not None
            else await run_in_threadpool(runtime.verdicts.last_id, workspace_id)
        )

        async def stream() -> AsyncIterator[bytes]:
            cursor, sent = start, 0
            deadline = None if timeout_s is None else time.monotonic() + timeout_s
            quiet_since = time.monotonic()
            yield b": live stream of processed batches\n\n"
            while deadline is None or time.monotonic() < deadline:
                entries, cursor = await run_in_threadpool(
                    runtime.verdicts.since, workspace_id, cursor, where, 200
                )
                for entry in entries:
                    data = json.dumps(entry, separators=(",", ":"))
                    yield f"id: {entry['id']}\nevent: batch\ndata: {data}\n\n".encode()
                    sent += 1
                    if limit is not None and sent >= limit:
                        return
                if entries:
                    quiet_since = time.monotonic()
                    continue
                if time.monotonic() - quiet_since > HEARTBEAT_S:
                    quiet_since = time.monotonic()
                    yield b": keep-alive\n\n"
                await asyncio.sleep(poll_s)

        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)

    return router
