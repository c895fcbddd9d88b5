"""Reads of an event store held by another local process, over a Unix socket.

DuckDB lets one process hold its file. Under `fermion serve` that is the worker process, so the API process
(readiness, `fermion events tail` through the admin endpoint) and the worker's metrics reach it here.
"""

from __future__ import annotations

import hashlib
import json
import os
import socketserver
import tempfile
import threading
from collections.abc import Callable
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlparse

import httpx

from fermion.events.model import EventStore, QueryTimeout, StoredEvent


class EventReads(Protocol):
    """The read side of an event store that the API needs."""

    def tail(self, after_seq: int, limit: int = 100, workspace_id: int | None = None) -> list[StoredEvent]:
        """Events stored after ``after_seq``, in storage order."""
        ...

    def last_seq(self) -> int:
        """The sequence number of the newest stored event."""
        ...

    def query(self, sql: str, params: dict[str, Any], timeout_s: float) -> list[tuple[Any, ...]]:
        """Run one read-only SELECT (see :meth:`EventStore.query`)."""
        ...


def socket_path_for(data_dir: Path) -> Path:
    """Where the worker process listens: in the data dir, or in the temp dir when that path is too long."""
    path = (data_dir / "worker.sock").resolve()
    if len(str(path)) <= 100:
        return path
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"fermion-{digest}.sock"


class _UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class LocalReadServer:
    """Serves ``GET /events``, ``/last_seq`` and ``/metrics`` of this process on a Unix socket."""

    def __init__(self, store: EventStore, path: Path, metrics_text: Callable[[], bytes]) -> None:
        self._path = path
        if path.exists():
            path.unlink()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                try:
                    if url.path == "/events":
                        workspace = query.get("workspace_id")
                        rows = store.tail(
                            int(query.get("after_seq", "0")),
                            int(query.get("limit", "100")),
                            None if workspace is None else int(workspace),
                        )
                        self._send(200, json.dumps([asdict(r) for r in rows]).encode(), "application/json")
                    elif url.path == "/last_seq":
                        self._send(200, json.dumps(store.last_seq()).encode(), "application/json")
                    elif url.path == "/metrics":
                        self._send(200, metrics_text(), "text/plain; version=0.0.4")
                    else:
                        self._send(404, b"{}", "application/json")
                except Exception as exc:  # a read failure is reported to the caller, not raised in the server
                    self._send(503, json.dumps({"error": str(exc)}).encode(), "application/json")

            def do_POST(self) -> None:
                if urlparse(self.path).path != "/query":
                    self._send(404, b"{}", "application/json")
                    return
                try:
                    request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                    rows = store.query(request["sql"], request["params"], float(request["timeout_s"]))
                    self._send(200, json.dumps(rows, default=float).encode(), "application/json")
                except QueryTimeout as exc:
                    self._send(504, json.dumps({"error": exc.message}).encode(), "application/json")
                except Exception as exc:  # reported to the caller, not raised in the server
                    self._send(503, json.dumps({"error": str(exc)}).encode(), "application/json")

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = _UnixHTTPServer(str(path), Handler)
        os.chmod(path, 0o600)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fermion-local-reads", daemon=True
        )

    def start(self) -> None:
        """Start answering on the socket."""
        self._thread.start()

    def stop(self) -> None:
        """Stop answering and remove the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._path.unlink(missing_ok=True)


class LocalReadClient:
    """An :class:`EventReads` (and metrics source) over a :class:`LocalReadServer`'s socket."""

    def __init__(self, path: Path, timeout_s: float = 10.0) -> None:
        self._client = httpx.Client(
            transport=httpx.HTTPTransport(uds=str(path)), base_url="http://fermion-worker", timeout=timeout_s
        )

    def tail(self, after_seq: int, limit: int = 100, workspace_id: int | None = None) -> list[StoredEvent]:
        params: dict[str, int] = {"after_seq": after_seq, "limit": limit}
        if workspace_id is not None:
            params["workspace_id"] = workspace_id
        response = self._client.get("/events", params=params)
        response.raise_for_status()
        return [StoredEvent(**row) for row in response.json()]

    def last_seq(self) -> int:
        response = self._client.get("/last_seq")
        response.raise_for_status()
        return int(response.json())

    def query(self, sql: str, params: dict[str, Any], timeout_s: float) -> list[tuple[Any, ...]]:
        timeout = httpx.Timeout(None if timeout_s <= 0 else timeout_s + 10.0)
        response = self._client.post(
            "/query", json={"sql": sql, "params": params, "timeout_s": timeout_s}, timeout=timeout
        )
        if response.status_code == 504:
            raise QueryTimeout(str(response.json().get("error", "The query ran too long.")))
        response.raise_for_status()
        return [tuple(row) for row in response.json()]

    def metrics_text(self) -> bytes:
        """The worker process's Prometheus metrics."""
        response = self._client.get("/metrics")
        response.raise_for_status()
        return response.content

    def close(self) -> None:
        """Close the connection."""
        self._client.close()
