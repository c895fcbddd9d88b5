"""`fermion serve|api|worker|migrate`: run the roles of Fermion."""

from __future__ import annotations

import logging
import signal
from pathlib import Path

import typer
import uvicorn

from fermion.api import create_app
from fermion.cli.supervise import WorkerSupervisor
from fermion.events import socket_path_for
from fermion.logs import configure_logging
from fermion.runtime import Runtime
from fermion.settings import Settings

_log = logging.getLogger("fermion.cli")


def _settings(host: str | None, port: int | None) -> Settings:
    overrides: dict[str, object] = {}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    settings = Settings(**overrides)  # type: ignore[arg-type]
    configure_logging(settings.log_level, settings.log_json)
    return settings


def _print_credentials(runtime: Runtime) -> None:
    created = runtime.tenancy.bootstrap()
    if created is not None:
        print("Created the default workspace and a server input. Keep the secret: it is shown only once.")
        print(f"API key: {created.input.api_key}")
        print(f"API secret: {created.api_secret}", flush=True)
    else:
        keys = ", ".join(i.api_key for i in runtime.tenancy.list_inputs()[:3])
        print(
            f"Inputs: {keys} (list them with `fermion inputs list`; rotate a secret with "
            "`fermion inputs rotate-secret KEY`)",
            flush=True,
        )


def _run_until_stopped(server: uvicorn.Server) -> None:
    """Run the HTTP server until SIGINT or SIGTERM, then return so that clean-up runs.

    uvicorn re-raises the signal it stopped on; with the default SIGTERM action that would end the process
    before the worker process is stopped, so SIGTERM gets a handler that lets the caller finish.
    """
    signal.signal(signal.SIGTERM, lambda *_: None)
    server.run()


def _uvicorn(runtime: Runtime, tls_cert: Path | None, tls_key: Path | None) -> uvicorn.Server:
    config = uvicorn.Config(
        create_app(runtime),
        host=runtime.settings.host,
        port=runtime.settings.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        lifespan="on",
        ssl_certfile=str(tls_cert) if tls_cert else None,
        ssl_keyfile=str(tls_key) if tls_key else None,
    )
    return uvicorn.Server(config)


def _tls(tls_cert: Path | None, tls_key: Path | None) -> str:
    """The URL scheme the server answers on; both TLS files or neither."""
    if (tls_cert is None) != (tls_key is None):
        raise typer.BadParameter("Give both --tls-cert and --tls-key, or neither.")
    for path in (tls_cert, tls_key):
        if path is not None and not path.is_file():
            raise typer.BadParameter(f"{path} is not a file (make a local pair with `fermion tls dev-cert`).")
    return "https" if tls_cert else "http"


TLS_CERT = typer.Option(None, "--tls-cert", help="PEM certificate (chain): serve HTTPS.")
TLS_KEY = typer.Option(None, "--tls-key", help="PEM private key of --tls-cert.")


def serve(
    host: str = typer.Option(None, help="Bind address (FERMION_HOST)."),
    port: int = typer.Option(None, help="Port (FERMION_PORT)."),
    tls_cert: Path = TLS_CERT,
    tls_key: Path = TLS_KEY,
) -> None:
    """Run the API and the pipeline worker together (the embedded stores' way)."""
    scheme = _tls(tls_cert, tls_key)
    settings = _settings(host, port)
    runtime = Runtime.open(settings)
    try:
        _print_credentials(runtime)
        runtime.worker_socket = socket_path_for(settings.data_dir)
        supervisor = WorkerSupervisor(settings, runtime.worker_socket)
        supervisor.start()
        try:
            print(f"Fermion listening on {scheme}://{settings.host}:{settings.port}", flush=True)
            _run_until_stopped(_uvicorn(runtime, tls_cert, tls_key))
        finally:
            supervisor.stop()
    finally:
        runtime.close()


def api(
    host: str = typer.Option(None, help="Bind address (FERMION_HOST)."),
    port: int = typer.Option(None, help="Port (FERMION_PORT)."),
    tls_cert: Path = TLS_CERT,
    tls_key: Path = TLS_KEY,
) -> None:
    """Run only the HTTP API (scale-out on PostgreSQL; start workers with `fermion worker`)."""
    scheme = _tls(tls_cert, tls_key)
    runtime = Runtime.open(_settings(host, port))
    try:
        runtime.require_scale_out_stores("api")
        _print_credentials(runtime)
        print(
            f"Fermion API listening on {scheme}://{runtime.settings.host}:{runtime.settings.port}", flush=True
        )
        _run_until_stopped(_uvicorn(runtime, tls_cert, tls_key))
    finally:
        runtime.close()


def worker(
    worker_id: str = typer.Option(None, help="A stable name for this worker (default: random)."),
) -> None:
    """Run only a pipeline worker: several at once on PostgreSQL; on the embedded stores only while no
    other Fermion process holds them."""

    runtime = Runtime.open(_settings(None, None))
    try:
        runtime.events  # noqa: B018 - opens the event store now, failing clearly if another process holds it
        if runtime.settings.worker_metrics_port:
            from prometheus_client import start_http_server

            start_http_server(runtime.settings.worker_metrics_port, registry=runtime.metrics.worker_registry)
        pipeline_worker = runtime.new_worker(worker_id)
        signal.signal(signal.SIGTERM, lambda *_: pipeline_worker.stop())
        signal.signal(signal.SIGINT, lambda *_: pipeline_worker.stop())
        print(f"Fermion worker {pipeline_worker.worker_id} started", flush=True)
        pipeline_worker.run()
    finally:
        runtime.close()


def migrate() -> None:
    """Bring the state store's schema up to date (every start does this too)."""
    runtime = Runtime.open(_settings(None, None))
    runtime.close()
    print("State store is up to date.")
