"""Status callbacks are POSTed to the controller's URLs, signed, and verify against the certificate."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from starlette.testclient import TestClient

from fermion.privacy import verify_signature
from fermion.runtime import Runtime
from tests.privacy.conftest import person_batch, submit, v3_request


class _Controller(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((dict(self.headers.items()), body))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def controller() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    """A controller's callback endpoint on 127.0.0.1: its URL and what it received."""
    handler = type("Handler", (_Controller,), {"received": []})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/opendsr/callbacks", handler.received
    finally:
        server.shutdown()
        server.server_close()


def test_callbacks_verify_and_a_tampered_body_does_not(
    runtime: Runtime,
    client: TestClient,
    auth: dict[str, str],
    controller: tuple[str, list[tuple[dict[str, str], bytes]]],
) -> None:
    url, received = controller
    assert client.post("/v2/events", json=person_batch("carol"), headers=auth).status_code == 202
    runtime.new_worker().drain()
    body = v3_request(email="carol@example.com") | {"status_callback_urls": [url]}
    submit(client, auth, body)
    worker = runtime.new_worker()
    worker.drain()
    runtime.privacy.orchestrator.send_callbacks()

    statuses = [json.loads(b)["request_status"] for _, b in received]
    assert statuses == ["pending", "in_progress", "completed"]
    discovery = client.get("/v3/discovery/").json()
    certificate = client.get(discovery["processor_certificate"]).content
    now = dt.datetime.now(dt.UTC)
    for headers, raw in received:
        domain = headers["X-OpenDSR-Processor-Domain"]
        assert domain == runtime.settings.dsr_processor_domain
        assert verify_signature(certificate, domain, raw, headers["X-OpenDSR-Signature"], now)
    headers, raw = received[-1]
    tampered = raw.replace(b'"completed"', b'"cancelled"')
    assert tampered != raw
    assert not verify_signature(
        certificate, headers["X-OpenDSR-Processor-Domain"], tampered, headers["X-OpenDSR-Signature"], now
    )
    assert not verify_signature(certificate, "evil.example.com", raw, headers["X-OpenDSR-Signature"], now)
    assert json.loads(raw)["subject_request_id"] == body["subject_request_id"]


def test_responses_are_signed_over_their_raw_body(
    runtime: Runtime, client: TestClient, auth: dict[str, str]
) -> None:
    body = v3_request(email="dave@example.com")
    response = client.post("/v3/requests/", json=body, headers=auth)
    certificate = client.get("/dsr/opendsr_cert.pem").content
    now = dt.datetime.now(dt.UTC)
    domain = response.headers["X-OpenDSR-Processor-Domain"]
    assert verify_signature(
        certificate, domain, response.content, response.headers["X-OpenDSR-Signature"], now
    )
