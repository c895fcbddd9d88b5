"""The DSR API (OpenDSR v3, and the v1 OpenGDPR and v2 OpenDSR routes), discovery, the processor
certificate, access archives, and the Bulk Profile Deletion API.

Auth is HTTP Basic with the key and secret of any input of the workspace (the credentials name the
workspace, the ``controller_id``). Every DSR response is signed: ``X-OpenDSR-Processor-Domain`` and
``X-OpenDSR-Signature`` (``X-OpenGDPR-…`` on v1) over the raw body. Errors keep the DSR API's body
``{"code", "message", "errors": [{"domain", "reason", "message"}]}``.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request, Response

from fermion.errors import BadRequest, ClientError, Forbidden, NotFound, PayloadTooLarge, Unauthorized
from fermion.platform import Input
from fermion.privacy import (
    DISCOVERY_TYPES,
    REQUEST_TYPES,
    DsrRecord,
    SubjectRequest,
    iso,
    parse_legacy,
    parse_v3,
)
from fermion.runtime import Runtime

CERT_PATHS = {"OpenDSR": "/dsr/opendsr_cert.pem", "OpenGDPR": "/gdpr/opengdpr_cert.pem"}
_REASONS = {
    400: "InvalidOperationException",
    401: "Unauthorized",
    404: "NotFound",
    409: "Conflict",
    410: "Gone",
}


class Gone(ClientError):
    """The results of a request have expired (410)."""

    code = "GONE"
    status = 410


def dsr_router(runtime: Runtime) -> APIRouter:
    """The DSR and bulk deletion routes of one runtime."""
    router = APIRouter(tags=["Data subject requests"])
    privacy = runtime.privacy

    def signed(body: Any, status: int, prefix: str = "OpenDSR") -> Response:
        raw = json.dumps(body, separators=(",", ":")).encode()
        return Response(raw, status, privacy.signer.headers(raw, prefix), media_type="application/json")

    def failed(exc: ClientError, prefix: str) -> Response:
        status = 401 if isinstance(exc, (Unauthorized, Forbidden)) else exc.status
        reason = _REASONS.get(status, type(exc).__name__)
        domain = "Validation" if status == 400 else "Request"
        body = {
            "code": status,
            "message": exc.message,
            "errors": [{"domain": domain, "reason": reason, "message": exc.message}],
        }
        response = signed(body, status, prefix)
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Basic realm="dsr"'
        return response

    def guarded(request: Request, prefix: str, handler: Callable[[Input], Response]) -> Response:
        try:
            source = runtime.authenticator.authenticate(request.headers.get("authorization"))
            return handler(source)
        except ClientError as exc:
            return failed(exc, prefix)

    def base_url(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    async def body_of(request: Request) -> tuple[bytes, Any]:
        raw = await request.body()
        try:
            return raw, json.loads(raw)
        except ValueError as exc:
            raise BadRequest("The request body is not valid JSON.") from exc

    async def submit(request: Request, version: str, prefix: str) -> Response:
        try:
            raw, body = await body_of(request)
        except ClientError as exc:
            return failed(exc, prefix)

        def handle(source: Input) -> Response:
            parsed = parse_v3(body) if version == "3.0" else parse_legacy(body, version)
            record = privacy.requests.submit(source.workspace_id, parsed, source.api_key, base_url(request))
            return signed(
                {
                    "expected_completion_time": iso(record.expected_ms),
                    "received_time": iso(record.received_ms),
                    "encoded_request": base64.b64encode(raw).decode(),
                    "subject_request_id": record.subject_request_id,
                    "controller_id": str(record.workspace_id),
                },
                201,
                prefix,
            )

        return guarded(request, prefix, handle)

    def status_of(record: DsrRecord, version: str) -> dict[str, Any]:
        body = record.status_json()
        if version != "3.0":
            body["api_version"] = version
        return body

    def status(request: Request, request_id: str, version: str, prefix: str) -> Response:
        def handle(source: Input) -> Response:
            return signed(
                status_of(privacy.requests.get(source.workspace_id, request_id), version), 200, prefix
            )

        return guarded(request, prefix, handle)

    def group(request: Request, version: str, prefix: str) -> Response:
        def handle(source: Input) -> Response:
            group_id = request.query_params.get("group_id")
            if not group_id:
                raise BadRequest("group_id is required to list requests.")
            found = privacy.requests.by_group(source.workspace_id, group_id)
            return signed([status_of(r, version) for r in found], 200, prefix)

        return guarded(request, prefix, handle)

    def cancel(request: Request, request_id: str, prefix: str) -> Response:
        def handle(source: Input) -> Response:
            record = privacy.requests.cancel(source.workspace_id, request_id, source.api_key)
            return signed(
                {
                    "expected_completion_time": None,
                    "received_time": iso(record.received_ms),
                    "subject_request_id": record.subject_request_id,
                    "controller_id": str(record.workspace_id),
                },
                200,
                prefix,
            )

        return guarded(request, prefix, handle)

    def discovery(request: Request, version: str, prefix: str) -> Response:
        return signed(
            {
                "api_version": version,
                "supported_identities": [
                    {"identity_type": t, "identity_format": "raw"} for t in DISCOVERY_TYPES
                ],
                "supported_subject_request_types": sorted(REQUEST_TYPES),
                "processor_certificate": base_url(request) + CERT_PATHS[prefix],
            },
            200,
            prefix,
        )

    @router.post("/v3/requests", include_in_schema=False)
    @router.post("/v3/requests/")
    async def submit_v3(request: Request) -> Response:
        return await submit(request, "3.0", "OpenDSR")

    @router.get("/v3/requests", include_in_schema=False)
    @router.get("/v3/requests/")
    def list_v3(request: Request) -> Response:
        return group(request, "3.0", "OpenDSR")

    @router.get("/v3/requests/{request_id}")
    def status_v3(request: Request, request_id: str) -> Response:
        return status(request, request_id, "3.0", "OpenDSR")

    @router.delete("/v3/requests/{request_id}")
    def cancel_v3(request: Request, request_id: str) -> Response:
        return cancel(request, request_id, "OpenDSR")

    @router.get("/v3/discovery", include_in_schema=False)
    @router.get("/v3/discovery/")
    def discovery_v3(request: Request) -> Response:
        return discovery(request, "3.0", "OpenDSR")

    @router.get("/v3/requests/{request_id}/results")
    def results(request: Request, request_id: str) -> Response:
        def handle(source: Input) -> Response:
            record = privacy.requests.get(source.workspace_id, request_id)
            archive, _ = privacy.orchestrator.export(source.workspace_id, record.subject_request_id)
            if record.results_expire_ms is not None and runtime.clock.now_ms() >= record.results_expire_ms:
                raise Gone("The results of this request have expired.")
            if archive is None:
                raise NotFound("Nothing matched this request, or it has no results yet.")
            disposition = f'attachment; filename="{record.subject_request_id}.json"'
            return Response(
                archive,
                200,
                {"Content-Disposition": disposition, "Cache-Control": "no-store"},
                "application/json",
            )

        return guarded(request, "OpenDSR", handle)

    @router.get(CERT_PATHS["OpenDSR"])
    @router.get(CERT_PATHS["OpenGDPR"])
    def certificate() -> Response:
        return Response(privacy.signer.certificate_pem, 200, media_type="application/x-pem-file")

    for version, base, path, prefix in (
        ("2.0", "/v2", "/requests", "OpenDSR"),
        ("1.0", "/v1", "/opengdpr_requests", "OpenGDPR"),
    ):
        _legacy_routes(router, base, path, version, prefix, submit, status, group, cancel, discovery)

    @router.post("/userprofile/experimental/bulkdelete")
    async def bulk_delete(request: Request) -> Response:
        return await _bulk_delete(runtime, request)

    @router.get("/userprofile/experimental/bulkdelete/{deletion_id}")
    def bulk_progress(request: Request, deletion_id: str) -> Response:
        try:
            source = runtime.authenticator.authenticate(request.headers.get("authorization"))
        except ClientError as exc:
            return _events_error(exc)
        found = privacy.requests.by_group(source.workspace_id, f"bulkdelete:{deletion_id}")
        if not found:
            return _events_error(NotFound(f"No bulk deletion {deletion_id!r}."))
        counts = {s: sum(1 for r in found if r.status == s) for s in ("pending", "in_progress", "completed")}
        body = {"bulk_deletion_id": deletion_id, "total": len(found), **counts}
        return Response(json.dumps(body), 200, media_type="application/json")

    return router


def _legacy_routes(
    router: APIRouter,
    base: str,
    path: str,
    version: str,
    prefix: str,
    submit: Any,
    status: Any,
    group: Any,
    cancel: Any,
    discovery: Any,
) -> None:
    async def submit_legacy(request: Request) -> Response:
        return await submit(request, version, prefix)  # type: ignore[no-any-return]

    def list_legacy(request: Request) -> Response:
        return group(request, version, prefix)  # type: ignore[no-any-return]

    def status_legacy(request: Request, request_id: str) -> Response:
        return status(request, request_id, version, prefix)  # type: ignore[no-any-return]

    def cancel_legacy(request: Request, request_id: str) -> Response:
        return cancel(request, request_id, prefix)  # type: ignore[no-any-return]

    def discovery_legacy(request: Request) -> Response:
        return discovery(request, version, prefix)  # type: ignore[no-any-return]

    for suffix in ("", "/"):
        router.add_api_route(
            f"{base}{path}{suffix}", submit_legacy, methods=["POST"], include_in_schema=False
        )
        router.add_api_route(f"{base}{path}{suffix}", list_legacy, methods=["GET"], include_in_schema=False)
        router.add_api_route(
            f"{base}/discovery{suffix}", discovery_legacy, methods=["GET"], include_in_schema=False
        )
    router.add_api_route(
        f"{base}{path}/{{request_id}}", status_legacy, methods=["GET"], include_in_schema=False
    )
    router.add_api_route(
        f"{base}{path}/{{request_id}}", cancel_legacy, methods=["DELETE"], include_in_schema=False
    )


def _events_error(exc: ClientError) -> Response:
    status = 401 if isinstance(exc, (Unauthorized, Forbidden)) else exc.status
    body = {"errors": [{"code": exc.code, "message": exc.message}]}
    return Response(json.dumps(body), status, media_type="application/json")


_BULK_MAX_BYTES = 256 * 1024


async def _bulk_delete(runtime: Runtime, request: Request) -> Response:
    """Bulk Profile Deletion: an array of ``{mpid, action: "delete"}``, each carried out as an erasure."""
    try:
        source = runtime.authenticator.authenticate(request.headers.get("authorization"))
        raw = await request.body()
        if len(raw) > _BULK_MAX_BYTES:
            raise PayloadTooLarge(f"A bulk deletion request may hold at most {_BULK_MAX_BYTES} bytes.")
        try:
            items = json.loads(raw)
        except ValueError as exc:
            raise BadRequest("The request body is not valid JSON.") from exc
        if not isinstance(items, list) or not items:
            raise BadRequest("The body must be a non-empty JSON array of {mpid, action} objects.")
        mpids: list[int] = []
        for index, item in enumerate(items):
            if not isinstance(item, dict) or item.get("action") != "delete":
                raise BadRequest(f'Item {index}: expected {{"mpid": ..., "action": "delete"}}.')
            try:
                mpids.append(int(str(item.get("mpid"))))
            except ValueError as exc:
                raise BadRequest(f"Item {index}: mpid must be a 64-bit integer.") from exc
    except ClientError as exc:
        return _events_error(exc)
    deletion_id = uuid.uuid4().hex
    for mpid in dict.fromkeys(mpids):
        order = SubjectRequest(
            subject_request_id=str(uuid.uuid4()),
            regulation="bulk",
            request_type="erasure",
            submitted_time=iso(runtime.clock.now_ms()) or "",
            identities={"mpid": str(mpid)},
            api_version="bulk",
            callback_urls=(),
            group_id=f"bulkdelete:{deletion_id}",
            skip_waiting_period=True,
        )
        runtime.privacy.requests.submit(source.workspace_id, order, source.api_key, str(request.base_url))
    body = {"bulk_deletion_id": deletion_id, "profiles": len(set(mpids))}
    return Response(json.dumps(body), 202, media_type="application/json")
