"""The privacy context assembled: requests, the orchestrator, the signer and consent history."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine

from fermion.clock import Clock
from fermion.privacy.consent import ConsentHistory
from fermion.privacy.forwarding import ErasureForwarder
from fermion.privacy.orchestrator import DsrOrchestrator
from fermion.privacy.requests import DsrRequests
from fermion.privacy.signing import ProcessorSigner
from fermion.profiles import ProfileStore


class DataSubjectRights:
    """Everything a process needs of privacy: built once by the runtime."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        data_dir: Path,
        *,
        processor_domain: str,
        waiting_period_ms: int,
        results_ttl_ms: int,
        forwarder_source: Callable[[int], list[ErasureForwarder]] | None = None,
        forward_window_ms: int | None = None,
    ) -> None:
        self.requests = DsrRequests(engine, clock, waiting_period_ms)
        self.signer = ProcessorSigner(data_dir, processor_domain)
        self.orchestrator = DsrOrchestrator(
            engine, clock, self.requests, self.signer, results_ttl_ms, forwarder_source=forwarder_source
        )
        if forward_window_ms is not None:
            self.orchestrator.forward_window_ms = forward_window_ms
        self.consent = ConsentHistory(engine, ProfileStore(engine))
